"""dataLastUpdated and dataCompleteness, and the Contract Commitment endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from focusbase.query.completeness import COMPLETE, INCOMPLETE, data_completeness, open_months
from focusbase.storage import Catalog, Warehouse
from focusbase.storage.query import BillingPeriod
from focusbase.tenancy.periods import finalize_period
from focusbase.tenancy.providers import create_provider
from focusbase.tenancy.workspaces import ensure_workspace
from tests.focusapi.conftest import Loaded, read_headers
from tests.focusapi.loader import commit_rows, make_rows, month, next_month
from tests.focusapi.test_access import COMMITMENTS

URL = "/focus/v1/cost-and-usage"


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_data_last_updated_is_the_last_commit_touching_the_scope(
    client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    a = create_provider(catalog, "ws_default", name="A", default_currency="USD").provider.id
    b = create_provider(catalog, "ws_default", name="B", default_currency="USD").provider.id
    first = commit_rows(warehouse, make_rows(10, 1, [month(2025, 1)]), provider_id=a)
    headers = read_headers(catalog)
    only_a = read_headers(catalog, providers=[a])
    assert client.get(URL, headers=headers).json()["dataLastUpdated"] == _stamp(first.committed_at)
    second = commit_rows(warehouse, make_rows(10, 2, [month(2025, 1)]), provider_id=b)
    assert client.get(URL, headers=headers).json()["dataLastUpdated"] == _stamp(second.committed_at)
    # provider B's commit does not touch provider A's rows
    assert client.get(URL, headers=only_a).json()["dataLastUpdated"] == _stamp(first.committed_at)
    # a commit in another workspace touches nothing here
    other = ensure_workspace(catalog, "elsewhere")
    commit_rows(warehouse, make_rows(5, 3, [month(2025, 1)]), workspace_id=other.id)
    assert client.get(URL, headers=only_a).json()["dataLastUpdated"] == _stamp(first.committed_at)
    # a batch that replaces A's rows with nothing new still counts as touching A's scope
    replacing = commit_rows(warehouse, [], provider_id=a, supersede_batch=first.batch_id)
    body = client.get(URL, headers=only_a).json()
    assert body["totalRecords"] == 0
    assert body["dataLastUpdated"] == _stamp(replacing.committed_at)
    # nothing ever in scope: no dataLastUpdated at all
    assert (
        "dataLastUpdated"
        not in client.get(URL, headers=read_headers(catalog, other.id, providers=["prv_x"])).json()
    )


def test_data_completeness_follows_period_close_and_finalisation(
    client: TestClient, catalog: Catalog, warehouse: Warehouse
) -> None:
    provider = create_provider(catalog, "ws_default", name="A", default_currency="USD").provider.id
    now = datetime.now(UTC)
    this_month = datetime(now.year, now.month, 1)
    commit_rows(warehouse, make_rows(10, 1, [month(2025, 1)]), provider_id=provider)
    commit_rows(warehouse, make_rows(10, 2, [this_month]), provider_id=provider)
    headers = read_headers(catalog)
    old = {"billingPeriodStart": "2025-01-01T00:00:00Z", "billingPeriodEnd": "2025-02-01T00:00:00Z"}
    current = {"billingPeriodStart": _stamp(this_month), "billingPeriodEnd": _stamp(next_month(this_month))}
    assert client.get(URL, params=old, headers=headers).json()["dataCompleteness"] == COMPLETE
    assert client.get(URL, params=current, headers=headers).json()["dataCompleteness"] == INCOMPLETE
    assert (
        client.get(URL, headers=headers).json()["dataCompleteness"] == INCOMPLETE
    )  # unbounded includes today
    # a closed month with no rows at all is complete; the current month with no rows is not
    empty_old = {"billingPeriodStart": "2024-03-01T00:00:00Z", "billingPeriodEnd": "2024-04-01T00:00:00Z"}
    assert client.get(URL, params=empty_old, headers=headers).json()["dataCompleteness"] == COMPLETE


def test_completeness_rules() -> None:
    now = datetime(2026, 3, 10, 12)
    march = BillingPeriod("p1", datetime(2026, 3, 1), datetime(2026, 4, 1))
    february = BillingPeriod("p1", datetime(2026, 2, 1), datetime(2026, 3, 1))
    january = BillingPeriod("p1", datetime(2026, 1, 1), datetime(2026, 2, 1))
    base = {
        "now": now,
        "close_days": 15,
        "provider_ids": ["p1"],
        "window_start": datetime(2026, 1, 1),
        "window_end": datetime(2026, 2, 1),
    }
    assert data_completeness(periods=[january], finalized={}, **base) == COMPLETE  # type: ignore[arg-type]
    feb_window = {**base, "window_start": datetime(2026, 2, 1), "window_end": datetime(2026, 3, 1)}
    # February ended 9 days ago: open until 15 days after its end, unless finalised
    assert data_completeness(periods=[february], finalized={}, **feb_window) == INCOMPLETE  # type: ignore[arg-type]
    assert data_completeness(periods=[february], finalized={"p1": {"2026-02"}}, **feb_window) == COMPLETE  # type: ignore[arg-type]
    later = {**feb_window, "now": datetime(2026, 3, 17)}
    assert data_completeness(periods=[february], finalized={}, **later) == COMPLETE  # type: ignore[arg-type]
    # rows of the open current month make any window Incomplete; no providers, no rows: nothing can arrive
    assert data_completeness(periods=[march], finalized={}, **base) == INCOMPLETE  # type: ignore[arg-type]
    nobody = {**base, "provider_ids": [], "window_start": None, "window_end": None}
    assert data_completeness(periods=[], finalized={}, **nobody) == COMPLETE  # type: ignore[arg-type]
    assert open_months(now, 15, None, None) == [datetime(2026, 3, 1), datetime(2026, 2, 1)]
    assert open_months(datetime(2026, 3, 20), 15, None, None) == [datetime(2026, 3, 1)]


def test_finalising_a_period_completes_it(client: TestClient, catalog: Catalog, warehouse: Warehouse) -> None:
    provider = create_provider(catalog, "ws_default", name="A", default_currency="USD").provider.id
    now = datetime.now()
    this_month = datetime(now.year, now.month, 1)
    previous = datetime(now.year - 1, 12, 1) if now.month == 1 else datetime(now.year, now.month - 1, 1)
    commit_rows(warehouse, make_rows(10, 1, [previous]), provider_id=provider)
    window = {"billingPeriodStart": _stamp(previous), "billingPeriodEnd": _stamp(this_month)}
    headers = read_headers(catalog)
    before = client.get(URL, params=window, headers=headers).json()["dataCompleteness"]
    finalize_period(catalog, provider, previous.strftime("%Y-%m"))
    after = client.get(URL, params=window, headers=headers).json()["dataCompleteness"]
    assert after == COMPLETE
    if now.day < 15:  # within period_close_days of the previous month's end it was still open
        assert before == INCOMPLETE


def test_contract_commitments_are_served_with_focus_names(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, loaded: Loaded
) -> None:
    second = {
        **COMMITMENTS[0],
        "ContractCommitmentId": "cc-2",
        "ContractCommitmentCost": "0.10",
        "x_columns": None,
    }
    batch = commit_rows(
        warehouse, [COMMITMENTS[0], second], provider_id=loaded.provider_a, dataset="ContractCommitment"
    )
    headers = read_headers(catalog)
    body = client.get("/focus/v1/contract-commitments", headers=headers).json()
    assert body["totalRecords"] == 2 and body["nextPageToken"] is None
    assert body["dataLastUpdated"] == _stamp(batch.committed_at)
    first = body["data"][0]
    assert first["ContractCommitmentId"] == "cc-1" and first["ContractCommitmentCost"] == 1000.5
    assert (
        first["ContractCommitmentPeriodStart"] == "2025-01-01T00:00:00Z"
        and first["x_BillingAccountId"] == "acct-1"
    )
    assert (
        '"ContractCommitmentCost":0.1,' in client.get("/focus/v1/contract-commitments", headers=headers).text
    )
    by_id = client.get(
        "/focus/v1/contract-commitments", params={"commitmentDiscountId": "cc-2"}, headers=headers
    ).json()
    assert [r["ContractCommitmentId"] for r in by_id["data"]] == ["cc-2"]
    by_account = client.get(
        "/focus/v1/contract-commitments", params={"billingAccountId": "acct-1"}, headers=headers
    ).json()
    assert [r["ContractCommitmentId"] for r in by_account["data"]] == ["cc-1"]
    page = client.get("/focus/v1/contract-commitments", params={"pageSize": 1}, headers=headers).json()
    assert len(page["data"]) == 1 and page["nextPageToken"]
    rest = client.get(
        "/focus/v1/contract-commitments",
        params={"pageSize": 1, "pageToken": page["nextPageToken"]},
        headers=headers,
    ).json()
    assert [r["ContractCommitmentId"] for r in rest["data"]] == ["cc-2"] and rest["nextPageToken"] is None
    # a cost-and-usage token is not a contract-commitments token
    cost_token = client.get(URL, params={"pageSize": 1}, headers=headers).json()["nextPageToken"]
    wrong = client.get(
        "/focus/v1/contract-commitments", params={"pageSize": 1, "pageToken": cost_token}, headers=headers
    )
    assert wrong.status_code == 400
    assert (
        client.get("/focus/v1/contract-commitments", params={"pageSize": 0}, headers=headers).status_code
        == 400
    )


def test_a_period_ending_in_year_9999_is_open_not_an_error() -> None:
    far = BillingPeriod("p1", datetime(9999, 12, 1), datetime(9999, 12, 31, 23, 59, 59))
    found = data_completeness(
        now=datetime(2026, 3, 10, 12),
        close_days=15,
        periods=[far],
        provider_ids=["p1"],
        finalized={},
        window_start=None,
        window_end=None,
    )
    assert found == INCOMPLETE
