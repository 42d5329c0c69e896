"""Events: the types an endpoint can subscribe to, and `emit`, which writes one to the outbox.

Other services call `emit(runtime, workspace_id, event_type, data)`; the event is stored with one pending
delivery per subscribed endpoint in a single catalog transaction, then the delivery worker is woken.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson

from focusbase.runtime import Runtime
from focusbase.storage import webhooks as store
from focusbase.storage.catalog import Connection

EVENT_TYPES: tuple[str, ...] = (
    "anomaly.created",
    "budget.threshold_crossed",
    "batch.committed",
    "batch.failed",
    "period.restated",
)
TEST_EVENT = "webhook.test"


class UnknownEventType(ValueError):
    """An event type focusbase does not emit."""


def new_event_id() -> str:
    """A new event id; it is the webhook-id of every delivery (and retry) of the event."""
    return "msg_" + secrets.token_hex(12)


def event_body(event_id: str, event_type: str, data: dict[str, Any], timestamp: datetime) -> str:
    """The JSON body: {"type", "timestamp", "id", "data"} as the Standard Webhooks spec suggests."""
    stamp = timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {"type": event_type, "timestamp": stamp, "id": event_id, "data": data}
    return orjson.dumps(payload).decode()


def enqueue(
    tx: Connection,
    workspace_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    only_endpoint: str | None = None,
) -> str:
    """Inside a catalog transaction: store the event and its deliveries; returns the event id."""
    if event_type not in EVENT_TYPES and event_type != TEST_EVENT:
        raise UnknownEventType(f"unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    event_id = new_event_id()
    body = event_body(event_id, event_type, data, datetime.now(UTC))
    store.enqueue_event(
        tx,
        event_id=event_id,
        workspace_id=workspace_id,
        event_type=event_type,
        body=body,
        only_endpoint=only_endpoint,
    )
    return event_id


def emit(runtime: Runtime, workspace_id: str, event_type: str, data: dict[str, Any]) -> str:
    """Write an event to the outbox for every endpoint subscribed to it and wake the worker; its id."""
    with runtime.catalog.transaction() as tx:
        event_id = enqueue(tx, workspace_id, event_type, data)
    wake(runtime)
    return event_id


def wake(runtime: Runtime) -> None:
    """Wake this runtime's delivery worker, if it runs (safe from any thread)."""
    from focusbase.notify import lifecycle  # the worker module imports this one

    lifecycle.wake(runtime)
