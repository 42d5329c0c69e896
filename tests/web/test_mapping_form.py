"""The mapping editor's form: a mapping document shown as rows and read back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from focusbase.web.mapping_form import FormError, constants, document_from_form, editor_rows

HEADER = ["Date", "Service", "Cost", "Env", "Notes", "Id", "Provider"]
DOCUMENT: dict[str, Any] = {
    "columns": {
        "ChargePeriodStart": {"source": "Date", "dateFormat": "%d/%m/%Y"},
        "ServiceName": {"source": "Service"},
        "BilledCost": {"source": "Cost", "number": "money"},
        "ChargeCategory": {"value": "Usage"},
        "ProviderName": {"source": "Provider"},
        "ServiceProviderName": {"source": "Provider"},
    },
    "tags": {"env": "Env"},
    "custom": {"x_Notes": "Notes"},
    "ignore": ["Id"],
    "options": {"nullStrings": ["NULL"], "lenientTimestamps": False, "decimalComma": True},
}


def _as_form(document: dict[str, Any]) -> dict[str, str]:
    rows = editor_rows(document, HEADER, [])
    form = {"rows": str(len(rows))}
    for i, row in enumerate(rows):
        form.update({f"h{i}": row.header, f"t{i}": row.target, f"n{i}": row.name, f"f{i}": row.date_format})
        if row.money:
            form[f"m{i}"] = "on"
    shown = constants(document)
    form["constants"] = str(len(shown))
    for j, constant in enumerate(shown):
        form.update({f"cc{j}": constant.column, f"cv{j}": constant.value})
    form["nullStrings"] = ", ".join(document["options"]["nullStrings"])
    if document["options"]["decimalComma"]:
        form["decimalComma"] = "on"
    return form


def test_a_document_survives_the_editor() -> None:
    assert document_from_form(_as_form(DOCUMENT)) == DOCUMENT


def test_one_source_feeding_two_columns_gets_two_rows() -> None:
    rows = editor_rows(DOCUMENT, HEADER, [])
    assert [r.target for r in rows if r.header == "Provider"] == [
        "col:ProviderName",
        "col:ServiceProviderName",
    ]


def test_required_columns_the_document_lacks_are_offered_as_constants() -> None:
    shown = constants({"columns": {"BilledCost": {"source": "Cost"}}})
    assert [c.column for c in shown if c.required] == ["ChargePeriodStart", "ServiceName", "ChargeCategory"]


def test_a_column_mapped_twice_is_refused_naming_the_control() -> None:
    form = _as_form(DOCUMENT)
    form["t1"] = "col:ChargePeriodStart"
    with pytest.raises(FormError) as caught:
        document_from_form(form)
    assert caught.value.field == "t1" and "'Date' and 'Service'" in str(caught.value)


def test_a_custom_column_without_a_name_gets_one_from_its_header() -> None:
    form = {"rows": "1", "h0": "Unit price (€)", "t0": "custom", "n0": ""}
    assert document_from_form(form)["custom"] == {"x_Unit_price": "Unit price (€)"}


def test_a_tag_key_given_twice_is_refused() -> None:
    form = {"rows": "2", "h0": "Env", "t0": "tag", "n0": "env", "h1": "Stage", "t1": "tag", "n1": "env"}
    with pytest.raises(FormError) as caught:
        document_from_form(form)
    assert caught.value.field == "n1" and "tag key 'env' is given to both 'Env' and 'Stage'" in str(
        caught.value
    )
