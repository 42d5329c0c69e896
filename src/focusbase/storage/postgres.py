"""The scale-out catalog: PostgreSQL through psycopg 3 and a connection pool (FOCUSBASE_CATALOG_URL).

It runs the services' catalog SQL unchanged. Statements are written for sqlite3 (`?` parameters) and
translated once per statement text; parameters are bound client-side (psycopg's ClientCursor) so that
PostgreSQL types them from their context as SQLite does (`coalesce(?, x)`, `? IS NULL`), with psycopg's
quoting, never by string building. Write transactions take one advisory lock, which gives the same
one-writer-at-a-time semantics as SQLite's BEGIN IMMEDIATE across every API replica; per-provider writer
locks are session advisory locks, released by the server if the process holding one dies.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from focusbase.storage import migrations
from focusbase.storage.catalog import (
    DEFAULT_WORKSPACE_ID,
    DEFAULT_WORKSPACE_NAME,
    ENSURE_DEFAULT_WORKSPACE,
    Catalog,
    Cursor,
    provider_lock_key,
    split_statements,
    utcnow,
)
from focusbase.storage.urls import badly_escaped, redact, scrub

__all__ = ["CatalogUnavailable", "PostgresCatalog", "redact", "translate"]

MIGRATIONS = "postgres_catalog"
# Advisory lock keys of the catalog itself (provider locks use provider_lock_key, a hash of the id).
CATALOG_WRITER_LOCK = 0x0F0C_0BA5_E000_0001
MIGRATION_LOCK = 0x0F0C_0BA5_E000_0002
# Text ordering must be byte order, as in SQLite: keyset pages compare ids and times as text.
BYTE_ORDER_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})


class CatalogUnavailable(RuntimeError):
    """The PostgreSQL catalog cannot be used as configured."""


class PgRow(tuple[Any, ...]):
    """A result row indexed by position or column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    names = [column.name for column in cursor.description or ()]
    index = {name: position for position, name in enumerate(names)}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, index)

    return make


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """sqlite3's `?` placeholders as psycopg's `%s`; a literal `%` doubled. Quoted text is left as it is."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


def _parameters(parameters: Sequence[Any] | Mapping[str, Any]) -> Sequence[Any]:
    if isinstance(parameters, Mapping):
        raise TypeError("catalog statements take positional (?) parameters")
    # SQLite stores booleans as the integers 0 and 1; the catalog's flag columns are integers.
    return [int(value) if isinstance(value, bool) else value for value in parameters]


class PgConnection:
    """One pooled connection seen through the catalog's Connection protocol."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = (), /) -> Cursor:
        return self._conn.execute(translate(sql), _parameters(parameters))


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True
    conn.cursor_factory = psycopg.ClientCursor
    conn.row_factory = _row_factory


class PostgresCatalog(Catalog):
    """The catalog in a PostgreSQL database shared by every API replica."""

    dialect = "postgresql"
    integrity_errors = (psycopg.IntegrityError,)
    busy_errors = (psycopg.OperationalError, PoolTimeout)

    def __init__(self, url: str, *, pool_size: int = 10, timeout: float = 30.0) -> None:
        self.url = url
        if badly_escaped(url):  # psycopg would say so with the password in its message
            raise CatalogUnavailable(
                f"the catalog URL {redact(url)} has a % in its user information that is not a %XX escape:"
                " percent-encode the user name and password"
            )
        self._local = threading.local()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(2, pool_size),
            timeout=timeout,
            configure=_configure,
            open=False,
            name="focusbase-catalog",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except (psycopg.Error, PoolTimeout) as exc:
            self._pool.close()
            reason = scrub(str(exc), url)
            raise CatalogUnavailable(f"cannot connect to the catalog {redact(url)}: {reason}") from exc
        try:
            self._check_collation()
            self.migrate()
        except BaseException:
            self._pool.close()
            raise

    @property
    def location(self) -> str:
        return redact(self.url)

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Any]]:
        # Nested use on one thread shares the connection, as the SQLite catalog's thread-local one does.
        held: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self._pool.connection() as conn:
            self._local.conn = conn
            try:
                yield conn
            finally:
                self._local.conn = None

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        with self._borrow() as conn:
            yield PgConnection(conn)

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        with self._borrow() as conn:
            if getattr(self._local, "in_transaction", False):
                raise RuntimeError("a catalog transaction is already open on this thread")
            self._local.in_transaction = True
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (CATALOG_WRITER_LOCK,))
                    yield PgConnection(conn)
            finally:
                self._local.in_transaction = False

    @contextmanager
    def writer_lock(self, provider_id: str, *, wait: bool = True) -> Iterator[bool]:
        key = provider_lock_key(provider_id)
        # A connection of its own: the lock lives as long as this session, not as a borrowed connection.
        with self._pool.connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row is None or not row[0]:
                    yield False
                    return
            try:
                yield True
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def _check_collation(self) -> None:
        with self.read() as conn:
            provider, collation = conn.execute(
                "SELECT datlocprovider, datcollate FROM pg_database WHERE datname = current_database()"
            ).fetchone()
        # 'c' is the C library's collation; an ICU database sorts by its ICU locale whatever datcollate says.
        if provider != "c" or collation not in BYTE_ORDER_COLLATIONS:
            raise CatalogUnavailable(
                f"the catalog database sorts text by {collation!r} (provider {provider!r}); focusbase needs"
                " byte order, as SQLite"
                " has: create it with TEMPLATE template0 LC_COLLATE 'C' (docs/scaling.md)"
            )

    def migrate(self) -> list[str]:
        # Replicas starting together: one applies the migrations, the others wait and then find them done.
        with self._pool.connection() as lock_conn:
            lock_conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                return self._migrate()
            finally:
                lock_conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    def _migrate(self) -> list[str]:
        with self.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "number BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        with self.read() as conn:
            applied = {row[0] for row in conn.execute("SELECT number FROM schema_migrations").fetchall()}

        def run(migration: migrations.Migration) -> None:
            with self.transaction() as tx:
                for statement in split_statements(migration.sql):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    (migration.number, migration.name, utcnow()),
                )

        done = migrations.apply_all(MIGRATIONS, applied, run)
        with self.transaction() as tx:
            tx.execute(ENSURE_DEFAULT_WORKSPACE, (DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME, utcnow()))
        return done

    def close(self) -> None:
        self._pool.close()
