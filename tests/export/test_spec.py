"""The pure part: request validation, file names and the output columns of each FOCUS version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from focusbase.export.spec import ExportRequestError, ExportSpec, output_columns
from focusbase.focus import VERSIONS, Dataset, columns

START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2025, 2, 1, tzinfo=UTC)


def test_window_is_normalised_to_naive_utc() -> None:
    spec = ExportSpec(datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), END)
    assert spec.billing_period_start == datetime(2025, 1, 1)
    assert spec.billing_period_end == datetime(2025, 2, 1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"billing_period_start": datetime(1899, 12, 31)}, "billingPeriodStart"),
        (
            {"billing_period_end": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))},
            "billingPeriodEnd",
        ),
        ({"format": "xml"}, "format"),
        ({"focus_version": "1.4"}, "focusVersion"),
        ({"compression": "brotli"}, "compression"),
        ({"format": "parquet", "compression": "gzip"}, "compression"),
        ({"focus_version": "1.0", "include_contract_commitments": True}, "includeContractCommitments"),
        ({"filters": {"tenant": "x"}}, "filters"),
    ],
)
def test_invalid_requests(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"billing_period_start": START, "billing_period_end": END, **kwargs}
    with pytest.raises(ExportRequestError) as err:
        ExportSpec(**args)  # type: ignore[arg-type]
    assert err.value.field == field


def test_file_names() -> None:
    assert ExportSpec(START, END).file_name() == "cost-and-usage_focus-1.3_2025-01-01_2025-02-01.csv"
    gz = ExportSpec(START, END, format="json", focus_version="1.1", compression="gzip")
    assert gz.file_name() == "cost-and-usage_focus-1.1_2025-01-01_2025-02-01.ndjson.gz"
    both = ExportSpec(START, END, format="parquet", include_contract_commitments=True)
    assert both.file_name() == "focus-1.3_2025-01-01_2025-02-01.zip"
    assert both.member_name(Dataset.CONTRACT_COMMITMENT) == "contract-commitment.parquet"


@pytest.mark.parametrize("version", VERSIONS)
def test_output_columns_follow_the_version(version: str) -> None:
    out = output_columns(version, Dataset.COST_AND_USAGE, ["x_b", "x_a", "x_a", "bad name", "x_"])
    assert [c.name for c in out] == [*columns(version), "x_a", "x_b"]
    assert all(c.source == c.name for c in out)  # no FOCUS column was renamed between 1.0 and 1.3
    assert {c.data_type for c in out[-2:]} == {"Custom"}
    if version != "1.3":
        assert "ServiceProviderName" not in {c.name for c in out}


def test_round_trip() -> None:
    spec = ExportSpec(START, END, format="json", compression="gzip", filters={"region": "eu-west-1"})
    assert ExportSpec.from_json(spec.to_json()) == spec
