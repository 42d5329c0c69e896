"""Webhooks: Standard Webhooks signatures checked by the reference verifier, retries, 410, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import standardwebhooks
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.notify.worker import iso, signing_secrets
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.notify.conftest import Receiver, cost_row, make_provider, push, wait_until

ALL_EVENTS = ["batch.committed", "batch.failed", "period.restated", "budget.threshold_crossed"]


def create_endpoint(
    client: TestClient, headers: dict[str, str], url: str, events: list[str]
) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json={"url": url, "events": events}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


def verify(secret: str, arrival: Any) -> dict[str, Any]:
    """The reference verifier accepts the delivery (it raises otherwise); returns the payload."""
    payload: dict[str, Any] = standardwebhooks.Webhook(secret).verify(arrival.body, arrival.headers)
    return payload


def log_of(client: TestClient, headers: dict[str, str], endpoint_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_faulty_receiver_gets_every_event_once_per_id_verified(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    # Every event: 500, then 429, then a timeout, then 200.
    answers = {1: 500, 2: 429, 3: "timeout"}
    receiver.plan = lambda _id, nth: answers.get(nth, 200)
    endpoint = create_endpoint(client, admin_headers, receiver.url, ["batch.committed", "batch.failed"])
    provider = make_provider(client, admin_headers)

    for day in ("2026-06-01", "2026-06-02", "2026-06-03"):
        assert push(client, provider, [cost_row(day, "1.25")]).status_code == 200
    failed = push(client, provider, [cost_row("2026-06-04", "2", ChargeCategory="Bogus")])
    assert failed.status_code == 422

    wait_until(
        lambda: len(receiver.acknowledged()) == 4 and all(v == 1 for v in receiver.acknowledged().values())
    )
    wait_until(lambda: log_of(client, admin_headers, endpoint["id"])["deliveries"] == {"succeeded": 4})

    by_id = receiver.by_id()
    types = []
    for msg_id, arrivals in by_id.items():
        assert [a.answer for a in arrivals] == [500, 429, "timeout", 200]
        assert len({a.body for a in arrivals}) == 1  # the same event each time
        for arrival in arrivals:
            payload = verify(endpoint["secret"], arrival)
            assert payload["id"] == msg_id == arrival.headers["webhook-id"]
        types.append(payload["type"])
    assert sorted(types) == ["batch.committed"] * 3 + ["batch.failed"]
    failure = next(json.loads(a[0].body) for a in by_id.values() if b"batch.failed" in a[0].body)
    assert failure["data"]["rowsReceived"] == 1 and failure["data"]["rowsRejected"] == 1
    assert failure["data"]["providerId"] == provider[0] and "invalid" in failure["data"]["reason"]
    committed = [
        json.loads(a[0].body) for a in by_id.values() if json.loads(a[0].body)["type"] == "batch.committed"
    ]
    assert {c["data"]["sums"]["USD"]["BilledCost"] for c in committed} == {"1.25"}
    assert all(c["data"]["providerId"] == provider[0] for c in committed)

    log = log_of(client, admin_headers, endpoint["id"])
    assert len(log["attempts"]) == 16
    one = sorted(
        (a for a in log["attempts"] if a["eventId"] == next(iter(by_id))), key=lambda a: a["attempt"]
    )
    assert [a["statusCode"] for a in one] == [500, 429, None, 200]
    assert [a["outcome"] for a in one] == ["retrying", "retrying", "retrying", "succeeded"]
    assert "timed out" in one[2]["error"]
    assert one[3]["nextAttemptAt"] is None and one[0]["nextAttemptAt"] is not None
    assert len(one[3]["response"]) == 256  # truncated at webhook_max_response_bytes


def test_rotation_both_secrets_verify_during_grace(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    endpoint = create_endpoint(client, admin_headers, receiver.url, ["batch.committed"])
    rotated = client.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=admin_headers)
    assert rotated.status_code == 201
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"] and rotated.json()["previousSecretExpiresAt"] is not None
    provider = make_provider(client, admin_headers)
    assert push(client, provider, [cost_row("2026-06-01", "3")]).status_code == 200
    wait_until(lambda: len(receiver.arrivals) == 1)
    arrival = receiver.arrivals[0]
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    assert verify(endpoint["secret"], arrival)["type"] == "batch.committed"
    assert verify(new_secret, arrival)["type"] == "batch.committed"
    # Another secret does not verify: the check is real.
    other = client.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=admin_headers).json()[
        "secret"
    ]
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(other, arrival)
    # The secret never comes back after creation or rotation.
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=admin_headers).json()


def test_previous_secret_stops_signing_after_grace() -> None:
    row = {"secret": "whsec_new", "previous_secret": "whsec_old", "previous_secret_expires_at": None}
    now = datetime.now(UTC)
    row["previous_secret_expires_at"] = iso(now + timedelta(hours=1))
    assert signing_secrets(row, now) == ["whsec_new", "whsec_old"]  # type: ignore[arg-type]
    assert signing_secrets(row, now + timedelta(hours=2)) == ["whsec_new"]  # type: ignore[arg-type]


def test_410_disables_the_endpoint(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    receiver.plan = lambda _id, _n: 410
    endpoint = create_endpoint(client, admin_headers, receiver.url, ["batch.committed"])
    provider = make_provider(client, admin_headers)
    assert push(client, provider, [cost_row("2026-06-01", "3")]).status_code == 200
    wait_until(
        lambda: not client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=admin_headers).json()["enabled"]
    )
    got = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=admin_headers).json()
    assert "410" in got["disabledReason"]
    assert push(client, provider, [cost_row("2026-06-02", "3")]).status_code == 200
    test_send = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=admin_headers)
    assert test_send.status_code == 409 and test_send.json()["code"] == "webhook_disabled"
    log = log_of(client, admin_headers, endpoint["id"])
    assert [a["outcome"] for a in log["attempts"]] == ["disabled"]
    assert log["deliveries"] == {"failed": 1}
    assert len(receiver.arrivals) == 1

    receiver.plan = lambda _id, _n: 200
    patched = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"enabled": True}, headers=admin_headers
    )
    assert patched.json()["enabled"] is True and patched.json()["disabledReason"] is None
    sent = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=admin_headers)
    assert sent.status_code == 202
    wait_until(lambda: receiver.acknowledged().get(sent.json()["eventId"]) == 1)
    assert verify(endpoint["secret"], receiver.by_id()[sent.json()["eventId"]][0])["type"] == "webhook.test"


def test_restart_loses_no_delivery(settings: Settings, receiver: Receiver) -> None:
    settings = settings.model_copy(update={"webhook_retry_schedule": [0.2] * 20})
    receiver.plan = lambda _id, _n: 500
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        headers = {
            "Authorization": "Bearer "
            + create_key(runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
        }
        endpoint = create_endpoint(client, headers, receiver.url, ["batch.committed"])
        provider = make_provider(client, headers)
        for day in ("2026-06-01", "2026-06-02", "2026-06-03"):
            assert push(client, provider, [cost_row(day, "1")]).status_code == 200
        wait_until(lambda: len(receiver.by_id()) == 3)
    stopped_with = len(receiver.arrivals)
    assert receiver.acknowledged() == {k: 0 for k in receiver.by_id()}
    receiver.plan = lambda _id, _n: 200
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: sorted(receiver.acknowledged().values()) == [1, 1, 1])
        log = log_of(client, headers, endpoint["id"])
        assert log["deliveries"] == {"succeeded": 3}
    assert len(receiver.arrivals) > stopped_with
    for arrivals in receiver.by_id().values():
        verify(endpoint["secret"], arrivals[-1])


def test_period_restated_for_finalised_and_closed_periods(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    endpoint = create_endpoint(client, admin_headers, receiver.url, ["period.restated"])
    provider = make_provider(client, admin_headers)
    now = datetime.now(UTC)
    this_month = now.strftime("%Y-%m")
    rows = [
        cost_row("2025-01-10", "5", BillingPeriodStart="2025-01-01", BillingPeriodEnd="2025-02-01"),
        cost_row(f"{this_month}-01", "5", BillingPeriodStart=f"{this_month}-01"),
    ]
    assert push(client, provider, rows).status_code == 200
    assert push(client, provider, [rows[1]]).status_code == 200  # the open month only: no event
    assert receiver.arrivals == []
    assert push(client, provider, [{**rows[0], "BilledCost": "7"}]).status_code == 200
    wait_until(lambda: len(receiver.arrivals) == 1)
    payload = verify(endpoint["secret"], receiver.arrivals[0])
    assert payload["type"] == "period.restated"
    assert payload["data"]["periods"] == [
        {"period": "2025-01", "state": "closed", "rowsReplaced": 1, "billedCost": {"USD": "5.000000000000"}}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["batch.committed"]}, "url"),
        ({"url": "http://user:pw@example.com/x", "events": ["batch.committed"]}, "url"),
        ({"url": "http://127.0.0.1/x", "events": ["nope.event"]}, "events"),
        ({"url": "http://127.0.0.1/x", "events": []}, "events"),
    ],
)
def test_invalid_endpoint_requests(
    client: TestClient, admin_headers: dict[str, str], body: Any, field: str
) -> None:
    response = client.post("/api/v1/webhooks", json=body, headers=admin_headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert json.loads(response.json()["details"])["field"] == field


def test_crud_and_errors(client: TestClient, admin_headers: dict[str, str], receiver: Receiver) -> None:
    endpoint = create_endpoint(client, admin_headers, receiver.url, ["batch.committed"])
    listed = client.get("/api/v1/webhooks", headers=admin_headers).json()["webhooks"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    patched = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"events": ALL_EVENTS}, headers=admin_headers
    )
    assert patched.status_code == 200 and patched.json()["events"] == ALL_EVENTS
    bad = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"url": "gopher://x"}, headers=admin_headers
    )
    assert bad.status_code == 400 and json.loads(bad.json()["details"])["field"] == "url"
    bad_token = client.get(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries?pageToken=zz", headers=admin_headers
    )
    assert bad_token.status_code == 400 and bad_token.json()["code"] == "invalid_page_token"
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=admin_headers).status_code == 204
    for method, path in [
        ("get", ""),
        ("delete", ""),
        ("post", "/rotate-secret"),
        ("post", "/test"),
        ("get", "/deliveries"),
    ]:
        response = client.request(method, f"/api/v1/webhooks/{endpoint['id']}{path}", headers=admin_headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    read_key = create_key(
        client.app.state.runtime.catalog,  # type: ignore[attr-defined]
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="r",
        scopes=["read"],
    ).key
    forbidden = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {read_key}"})
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    limited_key = create_key(
        client.app.state.runtime.catalog,  # type: ignore[attr-defined]
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="l",
        scopes=["admin"],
        provider_ids=["prv_x"],
    ).key
    limited = client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {limited_key}"})
    assert limited.status_code == 403 and "limited to some providers" in limited.json()["message"]


def test_attempt_time_limit_holds_against_a_dripping_receiver() -> None:
    # A status line, then a header line every 0.1 s: each read is quick, the whole attempt is not.
    import socket
    import threading
    import time

    from focusbase.notify.destinations import resolve
    from focusbase.notify.sender import post

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def drip() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for i in range(40):
                try:
                    conn.sendall(f"X-Drip-{i}: x\r\n".encode())
                except OSError:
                    break
                time.sleep(0.1)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        destination = resolve(f"http://127.0.0.1:{server.getsockname()[1]}/", allow_private=True)
        started = time.monotonic()
        result = post(destination, b"{}", {}, timeout=0.5, max_response_bytes=1000)
        assert time.monotonic() - started < 1.5
        assert result.status is None and result.error == "timed out after 0.5 s"
    finally:
        thread.join(5)
        server.close()


def test_delivery_log_pages_and_retention(
    client: TestClient, admin_headers: dict[str, str], receiver: Receiver
) -> None:
    from focusbase.notify.worker import prune_log

    endpoint = create_endpoint(client, admin_headers, receiver.url, ["batch.committed"])
    sent = [
        client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=admin_headers).json()["eventId"]
        for _ in range(5)
    ]
    wait_until(lambda: log_of(client, admin_headers, endpoint["id"])["deliveries"] == {"succeeded": 5})
    seen: list[str] = []
    token = None
    while True:
        params = {"limit": 2, **({"pageToken": token} if token else {})}
        page = client.get(
            f"/api/v1/webhooks/{endpoint['id']}/deliveries", params=params, headers=admin_headers
        )
        assert page.status_code == 200
        seen += [a["eventId"] for a in page.json()["attempts"]]
        token = page.json()["nextPageToken"]
        if token is None:
            break
    assert sorted(seen) == sorted(sent) and len(seen) == 5
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert prune_log(runtime) == 0  # all recent
    assert prune_log(runtime, now=datetime.now(UTC) + timedelta(days=31)) == 5
    log = log_of(client, admin_headers, endpoint["id"])
    assert log["attempts"] == [] and log["deliveries"] == {}
