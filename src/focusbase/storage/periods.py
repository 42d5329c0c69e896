"""SQL for finalised billing periods (period_finalizations) in the catalog."""

from __future__ import annotations

from collections.abc import Iterable

from focusbase.storage.catalog import Catalog, Row, utcnow


def finalize_period(catalog: Catalog, *, provider_id: str, period: str) -> tuple[Row, bool]:
    """Record a period as final; returns the row and whether it was newly finalised."""
    with catalog.transaction() as tx:
        cur = tx.execute(
            "INSERT INTO period_finalizations (provider_id, period, finalized_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (provider_id, period, utcnow()),
        )
        row: Row = tx.execute(
            "SELECT * FROM period_finalizations WHERE provider_id = ? AND period = ?", (provider_id, period)
        ).fetchone()
        return row, cur.rowcount == 1


def list_finalized(catalog: Catalog, provider_id: str) -> list[Row]:
    """Finalised periods of one provider, oldest period first."""
    with catalog.read() as conn:
        return conn.execute(
            "SELECT * FROM period_finalizations WHERE provider_id = ? ORDER BY period", (provider_id,)
        ).fetchall()


def finalized_for_workspace(
    catalog: Catalog, workspace_id: str, provider_ids: Iterable[str] | None
) -> list[Row]:
    """(provider_id, period) rows of a workspace's live providers, optionally limited to some providers."""
    with catalog.read() as conn:
        rows = conn.execute(
            "SELECT f.provider_id, f.period FROM period_finalizations f"
            " JOIN providers p ON p.id = f.provider_id"
            " WHERE p.workspace_id = ? AND p.deleted_at IS NULL",
            (workspace_id,),
        ).fetchall()
    if provider_ids is None:
        return rows
    wanted = set(provider_ids)
    return [row for row in rows if row["provider_id"] in wanted]
