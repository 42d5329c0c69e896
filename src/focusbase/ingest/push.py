"""Push ingest: one request is one batch. Body limits, gzip, the envelope, Idempotency-Key replays."""

from __future__ import annotations

import hashlib
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.ingest import batches
from focusbase.ingest.envelope import Census, Payload, PayloadError, as_payload, census, parse_rows
from focusbase.ingest.model import IngestError, too_many_custom_columns
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider

# Checking an Idempotency-Key and creating its batch happen together, so two concurrent requests with the
# same key cannot both create a batch.
_IDEMPOTENCY_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """The HTTP status and JSON body of a push (a replay returns the first request's)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def too_large(limit: int) -> IngestError:
    """The 413 for a body over Settings.max_body_bytes."""
    return IngestError(
        413,
        "payload_too_large",
        f"the request body is larger than {limit} bytes (after gunzip); split it into the parts of a "
        "multi-part batch",
        details={"maxBodyBytes": limit},
    )


def decode_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body, gunzipped when Content-Encoding says gzip; 413 beyond `limit` bytes, 400 when corrupt."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise too_large(limit)
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise IngestError(
            415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported; use gzip"
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise too_large(limit)
        data += inflater.flush()
    except zlib.error as exc:
        raise IngestError(
            400, "invalid_gzip", f"the gzip request body cannot be decompressed: {exc}"
        ) from None
    if len(data) > limit:
        raise too_large(limit)
    if not inflater.eof:
        raise IngestError(400, "invalid_gzip", "the gzip request body is truncated")
    return data


def read_payload(data: bytes, settings: Settings) -> Payload:
    """Parse the envelope (400 when unreadable) and enforce the per-request limits (413, 422).

    The limits on rows, columns and cells are checked on the parsed rows before they become a table, whose
    size is rows x distinct keys: a payload of rows with many different keys is refused, not built.
    """
    try:
        parsed = parse_rows(data)
    except PayloadError as exc:
        raise IngestError(400, "invalid_payload", str(exc)) from None
    rows = len(parsed.rows)
    if rows > settings.max_rows_per_request:
        raise IngestError(
            413,
            "too_many_rows",
            f"the request has {rows} rows; at most {settings.max_rows_per_request} are accepted per request "
            "(send a multi-part batch for more)",
            details={"rows": rows, "maxRowsPerRequest": settings.max_rows_per_request},
        )
    counted = census(parsed.rows)
    check_columns(counted, rows, settings)
    return as_payload(parsed, counted)


def check_columns(counted: Census, rows: int, settings: Settings) -> None:
    """Custom columns per row and per request, and rows x columns, within the settings' limits."""
    per_row = settings.max_custom_columns_per_row
    if counted.widest_custom > per_row:
        raise too_many_custom_columns(
            f"row {counted.widest_row} has {counted.widest_custom} custom (x_) columns; at most {per_row} "
            "are accepted per row (FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW)",
            {
                "row": counted.widest_row,
                "customColumns": counted.widest_custom,
                "maxCustomColumnsPerRow": per_row,
            },
        )
    per_batch = settings.max_custom_columns_per_batch
    if counted.custom > per_batch:
        raise too_many_custom_columns(
            f"the rows have {counted.custom} distinct custom (x_) columns; at most {per_batch} are accepted "
            "per batch (FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_BATCH)",
            {"customColumns": counted.custom, "maxCustomColumnsPerBatch": per_batch},
        )
    cells = rows * len(counted.names)
    if cells > settings.max_cells_per_request:
        raise IngestError(
            413,
            "too_many_cells",
            f"the request has {rows} rows and {len(counted.names)} distinct columns ({cells} cells); at most "
            f"{settings.max_cells_per_request} cells are accepted per request "
            "(FOCUSBASE_MAX_CELLS_PER_REQUEST): send fewer rows per request, or rows with the same columns",
            details={
                "rows": rows,
                "columns": len(counted.names),
                "cells": cells,
                "maxCellsPerRequest": settings.max_cells_per_request,
            },
        )


def payload_dataset(payload: Payload) -> Dataset:
    """The dataset the envelope names (Cost and Usage when it names none)."""
    return Dataset(payload.dataset) if payload.dataset else Dataset.COST_AND_USAGE


def request_hash(data: bytes, params: dict[str, Any]) -> str:
    """What makes two requests "the same" for Idempotency-Key: the body and the query parameters."""
    digest = hashlib.sha256(data)
    digest.update(orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=str))
    return digest.hexdigest()


def _replay(existing: dict[str, Any], digest: str) -> PushOutcome | None:
    if existing["request_hash"] != digest:
        raise IngestError(
            422,
            "idempotency_key_reused",
            f"Idempotency-Key was already used by batch {existing['id']} with a different request body or "
            "parameters; use a new key for a new request",
            details={"batchId": existing["id"]},
        )
    response = existing["response"]
    if response is None:
        if existing["status"] in ("received", "validating"):
            raise IngestError(
                409,
                "idempotency_in_progress",
                f"the first request with this Idempotency-Key (batch {existing['id']}) is still running",
                headers={"Retry-After": "1"},
            )
        return None  # it failed without a response (a crash): this request tries again
    return PushOutcome(int(response["status"]), response["body"], replayed=True)


def push(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    raw: bytes,
    *,
    content_encoding: str | None = None,
    mode: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    allow_partial: bool = False,
    idempotency_key: str | None = None,
) -> PushOutcome:
    """Ingest one pushed request as a batch: validate, default, store and replace atomically."""
    settings = runtime.settings
    data = decode_body(raw, content_encoding, settings.max_body_bytes)
    payload = read_payload(data, settings)
    dataset = payload_dataset(payload)
    digest = request_hash(
        data,
        {"mode": mode, "start": start, "end": end, "allowPartial": allow_partial, "dataset": dataset.value},
    )
    since = None
    if idempotency_key:
        since = batches.now() - timedelta(hours=settings.idempotency_ttl_hours)
    with _IDEMPOTENCY_LOCK:
        # Found and created in one step of the store, so two replicas given the same key make one batch.
        batch, created = batches.open_batch(
            runtime,
            principal,
            provider,
            source="push",
            mode=mode,
            window_start=start,
            window_end=end,
            dataset=dataset,
            idempotency_key=idempotency_key,
            request_hash=digest,
            replay_since=since,
        )
    if not created:
        existing = runtime.ingest.get(batch.id)
        assert existing is not None
        replay = _replay(existing, digest)
        assert replay is not None  # the store answers only a batch that can reply
        return replay
    try:
        summary = batches.ingest_table(
            runtime, batch, payload.table, allow_partial=allow_partial, provider=provider, remember=True
        )
    except IngestError as exc:
        body = error_json(exc)
        batches.fail_batch(runtime, batch, exc.message)
        _remember(runtime, batch.id, exc.status, body)
        raise
    except BaseException as exc:
        batches.fail_batch(runtime, batch, f"internal error: {type(exc).__name__}")
        raise
    return PushOutcome(200, summary.as_json())


def error_json(exc: IngestError) -> dict[str, Any]:
    """The error envelope of an IngestError (`details` is a string or null, as everywhere)."""
    details = exc.details
    if details is not None and not isinstance(details, str):
        details = orjson.dumps(details, default=str).decode()
    return {"code": exc.code, "message": exc.message, "details": details, **exc.extra}


def _remember(runtime: Runtime, batch_id: str, status: int, body: dict[str, Any]) -> None:
    runtime.ingest.update(batch_id, {"response": {"status": status, "body": body}})
