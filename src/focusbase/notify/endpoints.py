"""Webhook endpoints of a workspace: create (secret shown once), list, get, update, delete, rotate, test."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from focusbase.notify import events, signing
from focusbase.notify.destinations import resolve
from focusbase.notify.worker import iso, parse_iso
from focusbase.runtime import Runtime
from focusbase.storage import webhooks as store
from focusbase.storage.catalog import Row, utcnow

MAX_DESCRIPTION = 500
MAX_ENDPOINTS_PER_WORKSPACE = 100


class InvalidEndpoint(ValueError):
    """A webhook endpoint request that cannot be honoured; `field` names the culprit."""

    def __init__(self, message: str, *, field: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A webhook endpoint as clients see it (never its secret)."""

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_expires_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Row, now: datetime | None = None) -> Endpoint:
        until = row["previous_secret_expires_at"]
        if until and parse_iso(until) <= (now or datetime.now(UTC)):
            until = None
        return cls(
            id=row["id"],
            url=row["url"],
            description=row["description"],
            events=json.loads(row["events"]),
            enabled=bool(row["enabled"]),
            disabled_reason=row["disabled_reason"],
            previous_secret_expires_at=until,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def check_events(values: Any) -> list[str]:
    """A non-empty list of known event types, deduplicated in the order given."""
    if not isinstance(values, list) or not values:
        raise InvalidEndpoint(
            f"events must be a non-empty list of event types: {', '.join(events.EVENT_TYPES)}", field="events"
        )
    unknown = [v for v in values if v not in events.EVENT_TYPES]
    if unknown:
        raise InvalidEndpoint(
            f"unknown event type(s) {unknown}; known: {', '.join(events.EVENT_TYPES)}", field="events"
        )
    return list(dict.fromkeys(values))


def _check_url(runtime: Runtime, url: str) -> str:
    try:
        resolve(url, allow_private=runtime.settings.webhook_allow_private_destinations)
    except ValueError as exc:
        raise InvalidEndpoint(str(exc), field="url", code=getattr(exc, "code", "invalid_request")) from None
    return url


def _check_description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise InvalidEndpoint(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
    return text


def create_endpoint(
    runtime: Runtime, workspace_id: str, *, url: str, event_types: Any, description: str = ""
) -> tuple[Endpoint, str]:
    """A new enabled endpoint and its signing secret (the only time the secret is returned)."""
    chosen = check_events(event_types)
    _check_url(runtime, url)
    if len(store.list_endpoints(runtime.catalog, workspace_id)) >= MAX_ENDPOINTS_PER_WORKSPACE:
        raise InvalidEndpoint(
            f"a workspace has at most {MAX_ENDPOINTS_PER_WORKSPACE} webhook endpoints", field="url"
        )
    secret = signing.generate_secret()
    now = utcnow()
    endpoint_id = "whk_" + secrets.token_hex(8)
    store.insert_endpoint(
        runtime.catalog,
        {
            "id": endpoint_id,
            "workspace_id": workspace_id,
            "url": url,
            "description": _check_description(description),
            "events": json.dumps(chosen),
            "enabled": 1,
            "secret": secret,
            "created_at": now,
            "updated_at": now,
        },
    )
    endpoint = get_endpoint(runtime, workspace_id, endpoint_id)
    assert endpoint is not None
    return endpoint, secret


def get_endpoint(runtime: Runtime, workspace_id: str, endpoint_id: str) -> Endpoint | None:
    """One endpoint of the workspace."""
    row = store.get_endpoint(runtime.catalog, workspace_id, endpoint_id)
    return None if row is None else Endpoint.from_row(row)


def list_endpoints(runtime: Runtime, workspace_id: str) -> list[Endpoint]:
    """The workspace's endpoints."""
    return [Endpoint.from_row(row) for row in store.list_endpoints(runtime.catalog, workspace_id)]


def update_endpoint(
    runtime: Runtime,
    workspace_id: str,
    endpoint_id: str,
    *,
    url: str | None = None,
    event_types: Any = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> Endpoint | None:
    """Change the URL, events, description or enabled flag; re-enabling resumes its pending deliveries."""
    if store.get_endpoint(runtime.catalog, workspace_id, endpoint_id) is None:
        return None
    fields: dict[str, Any] = {}
    if event_types is not None:
        fields["events"] = json.dumps(check_events(event_types))
    if url is not None:
        fields["url"] = _check_url(runtime, url)
    if description is not None:
        fields["description"] = _check_description(description)
    if enabled is not None:
        fields["enabled"] = 1 if enabled else 0
        fields["disabled_reason"] = None if enabled else "disabled by a user"
    if fields:
        store.update_endpoint(runtime.catalog, endpoint_id, fields)
        if enabled:
            events.wake(runtime)
    return get_endpoint(runtime, workspace_id, endpoint_id)


def delete_endpoint(runtime: Runtime, workspace_id: str, endpoint_id: str) -> bool:
    """Delete an endpoint, its pending deliveries and its log."""
    return store.delete_endpoint(runtime.catalog, workspace_id, endpoint_id)


def rotate_secret(runtime: Runtime, workspace_id: str, endpoint_id: str) -> tuple[Endpoint, str] | None:
    """A new secret; the previous one keeps signing (both signatures sent) for the grace period."""
    row = store.get_endpoint(runtime.catalog, workspace_id, endpoint_id)
    if row is None:
        return None
    secret = signing.generate_secret()
    grace = timedelta(hours=runtime.settings.webhook_secret_grace_hours)
    store.update_endpoint(
        runtime.catalog,
        endpoint_id,
        {
            "secret": secret,
            "previous_secret": row["secret"],
            "previous_secret_expires_at": iso(datetime.now(UTC) + grace),
        },
    )
    endpoint = get_endpoint(runtime, workspace_id, endpoint_id)
    assert endpoint is not None
    return endpoint, secret


def send_test(runtime: Runtime, workspace_id: str, endpoint_id: str) -> str | None:
    """Queue a `webhook.test` event to this (enabled) endpoint only; its event id."""
    if store.get_endpoint(runtime.catalog, workspace_id, endpoint_id) is None:
        return None
    with runtime.catalog.transaction() as tx:
        event_id = events.enqueue(
            tx,
            workspace_id,
            events.TEST_EVENT,
            {"endpointId": endpoint_id, "message": "a test event from focusbase"},
            only_endpoint=endpoint_id,
        )
    events.wake(runtime)
    return event_id


@dataclass(frozen=True, slots=True)
class Attempt:
    """One line of an endpoint's delivery log."""

    id: int
    delivery_id: str
    event_id: str
    event_type: str
    attempt: int
    attempted_at: str
    status_code: int | None
    duration_ms: int
    response: str | None
    error: str | None
    outcome: str
    next_attempt_at: str | None


def delivery_log(
    runtime: Runtime, endpoint_id: str, *, before_id: int | None, limit: int
) -> tuple[list[Attempt], dict[str, int]]:
    """An endpoint's attempts, newest first, and its deliveries per status."""
    rows = store.list_attempts(runtime.catalog, endpoint_id, before_id=before_id, limit=limit)
    attempts = [
        Attempt(
            id=r["id"],
            delivery_id=r["delivery_id"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            attempt=r["attempt"],
            attempted_at=r["attempted_at"],
            status_code=r["status_code"],
            duration_ms=r["duration_ms"],
            response=r["response"],
            error=r["error"],
            outcome=r["outcome"],
            next_attempt_at=r["next_attempt_at"],
        )
        for r in rows
    ]
    return attempts, store.delivery_counts(runtime.catalog, endpoint_id)
