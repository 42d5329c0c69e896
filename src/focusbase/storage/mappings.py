"""SQL for the saved column mapping of each provider (catalog table provider_mappings)."""

from __future__ import annotations

from typing import Any

import orjson

from focusbase.storage.catalog import Catalog, utcnow


def get_mapping(catalog: Catalog, provider_id: str) -> tuple[dict[str, Any], str] | None:
    """The provider's saved mapping document and when it was saved, or None."""
    with catalog.read() as conn:
        row = conn.execute(
            "SELECT mapping, updated_at FROM provider_mappings WHERE provider_id = ?", (provider_id,)
        ).fetchone()
    if row is None:
        return None
    document: dict[str, Any] = orjson.loads(row["mapping"])
    return document, str(row["updated_at"])


def put_mapping(catalog: Catalog, provider_id: str, mapping: dict[str, Any]) -> str:
    """Save (insert or replace) the provider's mapping document; returns the time it was saved."""
    now = utcnow()
    with catalog.transaction() as tx:
        tx.execute(
            "INSERT INTO provider_mappings (provider_id, mapping, updated_at) VALUES (?, ?, ?) ON CONFLICT "
            "(provider_id) DO UPDATE SET mapping = excluded.mapping, updated_at = excluded.updated_at",
            (provider_id, orjson.dumps(mapping).decode(), now),
        )
    return now


def delete_mapping(catalog: Catalog, provider_id: str) -> bool:
    """Forget the provider's saved mapping; False when there was none."""
    with catalog.transaction() as tx:
        cur = tx.execute("DELETE FROM provider_mappings WHERE provider_id = ?", (provider_id,))
        return cur.rowcount > 0
