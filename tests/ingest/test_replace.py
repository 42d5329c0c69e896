"""Replace modes: replace_days (default), replace_range, replace_months, append; what they replaced."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, row


def live_by_day(query: Any, provider_id: str) -> dict[str, Decimal]:
    rows = query(
        'SELECT CAST(charge_day AS VARCHAR), sum("BilledCost") FROM live_cost_rows WHERE provider_id = ? '
        "GROUP BY 1 ORDER BY 1",
        [provider_id],
    )
    return {day: total for day, total in rows}


def test_replace_days_resend_never_double_counts(client: TestClient, provider: Provider, query: Any) -> None:
    first = provider.push([row("2026-06-01", "10"), row("2026-06-01", "5"), row("2026-06-02", "7")])
    assert first.status_code == 200
    again = provider.push([row("2026-06-01", "10"), row("2026-06-01", "5"), row("2026-06-02", "7")])
    assert again.status_code == 200
    assert live_by_day(query, provider.id) == {"2026-06-01": Decimal("15"), "2026-06-02": Decimal("7")}
    replaced = again.json()["replaced"]
    assert replaced["rows"] == 3
    assert replaced["sums"] == {"USD": {"rows": 3, "BilledCost": "22", "EffectiveCost": "22"}}
    # Only the days in the batch are replaced; 2026-06-02 stays as it was.
    third = provider.push([row("2026-06-01", "1.5")])
    assert live_by_day(query, provider.id) == {"2026-06-01": Decimal("1.5"), "2026-06-02": Decimal("7")}
    assert third.json()["replaced"]["rows"] == 2
    # The first batch is fully superseded; the second still has its 2026-06-02 row live.
    statuses = {
        b["id"]: b["status"]
        for b in client.get(f"/api/v1/providers/{provider.id}/batches", headers=provider.headers).json()[
            "batches"
        ]
    }
    assert statuses[first.json()["batchId"]] == "superseded"
    assert statuses[again.json()["batchId"]] == "committed"
    # Superseded rows are kept (for revert) but not live.
    assert query("SELECT count(*) FROM cost_rows WHERE provider_id = ?", [provider.id]) == [(7,)]


def test_replace_days_is_per_provider(make_provider: Any, query: Any) -> None:
    one, two = make_provider("One"), make_provider("Two")
    one.push([row("2026-06-01", "1")])
    two.push([row("2026-06-01", "2")])
    assert live_by_day(query, one.id) == {"2026-06-01": Decimal("1")}
    assert live_by_day(query, two.id) == {"2026-06-01": Decimal("2")}


def test_replace_range_clears_days_without_rows(provider: Provider, query: Any) -> None:
    provider.push([row(f"2026-06-0{d}", str(d)) for d in range(1, 6)])
    response = provider.push(
        [row("2026-06-02", "20")], mode="replace_range", start="2026-06-02", end="2026-06-05"
    )
    assert response.status_code == 200, response.text
    assert live_by_day(query, provider.id) == {
        "2026-06-01": Decimal("1"),
        "2026-06-02": Decimal("20"),
        "2026-06-05": Decimal("5"),
    }
    assert response.json()["replaced"]["rows"] == 3
    # An empty batch over a range deletes that range.
    empty = provider.push([], mode="replace_range", start="2026-06-05T00:00:00Z", end="2026-06-06")
    assert empty.status_code == 200, empty.text
    assert live_by_day(query, provider.id) == {"2026-06-01": Decimal("1"), "2026-06-02": Decimal("20")}


def test_replace_range_needs_a_valid_window(provider: Provider) -> None:
    for params in (
        {"mode": "replace_range"},
        {"mode": "replace_range", "start": "2026-06-05", "end": "2026-06-01"},
    ):
        response = provider.push([row("2026-06-01", "1")], **params)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_window"
    assert provider.push([row("2026-06-01", "1")], mode="replace_days", start="2026-06-01").status_code == 400
    bad_mode = provider.push([row("2026-06-01", "1")], mode="replace_everything")
    assert bad_mode.status_code == 400 and bad_mode.json()["code"] == "invalid_mode"


def test_replace_months(provider: Provider, query: Any) -> None:
    provider.push(
        [row("2026-05-31", "1"), row("2026-06-01", "2"), row("2026-06-20", "3"), row("2026-07-01", "4")]
    )
    response = provider.push([row("2026-06-10", "30")], mode="replace_months")
    assert response.status_code == 200, response.text
    assert live_by_day(query, provider.id) == {
        "2026-05-31": Decimal("1"),
        "2026-06-10": Decimal("30"),
        "2026-07-01": Decimal("4"),
    }
    assert response.json()["replaced"]["rows"] == 2


def test_append_keeps_everything(provider: Provider, query: Any) -> None:
    provider.push([row("2026-06-01", "1")])
    response = provider.push([row("2026-06-01", "2")], mode="append")
    assert response.json()["replaced"]["rows"] == 0
    assert live_by_day(query, provider.id) == {"2026-06-01": Decimal("3")}


def test_replaced_sums_per_currency(make_provider: Any, query: Any) -> None:
    provider = make_provider("Multi", "EUR")
    provider.push([row("2026-06-01", "1.10"), row("2026-06-01", "2.20", BillingCurrency="USD")])
    response = provider.push([row("2026-06-01", "0.01")])
    body = response.json()
    assert body["replaced"]["sums"] == {
        "EUR": {"rows": 1, "BilledCost": "1.1", "EffectiveCost": "1.1"},
        "USD": {"rows": 1, "BilledCost": "2.2", "EffectiveCost": "2.2"},
    }
    assert body["sums"] == {"EUR": {"rows": 1, "BilledCost": "0.01", "EffectiveCost": "0.01"}}


def test_row_seq_increases_in_commit_order(provider: Provider, query: Any) -> None:
    provider.push([row("2026-06-01", "1"), row("2026-06-02", "1")])
    before = query("SELECT max(row_seq) FROM cost_rows")[0][0]
    provider.push([row("2026-06-03", "1")])
    after = query("SELECT min(row_seq) FROM cost_rows WHERE charge_day = DATE '2026-06-03'")[0][0]
    assert after > before
    assert query("SELECT count(DISTINCT row_seq) = count(*) FROM cost_rows") == [(True,)]
