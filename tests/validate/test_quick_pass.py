"""The quick pass plans with two optimizers off and leaves the caller's connection as it found it."""

from __future__ import annotations

import duckdb

from focusbase.validate.engine import quick_check
from tests.conftest import CASES


def test_quick_pass_restores_the_connections_optimizer_setting() -> None:
    con = duckdb.connect()
    try:
        con.execute("SET disabled_optimizers = 'top_n'")
        path = str(CASES / "valid" / "focus-1.2-clean.csv")
        con.sql("SELECT * FROM read_csv(?, all_varchar = true)", params=[path]).create_view("rows")
        result = quick_check(con, "rows", profile="ingest", version="1.2")
        setting = con.execute("SELECT current_setting('disabled_optimizers')").fetchall()
    finally:
        con.close()
    assert result is not None and result.rows == 2000 and result.counts.errors == 0
    assert setting == [("top_n",)]
