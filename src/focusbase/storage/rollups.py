"""SQL for the daily rollup of live Cost and Usage rows: maintained per provider-day, rebuilt on demand.

`cost_rollup_daily` holds, per workspace, provider, UTC charge day and combination of the DIMENSIONS below,
the exact DECIMAL sums of the MEASURES and the row count. It is kept equal to the same aggregate over
`live_cost_rows`: every change of live rows (batch commit, revert, provider delete) updates the rollup rows
of the provider-days it touched, inside the same DuckDB transaction, so a reader never sees it stale.

Staged parts are summed when they are staged, into `staged_rollup_daily` (the same keys plus the batch), so
a replace_days or append commit only re-groups those few pre-aggregates instead of aggregating the whole
batch inside the commit; the other modes, reverts and deletes recompute the days from the live rows.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb

# Bump when DIMENSIONS or MEASURES change: the next open rebuilds the rollup (and a migration alters it and
# STAGED_TABLE, whose pre-aggregates have the same columns).
ROLLUP_VERSION = 1
ROLLUP_TABLE = "cost_rollup_daily"
STAGED_TABLE = "staged_rollup_daily"  # per-batch pre-aggregates of staged rows (0015_staged_rollups.sql)

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
_GROUP = ", ".join(["workspace_id", "provider_id", "day", *(_q(d) for d in DIMENSIONS)])
_RESUMS = ", ".join([*(f"sum({_q(m)})" for m in MEASURES), "sum(row_count)"])
# Sums of sums: exact for DECIMAL, and sum() skips NULLs the way the row aggregate does.
_REGROUP = f"SELECT {_GROUP}, {_RESUMS} FROM {{source}} GROUP BY ALL"  # noqa: S608
# superseded_by of an open batch's staged rows is STAGED_PREFIX + its id (cost_rows, which imports this).
STAGED_PREFIX = "staged:"
_STAGE = f"SELECT batch_id, {_KEYS}, {_SUMS}, count(*) FROM cost_rows WHERE {{where}} GROUP BY ALL"  # noqa: S608


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


# Pre-aggregating a part pays only when it shrinks it: rows already one per day and combination (a custom
# provider's daily lines, say) would be written twice. Above this many sums per row, a batch stops staging
# them and its commit sums its rows once instead (one grouping of the whole batch, cheaper than one per part).
STAGE_MAX_GROUPS_PER_ROW = 0.5


def stage_part(
    cur: duckdb.DuckDBPyConnection, batch_id: str, first_row: int, last_row: int, rows: int
) -> bool:
    """Sum one part just staged (input rows first_row..last_row, `rows` of them stored) into the batch's
    pre-aggregates; call in the transaction that staged it. False when the sums did not shrink the part:
    the batch's pre-aggregates are then dropped, and its later parts should not be summed."""
    # A staged row's provisional row_seq is minus its input row number, and committed rows have positive
    # ones, so the range reads this part's rows only and skips committed row groups by their min/max.
    inserted = cur.execute(
        f"INSERT INTO {STAGED_TABLE} (batch_id, {_TARGET}) "
        + _STAGE.format(where="superseded_by = ? AND row_seq BETWEEN ? AND ?")
        + " RETURNING row_count",
        [STAGED_PREFIX + batch_id, -last_row, -first_row],
    ).fetchall()
    if sum(int(row[0]) for row in inserted) != rows:
        # Row numbers overlapping an earlier part (a sender's first_row): sum the whole batch again.
        stage_batch(cur, batch_id)
    elif len(inserted) > STAGE_MAX_GROUPS_PER_ROW * rows:
        # Without its pre-aggregates, the batch's commit recomputes its days from its rows.
        discard_staged(cur, [batch_id])
        return False
    return True


def stage_batch(cur: duckdb.DuckDBPyConnection, batch_id: str) -> None:
    """(Re)compute a batch's pre-aggregates from all its staged rows (a file staged in one statement)."""
    discard_staged(cur, [batch_id])
    cur.execute(
        f"INSERT INTO {STAGED_TABLE} (batch_id, {_TARGET}) " + _STAGE.format(where="superseded_by = ?"),
        [STAGED_PREFIX + batch_id],
    )


def discard_staged(cur: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> None:
    """Drop the pre-aggregates of these batches (wherever their staged rows are dropped, and at commit)."""
    if batch_ids:
        cur.execute(f"DELETE FROM {STAGED_TABLE} WHERE list_contains(?, batch_id)", [batch_ids])  # noqa: S608


def refresh_batch(
    cur: duckdb.DuckDBPyConnection,
    provider_id: str,
    batch_id: str,
    *,
    kind: str,
    staged_rows: int | None = None,
) -> None:
    """After a Cost and Usage commit of `kind` (its replace mode): bring the days the batch stored or replaced
    rows on up to date, and drop its pre-aggregates.

    `staged_rows`: how many staged rows the commit made live (None when it inserted them itself). For
    replace_days and append their pre-aggregates are used when they account for exactly that many rows;
    otherwise the days are recomputed from the rows.
    """
    if staged_rows is not None:
        used = (
            _maintenance.get()
            and kind in ("replace_days", "append")
            and _apply_staged(cur, provider_id, batch_id, kind=kind, rows=staged_rows)
        )
        discard_staged(cur, [batch_id])
        if used:
            return
    if not _maintenance.get():
        return
    if kind == "replace_days":  # it superseded every other live row on its own days
        found = cur.execute(
            "SELECT DISTINCT charge_day FROM cost_rows WHERE batch_id = ?", [batch_id]
        ).fetchall()
        refresh_days(cur, provider_id, sorted(row[0] for row in found), only_batch=batch_id)
    else:
        refresh_days(cur, provider_id, affected_days(cur, provider_id, batch_id))


def _apply_staged(
    cur: duckdb.DuckDBPyConnection, provider_id: str, batch_id: str, *, kind: str, rows: int
) -> bool:
    """Maintain the rollup from a batch's pre-aggregates; False (nothing changed) when they do not cover
    exactly the `rows` the commit made live."""
    found = cur.execute(
        f"SELECT coalesce(sum(row_count), 0), list(DISTINCT day) FROM {STAGED_TABLE} "  # noqa: S608
        "WHERE batch_id = ? AND provider_id = ?",
        [batch_id, provider_id],
    ).fetchone()
    if found is None or int(found[0]) != rows:
        return False
    days: list[date] = sorted(found[1] or [])
    if not days:
        return True  # an empty batch changes no live row
    bounds: list[object] = [provider_id, min(days), max(days), days]
    on_days = "provider_id = ? AND day BETWEEN ? AND ? AND list_contains(?, day)"
    own = f"SELECT {_TARGET} FROM {STAGED_TABLE} WHERE batch_id = ?"  # noqa: S608
    if kind == "replace_days":
        # The batch superseded every other live row of the provider on its days: its sums are the days'.
        cur.execute(f"DELETE FROM {ROLLUP_TABLE} WHERE {on_days}", bounds)  # noqa: S608
        cur.execute(
            f"INSERT INTO {ROLLUP_TABLE} ({_TARGET}) " + _REGROUP.format(source=f"({own})"), [batch_id]
        )
        return True
    # append: nothing was superseded, so the days' rollup rows plus the batch's sums, re-grouped.
    merged = f"(SELECT {_TARGET} FROM {ROLLUP_TABLE} WHERE {on_days} UNION ALL {own})"  # noqa: S608
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE __fb_rollup_merge AS " + _REGROUP.format(source=merged),
        [*bounds, batch_id],
    )
    # On an error the caller's transaction rolls back, and the temporary table with it.
    cur.execute(f"DELETE FROM {ROLLUP_TABLE} WHERE {on_days}", bounds)  # noqa: S608
    cur.execute(f"INSERT INTO {ROLLUP_TABLE} ({_TARGET}) SELECT * FROM __fb_rollup_merge")  # noqa: S608
    cur.execute("DROP TABLE __fb_rollup_merge")
    return True


def drop_provider(cur: duckdb.DuckDBPyConnection, workspace_id: str, provider_id: str) -> None:
    """Delete a provider's rollup rows and staged pre-aggregates (its warehouse rows, staged ones too, are
    deleted in the same transaction)."""
    for table in (ROLLUP_TABLE, STAGED_TABLE):
        cur.execute(
            f"DELETE FROM {table} WHERE workspace_id = ? AND provider_id = ?",  # noqa: S608
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
