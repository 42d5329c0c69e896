"""The warehouse: one DuckDB database file in the data directory holding batches and FOCUS rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from focusbase.storage import migrations, rollups
from focusbase.storage.datadir import secure_data_dir

WAREHOUSE_FILE = "warehouse.duckdb"


class DataDirLocked(RuntimeError):
    """Another process (normally the running server) holds the warehouse."""


def engine_error_reason(exc: BaseException) -> str:
    """What a client may be told about a failed storage operation: the cause, without the engine's internals.

    Operating-system errors (a full disk) say nothing of the engine and are shown; DuckDB's own messages
    (plans, tuning advice, internal state) stay in the server log.
    """
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "the warehouse ran out of memory (FOCUSBASE_DUCKDB_MEMORY_LIMIT)"
    if isinstance(exc, duckdb.IOException):
        return "the warehouse could not read or write its files (the server log has the cause)"
    return "an internal error (the server log has the cause)"


class Warehouse:
    """A process-wide DuckDB connection; use `cursor()` per thread and `writer()` for every write."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        checkpoint_threshold: str | None = None,
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Without insertion order, DuckDB runs the single-pass import's INSERT ... SELECT on every core
        # (keeping order, it falls back to one thread under the memory limit). Order is ours to keep: a part
        # is inserted as one chunk by one thread, in order, and every read sorts by row_seq.
        config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        if checkpoint_threshold:
            # Every part of a batch commits its staged rows (durable in the WAL); checkpointing only every
            # hundred MB or so of WAL, not DuckDB's default 16MB, avoids rewriting the table's partly filled
            # row groups after nearly every part. The WAL is replayed after a crash either way.
            config["checkpoint_threshold"] = checkpoint_threshold
        try:
            self._conn = duckdb.connect(str(path), config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DataDirLocked(
                    f"the warehouse {path} is in use by another process"
                    f" (is `focusbase serve` running?): {exc}"
                ) from exc
            raise
        # One writer path: batch commits, reverts and deletes take this lock so they never interleave.
        self.write_lock = threading.RLock()
        self.migrate()

    @classmethod
    def in_dir(cls, data_dir: Path, **kwargs: object) -> Warehouse:
        secure_data_dir(data_dir, deep=False)
        return cls(data_dir / WAREHOUSE_FILE, **kwargs)  # type: ignore[arg-type]

    def migrate(self) -> list[str]:
        """Apply pending warehouse migrations; each one and its record commit together."""
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "number INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        applied = {row[0] for row in self._conn.execute("SELECT number FROM schema_migrations").fetchall()}

        def run(migration: migrations.Migration) -> None:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN TRANSACTION")
                cur.execute(migration.sql)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                    [migration.number, migration.name],
                )
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

        done = migrations.apply_all("warehouse", applied, run)
        # A data directory from before the rollups (or from an older rollup version) gets them built now.
        rollups.ensure_built(self._conn)
        return done

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for the calling thread (DuckDB connections are not shared across threads)."""
        cur = self._conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction under the write lock: all of it commits, or none of it."""
        with self.write_lock, self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
