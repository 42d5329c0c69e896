"""The batch service shared by push and file import: create, add parts, commit, fail, abort, list.

A batch is `received` while open, `validating` while a part is checked, then `committed` or `failed`; later
`superseded` (every row replaced by later batches) or `reverted`. Rows of a part are validated with the
ingest profile, defaulted and normalised, then staged; the commit moves them into the stored rows and
supersedes what the batch replaces in one DuckDB transaction, so readers see all of it or none of it.
Reverting a committed batch is `ingest.revert`.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from focusbase.analytics.anomaly_service import schedule_detection
from focusbase.focus import Dataset
from focusbase.ingest import custom_columns, stager
from focusbase.ingest.model import (
    DEFAULT_MODE,
    MAX_ERRORS,
    Batch,
    BatchSummary,
    IngestError,
    PartResult,
    modes_for,
)
from focusbase.ingest.parts import merge_defaults, prepare_part
from focusbase.notify import batch_events
from focusbase.observability import record_batch_status, record_ingest
from focusbase.runtime import Runtime
from focusbase.storage import batches as store
from focusbase.storage import cost_rows
from focusbase.storage.ingest_store import BatchClosed, committed_fields
from focusbase.storage.providers import FAILURE_REASON as PROVIDER_DELETED
from focusbase.storage.providers import ProviderDeleted
from focusbase.storage.warehouse import engine_error_reason
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider

INTERRUPTED = "interrupted by a server restart"

log = logging.getLogger(__name__)


def now() -> datetime:
    """Now, UTC, as the naive TIMESTAMP the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def load_batch(runtime: Runtime, batch_id: str) -> Batch:
    record = runtime.ingest.get(batch_id)
    if record is None:
        raise IngestError(404, "not_found", f"batch {batch_id} not found")
    return Batch.from_record(record)


def _update(runtime: Runtime, batch_id: str, fields: dict[str, Any]) -> None:
    runtime.ingest.update(batch_id, {**fields, "updated_at": now()})


def check_mode(
    dataset: Dataset, mode: str | None, start: datetime | None, end: datetime | None
) -> tuple[str, datetime | None, datetime | None]:
    """The replace mode (default per dataset) and window, or a 400 naming what is wrong."""
    chosen = mode or DEFAULT_MODE[dataset]
    allowed = modes_for(dataset)
    if chosen not in allowed:
        raise IngestError(
            400,
            "invalid_mode",
            f"mode {chosen!r} is not one of {', '.join(allowed)} for {dataset.value} data",
        )
    if chosen == "replace_range":
        if start is None or end is None:
            raise IngestError(400, "invalid_window", "mode replace_range needs both start and end")
        if start >= end:
            raise IngestError(400, "invalid_window", "start must be before end (the range is [start, end))")
    elif start is not None or end is not None:
        raise IngestError(400, "invalid_window", "start and end apply only to mode replace_range")
    return chosen, start, end


def open_batch(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    *,
    source: str,
    mode: str | None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    dataset: Dataset = Dataset.COST_AND_USAGE,
    file_name: str | None = None,
    file_size: int | None = None,
    mapping: Any = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    replay_since: datetime | None = None,
) -> tuple[Batch, bool]:
    """Open a batch (status received) for a provider; it expires after Settings.open_batch_ttl_hours.

    Returns the batch and True. With `replay_since`, an earlier batch of the provider that used
    `idempotency_key` since then and can answer again (ingest.push) is returned instead, with False: found
    and created in one atomic step of the store, so replicas given the same key at once make one batch.
    """
    chosen, start, end = check_mode(dataset, mode, window_start, window_end)
    created = now()
    record = {
        "id": "bat_" + secrets.token_hex(10),
        "workspace_id": provider.workspace_id,
        "provider_id": provider.id,
        "dataset": dataset.value,
        "source": source,
        "mode": chosen,
        "window_start": start,
        "window_end": end,
        "status": "received",
        "errors": [],
        "defaults_applied": {},
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "key_id": principal.key_id,
        "file_name": file_name,
        "file_size": file_size,
        "mapping": mapping,
        "created_at": created,
        "updated_at": created,
        "expires_at": created + timedelta(hours=runtime.settings.open_batch_ttl_hours),
    }
    stored = runtime.ingest.create(record, replay_since=replay_since)
    return Batch.from_record(stored), stored["id"] == record["id"]


def create_batch(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    **options: Any,
) -> Batch:
    """Open a batch (status received) for a provider: `open_batch` without Idempotency-Key replays."""
    batch, _ = open_batch(runtime, principal, provider, **options)
    return batch


def get_batch(runtime: Runtime, workspace_id: str, batch_id: str) -> Batch | None:
    """One batch of a workspace, or None."""
    record = runtime.ingest.get(batch_id, workspace_id)
    return Batch.from_record(record) if record else None


def list_batches(
    runtime: Runtime,
    workspace_id: str,
    provider_id: str,
    *,
    limit: int = 50,
    after: tuple[datetime, str] | None = None,
) -> list[Batch]:
    """A provider's batches, newest first; `after` is the last seen batch's (created_at, id)."""
    records = runtime.ingest.list_for_provider(workspace_id, provider_id, limit=limit, after=after)
    return [Batch.from_record(r) for r in records]


def _closed_reason(batch: Batch) -> str:
    return f"{batch.status}: {batch.failure_reason}" if batch.failure_reason else batch.status


def _require_open(batch: Batch) -> None:
    if not batch.is_open:
        raise IngestError(
            409,
            "batch_not_open",
            f"batch {batch.id} is {_closed_reason(batch)}; only an open batch accepts this",
        )


def _rejection(batch: Batch, result: PartResult) -> IngestError:
    return IngestError(
        422,
        "validation_failed",
        _rejection_message(result),
        details={"batchId": batch.id, "firstRow": result.first_row},
        extra={
            "batchId": batch.id,
            "errors": result.errors,
            "errorCount": result.error_count,
            "rowsReceived": result.rows_received,
            "rowsRejected": result.rows_rejected,
        },
    )


def _reject(runtime: Runtime, batch: Batch, result: PartResult) -> IngestError:
    fail_batch(
        runtime,
        batch,
        _rejection_message(result),
        errors=result.errors,
        error_count=result.error_count,
        rows_received=batch.rows_received + result.rows_received,
        rows_rejected=batch.rows_rejected + result.rows_rejected,
    )
    return _rejection(batch, result)


def _rejection_message(result: PartResult) -> str:
    if result.fatal:
        first = result.errors[0]["message"] if result.errors else "the table cannot be ingested"
        return f"the rows were rejected as a whole: {first}; nothing was stored"
    return (
        f"{result.rows_rejected} of {result.rows_received} rows are invalid ({result.error_count} errors); "
        "nothing was stored. Fix the rows listed in errors, or send ?allowPartial=true to store the "
        "valid rows"
    )


def _tally(batch: Batch, result: PartResult) -> dict[str, Any]:
    errors = (batch.errors + result.errors)[:MAX_ERRORS]
    return {
        "rows_received": batch.rows_received + result.rows_received,
        "rows_rejected": batch.rows_rejected + result.rows_rejected,
        "errors": errors,
        "error_count": batch.error_count + result.error_count,
        "defaults_applied": merge_defaults(batch.defaults_applied or {}, result.defaults_applied),
    }


def add_part(
    runtime: Runtime,
    batch: Batch,
    table: pa.Table,
    *,
    allow_partial: bool = False,
    provider: Provider | None = None,
    first_row: int | None = None,
    progress: dict[str, Any] | None = None,
) -> PartResult:
    """Check one part and hand its accepted rows to the stager; row numbers continue across parts.

    Parts are numbered in arrival order unless the sender says where the part starts (`first_row`, the
    1-based number of its first row in the whole batch), which keeps file row numbers when parts are sent
    concurrently. `progress` is recorded on the batch together with the part's counts.

    Without allow_partial, any invalid row fails the whole batch (status failed, staged rows dropped) and
    raises IngestError 422 carrying the row errors; with it, the valid rows are staged and the rest reported.
    """

    def load() -> Batch:
        current = load_batch(runtime, batch.id)
        _require_open(current)
        return current

    custom_columns.count(runtime, batch.id, table.column_names)
    batch, next_row = stager.reserve(batch.id, table.num_rows, load)
    if first_row is None:
        first_row = next_row
    handed_over = False
    try:
        rows, result = prepare_part(runtime, batch, table, provider=provider, first_row=first_row)
        if result.fatal or (result.rows_rejected and not allow_partial):
            stager.checked(batch.id)
            handed_over = True
            stager.wait_until_staged(batch.id)
            raise _fail_part(runtime, batch, result)
        stager.wait_for_room(batch.id)
        current = load_batch(runtime, batch.id)
        if not current.is_open:
            raise IngestError(
                409,
                "batch_not_open",
                f"batch {batch.id} was closed while this part was checked ({_closed_reason(current)})",
            )
        handed_over = True
        stager.hand_over(batch.id, _stage, runtime, batch, rows, result, progress)
        if runtime.ingest.synchronous_parts:
            stager.wait_until_staged(batch.id)
    finally:
        if not handed_over:
            stager.checked(batch.id)
    return result


def _stage(
    runtime: Runtime,
    batch: Batch,
    rows: cost_rows.Prepared | None,
    result: PartResult,
    progress: dict[str, Any] | None,
) -> None:
    """The stager's job (ingest.stager): write one accepted part and its counts in one transaction."""

    def fields(current: dict[str, Any]) -> dict[str, Any]:
        tally = {**_tally(Batch.from_record(current), result), "updated_at": now()}
        return tally if progress is None else {**tally, "progress": progress}

    try:
        if rows is None:
            runtime.ingest.update_open(batch.id, fields)
        else:
            # False when the batch was aborted or failed meanwhile: nothing of the part is kept.
            runtime.ingest.stage(batch.id, rows, result.first_row, fields)
    except Exception as exc:
        log.exception("staging a part of batch %s failed", batch.id)
        try:
            last = result.first_row + result.rows_received - 1
            reason = f"storing rows {result.first_row} to {last} failed: {engine_error_reason(exc)}"
            fail_batch(runtime, batch, reason, wait=False)  # the stager cannot wait for itself
        except Exception:
            log.exception("marking batch %s failed did not work either", batch.id)


def _commit(
    runtime: Runtime,
    batch: Batch,
    rows: cost_rows.Prepared | None,
    tally: dict[str, Any],
    *,
    remember: bool = False,
) -> Batch:
    """Store, supersede and prune old versions in one transaction; returns the committed batch.

    With `remember`, the response is stored with it (for Idempotency-Key replays) in the same transaction.
    """

    def fields(outcome: cost_rows.CommitOutcome) -> dict[str, Any]:
        return {**tally, **committed_fields(outcome, now())}

    def response(record: dict[str, Any]) -> dict[str, Any]:
        return {"status": 200, "body": BatchSummary(Batch.from_record(record)).as_json()}

    try:
        record = runtime.ingest.commit(
            batch.id,
            rows,
            fields,
            keep=runtime.settings.keep_superseded_versions,
            response=response if remember else None,
        )
    except BatchClosed as closed:
        status = "gone" if closed.record is None else _closed_reason(Batch.from_record(closed.record))
        raise IngestError(
            409, "batch_not_open", f"batch {batch.id} is {status}; it cannot be committed"
        ) from None
    committed = Batch.from_record(record)
    record_batch_status("committed")
    batch_events.batch_committed(runtime, committed)
    record_ingest(committed.line_items_created, "stored")
    record_ingest(int(tally.get("rows_rejected", batch.rows_rejected)), "rejected")
    return committed


def _commit_unless_deleted(
    runtime: Runtime,
    batch: Batch,
    rows: cost_rows.Prepared | None,
    tally: dict[str, Any],
    *,
    remember: bool = False,
) -> Batch:
    """`_commit`, except that a batch whose provider was deleted meanwhile fails and raises 409."""
    try:
        committed = _commit(runtime, batch, rows, tally, remember=remember)
        schedule_detection(runtime, batch.workspace_id, batch.provider_id)
        return committed
    except ProviderDeleted:
        # The commit rolled back; the batch's staged rows go with its failure. Its parts were waited for.
        fail_batch(runtime, batch, PROVIDER_DELETED, wait=False)
        raise IngestError(
            409,
            "provider_deleted",
            f"provider {batch.provider_id} was deleted; batch {batch.id} failed and stored nothing",
            details={"batchId": batch.id},
        ) from None


def check_part(
    runtime: Runtime,
    batch: Batch,
    table: pa.Table,
    *,
    first_row: int,
    defaults_before: dict[str, Any],
    provider: Provider | None = None,
) -> PartResult:
    """Check one part of a file already known to be rejected, without staging it (ingest.single_pass).

    The parts before it were clean (`first_row - 1` rows, which defaulted `defaults_before`); a rejected part
    fails the batch with what `add_part` would have recorded by then, and raises the same IngestError 422.
    """
    _, result = prepare_part(runtime, batch, table, provider=provider, first_row=first_row)
    if result.fatal or result.rows_rejected:
        raise _fail_part(runtime, batch, result, received_before=first_row - 1, defaults=defaults_before)
    return result


def _fail_part(
    runtime: Runtime,
    batch: Batch,
    result: PartResult,
    *,
    received_before: int | None = None,
    defaults: dict[str, Any] | None = None,
) -> IngestError:
    """Fail the batch at a rejected part and return the 422 to raise.

    The rows before the part count as received: as the batch recorded them, or `received_before` when they
    were checked but not staged (with the `defaults` they took).
    """
    current = load_batch(runtime, batch.id)
    before = current.rows_received if received_before is None else received_before
    fail_batch(
        runtime,
        current,
        _rejection_message(result),
        errors=(current.errors + result.errors)[:MAX_ERRORS],
        error_count=current.error_count + result.error_count,
        rows_received=before + result.rows_received,
        rows_rejected=current.rows_rejected + result.rows_rejected,
        defaults_applied=defaults,
    )
    return _rejection(batch, result)


def record_staged(
    runtime: Runtime, batch: Batch, result: PartResult, progress: dict[str, Any] | None = None
) -> None:
    """Record the counts of rows staged outside the stager (ingest.single_pass, embedded warehouse only) on
    the open batch.

    If the batch was closed meanwhile (aborted, failed), the rows are dropped and IngestError 409 raised.
    """
    with runtime.warehouse.transaction() as cur:
        record = store.get(cur, batch.id)
        if record is None or record["status"] not in ("received", "validating"):
            cost_rows.discard_staged(cur, batch.dataset, batch.id)
            closed = Batch.from_record(record) if record is not None else batch
            reason = _closed_reason(closed)
        else:
            fields = {**_tally(Batch.from_record(record), result), "updated_at": now()}
            if progress is not None:
                fields["progress"] = progress
            store.update(cur, batch.id, fields)
            return
    raise IngestError(
        409, "batch_not_open", f"batch {batch.id} was closed while its file was imported ({reason})"
    )


def commit_batch(runtime: Runtime, batch: Batch) -> BatchSummary:
    """Atomically move the staged rows into the stored rows and supersede what the batch replaces."""
    batch = load_batch(runtime, batch.id)
    _require_open(batch)
    if batch.status == "validating":
        raise IngestError(
            409,
            "batch_busy",
            f"batch {batch.id} is being checked; commit after every part has been answered",
            headers={"Retry-After": "1"},
        )
    with stager.committing(batch.id):
        # Answered parts may still be on their way into the warehouse: the commit includes every one.
        stager.wait_until_staged(batch.id)
        committed = _commit_unless_deleted(runtime, batch, None, {})
    return BatchSummary(committed)


def ingest_table(
    runtime: Runtime,
    batch: Batch,
    table: pa.Table,
    *,
    allow_partial: bool = False,
    provider: Provider | None = None,
    remember: bool = False,
) -> BatchSummary:
    """A single-request batch: validate, then store and replace in one transaction without staging.

    With `remember`, the response is kept on the batch for Idempotency-Key replays.
    """
    _update(runtime, batch.id, {"status": "validating"})
    rows, result = prepare_part(runtime, batch, table, provider=provider)
    if result.fatal or (result.rows_rejected and not allow_partial):
        raise _reject(runtime, batch, result)
    return BatchSummary(
        _commit_unless_deleted(runtime, batch, rows, _tally(batch, result), remember=remember)
    )


def fail_batch(
    runtime: Runtime,
    batch: Batch,
    reason: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    error_count: int | None = None,
    rows_received: int | None = None,
    rows_rejected: int | None = None,
    defaults_applied: dict[str, Any] | None = None,
    wait: bool = True,
) -> None:
    """Mark an open batch failed with a reason and drop its staged rows.

    First waits for the stager to finish the batch's answered parts (`wait=False` only for the stager itself).
    """
    if wait:
        stager.wait_until_staged(batch.id)
    fields: dict[str, Any] = {
        "status": "failed",
        "failure_reason": reason,
        "updated_at": now(),
        "expires_at": None,
    }
    if errors is not None:
        fields["errors"] = errors[:MAX_ERRORS]
    if error_count is not None:
        fields["error_count"] = error_count
    if rows_received is not None:
        fields["rows_received"] = rows_received
    if rows_rejected is not None:
        fields["rows_rejected"] = rows_rejected
    if defaults_applied is not None:
        fields["defaults_applied"] = defaults_applied
    if not runtime.ingest.fail(batch.id, fields):
        return
    record_batch_status("failed")
    batch_events.batch_failed(runtime, batch, reason)
    record_ingest(int(fields.get("rows_rejected", 0)), "rejected")


def abort_batch(runtime: Runtime, batch: Batch) -> Batch:
    """Abort an open batch: its staged rows are dropped and nothing it sent is stored."""
    batch = load_batch(runtime, batch.id)
    _require_open(batch)
    fail_batch(runtime, batch, "aborted by the client")
    return load_batch(runtime, batch.id)


def set_progress(runtime: Runtime, batch: Batch, progress: dict[str, Any]) -> None:
    """Record progress (e.g. bytes read of a file import) on an open batch."""
    _update(runtime, batch.id, {"progress": progress})
