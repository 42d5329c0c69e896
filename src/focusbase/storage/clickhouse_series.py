# ruff: noqa: S608
# (Identifiers come from fixed maps and our schema; scope, filter values, days and currencies are bound.)
"""The daily spend series on the ClickHouse warehouse (`storage.spend_series.SpendSeries`).

For the same live rows these answer what DuckDB's series SQL answers (storage/anomalies.py,
storage/budgets.py): the same cells with the same exact sums, '' where a dimension or the currency is NULL,
0 where no summed row has a value (a daily spend leaves such a day out). A view's filters are the explorer's
(`clickhouse_explorer.where_sql`), read from the daily rollup exactly when DuckDB reads its rollup
(`rollup_answers`), else from the rows. Sums accumulate in Decimal256 and are checked against
DECIMAL(38, 12) (`WarehouseValueOutOfRange` beyond it, where DuckDB's sum raises).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from focusbase.analytics.model import ExplorerQuery, Filter
from focusbase.query.filters import Scope
from focusbase.storage.analytics import rollup_answers
from focusbase.storage.anomalies import COST_METRICS, DailyCell
from focusbase.storage.budgets import COST_COLUMNS
from focusbase.storage.clickhouse_explorer import ClickHouseExplorerReads, where_sql
from focusbase.storage.clickhouse_types import DECIMAL_38_12_MAX, LIVE, WarehouseValueOutOfRange
from focusbase.storage.query import quote

_ZERO = Decimal("0E-12")  # DuckDB's coalesce(sum(...), 0) of a DECIMAL(38, 12)
# The part of a cost that is expected by its nature and never alerts (storage.anomalies.daily_cells).
_EXPECTED = "(\"ChargeCategory\" IN ('Purchase', 'Tax') OR \"ChargeFrequency\" = 'Recurring')"
_DIMENSIONS = (
    "ifNull(\"BillingCurrency\", '') AS s_currency, ifNull(\"ServiceName\", '') AS s_service,"
    " ifNull(\"SubAccountId\", '') AS s_account, ifNull(\"RegionId\", '') AS s_region"
)
_DETAIL = f"provider_id AS s_provider, charge_day AS s_day, {_DIMENSIONS}"
_DETAIL_KEYS = "s_day, s_provider, s_currency, s_service, s_account, s_region"
_DAILY = "charge_day AS s_day, ifNull(\"BillingCurrency\", '') AS s_currency"
_DAILY_KEYS = "s_day, s_currency"


def _money(value: Decimal | None) -> Decimal:
    """A Decimal256 sum as DuckDB answers a DECIMAL(38, 12) one; beyond that range it is refused."""
    if value is None:
        return _ZERO
    if value.copy_abs() > DECIMAL_38_12_MAX:  # exact: abs() would round at 28 digits
        raise WarehouseValueOutOfRange(f"a sum ({value:.0f}) is beyond DECIMAL(38, 12)")
    return value


def _detailed(r: Sequence[Any]) -> DailyCell:
    return DailyCell(str(r[0]), r[1], str(r[2]), str(r[3]), str(r[4]), str(r[5]), _money(r[6]), _money(r[7]))


def _day_range(since: date, until: date) -> tuple[date, date | None]:
    """[since, until] as the half-open range the explorer's filter takes (None: no end, past date.max)."""
    return since, (until + timedelta(days=1) if until < date.max else None)


class ClickHouseSpendSeries(ClickHouseExplorerReads):
    """The series reads; mixed into the warehouse with the other reads."""

    def _cells(
        self, table: str, value: str, keys: tuple[str, str], where: str, params: dict[str, Any]
    ) -> list[Sequence[Any]]:
        select, group = keys
        return self._query(
            f"SELECT {select}, sum({value}) AS s_cost, sum(if({_EXPECTED}, {value}, toDecimal256(0, 12)))"
            f" AS s_expected FROM {table} WHERE {where} GROUP BY {group} ORDER BY {group}",
            params,
        )

    def daily_cells(self, workspace_id: str, provider_id: str, since: date, until: date) -> list[DailyCell]:
        start, end = _day_range(since, until)
        query = ExplorerQuery(start=start, end=end)
        where, params = where_sql(Scope(workspace_id, frozenset({provider_id})), query)
        rows = self._cells(
            "cost_rows", 'toDecimal256("EffectiveCost", 12)', (_DETAIL, _DETAIL_KEYS), where, params
        )
        return [_detailed(r) for r in rows]

    def filtered_cells(
        self,
        scope: Scope,
        filters: tuple[Filter, ...],
        metric: str,
        since: date,
        until: date,
        currency: str | None = None,
        *,
        detail: bool = True,
    ) -> list[DailyCell]:
        column = quote(COST_METRICS[metric])
        start, end = _day_range(since, until)
        query = ExplorerQuery(metric=metric, filters=filters, start=start, end=end)
        where, params = where_sql(scope, query)
        if currency is not None:
            where += ' AND "BillingCurrency" = {s_currency_given:String}'
            params["s_currency_given"] = currency
        # The rollup's sums hold 0 where no row had a value; the answer is 0 there either way.
        if rollup_answers(query):
            table, value = "cost_rollup_daily", column
        else:
            table, value = "cost_rows", f"toDecimal256({column}, 12)"
        if detail:
            rows = self._cells(table, value, (_DETAIL, _DETAIL_KEYS), where, params)
            return [_detailed(r) for r in rows]
        rows = self._cells(table, value, (_DAILY, _DAILY_KEYS), where, params)
        return [DailyCell("", r[0], str(r[1]), "", "", "", _money(r[2]), _money(r[3])) for r in rows]

    def provider_ids_with_data(self, workspace_id: str) -> list[str]:
        rows = self._query(
            f"SELECT DISTINCT provider_id FROM cost_rows WHERE workspace_id = {{ws:String}} AND {LIVE}"
            " ORDER BY provider_id",
            {"ws": workspace_id},
        )
        return [str(r[0]) for r in rows]

    def daily_spend(
        self,
        *,
        workspace_id: str,
        provider_id: str,
        currency: str,
        cost_column: str,
        start: date,
        end: date,
    ) -> dict[date, Decimal]:
        column = quote(COST_COLUMNS[cost_column])
        query = ExplorerQuery(start=start, end=end)
        where, params = where_sql(Scope(workspace_id, frozenset({provider_id})), query)
        params["s_currency_given"] = currency
        rows = self._query(
            f"SELECT charge_day, sum(toDecimal256({column}, 12)) FROM cost_rows WHERE {where}"
            ' AND "BillingCurrency" = {s_currency_given:String} GROUP BY charge_day ORDER BY charge_day',
            params,
        )
        return {day: _money(total) for day, total in rows if total is not None}
