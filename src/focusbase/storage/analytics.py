# ruff: noqa: S608
# (Every identifier below comes from the FOCUS catalogue allow-list or our schema; values are bound.)
"""SQL for the explorer: one grouped, ranked aggregate over the daily rollup or the live rows.

Identifiers come from the FOCUS catalogue allow-list (analytics.model) or our own schema; tag keys, custom
column names and every filter value are bound parameters. Sums are DECIMAL and leave DuckDB as text, so no
value ever passes through a float.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from focusbase.analytics.model import Dimension, ExplorerQuery, dimension_columns
from focusbase.query.filters import Scope
from focusbase.storage import rollups
from focusbase.storage.query import Params, quote, scope_where


class QueryTimeout(RuntimeError):
    """The statement ran longer than the allowed time and was interrupted."""


class ValueOutOfRange(RuntimeError):
    """A sum or a conversion does not fit DECIMAL(38, 12)."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where an aggregate reads: the rollup (day, row_count) or the live rows (charge_day, one per row).

    `count` is the per-row count summed into a cell's row count.
    """

    table: str
    day: str
    count: str

    @property
    def is_rollup(self) -> bool:
        return self.table == rollups.ROLLUP_TABLE


ROLLUP = Source(rollups.ROLLUP_TABLE, "day", "row_count")
ROWS = Source("live_cost_rows", "charge_day", "1")


def rollup_answers(query: ExplorerQuery) -> bool:
    """Whether the rollup holds every dimension and the metric the query reads."""
    kept = set(rollups.DIMENSIONS)
    needed = [d for d in query.dimensions if d.kind != "provider"]
    unit = query.unit_column
    return (
        query.metric in rollups.MEASURES
        and all(d.kind == "column" and d.name in kept for d in needed)
        and (unit is None or unit in kept)
    )


def source_for(query: ExplorerQuery) -> Source:
    """The rollup when it can answer the query, else the live rows."""
    return ROLLUP if rollup_answers(query) else ROWS


def dimension_sql(dim: Dimension, params: Params) -> str:
    """SQL for a dimension's value (NULL when absent); appends any bound parameter."""
    if dim.kind == "provider":
        return "provider_id"
    if dim.kind == "column":
        if dim.name not in dimension_columns():  # the model only lets catalogue names through
            raise ValueError(f"not a dimension column: {dim.name}")
        return quote(dim.name)
    params.append(_path(dim))
    return f"json_extract_string({_json_column(dim)}, ?)"


def _path(dim: Dimension) -> str:
    # The model admits no quote, backslash or control character in these names, so the path needs no escape.
    return '$."' + dim.name + '"'


def _json_column(dim: Dimension) -> str:
    return '"Tags"' if dim.kind == "tag" else "x_columns"


def _present_sql(dim: Dimension, params: Params) -> str:
    # A tag or custom column whose value is JSON null counts as absent, like a NULL column.
    return f"{dimension_sql(dim, params)} IS NOT NULL"


def where_sql(scope: Scope, query: ExplorerQuery, source: Source) -> tuple[str, Params]:
    """Scope, filters and the day range as one parameterised condition."""
    sql, params = scope_where(scope)
    clauses = [sql]
    if query.start is not None:
        clauses.append(f"{source.day} >= ?")
        params.append(query.start)
    if query.end is not None:
        clauses.append(f"{source.day} < ?")
        params.append(query.end)
    for f in query.filters:
        if f.op == "present":
            clauses.append(_present_sql(f.dimension, params))
        elif f.op == "absent":
            clauses.append("NOT (" + _present_sql(f.dimension, params) + ")")
        else:
            # Parameters are appended in the order their placeholders appear in the clause.
            expr_params: Params = []
            expr = dimension_sql(f.dimension, expr_params)
            if f.op == "equals":
                clauses.append(f"{expr} = ?")
                params.extend([*expr_params, f.values[0]])
            elif f.op == "in":
                clauses.append(f"list_contains(?, {expr})")
                params.extend([list(f.values), *expr_params])
            elif f.op == "not_in":  # a missing value is "not in" the list
                clauses.append(f"NOT coalesce(list_contains(?, {expr}), FALSE)")
                params.extend([list(f.values), *expr_params])
            else:  # contains: case-insensitive substring
                clauses.append(f"contains(lower({expr}), lower(?))")
                params.extend([*expr_params, f.values[0]])
    return " AND ".join(clauses), params


_BUCKETS = {
    "day": "{d}",
    "week": "CAST(date_trunc('week', {d}) AS DATE)",
    "month": "CAST(date_trunc('month', {d}) AS DATE)",
    "none": "CAST(NULL AS DATE)",
}


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One cell of a result: split (currency, unit), time bucket, group values, Other flag, sums."""

    currency: str | None
    unit: str | None
    period: date | None
    group: tuple[str | None, ...]
    other: bool
    value: str | None
    rows: int


@dataclass(frozen=True, slots=True)
class Aggregate:
    """An explorer aggregate: its cells, totals per split, the most groups in one split, missing rates."""

    rows: list[ResultRow]
    totals: list[ResultRow]
    groups: int
    truncated: bool
    missing_rates: list[tuple[str, date, int]]  # (currency, day, rows) lacking a rate (FX only)


def _order(sort: str, n: int) -> str:
    keys = ", ".join(f"g{i} ASC NULLS LAST" for i in range(n))
    if sort == "group":
        return keys or "1"
    direction = "DESC" if sort == "value_desc" else "ASC"
    return f"t {direction} NULLS LAST" + (", " + keys if keys else "")


def aggregate(
    cur: duckdb.DuckDBPyConnection,
    scope: Scope,
    query: ExplorerQuery,
    source: Source,
    *,
    max_rows: int,
) -> Aggregate:
    """Run the query's aggregate: split by BillingCurrency (and unit), bucketed, grouped, top-N + Other."""
    params: Params = []
    groups = [dimension_sql(d, params) for d in query.group_by]
    group_params = list(params)
    where, where_params = where_sql(scope, query, source)
    n = len(groups)
    gcols = [f"g{i}" for i in range(n)]
    unit = quote(query.unit_column) if query.unit_column else "CAST(NULL AS VARCHAR)"
    metric = quote(query.metric)
    gnames = "".join(f", g{i}" for i in range(n))
    # Parameterised expressions are computed once in an inner SELECT and grouped by name outside, so each
    # bound parameter appears exactly once in the statement.
    inner = (
        f'SELECT "BillingCurrency" AS c, {unit} AS unit, {source.day} AS day'
        + "".join(f", {expr} AS g{i}" for i, expr in enumerate(groups))
        + f", {metric} AS m, {source.count} AS k FROM {source.table} WHERE {where}"
    )
    if query.currency is None:
        base = (
            f"SELECT c AS cur, unit, {_BUCKETS[query.grain].format(d='day')} AS bucket{gnames}, "
            f"sum(m) AS v, sum(k) AS n FROM ({inner}) GROUP BY cur, unit, bucket{gnames}"
        )
        select_params: Params = [*group_params, *where_params]
        fx = ""
    else:
        # Converted per (currency, day): a day's rate applies to that day's rows; rows without one are left
        # out of the converted sums and reported.
        daily = f"SELECT c, day{gnames}, sum(m) AS v, sum(k) AS n FROM ({inner}) GROUP BY c, day{gnames}"
        fx = (
            f"daily AS ({daily}), conv AS (SELECT daily.*, "
            "CASE WHEN c = ? THEN v ELSE CAST(v * r.rate AS DECIMAL(38, 12)) END AS cv, "
            "(c = ? OR r.rate IS NOT NULL) AS ok FROM daily LEFT JOIN fx_rates r "
            "ON r.workspace_id = ? AND r.day = daily.day AND r.from_currency = daily.c "
            "AND r.to_currency = ?), "
        )
        select_params = [*group_params, *where_params, query.currency, query.currency, scope.workspace_id]
        select_params.append(query.currency)
        base = (
            f"SELECT CAST(? AS VARCHAR) AS cur, CAST(NULL AS VARCHAR) AS unit, "
            f"{_BUCKETS[query.grain].format(d='day')} AS bucket{gnames}, sum(cv) AS v, sum(n) AS n "
            f"FROM conv WHERE ok GROUP BY cur, unit, bucket{gnames}"
        )
        select_params.append(query.currency)
    gkeys = "".join(f", {g}" for g in gcols)
    join = " AND ".join(["b.cur IS NOT DISTINCT FROM r.cur", "b.unit IS NOT DISTINCT FROM r.unit"])
    join += "".join(f" AND b.{g} IS NOT DISTINCT FROM r.{g}" for g in gcols)
    top = query.top if query.top is not None else 2**62
    tie = "".join(f", {g} ASC NULLS LAST" for g in gcols)
    shown = "".join(f", CASE WHEN r.top_rank <= {top} THEN b.{g} END AS {g}" for g in gcols)
    sql = (
        f"WITH {fx}base AS MATERIALIZED ({base}), "
        f"tot AS (SELECT cur, unit{gkeys}, sum(v) AS t FROM base GROUP BY ALL), "
        f"ranked AS (SELECT *, row_number() OVER (PARTITION BY cur, unit ORDER BY t DESC NULLS LAST{tie}) "
        "AS top_rank, count(*) OVER (PARTITION BY cur, unit) AS n_groups FROM tot), "
        f"cells AS (SELECT b.cur, b.unit, b.bucket{shown}, r.top_rank > {top} AS other, "
        "sum(b.v) AS v, sum(b.n) AS n, max(r.n_groups) AS n_groups, "
        f"min(CASE WHEN r.top_rank <= {top} THEN r.t END) AS t "
        f"FROM base b JOIN ranked r ON {join} GROUP BY ALL), "
        "ordered AS (SELECT *, sum(v) OVER (PARTITION BY cur, unit) AS tv, "
        "sum(n) OVER (PARTITION BY cur, unit) AS tn, max(n_groups) OVER () AS mg, "
        "dense_rank() OVER (PARTITION BY cur, unit "
        f"ORDER BY other, {_order(query.sort, n)}) AS sk FROM cells) "
        "SELECT cur, unit, bucket, other, CAST(v AS VARCHAR), n, CAST(tv AS VARCHAR), tn, mg"
        + "".join(f", {g}" for g in gcols)
        + " FROM ordered ORDER BY cur NULLS LAST, unit NULLS LAST, bucket NULLS FIRST, sk LIMIT ?"
    )
    found = cur.execute(sql, [*select_params, max_rows + 1]).fetchall()
    truncated = len(found) > max_rows
    found = found[:max_rows]
    rows: list[ResultRow] = []
    totals: dict[tuple[str | None, str | None], ResultRow] = {}
    most_groups = 0
    for r in found:
        currency, unit_value, bucket, other, v, count_rows, tv, tn, mg = r[:9]
        most_groups = int(mg)
        rows.append(ResultRow(currency, unit_value, bucket, tuple(r[9:]), bool(other), v, int(count_rows)))
        totals.setdefault(
            (currency, unit_value), ResultRow(currency, unit_value, None, (), False, tv, int(tn))
        )
    missing: list[tuple[str, date, int]] = []
    if query.currency is not None:
        ctes = fx.rstrip(", ")
        missing_sql = (
            f"WITH {ctes} SELECT c, day, sum(n) FROM conv WHERE NOT ok GROUP BY c, day ORDER BY c, day"
        )
        missing = [(str(c), d, int(k)) for c, d, k in cur.execute(missing_sql, select_params[:-1]).fetchall()]
    return Aggregate(rows, list(totals.values()), most_groups, truncated, missing)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Where the matching data lies: (provider, day) pairs and (provider, billing period) pairs."""

    days: list[tuple[str, date]]
    periods: list[tuple[str, datetime, datetime]]


def coverage(cur: duckdb.DuckDBPyConnection, scope: Scope, query: ExplorerQuery, source: Source) -> Coverage:
    """The provider-days and billing periods holding rows that match the query's filters and range."""
    where, params = where_sql(scope, query, source)
    found = cur.execute(
        f'SELECT DISTINCT provider_id, {source.day}, "BillingPeriodStart", "BillingPeriodEnd" '
        f"FROM {source.table} WHERE {where}",
        params,
    ).fetchall()
    days = sorted({(str(p), d) for p, d, _, _ in found})
    periods = sorted({(str(p), s, e) for p, _, s, e in found if s is not None and e is not None})
    return Coverage(days, periods)


def last_updates(cur: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, datetime]:
    """Per provider in scope: the last commit or revert of a Cost and Usage batch."""
    sql, params = scope_where(scope)
    rows = cur.execute(
        "SELECT provider_id, max(CASE WHEN status = 'reverted' THEN updated_at ELSE committed_at END) "
        f"FROM batches WHERE {sql} AND dataset = 'CostAndUsage' "
        "AND status IN ('committed', 'superseded', 'reverted') GROUP BY provider_id",
        params,
    ).fetchall()
    return {str(p): t for p, t in rows if t is not None}


@contextmanager
def deadline(cur: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[None]:
    """Interrupt the cursor's statement after `seconds`; raises QueryTimeout (or ValueOutOfRange)."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        cur.interrupt()

    timer = threading.Timer(seconds, stop)
    timer.start()
    try:
        yield
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"the query ran longer than {seconds:g} s") from exc
    except duckdb.OutOfRangeException as exc:
        raise ValueOutOfRange("a sum or conversion does not fit DECIMAL(38, 12)") from exc
    except duckdb.Error:
        if fired.is_set():
            raise QueryTimeout(f"the query ran longer than {seconds:g} s") from None
        raise
    finally:
        timer.cancel()


def provider_days(cur: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, tuple[date, date, int]]:
    """Per provider in scope: first and last charge day with live rows, and the days with rows."""
    sql, params = scope_where(scope)
    rows = cur.execute(
        f"SELECT provider_id, min(day), max(day), count(DISTINCT day) FROM {rollups.ROLLUP_TABLE} "
        f"WHERE {sql} GROUP BY provider_id",
        params,
    ).fetchall()
    return {str(p): (first, last, int(n)) for p, first, last, n in rows}


@contextmanager
def snapshot(cur: duckdb.DuckDBPyConnection, seconds: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """One read snapshot with a deadline for several statements."""
    cur.execute("BEGIN TRANSACTION")
    try:
        with deadline(cur, seconds):
            yield cur
    finally:
        cur.execute("ROLLBACK")
