"""The date-time cast's fast path for the common form gives exactly what the general definition gives."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from focusbase.validate.parsing import general_timestamp_sql, timestamp_sql

TEMPLATES = ("2024-02-29T23:59:59Z", "1999-12-31T00:00:00Z", "2025-01-01T00:00:00Z", "2023-02-28T12:30:45Z")
# Characters that break the form in different ways: blanks (strptime skips them), signs, separators, letters,
# a lowercase z, a non-ASCII digit.
NOISE = [*" \t+-.:/_TZze0123456789", "\u0661"]


def _compare(values: list[str], profile: str) -> list[tuple[str, object, object]]:
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
        rows = con.execute(
            f"SELECT v, {timestamp_sql('v', profile)}, {general_timestamp_sql('v', profile)} FROM t"  # type: ignore[arg-type]
        ).fetchall()
    finally:
        con.close()
    return [(v, fast, general) for v, fast, general in rows if fast != general]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    chars = list(draw(st.sampled_from(TEMPLATES)))
    for _ in range(draw(st.integers(0, 3))):
        chars[draw(st.integers(0, len(chars) - 1))] = draw(st.sampled_from(NOISE))
    return "".join(chars)


@pytest.mark.parametrize("profile", ["ingest", "strict"])
@settings(max_examples=40, deadline=None)
@given(values=st.lists(mutated(), min_size=50, max_size=200))
def test_fast_path_agrees_with_the_general_definition(profile: str, values: list[str]) -> None:
    assert _compare(values, profile) == []


@pytest.mark.parametrize("profile", ["ingest", "strict"])
def test_edge_cases_of_the_common_form(profile: str) -> None:
    values = [
        " 024-02-29T23:59:59Z",  # strptime would skip the blank: the fast path must not take it
        "\t024-02-29T23:59:59Z",
        "2023-02-29T00:00:00Z",  # no such day
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:60Z",
        "2024-01-01T23:59:59z",
        "2024-01-01T23:59:5 Z",
        "2024-01-01 23:59:59Z",
        "2024-01-01",
        "2024-01-01T00:00:00.5Z",
        "2024-01-01T00:00:00+00:00",
    ]
    assert _compare(values, profile) == []


def test_common_form_is_parsed() -> None:
    con = duckdb.connect()
    try:
        value = con.execute(f"SELECT {timestamp_sql(repr('2024-02-29T23:59:59Z'), 'ingest')}").fetchone()
    finally:
        con.close()
    assert value == (datetime(2024, 2, 29, 23, 59, 59),)
