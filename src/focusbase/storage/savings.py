# ruff: noqa: S608
# (Every identifier and SQL fragment below is a constant of this module; values are bound.)
"""SQL for commitment savings: per currency and per commitment sums over live_cost_rows (exact DECIMAL).

Only sums leave DuckDB (as text); the ratios are divided in Python with Decimal, so nothing passes a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from focusbase.query.filters import Scope
from focusbase.storage.query import Params, scope_where

# A commitment purchase (its cost is amortised into the covered usage rows' EffectiveCost); savings and
# coverage leave these rows out so the purchase is not counted twice (FinOps hubs, "Rate optimization").
_PURCHASE = '("ChargeCategory" = \'Purchase\' AND "CommitmentDiscountId" IS NOT NULL)'
_LIST = 'coalesce("ListCost", "ContractedCost", "EffectiveCost")'
_CONTRACTED = 'coalesce("ContractedCost", "EffectiveCost")'


def _sum(expr: str, condition: str) -> str:
    """The exact text of a filtered DECIMAL sum (NULL when no row has a value)."""
    return f"CAST(sum({expr}) FILTER (WHERE {condition}) AS VARCHAR)"


@dataclass(frozen=True, slots=True)
class CurrencySums:
    """Sums over one currency's non-purchase rows, and the rows and cost lacking list or contracted prices."""

    currency: str
    rows: int
    list_cost: str | None
    contracted_cost: str | None
    effective_cost: str | None
    billed_cost: str | None
    rows_missing_list: int
    rows_missing_contracted: int
    cost_missing_list: str | None
    cost_missing_contracted: str | None
    covered_cost: str | None  # EffectiveCost of usage a commitment covered (status Used)
    on_demand_cost: str | None  # EffectiveCost of eligible Standard (on-demand) usage
    unused_cost: str | None
    purchase_cost: str | None


@dataclass(frozen=True, slots=True)
class CommitmentSums:
    """Sums over one commitment's rows in one currency."""

    commitment_id: str
    currency: str
    name: str | None
    category: str | None
    type: str | None
    unit: str | None
    used_cost: str | None
    unused_cost: str | None
    used_quantity: str | None
    unused_quantity: str | None
    list_cost: str | None
    contracted_cost: str | None
    effective_cost: str | None
    purchase_cost: str | None
    rows: int


def _where(scope: Scope, start: date | None, end: date | None) -> tuple[str, Params]:
    sql, params = scope_where(scope)
    if start is not None:
        sql += " AND charge_day >= ?"
        params.append(start)
    if end is not None:
        sql += " AND charge_day < ?"
        params.append(end)
    return sql, params


def currency_sums(
    cur: duckdb.DuckDBPyConnection, scope: Scope, start: date | None, end: date | None
) -> list[CurrencySums]:
    """Per BillingCurrency: list, contracted, effective and billed sums and the missing-price shares."""
    where, params = _where(scope, start, end)
    used = "\"CommitmentDiscountStatus\" = 'Used' AND \"ChargeCategory\" = 'Usage'"
    # On-demand usage is eligible for coverage when its service (or its missing service) also had usage
    # covered by a commitment in the same currency and range.
    eligible = (
        "\"ChargeCategory\" = 'Usage' AND \"PricingCategory\" = 'Standard' "
        'AND "CommitmentDiscountId" IS NULL '
        "AND coalesce(\"ServiceName\", '') IN (SELECT coalesce(\"ServiceName\", '') FROM scoped s "
        f'WHERE s."BillingCurrency" IS NOT DISTINCT FROM scoped."BillingCurrency" AND {used})'
    )
    effective, billed = '"EffectiveCost"', '"BilledCost"'
    not_purchase = f"NOT {_PURCHASE}"
    unused = "\"CommitmentDiscountStatus\" = 'Unused'"
    columns = [
        f"count(*) FILTER (WHERE {not_purchase})",
        _sum(_LIST, not_purchase),
        _sum(_CONTRACTED, not_purchase),
        _sum(effective, not_purchase),
        _sum(billed, not_purchase),
        f'count(*) FILTER (WHERE {not_purchase} AND "ListCost" IS NULL)',
        f'count(*) FILTER (WHERE {not_purchase} AND "ContractedCost" IS NULL)',
        _sum(effective, f'{not_purchase} AND "ListCost" IS NULL'),
        _sum(effective, f'{not_purchase} AND "ContractedCost" IS NULL'),
        _sum(effective, used),
        _sum(effective, eligible),
        _sum(effective, unused),
        _sum(billed, _PURCHASE),
    ]
    sql = (
        f"WITH scoped AS (SELECT * FROM live_cost_rows WHERE {where}) "
        f'SELECT "BillingCurrency", {", ".join(columns)} '
        'FROM scoped GROUP BY "BillingCurrency" ORDER BY "BillingCurrency" NULLS LAST'
    )
    rows = cur.execute(sql, params).fetchall()
    return [
        CurrencySums(
            currency=r[0],
            rows=int(r[1]),
            list_cost=r[2],
            contracted_cost=r[3],
            effective_cost=r[4],
            billed_cost=r[5],
            rows_missing_list=int(r[6]),
            rows_missing_contracted=int(r[7]),
            cost_missing_list=r[8],
            cost_missing_contracted=r[9],
            covered_cost=r[10],
            on_demand_cost=r[11],
            unused_cost=r[12],
            purchase_cost=r[13],
        )
        for r in rows
    ]


def commitment_sums(
    cur: duckdb.DuckDBPyConnection, scope: Scope, start: date | None, end: date | None, limit: int
) -> list[CommitmentSums]:
    """Per commitment and currency: used and unused cost and quantity, prices, purchases."""
    where, params = _where(scope, start, end)
    used = "\"CommitmentDiscountStatus\" = 'Used'"
    unused = "\"CommitmentDiscountStatus\" = 'Unused'"
    usage = f"NOT {_PURCHASE}"
    quantity = '"CommitmentDiscountQuantity"'
    columns = [
        _sum('"EffectiveCost"', used),
        _sum('"EffectiveCost"', unused),
        _sum(quantity, used),
        _sum(quantity, unused),
        _sum(_LIST, usage),
        _sum(_CONTRACTED, usage),
        _sum('"EffectiveCost"', usage),
        _sum('"BilledCost"', _PURCHASE),
    ]
    sql = (
        'SELECT "CommitmentDiscountId", "BillingCurrency", max("CommitmentDiscountName"), '
        'max("CommitmentDiscountCategory"), max("CommitmentDiscountType"), max("CommitmentDiscountUnit"), '
        f"{', '.join(columns)}, count(*) "
        f'FROM live_cost_rows WHERE {where} AND "CommitmentDiscountId" IS NOT NULL '
        'GROUP BY "CommitmentDiscountId", "BillingCurrency" '
        'ORDER BY "BillingCurrency" NULLS LAST, "CommitmentDiscountId" LIMIT ?'
    )
    rows = cur.execute(sql, [*params, limit]).fetchall()
    return [CommitmentSums(*r) for r in rows]  # the columns in field order; count(*) is an int


def contract_commitments(
    cur: duckdb.DuckDBPyConnection, scope: Scope, ids: list[str]
) -> dict[str, dict[str, Any]]:
    """FOCUS 1.3 Contract Commitment rows whose ContractCommitmentId is one of `ids`, summed per id."""
    if not ids:
        return {}
    where, params = scope_where(scope)
    rows = cur.execute(
        'SELECT "ContractCommitmentId", "BillingCurrency", '
        'CAST(sum("ContractCommitmentCost") AS VARCHAR), CAST(sum("ContractCommitmentQuantity") AS VARCHAR), '
        'max("ContractCommitmentUnit"), max("ContractCommitmentCategory"), max("ContractCommitmentType"), '
        'min("ContractCommitmentPeriodStart"), '
        'max("ContractCommitmentPeriodEnd"), max("ContractId"), count(*) '
        f'FROM live_contract_commitment_rows WHERE {where} AND list_contains(?, "ContractCommitmentId") '
        'GROUP BY "ContractCommitmentId", "BillingCurrency"',
        [*params, ids],
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for cid, currency, cost, quantity, unit, category, kind, start, end, contract, n in rows:
        out[str(cid)] = {
            "contractId": contract,
            "billingCurrency": currency,
            "cost": cost,
            "quantity": quantity,
            "unit": unit,
            "category": category,
            "type": kind,
            "periodStart": _stamp(start),
            "periodEnd": _stamp(end),
            "rows": int(n),
        }
    return out


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
