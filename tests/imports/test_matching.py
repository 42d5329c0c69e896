"""Auto-matching headers to FOCUS columns, and checking mapping documents against a header."""

from __future__ import annotations

import pytest

from focusbase.focus import Dataset
from focusbase.ingest.mapping import MappingError, parse_mapping, resolve
from focusbase.ingest.matching import match_headers, money_style, normalise

CU = Dataset.COST_AND_USAGE


def _by_source(header: list[str], **kwargs: object) -> dict[str, tuple[str, str, float]]:
    result = match_headers(header, CU, **kwargs)  # type: ignore[arg-type]
    return {p.source: (p.column, p.status, p.confidence) for p in result.proposals}


def test_exact_and_spelling_variants_are_applied_automatically() -> None:
    header = ["BilledCost", "Billed Cost", "charge_period_start", "SERVICENAME", "billing-currency"]
    found = _by_source(header)
    assert found["BilledCost"] == ("BilledCost", "auto", 1.0)
    # 'Billed Cost' loses to the exact name for the same column and is not proposed.
    assert "Billed Cost" not in found
    assert found["charge_period_start"][:2] == ("ChargePeriodStart", "auto")
    assert found["SERVICENAME"][:2] == ("ServiceName", "auto")
    assert found["billing-currency"][:2] == ("BillingCurrency", "auto")


def test_renames_across_versions_are_matched_with_a_reason() -> None:
    result = match_headers(["Region", "UsageQuantity", "UsageUnit", "ProviderName"], CU)
    by_source = {p.source: p for p in result.proposals if p.column != "ServiceProviderName"}
    assert by_source["Region"].column == "RegionId"
    assert "renamed" in by_source["Region"].reason or "API" in by_source["Region"].reason
    assert by_source["UsageQuantity"].column == "ConsumedQuantity"
    assert by_source["UsageUnit"].column == "ConsumedUnit"
    # A 1.0-1.2 file without ServiceProviderName: ProviderName feeds it too.
    spn = [p for p in result.proposals if p.column == "ServiceProviderName"]
    assert spn and spn[0].source == "ProviderName" and spn[0].status == "auto"
    assert result.auto.columns["ServiceProviderName"].source == "ProviderName"


def test_vendor_headers_are_only_suggested() -> None:
    result = match_headers(["Date", "Service", "Cost", "Currency"], CU)
    statuses = {p.source: (p.column, p.status) for p in result.proposals}
    assert statuses == {
        "Date": ("ChargePeriodStart", "suggested"),
        "Service": ("ServiceName", "suggested"),
        "Cost": ("BilledCost", "suggested"),
        "Currency": ("BillingCurrency", "suggested"),
    }
    assert result.auto.columns == {}
    assert set(result.suggested.columns) == {
        "ChargePeriodStart",
        "ServiceName",
        "BilledCost",
        "BillingCurrency",
    }
    assert all(p.confidence < 0.9 for p in result.proposals)


def test_two_candidates_for_one_column_are_ambiguous_and_never_applied() -> None:
    result = match_headers(["Cost", "Amount", "Date"], CU)
    ambiguous = {p.source for p in result.proposals if p.status == "ambiguous"}
    assert ambiguous == {"Cost", "Amount"}
    assert "BilledCost" not in result.suggested.columns
    assert "BilledCost" not in result.auto.columns
    assert "ambiguous" in next(p.reason for p in result.proposals if p.source == "Cost")


def test_money_and_date_formats_are_detected_from_the_sample() -> None:
    sample = {"Cost": ["$1,234.50", "(5.00)"], "Date": ["31/12/2024"]}
    result = match_headers(["Cost", "Date"], CU, sample=sample, date_formats={"Date": "%d/%m/%Y"})
    assert result.suggested.columns["BilledCost"].number == "money"
    assert result.suggested.columns["ChargePeriodStart"].date_format == "%d/%m/%Y"
    assert money_style(["1.234,50", "12,5"]) == (True, True)
    assert money_style(["12.50", "3"]) == (False, False)
    assert money_style(["$3.00"]) == (True, False)


def test_oci_provider_columns_become_custom_columns() -> None:
    result = match_headers(["BilledCost", "oci_CompartmentId"], CU)
    assert result.auto.custom == {"x_oci_CompartmentId": "oci_CompartmentId"}


def test_contract_commitment_headers_match_that_dataset() -> None:
    header = ["ContractCommitmentId", "CommitmentStartDate", "BillingCurrency"]
    result = match_headers(header, Dataset.CONTRACT_COMMITMENT)
    cols = {p.source: p.column for p in result.proposals}
    assert cols == {
        "ContractCommitmentId": "ContractCommitmentId",
        "CommitmentStartDate": "ContractCommitmentPeriodStart",
        "BillingCurrency": "BillingCurrency",
    }


def test_normalise() -> None:
    assert normalise("Billed Cost") == normalise("billed_cost") == normalise("BILLEDCOST") == "billedcost"
    assert normalise("\ufeffBilled-Cost") == "billedcost"


def test_resolve_reports_every_problem() -> None:
    mapping = parse_mapping(
        {
            "columns": {
                "BilledCost": {"source": "Amount", "dateFormat": "%d"},
                "NotAColumn": {"value": "x"},
                "ServiceName": {"source": "Missing"},
            },
            "custom": {"Notes": "Notes"},
            "ignore": ["Ghost"],
        }
    )
    with pytest.raises(MappingError) as caught:
        resolve(mapping, ["Amount", "Notes", "Extra"], CU)
    messages = " | ".join(f"{p['location']}: {p['message']}" for p in caught.value.problems)
    assert "dateFormat applies to Date/Time columns only" in messages
    assert "'NotAColumn' is not a FOCUS CostAndUsage column" in messages
    assert "source column 'Missing' is not in the file" in messages
    assert "custom column names must start with x_" in messages
    assert "ignored column 'Ghost' is not in the file" in messages
    assert "source column 'Extra' is not mapped" in messages


def test_resolve_keeps_x_columns_and_orders_outputs() -> None:
    mapping = parse_mapping(
        {
            "columns": {
                "BilledCost": {"source": "Amount", "number": "money"},
                "ServiceName": {"value": "Datadog"},
            },
            "tags": {"env": "Environment"},
            "ignore": ["Id"],
        }
    )
    resolved = resolve(mapping, ["Amount", "Environment", "Id", "x_Team"], CU)
    assert [o.name for o in resolved.outputs] == ["BilledCost", "ServiceName", "x_Team"]
    assert resolved.tag_sources == (("env", "Environment"),)


def test_parse_mapping_rejects_bad_documents() -> None:
    with pytest.raises(MappingError, match="exactly one of 'source'"):
        parse_mapping({"columns": {"BilledCost": {"source": "a", "value": "1"}}})
    with pytest.raises(MappingError, match="unknownKey"):
        parse_mapping({"unknownKey": 1})
    with pytest.raises(MappingError, match="must be a JSON object"):
        parse_mapping(["BilledCost"])


def test_guessed_date_formats_and_decimal_commas_need_confirmation_even_under_exact_names() -> None:
    sample = {"BilledCost": ["1.234,50"], "ChargePeriodStart": ["12/03/2025"]}
    result = match_headers(
        ["BilledCost", "ChargePeriodStart", "ServiceName"],
        CU,
        sample=sample,
        date_formats={"ChargePeriodStart": "%d/%m/%Y"},
    )
    status = {p.column: p.status for p in result.proposals}
    assert status == {"BilledCost": "suggested", "ChargePeriodStart": "suggested", "ServiceName": "auto"}
    assert set(result.auto.columns) == {"ServiceName"}
    assert result.suggested.options.decimal_comma and not result.auto.options.decimal_comma
    assert result.suggested.columns["ChargePeriodStart"].date_format == "%d/%m/%Y"
