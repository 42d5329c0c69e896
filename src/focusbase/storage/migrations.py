"""Numbered .sql migrations for the catalog (SQLite) and the warehouse (DuckDB), applied in order once."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file."""

    number: int
    name: str
    sql: str


def load(kind: str) -> list[Migration]:
    """The migrations of `catalog` or `warehouse`, sorted by number."""
    folder = resources.files("focusbase.storage").joinpath("migrations", kind)
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"duplicate {kind} migration numbers: {numbers}")
    return found


def pending(kind: str, applied: set[int]) -> list[Migration]:
    """Migrations not yet applied."""
    return [m for m in load(kind) if m.number not in applied]


def apply_all(kind: str, applied: set[int], run: Callable[[Migration], None]) -> list[str]:
    """Run each pending migration through `run` (which must apply it and record it atomically)."""
    done = []
    for migration in pending(kind, applied):
        run(migration)
        done.append(migration.name)
    return done
