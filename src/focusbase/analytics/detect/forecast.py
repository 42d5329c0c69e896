"""Daily spend forecasts: a model chosen per series by rolling-origin backtest, bands calibrated on errors.

Candidates: seasonal naive (last week repeated), the weekday median of the last 8 weeks, damped Holt-Winters
on the logs of spend (ETS(A,Ad,A) with period 7), robust STL + damped Holt on the seasonally adjusted series
and a log-linear weekday trend. Every origin of the backtest forecasts `horizon` days from the history
before it; the `combine` models with the lowest error of the horizon total over the latest
`select_origins` origins are averaged, and the band is split-conformal: the 10th and 90th percentile of
that average's relative errors at similar horizons, so an 80% band holds about 80% of the days whatever the
models' own assumptions, at a level adapted to how the recent bands fared (adaptive conformal inference).
docs/analytics-detection.md has the figures.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import STL

from focusbase.analytics.detect.series import FloatArray

MODELS: tuple[str, ...] = ("seasonal_naive", "weekday_median", "damped_ets", "stl_ets", "weekday_trend")
FALLBACK = "recent_mean"
COMBINED = "combination"


@dataclass(frozen=True)
class ForecastParams:
    """Tunables of the forecaster; the defaults are the ones measured in docs/benchmarks.md."""

    horizon: int = 30
    coverage: float = 0.80
    fit_days: int = 120
    min_history_days: int = 21
    min_origins: int = 3
    calibration_origins: int = 12
    select_origins: int = 8
    combine: int = 3
    origin_step_days: int = 7
    fallback_band: float = 0.50
    outlier_k: float = 4.0
    calibration_outlier_k: float = 8.0  # only extreme one-offs are left out of the band's errors
    adapt_rate: float = 0.05  # adaptive conformal step (0 keeps the nominal level)
    adapt_origins: int = 40  # weekly origins the adaptive level is replayed over


@dataclass(frozen=True)
class Forecast:
    """A forecast of the `horizon` days after the history, with its calibrated band."""

    start: date
    model: str  # COMBINED, or the single model (or fallback) used
    point: FloatArray
    lower: FloatArray
    upper: FloatArray
    total_lower: FloatArray  # band of the cumulative sum of the first k+1 forecast days
    total_upper: FloatArray
    calibrated: bool
    low_confidence: bool
    origins: int
    backtest_error: dict[str, float] = field(default_factory=dict)  # model -> mean APE of the total
    backtest_coverage: float | None = None
    reason: str = ""
    models: tuple[str, ...] = ()  # the candidates averaged into `point`
    band_level: float | None = None  # the conformal level the band was cut at (adapted from `coverage`)


def _weekday_profile(y: FloatArray, weeks: int) -> FloatArray:
    tail = y[-7 * weeks :]
    offset = (y.size - tail.size) % 7
    days = (np.arange(tail.size) + offset) % 7
    return np.array([np.median(tail[days == d]) for d in range(7)])


def _repeat_week(week: FloatArray, n_history: int, h: int) -> FloatArray:
    # week[d] belongs to positions p with p % 7 == d; continue that pattern after the history.
    return np.array([week[(n_history + i) % 7] for i in range(h)])


def seasonal_naive(y: FloatArray, h: int) -> FloatArray:
    """The last week repeated."""
    week = np.zeros(7)
    for i in range(y.size - 7, y.size):
        week[i % 7] = y[i]
    return _repeat_week(week, y.size, h)


def weekday_median(y: FloatArray, h: int) -> FloatArray:
    """The median of each weekday over the last 8 weeks."""
    profile = _weekday_profile(y, 8)  # indexed by position within the tail
    offset = (y.size - min(y.size, 56)) % 7
    week = np.zeros(7)
    for d in range(7):
        week[(d + offset) % 7] = profile[d]
    return _repeat_week(week, y.size, h)


def damped_ets(y: FloatArray, h: int) -> FloatArray:
    """Holt-Winters with a damped trend and weekly season on the logs of spend (ETS(A,Ad,A) on logs), or
    on spend itself when a day has none.

    On logs the trend is a growth rate and the weekday effects are shares of the level, as in cost series
    whose weekend dip and growth scale with the spend; an additive fit carries a weekday's difference in
    dollars forward unchanged while the level moves."""
    init = "heuristic" if y.size >= 70 else "estimated"
    logs = bool(np.all(y > 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ExponentialSmoothing(
            np.log(y) if logs else y,
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=7,
            initialization_method=init,
        ).fit(use_brute=False)
        ahead = np.asarray(model.forecast(h), dtype=np.float64)
    if not logs:
        return ahead
    # exp of a forecast of logs is a median: the mean of exp(residuals) turns it back into a mean.
    return np.asarray(np.exp(ahead) * float(np.mean(np.exp(model.resid))), dtype=np.float64)


def stl_ets(y: FloatArray, h: int) -> FloatArray:
    """Robust STL (period 7); damped Holt on the adjusted series plus the last week of the season."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = STL(y, period=7, robust=True).fit()
        seasonal = np.asarray(parts.seasonal, dtype=np.float64)
        adjusted = y - seasonal
        model = ExponentialSmoothing(
            adjusted, trend="add", damped_trend=True, initialization_method="estimated"
        ).fit(use_brute=False)
        trend = np.asarray(model.forecast(h), dtype=np.float64)
    week = np.zeros(7)
    for i in range(y.size - 7, y.size):
        week[i % 7] = seasonal[i]
    return trend + _repeat_week(week, y.size, h)


def weekday_trend(y: FloatArray, h: int, days: int = 84) -> FloatArray:
    """A log-linear trend with weekday levels, least squares over the last `days` days with spend."""
    tail = y[-days:]
    pos = np.arange(y.size - tail.size, y.size)
    spend = tail > 0
    if int(np.sum(spend)) < 28:
        return weekday_median(y, h)
    t = (pos[spend] - (y.size - 1)).astype(np.float64)
    design = np.zeros((t.size, 8))
    design[np.arange(t.size), pos[spend] % 7] = 1.0
    design[:, 7] = t
    logs = np.log(tail[spend])
    beta = np.linalg.lstsq(design, logs, rcond=None)[0]
    # exp of a mean of logs is a median: the mean of exp(residuals) turns it back into a mean.
    smear = float(np.mean(np.exp(logs - design @ beta)))
    ahead = np.arange(y.size, y.size + h)
    out = np.exp(beta[ahead % 7] + beta[7] * (ahead - (y.size - 1))) * smear
    # A weekday with no spend in the window stays at zero.
    seen = np.bincount(pos[spend] % 7, minlength=7) > 0
    return np.asarray(np.where(seen[ahead % 7], out, 0.0), dtype=np.float64)


def without_outliers(y: FloatArray, k: float = 4.0) -> FloatArray:
    """`y` with one-off outliers replaced: a day more than `k` robust deviations (in logs) from the median
    of its weekday over the 3 weeks either side. The newest week, with nothing after it, is kept: it may be
    a new level rather than an outlier."""
    n = y.size
    if n < 28:
        return y
    logs = np.log(np.where(y > 0, y, 1.0))
    offsets = np.array([-21, -14, -7, 0, 7, 14, 21])
    idx = np.arange(n)[:, None] + offsets[None, :]
    inside = (idx >= 0) & (idx < n)
    clipped = np.clip(idx, 0, n - 1)
    usable = inside & (y[clipped] > 0)
    near = np.where(usable, logs[clipped], np.nan)
    enough = (np.sum(usable, axis=1) >= 3) & (np.arange(n) + 7 < n) & (y > 0)
    if not np.any(enough):
        return y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(near[enough], axis=1)
    resid = logs[enough] - centre
    scale = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    if scale <= 0:
        return y
    out = y.copy()
    rows = np.flatnonzero(enough)
    far = np.abs(resid) > k * scale
    out[rows[far]] = np.exp(centre[far])
    return out


PREDICTORS: dict[str, Callable[[FloatArray, int], FloatArray]] = {
    "seasonal_naive": seasonal_naive,
    "weekday_median": weekday_median,
    "damped_ets": damped_ets,
    "stl_ets": stl_ets,
    "weekday_trend": weekday_trend,
}


def predict(model: str, y: FloatArray, h: int, fit_days: int = 120, outlier_k: float = 4.0) -> FloatArray:
    """`model`'s forecast of the `h` days after `y` (fitted on its last `fit_days`, one-off outliers
    replaced first), never below zero."""
    tail = without_outliers(y[-fit_days:], outlier_k)
    try:
        out = PREDICTORS[model](tail, h)
    except (ValueError, np.linalg.LinAlgError):
        out = seasonal_naive(tail, h)
    if not np.all(np.isfinite(out)):
        out = seasonal_naive(tail, h)
    return np.maximum(out, 0.0)


@dataclass(frozen=True)
class Backtest:
    """Forecasts of every model from each origin (index into the series) with what really happened."""

    origins: list[int]
    forecasts: dict[str, list[FloatArray]]
    actuals: list[FloatArray]


def origins_before(n: int, params: ForecastParams, *, end: int | None = None) -> list[int]:
    """Backtest origins whose whole horizon lies before `end` (default: the end of the history)."""
    last = (n if end is None else end) - params.horizon
    first = params.min_history_days + 7
    found = list(range(last, first - 1, -params.origin_step_days))[: params.calibration_origins]
    return sorted(found)


Cache = dict[tuple[int, str, int], FloatArray]


def backtest(
    y: FloatArray,
    origins: list[int],
    params: ForecastParams,
    cache: Cache | None = None,
    models: tuple[str, ...] = MODELS,
) -> Backtest:
    """Forecast `horizon` days from each origin with every model.

    `cache` (origin, model, horizon) -> forecast may be shared by calls on prefixes of one series (a
    rolling evaluation): a forecast from an origin depends only on the history before it.
    """
    forecasts: dict[str, list[FloatArray]] = {model: [] for model in models}
    actuals = []
    memo: Cache = {} if cache is None else cache
    for origin in origins:
        history = y[:origin]
        actuals.append(y[origin : origin + params.horizon])
        for model in models:
            key = (origin, model, params.horizon)
            if key not in memo:
                memo[key] = predict(model, history, params.horizon, params.fit_days, params.outlier_k)
            forecasts[model].append(memo[key])
    return Backtest(origins, forecasts, actuals)


def _total_ape(forecasts: list[FloatArray], actuals: list[FloatArray]) -> float:
    errors = []
    for f, a in zip(forecasts, actuals, strict=True):
        total = float(np.sum(a))
        errors.append(abs(float(np.sum(f)) - total) / total if total > 0 else abs(float(np.sum(f))))
    return float(np.mean(errors)) if errors else float("inf")


def _buckets(h: int) -> np.ndarray:
    return np.minimum(np.arange(h) // 7, 3)


def forecast(
    y: FloatArray, start: date, params: ForecastParams | None = None, cache: Cache | None = None
) -> Forecast:
    """Forecast the `horizon` days after `y` (which ends the day before `start`)."""
    p = params or ForecastParams()
    h = p.horizon
    first = start
    if y.size < p.min_history_days:
        recent = float(np.mean(y[-7:])) if y.size else 0.0
        point = np.full(h, recent)
        return _fallback(first, point, p, f"only {y.size} days of history (fewer than {p.min_history_days})")
    origins = origins_before(y.size, p)
    if len(origins) < p.min_origins:
        point = predict("weekday_median", y, h, p.fit_days, p.outlier_k)
        return _fallback(
            first, point, p, f"{y.size} days of history: too few for {p.min_origins} backtest origins"
        )
    test = backtest(y, origins, p, cache)
    last = slice(-p.select_origins, None)
    errors = {m: _total_ape(test.forecasts[m][last], test.actuals[last]) for m in MODELS}
    # Averaging the few best candidates beats picking one: the choice on a few origins is noisy, and
    # their errors partly cancel. The band is calibrated on the errors of that same average.
    chosen = tuple(sorted(MODELS, key=lambda m: errors[m])[: max(p.combine, 1)])
    point = np.mean([predict(m, y, h, p.fit_days, p.outlier_k) for m in chosen], axis=0)
    # The band's origins: the selection's, older ones for the adaptive level's replay, and the newest ones
    # whose horizon is still running (their first weeks calibrate the first weeks of the band).
    replay = max(p.adapt_origins, p.calibration_origins)
    older = origins_before(y.size, replace(p, calibration_origins=replay))
    running = sorted(o for o in range(y.size - p.origin_step_days, origins[-1], -p.origin_step_days))
    calib = backtest(y, older + running, p, cache, models=chosen)
    past = [np.mean([calib.forecasts[m][i] for m in chosen], axis=0) for i in range(len(calib.origins))]
    # Errors against the history with its extreme one-offs replaced (a day `calibration_outlier_k` robust
    # deviations from its weekday's median): such a spike is an anomaly, not the spread of normal days, and a
    # two-day spike seen by several origins would otherwise stretch a whole horizon week's band to its height.
    clean = without_outliers(y, p.calibration_outlier_k)
    actuals = [clean[o : o + h] for o in calib.origins]
    level = _adaptive_level(calib.origins, past, actuals, p)
    lower, upper, tot_lo, tot_hi, covered = _conformal(point, past, actuals, replace(p, coverage=level))
    return Forecast(
        start=first,
        model=COMBINED if len(chosen) > 1 else chosen[0],
        models=chosen,
        point=point,
        lower=lower,
        upper=upper,
        total_lower=tot_lo,
        total_upper=tot_hi,
        calibrated=True,
        low_confidence=False,
        origins=len(origins),
        backtest_error=errors,
        backtest_coverage=covered,
        band_level=level,
    )


def _fallback(first: date, point: FloatArray, p: ForecastParams, reason: str) -> Forecast:
    cum = np.cumsum(point)
    return Forecast(
        start=first,
        model=FALLBACK if "fewer" in reason else "weekday_median",
        point=point,
        lower=point * (1 - p.fallback_band),
        upper=point * (1 + p.fallback_band),
        total_lower=cum * (1 - p.fallback_band),
        total_upper=cum * (1 + p.fallback_band),
        calibrated=False,
        low_confidence=True,
        origins=0,
        reason=reason,
    )


def _relative_errors(
    forecasts: list[FloatArray], actuals: list[FloatArray], h: int
) -> tuple[FloatArray, FloatArray]:
    """Per origin and horizon day: the relative error of the day and of the cumulative sum up to it (NaN
    where the day has not happened yet)."""
    rel = np.full((len(forecasts), h), np.nan)
    cum_rel = np.full((len(forecasts), h), np.nan)
    for i, (f, a) in enumerate(zip(forecasts, actuals, strict=True)):
        k = a.size
        rel[i, :k] = (a - f[:k]) / np.maximum(f[:k], 1e-9)
        cum_f = np.cumsum(f[:k])
        cum_rel[i, :k] = (np.cumsum(a) - cum_f) / np.maximum(cum_f, 1e-9)
    return rel, cum_rel


def _adaptive_level(
    origins: list[int], forecasts: list[FloatArray], actuals: list[FloatArray], p: ForecastParams
) -> float:
    """The band's level by adaptive conformal inference (Gibbs and Candes, "Adaptive Conformal Inference
    Under Distribution Shift", NeurIPS 2021), replayed over the past origins in time order.

    At each origin the band is cut, as `_conformal` does, from the origins whose horizon had ended by
    then; the share of its days that fell outside moves the miss rate target: a = a + rate * (target -
    missed). Where errors grow (a series changing regime) the level rises until the band holds again;
    where the band was too wide it falls back. Clamped to 0.50-0.98."""
    target = 1 - p.coverage
    h = forecasts[0].size if forecasts else p.horizon
    if p.adapt_rate <= 0 or not forecasts:
        return p.coverage
    rel, _ = _relative_errors(forecasts, actuals, h)
    buckets = _buckets(h)
    alpha = target
    ends = [int(np.flatnonzero(buckets == b)[-1]) + 1 for b in range(4)]
    for j, origin in enumerate(origins):
        level = min(max(1 - alpha, 0.50), 0.98)
        missed = seen = 0
        for b in range(4):
            cols = np.flatnonzero((buckets == b) & ~np.isnan(rel[j]))
            # as `_conformal` cuts it (before widening to hold the point, which says nothing of the errors):
            # the latest origins that had seen all of this week by then
            seen_by = [i for i in range(j) if origins[i] + ends[b] <= origin]
            prior = np.array(seen_by[-p.calibration_origins :], dtype=np.int64)
            if cols.size == 0 or prior.size < p.min_origins:
                continue
            lo, hi = _conformal_quantiles(rel[np.ix_(prior, np.flatnonzero(buckets == b))].ravel(), level)
            missed += int(np.sum((rel[j, cols] < lo) | (rel[j, cols] > hi)))
            seen += cols.size
        if seen:
            alpha += p.adapt_rate * (target - missed / seen)
    return min(max(1 - alpha, 0.50), 0.98)


def _conformal(
    point: FloatArray,
    forecasts: list[FloatArray],
    actuals: list[FloatArray],
    p: ForecastParams,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:
    """Split-conformal bands: quantiles of the relative errors per horizon week, and of cumulative sums.

    `actuals` may be shorter than the horizon (origins whose horizon is still running): each horizon week,
    and each day of the cumulative band, is calibrated on the latest `calibration_origins` origins that have
    seen all of it, so the first weeks' bands follow the newest errors."""
    h = point.size
    buckets = _buckets(h)
    rel, cum_rel = _relative_errors(forecasts, actuals, h)
    lower, upper = np.zeros(h), np.zeros(h)
    covered = total = 0
    for b in range(4):
        cols = buckets == b
        seen = np.flatnonzero(~np.isnan(rel[:, cols]).any(axis=1))[-p.calibration_origins :]
        errors = rel[np.ix_(seen, cols)].ravel()
        lo, hi = _around_point(_conformal_quantiles(errors, p.coverage))
        lower[cols] = point[cols] * (1 + lo)
        upper[cols] = point[cols] * (1 + hi)
        covered += int(np.sum((errors >= lo) & (errors <= hi)))
        total += errors.size
    tot = np.cumsum(point)
    cum_q = np.array(
        [
            _around_point(
                _conformal_quantiles(
                    cum_rel[np.flatnonzero(~np.isnan(cum_rel[:, k]))[-p.calibration_origins :], k], p.coverage
                )
            )
            for k in range(h)
        ]
    )
    tot_lo = tot * (1 + cum_q[:, 0])
    tot_hi = tot * (1 + cum_q[:, 1])
    return (
        np.maximum(lower, 0.0),
        upper,
        np.maximum(tot_lo, 0.0),
        tot_hi,
        covered / max(total, 1),
    )


def _around_point(limits: tuple[float, float]) -> tuple[float, float]:
    """Relative limits widened to hold the point itself: when the past errors all lean one way the quantiles
    can both sit above (or below) zero, and a range that excludes its own expected value reads as a bug."""
    return min(limits[0], 0.0), max(limits[1], 0.0)


def _conformal_quantiles(errors: FloatArray, coverage: float) -> tuple[float, float]:
    """The finite-sample split-conformal limits of `n` errors for a central band of `coverage`: each tail
    holds at most (1 - coverage) / 2 of them, the upper limit is the ceil((n + 1)(1 - a))-th smallest
    error and the lower the floor((n + 1) a)-th (a = (1 - coverage) / 2), clamped to the sample."""
    ordered = np.sort(errors)
    n = ordered.size
    tail = (1 - coverage) / 2
    upper = min(math.ceil((n + 1) * (1 - tail)), n)
    lower = max(math.floor((n + 1) * tail), 1)
    return float(ordered[lower - 1]), float(ordered[upper - 1])


def month_end(actual_to_date: float, days_left: int, fc: Forecast) -> tuple[float, float, float]:
    """Projected month total = actual to date + the forecast of the rest, with its band."""
    if days_left <= 0:
        return actual_to_date, actual_to_date, actual_to_date
    k = min(days_left, fc.point.size) - 1
    rest = float(np.sum(fc.point[: k + 1]))
    return (
        actual_to_date + rest,
        actual_to_date + float(fc.total_lower[k]),
        actual_to_date + float(fc.total_upper[k]),
    )


def day_after(start: date, n: int) -> date:
    """The day after a series of `n` days from `start`."""
    return start + timedelta(days=n)
