"""Synthetic FOCUS cost data at any scale: DuckDB builds the rows, deterministic for a seed."""

# ruff: noqa: E501
# (SQL text reads best unwrapped.)

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb

from focusbase.demo import sql
from focusbase.demo.catalog import BILLING_ACCOUNTS, COMMITMENTS, PROVIDERS, SKUS, reference_tables

DEFAULT_SEED = 42
DEFAULT_DAYS = 90
DEFAULT_START = date(2025, 1, 1)
DEMO_VERSIONS = ("1.2", "1.3")

# Below these multiples of the special rows a file would be mostly bookkeeping; such small files keep
# usage rows only (and taxes/credits when they still fit), so any --rows value gives exactly that many rows.
_MIN_USAGE_FACTOR = 5


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """How many rows of each kind a demo file gets; the usage rows fill up to the requested count."""

    rows: int
    days: int
    start: date
    seed: int
    months: int
    commitments: bool
    taxes_and_credits: bool
    commitment_rows: int
    tax_rows: int
    credit_rows: int

    @property
    def usage_rows(self) -> int:
        return self.rows - self.special_rows

    @property
    def special_rows(self) -> int:
        extra = self.tax_rows + self.credit_rows if self.taxes_and_credits else 0
        return extra + (self.commitment_rows if self.commitments else 0)


def _months(start: date, days: int) -> int:
    end = start + timedelta(days=days)
    count, year, month = 0, start.year, start.month
    while date(year, month, 1) < end:
        count += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return count


def plan(
    rows: int, *, days: int = DEFAULT_DAYS, start: date = DEFAULT_START, seed: int = DEFAULT_SEED
) -> DemoPlan:
    """Decide the mix of row kinds for a file of exactly `rows` rows."""
    if rows < 1:
        raise ValueError("--rows must be at least 1")
    if days < 1:
        raise ValueError("--days must be at least 1")
    months = _months(start, days)
    commitment_rows = sum(days + (months if c.frequency == "Recurring" else 1) for c in COMMITMENTS)
    services: dict[int, set[str]] = {}
    for sku in SKUS:
        if sku.weight > 0:
            services.setdefault(sku.provider_idx, set()).add(sku.service_name)
    tax_rows = credit_rows = 0
    for ba in BILLING_ACCOUNTS:
        provider = PROVIDERS[ba.provider_idx]
        if provider.tax_rate is not None:
            tax_rows += len(services.get(ba.provider_idx, ())) * months
        if provider.credit_rate is not None:
            credit_rows += months
    extras = tax_rows + credit_rows
    with_extras = rows >= _MIN_USAGE_FACTOR * extras
    with_commitments = with_extras and rows >= _MIN_USAGE_FACTOR * (extras + commitment_rows)
    return DemoPlan(rows, days, start, seed, months, with_commitments, with_extras, commitment_rows, tax_rows,
                    credit_rows)  # fmt: skip


def _start_ts(start: date) -> datetime:
    return datetime(start.year, start.month, start.day)


def _load_reference(con: duckdb.DuckDBPyConnection, p: DemoPlan) -> None:
    tables = reference_tables()
    for name, table in tables.items():
        con.register(f"arrow_{name}", table)
    total_weight = sum(s.weight for s in SKUS)
    con.execute(
        "CREATE TEMP TABLE demo_params AS SELECT CAST(? AS BIGINT) AS seed, CAST(? AS BIGINT) AS n_usage, "
        "CAST(? AS INTEGER) AS days, CAST(? AS TIMESTAMP) AS start_ts, "
        "CAST(? AS TIMESTAMP) + to_days(CAST(? AS INTEGER)) AS end_ts, CAST(? AS INTEGER) AS total_weight",
        [p.seed, p.usage_rows, p.days, _start_ts(p.start), _start_ts(p.start), p.days, total_weight],
    )
    slots = [(slot, s.idx) for s in SKUS for slot in range(s.weight)]
    con.execute("CREATE TEMP TABLE demo_pick (slot INTEGER, sku_idx INTEGER)")
    con.executemany("INSERT INTO demo_pick VALUES (?, ?)", [(n, idx) for n, (_, idx) in enumerate(slots)])
    con.execute(
        """
        CREATE TEMP TABLE demo_providers AS
        SELECT p.idx, p.name, p.host_provider, p.invoice_prefix,
               CAST(p.tax_rate AS DECIMAL(6,4)) AS tax_rate, CAST(p.credit_rate AS DECIMAL(6,4)) AS credit_rate,
               p.contract_id, p.contract_commitment_id, p.contract_commitment_cost,
               p.regions AS region_ids, p.region_names,
               (SELECT min(s.idx) FROM arrow_demo_skus s WHERE s.provider_idx = p.idx) AS primary_svc_idx
        FROM arrow_demo_providers p
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE demo_billing_accounts AS
        SELECT * REPLACE (CAST(price_factor AS DECIMAL(6,4)) AS price_factor) FROM arrow_demo_billing_accounts
        """
    )
    con.execute("CREATE TEMP TABLE demo_sub_accounts AS SELECT * FROM arrow_demo_sub_accounts")
    con.execute(
        """
        CREATE TEMP TABLE demo_skus AS
        SELECT s.* REPLACE (CAST(s.list_unit_price AS DECIMAL(18,6)) AS list_unit_price),
               (SELECT min(o.idx) FROM arrow_demo_skus o WHERE o.service_name = s.service_name) AS service_sku_idx,
               (SELECT count(*) FROM arrow_demo_sub_accounts a WHERE a.provider_idx = s.provider_idx)
                   AS n_accounts,
               CAST(greatest(2, ceil(prm.n_usage * s.weight / prm.total_weight / prm.days)) AS UBIGINT) AS pool,
               pr.regions AS region_ids, pr.region_names
        FROM arrow_demo_skus s
        JOIN arrow_demo_providers pr ON pr.idx = s.provider_idx
        CROSS JOIN demo_params prm
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE demo_commitments AS
        SELECT * REPLACE (CAST(rate AS DECIMAL(18,6)) AS rate, CAST(spend_factor AS DECIMAL(6,4)) AS spend_factor,
                           greatest(term_days, (SELECT days FROM demo_params)) AS term_days)
        FROM arrow_demo_commitments WHERE ?
        """,
        [p.commitments],
    )
    for name in tables:
        con.unregister(f"arrow_{name}")


def _build(con: duckdb.DuckDBPyConnection, p: DemoPlan) -> None:
    con.execute("SET TimeZone = 'UTC'")
    _load_reference(con, p)
    for statement in sql.MACROS.strip().split(";"):
        if statement.strip():
            con.execute(statement)
    con.execute(sql.USAGE_CORE.replace("__N_USAGE__", str(int(p.usage_rows))))
    con.execute(sql.AGGREGATE)
    con.execute(sql.CAPACITY)
    con.execute(sql.SPECIAL)
    if not p.taxes_and_credits:
        con.execute("DELETE FROM demo_special WHERE kind IN ('T', 'C')")
    con.execute(sql.CORE)
    con.execute(sql.ROWS)
    con.execute(sql.CONTRACT_COMMITMENTS)


@contextmanager
def demo_connection(p: DemoPlan, *, temp_dir: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB session holding the views `demo_rows` and `demo_contract_commitment_rows`."""
    config: dict[str, str | bool | int | float | list[str]] = {"temp_directory": temp_dir} if temp_dir else {}
    con = duckdb.connect(":memory:", config=config)
    try:
        _build(con, p)
        yield con
    finally:
        con.close()


def utc_start(start: date) -> datetime:
    """The first charge period start of a plan, as an aware UTC datetime."""
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def check_version(focus_version: str) -> str:
    """Demo data is written as FOCUS 1.2 or 1.3."""
    if focus_version not in DEMO_VERSIONS:
        raise ValueError(
            f"demo data is generated as FOCUS {' or '.join(DEMO_VERSIONS)}, not {focus_version!r}"
        )
    return focus_version
