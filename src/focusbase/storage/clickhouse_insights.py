# ruff: noqa: S608
# (Every identifier and SQL fragment below is a constant here or of the explorer's; values are bound.)
"""The savings, dashboard, cost-totals and row-count reads on the ClickHouse warehouse (`InsightReads`).

For the same live rows this answers what DuckDB's SQL answers (storage/savings.py, storage/totals.py,
storage/analytics.py `provider_days`, storage/providers.py's counts): the same groups in the same order, sums
accumulated in Decimal256 and written as DuckDB writes a DECIMAL(38, 12) (every decimal place, NULL where no
summed row has a value), any sum beyond DECIMAL(38, 12) refused (`ValueOutOfRange`). Rows are kept by the
explorer's conditions (`clickhouse_explorer.where_sql`: the scope, the live filter and the charge-day range).
The savings are three queries with no common snapshot (ClickHouse has none): a commit landing between them can
show in one and not in another.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from focusbase.analytics.model import ExplorerQuery
from focusbase.focus import Dataset
from focusbase.query.filters import Scope
from focusbase.storage.clickhouse_explorer import ClickHouseExplorerReads, decimal_text, where_sql
from focusbase.storage.clickhouse_served import scope_where
from focusbase.storage.clickhouse_types import LIVE, TABLES
from focusbase.storage.cost_rows import exact
from focusbase.storage.insight_reads import SavingsSums
from focusbase.storage.savings import CommitmentSums, CurrencySums
from focusbase.storage.totals import TotalRow

# storage/savings.py's conditions, in ClickHouse's spelling (its three-valued logic is SQL's: a NULL
# condition keeps no row, as DuckDB's FILTER).
_PURCHASE = '("ChargeCategory" = \'Purchase\' AND "CommitmentDiscountId" IS NOT NULL)'
_NOT_PURCHASE = f"NOT {_PURCHASE}"
_LIST = 'toDecimal256(coalesce("ListCost", "ContractedCost", "EffectiveCost"), 12)'
_CONTRACTED = 'toDecimal256(coalesce("ContractedCost", "EffectiveCost"), 12)'
_EFFECTIVE = 'toDecimal256("EffectiveCost", 12)'
_BILLED = 'toDecimal256("BilledCost", 12)'
_QUANTITY = 'toDecimal256("CommitmentDiscountQuantity", 12)'
_USED_USAGE = "\"CommitmentDiscountStatus\" = 'Used' AND \"ChargeCategory\" = 'Usage'"
_USED = "\"CommitmentDiscountStatus\" = 'Used'"
_UNUSED = "\"CommitmentDiscountStatus\" = 'Unused'"
# On-demand usage eligible for coverage, but for its service having covered usage (decided per group below).
_ON_DEMAND = (
    '"ChargeCategory" = \'Usage\' AND "PricingCategory" = \'Standard\' AND "CommitmentDiscountId" IS NULL'
)

# The per-currency sums: (name, inner aggregate per (currency, service), outer aggregate per currency). A sum
# of Nullable values is NULL when no summed row had a value, as DuckDB's; so is a sum of such sums.
_CURRENCY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("s_rows", f"countIf({_NOT_PURCHASE})", "sum(s_rows)"),
    ("s_list", f"sumIf({_LIST}, {_NOT_PURCHASE})", "sum(s_list)"),
    ("s_contracted", f"sumIf({_CONTRACTED}, {_NOT_PURCHASE})", "sum(s_contracted)"),
    ("s_effective", f"sumIf({_EFFECTIVE}, {_NOT_PURCHASE})", "sum(s_effective)"),
    ("s_billed", f"sumIf({_BILLED}, {_NOT_PURCHASE})", "sum(s_billed)"),
    ("s_no_list", f'countIf({_NOT_PURCHASE} AND "ListCost" IS NULL)', "sum(s_no_list)"),
    ("s_no_contracted", f'countIf({_NOT_PURCHASE} AND "ContractedCost" IS NULL)', "sum(s_no_contracted)"),
    ("s_cost_no_list", f'sumIf({_EFFECTIVE}, {_NOT_PURCHASE} AND "ListCost" IS NULL)', "sum(s_cost_no_list)"),
    (
        "s_cost_no_contracted",
        f'sumIf({_EFFECTIVE}, {_NOT_PURCHASE} AND "ContractedCost" IS NULL)',
        "sum(s_cost_no_contracted)",
    ),
    ("s_covered", f"sumIf({_EFFECTIVE}, {_USED_USAGE})", "sum(s_covered)"),
    # DuckDB: on-demand usage whose coalesce(ServiceName, '') had covered usage in the same currency.
    ("s_on_demand", f"sumIf({_EFFECTIVE}, {_ON_DEMAND})", "sumIf(s_on_demand, has_covered)"),
    ("s_unused", f"sumIf({_EFFECTIVE}, {_UNUSED})", "sum(s_unused)"),
    ("s_purchase", f"sumIf({_BILLED}, {_PURCHASE})", "sum(s_purchase)"),
)
_COMMITMENT_SUMS = (
    f"sumIf({_EFFECTIVE}, {_USED})",
    f"sumIf({_EFFECTIVE}, {_UNUSED})",
    f"sumIf({_QUANTITY}, {_USED})",
    f"sumIf({_QUANTITY}, {_UNUSED})",
    f"sumIf({_LIST}, {_NOT_PURCHASE})",
    f"sumIf({_CONTRACTED}, {_NOT_PURCHASE})",
    f"sumIf({_EFFECTIVE}, {_NOT_PURCHASE})",
    f"sumIf({_BILLED}, {_PURCHASE})",
)


def _naive(moment: datetime) -> datetime:
    """A time as DuckDB's warehouse returns it: UTC without tzinfo."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else _naive(value).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClickHouseInsightReads(ClickHouseExplorerReads):
    """The insight reads; mixed into the warehouse with the other reads."""

    def savings_sums(
        self,
        scope: Scope,
        start: date | None,
        end: date | None,
        *,
        commitment_limit: int,
        timeout_seconds: float,
    ) -> SavingsSums:
        deadline = time.monotonic() + timeout_seconds
        where, params = where_sql(scope, ExplorerQuery(start=start, end=end))
        currencies = self._currency_sums(where, params, deadline, timeout_seconds)
        commitments = self._commitment_sums(where, params, commitment_limit, deadline, timeout_seconds)
        ids = sorted({c.commitment_id for c in commitments})
        contracts = self._contract_commitments(scope, ids, deadline, timeout_seconds) if ids else {}
        return SavingsSums(currencies, commitments, contracts)

    def _currency_sums(
        self, where: str, params: dict[str, Any], deadline: float, seconds: float
    ) -> list[CurrencySums]:
        # One scan: sums per (currency, service) first, so the on-demand usage of a service with covered
        # usage in its currency is kept by a flag of its own group (DuckDB's correlated IN).
        inner = ", ".join(f"{expr} AS {name}" for name, expr, _ in _CURRENCY_COLUMNS)
        outer = ", ".join(expr for _, _, expr in _CURRENCY_COLUMNS)
        found = self._timed(
            f'SELECT cur, {outer} FROM (SELECT "BillingCurrency" AS cur, ifNull("ServiceName", \'\') AS svc,'
            f" {inner}, countIf({_USED_USAGE}) > 0 AS has_covered FROM cost_rows WHERE {where}"
            " GROUP BY cur, svc) GROUP BY cur ORDER BY cur ASC NULLS LAST",
            params,
            deadline,
            seconds,
        )
        return [
            CurrencySums(
                currency=r[0],
                rows=int(r[1]),
                list_cost=decimal_text(r[2]),
                contracted_cost=decimal_text(r[3]),
                effective_cost=decimal_text(r[4]),
                billed_cost=decimal_text(r[5]),
                rows_missing_list=int(r[6]),
                rows_missing_contracted=int(r[7]),
                cost_missing_list=decimal_text(r[8]),
                cost_missing_contracted=decimal_text(r[9]),
                covered_cost=decimal_text(r[10]),
                on_demand_cost=decimal_text(r[11]),
                unused_cost=decimal_text(r[12]),
                purchase_cost=decimal_text(r[13]),
            )
            for r in found
        ]

    def _commitment_sums(
        self, where: str, params: dict[str, Any], limit: int, deadline: float, seconds: float
    ) -> list[CommitmentSums]:
        found = self._timed(
            'SELECT "CommitmentDiscountId", "BillingCurrency", max("CommitmentDiscountName"),'
            ' max("CommitmentDiscountCategory"), max("CommitmentDiscountType"),'
            ' max("CommitmentDiscountUnit"),'
            f" {', '.join(_COMMITMENT_SUMS)}, count() FROM cost_rows"
            f' WHERE {where} AND "CommitmentDiscountId" IS NOT NULL'
            ' GROUP BY "CommitmentDiscountId", "BillingCurrency"'
            ' ORDER BY "BillingCurrency" ASC NULLS LAST, "CommitmentDiscountId" ASC LIMIT {limit:UInt64}',
            {**params, "limit": limit},
            deadline,
            seconds,
        )
        return [
            CommitmentSums(
                commitment_id=str(r[0]),
                currency=r[1],
                name=r[2],
                category=r[3],
                type=r[4],
                unit=r[5],
                used_cost=decimal_text(r[6]),
                unused_cost=decimal_text(r[7]),
                used_quantity=decimal_text(r[8]),
                unused_quantity=decimal_text(r[9]),
                list_cost=decimal_text(r[10]),
                contracted_cost=decimal_text(r[11]),
                effective_cost=decimal_text(r[12]),
                purchase_cost=decimal_text(r[13]),
                rows=int(r[14]),
            )
            for r in found
        ]

    def _contract_commitments(
        self, scope: Scope, ids: list[str], deadline: float, seconds: float
    ) -> dict[str, dict[str, Any]]:
        where = scope_where(scope)
        found = self._timed(
            'SELECT "ContractCommitmentId", "BillingCurrency",'
            ' sum(toDecimal256("ContractCommitmentCost", 12)),'
            ' sum(toDecimal256("ContractCommitmentQuantity", 12)), max("ContractCommitmentUnit"),'
            ' max("ContractCommitmentCategory"), max("ContractCommitmentType"),'
            ' min("ContractCommitmentPeriodStart"), max("ContractCommitmentPeriodEnd"), max("ContractId"),'
            f" count() FROM contract_commitment_rows WHERE {where.sql} AND {LIVE}"
            ' AND has({ids:Array(String)}, "ContractCommitmentId")'
            ' GROUP BY "ContractCommitmentId", "BillingCurrency"',
            {**where.params, "ids": ids},
            deadline,
            seconds,
        )
        out: dict[str, dict[str, Any]] = {}
        for cid, currency, cost, quantity, unit, category, kind, start, end, contract, n in found:
            out[str(cid)] = {
                "contractId": contract,
                "billingCurrency": currency,
                "cost": decimal_text(cost),
                "quantity": decimal_text(quantity),
                "unit": unit,
                "category": category,
                "type": kind,
                "periodStart": _stamp(start),
                "periodEnd": _stamp(end),
                "rows": int(n),
            }
        return out

    def provider_days(self, scope: Scope, *, timeout_seconds: float) -> dict[str, tuple[date, date, int]]:
        where = scope_where(scope)
        rows = self._timed(
            "SELECT provider_id, min(charge_day), max(charge_day), uniqExact(charge_day)"
            f" FROM cost_rollup_daily WHERE {where.sql} AND {LIVE} GROUP BY provider_id",
            where.params,
            time.monotonic() + timeout_seconds,
            timeout_seconds,
        )
        return {str(p): (first, last, int(n)) for p, first, last, n in rows}

    def cost_totals(self, scope: Scope) -> list[TotalRow]:
        where = scope_where(scope)
        rows = self._query(
            "SELECT provider_id, ifNull(\"BillingCurrency\", '') AS cur, count(),"
            ' sum(toDecimal256("BilledCost", 12)), sum(toDecimal256("EffectiveCost", 12)),'
            ' min("ChargePeriodStart"), max("ChargePeriodStart")'
            f" FROM cost_rows WHERE {where.sql} AND {LIVE}"
            " GROUP BY provider_id, cur ORDER BY provider_id, cur",
            where.params,
        )
        return [
            TotalRow(
                provider_id=str(provider_id),
                currency=str(currency),
                rows=int(count),
                billed_cost=exact(decimal_text(billed)),
                effective_cost=exact(decimal_text(effective)),
                first_charge=None if first is None else _naive(first),
                last_charge=None if last is None else _naive(last),
            )
            for provider_id, currency, count, billed, effective, first, last in rows
        ]

    def live_row_counts(self, workspace_id: str, provider_id: str | None = None) -> dict[str, int]:
        params: dict[str, Any] = {"ws": workspace_id}
        only = ""
        if provider_id is not None:
            only, params["p"] = " AND provider_id = {p:String}", provider_id
        rows = self._query(
            f"SELECT provider_id, count() FROM cost_rows WHERE workspace_id = {{ws:String}}{only} AND {LIVE}"
            " GROUP BY provider_id",
            params,
        )
        return {str(p): int(n) for p, n in rows}

    def stored_row_counts(self, workspace_id: str, provider_id: str) -> dict[str, int]:
        # IngestStore's deletion count (storage/ingest_store.py), for when this warehouse takes the ingest
        # path: every version and staged rows, as DuckDB counts what a deletion would remove; a deleted
        # provider's rows count until purge_deleted frees them.
        counts: dict[str, int] = {}
        for name, dataset in (
            ("cost", Dataset.COST_AND_USAGE),
            ("contractCommitment", Dataset.CONTRACT_COMMITMENT),
        ):
            found = self._query(
                f"SELECT count() FROM {TABLES[dataset].name} WHERE workspace_id = {{ws:String}}"
                " AND provider_id = {p:String}",
                {"ws": workspace_id, "p": provider_id},
            )
            counts[name] = int(found[0][0]) if found else 0
        return counts
