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
from focusbase.storage.providers import FAILURE_REASON as PROVIDER_DELETED
from focusbase.storage.providers import ProviderDeleted
from focusbase.storage.warehouse import engine_error_reason
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider

INTERRUPTED = "interrupted by a server restart"

log = logging.getLogger(__name__)
# Open batches whose parts are not summed into rollup pre-aggregates (they did not shrink: see
# rollups.stage_part). Only the stager thread touches it; bounded, and forgetting an id costs time only (its
# next part is summed again, and the commit, finding the sums incomplete, recomputes from the rows).
_UNSUMMED: dict[str, None] = {}
_UNSUMMED_MAX = 10_000


def now() -> datetime:
    """Now, UTC, as the naive TIMESTAMP the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def load_batch(runtime: Runtime, batch_id: str) -> Batch:
    with runtime.warehouse.cursor() as cur:
        record = store.get(cur, batch_id)
    if record is None:
        raise IngestError(404, "not_found", f"batch {batch_id} not found")
    return Batch.from_record(record)


def _update(runtime: Runtime, batch_id: str, fields: dict[str, Any]) -> None:
    with runtime.warehouse.transaction() as cur:
        store.update(cur, batch_id, {**fields, "updated_at": now()})


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


def create_batch(
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
) -> Batch:
    """Open a batch (status received) for a provider; it expires after Settings.open_batch_ttl_hours."""
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
    with runtime.warehouse.transaction() as cur:
        store.insert(cur, record)
        stored = store.get(cur, record["id"])
    assert stored is not None
    return Batch.from_record(stored)


def get_batch(runtime: Runtime, workspace_id: str, batch_id: str) -> Batch | None:
    """One batch of a workspace, or None."""
    with runtime.warehouse.cursor() as cur:
        record = store.get(cur, batch_id, workspace_id)
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
    with runtime.warehouse.cursor() as cur:
        records = store.list_for_provider(cur, workspace_id, provider_id, limit=limit, after=after)
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
    try:
        with runtime.warehouse.transaction() as cur:
            record = store.get(cur, batch.id)
            if record is None or record["status"] not in ("received", "validating"):
                return  # aborted or failed meanwhile: nothing of it is kept
            if rows is not None:
                cost_rows.insert(
                    cur,
                    batch.dataset,
                    rows,
                    staged=True,
                    workspace_id=batch.workspace_id,
                    provider_id=batch.provider_id,
                    batch_id=batch.id,
                )
                # Summed now, off the commit, so that the commit only re-groups the batch's sums.
                last = result.first_row + result.rows_received - 1
                if batch.id not in _UNSUMMED and not cost_rows.stage_rollup(
                    cur, batch.dataset, batch.id, result.first_row, last, rows.rows
                ):
                    _UNSUMMED[batch.id] = None
                    while len(_UNSUMMED) > _UNSUMMED_MAX:
                        del _UNSUMMED[next(iter(_UNSUMMED))]
            fields = {**_tally(Batch.from_record(record), result), "updated_at": now()}
            if progress is not None:
                fields["progress"] = progress
            store.update(cur, batch.id, fields)
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
    replace = cost_rows.Replace(batch.mode, batch.window_start, batch.window_end)  # type: ignore[arg-type]
    with runtime.warehouse.transaction() as cur:
        current = store.get(cur, batch.id)
        if current is None or current["status"] not in ("received", "validating"):
            status = "gone"
            if current is not None:
                status = _closed_reason(Batch.from_record(current))
            raise IngestError(409, "batch_not_open", f"batch {batch.id} is {status}; it cannot be committed")
        outcome = cost_rows.commit(
            cur,
            batch.dataset,
            batch_id=batch.id,
            workspace_id=batch.workspace_id,
            provider_id=batch.provider_id,
            replace=replace,
            prepared=rows,
        )
        stamp = now()
        store.update(
            cur,
            batch.id,
            {
                **tally,
                "status": "committed",
                "line_items_created": outcome.rows,
                "sums": outcome.sums,
                "replaced": {
                    "rows": outcome.replaced_rows,
                    "sums": outcome.replaced_sums,
                    "batches": outcome.superseded_batches,
                },
                "committed_at": stamp,
                "updated_at": stamp,
                "expires_at": None,
            },
        )
        if outcome.replaced_rows:
            cost_rows.prune(cur, batch.dataset, batch.provider_id, runtime.settings.keep_superseded_versions)
        record = store.get(cur, batch.id)
        assert record is not None
        committed = Batch.from_record(record)
        if remember:
            response = {"status": 200, "body": BatchSummary(committed).as_json()}
            store.update(cur, batch.id, {"response": response})
            committed.response = response
    record_batch_status("committed")
    batch_events.batch_committed(runtime, committed)
    record_ingest(outcome.rows, "stored")
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
    """Record the counts of rows staged outside the stager (ingest.single_pass) on the open batch.

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
    with runtime.warehouse.transaction() as cur:
        current = store.get(cur, batch.id)
        if current is None or current["status"] not in ("received", "validating"):
            return
        cost_rows.discard_staged(cur, batch.dataset, batch.id)
        store.update(cur, batch.id, fields)
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
