"""Copy an embedded SQLite catalog into an empty catalog of the same version (`focusbase migrate-storage`).

Every table the catalog migrations create is copied as stored (API keys as their hashes), parents before
children, in one transaction of the target: a failure leaves the target as it was. Table and column names
come from the source's own schema, never from input, and every value is a bound parameter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog, Connection

# Not catalog data: the migration record is compared, not copied, and SQLite's own tables stay SQLite's.
SKIPPED = frozenset({"schema_migrations"})
ROWS_PER_INSERT = 200


class CatalogCopyRefused(RuntimeError):
    """The target catalog cannot take the copy (not empty, another version, other columns)."""


@dataclass(frozen=True, slots=True)
class CatalogCopy:
    """What the copy did: `copied`, or `already copied` (the target held exactly the source's rows)."""

    outcome: str
    rows: dict[str, int]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def catalog_tables(source: Catalog) -> list[str]:
    """The SQLite catalog's tables, each after the tables its foreign keys reference."""
    with source.read() as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " ORDER BY name"
            ).fetchall()
            if str(r[0]) not in SKIPPED
        ]
        parents = {
            name: {str(r[2]) for r in conn.execute(f"PRAGMA foreign_key_list({_quote(name)})").fetchall()}
            for name in names
        }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] - {n} <= set(ordered)]
        if not ready:
            raise RuntimeError(f"catalog foreign keys form a cycle: {sorted(set(names) - set(ordered))}")
        ordered.extend(ready)
    return ordered


def _columns(conn: Connection, dialect: str, table: str) -> list[str]:
    if dialect == "sqlite":
        return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()]
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = ? ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _versions(conn: Connection) -> list[int]:
    return sorted(int(r[0]) for r in conn.execute("SELECT number FROM schema_migrations").fetchall())


def _rows(conn: Connection, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    select = ", ".join(_quote(c) for c in columns)
    return [tuple(r) for r in conn.execute(f"SELECT {select} FROM {_quote(table)}").fetchall()]  # noqa: S608


def count_rows(catalog: Catalog, tables: list[str]) -> dict[str, int]:
    """Rows per table."""
    with catalog.read() as conn:
        return {
            t: int(conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0])  # noqa: S608
            for t in tables
        }


@contextmanager
def _snapshot(catalog: Catalog) -> Iterator[Connection]:
    # One read transaction, so every table is read as of the same moment (a CLI may write meanwhile).
    with catalog.read() as conn:
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")


def copy_catalog(source: Catalog, target: Catalog) -> CatalogCopy:
    """Copy every catalog table of `source` into `target` in one transaction of the target.

    CatalogCopyRefused when the two are at different migration versions or have other columns, or when
    the target holds anything but its default workspace and is not already an exact copy of the source.
    """
    tables = catalog_tables(source)
    with _snapshot(source) as src, target.transaction() as tx:
        source_versions, target_versions = _versions(src), _versions(tx)
        if source_versions != target_versions:
            raise CatalogCopyRefused(
                f"the source catalog is at migration {max(source_versions, default=0)} and the target at"
                f" {max(target_versions, default=0)} (applied: {source_versions} and {target_versions});"
                " run both with the same focusbase version"
            )
        columns: dict[str, list[str]] = {}
        for table in tables:
            mine, theirs = _columns(src, source.dialect, table), _columns(tx, target.dialect, table)
            if sorted(mine) != sorted(theirs):
                raise CatalogCopyRefused(
                    f"table {table} has columns {mine} in the source and {theirs} in the target"
                )
            columns[table] = mine
        held = {t: _rows(tx, t, columns[t]) for t in tables}
        fresh = all(not rows for t, rows in held.items() if t != "workspaces") and [
            r[columns["workspaces"].index("id")] for r in held["workspaces"]
        ] in ([], [DEFAULT_WORKSPACE_ID])
        if not fresh:
            differing = [t for t in tables if Counter(_rows(src, t, columns[t])) != Counter(held[t])]
            if differing:
                holding = ", ".join(f"{len(rows)} rows in {t}" for t, rows in held.items() if rows)
                raise CatalogCopyRefused(
                    f"the target catalog is not empty ({holding}) and is not a copy of this data"
                    f" directory's catalog (differs in {', '.join(differing)}); migrate into an empty"
                    " database or schema"
                )
            return CatalogCopy("already copied", {t: len(held[t]) for t in tables})
        # The target's own default workspace gives way to the source's (same id, its creation time).
        tx.execute("DELETE FROM workspaces WHERE id = ?", (DEFAULT_WORKSPACE_ID,))
        copied = {t: _copy_table(src, tx, t, columns[t]) for t in tables}
        if target.dialect == "postgresql":
            _advance_identities(tx)
    return CatalogCopy("copied", copied)


def _copy_table(src: Connection, tx: Connection, table: str, columns: list[str]) -> int:
    names = ", ".join(_quote(c) for c in columns)
    one = "(" + ", ".join("?" for _ in columns) + ")"
    cursor = src.execute(f"SELECT {names} FROM {_quote(table)}")  # noqa: S608 - the schema's own names
    total = 0
    while True:
        chunk = cursor.fetchmany(ROWS_PER_INSERT)
        if not chunk:
            return total
        values = ", ".join(one for _ in chunk)
        tx.execute(
            f"INSERT INTO {_quote(table)} ({names}) VALUES {values}",  # noqa: S608
            [value for row in chunk for value in row],
        )
        total += len(chunk)


def _advance_identities(tx: Connection) -> None:
    # Identity columns (webhook_attempts.id) were given explicit values: their sequences continue after them.
    found = tx.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND is_identity = 'YES'"
    ).fetchall()
    for table, column in found:
        tx.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({_quote(column)}), 0) + 1, false)"  # noqa: S608
            f" FROM {_quote(table)}",
            (_quote(table), column),
        )
