"""Forecasts of a scope's daily spend per BillingCurrency, and the month-end projection.

Month-end = the exact actual to date of the month of the first forecast day + the forecast of its remaining
days, with the band of the cumulative forecast (docs/analytics-detection.md).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from focusbase.analytics.anomaly_service import group_series, money
from focusbase.analytics.detect.forecast import Forecast, ForecastParams, forecast, month_end
from focusbase.analytics.model import ExplorerQuery
from focusbase.analytics.view_scopes import view_cells
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage import anomalies as store


@dataclass(frozen=True)
class CurrencyForecast:
    """The forecast of one scope in one currency."""

    currency: str
    last_day: date
    forecast: Forecast
    month: str  # YYYY-MM of the projection
    actual_to_date: Decimal
    month_end: tuple[float, float, float]  # point, lower, upper

    def as_json(self) -> dict[str, object]:
        """The API shape: amounts are decimal strings with their currency."""
        fc = self.forecast
        point, lower, upper = self.month_end
        return {
            "currency": self.currency,
            "dataThrough": self.last_day.isoformat(),
            "model": fc.model,
            "models": list(fc.models),
            "calibrated": fc.calibrated,
            "lowConfidence": fc.low_confidence,
            "reason": fc.reason or None,
            "backtestOrigins": fc.origins,
            "bandCoverageBacktest": None if fc.backtest_coverage is None else round(fc.backtest_coverage, 3),
            "backtestError": {model: round(err, 4) for model, err in fc.backtest_error.items()},
            "bandLevel": 0.8,
            # the level the band was cut at after adaptive conformal inference (docs/analytics-detection.md)
            "bandLevelAdapted": None if fc.band_level is None else round(fc.band_level, 3),
            "days": [
                {
                    "date": (fc.start + timedelta(days=i)).isoformat(),
                    "expected": money(fc.point[i]),
                    "lower": money(fc.lower[i]),
                    "upper": money(fc.upper[i]),
                }
                for i in range(fc.point.size)
            ],
            "monthEnd": {
                "month": self.month,
                "actualToDate": money(self.actual_to_date),
                "expected": money(point),
                "lower": money(lower),
                "upper": money(upper),
            },
        }


def forecast_scope(
    runtime: Runtime, workspace_id: str, provider_id: str, dimension: str, value: str
) -> list[CurrencyForecast]:
    """Forecasts of one scope of a provider, one per currency; empty when the scope has no data."""
    cells = runtime.series.daily_cells(
        workspace_id, provider_id, date.today() - timedelta(days=730), date.today()
    )
    if dimension != "provider":
        attr = {"ServiceName": "service", "SubAccountId": "account", "RegionId": "region"}[dimension]
        cells = [c for c in cells if getattr(c, attr) == value]
    return _forecasts(runtime.settings, cells)


def forecast_view(runtime: Runtime, scope: Scope, query: ExplorerQuery) -> list[CurrencyForecast]:
    """Forecasts of a saved view's spend visible in `scope` (a key's), one per currency."""
    today = date.today()
    cells = view_cells(runtime.series, scope, query, today - timedelta(days=730), today)
    return _forecasts(runtime.settings, cells)


def month_window(last: date) -> tuple[date, int]:
    """The first forecast day after data ending on `last`, and the days of its month from it on."""
    start = last + timedelta(days=1)
    return start, calendar.monthrange(start.year, start.month)[1] - start.day + 1


def _forecasts(settings: Settings, cells: list[store.DailyCell]) -> list[CurrencyForecast]:
    """One forecast per currency of the total of these cells."""
    if not cells:
        return []
    last = max(c.day for c in cells)
    since = max(min(c.day for c in cells), last - timedelta(days=settings.forecast_history_days - 1))
    cells = [c for c in cells if c.day >= since]
    series = group_series(cells, since, last, ("all",))
    start, days_left = month_window(last)
    month_start = start.replace(day=1)
    out = []
    for (_, _, currency), daily in sorted(series.items(), key=lambda item: item[0][2]):
        params = ForecastParams(horizon=max(30, days_left))
        # Purchases, taxes and recurring charges are not extrapolated day by day: they come when billed.
        fc = forecast(daily.detectable, start, params)
        to_date = sum(
            (c.cost for c in cells if c.currency == currency and c.day >= month_start), start=Decimal(0)
        )
        out.append(
            CurrencyForecast(
                currency=currency,
                last_day=last,
                forecast=fc,
                month=f"{start.year:04d}-{start.month:02d}",
                actual_to_date=to_date,
                month_end=month_end(float(to_date), days_left, fc),
            )
        )
    return out
