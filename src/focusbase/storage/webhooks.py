"""SQL for webhook endpoints, the event outbox, deliveries and the delivery log (catalog)."""

from __future__ import annotations

import json
from typing import Any

from focusbase.storage.catalog import Catalog, Connection, Row, utcnow


def insert_endpoint(catalog: Catalog, row: dict[str, Any]) -> None:
    """Store a new endpoint (row keys are column names)."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with catalog.transaction() as tx:
        tx.execute(f"INSERT INTO webhook_endpoints ({columns}) VALUES ({marks})", list(row.values()))  # noqa: S608


def get_endpoint(catalog: Catalog, workspace_id: str, endpoint_id: str) -> Row | None:
    """One endpoint of a workspace."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            "SELECT * FROM webhook_endpoints WHERE id = ? AND workspace_id = ?", (endpoint_id, workspace_id)
        ).fetchone()
        return row


def endpoint_by_id(catalog: Catalog, endpoint_id: str) -> Row | None:
    """One endpoint, whatever its workspace (the delivery worker)."""
    with catalog.read() as conn:
        row: Row | None = conn.execute(
            "SELECT * FROM webhook_endpoints WHERE id = ?", (endpoint_id,)
        ).fetchone()
        return row


def list_endpoints(catalog: Catalog, workspace_id: str) -> list[Row]:
    """A workspace's endpoints, oldest first."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM webhook_endpoints WHERE workspace_id = ? ORDER BY created_at, id", (workspace_id,)
        ).fetchall()


_UPDATABLE = {
    "url",
    "description",
    "events",
    "enabled",
    "disabled_reason",
    "secret",
    "previous_secret",
    "previous_secret_expires_at",
}


def update_endpoint(catalog: Catalog, endpoint_id: str, fields: dict[str, Any]) -> None:
    """Change some columns of an endpoint (names from a fixed list)."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    sets = ", ".join(f"{name} = ?" for name in fields)
    with catalog.transaction() as tx:
        tx.execute(
            f"UPDATE webhook_endpoints SET {sets}, updated_at = ? WHERE id = ?",  # noqa: S608
            [*fields.values(), utcnow(), endpoint_id],
        )


def delete_endpoint(catalog: Catalog, workspace_id: str, endpoint_id: str) -> bool:
    """Delete an endpoint with its deliveries and log; whether it existed."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "DELETE FROM webhook_endpoints WHERE id = ? AND workspace_id = ?", (endpoint_id, workspace_id)
        )
        return cur.rowcount == 1


def enqueue_event(
    tx: Connection,
    *,
    event_id: str,
    workspace_id: str,
    event_type: str,
    body: str,
    only_endpoint: str | None = None,
) -> int:
    """Inside a transaction: store an event and one pending delivery per enabled endpoint subscribed to it.

    Returns the number of deliveries queued. `only_endpoint` limits it to one endpoint (a test send).
    """
    now = utcnow()
    rows = tx.execute(
        "SELECT id, events FROM webhook_endpoints WHERE workspace_id = ? AND enabled = 1", (workspace_id,)
    ).fetchall()
    if only_endpoint is not None:
        targets = [row["id"] for row in rows if row["id"] == only_endpoint]
    else:
        targets = [row["id"] for row in rows if event_type in json.loads(row["events"])]
    if not targets:
        return 0  # nobody listens: nothing to keep
    tx.execute(
        "INSERT INTO webhook_events (id, workspace_id, type, body, created_at) VALUES (?, ?, ?, ?, ?)",
        (event_id, workspace_id, event_type, body, now),
    )
    for endpoint_id in targets:
        tx.execute(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts, next_attempt_at,"
            " created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?, ?)",
            (f"dlv_{event_id[4:]}_{endpoint_id[4:]}", event_id, endpoint_id, now, now, now),
        )
    return len(targets)


def due_deliveries(catalog: Catalog, now: str, limit: int) -> list[Row]:
    """Pending deliveries due by `now`, to enabled endpoints, oldest due first."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT d.id, d.next_attempt_at FROM webhook_deliveries d"
            " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
            " WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND e.enabled = 1"
            " ORDER BY d.next_attempt_at, d.id LIMIT ?",
            (now, limit),
        ).fetchall()


def next_due(catalog: Catalog) -> str | None:
    """The earliest due time of a pending delivery to an enabled endpoint."""
    with catalog.read() as conn:
        row = conn.execute(
            "SELECT min(d.next_attempt_at) FROM webhook_deliveries d"
            " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
            " WHERE d.status = 'pending' AND e.enabled = 1"
        ).fetchone()
        return None if row is None else row[0]


def claim_delivery(catalog: Catalog, delivery_id: str, seen_due: str, lease_until: str) -> Row | None:
    """Take a due delivery for one attempt by moving its due time to `lease_until`.

    Returns the delivery joined with its event, or None if someone else took it. If the process dies while
    sending, the delivery is due again once the lease passes (at least once, with the same webhook-id).
    """
    with catalog.transaction() as tx:
        cur = tx.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'pending' AND next_attempt_at = ?",
            (lease_until, utcnow(), delivery_id, seen_due),
        )
        if cur.rowcount != 1:
            return None
        row: Row = tx.execute(
            "SELECT d.id, d.endpoint_id, d.event_id, d.attempts, d.created_at, ev.type, ev.body"
            " FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id WHERE d.id = ?",
            (delivery_id,),
        ).fetchone()
        return row


def record_attempt(
    catalog: Catalog,
    delivery: Row,
    *,
    status: str,
    attempt: dict[str, Any],
    next_attempt_at: str | None,
    disable_reason: str | None = None,
) -> None:
    """Log one attempt and move the delivery on (pending again, succeeded or failed) in one transaction.

    With `disable_reason`, the endpoint is disabled too (it answered 410 Gone).
    """
    now = utcnow()
    with catalog.transaction() as tx:
        tx.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?,"
            " updated_at = ? WHERE id = ?",
            (status, next_attempt_at, now, delivery["id"]),
        )
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, endpoint_id, event_id, event_type, attempt,"
            " attempted_at, status_code, duration_ms, response, error, outcome, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                delivery["id"],
                delivery["endpoint_id"],
                delivery["event_id"],
                delivery["type"],
                int(delivery["attempts"]) + 1,
                attempt["attempted_at"],
                attempt["status_code"],
                attempt["duration_ms"],
                attempt["response"],
                attempt["error"],
                attempt["outcome"],
                next_attempt_at,
            ),
        )
        if disable_reason is not None:
            tx.execute(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ?",
                (disable_reason, now, delivery["endpoint_id"]),
            )


def list_attempts(catalog: Catalog, endpoint_id: str, *, before_id: int | None, limit: int) -> list[Row]:
    """An endpoint's delivery log, newest first, keyset by attempt id."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM webhook_attempts WHERE endpoint_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (endpoint_id, before_id if before_id is not None else 2**62, limit),
        ).fetchall()


def delivery_counts(catalog: Catalog, endpoint_id: str) -> dict[str, int]:
    """Deliveries of an endpoint per status."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM webhook_deliveries WHERE endpoint_id = ? GROUP BY status",
            (endpoint_id,),
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}


def subscribed(catalog: Catalog, workspace_id: str, event_type: str) -> bool:
    """Whether an enabled endpoint of the workspace subscribes to this event type."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT events FROM webhook_endpoints WHERE workspace_id = ? AND enabled = 1", (workspace_id,)
        ).fetchall()
    return any(event_type in json.loads(row["events"]) for row in rows)


def prune(catalog: Catalog, before: str) -> int:
    """Delete finished deliveries (with their log) older than `before`, then events left without one."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "DELETE FROM webhook_deliveries WHERE status IN ('succeeded', 'failed') AND updated_at < ?",
            (before,),
        )
        tx.execute(
            "DELETE FROM webhook_attempts WHERE attempted_at < ?"
            " AND delivery_id NOT IN (SELECT id FROM webhook_deliveries)",
            (before,),
        )
        tx.execute(
            "DELETE FROM webhook_events WHERE created_at < ?"
            " AND id NOT IN (SELECT event_id FROM webhook_deliveries)",
            (before,),
        )
        return int(cur.rowcount)
