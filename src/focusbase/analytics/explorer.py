"""The explorer service: run an ExplorerQuery over the rollup (or the live rows) with its freshness markers.

Every result is split by BillingCurrency (and, for quantities, by unit); a converted result (`currency`) is a
separate series in the target currency with the rows lacking a rate reported, never mixed silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from focusbase.analytics.model import ExplorerQuery
from focusbase.config import Settings
from focusbase.query.completeness import data_completeness, month_key
from focusbase.query.filters import Scope
from focusbase.storage import Catalog
from focusbase.storage import analytics as store
from focusbase.storage.explorer_reads import ExplorerReads
from focusbase.storage.query import BillingPeriod, scope_provider_ids
from focusbase.tenancy.periods import finalized_periods

MAX_MISSING_DAYS = 100  # days listed per currency lacking a rate (the count covers all of them)


class ExplorerError(Exception):
    """A query the explorer refuses: HTTP status, error code, message and the request field at fault."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Bucket:
    """A time bucket of the result: its days, the days holding data, and whether it is partial or open."""

    start: date
    end: date
    days_with_data: int
    partial: bool
    open: bool


@dataclass(frozen=True, slots=True)
class ProviderFreshness:
    """Per provider in the result: last change and the days its matching data covers."""

    provider_id: str
    last_updated: datetime | None
    first_day: date | None
    last_day: date | None
    days_with_data: int


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    """A billing period in the result: open (may still change), closed or finalised."""

    provider_id: str
    start: datetime
    end: datetime
    status: str


@dataclass(frozen=True, slots=True)
class ExplorerResult:
    """An answered query with its markers."""

    query: ExplorerQuery
    source: str  # "rollup" or "rows"
    aggregate: store.Aggregate
    buckets: list[Bucket]
    periods: list[PeriodStatus]
    providers: list[ProviderFreshness]
    data_completeness: str
    data_last_updated: datetime | None


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _bucket_end(start: date, grain: str) -> date:
    try:
        if grain == "day":
            return start + timedelta(days=1)
        if grain == "week":
            return start + timedelta(days=7)
        return date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    except (OverflowError, ValueError):  # the last bucket of the calendar (year 9999)
        return date.max


def _period_status(
    period: tuple[str, datetime, datetime], now: datetime, close_days: int, finalized: dict[str, set[str]]
) -> str:
    provider, start, end = period
    if month_key(start) in finalized.get(provider, set()):
        return "finalized"
    return "closed" if now >= end + timedelta(days=close_days) else "open"


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day)


def run_query(
    reads: ExplorerReads,
    catalog: Catalog,
    settings: Settings,
    scope: Scope,
    query: ExplorerQuery,
    *,
    now: datetime | None = None,
) -> ExplorerResult:
    """Answer an explorer query for a key's scope; ExplorerError for limits, timeouts and overflows."""
    now = now or _utcnow()
    try:
        answered = reads.explore(
            scope,
            query,
            max_rows=settings.explorer_max_rows,
            timeout_seconds=settings.explorer_timeout_seconds,
        )
    except store.QueryTimeout as exc:
        raise ExplorerError(
            503,
            "query_timeout",
            f"{exc}; narrow the date range or filters (explorer_timeout_seconds)",
        ) from exc
    except store.ValueOutOfRange as exc:
        raise ExplorerError(422, "value_out_of_range", str(exc)) from exc
    result, covered, updates = answered.aggregate, answered.coverage, answered.last_updates
    if query.top is None and result.groups > settings.explorer_max_groups:
        raise ExplorerError(
            400,
            "too_many_groups",
            f"the query has {result.groups} groups, more than explorer_max_groups "
            f"({settings.explorer_max_groups}); set top to keep the largest ones and an Other bucket",
            "top",
        )
    if result.truncated:
        raise ExplorerError(
            400,
            "result_too_large",
            f"the result has more than explorer_max_rows ({settings.explorer_max_rows}) rows; use a coarser "
            "grain, a shorter range, fewer group-by dimensions or top",
            "grain",
        )
    providers = scope_provider_ids(catalog, scope)
    finalized = finalized_periods(catalog, scope.workspace_id, providers)
    cutoff = now - timedelta(days=settings.period_close_days)
    # A period ending at the calendar's end stays open; clamp it so end + close_days exists.
    latest = datetime.max - timedelta(days=settings.period_close_days + 1)
    periods = [(p, s, min(e, latest)) for p, s, e in covered.periods]
    completeness = data_completeness(
        now=now,
        close_days=settings.period_close_days,
        periods=[BillingPeriod(p, s, e) for p, s, e in periods if e > cutoff],
        provider_ids=providers,
        finalized=finalized,
        window_start=_midnight(query.start),
        window_end=_midnight(query.end),
    )
    statuses = [
        PeriodStatus(
            p, s, e, _period_status((p, s, min(e, latest)), now, settings.period_close_days, finalized)
        )
        for p, s, e in covered.periods
    ]
    return ExplorerResult(
        query=query,
        source="rollup" if answered.rollup else "rows",
        aggregate=result,
        buckets=_buckets(query, covered, statuses, now),
        periods=statuses,
        providers=_freshness(covered, updates),
        data_completeness=completeness,
        data_last_updated=max(
            (t for p, t in updates.items() if any(p == q for q, _ in covered.days)), default=None
        ),
    )


def _freshness(covered: store.Coverage, updates: dict[str, datetime]) -> list[ProviderFreshness]:
    days: dict[str, list[date]] = {}
    for provider, day in covered.days:
        days.setdefault(provider, []).append(day)
    return [
        ProviderFreshness(p, updates.get(p), min(ds), max(ds), len(set(ds))) for p, ds in sorted(days.items())
    ]


def _buckets(
    query: ExplorerQuery, covered: store.Coverage, statuses: list[PeriodStatus], now: datetime
) -> list[Bucket]:
    if query.grain == "none":
        return []
    days_in: dict[date, set[date]] = {}
    for _, day in covered.days:
        days_in.setdefault(bucket_start(day, query.grain), set()).add(day)
    today = now.date()
    open_periods = [(s.start.date(), s.end.date()) for s in statuses if s.status == "open"]
    buckets = []
    for start in sorted(days_in):
        end = _bucket_end(start, query.grain)
        cut = (query.start is not None and query.start > start) or (query.end is not None and query.end < end)
        open_period = any(first < end and last > start for first, last in open_periods)
        buckets.append(Bucket(start, end, len(days_in[start]), cut or end > today, open_period))
    return buckets


def bucket_start(day: date, grain: str) -> date:
    """The first day of the bucket holding `day` (weeks start on Monday, UTC)."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def missing_rates_json(result: ExplorerResult) -> dict[str, Any] | None:
    """The rows left out of a converted result for lack of a rate: count, and days per currency."""
    if result.query.currency is None:
        return None
    per_currency: dict[str, list[tuple[date, int]]] = {}
    for currency, day, rows in result.aggregate.missing_rates:
        per_currency.setdefault(currency, []).append((day, rows))
    return {
        "rows": sum(rows for _, _, rows in result.aggregate.missing_rates),
        "currencies": [
            {
                "currency": currency,
                "rows": sum(n for _, n in days),
                "dayCount": len(days),
                "days": [d.isoformat() for d, _ in days[:MAX_MISSING_DAYS]],
            }
            for currency, days in sorted(per_currency.items())
        ],
    }
