"""SQL for anomaly detection and forecasts: daily cost per scope from the warehouse, anomaly records in the
catalog."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from focusbase.analytics.model import ExplorerQuery, Filter
from focusbase.query.filters import Scope
from focusbase.storage.analytics import source_for, where_sql
from focusbase.storage.catalog import Catalog, Connection, utcnow
from focusbase.storage.warehouse import Warehouse

DIMENSIONS: tuple[str, ...] = ("ServiceName", "SubAccountId", "RegionId")
STATES: tuple[str, ...] = ("New", "Acknowledged", "Resolved", "False positive", "Dismissed")


@dataclass(frozen=True, slots=True)
class DailyCell:
    """EffectiveCost of one provider, day, currency and (ServiceName, SubAccountId, RegionId)."""

    provider_id: str
    day: date
    currency: str
    service: str
    account: str
    region: str
    cost: Decimal
    expected: Decimal


def daily_cells(
    warehouse: Warehouse, workspace_id: str, provider_id: str, since: date, until: date
) -> list[DailyCell]:
    """Daily EffectiveCost of a provider in [since, until], grouped by day, currency and the dimensions.

    `expected` is the part that is expected by its nature and never alerts: commitment purchases, taxes and
    charges billed as recurring.
    """
    sql = (
        "SELECT charge_day, coalesce(\"BillingCurrency\", ''), coalesce(\"ServiceName\", ''),"
        " coalesce(\"SubAccountId\", ''), coalesce(\"RegionId\", ''),"
        ' coalesce(sum("EffectiveCost"), 0),'
        " coalesce(sum(CASE WHEN \"ChargeCategory\" IN ('Purchase', 'Tax')"
        ' OR "ChargeFrequency" = \'Recurring\' THEN "EffectiveCost" ELSE 0 END), 0)'
        " FROM live_cost_rows WHERE workspace_id = ? AND provider_id = ?"
        " AND charge_day >= ? AND charge_day <= ?"
        " GROUP BY ALL ORDER BY 1"
    )
    with warehouse.cursor() as cur:
        rows = cur.execute(sql, [workspace_id, provider_id, since, until]).fetchall()
    return [DailyCell(provider_id, r[0], r[1], r[2], r[3], r[4], Decimal(r[5]), Decimal(r[6])) for r in rows]


# Money columns a filtered series can sum; identifiers come from this fixed map, never from input.
COST_METRICS = {m: m for m in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")}


_FILTERED = (
    "SELECT {keys}, coalesce(sum({column}), 0),"
    " coalesce(sum(CASE WHEN \"ChargeCategory\" IN ('Purchase', 'Tax')"
    " OR \"ChargeFrequency\" = 'Recurring' THEN {column} ELSE 0 END), 0)"
    " FROM {table} WHERE {where} GROUP BY ALL ORDER BY 2"
)
_DETAIL = (
    "provider_id, {day}, coalesce(\"BillingCurrency\", ''), coalesce(\"ServiceName\", ''),"
    " coalesce(\"SubAccountId\", ''), coalesce(\"RegionId\", '')"
)
_DAILY = "'', {day}, coalesce(\"BillingCurrency\", ''), '', '', ''"


def filtered_cells(
    warehouse: Warehouse,
    scope: Scope,
    filters: tuple[Filter, ...],
    metric: str,
    since: date,
    until: date,
    currency: str | None = None,
    *,
    detail: bool = True,
) -> list[DailyCell]:
    """Daily `metric` of the rows in `scope` matching explorer `filters` (a saved view's), in [since, until].

    Grouped like `daily_cells` (and by provider), or with `detail` False by day and currency only (the
    provider and dimensions then are ''); `currency` keeps one BillingCurrency only. Reads the rollup when
    it holds every filtered dimension, else the live rows.
    """
    column = '"' + COST_METRICS[metric] + '"'
    query = ExplorerQuery(metric=metric, filters=filters, start=since, end=until + timedelta(days=1))
    source = source_for(query)
    where, params = where_sql(scope, query, source)
    if currency is not None:
        where += ' AND "BillingCurrency" = ?'
        params.append(currency)
    # Identifiers come from source_for and COST_METRICS; values are bound.
    keys = (_DETAIL if detail else _DAILY).format(day=source.day)
    sql = _FILTERED.format(keys=keys, column=column, table=source.table, where=where)
    with warehouse.cursor() as cur:
        rows = cur.execute(sql, params).fetchall()
    return [DailyCell(str(r[0]), r[1], r[2], r[3], r[4], r[5], Decimal(r[6]), Decimal(r[7])) for r in rows]


def provider_ids_with_data(warehouse: Warehouse, workspace_id: str) -> list[str]:
    """Providers of a workspace that have live cost rows."""
    with warehouse.cursor() as cur:
        rows = cur.execute(
            "SELECT DISTINCT provider_id FROM live_cost_rows WHERE workspace_id = ? ORDER BY 1",
            [workspace_id],
        ).fetchall()
    return [r[0] for r in rows]


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """One stored anomaly."""

    id: str
    workspace_id: str
    provider_id: str
    dimension: str
    value: str
    currency: str
    start_date: str
    end_date: str
    detected_on: str
    kind: str
    severity: str
    direction: int
    actual: str
    expected: str
    impact: str
    impact_percentage: str | None
    max_z: float
    ongoing: int
    contributors: str
    state: str
    state_changed_by: str | None
    state_changed_at: str | None
    note: str | None
    created_at: str
    updated_at: str
    scope_providers: str | None  # JSON list: the providers of a view's cross-provider total (else NULL)

    @property
    def provider_ids(self) -> list[str]:
        """The providers whose spend the anomaly's series holds."""
        return json.loads(self.scope_providers) if self.scope_providers else [self.provider_id]

    def visible_to(self, provider_ids: frozenset[str] | None) -> bool:
        """Whether a key limited to `provider_ids` (None: every provider) may see it."""
        return provider_ids is None or set(self.provider_ids) <= provider_ids


_COLUMNS = ", ".join(AnomalyRecord.__slots__)
_INSERT = (
    f"INSERT INTO anomalies ({_COLUMNS})"  # noqa: S608 (fixed column names)
    f" VALUES ({', '.join('?' for _ in AnomalyRecord.__slots__)})"
)


def _record(row: Any) -> AnomalyRecord:
    return AnomalyRecord(**{name: row[name] for name in AnomalyRecord.__slots__})


@dataclass(frozen=True, slots=True)
class Detected:
    """What the detector found, to be stored (or to update the stored event with the same start)."""

    provider_id: str
    dimension: str
    value: str
    currency: str
    start_date: str
    end_date: str
    detected_on: str
    kind: str
    severity: str
    direction: int
    actual: str
    expected: str
    impact: str
    impact_percentage: str | None
    max_z: float
    ongoing: bool
    contributors: list[dict[str, object]]
    scope_providers: list[str] | None = None  # a view's total across providers: the providers in it


def upsert_anomalies(
    catalog: Catalog,
    workspace_id: str,
    found: list[Detected],
    on_created: Callable[[Connection, str, Detected], object] | None = None,
) -> int:
    """Insert new events and refresh known ones (same scope, currency and start); returns how many are new.

    A stored event keeps its state: a restated day updates the event, it never duplicates it. `on_created`
    runs for each new event inside the same catalog transaction (the notification outbox writes there, so an
    event and its notification commit together).
    """
    created = 0
    now = utcnow()
    with catalog.transaction() as tx:
        for item in found:
            providers = None if item.scope_providers is None else json.dumps(sorted(item.scope_providers))
            values = (
                item.end_date,
                item.kind,
                item.severity,
                item.actual,
                item.expected,
                item.impact,
                item.impact_percentage,
                item.max_z,
                int(item.ongoing),
                json.dumps(item.contributors),
                now,
                providers,
            )
            cur = tx.execute(
                "UPDATE anomalies SET end_date = ?, kind = ?, severity = ?, actual = ?, expected = ?,"
                " impact = ?, impact_percentage = ?, max_z = ?, ongoing = ?, contributors = ?,"
                " updated_at = ?, scope_providers = ?"
                " WHERE workspace_id = ? AND provider_id = ? AND dimension = ? AND value = ? AND currency = ?"
                " AND start_date = ?",
                (
                    *values,
                    workspace_id,
                    item.provider_id,
                    item.dimension,
                    item.value,
                    item.currency,
                    item.start_date,
                ),
            )
            if cur.rowcount:
                continue
            anomaly_id = "ano_" + secrets.token_hex(8)
            tx.execute(
                _INSERT,
                (
                    anomaly_id,
                    workspace_id,
                    item.provider_id,
                    item.dimension,
                    item.value,
                    item.currency,
                    item.start_date,
                    item.end_date,
                    item.detected_on,
                    item.kind,
                    item.severity,
                    item.direction,
                    item.actual,
                    item.expected,
                    item.impact,
                    item.impact_percentage,
                    item.max_z,
                    int(item.ongoing),
                    json.dumps(item.contributors),
                    "New",
                    None,
                    None,
                    None,
                    now,
                    now,
                    providers,
                ),
            )
            if on_created is not None:
                on_created(tx, anomaly_id, item)
            created += 1
    return created


# Placeholders and the dialect's JSON array expansion only are formatted in; the ids are bound.
_LIMITED = (
    "(provider_id IN ({marks}) OR (provider_id = '' AND scope_providers IS NOT NULL AND NOT EXISTS"
    " (SELECT 1 FROM {elements} WHERE p.value NOT IN ({marks}))))"
)
_ELEMENTS = {
    "sqlite": "json_each(anomalies.scope_providers) AS p",
    "postgresql": "json_array_elements_text(anomalies.scope_providers::json) AS p(value)",
}


@dataclass(frozen=True, slots=True)
class AnomalyQuery:
    """Filters of the anomaly list; provider_ids None means every provider of the workspace."""

    workspace_id: str
    provider_ids: frozenset[str] | None = None
    provider_id: str | None = None
    dimension: str | None = None
    value: str | None = None
    states: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    currency: str | None = None
    start_from: str | None = None
    start_to: str | None = None
    after: tuple[str, str] | None = None  # keyset: (start_date, id) of the last row of the previous page


def list_anomalies(catalog: Catalog, query: AnomalyQuery, limit: int) -> list[AnomalyRecord]:
    """Anomalies matching the query, newest start first, at most `limit`."""
    clauses, params = ["workspace_id = ?"], [query.workspace_id]
    if query.provider_ids is not None:
        ids = sorted(query.provider_ids)
        marks = ", ".join("?" for _ in ids)
        # A view's total across providers (provider_id '') only when the key sees all of its providers.
        limited = _LIMITED.format(marks=marks, elements=_ELEMENTS[catalog.dialect])
        clauses.append(limited if ids else "1 = 0")
        params.extend(ids + ids)
    for column, given in (
        ("provider_id", query.provider_id),
        ("dimension", query.dimension),
        ("value", query.value),
        ("currency", query.currency),
    ):
        if given is not None:
            clauses.append(f"{column} = ?")
            params.append(given)
    for column, options in (("state", query.states), ("severity", query.severities)):
        if options:
            clauses.append(f"{column} IN (" + ", ".join("?" for _ in options) + ")")
            params.extend(options)
    if query.start_from is not None:
        clauses.append("start_date >= ?")
        params.append(query.start_from)
    if query.start_to is not None:
        clauses.append("start_date <= ?")
        params.append(query.start_to)
    if query.after is not None:
        clauses.append("(start_date < ? OR (start_date = ? AND id < ?))")
        params.extend([query.after[0], query.after[0], query.after[1]])
    sql = (
        f"SELECT {_COLUMNS} FROM anomalies WHERE {' AND '.join(clauses)}"  # noqa: S608 (fixed names only)
        " ORDER BY start_date DESC, id DESC LIMIT ?"
    )
    with catalog.read() as conn:
        rows = conn.execute(sql, (*params, limit)).fetchall()
    return [_record(row) for row in rows]


def get_anomaly(catalog: Catalog, workspace_id: str, anomaly_id: str) -> AnomalyRecord | None:
    """One anomaly of a workspace."""
    with catalog.read() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM anomalies WHERE workspace_id = ? AND id = ?",  # noqa: S608
            (workspace_id, anomaly_id),
        ).fetchone()
    return _record(row) if row is not None else None


def set_state(
    catalog: Catalog, workspace_id: str, anomaly_id: str, state: str, key_id: str, note: str | None
) -> AnomalyRecord | None:
    """Record a state change with who made it and when."""
    now = utcnow()
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE anomalies SET state = ?, state_changed_by = ?, state_changed_at = ?,"
            " note = coalesce(?, note), updated_at = ? WHERE workspace_id = ? AND id = ?",
            (state, key_id, now, note, now, workspace_id, anomaly_id),
        )
    return get_anomaly(catalog, workspace_id, anomaly_id)


def false_positive_starts(
    catalog: Catalog, workspace_id: str, provider_id: str, dimension: str, value: str, currency: str
) -> list[str]:
    """Start days of the scope's events marked False positive."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT start_date FROM anomalies WHERE workspace_id = ? AND provider_id = ? AND dimension = ?"
            " AND value = ? AND currency = ? AND state = 'False positive'",
            (workspace_id, provider_id, dimension, value, currency),
        ).fetchall()
    return [row[0] for row in rows]


# ---------------------------------------------------------------------------------- the detection queue

DetectionJob = tuple[str, str, str]  # (workspace, "provider" or "view", id)


def queue_detection(catalog: Catalog, job: DetectionJob) -> str:
    """Record that `job` must run (again); returns the submission's token."""
    token = secrets.token_hex(8)
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO anomaly_detection_queue (workspace_id, kind, scope_id, token, queued_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace_id, kind, scope_id)"
            " DO UPDATE SET token = excluded.token, queued_at = excluded.queued_at",
            (*job, token, utcnow()),
        )
    return token


def queued_detections(catalog: Catalog) -> list[tuple[DetectionJob, str]]:
    """Every job waiting to run, oldest submission first, with its token."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT workspace_id, kind, scope_id, token FROM anomaly_detection_queue ORDER BY queued_at"
        ).fetchall()
    return [((row[0], row[1], row[2]), row[3]) for row in rows]


def detection_done(catalog: Catalog, job: DetectionJob, token: str) -> None:
    """Forget `job` if nobody queued it again since the submission `token` (a later one still runs)."""
    with catalog.transaction() as tx:
        tx.execute(
            "DELETE FROM anomaly_detection_queue WHERE workspace_id = ? AND kind = ? AND scope_id = ?"
            " AND token = ?",
            (*job, token),
        )
