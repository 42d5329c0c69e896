"""The month-end projection of a budget and the probability of ending above its amount.

Method "forecast": the forecast service's model (analytics/detect/forecast.py: chosen per series by a
rolling-origin backtest among seasonal naive, weekday median, damped ETS and STL + ETS) forecasts the days
after the last day with data, exactly as `GET /api/v1/forecasts` does; the month's remaining days are
summed and added to the exact actual to date. The uncertainty is the chosen model's own backtest: from each
origin, the relative error of its forecast summed over the same days ahead, e = (A - F) / F. Those errors
(split-conformal, the ones the forecast's 80% band is made of) give the distribution of the month-end
total, actual + rest x (1 + e), so

    P(month-end > amount) = 1 - CDF_e((amount - actual) / rest - 1)

with CDF_e the errors' empirical distribution interpolated linearly between them as numpy's quantiles are
(so the band's 10th and 90th percentiles sit at probabilities 0.9 and 0.1). Purchases, taxes and recurring
charges are not extrapolated day by day (they come when billed), as in the forecast service.

Method "run-rate", the stated fallback when the history is too short for a calibrated forecast (fewer
than three backtest origins, about six weeks plus the horizon): the mean and the standard deviation of
daily spend over the last `WINDOW_DAYS` days up to the last day with data (days without rows in between
count as zero). The days of the month after the last day with data are forecast as independent days with
that mean and deviation, so

    projected = actual + mean x remaining_days
    P(month-end > budget) = 1 - Phi((budget - projected) / (sd x sqrt(remaining_days)))

With no spread (sd = 0) or nothing left to forecast, the probability is 1 when the projection is above the
budget and 0 otherwise. Method "actual": the month is over and what was recorded is the result.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from focusbase.analytics.detect.forecast import Forecast, ForecastParams, backtest, forecast, origins_before
from focusbase.analytics.detect.series import FloatArray

WINDOW_DAYS = 14
SCALE = Decimal("0.000000000001")  # the warehouse's 12 decimal places
CENT = Decimal("0.01")
METHOD = "run-rate"
FORECAST = "forecast"
BAND = (0.1, 0.9)  # the 80% band of the projected total
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Projection:
    """Actual spend of the month so far, the projected month-end total and P(month-end > amount)."""

    actual: Decimal
    projected: Decimal
    probability_above: float
    method: str
    last_day_with_data: date | None
    model: str | None = None  # the forecast model (method "forecast")
    lower: Decimal | None = None  # the 80% band of the month-end total (method "forecast")
    upper: Decimal | None = None


def month_bounds(period: str) -> tuple[date, date]:
    """First day of the month and first day of the next."""
    year, month = int(period[:4]), int(period[5:7])
    start = date(year, month, 1)
    end = date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def run_rate(daily: dict[date, Decimal], period: str, amount: Decimal, today: date) -> Projection:
    """The run-rate projection of `period` from a daily series (which may start before the month)."""
    start, end = month_bounds(period)
    actual = sum((v for d, v in daily.items() if start <= d < end), Decimal(0))
    if today >= end:  # the month is over: what was recorded is the result
        return Projection(actual, actual, 1.0 if actual > amount else 0.0, "actual", _last(daily, start, end))
    last = _last(daily, start, end)
    remaining = (end - (last + timedelta(days=1))).days if last is not None else (end - start).days
    history_end = last if last is not None else min(today, end) - timedelta(days=1)
    window = [daily.get(history_end - timedelta(days=i), Decimal(0)) for i in range(WINDOW_DAYS)]
    first_data = min(daily) if daily else None
    window = [v for i, v in enumerate(window) if first_data and history_end - timedelta(days=i) >= first_data]
    if not window:
        return Projection(actual, actual, 1.0 if actual > amount else 0.0, METHOD, last)
    mean = sum(window, Decimal(0)) / len(window)
    projected = (actual + mean * remaining).quantize(SCALE)
    if len(window) > 1:
        variance = sum(((v - mean) ** 2 for v in window), Decimal(0)) / (len(window) - 1)
        sd = variance.sqrt()
    else:
        sd = Decimal(0)
    spread = sd * Decimal(remaining).sqrt()
    if remaining <= 0 or spread == 0:
        probability = 1.0 if projected > amount else 0.0
    else:
        z = float((amount - projected) / spread)
        probability = 0.5 * math.erfc(z / math.sqrt(2))
    return Projection(actual, projected, probability, METHOD, last)


def _last(daily: dict[date, Decimal], start: date, end: date) -> date | None:
    days = [d for d in daily if start <= d < end]
    return max(days) if days else None


@dataclass(frozen=True)
class _Fitted:
    """A series' forecast with the chosen model's backtest (forecasts and actuals from each origin)."""

    forecast: Forecast
    forecasts: list[FloatArray]
    actuals: list[FloatArray]


_CACHE: OrderedDict[tuple[bytes, date, int], _Fitted] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _fit(y: FloatArray, start: date, params: ForecastParams) -> _Fitted:
    """Forecast and backtest, remembered per (series, start, horizon): sweeps re-evaluate unchanged data."""
    key = (hashlib.blake2b(y.tobytes(), digest_size=16).digest(), start, params.horizon)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    shared: dict[tuple[int, str, int], FloatArray] = {}
    fc = forecast(y, start, params, shared)
    forecasts: list[FloatArray] = []
    actuals: list[FloatArray] = []
    if fc.calibrated:  # the same origins forecast() used: every forecast comes from the shared cache
        test = backtest(y, origins_before(y.size, params), params, shared)
        # The forecast is the mean of its models (COMBINED), so its backtest is their mean at each origin,
        # as forecast() calibrates its band on.
        models = fc.models or (fc.model,)
        actuals = test.actuals
        forecasts = [np.mean([test.forecasts[m][i] for m in models], axis=0) for i in range(len(actuals))]
    fitted = _Fitted(fc, forecasts, actuals)
    with _CACHE_LOCK:
        _CACHE[key] = fitted
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fitted


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT)


def projection(
    daily: dict[date, Decimal],
    expected: dict[date, Decimal],
    period: str,
    amount: Decimal,
    today: date,
    *,
    history_days: int,
) -> Projection:
    """The month-end projection of `period` from daily spend (and its expected part) up to the month's end.

    The forecast service's calibrated forecast when the history allows, else the run-rate (see above).
    """
    fallback = run_rate(daily, period, amount, today)
    start, end = month_bounds(period)
    known = [d for d, v in daily.items() if d < end]
    if today >= end or not known:
        return fallback
    last = max(known)
    first = max(min(known), last - timedelta(days=history_days - 1))
    days = (last - first).days + 1
    y = np.array(
        [
            float(daily.get(d, Decimal(0)) - expected.get(d, Decimal(0)))
            for d in (first + timedelta(days=i) for i in range(days))
        ]
    )
    begin = last + timedelta(days=1)
    skip, stop = max(0, (start - begin).days), (end - begin).days
    if stop <= 0:  # every day of the month has data already
        return fallback
    fitted = _fit(y, begin, ForecastParams(horizon=max(30, stop)))
    fc = fitted.forecast
    if not fc.calibrated:
        return fallback
    rest = float(np.sum(fc.point[skip:stop]))
    windows = [
        (float(np.sum(a[skip:stop])), float(np.sum(f[skip:stop])))
        for f, a in zip(fitted.forecasts, fitted.actuals, strict=True)
    ]
    actual = fallback.actual
    if rest > 0:
        errors = np.array([(a - f) / max(f, 1e-9) for a, f in windows])
        outcomes = np.sort(float(actual) + rest * (1 + errors))
    else:  # nothing (or credits) forecast: absolute errors
        outcomes = np.sort(float(actual) + rest + np.array([a - f for a, f in windows]))
    if not (np.isfinite(rest) and np.all(np.isfinite(outcomes))):  # a model that failed numerically
        return fallback
    # The empirical CDF of the outcomes, linear between them (numpy's default quantile definition).
    below = float(
        np.interp(float(amount), outcomes, np.linspace(0.0, 1.0, outcomes.size), left=0.0, right=1.0)
    )
    low, high = np.quantile(outcomes, BAND)
    return Projection(
        actual=actual,
        projected=(actual + _cents(rest)).quantize(SCALE),
        probability_above=1.0 - below,
        method=FORECAST,
        last_day_with_data=fallback.last_day_with_data,
        model=fc.model,
        lower=(actual + _cents(float(low) - float(actual))).quantize(SCALE),
        upper=(actual + _cents(float(high) - float(actual))).quantize(SCALE),
    )
