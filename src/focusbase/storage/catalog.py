"""The catalog: workspaces, keys, providers, export jobs and everything small that all processes share.

Two implementations offer the same operations. The embedded default is a SQLite file in the data directory
(WAL mode, so the CLI can create keys while the server runs); the scale-out profile is PostgreSQL
(storage/postgres.py), chosen by FOCUSBASE_CATALOG_URL. Services write their SQL once, in the subset both
engines run the same: `?` parameters, `INSERT ... ON CONFLICT`, `RETURNING`, TEXT/INTEGER columns.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from focusbase.storage import migrations
from focusbase.storage.datadir import secure_data_dir

CATALOG_FILE = "catalog.sqlite"
DEFAULT_WORKSPACE_ID = "ws_default"
DEFAULT_WORKSPACE_NAME = "default"
# The statement that makes sure the default workspace exists, in both dialects.
ENSURE_DEFAULT_WORKSPACE = (
    "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)


def utcnow() -> str:
    """Now, UTC, ISO 8601 with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Row(Protocol):
    """A catalog row: indexed by position or by column name, like sqlite3.Row."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...


class Connection(Protocol):
    """What services may do with a catalog connection: run one parameterised statement at a time."""

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ..., /) -> Cursor: ...


def provider_lock_key(provider_id: str) -> int:
    """A stable signed 64-bit number for a provider, the key of its writer lock in every process."""
    digest = hashlib.blake2b(provider_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Catalog(ABC):
    """The catalog operations every profile offers.

    `read()` and `transaction()` hand out a connection for the calling thread. Nested use on one thread
    shares it, so a read inside a transaction sees the transaction's own writes. Write transactions are
    serialised (SQLite's BEGIN IMMEDIATE; one PostgreSQL advisory lock), so a check-then-write inside one
    holds. `writer_lock(provider_id)` serialises the warehouse writers of one provider across every process
    that shares the catalog.
    """

    dialect: str
    # What a unique or foreign key violation raises, and what a catalog too busy to answer now raises.
    integrity_errors: tuple[type[Exception], ...]
    busy_errors: tuple[type[Exception], ...]

    @classmethod
    def in_dir(cls, data_dir: Path) -> Catalog:
        """The embedded catalog: the SQLite file in a data directory."""
        secure_data_dir(data_dir, deep=False)
        return SQLiteCatalog(data_dir / CATALOG_FILE)

    @abstractmethod
    def read(self) -> AbstractContextManager[Connection]:
        """A connection for reads."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Connection]:
        """A serialised write transaction: commits on success, rolls back on error."""

    @abstractmethod
    def writer_lock(self, provider_id: str, *, wait: bool = True) -> AbstractContextManager[bool]:
        """Hold the provider's writer lock; without `wait`, yield False (holding nothing) if it is taken."""

    @abstractmethod
    def migrate(self) -> list[str]:
        """Apply pending catalog migrations and make sure the default workspace exists."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the catalog lives, for logs and health checks (never with a password)."""


class SQLiteCatalog(Catalog):
    """The embedded catalog; one connection per thread."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)
    busy_errors = (sqlite3.OperationalError,)

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # The data directory belongs to one server process (DuckDB locks the warehouse file), so writer
        # locks between its threads are enough here.
        self._writer_locks: dict[str, threading.Lock] = {}
        self._writer_locks_guard = threading.Lock()
        self.migrate()

    @property
    def location(self) -> str:
        return str(self.path)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        yield self._connection()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def writer_lock(self, provider_id: str, *, wait: bool = True) -> Iterator[bool]:
        with self._writer_locks_guard:
            lock = self._writer_locks.setdefault(provider_id, threading.Lock())
        if not lock.acquire(blocking=wait):
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def migrate(self) -> list[str]:
        conn = self._connection()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT number FROM schema_migrations").fetchall()}

        def run(migration: migrations.Migration) -> None:
            with self.transaction() as tx:
                for statement in split_statements(migration.sql):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.number, migration.name, utcnow()),
                )

        done = migrations.apply_all("catalog", applied, run)
        with self.transaction() as tx:
            tx.execute(ENSURE_DEFAULT_WORKSPACE, (DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME, utcnow()))
        return done

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def split_statements(sql: str) -> list[str]:
    """The statements of a migration file, one by one (drivers execute one statement per call)."""
    # sqlite3's executescript would commit our transaction. Our migrations keep string literals free of
    # "--" and ";", so stripping comments first is safe.
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [part.strip() for part in body.split(";") if part.strip()]
