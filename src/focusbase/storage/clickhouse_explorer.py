# ruff: noqa: S608
# (Identifiers come from the FOCUS catalogue allow-list or our schema; tag keys, x_ names, values are bound.)
"""The Data Explorer's reads on the ClickHouse warehouse (`storage.explorer_reads.ExplorerReads`).

For the same live rows this answers what DuckDB's explorer SQL answers (storage/analytics.py): the same cells
in the same order, the same exact sums written as DuckDB writes a DECIMAL(38, 12) (every decimal place), NULL
where every summed value is NULL, the same ranking, top-N and Other, groups and truncation, coverage and last
changes. It reads the daily rollup whenever DuckDB does (`rollup_answers`), else the live rows; tags and x_
columns are read from the `tags_kv` and `x_kv` Maps as DuckDB's `json_extract_string` reads the JSON.
With a `currency`, each (currency, day, group) sum is converted as DuckDB converts it: that day's rate of the
workspace's newest rate set (storage/clickhouse_fx.py), the product rounded half away from zero to 12
decimals, refused beyond DuckDB's DECIMAL(38, 22) product, and sums without a rate left out and reported.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from focusbase.analytics.model import Dimension, ExplorerQuery, dimension_columns
from focusbase.query.filters import Scope
from focusbase.storage.analytics import (
    Aggregate,
    Coverage,
    QueryTimeout,
    ResultRow,
    ValueOutOfRange,
    rollup_answers,
)
from focusbase.storage.clickhouse_client import timed_out
from focusbase.storage.clickhouse_fx import NEWEST_SET
from focusbase.storage.clickhouse_served import ClickHouseServedReads, scope_where
from focusbase.storage.clickhouse_types import LIVE
from focusbase.storage.explorer_reads import Exploration
from focusbase.storage.query import quote

Params = dict[str, Any]
_BEYOND = Decimal(10) ** 26  # exact: the smallest magnitude DECIMAL(38, 12) cannot hold
_LIMIT_12 = "toDecimal256('100000000000000000000000000', 12)"  # 1e26
# DuckDB multiplies a DECIMAL(38, 12) sum by a DECIMAL(38, 10) rate in DECIMAL(38, 22), so a product of 1e16
# or more is an overflow there.
_LIMIT_22 = "toDecimal256('10000000000000000', 22)"
# Date32's range: a bound outside it is moved to its edge (no charge day lies beyond).
_FIRST_DAY, _LAST_DAY = date(1900, 1, 1), date(2299, 12, 31)
_BUCKETS = {
    "day": "day",
    "week": "toMonday(day)",  # DuckDB's date_trunc('week'): weeks start on Monday
    "month": "toStartOfMonth(day)",
    "none": "CAST(NULL AS Nullable(Date))",
}
# How DuckDB reads a JSON member with json_extract_string from the Map's raw JSON literal: absent or null is
# NULL, a string unquoted, anything else its JSON text.
_JSON_VALUE = (
    "multiIf(NOT mapContains({map}, {{{p}:String}}) OR {map}[{{{p}:String}}] = 'null', NULL,"
    " startsWith({map}[{{{p}:String}}], '\"'), JSONExtractString({map}[{{{p}:String}}]),"
    " {map}[{{{p}:String}}])"
)


def _dimension_sql(dim: Dimension, name: str, params: Params) -> str:
    """A dimension's value (NULL when absent); a tag key or x_ name is bound as parameter `name`."""
    if dim.kind == "provider":
        return "provider_id"
    if dim.kind == "column":
        if dim.name not in dimension_columns():  # the model only lets catalogue names through
            raise ValueError(f"not a dimension column: {dim.name}")
        return quote(dim.name)
    params[name] = dim.name
    return _JSON_VALUE.format(map="tags_kv" if dim.kind == "tag" else "x_kv", p=name)


def _day(value: date) -> date:
    return min(max(value, _FIRST_DAY), _LAST_DAY)


def where_sql(scope: Scope, query: ExplorerQuery) -> tuple[str, Params]:
    """Scope, the live filter, the query's filters and its day range (on `charge_day`) as one condition."""
    where = scope_where(scope)
    clauses, params = [where.sql, LIVE], dict(where.params)
    if query.start is not None:
        clauses.append("charge_day >= {start:Date32}")
        params["start"] = _day(query.start)
    if query.end is not None:
        clauses.append("charge_day < {end:Date32}")
        params["end"] = _day(query.end)
    for i, f in enumerate(query.filters):
        expr = _dimension_sql(f.dimension, f"fd{i}", params)
        value = f"fv{i}"
        if f.op == "present":  # a JSON null counts as absent, like a NULL column
            clauses.append(f"{expr} IS NOT NULL")
        elif f.op == "absent":
            clauses.append(f"{expr} IS NULL")
        elif f.op == "equals":
            clauses.append(f"{expr} = {{{value}:String}}")
            params[value] = f.values[0]
        elif f.op == "in":
            clauses.append(f"has({{{value}:Array(Nullable(String))}}, {expr})")
            params[value] = list(f.values)
        elif f.op == "not_in":  # a missing value is "not in" the list
            clauses.append(f"NOT has({{{value}:Array(Nullable(String))}}, {expr})")
            params[value] = list(f.values)
        else:  # contains: case-insensitive substring (NULL never contains)
            clauses.append(f"positionUTF8(lowerUTF8({expr}), lowerUTF8({{{value}:String}})) > 0")
            params[value] = f.values[0]
    return " AND ".join(clauses), params


def _order(sort: str, keys: list[str]) -> str:
    by_group = ", ".join(f"{k} ASC NULLS LAST" for k in keys)
    if sort == "group":
        return "other" + (", " + by_group if by_group else "")
    direction = "DESC" if sort == "value_desc" else "ASC"
    return f"other, t {direction} NULLS LAST" + (", " + by_group if by_group else "")


def _inner(scope: Scope, query: ExplorerQuery, rollup: bool, params: Params) -> tuple[str, list[str]]:
    """A row per stored (or rollup) row: currency, unit, day, group keys k0.., value, presence, count."""
    groups = [_dimension_sql(d, f"gd{i}", params) for i, d in enumerate(query.group_by)]
    where, where_params = where_sql(scope, query)
    params.update(where_params)
    keys = [f"k{i}" for i in range(len(groups))]
    metric = quote(query.metric)
    if rollup:  # a sum over rollup rows whose every row lacked the value is NULL, as over the rows
        table, value, present, count = (
            "cost_rollup_daily",
            metric,
            quote(query.metric + "_values"),
            "row_count",
        )
    else:
        table, value, present, count = (
            "cost_rows",
            f"toDecimal256({metric}, 12)",
            f"{metric} IS NOT NULL",
            "1",
        )
    unit = quote(query.unit_column) if query.unit_column else "CAST(NULL AS Nullable(String))"
    inner = (
        f'SELECT "BillingCurrency" AS cur, {unit} AS unit, charge_day AS day'
        + "".join(f", {expr} AS {k}" for expr, k in zip(groups, keys, strict=True))
        + f", {value} AS m, toUInt64({present}) AS present, toUInt64({count}) AS k FROM {table} WHERE {where}"
    )
    return inner, keys


def _converted(scope: Scope, query: ExplorerQuery, inner: str, keys: list[str], params: Params) -> str:
    """DuckDB's conversion (storage.analytics.aggregate): per (currency, day, group) the day's sum, in the
    target currency as is, else times that day's rate of the workspace's newest set, rounded half away from
    zero to 12 decimals; `ok` where it converted (NULL for a NULL currency: neither converted nor missing),
    `over` where DuckDB's DECIMAL(38, 22) product overflows (|sum x rate| >= 1e16)."""
    params["fx_ws"], params["fx_to"] = scope.workspace_id, query.currency
    kcols = "".join(f", {k}" for k in keys)
    daily = (
        f"SELECT cur AS c, day, toInt32(day) AS day_number{kcols},"
        f" if(sum(present) = 0, NULL, sum(m)) AS dv, sum(k) AS dn FROM ({inner}) GROUP BY c, day{kcols}"
    )
    rates = (
        "SELECT day AS rate_day, CAST(from_currency AS String) AS rate_from, rate, toUInt8(1) AS found"
        " FROM fx_rates WHERE workspace_id = {fx_ws:String} AND to_currency = {fx_to:String}"
        f" AND set_id = {NEWEST_SET}"
    )
    # Clamped, so a sum beyond the range cannot overflow Decimal256 on the way (it is `over` anyway: a rate
    # is at least 1e-10).
    product = f"least(greatest(d.dv, -{_LIMIT_12}), {_LIMIT_12}) * r.rate"
    return (
        f"SELECT d.c AS c, d.day AS day{''.join(f', d.{k} AS {k}' for k in keys)}, d.dn AS dn,"
        f" if(d.c = {{fx_to:String}}, d.dv, toDecimal256(round({product}, 12), 12)) AS cv,"
        " (d.c = {fx_to:String} OR r.found = 1) AS ok,"
        f" ifNull(d.c != {{fx_to:String}} AND r.found = 1 AND abs({product}) >= {_LIMIT_22}, 0) AS over"
        f" FROM ({daily}) AS d LEFT JOIN ({rates}) AS r ON r.rate_day = d.day_number AND r.rate_from = d.c"
    )


def aggregate_sql(scope: Scope, query: ExplorerQuery, rollup: bool) -> tuple[str, Params]:
    """The explorer aggregate as one statement (storage.analytics.aggregate's cells, columns and order)."""
    params: Params = {}
    inner, keys = _inner(scope, query, rollup, params)
    shown = [f"g{i}" for i in range(len(keys))]
    kcols = "".join(f", {k}" for k in keys)
    if query.currency is None:
        base = (
            f"SELECT cur, unit, {_BUCKETS[query.grain]} AS bucket{kcols},"
            " if(sum(present) = 0, NULL, sum(m)) AS bv, sum(k) AS bn, toUInt8(0) AS over"
            f" FROM ({inner}) GROUP BY cur, unit, bucket{kcols}"
        )
    else:  # one split, in the target currency, of what converted
        base = (
            "SELECT CAST({fx_to:String} AS Nullable(String)) AS cur, CAST(NULL AS Nullable(String)) AS unit,"
            f" {_BUCKETS[query.grain]} AS bucket{kcols}, if(count(cv) = 0, NULL, sum(cv)) AS bv,"
            f" sum(dn) AS bn, max(over) AS over FROM ({_converted(scope, query, inner, keys, params)})"
            f" WHERE ok GROUP BY cur, unit, bucket{kcols}"
        )
    totals = f"SELECT *, sum(bv) OVER (PARTITION BY cur, unit{kcols}) AS gt FROM ({base})"
    tie = "".join(f", {k} ASC NULLS LAST" for k in keys)
    ranked = (
        "SELECT *, dense_rank() OVER (PARTITION BY cur, unit ORDER BY gt DESC NULLS LAST"
        f"{tie}) AS top_rank FROM ({totals})"
    )
    counted = f"SELECT *, max(top_rank) OVER (PARTITION BY cur, unit) AS n_groups FROM ({ranked})"
    params["top"] = query.top if query.top is not None else 2**62
    show = "".join(
        f", if(top_rank <= {{top:UInt64}}, {k}, NULL) AS {g}" for k, g in zip(keys, shown, strict=True)
    )
    cells = (
        f"SELECT cur, unit, bucket{show}, top_rank > {{top:UInt64}} AS other, sum(bv) AS v, sum(bn) AS n,"
        " max(n_groups) AS ng, min(if(top_rank <= {top:UInt64}, gt, NULL)) AS t,"
        " greatest(ifNull(max(abs(bv)), 0), ifNull(max(abs(gt)), 0)) AS inner_max, max(over) AS cell_over"
        f" FROM ({counted}) GROUP BY cur, unit, bucket{''.join(', ' + g for g in shown)}, other"
    )
    ordered = (
        "SELECT *, sum(v) OVER (PARTITION BY cur, unit) AS tv, sum(n) OVER (PARTITION BY cur, unit) AS tn,"
        " max(ng) OVER () AS mg, max(inner_max) OVER () AS biggest, max(cell_over) OVER () AS overflowed,"
        f" dense_rank() OVER (PARTITION BY cur, unit ORDER BY {_order(query.sort, shown)}) AS sk"
        f" FROM ({cells})"
    )
    sql = (
        "SELECT cur, unit, bucket, other, v, n, tv, tn, mg, biggest, overflowed"
        + "".join(f", {g}" for g in shown)
        + f" FROM ({ordered}) ORDER BY cur ASC NULLS LAST, unit ASC NULLS LAST, bucket ASC NULLS FIRST, sk"
        " LIMIT {limit:UInt64}"
    )
    return sql, params


def missing_rates_sql(scope: Scope, query: ExplorerQuery, rollup: bool) -> tuple[str, Params]:
    """Per (currency, day): the rows a conversion left out for want of a rate (DuckDB's missing_rates)."""
    params: Params = {}
    inner, keys = _inner(scope, query, rollup, params)
    converted = _converted(scope, query, inner, keys, params)
    return f"SELECT c, day, sum(dn) FROM ({converted}) WHERE NOT ok GROUP BY c, day ORDER BY c, day", params


def decimal_text(value: Decimal | None) -> str | None:
    """A sum as DuckDB's CAST(DECIMAL(38, 12) AS VARCHAR) writes it (every decimal place); ValueOutOfRange
    beyond DECIMAL(38, 12)."""
    if value is None:
        return None
    if abs(value) >= _BEYOND:
        raise ValueOutOfRange("a sum or conversion does not fit DECIMAL(38, 12)")
    return f"{value:.12f}" if value else "0.000000000000"


def _naive(moment: datetime) -> datetime:
    """A time as DuckDB's warehouse returns it: UTC without tzinfo."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


class ClickHouseExplorerReads(ClickHouseServedReads):
    """The explorer's reads; mixed into the warehouse with the other reads.

    The aggregate, the missing rates of a conversion, the coverage and the last changes are separate queries
    with no snapshot between them (ClickHouse has none): a commit or a rates upload landing between them can
    show in the markers and not in the figures.
    """

    def explore(
        self, scope: Scope, query: ExplorerQuery, *, max_rows: int, timeout_seconds: float
    ) -> Exploration:
        rollup = rollup_answers(query)
        deadline = time.monotonic() + timeout_seconds
        sql, params = aggregate_sql(scope, query, rollup)
        found = self._timed(sql, {**params, "limit": max_rows + 1}, deadline, timeout_seconds)
        truncated = len(found) > max_rows
        found = found[:max_rows]
        rows: list[ResultRow] = []
        totals: dict[tuple[str | None, str | None], ResultRow] = {}
        most_groups = 0
        for r in found:
            currency, unit, bucket, other, v, n, tv, tn, mg, biggest, overflowed = r[:11]
            decimal_text(biggest)  # an intermediate sum beyond the range is refused, as DuckDB refuses it
            if overflowed:
                raise ValueOutOfRange("a sum or conversion does not fit DECIMAL(38, 12)")
            most_groups = int(mg)
            group = tuple(None if g is None else str(g) for g in r[11:])
            rows.append(ResultRow(currency, unit, bucket, group, bool(other), decimal_text(v), int(n)))
            totals.setdefault(
                (currency, unit), ResultRow(currency, unit, None, (), False, decimal_text(tv), int(tn))
            )
        missing: list[tuple[str, date, int]] = []
        if query.currency is not None:
            sql, params = missing_rates_sql(scope, query, rollup)
            found = self._timed(sql, params, deadline, timeout_seconds)
            missing = [(str(c), d, int(k)) for c, d, k in found]
        aggregate = Aggregate(rows, list(totals.values()), most_groups, truncated, missing)
        return Exploration(
            rollup,
            aggregate,
            self._coverage(scope, query, rollup, deadline, timeout_seconds),
            self._last_updates(scope, deadline, timeout_seconds),
        )

    def _coverage(
        self, scope: Scope, query: ExplorerQuery, rollup: bool, deadline: float, seconds: float
    ) -> Coverage:
        where, params = where_sql(scope, query)
        table = "cost_rollup_daily" if rollup else "cost_rows"
        found = self._timed(
            f'SELECT DISTINCT provider_id, charge_day, "BillingPeriodStart", "BillingPeriodEnd" FROM {table}'
            f" WHERE {where}",
            params,
            deadline,
            seconds,
        )
        days = sorted({(str(p), d) for p, d, _, _ in found})
        periods = sorted(
            {(str(p), _naive(s), _naive(e)) for p, _, s, e in found if s is not None and e is not None}
        )
        return Coverage(days, periods)

    def _last_updates(self, scope: Scope, deadline: float, seconds: float) -> dict[str, datetime]:
        """Per provider in scope: the newest commit or revert of a Cost and Usage batch (the visibility rows
        it wrote); providers deleted are left out."""
        where = scope_where(scope)
        rows = self._timed(
            f"SELECT provider_id, max(changed_at) FROM live_day_batches WHERE {where.sql}"
            " AND dataset = 'CostAndUsage' AND changed_at > toDateTime64(0, 6, 'UTC') AND provider_id NOT IN"
            " (SELECT provider_id FROM deleted_providers WHERE workspace_id = {ws:String})"
            " GROUP BY provider_id",
            where.params,
            deadline,
            seconds,
        )
        return {str(p): _naive(t) for p, t in rows}

    def _timed(self, sql: str, params: Params, deadline: float, seconds: float) -> list[Any]:
        """Run a query with what is left of the deadline as ClickHouse's max_execution_time."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise QueryTimeout(f"the query ran longer than {seconds:g} s")
        try:
            with self._client_lock:
                result = self._client.query(sql, parameters=params, settings={"max_execution_time": left})
                return list(result.result_rows)
        except Exception as exc:
            if timed_out(exc):
                raise QueryTimeout(f"the query ran longer than {seconds:g} s") from exc
            raise
