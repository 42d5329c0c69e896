"""One bad value among 2,000 good rows, for every rule family: reported at its row and column only."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pyarrow as pa
import pytest

from focusbase.ingest.files import validate_file
from focusbase.validate import ValidationResult, validate_table

VALID = Path(__file__).resolve().parents[1] / "cases" / "valid"

# Row kinds of the generated clean files cycle every 10 rows (see tests/cases/make_cases.py); data rows are
# 1-based, so row 1235 is index 1234, a plain usage row.
USAGE, COMMITTED, TAX, CREDIT, PURCHASE, UNUSED = 1235, 1234, 1236, 1237, 1238, 1239
CAPACITY = 1201  # an AWS usage row with a capacity reservation


@cache
def _base(version: str) -> tuple[list[str], tuple[tuple[str | None, ...], ...]]:
    with (VALID / f"focus-{version}-clean.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = tuple(tuple(cell if cell != "" else None for cell in row) for row in reader)
    return header, rows


def _table(version: str, row: int, changes: dict[str, str | None], drop: str | None = None) -> pa.Table:
    header, rows = _base(version)
    data = [list(r) for r in rows]
    for name, value in changes.items():
        data[row - 1][header.index(name)] = value
    columns = {name: [r[i] for r in data] for i, name in enumerate(header) if name != drop}
    return pa.table({name: pa.array(values, type=pa.string()) for name, values in columns.items()})


@dataclass(frozen=True)
class Defect:
    rule: str
    row: int
    column: str
    changes: dict[str, str | None]
    version: str = "1.2"
    also: frozenset[str] = field(default_factory=frozenset)


DEFECTS = [
    Defect("null-placeholder", USAGE, "BillingAccountName", {"BillingAccountName": "NULL"}),
    Defect("null-placeholder", USAGE, "ResourceName", {"ResourceName": "  "}),
    Defect("null-placeholder", TAX, "ListUnitPrice", {"ListUnitPrice": "NULL"}),
    Defect("null-placeholder", USAGE, "ChargeClass", {"ChargeClass": "null"}),
    Defect("not-null", USAGE, "BilledCost", {"BilledCost": None}),
    Defect("not-null", USAGE, "ServiceName", {"ServiceName": None}),
    Defect("numeric-format", USAGE, "BilledCost", {"BilledCost": "1,234.50"}),
    Defect("numeric-format", USAGE, "EffectiveCost", {"EffectiveCost": "+5"}),
    Defect("numeric-format", USAGE, "ContractedCost", {"ContractedCost": "$12.00"}),
    Defect("numeric-format", USAGE, "BilledCost", {"BilledCost": "35.2E+7"}),
    Defect("numeric-format", USAGE, "ConsumedQuantity", {"ConsumedQuantity": "12 GB"}),
    Defect("decimal-precision", USAGE, "EffectiveCost", {"EffectiveCost": "1.1234567890123"}),
    Defect("datetime-format", USAGE, "ChargePeriodStart", {"ChargePeriodStart": "2025-01-05 00:00:00"}),
    Defect("datetime-format", USAGE, "ChargePeriodEnd", {"ChargePeriodEnd": "2025-02-30T00:00:00Z"}),
    Defect("datetime-format", USAGE, "BillingPeriodStart", {"BillingPeriodStart": "2025-01-01"}),
    Defect(
        "allowed-value",
        USAGE,
        "ChargeCategory",
        {"ChargeCategory": "usage"},
        also=frozenset({"consumed-quantity-null"}),
    ),
    Defect("allowed-value", USAGE, "ServiceCategory", {"ServiceCategory": "compute"}),
    Defect("allowed-value", USAGE, "PricingCategory", {"PricingCategory": "On-Demand"}),
    Defect("allowed-value", USAGE, "ChargeClass", {"ChargeClass": "correction"}),
    Defect("allowed-value", USAGE, "ServiceSubcategory", {"ServiceSubcategory": "Virtual Machine"}),
    Defect("allowed-value", COMMITTED, "CommitmentDiscountStatus", {"CommitmentDiscountStatus": "Active"}),
    Defect("service-subcategory-parent", USAGE, "ServiceSubcategory", {"ServiceSubcategory": "Caching"}),
    Defect("currency-code", USAGE, "BillingCurrency", {"BillingCurrency": "US$"}),
    Defect("currency-code", USAGE, "BillingCurrency", {"BillingCurrency": "usd"}),
    Defect("json-object", USAGE, "Tags", {"Tags": "env=prod"}),
    Defect("json-object", USAGE, "Tags", {"Tags": '["env"]'}),
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"env":{"nested":true}}'}),
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"env":"a","env":"b"}'}),
    # Duplicate keys are found pairwise up to four keys and by first position beyond: one case each.
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"a":"1","b":"2","b":"3"}'}),
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"a":"1","b":"2","c":"3","a":"4"}'}),
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"a":"1","b":"2","c":"3","d":"4","c":"5"}'}),
    Defect("key-value-format", USAGE, "Tags", {"Tags": '{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"a":7}'}),
    Defect("sku-price-details-key", USAGE, "SkuPriceDetails", {"SkuPriceDetails": '{"Tier":1}'}),
    Defect("charge-period-order", USAGE, "ChargePeriodEnd", {"ChargePeriodEnd": "2025-01-01T00:00:00Z"}),
    Defect(
        "billing-period-order",
        USAGE,
        "BillingPeriodEnd",
        {"BillingPeriodEnd": "2024-12-01T00:00:00Z"},
        also=frozenset({"charge-period-outside-billing-period"}),
    ),
    Defect(
        "charge-period-outside-billing-period",
        USAGE,
        "ChargePeriodStart",
        {"ChargePeriodStart": "2024-12-30T00:00:00Z"},
    ),
    Defect("null-for-tax", TAX, "SkuId", {"SkuId": "SKU-X"}),
    Defect("null-for-tax", TAX, "ListUnitPrice", {"ListUnitPrice": "1"}),
    Defect(
        "required-for-usage-purchase",
        USAGE,
        "SkuPriceId",
        {"SkuPriceId": None},
        also=frozenset({"set-without-parent"}),
    ),
    Defect("required-for-usage-purchase", PURCHASE, "PricingCategory", {"PricingCategory": None}),
    Defect("charge-frequency-purchase", PURCHASE, "ChargeFrequency", {"ChargeFrequency": "Usage-Based"}),
    Defect("set-without-parent", USAGE, "SubAccountName", {"SubAccountId": None}),
    Defect("set-without-parent", TAX, "ResourceName", {"ResourceName": "leftover"}),
    Defect("missing-with-parent", USAGE, "RegionName", {"RegionName": None}),
    Defect("missing-with-parent", COMMITTED, "CommitmentDiscountStatus", {"CommitmentDiscountStatus": None}),
    Defect("missing-with-parent", COMMITTED, "CommitmentDiscountType", {"CommitmentDiscountType": None}),
    Defect(
        "missing-with-parent",
        COMMITTED,
        "CommitmentDiscountQuantity",
        {"CommitmentDiscountQuantity": None, "CommitmentDiscountUnit": None},
    ),
    Defect("missing-with-parent", CAPACITY, "CapacityReservationStatus", {"CapacityReservationStatus": None}),
    Defect("quantity-without-unit", USAGE, "PricingUnit", {"PricingUnit": None}),
    Defect("unit-without-quantity", UNUSED, "ConsumedUnit", {"ConsumedUnit": "Hours"}),
    Defect(
        "consumed-quantity-null",
        TAX,
        "ConsumedQuantity",
        {"ConsumedQuantity": "5"},
        also=frozenset({"quantity-without-unit"}),
    ),
    Defect(
        "consumed-quantity-required",
        USAGE,
        "ConsumedQuantity",
        {"ConsumedQuantity": None, "ConsumedUnit": None},
    ),
    Defect("list-cost-product", USAGE, "ListCost", {"ListCost": "999.5"}),
    Defect("contracted-cost-product", USAGE, "ContractedCost", {"ContractedCost": "0.01"}),
    Defect("effective-cost-prepaid-purchase", PURCHASE, "EffectiveCost", {"EffectiveCost": "12.5"}),
    Defect(
        "unit-price-negative",
        USAGE,
        "ContractedUnitPrice",
        {"ContractedUnitPrice": "-0.1"},
        also=frozenset({"contracted-cost-product"}),
    ),
    Defect(
        "service-name-one-category",
        USAGE,
        "ServiceCategory",
        {"ServiceCategory": "Storage", "ServiceSubcategory": "Object Storage"},
    ),
    Defect("sku-price-one-sku", USAGE, "SkuId", {"SkuId": "SKU-OTHER"}),
    # FOCUS 1.0 and 1.1 files.
    Defect(
        "datetime-format", USAGE, "ChargePeriodEnd", {"ChargePeriodEnd": "2025-01-05T00:00:00"}, version="1.0"
    ),
    Defect("allowed-value", USAGE, "PricingCategory", {"PricingCategory": "Commitment-Based"}, version="1.0"),
    Defect("set-without-parent", TAX, "SkuMeter", {"SkuMeter": "Hours"}, version="1.1"),
    Defect(
        "allowed-value",
        USAGE,
        "ServiceSubcategory",
        {"ServiceSubcategory": "virtual machines"},
        version="1.1",
    ),
    # FOCUS 1.3 additions.
    Defect(
        "null-without-sku-price",
        CREDIT,
        "PricingQuantity",
        {"PricingQuantity": "1"},
        version="1.3",
        also=frozenset({"quantity-without-unit"}),
    ),
    Defect("not-null", USAGE, "ServiceProviderName", {"ServiceProviderName": None}, version="1.3"),
    Defect("allowed-value", USAGE, "ChargeFrequency", {"ChargeFrequency": "usage-based"}, version="1.3"),
    Defect(
        "json-element-keys",
        USAGE,
        "ContractApplied",
        {"ContractApplied": '{"Elements":[{"ContractId":"c-1","ContractCommitmentId":"cc-1","Discount":1}]}'},
        version="1.3",
    ),
    Defect(
        "json-elements",
        USAGE,
        "ContractApplied",
        {"ContractApplied": '{"Elements":{"ContractId":"c"}}'},
        version="1.3",
    ),
    Defect(
        "json-element-keys",
        USAGE,
        "AllocatedMethodDetails",
        {"AllocatedMethodDetails": '{"Elements":[{"UsageQuantity":1,"UsageUnit":"Hours"}]}'},
        version="1.3",
    ),
    Defect("key-value-format", USAGE, "AllocatedTags", {"AllocatedTags": '{"team":["a"]}'}, version="1.3"),
]


def _assert_only(result: ValidationResult, defect: Defect) -> None:
    hits = [
        f for f in result.findings if (f.row, f.column, f.rule) == (defect.row, defect.column, defect.rule)
    ]
    assert hits, [f.to_dict() for f in result.findings]
    assert hits[0].severity == "error"
    errors = [f for f in result.errors]
    assert {f.row for f in errors} == {defect.row}, [f.to_dict() for f in errors]
    assert {f.rule for f in errors} <= {defect.rule} | defect.also, [f.to_dict() for f in errors]
    assert result.invalid_rows == [defect.row]
    assert not result.valid


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick-first"])
@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: f"{d.version}-{d.rule}-{d.column}")
def test_seeded_defect_is_reported_at_its_row_and_column(defect: Defect, quick: bool) -> None:
    # quick-first is how imports and pushes check a part: the cheap pass must notice every rule family, so
    # that the full pass runs and reports the same finding.
    table = _table(defect.version, defect.row, defect.changes)
    _assert_only(validate_table(table, version=defect.version, quick=quick), defect)


@pytest.mark.parametrize("profile", ["ingest", "strict"])
@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_quick_first_gives_the_full_result_on_clean_rows(version: str, profile: str) -> None:
    header, rows = _base(version)
    columns = {name: pa.array([r[i] for r in rows], type=pa.string()) for i, name in enumerate(header)}
    table = pa.table(columns)
    full = validate_table(table, version=version, profile=profile)  # type: ignore[arg-type]
    quick = validate_table(table, version=version, profile=profile, quick=True)  # type: ignore[arg-type]
    assert quick.rows == full.rows == 2000
    assert quick.findings == full.findings
    assert quick.counts == full.counts
    assert quick.invalid_rows == full.invalid_rows == []


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_clean_files_have_no_findings(version: str) -> None:
    result = validate_file(VALID / f"focus-{version}-clean.csv", version=version).result
    assert result.rows == 2000
    assert result.findings == []
    assert result.valid


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [("BilledCost", "12,50", "numeric-format"), ("ListUnitPrice", "NULL", "null-placeholder")],
)
def test_seeded_defect_through_a_csv_file(tmp_path: Path, column: str, value: str, rule: str) -> None:
    header, rows = _base("1.2")
    path = tmp_path / "one-bad.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for number, row in enumerate(rows, start=1):
            cells = ["" if c is None else c for c in row]
            if number == TAX:
                cells[header.index(column)] = value
            writer.writerow(cells)
    result = validate_file(path, version="1.2").result
    _assert_only(result, Defect(rule, TAX, column, {}))
    assert f'"{value}"' in result.errors[0].message


def test_allowed_value_hint_names_the_near_miss() -> None:
    result = validate_table(_table("1.2", USAGE, {"ChargeCategory": "usage"}), version="1.2")
    finding = next(f for f in result.findings if f.rule == "allowed-value")
    assert 'did you mean "Usage"' in finding.message


def test_missing_and_unknown_columns_are_file_level() -> None:
    table = _table("1.2", USAGE, {}, drop="BilledCost").append_column("Project", pa.array(["p"] * 2000))
    result = validate_table(table, version="1.2")
    file_level = {(f.column, f.rule) for f in result.findings if f.row is None}
    assert ("BilledCost", "column-missing") in file_level
    assert ("Project", "column-unknown") in file_level
    assert result.invalid_rows == []
    assert not result.valid


def test_warning_only_keeps_the_file_valid() -> None:
    result = validate_table(_table("1.2", USAGE, {"InvoiceIssuerName": "Marketplace Ltd"}), version="1.2")
    assert result.valid
    assert [(f.row, f.rule, f.severity) for f in result.findings] == [
        (USAGE, "billed-cost-third-party", "warning")
    ]


def test_service_name_with_two_subcategories_is_a_warning() -> None:
    result = validate_table(_table("1.2", USAGE, {"ServiceSubcategory": "Other (Compute)"}), version="1.2")
    assert result.valid
    assert [(f.row, f.column, f.rule, f.severity) for f in result.findings] == [
        (USAGE, "ServiceSubcategory", "service-name-one-subcategory", "warning")
    ]


@pytest.mark.parametrize("keys", [2, 3, 4, 5, 8])
def test_tags_with_distinct_keys_are_valid(keys: int) -> None:
    tags = "{" + ",".join(f'"k{i}":"v{i}"' for i in range(keys)) + "}"
    result = validate_table(_table("1.2", USAGE, {"Tags": tags}), version="1.2")
    assert result.errors == [], [f.to_dict() for f in result.errors]
