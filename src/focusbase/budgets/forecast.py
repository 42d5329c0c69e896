"""The month-end projection budgets use when no forecast service is present.

`projection(...)` is the one function budgets call; a better forecaster replaces it by assigning
`focusbase.budgets.forecast.PROJECT` (same signature).

Method ("run-rate"): the mean and the standard deviation of daily spend over the last `WINDOW_DAYS`
days up to the last day with data (days without rows in between count as zero). The days of the month
after the last day with data are forecast as independent days with that mean and deviation, so

    projected = actual + mean x remaining_days
    P(month-end > budget) = 1 - Phi((budget - projected) / (sd x sqrt(remaining_days)))

With no spread (sd = 0) or nothing left to forecast, the probability is 1 when the projection is above the
budget and 0 otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

WINDOW_DAYS = 14
SCALE = Decimal("0.000000000001")  # the warehouse's 12 decimal places
METHOD = "run-rate"


@dataclass(frozen=True, slots=True)
class Projection:
    """Actual spend of the month so far, the projected month-end total and P(month-end > amount)."""

    actual: Decimal
    projected: Decimal
    probability_above: float
    method: str
    last_day_with_data: date | None


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


PROJECT: Callable[[dict[date, Decimal], str, Decimal, date], Projection] = run_rate


def projection(daily: dict[date, Decimal], period: str, amount: Decimal, today: date) -> Projection:
    """The month-end projection of the installed forecaster (the run-rate one by default)."""
    return PROJECT(daily, period, amount, today)
