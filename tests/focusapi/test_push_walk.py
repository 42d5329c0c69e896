"""Rows pushed through the real ingest API, read back through /focus/v1 while more pushes commit."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi.testclient import TestClient

from focusbase.storage import Catalog
from focusbase.tenancy.providers import create_provider
from tests.focusapi.conftest import read_headers

URL = "/focus/v1/cost-and-usage"


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    raise TypeError(type(value).__name__)


def _rows(tag: str, day: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "ChargePeriodStart": f"2025-01-{day:02d}T{i % 24:02d}:00:00Z",
            "ChargePeriodEnd": f"2025-01-{day:02d}T{i % 24:02d}:59:59Z",
            "BilledCost": Decimal(["0.1", "0.2", "123456789.123456789012", "7"][i % 4]),
            "ServiceName": "Compute",
            "ChargeCategory": "Usage",
            "ChargeDescription": f"{tag}-{i}",
        }
        for i in range(n)
    ]


def _push(client: TestClient, provider: str, key: str, rows: list[dict[str, Any]], mode: str) -> None:
    body = orjson.dumps({"format": "stackspend.focus", "version": "1", "rows": rows}, default=_exact)
    response = client.post(
        f"/api/v1/public/ingest/focus/{provider}",
        content=body,
        params={"mode": mode},
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201, 202), response.text


def test_page_walk_over_pushed_rows_while_pushes_commit(client: TestClient, catalog: Catalog) -> None:
    created = create_provider(catalog, "ws_default", name="Pushed", default_currency="USD")
    provider, key = created.provider.id, created.ingest_key.key
    for day in (1, 2, 3):
        _push(client, provider, key, _rows(f"initial{day}", day, 40), "append")
    headers = read_headers(catalog)
    first = client.get(URL, params={"pageSize": 10000}, headers=headers).json()
    initial = [r["ChargeDescription"] for r in first["data"]]
    assert len(initial) == 120
    text = client.get(URL, params={"pageSize": 10000}, headers=headers).text
    assert '"BilledCost":123456789.123456789012' in text and '"BilledCost":0.1,' in text

    seen: list[str] = []
    token = None
    pushes = 0
    while True:
        params: dict[str, Any] = {"pageSize": 11, **({"pageToken": token} if token else {})}
        body = client.get(URL, params=params, headers=headers).json()
        seen.extend(r["ChargeDescription"] for r in body["data"])
        token = body["nextPageToken"]
        if token is None:
            break
        # between pages: a new day appended, then that day replaced (replace_days supersedes it)
        pushes += 1
        _push(client, provider, key, _rows(f"walk{pushes}", 10 + pushes, 5), "append")
        _push(client, provider, key, _rows(f"redo{pushes}", 10 + pushes, 3), "replace_days")
    counts = Counter(seen)
    assert pushes >= 10
    assert max(counts.values()) == 1  # no row twice
    assert set(initial) <= set(counts)  # every row live for the whole walk was returned
    final = client.get(URL, params={"pageSize": 10000}, headers=headers).json()
    assert final["totalRecords"] == 120 + 3 * pushes  # each day's 5 rows were replaced by 3


def test_data_last_updated_moves_on_commit_and_revert(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str]
) -> None:
    created = create_provider(catalog, "ws_default", name="Reverted", default_currency="USD")
    provider, key = created.provider.id, created.ingest_key.key
    headers = read_headers(catalog)
    _push(client, provider, key, _rows("first", 1, 4), "append")
    after_first = client.get(URL, headers=headers).json()["dataLastUpdated"]
    time.sleep(1.1)
    _push(client, provider, key, _rows("second", 1, 2), "replace_days")
    after_second = client.get(URL, headers=headers).json()
    assert after_second["dataLastUpdated"] > after_first and after_second["totalRecords"] == 2
    history = client.get(f"/api/v1/providers/{provider}/batches", headers=admin_headers)
    assert history.status_code == 200, history.text
    second_id = next(b["id"] for b in history.json()["batches"] if b["rowsReceived"] == 2)
    time.sleep(1.1)
    before_revert = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reverted = client.post(f"/api/v1/batches/{second_id}/revert", headers=admin_headers)
    assert reverted.status_code == 200, reverted.text
    after_revert = client.get(URL, headers=headers).json()
    assert after_revert["totalRecords"] == 4  # the first batch's rows are back
    assert after_revert["dataLastUpdated"] >= before_revert > after_second["dataLastUpdated"]
