"""The ingest batch model: statuses, replace modes, the Batch record, part results and ingest errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from focusbase.focus import Dataset

STATUSES = ("received", "validating", "committed", "failed", "superseded", "reverted")
OPEN_STATUSES = ("received", "validating")
MAX_ERRORS = 100

COST_MODES = ("replace_days", "replace_range", "replace_months", "append")
COMMITMENT_MODES = ("replace_all", "append")
DEFAULT_MODE = {Dataset.COST_AND_USAGE: "replace_days", Dataset.CONTRACT_COMMITMENT: "replace_all"}
SOURCES = ("push", "multipart", "csv", "parquet", "json")


class IngestError(Exception):
    """A request the ingest service refuses: HTTP status, snake_case code, message and optional row errors."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.extra = extra or {}


def too_many_custom_columns(message: str, details: dict[str, Any]) -> IngestError:
    """The 422 for rows or a batch over a custom-column limit (Settings.max_custom_columns_per_*)."""
    return IngestError(422, "too_many_custom_columns", message, details=details)


def modes_for(dataset: Dataset) -> tuple[str, ...]:
    """The replace modes a dataset accepts."""
    return COST_MODES if dataset is Dataset.COST_AND_USAGE else COMMITMENT_MODES


@dataclass(slots=True)
class Batch:
    """One ingest batch as History shows it."""

    id: str
    workspace_id: str
    provider_id: str
    dataset: Dataset
    source: str
    mode: str
    window_start: datetime | None
    window_end: datetime | None
    status: str
    rows_received: int
    line_items_created: int
    rows_rejected: int
    replaced: dict[str, Any] | None
    sums: dict[str, Any] | None
    defaults_applied: dict[str, Any] | None
    errors: list[dict[str, Any]]
    error_count: int
    idempotency_key: str | None
    request_hash: str | None
    response: dict[str, Any] | None
    key_id: str | None
    file_name: str | None
    file_size: int | None
    mapping: Any
    progress: dict[str, Any] | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    committed_at: datetime | None
    expires_at: datetime | None
    custom_columns: list[str] | None = None  # distinct x_ names received so far

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Batch:
        values = dict(record)
        values["dataset"] = Dataset(values["dataset"])
        values["errors"] = values["errors"] or []
        return cls(**values)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: 1-based row number, column, machine code and message."""

    row: int | None
    column: str | None
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


@dataclass(slots=True)
class PartResult:
    """What one part (or a single push) contributed to its batch."""

    batch_id: str
    first_row: int
    rows_received: int
    rows_accepted: int
    rows_rejected: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    defaults_applied: dict[str, Any] = field(default_factory=dict)
    fatal: bool = False  # a problem with the table itself (columns): rejected even with allowPartial


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """The outcome of a commit: the push response body."""

    batch: Batch

    def as_json(self) -> dict[str, Any]:
        """`{batchId, status, rowsReceived, lineItemsCreated, rowsRejected, replaced, errors, errorCount}`."""
        batch = self.batch
        return {
            "batchId": batch.id,
            "status": batch.status,
            "rowsReceived": batch.rows_received,
            "lineItemsCreated": batch.line_items_created,
            "rowsRejected": batch.rows_rejected,
            "replaced": batch.replaced or {"rows": 0, "sums": {}},
            "sums": batch.sums or {},
            "errors": batch.errors,
            "errorCount": batch.error_count,
        }
