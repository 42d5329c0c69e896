from __future__ import annotations

import pytest

from focusbase.focus import (
    Dataset,
    all_column_names,
    allowed_service_subcategories,
    column,
    columns,
    current_name,
)


def test_column_counts_per_version_match_the_spec() -> None:
    assert [len(columns(v)) for v in ("1.0", "1.1", "1.2", "1.3")] == [43, 50, 57, 65]
    assert len(columns("1.3", Dataset.CONTRACT_COMMITMENT)) == 13


def test_column_attributes() -> None:
    billed = column("BilledCost", "1.2")
    assert billed is not None
    assert (billed.data_type, billed.feature_level, billed.nullable) == ("Decimal", "Mandatory", False)
    assert column("ChargeCategory", "1.3").allowed_values == (  # type: ignore[union-attr]
        "Usage",
        "Purchase",
        "Tax",
        "Credit",
        "Adjustment",
    )
    assert column("ServiceProviderName", "1.2") is None
    provider = column("ProviderName", "1.3")
    assert provider is not None and provider.deprecated and provider.mandatory


def test_uncertain_rows_resolved_by_errata() -> None:
    assert column("PricingCurrency", "1.2").nullable is False  # type: ignore[union-attr]
    assert column("PricingCurrencyEffectiveCost", "1.3").nullable is False  # type: ignore[union-attr]
    assert column("HostProviderName", "1.3").nullable is True  # type: ignore[union-attr]
    assert column("ContractId", "1.3", Dataset.CONTRACT_COMMITMENT).nullable is False  # type: ignore[union-attr]


def test_renames_and_subcategories() -> None:
    assert current_name("Region") == "RegionId"
    assert current_name("UsageQuantity") == "ConsumedQuantity"
    assert current_name("BilledCost") == "BilledCost"
    subs = allowed_service_subcategories()
    assert subs["Other (Compute)"] == "Compute"
    assert "ServiceProviderName" in all_column_names()


def test_contract_commitment_only_in_13() -> None:
    with pytest.raises(ValueError, match=r"1\.3"):
        columns("1.2", Dataset.CONTRACT_COMMITMENT)
    with pytest.raises(ValueError, match="unsupported"):
        columns("0.5")
    assert Dataset.parse("contract-commitment") is Dataset.CONTRACT_COMMITMENT
