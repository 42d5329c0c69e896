"""SQL for the daily rollup of live Cost and Usage rows: maintained per provider-day, rebuilt on demand.

`cost_rollup_daily` holds, per workspace, provider, UTC charge day and combination of the DIMENSIONS below,
the exact DECIMAL sums of the MEASURES and the row count. It is kept equal to the same aggregate over
`live_cost_rows`: every change of live rows (batch commit, revert, provider delete) recomputes the rollup rows
of the provider-days it touched, inside the same DuckDB transaction, so a reader never sees it stale.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb

# Bump when DIMENSIONS or MEASURES change: the next open rebuilds the rollup (and a migration alters it).
ROLLUP_VERSION = 1
ROLLUP_TABLE = "cost_rollup_daily"

# FOCUS columns the rollup keeps (plus provider_id and the day). Queries grouping or filtering on anything
# else (ResourceId, Tags, SkuId, x_ columns, ...) read live_cost_rows instead.
DIMENSIONS: tuple[str, ...] = (
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ProviderName",
    "ServiceProviderName",
    "HostProviderName",
    "InvoiceIssuerName",
    "PublisherName",
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "RegionId",
    "RegionName",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "ChargeCategory",
    "ChargeClass",
    "ChargeFrequency",
    "PricingCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountCategory",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
    "ResourceType",
    "ConsumedUnit",
    "PricingUnit",
)
MEASURES: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ConsumedQuantity",
    "PricingQuantity",
)

_maintenance: contextvars.ContextVar[bool] = contextvars.ContextVar("rollup_maintenance", default=True)


@contextmanager
def maintenance_suspended() -> Iterator[None]:
    """Benchmark aid only: commits in this context skip rollup upkeep (leaving the rollup stale)."""
    token = _maintenance.set(False)
    try:
        yield
    finally:
        _maintenance.reset(token)


def _q(name: str) -> str:
    return '"' + name + '"'


_KEYS = ", ".join(["workspace_id", "provider_id", "charge_day", *(_q(d) for d in DIMENSIONS)])
_SUMS = ", ".join(f"sum({_q(m)})" for m in MEASURES)
# Identifiers are the constants above; values are parameters.
_AGGREGATE = f"SELECT {_KEYS}, {_SUMS}, count(*) FROM {{rows}} WHERE {{where}} GROUP BY ALL"  # noqa: S608
_TARGET = ", ".join(
    ["workspace_id", "provider_id", "day", *(_q(c) for c in (*DIMENSIONS, *MEASURES)), "row_count"]
)


def affected_days(cur: duckdb.DuckDBPyConnection, provider_id: str, batch_id: str) -> list[date]:
    """The charge days of a batch's own rows and of the rows it superseded (before or after its commit)."""
    rows = cur.execute(
        "SELECT DISTINCT charge_day FROM cost_rows "
        "WHERE provider_id = ? AND (batch_id = ? OR superseded_by = ?)",
        [provider_id, batch_id, batch_id],
    ).fetchall()
    return sorted(row[0] for row in rows)


def refresh_days(
    cur: duckdb.DuckDBPyConnection, provider_id: str, days: list[date], *, only_batch: str | None = None
) -> None:
    """Recompute the rollup rows of one provider on these days from its live rows (call in the writer's
    transaction, after the change). With `only_batch`, the caller knows that batch's rows are all of the
    provider's live rows on those days, and only they are read."""
    if not days or not _maintenance.get():
        return
    # The BETWEEN lets DuckDB skip row groups by their min/max day (a batch's days are usually contiguous).
    bounds: list[object] = [min(days), max(days), days]
    cur.execute(
        f"DELETE FROM {ROLLUP_TABLE} WHERE provider_id = ? AND day BETWEEN ? AND ? "  # noqa: S608
        "AND list_contains(?, day)",
        [provider_id, *bounds],
    )
    params: list[object]
    rows = "live_cost_rows"
    if only_batch is not None:
        # Every row of a batch is live right after its commit, so its liveness (a column the commit has just
        # rewritten, slower to read in the same transaction) need not be checked.
        rows, where, params = "cost_rows", "batch_id = ?", [only_batch]
    else:
        where = "provider_id = ? AND charge_day BETWEEN ? AND ? AND list_contains(?, charge_day)"
        params = [provider_id, *bounds]
    cur.execute(
        f"INSERT INTO {ROLLUP_TABLE} ({_TARGET}) " + _AGGREGATE.format(rows=rows, where=where), params
    )


def refresh_batch(
    cur: duckdb.DuckDBPyConnection, provider_id: str, batch_id: str, *, replaced_whole_days: bool = False
) -> None:
    """After a Cost and Usage commit: refresh the days the batch stored or replaced rows on.

    `replaced_whole_days` (replace_days): the batch superseded every other live row of the provider on its
    days, so its own rows are exactly what is live there.
    """
    if not _maintenance.get():
        return
    if replaced_whole_days:  # what it superseded lies on its own days
        found = cur.execute(
            "SELECT DISTINCT charge_day FROM cost_rows WHERE batch_id = ?", [batch_id]
        ).fetchall()
        refresh_days(cur, provider_id, sorted(row[0] for row in found), only_batch=batch_id)
    else:
        refresh_days(cur, provider_id, affected_days(cur, provider_id, batch_id))


def drop_provider(cur: duckdb.DuckDBPyConnection, workspace_id: str, provider_id: str) -> None:
    """Delete a provider's rollup rows (its warehouse rows are deleted in the same transaction)."""
    cur.execute(
        f"DELETE FROM {ROLLUP_TABLE} WHERE workspace_id = ? AND provider_id = ?",  # noqa: S608
        [workspace_id, provider_id],
    )


def rebuild(cur: duckdb.DuckDBPyConnection) -> int:
    """Rebuild the whole rollup from live_cost_rows (call inside a transaction); returns its row count."""
    cur.execute(f"DELETE FROM {ROLLUP_TABLE}")  # noqa: S608
    cur.execute(
        f"INSERT INTO {ROLLUP_TABLE} ({_TARGET}) " + _AGGREGATE.format(rows="live_cost_rows", where="TRUE")
    )
    found = cur.execute(f"SELECT count(*) FROM {ROLLUP_TABLE}").fetchone()  # noqa: S608
    rows = int(found[0]) if found else 0
    cur.execute("DELETE FROM rollup_builds")
    cur.execute("INSERT INTO rollup_builds VALUES (?, now()::TIMESTAMP, ?)", [ROLLUP_VERSION, rows])
    return rows


def is_built(cur: duckdb.DuckDBPyConnection) -> bool:
    """Whether the rollup was built for the current ROLLUP_VERSION."""
    found = cur.execute("SELECT count(*) FROM rollup_builds WHERE version = ?", [ROLLUP_VERSION]).fetchone()
    return bool(found and found[0])


def ensure_built(conn: duckdb.DuckDBPyConnection) -> bool:
    """Build the rollup once for a data directory that has none for this version; True when it built."""
    cur = conn.cursor()
    try:
        if is_built(cur):
            return False
        cur.execute("BEGIN TRANSACTION")
        try:
            rebuild(cur)
        except Exception:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")
        return True
    finally:
        cur.close()
