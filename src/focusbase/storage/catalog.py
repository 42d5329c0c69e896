"""The catalog: a SQLite database in the data directory for workspaces, keys and providers.

SQLite in WAL mode lets the CLI create keys while the server runs; the warehouse stays DuckDB.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from focusbase.storage import migrations
from focusbase.storage.datadir import secure_data_dir

CATALOG_FILE = "catalog.sqlite"
DEFAULT_WORKSPACE_ID = "ws_default"
DEFAULT_WORKSPACE_NAME = "default"


def utcnow() -> str:
    """Now, UTC, ISO 8601 with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Catalog:
    """Thread-safe access to the catalog database; one short connection per operation."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.migrate()

    @classmethod
    def in_dir(cls, data_dir: Path) -> Catalog:
        secure_data_dir(data_dir, deep=False)
        return cls(data_dir / CATALOG_FILE)

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
        """A connection for reads."""
        yield self._connection()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate write transaction: commits on success, rolls back on error."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def migrate(self) -> list[str]:
        """Apply pending catalog migrations and make sure the default workspace exists."""
        conn = self._connection()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT number FROM schema_migrations").fetchall()}

        def run(migration: migrations.Migration) -> None:
            with self.transaction() as tx:
                for statement in _statements(migration.sql):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.number, migration.name, utcnow()),
                )

        done = migrations.apply_all("catalog", applied, run)
        with self.transaction() as tx:
            tx.execute(
                "INSERT OR IGNORE INTO workspaces (id, name, created_at) VALUES (?, ?, ?)",
                (DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME, utcnow()),
            )
        return done

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _statements(sql: str) -> list[str]:
    # sqlite3's execute takes one statement; executescript would commit our transaction.
    # Our migrations keep string literals free of "--" and ";", so stripping comments first is safe.
    body = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [part.strip() for part in body.split(";") if part.strip()]
