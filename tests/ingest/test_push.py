"""Push ingest: the StackSpend request, auth, defaults, column handling, rejection, limits, gzip."""

from __future__ import annotations

import gzip
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi.testclient import TestClient

from focusbase.config import Settings
from tests.ingest.conftest import Provider, envelope, row

SEED_EXAMPLE = b"""{
    "format": "stackspend.focus",
    "version": "1",
    "rows": [
      {
        "ChargePeriodStart": "2026-06-01",
        "ChargePeriodEnd": "2026-06-02",
        "BilledCost": 12.50,
        "EffectiveCost": 12.50,
        "BillingCurrency": "USD",
        "ChargeCategory": "Usage",
        "ServiceName": "Compute",
        "RegionId": "us-east-1",
        "Tags": { "env": "prod" }
      }
    ]
  }"""


def test_seed_example_is_stored_exactly(client: TestClient, provider: Provider, query: Any) -> None:
    response = client.post(
        f"/api/v1/public/ingest/focus/{provider.id}",
        content=SEED_EXAMPLE,
        headers={**provider.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {
        "batchId",
        "status",
        "rowsReceived",
        "lineItemsCreated",
        "rowsRejected",
        "replaced",
        "errors",
    }
    assert body["status"] == "committed"
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (1, 1, 0)
    assert body["errors"] == []
    stored = query(
        'SELECT "BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "RegionId", "Tags", '
        "batch_id, charge_day FROM live_cost_rows WHERE provider_id = ?",
        [provider.id],
    )
    assert len(stored) == 1
    billed, effective, start, end, region, tags, batch_id, day = stored[0]
    assert billed == Decimal("12.5") and effective == Decimal("12.5")
    assert start == datetime(2026, 6, 1) and end == datetime(2026, 6, 2)
    assert region == "us-east-1"
    assert orjson.loads(tags) == {"env": "prod"}
    assert batch_id == body["batchId"]
    assert str(day) == "2026-06-01"


def test_defaults_are_applied_and_recorded(client: TestClient, make_provider: Any, query: Any) -> None:
    provider = make_provider("Internal Platform", "EUR")
    response = provider.push(
        [row("2026-06-15", "3.25"), row("2026-06-16T10:00:00Z", "1.75", BillingCurrency="USD")]
    )
    assert response.status_code == 200, response.text
    stored = query(
        'SELECT "EffectiveCost", "BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "ProviderName", '
        '"PublisherName", "InvoiceIssuerName", "ServiceProviderName", "BillingAccountId", "ChargeClass", '
        '"BillingPeriodStart", "BillingPeriodEnd", "ListCost", "ContractedCost" '
        'FROM live_cost_rows WHERE provider_id = ? ORDER BY "ChargePeriodStart"',
        [provider.id],
    )
    first, second = stored
    assert first[0] == Decimal("3.25") and second[0] == Decimal("1.75")
    assert (first[1], second[1]) == ("EUR", "USD")
    assert first[2] == datetime(2026, 6, 15) and first[3] == datetime(2026, 6, 16)
    assert second[2] == datetime(2026, 6, 16, 10) and second[3] == datetime(2026, 6, 17, 10)
    assert first[4:8] == ("Internal Platform",) * 4
    assert first[8] == provider.id
    assert first[9] is None
    assert first[10] == datetime(2026, 6, 1) and first[11] == datetime(2026, 7, 1)
    assert first[12] == Decimal("3.25") and first[13] == Decimal("3.25")
    batch = client.get(f"/api/v1/batches/{response.json()['batchId']}", headers=provider.headers).json()
    defaults = batch["defaultsApplied"]
    assert defaults["EffectiveCost"] == {"from": "BilledCost", "rows": 2}
    assert defaults["BillingCurrency"] == {"value": "EUR", "rows": 1}
    assert defaults["ChargePeriodEnd"]["rows"] == 2
    assert defaults["ProviderName"] == {"value": "Internal Platform", "rows": 2}
    assert defaults["BillingAccountId"] == {"value": provider.id, "rows": 2}
    assert "ChargeClass" not in defaults


def test_custom_columns_kept_alias_renamed_unknown_rejected(provider: Provider, query: Any) -> None:
    ok = provider.push([row("2026-06-01", "1", Region="eu-west-1", x_Team="core", x_Cost_Center="42")])
    assert ok.status_code == 200, ok.text
    region, custom = query(
        'SELECT "RegionId", x_columns FROM live_cost_rows WHERE provider_id = ?', [provider.id]
    )[0]
    assert region == "eu-west-1"
    assert orjson.loads(custom) == {"x_Team": "core", "x_Cost_Center": "42"}

    bad = provider.push([row("2026-06-02", "1", Colour="blue")])
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "validation_failed"
    assert "Colour" in body["message"]
    assert body["errors"][0]["column"] == "Colour" and body["errors"][0]["code"] == "unknown_column"
    assert query("SELECT count(*) FROM live_cost_rows WHERE provider_id = ?", [provider.id]) == [(1,)]


def test_invalid_rows_reject_the_whole_batch(client: TestClient, provider: Provider, query: Any) -> None:
    rows = [row("2026-06-01", "1"), row("2026-06-01", "abc"), row("not a date", "2"), row("2026-06-02", "4")]
    response = provider.push(rows)
    assert response.status_code == 422
    body = response.json()
    assert set(body) >= {"code", "message", "details", "errors", "errorCount"}
    assert body["code"] == "validation_failed"
    located = {(e["row"], e["column"]) for e in body["errors"]}
    assert (2, "BilledCost") in located and (3, "ChargePeriodStart") in located
    assert all(set(e) == {"row", "column", "code", "message"} for e in body["errors"])
    assert body["errorCount"] >= 2
    assert query("SELECT count(*) FROM cost_rows") == [(0,)]
    batch = client.get(f"/api/v1/batches/{body['batchId']}", headers=provider.headers).json()
    assert batch["status"] == "failed"
    assert batch["errorCount"] == body["errorCount"]


def test_allow_partial_stores_the_valid_rows(provider: Provider, query: Any) -> None:
    rows = [row("2026-06-01", "1.5"), row("2026-06-01", "oops"), row("2026-06-02", "2.5")]
    response = provider.push(rows, allowPartial="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rowsReceived"], body["lineItemsCreated"], body["rowsRejected"]) == (3, 2, 1)
    assert [e["row"] for e in body["errors"]] == [2]
    assert query('SELECT sum("BilledCost") FROM live_cost_rows') == [(Decimal("4.0"),)]


def test_first_hundred_errors_and_the_total(provider: Provider) -> None:
    rows = [row("2026-06-01", "x") for _ in range(150)]
    body = provider.push(rows).json()
    assert len(body["errors"]) == 100
    assert body["errorCount"] == 150
    assert body["errors"][0]["row"] == 1 and body["errors"][-1]["row"] == 100


def test_keys_only_for_their_own_provider(
    client: TestClient, make_provider: Any, admin_headers: dict[str, str], query: Any
) -> None:
    first, second = make_provider("One"), make_provider("Two")
    wrong = second.push([row("2026-06-01", "1")], headers=first.headers)
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "forbidden"
    unauthenticated = client.post(f"/api/v1/public/ingest/focus/{first.id}", content=envelope([]))
    assert unauthenticated.status_code == 401
    read_key = client.post(
        "/api/v1/keys", json={"name": "r", "scopes": ["read"]}, headers=admin_headers
    ).json()
    reader = first.push([row("2026-06-01", "1")], headers={"X-API-Key": read_key["key"]})
    assert reader.status_code == 403
    missing = first.push([row("2026-06-01", "1")], headers=admin_headers)
    assert missing.status_code == 200
    nowhere = client.post(
        "/api/v1/public/ingest/focus/prv_nothere", content=envelope([]), headers=admin_headers
    )
    assert nowhere.status_code == 404
    assert query("SELECT provider_id FROM live_cost_rows") == [(first.id,)]


def test_gzip_body(client: TestClient, provider: Provider, query: Any) -> None:
    body = gzip.compress(envelope([row("2026-06-01", "7.125")]))
    response = client.post(
        f"/api/v1/public/ingest/focus/{provider.id}",
        content=body,
        headers={**provider.headers, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert query('SELECT "BilledCost" FROM live_cost_rows') == [(Decimal("7.125"),)]
    broken = client.post(
        f"/api/v1/public/ingest/focus/{provider.id}",
        content=b"not gzip at all",
        headers={**provider.headers, "Content-Encoding": "gzip"},
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "invalid_gzip"


def test_malformed_envelope_is_400(client: TestClient, provider: Provider) -> None:
    for content in (
        b"{not json",
        b'{"format": "other", "version": "1", "rows": []}',
        b'{"format": "stackspend.focus"}',
    ):
        response = client.post(
            f"/api/v1/public/ingest/focus/{provider.id}", content=content, headers=provider.headers
        )
        assert response.status_code == 400, content
        assert response.json()["code"] == "invalid_payload"
        assert response.json()["message"]


def test_limits_answer_413(settings: Settings, tmp_path: Any) -> None:
    from focusbase.app import create_app

    small = settings.model_copy(
        update={"max_body_bytes": 2000, "max_rows_per_request": 5, "data_dir": tmp_path / "s"}
    )
    with TestClient(create_app(small)) as client:
        from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
        from focusbase.tenancy.keys import create_key

        key = create_key(
            client.app.state.runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]
        )
        headers = {"Authorization": f"Bearer {key.key}"}
        provider = Provider(client, headers, "Small", "USD")
        too_many = provider.push([row("2026-06-01", "1") for _ in range(6)])
        assert too_many.status_code == 413
        assert too_many.json()["code"] == "too_many_rows"
        big = [row("2026-06-01", "1", ChargeDescription="x" * 500) for _ in range(5)]
        too_big = provider.push(big)
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "payload_too_large"
        bomb = gzip.compress(envelope([row("2026-06-01", "1", ChargeDescription="y" * 5000)]))
        assert len(bomb) < 2000
        inflated = client.post(
            f"/api/v1/public/ingest/focus/{provider.id}",
            content=bomb,
            headers={**provider.headers, "Content-Encoding": "gzip"},
        )
        assert inflated.status_code == 413
        assert set(inflated.json()) >= {"code", "message", "details"}
        fine = provider.push([row("2026-06-01", "1") for _ in range(5)])
        assert fine.status_code == 200, fine.text


def test_ingest_rate_limit_answers_429(settings: Settings, tmp_path: Any) -> None:
    from focusbase.app import create_app
    from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
    from focusbase.tenancy.keys import create_key

    limited = settings.model_copy(update={"rate_limit_ingest_per_minute": 2, "data_dir": tmp_path / "rl"})
    with TestClient(create_app(limited)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"])
        provider = Provider(client, {"Authorization": f"Bearer {key.key}"}, "Limited", "USD")
        statuses = [provider.push([row("2026-06-01", "1")]).status_code for _ in range(3)]
        assert statuses[:2] == [200, 200]
        refused = provider.push([row("2026-06-01", "1")])
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert "Retry-After" in refused.headers
