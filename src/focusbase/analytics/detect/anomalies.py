"""Cost anomaly detection on one daily series: a robust seasonal baseline, two floors, events, severity.

The detector walks the series day by day and only ever looks back, so it flags a day exactly as it would
have on the morning after that day was ingested (docs/analytics-detection.md has every rule and figure):

- baseline: the median of the same weekday over the recent weeks (14 to 55 clean days of history), or a
  robust STL decomposition (period 7, statsmodels) once there are `stl_min_days`; days inside anomaly events
  and days of expected spend are left out of it;
- scale: 1.4826 x MAD of the residuals, at least `sigma_floor_share` of the baseline;
- a day is anomalous when |z| >= `z_threshold` AND |actual - baseline| >= max(`abs_floor`,
  `rel_floor` x baseline); the per-scope `multiplier` (raised by false positives) scales all three;
- slow drift, which never crosses the daily floors, is caught by a ramp-shaped (matched) test of the log
  excess of the last `drift_days` over the weekday means of the weeks before, whose variance includes the
  error of those means;
- while a drift goes on, each day is measured against a line fitted to the drift's recent log spend: the ramp
  extends the one drift event, and only a day anomalous against that line (a spike on top) is an event;
- consecutive anomalous days of one sign form one event; an event that persists `accept_days` becomes the
  new normal (the baseline restarts at it) so a level shift is one event, not one a day;
- a positive excess on the day of month where the previous months had the same excess is a recurring
  charge, expected, and never alerts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from statsmodels.tsa.seasonal import STL

from focusbase.analytics.detect.series import DailySeries, FloatArray, mad_scale

Kind = Literal["spike", "drop", "level_shift", "drift", "new_spend"]
Severity = Literal["Low", "Medium", "High", "Critical"]
SEVERITIES: tuple[Severity, ...] = ("Low", "Medium", "High", "Critical")

_POINT, _DRIFT, _NEW = 1, 2, 3


@dataclass(frozen=True)
class DetectionParams:
    """Every tunable of the detector; the defaults are the ones measured in docs/benchmarks.md."""

    z_threshold: float = 3.5
    abs_floor: float = 10.0
    rel_floor: float = 0.20
    sigma_floor_share: float = 0.05
    min_history_days: int = 14
    stl_min_days: int = 56
    window_days: int = 56
    stl_window_days: int = 84
    stl_refit_days: int = 7
    level_shift_days: int = 4
    accept_days: int = 14
    merge_gap_days: int = 1
    drift_days: int = 14
    drift_reference_days: int = 28
    drift_z: float = 3.5
    drift_min_share: float = 0.08
    drift_min_rise: float = 0.08
    drift_noise_floor: float = 0.02
    drift_fit_days: int = 28
    drift_end_se: float = 0.5
    recurring_months: int = 2
    critical_abs: float | None = None
    multiplier: float = 1.0


@dataclass(frozen=True)
class Event:
    """One anomaly: consecutive anomalous days of one sign, with its money impact and severity."""

    start: date
    end: date
    detected_on: date
    kind: Kind
    severity: Severity
    direction: int  # +1 above the baseline, -1 below
    actual: float
    expected: float
    impact: float
    impact_percentage: float | None  # None when nothing was expected (new spend), as AWS does
    max_z: float
    ongoing: bool


@dataclass(frozen=True)
class Detection:
    """The events of a series plus the baseline and scale the detector used for each day (NaN: none).

    `drift_line` is the fitted line's spend on the days a drift was under way (NaN elsewhere): what a spike,
    drop or level shift on those days was measured against, while the drift itself is measured against
    `baseline`.
    """

    series: DailySeries
    events: list[Event]
    baseline: FloatArray
    sigma: FloatArray
    suppressed_recurring: list[date] = field(default_factory=list)
    drift_line: FloatArray | None = None

    def expected(self, i: int, kind: str) -> float:
        """The expected spend of day `i` that an event of `kind` was measured against (NaN: none yet)."""
        if kind != "drift" and self.drift_line is not None and self.drift_line[i] == self.drift_line[i]:
            return float(self.drift_line[i])
        return float(self.baseline[i])


@dataclass
class _Ramp:
    """A drift being followed: its sign, where its window began, and the reference it was measured from."""

    sign: int
    start: int  # the drift event's first day
    lo: int  # the first day of the window the drift test found it in
    means: FloatArray  # the reference's mean log spend per weekday
    known: npt.NDArray[np.bool_]  # weekdays the reference has (at least 2 days with spend)
    expected: float = 0.0  # the fitted line's spend for the day being checked
    slope: float = 0.0  # its slope, in log spend per day
    point_start: int = -1  # a run of anomalous days on top of the drift
    point_sign: int = 0
    last_point: int = -10


@dataclass
class _Stl:
    fitted_at: int = -1
    anchor: int = -1
    level: float = 0.0
    season: FloatArray = field(default_factory=lambda: np.zeros(7))
    scale: float = 0.0


class _Walker:
    """The day-by-day state of one detection run."""

    def __init__(self, series: DailySeries, params: DetectionParams) -> None:
        self.p = params
        self.x = series.detectable
        self.n = len(series)
        self.wd = series.weekdays()
        self.series = series
        self.baseline = np.full(self.n, np.nan)
        self.sigma = np.full(self.n, np.nan)
        self.weekday_base = np.full(
            self.n, np.nan
        )  # the weekday-median baseline, whose errors give the scale
        self.flag = np.zeros(self.n, dtype=np.int64)  # +1 / -1
        self.how = np.zeros(self.n, dtype=np.int64)  # _POINT, _DRIFT, _NEW
        self.seen_on = np.zeros(self.n, dtype=np.int64)  # the day whose run flagged it
        self.excluded = np.zeros(self.n, dtype=bool)
        self.anchor = 0
        self.stl = _Stl()
        self.ramp: _Ramp | None = None
        self.on_ramp = np.zeros(self.n, dtype=np.int64)  # the sign of the drift followed on each day
        self.ramp_base = np.full(self.n, np.nan)  # the drift's own expected spend on those days
        self.ramp_sigma = np.full(self.n, np.nan)
        self.open_start = -1
        self.open_sign = 0
        self.last_flag = -10
        self.suppressed: list[date] = []

    # ----------------------------------------------------------------------------------------- baseline

    def _history(self, t: int) -> np.ndarray:
        lo = max(self.anchor, t - self.p.window_days)
        idx = np.arange(lo, t)
        # Anomalous days stay out of the baseline for 2 x accept_days; after that they are history.
        keep = ~self.excluded[lo:t] | (idx < t - 2 * self.p.accept_days)
        return idx[keep]

    def _weekday_baseline(self, t: int, idx: np.ndarray) -> tuple[float, float]:
        values, days = self.x[idx], self.wd[idx]
        medians = np.array([np.median(values[days == d]) if np.any(days == d) else np.nan for d in range(7)])
        overall = float(np.median(values))
        medians = np.where(np.isnan(medians), overall, medians)
        same = values[days == self.wd[t]]
        base = float(np.median(same)) if same.size >= 2 else overall
        return base, mad_scale(values - medians[days])

    def _stl_baseline(self, t: int) -> tuple[float, float]:
        fit = self.stl
        if fit.anchor != self.anchor or t - fit.fitted_at >= self.p.stl_refit_days:
            lo = max(self.anchor, t - self.p.stl_window_days)
            y = self.x[lo:t].copy()
            clean = ~self.excluded[lo:t]
            days = self.wd[lo:t]
            for d in range(7):  # impute left-out days with their weekday's clean median
                fill = y[clean & (days == d)]
                y[~clean & (days == d)] = float(np.median(fill)) if fill.size else float(np.median(y[clean]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = STL(y, period=7, robust=True).fit()
            season = np.zeros(7)
            for d in range(7):
                season[d] = float(np.mean(np.asarray(result.seasonal)[-14:][days[-14:] == d]))
            resid = np.asarray(result.resid)[-self.p.window_days :][clean[-self.p.window_days :]]
            trend = np.asarray(result.trend, dtype=np.float64)
            self.stl = fit = _Stl(t, self.anchor, float(trend[-1]), season, mad_scale(resid))
        return fit.level + float(fit.season[self.wd[t]]), fit.scale

    def _expected(self, t: int) -> tuple[float, float] | None:
        idx = self._history(t)
        if idx.size < self.p.min_history_days:
            return None
        base, scale = self._weekday_baseline(t, idx)
        self.weekday_base[t] = base
        if idx.size >= self.p.stl_min_days:
            # Two baselines must agree before a day alerts: the nearer of STL's and the weekday median's.
            # (STL's residuals understate the noise of a day it has not seen; the scale comes below.)
            stl, _ = self._stl_baseline(t)
            if abs(self.x[t] - stl) < abs(self.x[t] - base):
                base = stl
        base = max(base, 0.0)
        # The honest scale is that of the detector's own past one-day-ahead errors (relative, so growth does
        # not inflate it); in-sample residuals understate it. Until there are enough, the in-sample one x1.5.
        ref = self.weekday_base
        past = idx[~np.isnan(ref[idx]) & (ref[idx] > 0)]
        if past.size >= self.p.min_history_days and base > 0:
            scale = mad_scale((self.x[past] - ref[past]) / ref[past]) * base
        else:
            scale *= 1.5
        return base, max(scale, self.p.sigma_floor_share * base, 0.01)

    # ------------------------------------------------------------------------------------------ decide

    def _recurring(self, t: int, excess: float) -> bool:
        """Was the same day of month above its baseline by about as much in each of the last months?"""
        if excess <= 0 or self.p.recurring_months <= 0:
            return False
        today = self.series.day(t)
        for back in range(1, self.p.recurring_months + 1):
            month, year = today.month - back, today.year
            while month < 1:
                month, year = month + 12, year - 1
            try:
                then = date(year, month, today.day)
            except ValueError:
                return False
            i = (then - self.series.start).days
            if i < 0 or np.isnan(self.baseline[i]):
                return False
            before = self.x[i] - self.baseline[i]
            if not 0.5 * excess <= before <= 2.0 * excess:
                return False
        return True

    def _mark(self, t: int, sign: int, how: int, seen: int) -> None:
        self.flag[t], self.how[t], self.seen_on[t] = sign, how, seen
        self.excluded[t] = True
        if self.open_sign == sign and t - self.last_flag <= self.p.merge_gap_days + 1:
            self.last_flag = max(self.last_flag, t)
            return
        self.open_start, self.open_sign, self.last_flag = t, sign, t

    def _accept(self, t: int) -> None:
        """A change that has lasted `accept_days` is the new normal: the baseline restarts at it."""
        self.anchor = max(self.open_start, t - self.p.accept_days + 1)
        self.excluded[self.anchor : t + 1] = False
        self.ramp = None
        self.open_start, self.open_sign = -1, 0

    def step(self, t: int) -> None:
        p, m, x = self.p, self.p.multiplier, self.x[t]
        if self.ramp is not None and not self._ramp_goes_on(t, self.ramp):
            self._end_ramp(t)
        expected = self._expected(t)
        if expected is None:
            idx = self._history(t)
            quiet = idx.size == 0 or float(np.max(np.abs(self.x[idx]))) <= 0.05 * p.abs_floor
            if quiet and idx.size + (t - self.anchor) > 0 and x >= p.abs_floor * m:
                self.baseline[t] = 0.0
                self._mark(t, 1, _NEW, t)
                self.anchor, self.open_sign = t, 0  # its own spend is the history from now on
                self.excluded[t] = False
            return
        base, sigma = expected
        self.baseline[t], self.sigma[t] = base, sigma
        if self.ramp is not None:
            self._follow(t, self.ramp, base, sigma)
            return
        dev = x - base
        z = dev / sigma
        if base < 0.05 * p.abs_floor and x >= p.abs_floor * m:
            self._mark(t, 1, _NEW, t)
            self.anchor, self.open_sign = t, 0
            self.excluded[t] = False
            return
        # A young series (under 2 x min_history_days) knows its noise poorly: one more sigma is demanded.
        young = 1.0 if self._history(t).size < 2 * p.min_history_days else 0.0
        point = abs(z) >= (p.z_threshold + young) * m and abs(dev) >= max(
            p.abs_floor * m, p.rel_floor * m * base
        )
        if point and self._recurring(t, dev):
            self.suppressed.append(self.series.day(t))
            self.excluded[t] = True
            return
        sign = 1 if dev > 0 else -1
        if point:
            self._mark(t, sign, _POINT, t)
        elif not self._drift(t):
            if self.open_sign and t - self.last_flag > p.merge_gap_days:
                self.open_start, self.open_sign = -1, 0
            return
        if self.open_sign and t - self.open_start + 1 >= p.accept_days:
            self._accept(t)

    def _drift(self, t: int) -> bool:
        """A slow, steady change: a ramp-shaped (matched) test of the log excess over the last `drift_days`
        against a weekday profile of the `drift_reference_days` before them, with its exact variance."""
        p = self.p
        found = self._drift_test(t)
        if found is None:
            return False
        sign, rel, means, known = found
        lo = t - p.drift_days + 1
        first = next((i for i in range(t - 6, t + 1) if rel[i - lo] * sign >= p.drift_min_share / 2), t)
        for i in range(first, t + 1):
            self._mark(i, sign, _DRIFT, t)
        self.ramp = _Ramp(sign, first, lo, means, known)
        return True

    # ------------------------------------------------------------------------------------ drift under way

    def _ramp_goes_on(self, t: int, ramp: _Ramp) -> bool:
        """Does the line fitted to the drift's last `drift_fit_days` still rise by half of `drift_min_rise`
        over `drift_days`? (It also sets the line's expected spend of day t.)"""
        p = self.p
        idx = np.arange(max(ramp.lo, t - p.drift_fit_days), t)
        idx = idx[(self.x[idx] > 0) & (self.how[idx] != _POINT) & ramp.known[self.wd[idx]]]
        if idx.size < p.drift_days // 2:
            return False
        excess = np.log(self.x[idx]) - ramp.means[self.wd[idx]]
        u = (idx - t).astype(np.float64)
        slope, level = np.polyfit(u, excess, 1)
        ramp.expected = float(np.exp(level + ramp.means[self.wd[t]]))
        ramp.slope = float(slope)
        resid = excess - (level + slope * u)
        se = mad_scale(resid) / float(np.sqrt(np.sum((u - u.mean()) ** 2)))
        return (ramp.slope * ramp.sign - p.drift_end_se * se) * p.drift_days >= p.drift_min_rise / 2

    def _end_ramp(self, t: int) -> None:
        """The drift has stopped; when it lasted `accept_days`, the level it reached is the new normal."""
        ramp, self.ramp = self.ramp, None
        assert ramp is not None
        if t - ramp.start >= self.p.accept_days:
            self.anchor = t - self.p.accept_days
            self.excluded[self.anchor : t] = False
        self.open_start, self.open_sign = -1, 0

    def _follow(self, t: int, ramp: _Ramp, base: float, sigma: float) -> None:
        """A day of a drift under way is one more day of the drift, unless it is anomalous against the
        drift's own line (a spike on top of it): the same decision rule, with the line as the expectation."""
        p, m, x = self.p, self.p.multiplier, self.x[t]
        expected = ramp.expected if ramp.known[self.wd[t]] else base
        scale = max(sigma / base if base > 0 else p.sigma_floor_share, p.sigma_floor_share) * expected
        scale = max(scale, 0.01)
        dev = x - expected
        self.on_ramp[t], self.ramp_base[t], self.ramp_sigma[t] = ramp.sign, expected, scale
        point = abs(dev) >= p.z_threshold * m * scale and abs(dev) >= max(
            p.abs_floor * m, p.rel_floor * m * expected
        )
        if point and self._recurring(t, dev):
            self.suppressed.append(self.series.day(t))
            self.excluded[t] = True
            return
        self.excluded[t] = True
        self.seen_on[t] = t
        if not point:
            self.flag[t], self.how[t] = ramp.sign, _DRIFT
            return
        sign = 1 if dev > 0 else -1
        self.flag[t], self.how[t] = sign, _POINT
        if sign != ramp.point_sign or t - ramp.last_point > p.merge_gap_days + 1:
            ramp.point_start, ramp.point_sign = t, sign
        ramp.last_point = t
        if t - ramp.point_start + 1 >= p.accept_days:  # a level shift on top of the drift: the new normal
            self.ramp = None
            self.anchor = ramp.point_start
            self.excluded[self.anchor : t + 1] = False
            self.open_start, self.open_sign = -1, 0

    def _drift_test(self, t: int) -> tuple[int, FloatArray, FloatArray, npt.NDArray[np.bool_]] | None:
        p, m = self.p, self.p.multiplier
        lo = t - p.drift_days + 1
        ref_lo = lo - p.drift_reference_days
        if ref_lo < self.anchor + p.min_history_days:  # a young series has no settled level to drift from
            return None
        window = np.arange(lo, t + 1)
        # The reference is the weekday profile of the weeks before the window, not the day's own baseline:
        # a baseline that keeps learning would follow a slow drift and never see it. In logs, as cost
        # changes by factors; days without spend are left out.
        ref_idx = np.arange(ref_lo, lo)
        ref_idx = ref_idx[~self.excluded[ref_lo:lo] & (self.x[ref_lo:lo] > 0)]
        if ref_idx.size < p.drift_reference_days // 2:
            return None
        log_ref, ref_wd = np.log(self.x[ref_idx]), self.wd[ref_idx]
        counts = np.bincount(ref_wd, minlength=7).astype(np.float64)
        means = np.bincount(ref_wd, weights=log_ref, minlength=7) / np.maximum(counts, 1.0)
        wd = self.wd[window]
        # Days already flagged (a spike inside a drift) are left out of the test, not the whole window.
        use = (self.x[window] > 0) & (counts[wd] >= 2) & (self.flag[window] == 0)
        if int(np.sum(use)) < p.drift_days // 2:
            return None
        weights = np.arange(1, p.drift_days + 1, dtype=np.float64)[use]
        excess = np.log(self.x[window][use]) - means[wd[use]]
        # Var(sum w_i e_i) / noise^2 = sum w_i^2 + sum over weekdays of (their summed weights)^2 / n_d: the
        # second term is the error of the reference itself, shared by every day of a weekday.
        per_day = np.bincount(wd[use], weights=weights, minlength=7)
        variance = float(np.dot(weights, weights)) + float(np.sum(per_day**2 / np.maximum(counts, 1.0)))
        # The noise: the detector's own one-day-ahead relative error as it was on the window's first day
        # (out of sample, and a drift under way must not widen its own yardstick).
        noise = max(float(self.sigma[lo] / self.baseline[lo]), p.drift_noise_floor)
        score = float(np.dot(weights, excess)) / (noise * float(np.sqrt(variance)))
        sign = 1 if score > 0 else -1
        # The fitted ramp's excess at the end of the window, and what the window adds in money.
        rise = float(np.dot(weights, excess)) / float(np.dot(weights, weights)) * p.drift_days * sign
        money = float(np.sum(self.x[window][use] * -np.expm1(-excess))) * sign
        if abs(score) >= p.drift_z * m and rise >= p.drift_min_rise * m and money >= p.abs_floor * m:
            rel = np.zeros(p.drift_days)
            rel[use] = np.expm1(excess)
            return sign, rel, means, counts >= 2
        return None


def detect(series: DailySeries, params: DetectionParams | None = None) -> Detection:
    """Walk the series and return its anomaly events, oldest first."""
    walker = _Walker(series, params or DetectionParams())
    for t in range(walker.n):
        walker.step(t)
    return Detection(
        series=series,
        events=_events(walker),
        baseline=walker.baseline,
        sigma=walker.sigma,
        suppressed_recurring=walker.suppressed,
        drift_line=np.where(walker.on_ramp != 0, walker.ramp_base, np.nan),
    )


def _events(w: _Walker) -> list[Event]:
    # A day anomalous on top of a drift under way is a day of the drift and of its own event, which is
    # measured against the drift's line; every other day belongs to one event.
    on_top = (w.how == _POINT) & (w.on_ramp != 0)
    flag = np.where(on_top, w.on_ramp, w.flag)
    how = np.where(on_top, _DRIFT, w.how)
    events = [_event(w, days, flag, how, w.baseline, w.sigma) for days in _groups(w, flag, how)]
    top = np.where(on_top, w.flag, 0)
    base = np.where(on_top, w.ramp_base, w.baseline)
    sigma = np.where(on_top, w.ramp_sigma, w.sigma)
    events += [_event(w, days, top, w.how, base, sigma) for days in _groups(w, top, w.how)]
    return sorted(events, key=lambda e: e.start)


def _groups(w: _Walker, flag: np.ndarray, how: np.ndarray) -> list[np.ndarray]:
    groups: list[list[int]] = []
    for found in np.flatnonzero(flag):
        i = int(found)
        last = groups[-1][-1] if groups else -10
        same = groups and flag[last] == flag[i] and how[i] != _NEW and how[groups[-1][0]] != _NEW
        if same and i - last <= w.p.merge_gap_days + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [np.array(days) for days in groups]


def _event(
    w: _Walker, days: np.ndarray, flag: np.ndarray, how: np.ndarray, baseline: FloatArray, scale: FloatArray
) -> Event:
    p = w.p
    first, last = int(days[0]), int(days[-1])
    sign = int(flag[first])
    base = np.nan_to_num(baseline[days])
    actual = float(np.sum(w.x[days]))
    expected = float(np.sum(base))
    impact = actual - expected
    sigma = scale[days]
    zs = np.where(np.isnan(sigma), 0.0, (w.x[days] - base) / np.where(np.isnan(sigma), 1.0, sigma))
    max_z = float(np.max(np.abs(zs))) if zs.size else 0.0
    hows = set(how[days].tolist())
    kind: Kind
    if _NEW in hows:
        kind = "new_spend"
    elif how[first] == _DRIFT:
        kind = "drift"
    elif days.size >= p.level_shift_days:
        kind = "level_shift"
    else:
        kind = "spike" if sign > 0 else "drop"
    trailing = float(np.sum(np.abs(w.x[max(0, first - 30) : first])))
    share = abs(impact) / trailing if trailing > 0 else 1.0
    if kind in ("drift", "level_shift") and trailing > 0:
        # A lasting change is weighed by what it adds to a month: its daily excess x 30 days.
        share = max(share, abs(impact) / days.size * 30 / trailing)
    return Event(
        start=w.series.day(first),
        end=w.series.day(last),
        detected_on=w.series.day(int(np.min(w.seen_on[days]))),
        kind=kind,
        severity=severity(share, max_z, abs(impact), p.critical_abs),
        direction=sign,
        actual=actual,
        expected=expected,
        impact=impact,
        impact_percentage=None if expected <= 0 or kind == "new_spend" else impact / expected * 100,
        max_z=max_z,
        ongoing=last >= w.n - 1 - p.merge_gap_days,
    )


def severity(share: float, z: float, impact: float, critical_abs: float | None = None) -> Severity:
    """Severity from the impact's share of the trailing 30 days of spend and from the deviation."""
    if share >= 0.25 or (critical_abs is not None and impact >= critical_abs):
        return "Critical"
    if share >= 0.10 or z >= 8:
        return "High"
    if share >= 0.03 or z >= 5:
        return "Medium"
    return "Low"


def at_least(level: Severity, floor: Severity) -> bool:
    """Is `level` at or above `floor`?"""
    return SEVERITIES.index(level) >= SEVERITIES.index(floor)


@dataclass(frozen=True)
class Contribution:
    """How much of an event one child scope explains."""

    child: str
    impact: float
    share: float


def explain(event: Event, children: dict[str, Detection], top: int = 5) -> list[Contribution]:
    """Split an event's impact across child series by their own (actual - baseline) on the event's days."""
    parts: list[tuple[str, float]] = []
    for name, child in children.items():
        lo = (event.start - child.series.start).days
        hi = (event.end - child.series.start).days + 1
        if hi <= 0 or lo >= len(child.series):
            continue
        lo, hi = max(lo, 0), min(hi, len(child.series))
        x = child.series.detectable[lo:hi]
        base = np.nan_to_num(child.baseline[lo:hi], nan=0.0)
        parts.append((name, float(np.sum(x - base))))
    total = sum(abs(v) for _, v in parts)
    parts.sort(key=lambda item: -abs(item[1]))
    return [Contribution(name, value, abs(value) / total if total else 0.0) for name, value in parts[:top]]


def false_positive_multiplier(
    false_positive_days: list[date], today: date, *, step: float, cap: float
) -> float:
    """The per-scope threshold multiplier: 1 + `step` per false positive in the last 90 days, up to `cap`."""
    recent = sum(1 for day in false_positive_days if today - day <= timedelta(days=90))
    return min(1.0 + step * recent, cap)
