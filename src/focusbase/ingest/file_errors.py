"""Why an import file is refused, and engine failures told to clients without the engine's internals.

DuckDB's messages are written for whoever runs the SQL ("Possible solutions: SET threads=..."); a client
gets a stable code and a sentence about its file, and the server log keeps DuckDB's own text.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from focusbase.observability import current_request_id

log = logging.getLogger(__name__)


class ImportFileError(ValueError):
    """A file that cannot be imported as it is; `code` and `status` are what the API answers."""

    def __init__(self, code: str, message: str, details: Any = None, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.status = status


def is_engine_failure(exc: BaseException) -> bool:
    """Whether a DuckDB error is the engine's own trouble (memory, internal state), not the file's content."""
    return isinstance(
        exc,
        duckdb.OutOfMemoryException
        | duckdb.InternalException
        | duckdb.FatalException
        | duckdb.TransactionException
        | duckdb.InterruptException,
    )


def engine_failure(exc: duckdb.Error, doing: str) -> ImportFileError:
    """A DuckDB failure that is not about the file's content, as a stable code; the detail is logged."""
    log.warning(
        "import: the storage engine failed while %s: %s: %s",
        doing,
        type(exc).__name__,
        exc,
        extra={"requestId": current_request_id()},
    )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return ImportFileError(
            "out_of_memory",
            f"the server ran out of memory while {doing}; nothing was stored. Try again later or with a "
            "smaller file; an operator can raise FOCUSBASE_IMPORT_MEMORY_LIMIT or "
            "FOCUSBASE_DUCKDB_MEMORY_LIMIT",
            status=503,
        )
    return ImportFileError(
        "engine_error",
        f"the storage engine failed while {doing}; nothing was stored (the server log has the detail)",
        status=500,
    )
