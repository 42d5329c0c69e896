"""The demo generator's properties: exact row counts, determinism, exact costs, FOCUS-shaped content."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from focusbase.demo import generate, plan
from focusbase.focus import Dataset, allowed_service_subcategories, columns


@pytest.fixture(scope="module")
def rows12() -> list[dict[str, Any]]:
    table = generate(4000, days=21, seed=7)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


@pytest.fixture(scope="module")
def rows13() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = generate(4000, days=21, seed=7, focus_version="1.3").to_pylist()
    return rows


@pytest.mark.parametrize("n", [1, 2, 37, 500, 1234, 4000])
def test_row_count_is_exact(n: int) -> None:
    assert generate(n, days=21).num_rows == n


def test_small_files_drop_bookkeeping_rows_first() -> None:
    tiny, mid, full = plan(40, days=30), plan(400, days=30), plan(4000, days=30)
    assert (tiny.taxes_and_credits, tiny.commitments, tiny.usage_rows) == (False, False, 40)
    assert mid.taxes_and_credits and not mid.commitments
    assert full.taxes_and_credits and full.commitments
    assert full.usage_rows + full.special_rows == 4000


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="--rows"):
        plan(0)
    with pytest.raises(ValueError, match="--days"):
        plan(10, days=0)
    with pytest.raises(ValueError, match=r"1\.2 or 1\.3"):
        generate(10, focus_version="1.1")
    with pytest.raises(ValueError, match=r"from FOCUS 1\.3"):
        generate(10, dataset=Dataset.CONTRACT_COMMITMENT)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = generate(3000, days=10, seed=1)
    b = generate(3000, days=10, seed=1)
    c = generate(3000, days=10, seed=2)
    assert a.equals(b)
    assert not a.equals(c)
    assert a.num_rows == c.num_rows


def test_columns_and_types_follow_the_catalogue(rows12: list[dict[str, Any]]) -> None:
    for version in ("1.2", "1.3"):
        table = generate(50, days=5, focus_version=version)
        cols = columns(version)
        assert table.column_names == list(cols)
        for name, col in cols.items():
            typ = table.schema.field(name).type
            if col.data_type == "Decimal":
                assert pa.types.is_decimal(typ), name
            elif col.data_type == "Date/Time":
                assert pa.types.is_timestamp(typ) and typ.tz == "UTC", name
            else:
                assert pa.types.is_string(typ), name


def test_list_and_contracted_cost_are_exact_products(rows12: list[dict[str, Any]]) -> None:
    priced = [r for r in rows12 if r["ListUnitPrice"] is not None]
    assert len(priced) > 3000
    for r in priced:
        assert r["ListCost"] == r["ListUnitPrice"] * r["PricingQuantity"]
        assert r["ContractedCost"] == r["ContractedUnitPrice"] * r["PricingQuantity"]
        assert r["ContractedUnitPrice"] <= r["ListUnitPrice"]
    for r in rows12:
        assert isinstance(r["BilledCost"], Decimal) and isinstance(r["EffectiveCost"], Decimal)


def test_service_categories_and_subcategories_pair_up(rows12: list[dict[str, Any]]) -> None:
    parents = allowed_service_subcategories()
    category_of: dict[str, set[str]] = defaultdict(set)
    for r in rows12:
        assert parents[r["ServiceSubcategory"]] == r["ServiceCategory"]
        category_of[r["ServiceName"]].add(r["ServiceCategory"])
    assert all(len(cats) == 1 for cats in category_of.values())
    assert len(category_of) >= 10
    assert len({r["ProviderName"] for r in rows12}) == 4
    assert len({r["BillingCurrency"] for r in rows12}) == 2


def test_every_charge_kind_is_present(rows12: list[dict[str, Any]]) -> None:
    kinds = {(r["ChargeCategory"], r["CommitmentDiscountStatus"]) for r in rows12}
    assert kinds >= {("Usage", None), ("Usage", "Used"), ("Usage", "Unused"), ("Purchase", None),
                     ("Tax", None), ("Credit", None)}  # fmt: skip
    for r in rows12:
        if r["ChargeCategory"] == "Credit":
            assert r["BilledCost"] < 0 and r["ChargeFrequency"] == "One-Time"
        if r["ChargeCategory"] in ("Tax", "Credit"):
            assert r["ListUnitPrice"] is None and r["PricingQuantity"] is None and r["SkuId"] is None
            assert r["ListCost"] == r["BilledCost"] == r["EffectiveCost"] == r["ContractedCost"]
        if r["ChargeCategory"] == "Purchase":
            assert r["EffectiveCost"] == 0 and r["BilledCost"] > 0
            assert r["ChargeFrequency"] in ("One-Time", "Recurring") and r["PricingCategory"] == "Standard"
            assert r["ResourceId"] == r["CommitmentDiscountId"]
        if r["CommitmentDiscountStatus"] == "Used":
            assert r["BilledCost"] == 0 and r["EffectiveCost"] > 0 and r["PricingCategory"] == "Committed"
        if r["CommitmentDiscountStatus"] == "Unused":
            assert r["ResourceId"] == r["CommitmentDiscountId"] and r["ConsumedQuantity"] is None


def test_amortisation_balances_per_recurring_commitment(rows12: list[dict[str, Any]]) -> None:
    # DiscountHandling: what the purchases billed is spread over the Used and Unused usage rows.
    billed: dict[str, Decimal] = defaultdict(Decimal)
    effective: dict[str, Decimal] = defaultdict(Decimal)
    recurring = set()
    for r in rows12:
        cid = r["CommitmentDiscountId"]
        if cid is None:
            continue
        if r["ChargeCategory"] == "Purchase":
            billed[cid] += r["BilledCost"]
            if r["ChargeFrequency"] == "Recurring":
                recurring.add(cid)
        else:
            effective[cid] += r["EffectiveCost"]
    assert len(recurring) == 2
    for cid in recurring:
        assert billed[cid] == effective[cid] > 0
    upfront = set(billed) - recurring
    assert len(upfront) == 1 and all(
        billed[c] > effective[c] for c in upfront
    )  # a year prepaid, 21 days used


def test_null_pairs_and_json_columns(rows12: list[dict[str, Any]]) -> None:
    for r in rows12:
        assert (r["PricingUnit"] is None) == (r["PricingQuantity"] is None)
        assert (r["ConsumedUnit"] is None) == (r["ConsumedQuantity"] is None)
        assert (r["CommitmentDiscountUnit"] is None) == (r["CommitmentDiscountQuantity"] is None)
        assert (r["RegionName"] is None) == (r["RegionId"] is None)
        assert (r["ResourceType"] is None) == (r["ResourceId"] is None)
        assert (r["SubAccountName"] is None) == (r["SubAccountId"] is None)
        assert r["ChargePeriodStart"] < r["ChargePeriodEnd"]
        assert (
            r["BillingPeriodStart"] <= r["ChargePeriodStart"]
            and r["ChargePeriodEnd"] <= r["BillingPeriodEnd"]
        )
        for name in ("Tags", "SkuPriceDetails"):
            if r[name] is not None:
                value = json.loads(r[name])
                assert isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values())
    assert sum(r["Tags"] is not None for r in rows12) > len(rows12) // 2


def test_weekly_seasonality_and_growth() -> None:
    rows = generate(20000, days=28, seed=3, start=date(2025, 3, 3)).to_pylist()  # 2025-03-03 is a Monday
    per_day: dict[int, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["ChargeCategory"] == "Usage" and r["CommitmentDiscountStatus"] != "Unused":
            per_day[(r["ChargePeriodStart"].date() - date(2025, 3, 3)).days] += r["ListCost"]
    weekday = [per_day[d] for d in range(28) if d % 7 < 5]
    weekend = [per_day[d] for d in range(28) if d % 7 >= 5]
    assert sum(weekend) / len(weekend) < Decimal("0.85") * sum(weekday) / len(weekday)
    assert sum(per_day[d] for d in range(21, 28)) > sum(per_day[d] for d in range(7))


def test_focus_13_columns_and_contract_commitments(rows13: list[dict[str, Any]]) -> None:
    contracts = generate(4000, days=21, seed=7, focus_version="1.3", dataset=Dataset.CONTRACT_COMMITMENT)
    assert contracts.column_names == list(columns("1.3", Dataset.CONTRACT_COMMITMENT))
    cc = {r["ContractCommitmentId"]: r for r in contracts.to_pylist()}
    assert {r["ContractCommitmentCategory"] for r in cc.values()} == {"Spend", "Usage"}
    discount_ids = {r["CommitmentDiscountId"] for r in rows13 if r["CommitmentDiscountId"]}
    assert discount_ids <= set(cc)
    applied = 0
    for r in rows13:
        assert r["ServiceProviderName"] == r["ProviderName"]
        if r["ContractApplied"] is not None:
            applied += 1
            element = json.loads(r["ContractApplied"])["Elements"][0]
            commitment = cc[element["ContractCommitmentId"]]
            assert element["ContractId"] == commitment["ContractId"]
            if commitment["ContractCommitmentCategory"] == "Usage" and r["ChargeCategory"] == "Usage":
                assert element["ContractCommitmentAppliedUnit"] == commitment["ContractCommitmentUnit"]
            else:
                assert "ContractCommitmentAppliedCost" in element
            if r["ChargeCategory"] == "Purchase":
                assert element["ContractCommitmentId"] == r["ResourceId"]
        if r["ChargeCategory"] in ("Tax", "Credit"):
            assert r["HostProviderName"] is None
    assert applied > 1000
    for row in cc.values():
        assert row["ContractCommitmentPeriodStart"] < row["ContractCommitmentPeriodEnd"]
        assert (row["ContractCommitmentUnit"] is None) == (row["ContractCommitmentQuantity"] is None)


def test_contract_periods_cover_the_rows_that_cite_them() -> None:
    days = 400
    rows = generate(60000, days=days, seed=2, focus_version="1.3").to_pylist()
    contracts = generate(60000, days=days, seed=2, focus_version="1.3", dataset=Dataset.CONTRACT_COMMITMENT)
    periods = {r["ContractCommitmentId"]: r for r in contracts.to_pylist()}
    cited = 0
    for r in rows:
        if r["ContractApplied"] is None:
            continue
        commitment = periods[json.loads(r["ContractApplied"])["Elements"][0]["ContractCommitmentId"]]
        assert commitment["ContractPeriodStart"] <= r["ChargePeriodStart"]
        assert r["ChargePeriodEnd"] <= commitment["ContractPeriodEnd"]
        assert commitment["ContractCommitmentPeriodStart"] <= r["ChargePeriodStart"]
        assert r["ChargePeriodEnd"] <= commitment["ContractCommitmentPeriodEnd"]
        cited += 1
    assert cited > 10000
