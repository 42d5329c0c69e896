"""dataCompleteness: a result is Incomplete while any billing period in its scope may still change.

A billing period is open until `period_close_days` days after its end, unless its provider finalised it
(POST /api/v1/providers/{id}/periods/{YYYY-MM}/finalize). The periods in scope are
- the billing periods of the rows the query matches, and
- the calendar months the query's billing-period window covers (month start in the window) that have
  begun but are not yet closed, for every provider the key can see: data for them may still arrive even
  when no row matches yet.
Pure: the caller supplies the periods, providers, finalisations and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from focusbase.storage.query import BillingPeriod

COMPLETE = "Complete"
INCOMPLETE = "Incomplete"


def month_key(start: datetime) -> str:
    """The YYYY-MM a billing period is finalised under (the month of its start)."""
    return start.strftime("%Y-%m")


def _month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def open_months(
    now: datetime, close_days: int, window_start: datetime | None, window_end: datetime | None
) -> list[datetime]:
    """Calendar months (their starts) that have begun, are not closed yet and start inside the window."""
    months: list[datetime] = []
    month = _month_start(now)
    # Only the current month and the few before it can still be within close_days of their end.
    while _next_month(month) + timedelta(days=close_days) > now:
        if (window_start is None or month >= window_start) and (window_end is None or month < window_end):
            months.append(month)
        month = _month_start(month - timedelta(days=1))
    return months


def data_completeness(
    *,
    now: datetime,
    close_days: int,
    periods: Iterable[BillingPeriod],
    provider_ids: Iterable[str],
    finalized: Mapping[str, set[str]],
    window_start: datetime | None,
    window_end: datetime | None,
) -> str:
    """Complete or Incomplete for a result (all datetimes naive UTC)."""
    close = timedelta(days=close_days)
    for period in periods:
        # now - close, not end + close: an end near year 9999 must not overflow.
        if now - close < period.end and month_key(period.start) not in finalized.get(
            period.provider_id, set()
        ):
            return INCOMPLETE
    providers = list(provider_ids)
    for month in open_months(now, close_days, window_start, window_end):
        key = month_key(month)
        if any(key not in finalized.get(provider_id, set()) for provider_id in providers):
            return INCOMPLETE
    return COMPLETE
