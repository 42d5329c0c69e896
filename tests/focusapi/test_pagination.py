"""Keyset pagination: page walks, concurrent commits, and tamper-proof page tokens."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from focusbase.storage import Catalog, Warehouse
from focusbase.tenancy.workspaces import ensure_workspace
from tests.focusapi.conftest import Loaded, read_headers
from tests.focusapi.loader import commit_rows, make_rows, month

URL = "/focus/v1/cost-and-usage"


def _walk(
    client: TestClient, headers: dict[str, str], params: dict[str, Any], between: Any = None
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):
        query = dict(params) if token is None else {**params, "pageToken": token}
        response = client.get(URL, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["data"])
        token = body["nextPageToken"]
        if token is None:
            return records
        assert len(body["data"]) == int(params["pageSize"])
        if between is not None:
            between()
    raise AssertionError("the walk did not end")


def test_walk_returns_every_row_once_and_ends_with_null_token(
    client: TestClient, catalog: Catalog, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    records = _walk(client, headers, {"pageSize": "7"})
    descriptions = [r["ChargeDescription"] for r in records]
    assert len(descriptions) == len(set(descriptions)) == 420
    whole = client.get(URL, params={"pageSize": 10000}, headers=headers).json()
    assert [r["ChargeDescription"] for r in whole["data"]] == descriptions  # the same order: row_seq
    last = client.get(URL, params={"pageSize": 420}, headers=headers).json()
    assert last["nextPageToken"] is None and last["totalRecords"] == 420
    more = client.get(URL, params={"pageSize": 419}, headers=headers).json()
    assert more["nextPageToken"] is not None


def test_walk_while_batches_commit_never_repeats_or_skips(
    client: TestClient, catalog: Catalog, warehouse: Warehouse, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    initial = {
        r["ChargeDescription"]
        for r in client.get(URL, params={"pageSize": 10000}, headers=headers).json()["data"]
    }
    stop = threading.Event()
    committed: list[str] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            seed = 100
            previous = None
            while not stop.is_set() and seed < 160:
                # New rows, and every other time a batch that supersedes the writer's previous batch.
                batch = commit_rows(
                    warehouse,
                    make_rows(15, seed, [month(2025, 2)]),
                    provider_id=loaded.provider_a,
                    supersede_batch=previous,
                )
                committed.append(batch.batch_id)
                previous = batch.batch_id if seed % 2 == 0 else None
                seed += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        records = _walk(client, headers, {"pageSize": "9"})
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert len(committed) >= 2  # commits really happened during the walk
    counts = Counter(r["ChargeDescription"] for r in records)
    assert max(counts.values()) == 1  # never twice
    assert initial <= set(counts)  # every row that existed for the whole walk


def test_tampered_foreign_and_malformed_tokens_are_400(
    client: TestClient, catalog: Catalog, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    first = client.get(URL, params={"pageSize": 5, "chargeCategory": "Usage"}, headers=headers).json()
    token = first["nextPageToken"]
    assert token
    ok = client.get(
        URL, params={"pageSize": 5, "chargeCategory": "Usage", "pageToken": token}, headers=headers
    )
    assert ok.status_code == 200
    # the page size may change during a walk
    assert (
        client.get(
            URL, params={"pageSize": 50, "chargeCategory": "Usage", "pageToken": token}, headers=headers
        ).status_code
        == 200
    )

    head, _, tail = token.partition(".")
    flipped = head[:-1] + ("A" if head[-1] != "A" else "B") + "." + tail
    cases = {
        "tampered": {"chargeCategory": "Usage", "pageToken": flipped},
        "other filters": {"chargeCategory": "Tax", "pageToken": token},
        "filters dropped": {"pageToken": token},
        "malformed": {"chargeCategory": "Usage", "pageToken": "not-a-token"},
        "empty": {"chargeCategory": "Usage", "pageToken": ""},
    }
    for name, params in cases.items():
        response = client.get(URL, params={"pageSize": 5, **params}, headers=headers)
        assert response.status_code == 400, name
        assert response.json()["code"] == "invalid_page_token", name
        assert response.json()["details"] == "pageToken"

    # a key of another workspace cannot reuse the token, even with the same filters
    other = ensure_workspace(catalog, "other-ws")
    foreign = client.get(
        URL,
        params={"pageSize": 5, "chargeCategory": "Usage", "pageToken": token},
        headers=read_headers(catalog, other.id),
    )
    assert foreign.status_code == 400 and foreign.json()["code"] == "invalid_page_token"
    # nor a key of the same workspace limited to some providers
    limited = client.get(
        URL,
        params={"pageSize": 5, "chargeCategory": "Usage", "pageToken": token},
        headers=read_headers(catalog, providers=[loaded.provider_a]),
    )
    assert limited.status_code == 400


def test_deep_pages_resume_after_the_token_position(
    client: TestClient, catalog: Catalog, loaded: Loaded
) -> None:
    headers = read_headers(catalog)
    everything = [
        r["ChargeDescription"]
        for r in client.get(URL, params={"pageSize": 10000}, headers=headers).json()["data"]
    ]
    token = None
    for page in range(1, 41):
        body = client.get(
            URL, params={"pageSize": 10, **({"pageToken": token} if token else {})}, headers=headers
        ).json()
        assert [r["ChargeDescription"] for r in body["data"]] == everything[(page - 1) * 10 : page * 10]
        token = body["nextPageToken"]
