"""Export windows outside the supported years are refused up front, and every stored job stays readable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.export import service
from focusbase.storage import Catalog, Warehouse
from focusbase.storage import exports as store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from tests.export.conftest import cost_row, insert_cost_rows, wait_for_job

URL = "/focus/v1/cost-and-usage/export"
MAX_ERROR_BYTES = 2_000


def _job_count(catalog: Catalog) -> int:
    with catalog.transaction() as tx:
        count: int = tx.execute("SELECT count(*) FROM export_jobs").fetchone()[0]
    return count


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "billingPeriodStart"),
        ("0677-01-01T00:00:00Z", "0677-02-01T00:00:00Z", "billingPeriodStart"),
        ("1899-12-31T23:59:59Z", "2026-01-01T00:00:00Z", "billingPeriodStart"),
        ("1900-01-01T00:30:00+01:00", "2026-01-01T00:00:00Z", "billingPeriodStart"),  # 1899 in UTC
        ("2026-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00", "billingPeriodEnd"),  # year 10000 in UTC
    ],
)
def test_window_outside_supported_years_is_400_and_stores_nothing(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str], start: str, end: str, field: str
) -> None:
    before = _job_count(catalog)
    resp = client.post(
        URL, json={"billingPeriodStart": start, "billingPeriodEnd": end}, headers=admin_headers
    )
    assert resp.status_code == 400, resp.text
    assert len(resp.content) < MAX_ERROR_BYTES
    error = resp.json()
    assert error["code"] == "invalid_request"
    assert f"{field}: must lie between the years 1900 and 9999 (UTC)" in error["message"]
    assert json.loads(error["details"]) == [
        {"location": f"body.{field}", "message": error["message"].split(f"{field}: ", 1)[1]}
    ]
    assert _job_count(catalog) == before


def test_widest_supported_window_exports_every_row(client: TestClient, admin_headers: dict[str, str]) -> None:
    warehouse: Warehouse = client.app.state.runtime.warehouse  # type: ignore[attr-defined]
    insert_cost_rows(warehouse, [cost_row(i) for i in range(5)])
    body = {"billingPeriodStart": "1900-01-01T00:00:00Z", "billingPeriodEnd": "9999-12-31T23:59:59.999999Z"}
    resp = client.post(URL, json=body, headers=admin_headers)
    assert resp.status_code == 202, resp.text
    job = wait_for_job(client, admin_headers, resp.json()["jobId"])
    assert job["status"] == "Complete" and job["recordCount"] == 5
    assert job["fileName"] == "cost-and-usage_focus-1.3_1900-01-01_9999-12-31.csv"


def test_sub_second_window_is_kept_exactly(client: TestClient, admin_headers: dict[str, str]) -> None:
    # Both ends fall in one second: the stored job must keep the fractions, or it could not be read back.
    body = {"billingPeriodStart": "2025-01-01T00:00:00.1Z", "billingPeriodEnd": "2025-01-01T00:00:00.2Z"}
    resp = client.post(URL, json=body, headers=admin_headers)
    assert resp.status_code == 202, resp.text
    job = wait_for_job(client, admin_headers, resp.json()["jobId"])
    assert job["status"] == "Complete" and job["recordCount"] == 0


def _stored_job(catalog: Catalog, job_id: str, request: str) -> None:
    store.insert_job(
        catalog,
        job_id=job_id,
        workspace_id=DEFAULT_WORKSPACE_ID,
        key_id=None,
        provider_ids=None,
        request=request,
    )


@pytest.mark.parametrize(
    ("request_text", "facts"),
    [
        # What earlier versions stored for a year-1 window: a three-character year.
        (
            json.dumps(
                {
                    "billing_period_start": "1-01-01T00:00:00Z",
                    "billing_period_end": "2026-01-01T00:00:00Z",
                    "format": "parquet",
                    "focus_version": "1.2",
                    "compression": None,
                    "include_contract_commitments": False,
                    "filters": {},
                }
            ),
            {"format": "parquet", "focusVersion": "1.2", "compression": None},
        ),
        ("not json at all", {"format": "csv", "focusVersion": "1.3", "compression": None}),
        ('["a", "list"]', {"format": "csv", "focusVersion": "1.3", "compression": None}),
    ],
)
def test_job_with_unreadable_request_is_failed_and_readable(
    client: TestClient,
    catalog: Catalog,
    admin_headers: dict[str, str],
    request_text: str,
    facts: dict[str, Any],
) -> None:
    _stored_job(catalog, "exp_unreadable", request_text)
    resp = client.get(f"{URL}/exp_unreadable", headers=admin_headers)
    assert resp.status_code == 200, resp.text
    assert len(resp.content) < MAX_ERROR_BYTES
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    service.run_job(runtime.settings, runtime.catalog, runtime.exports, "exp_unreadable")
    job = wait_for_job(client, admin_headers, "exp_unreadable")
    assert job["status"] == "Failed"
    assert job["error"] == "the stored export request cannot be read; start a new export"
    assert job["downloadUrl"] is None
    assert {k: job[k] for k in facts} == facts


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),  # end == start
        ("2025-02-01T00:00:00Z", "2025-01-01T00:00:00Z"),  # end before start
    ],
)
def test_empty_window_is_an_empty_export(
    client: TestClient, admin_headers: dict[str, str], start: str, end: str
) -> None:
    warehouse: Warehouse = client.app.state.runtime.warehouse  # type: ignore[attr-defined]
    insert_cost_rows(warehouse, [cost_row(i) for i in range(3)])  # January 2025: none in the window
    resp = client.post(
        URL, json={"billingPeriodStart": start, "billingPeriodEnd": end}, headers=admin_headers
    )
    assert resp.status_code == 202, resp.text
    job = wait_for_job(client, admin_headers, resp.json()["jobId"])
    assert job["status"] == "Complete" and job["recordCount"] == 0
    download = client.get(job["downloadUrl"])
    assert download.status_code == 200
    lines = download.text.splitlines()
    assert len(lines) == 1 and "BilledCost" in lines[0].split(",")  # the header, no rows
