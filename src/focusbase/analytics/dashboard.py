"""Dashboard figures: month to date against the same days of last month, the last 30 days by day, top
services and providers, the biggest movers and each provider's data freshness, all per BillingCurrency."""

from __future__ import annotations

import decimal
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from focusbase.analytics.explorer import ExplorerError
from focusbase.analytics.model import Dimension, ExplorerQuery, QueryError
from focusbase.analytics.results import exact, plain
from focusbase.config import Settings
from focusbase.query.filters import Scope
from focusbase.storage import Catalog
from focusbase.storage import analytics as store
from focusbase.storage.explorer_reads import Exploration, ExplorerReads
from focusbase.storage.insight_reads import InsightReads
from focusbase.tenancy.providers import list_providers

COST_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
TOP = 10
MOVERS = 5
_EXACT = decimal.Context(prec=80)  # wide enough that adding or subtracting two DECIMAL(38, 12) is exact
SERVICE = Dimension("column", "ServiceName")
PROVIDER = Dimension("provider", "provider")


@dataclass(frozen=True, slots=True)
class Windows:
    """The dashboard's date windows ([start, end) charge days)."""

    as_of: date
    month_start: date
    month_end: date
    previous_start: date
    previous_end: date
    last30_start: date


def windows(as_of: date) -> Windows:
    """Month to date (through `as_of`), the same days of last month (capped at its end), the last 30 days."""
    month_start = as_of.replace(day=1)
    previous_start = (month_start - timedelta(days=1)).replace(day=1)
    previous_end = min(previous_start + (as_of - month_start) + timedelta(days=1), month_start)
    return Windows(
        as_of,
        month_start,
        as_of + timedelta(days=1),
        previous_start,
        previous_end,
        as_of - timedelta(days=29),
    )


def _totals(agg: store.Aggregate) -> dict[str, Decimal]:
    return {t.currency or "": Decimal(exact(t.value)) for t in agg.totals}


def _ratio(change: Decimal, base: Decimal) -> str | None:
    if base == 0:
        return None
    return str((change / base).quantize(Decimal("0.000001")))


def build_dashboard(
    explorer: ExplorerReads,
    insights: InsightReads,
    catalog: Catalog,
    settings: Settings,
    scope: Scope,
    *,
    metric: str = "EffectiveCost",
    as_of: date | None = None,
) -> dict[str, Any]:
    """The dashboard's figures for a key's scope, as JSON-ready camelCase data (money as exact strings)."""
    if metric not in COST_METRICS:
        raise QueryError("metric", f"{metric!r} is not one of {', '.join(COST_METRICS)}")
    try:
        w = windows(as_of or datetime.now(UTC).date())
    except (OverflowError, ValueError) as exc:  # a day whose windows leave the calendar (years 1 and 9999)
        raise QueryError(
            "asOf", f"{as_of} is out of range; its month and the 30 days before must exist"
        ) from exc
    timeout = settings.explorer_timeout_seconds
    deadline = time.monotonic() + timeout  # one time limit for every read of the dashboard

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise store.QueryTimeout(f"the query ran longer than {timeout:g} s")
        return remaining

    def explore(
        start: date, end: date, grain: str, group: tuple[Dimension, ...] = (), top: int | None = None
    ) -> Exploration:
        # Every dashboard query is one the daily rollup answers (a cost metric, services and providers).
        query = ExplorerQuery(metric=metric, grain=grain, group_by=group, start=start, end=end, top=top)
        return explorer.explore(scope, query, max_rows=settings.explorer_max_rows, timeout_seconds=left())

    top_n = settings.explorer_max_groups
    try:
        mtd = explore(w.month_start, w.month_end, "none").aggregate
        prev = explore(w.previous_start, w.previous_end, "none").aggregate
        daily = explore(w.last30_start, w.month_end, "day").aggregate
        services = explore(w.last30_start, w.month_end, "none", (SERVICE,), TOP).aggregate
        providers = explore(w.last30_start, w.month_end, "none", (PROVIDER,), TOP).aggregate
        now_by_service = explore(w.month_start, w.month_end, "none", (SERVICE,), top_n).aggregate
        last = explore(w.previous_start, w.previous_end, "none", (SERVICE,), top_n)
        then_by_service, updates = last.aggregate, last.last_updates
        days = insights.provider_days(scope, timeout_seconds=left())
    except store.QueryTimeout as exc:
        raise ExplorerError(503, "query_timeout", str(exc)) from exc
    except store.ValueOutOfRange as exc:
        raise ExplorerError(422, "value_out_of_range", str(exc)) from exc
    names = {p.id: p.name for p in list_providers(catalog, scope.workspace_id, scope.provider_ids)}
    mtd_totals, prev_totals = _totals(mtd), _totals(prev)
    comparison = []
    for currency in sorted(set(mtd_totals) | set(prev_totals)):
        current, before = mtd_totals.get(currency, Decimal(0)), prev_totals.get(currency, Decimal(0))
        change = _EXACT.subtract(current, before)
        comparison.append(
            {
                "currency": currency,
                "monthToDate": plain(current),
                "sameDaysLastMonth": plain(before),
                "change": plain(change),
                "changeRatio": _ratio(change, before),
            }
        )
    return {
        "metric": metric,
        "asOf": w.as_of.isoformat(),
        "windows": {
            "monthToDate": [w.month_start.isoformat(), w.month_end.isoformat()],
            "sameDaysLastMonth": [w.previous_start.isoformat(), w.previous_end.isoformat()],
            "last30Days": [w.last30_start.isoformat(), w.month_end.isoformat()],
        },
        "monthToDate": comparison,
        "last30Days": [
            {
                "currency": r.currency,
                "day": r.period.isoformat() if r.period else None,
                "value": exact(r.value),
            }
            for r in daily.rows
        ],
        "topServices": _top(services, "serviceName", None),
        "topProviders": _top(providers, "providerId", names),
        "biggestMovers": _movers(now_by_service, then_by_service),
        "freshness": [
            {
                "providerId": pid,
                "name": name,
                "lastUpdated": updates[pid].strftime("%Y-%m-%dT%H:%M:%SZ") if pid in updates else None,
                "firstDay": days[pid][0].isoformat() if pid in days else None,
                "lastDay": days[pid][1].isoformat() if pid in days else None,
                "daysWithData": days[pid][2] if pid in days else 0,
                "daysBehind": (w.as_of - days[pid][1]).days if pid in days else None,
            }
            for pid, name in sorted(names.items())
        ],
    }


def _top(agg: store.Aggregate, key: str, names: dict[str, str] | None) -> list[dict[str, Any]]:
    out = []
    for r in agg.rows:
        entry: dict[str, Any] = {
            "currency": r.currency,
            key: r.group[0],
            "other": r.other,
            "value": exact(r.value),
        }
        if names is not None:
            entry["name"] = names.get(r.group[0] or "") if not r.other else None
        out.append(entry)
    return out


def _movers(now: store.Aggregate, then: store.Aggregate) -> list[dict[str, Any]]:
    current = {(r.currency, r.group[0]): Decimal(exact(r.value)) for r in now.rows if not r.other}
    before = {(r.currency, r.group[0]): Decimal(exact(r.value)) for r in then.rows if not r.other}
    moves = []
    for currency, service in set(current) | set(before):
        a, b = current.get((currency, service), Decimal(0)), before.get((currency, service), Decimal(0))
        change = _EXACT.subtract(a, b)
        if change != 0:
            moves.append((currency or "", service, a, b, change))
    moves.sort(key=lambda m: (m[0], -abs(m[4]), m[1] or ""))
    out: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for currency, service, a, b, change in moves:
        if counts.get(currency, 0) >= MOVERS:
            continue
        counts[currency] = counts.get(currency, 0) + 1
        out.append(
            {
                "currency": currency,
                "serviceName": service,
                "monthToDate": plain(a),
                "sameDaysLastMonth": plain(b),
                "change": plain(change),
                "changeRatio": _ratio(change, b),
            }
        )
    return out
