"""The delivery worker: sends due deliveries from the outbox, logs each attempt and schedules retries.

Deliveries are at least once: a delivery is leased (its due time moved past the attempt's time limit)
before it is sent, so after a crash it is sent again with the same webhook-id, and receivers deduplicate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from focusbase.notify import sender, signing
from focusbase.notify.destinations import DestinationRefused, resolve
from focusbase.runtime import Runtime
from focusbase.storage import webhooks as store
from focusbase.storage.catalog import Row

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 24 * 3600
LEASE_MARGIN_SECONDS = 5.0
IDLE_POLL_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 3600.0


def iso(moment: datetime) -> str:
    """A UTC time as the catalog stores it (sortable text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The inverse of `iso`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def retry_delay(runtime: Runtime, attempts_done: int, retry_after: float | None) -> float | None:
    """Seconds until the next attempt after `attempts_done` failed ones, or None once the schedule ends."""
    schedule = runtime.settings.webhook_retry_schedule
    if attempts_done > len(schedule):
        return None
    base = max(0.0, float(schedule[attempts_done - 1]))
    jitter = runtime.settings.webhook_retry_jitter
    delay = base * (1 + random.uniform(-jitter, jitter))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


def signing_secrets(endpoint: Row, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its grace period."""
    found = [str(endpoint["secret"])]
    previous, until = endpoint["previous_secret"], endpoint["previous_secret_expires_at"]
    if previous and until and parse_iso(str(until)) > now:
        found.append(str(previous))
    return found


def attempt_delivery(runtime: Runtime, delivery: Row) -> None:
    """Send one claimed delivery and record the outcome (blocking; runs in a worker thread)."""
    settings = runtime.settings
    endpoint = store.endpoint_by_id(runtime.catalog, delivery["endpoint_id"])
    if endpoint is None:
        return  # deleted meanwhile: its deliveries went with it
    attempted = datetime.now(UTC)
    attempts_done = int(delivery["attempts"]) + 1
    body = str(delivery["body"]).encode()
    try:
        destination = resolve(str(endpoint["url"]), allow_private=settings.webhook_allow_private_destinations)
    except DestinationRefused as exc:
        result = sender.Response(None, "", f"refused: {exc}", 0)
    else:
        timestamp = int(time.time())
        headers = {
            "webhook-id": str(delivery["event_id"]),
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                signing_secrets(endpoint, attempted), str(delivery["event_id"]), timestamp, body
            ),
        }
        result = sender.post(
            destination,
            body,
            headers,
            timeout=settings.webhook_timeout_seconds,
            max_response_bytes=settings.webhook_max_response_bytes,
        )
    attempt: dict[str, Any] = {
        "attempted_at": iso(attempted),
        "status_code": result.status,
        "duration_ms": result.duration_ms,
        "response": result.body,
        "error": result.error,
    }
    if result.status is not None and 200 <= result.status < 300:
        attempt["outcome"] = "succeeded"
        store.record_attempt(
            runtime.catalog, delivery, status="succeeded", attempt=attempt, next_attempt_at=None
        )
        return
    if result.status == 410:
        attempt["outcome"] = "disabled"
        store.record_attempt(
            runtime.catalog,
            delivery,
            status="failed",
            attempt=attempt,
            next_attempt_at=None,
            disable_reason=f"the endpoint answered 410 Gone at {iso(attempted)}",
        )
        log.warning("webhook endpoint %s answered 410 Gone and was disabled", delivery["endpoint_id"])
        return
    if result.status is not None and 300 <= result.status < 400:
        attempt["error"] = "redirects are not followed"
    throttled = result.status in (429, 503)
    delay = retry_delay(runtime, attempts_done, result.retry_after if throttled else None)
    if delay is None:
        attempt["outcome"] = "failed"
        store.record_attempt(
            runtime.catalog, delivery, status="failed", attempt=attempt, next_attempt_at=None
        )
        return
    attempt["outcome"] = "retrying"
    store.record_attempt(
        runtime.catalog,
        delivery,
        status="pending",
        attempt=attempt,
        next_attempt_at=iso(datetime.now(UTC) + timedelta(seconds=delay)),
    )


def prune_log(runtime: Runtime, now: datetime | None = None) -> int:
    """Delete finished deliveries older than webhook_log_retention_days; how many went."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=runtime.settings.webhook_log_retention_days)
    return store.prune(runtime.catalog, iso(cutoff))


class DeliveryWorker:
    """One per open runtime: polls the outbox, sends up to webhook_concurrency deliveries at once."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._next_prune = 0.0
        # Sends wait on receivers for up to the attempt time limit: they get threads of their own, so slow
        # receivers never hold the threads other background work runs on.
        self._pool = concurrent.futures.ThreadPoolExecutor(
            runtime.settings.webhook_concurrency, thread_name_prefix="webhook-send"
        )

    def notify(self) -> None:
        """Wake the loop (thread-safe)."""
        # A closed loop: the next start picks the deliveries up.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)

    async def loop(self) -> None:
        """Claim and send due deliveries until stopped."""
        while not self._stopping:
            self._wake.clear()
            try:
                if self._loop.time() >= self._next_prune:
                    self._next_prune = self._loop.time() + PRUNE_EVERY_SECONDS
                    if self.runtime.leadership.is_leader:  # one process of a deployment prunes
                        await asyncio.to_thread(prune_log, self.runtime)
                await self._dispatch_due()
                timeout = await asyncio.to_thread(self._idle_seconds)
            except Exception:
                log.exception("webhook worker: reading the outbox failed")
                timeout = IDLE_POLL_SECONDS
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)

    def _idle_seconds(self) -> float:
        if len(self._inflight) >= self.runtime.settings.webhook_concurrency:
            return IDLE_POLL_SECONDS  # a finishing send wakes the loop
        due = store.next_due(self.runtime.catalog)
        if due is None:
            return IDLE_POLL_SECONDS
        wait = (parse_iso(due) - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), IDLE_POLL_SECONDS)

    async def _dispatch_due(self) -> None:
        settings = self.runtime.settings
        free = settings.webhook_concurrency - len(self._inflight)
        if free <= 0:
            return
        now = datetime.now(UTC)
        due = await asyncio.to_thread(store.due_deliveries, self.runtime.catalog, iso(now), free)
        lease = iso(now + timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS))
        for row in due:
            claimed = await asyncio.to_thread(
                store.claim_delivery, self.runtime.catalog, row["id"], row["next_attempt_at"], lease
            )
            if claimed is None:
                continue
            task = asyncio.create_task(self._send(claimed), name=f"webhook delivery {row['id']}")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _send(self, delivery: Row) -> None:
        try:
            await self._loop.run_in_executor(self._pool, attempt_delivery, self.runtime, delivery)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery["id"])
        finally:
            self._wake.set()

    async def stop(self) -> None:
        """Stop claiming and let the sends under way finish (each is bounded by the attempt time limit)."""
        self._stopping = True
        self._wake.set()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.runtime.settings.webhook_timeout_seconds + 2)
        self._pool.shutdown(wait=False)
