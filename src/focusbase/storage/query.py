"""SQL for the read side: WHERE clauses from filters, and keyset pages over the live_* views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import orjson

from focusbase.query.filters import ContractCommitmentFilters, CostFilters, Scope
from focusbase.storage.catalog import Catalog

Params = list[object]


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier (only ever used with names from our own column catalogue)."""
    return '"' + identifier.replace('"', '""') + '"'


def scope_where(scope: Scope) -> tuple[str, Params]:
    """Workspace (and provider) restriction of a key, as SQL conditions and parameters."""
    clauses = ["workspace_id = ?"]
    params: Params = [scope.workspace_id]
    if scope.provider_ids is not None:
        if not scope.provider_ids:
            clauses.append("FALSE")
        else:
            ids = sorted(scope.provider_ids)
            clauses.append("provider_id IN (" + ", ".join("?" for _ in ids) + ")")
            params.extend(ids)
    return " AND ".join(clauses), params


def cost_where(filters: CostFilters) -> tuple[str, Params]:
    """A parameterised WHERE body over live_cost_rows for these filters (scope always included)."""
    sql, params = scope_where(filters.scope)
    clauses = [sql]
    if filters.billing_period_start is not None:
        clauses.append('"BillingPeriodStart" >= ?')
        params.append(filters.billing_period_start)
    if filters.billing_period_end is not None:
        clauses.append('"BillingPeriodStart" < ?')
        params.append(filters.billing_period_end)
    for column, value in filters.string_filters().items():
        clauses.append(f"{quote(column)} = ?")
        params.append(value)
    return " AND ".join(clauses), params


def contract_commitment_where(filters: ContractCommitmentFilters) -> tuple[str, Params]:
    """A parameterised WHERE body over live_contract_commitment_rows for these filters."""
    sql, params = scope_where(filters.scope)
    clauses = [sql]
    if filters.commitment_discount_id is not None:
        clauses.append('"ContractCommitmentId" = ?')
        params.append(filters.commitment_discount_id)
    if filters.billing_account_id is not None:
        clauses.append("json_extract_string(x_columns, '$.x_BillingAccountId') = ?")
        params.append(filters.billing_account_id)
    return " AND ".join(clauses), params


# ---------------------------------------------------------------------------------------------------------
# Records: DuckDB builds each row's JSON object, so DECIMAL values are written as exact number literals
# (never through a float; trailing zeros trimmed) and timestamps as YYYY-MM-DDTHH:MM:SSZ.


@dataclass(frozen=True, slots=True)
class Field:
    """One property of a served record: its name, the stored column (x_ names live in x_columns), type."""

    prop: str
    source: str
    data_type: str  # FOCUS data type: String, Decimal, Date/Time, JSON


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _value_sql(field: Field) -> str:
    """SQL for one property's JSON text (never NULL: a missing value is the literal null)."""
    if field.source.startswith("x_"):
        expr = f"json_extract_string(x_columns, {_literal('$.' + field.source)})"
        if field.data_type == "Decimal":
            expr = f"TRY_CAST({expr} AS DECIMAL(38, 12))"
    else:
        expr = quote(field.source)
    if field.data_type == "Decimal":
        # DECIMAL -> its exact text, trailing zeros trimmed; JSON numbers are never re-parsed through a float.
        text = f"rtrim(rtrim(CAST({expr} AS VARCHAR), '0'), '.')"
    elif field.data_type == "Date/Time":
        text = f"'\"' || strftime({expr}, '%Y-%m-%dT%H:%M:%SZ') || '\"'"
    elif field.data_type == "JSON":
        text = f"CAST({expr} AS VARCHAR)"  # stored JSON text, served as stored
    else:
        text = f"CAST(to_json({expr}) AS VARCHAR)"  # a JSON string literal, escaped by DuckDB
    return f"coalesce({text}, 'null')"


def _record_columns(fields: tuple[Field, ...]) -> str:
    """Two projected columns: _b = the record's fields as JSON object text, _x = its other x_ columns."""
    parts = []
    for i, f in enumerate(fields):
        key = ("{" if i == 0 else ",") + orjson.dumps(f.prop).decode() + ":"
        parts.extend([_literal(key), _value_sql(f)])
    parts.append("'}'")
    served_custom = [f.source for f in fields if f.source.startswith("x_")]
    if served_custom:
        drop = "{" + ",".join(f'"{key}":null' for key in served_custom) + "}"
        extra = (
            f"CASE WHEN x_columns IS NULL THEN NULL ELSE json_merge_patch(x_columns, {_literal(drop)}) END"
        )
    else:
        extra = "x_columns"
    return f"concat({', '.join(parts)}) AS _b, CAST({extra} AS VARCHAR) AS _x"


# The record with its x_ columns spliced in as top-level properties (x_ names never clash with FOCUS ones).
_MERGED = (
    "CASE WHEN _x IS NULL OR _x IN ('{}', 'null') THEN _b "
    "ELSE substr(_b, 1, length(_b) - 1) || ',' || substr(_x, 2) END"
)


@dataclass(frozen=True, slots=True)
class Page:
    """One keyset page: records as JSON array text, their count, the last row_seq, whether more follow."""

    records_json: str
    count: int
    last_seq: int | None
    has_more: bool


def read_page(
    cur: duckdb.DuckDBPyConnection,
    view: str,
    where: tuple[str, Params],
    fields: tuple[Field, ...],
    *,
    after_seq: int,
    page_size: int,
) -> Page:
    """The next `page_size` rows of `view` matching `where` with row_seq > after_seq, in row_seq order.

    Two steps (call inside one transaction): find the page's row_seq values reading only the filter columns,
    then build JSON for the rows matching `where` between the page's first and last row_seq, which are
    exactly the page's rows. Zone maps on row_seq keep both steps as cheap for page 500 as for page 1.
    """
    if view not in _VIEWS:
        raise ValueError(f"not a readable view: {view}")
    where_sql, params = where
    # Identifiers come from our catalogue and _VIEWS; every value is a parameter.
    seqs = [
        int(r[0])
        for r in cur.execute(
            f"SELECT row_seq FROM {view} WHERE {where_sql} AND row_seq > ? "  # noqa: S608
            "ORDER BY row_seq LIMIT ?",
            [*params, after_seq, page_size + 1],
        ).fetchall()
    ]
    has_more = len(seqs) > page_size
    seqs = seqs[:page_size]
    if not seqs:
        return Page(records_json="[]", count=0, last_seq=None, has_more=False)
    row = cur.execute(
        f"SELECT count(*), string_agg({_MERGED}, ',' ORDER BY row_seq) FROM ("  # noqa: S608
        f"SELECT row_seq, {_record_columns(fields)} FROM {view} "
        f"WHERE {where_sql} AND row_seq BETWEEN ? AND ?)",
        [*params, seqs[0], seqs[-1]],
    ).fetchone()
    assert row is not None
    count, body = row
    if int(count) != len(seqs):  # pragma: no cover - both steps read one snapshot
        raise RuntimeError("page rows changed between the two reads of one snapshot")
    return Page(records_json="[" + body + "]", count=len(seqs), last_seq=seqs[-1], has_more=has_more)


_VIEWS = {"live_cost_rows": "cost_rows", "live_contract_commitment_rows": "contract_commitment_rows"}


# ---------------------------------------------------------------------------------------------------------
# Summaries: totalRecords, dataLastUpdated and the billing periods in scope, in one pass over the rows.


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    """A provider's billing period present in a result."""

    provider_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Summary:
    """What a result holds overall."""

    total: int
    last_updated: datetime | None
    periods: tuple[BillingPeriod, ...]


def summarize(
    cur: duckdb.DuckDBPyConnection,
    view: str,
    where: tuple[str, Params],
    *,
    periods_ending_after: datetime | None = None,
) -> Summary:
    """Count the live rows matching `where` and find the last change that touched them: the commit of a
    batch holding them or superseding earlier matching rows, or the revert of a batch that held some.
    With `periods_ending_after`, also list their billing periods ending after it (older ones are closed)."""
    table = _VIEWS.get(view)
    if table is None:
        raise ValueError(f"not a readable view: {view}")
    where_sql, params = where
    period_sql = "NULL"
    period_params: Params = []
    if periods_ending_after is not None:
        period = "{'p': provider_id, 's': \"BillingPeriodStart\", 'e': \"BillingPeriodEnd\"}"
        period_sql = (
            f"(SELECT list(DISTINCT {period}) FROM {view} WHERE {where_sql} "  # noqa: S608
            'AND "BillingPeriodEnd" > ? AND "BillingPeriodStart" IS NOT NULL)'
        )
        period_params = [*params, periods_ending_after]
    # Identifiers come from _VIEWS and our catalogue; values are parameters.
    sql = (
        f"WITH b AS (SELECT batch_id, count(*) AS n FROM {view} WHERE {where_sql} GROUP BY batch_id), "  # noqa: S608
        f"s AS (SELECT DISTINCT superseded_by AS id, batch_id FROM {table} WHERE {where_sql} "
        "AND superseded_by IS NOT NULL) "
        "SELECT (SELECT coalesce(sum(n), 0) FROM b), "
        "greatest((SELECT max(committed_at) FROM batches "
        "WHERE id IN (SELECT batch_id FROM b) OR id IN (SELECT id FROM s)), "
        # rows retired by a revert carry a marker, not a batch id: their batch's updated_at is the revert
        "(SELECT max(updated_at) FROM batches WHERE id IN "
        "(SELECT batch_id FROM s WHERE id NOT IN (SELECT id FROM batches)))), "
        f"{period_sql}"
    )
    row = cur.execute(sql, [*params, *params, *period_params]).fetchone()
    assert row is not None
    total, last, found = row
    found_periods = tuple(
        sorted(
            (BillingPeriod(p["p"], p["s"], p["e"]) for p in (found or [])),
            key=lambda bp: (bp.provider_id, bp.start, bp.end),
        )
    )
    return Summary(total=int(total), last_updated=last, periods=found_periods)


def custom_column_names(cur: duckdb.DuckDBPyConnection, view: str, scope: Scope) -> list[str]:
    """The distinct x_ column names present in the live rows a scope can see."""
    if view not in _VIEWS:
        raise ValueError(f"not a readable view: {view}")
    where_sql, params = scope_where(scope)
    sql = (
        f"SELECT DISTINCT k FROM (SELECT unnest(json_keys(x_columns)) AS k FROM {view} "  # noqa: S608
        f"WHERE {where_sql} AND x_columns IS NOT NULL) ORDER BY k"
    )
    return [str(r[0]) for r in cur.execute(sql, params).fetchall()]


# ---------------------------------------------------------------------------------------------------------
# Catalog reads used by dataCompleteness.


def scope_provider_ids(catalog: Catalog, scope: Scope) -> list[str]:
    """The providers (not deleted) of the scope's workspace that the scope may see."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT id FROM providers WHERE workspace_id = ? AND deleted_at IS NULL ORDER BY id",
            (scope.workspace_id,),
        ).fetchall()
    ids = [str(r[0]) for r in rows]
    return ids if scope.provider_ids is None else [i for i in ids if i in scope.provider_ids]


def data_version(cur: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    """A cheap fingerprint that changes whenever stored rows or batches change (commit, revert, delete)."""
    row = cur.execute(
        "SELECT (SELECT count(*) FROM cost_rows), (SELECT count(*) FROM contract_commitment_rows), "
        "count(*), max(updated_at), max(committed_at) FROM batches"
    ).fetchone()
    assert row is not None
    return tuple(row)
