"""Provider deletion in the ClickHouse warehouse: one tombstone row hides every row of a provider at once.

The live filter of every read (`clickhouse_types.LIVE`) skips tombstoned providers, so a reader sees all of a
provider's rows or none; commits and reverts of a deleted provider are refused; `purge_deleted` frees the
space later, off the read path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from focusbase.focus import Dataset
from focusbase.storage.clickhouse_prune import ClickHouseRetention
from focusbase.storage.clickhouse_types import CATALOG_TIME, TABLES
from focusbase.storage.providers import Tombstone


class ClickHouseProviderDeletion(ClickHouseRetention):
    """`delete_provider`, `tombstone` and `purge_deleted`; `ClickHouseWarehouse` adds the other writes."""

    _write_settings: dict[str, Any]

    def tombstone(self, workspace_id: str, provider_id: str) -> Tombstone | None:
        """The provider's tombstone, None while it is not deleted."""
        rows = self._query(
            "SELECT provider_id, workspace_id, min(deleted_at), argMin(cost_rows, deleted_at),"
            " argMin(contract_commitment_rows, deleted_at) FROM deleted_providers"
            " WHERE workspace_id = {ws:String} AND provider_id = {p:String} GROUP BY 1, 2",
            {"ws": workspace_id, "p": provider_id},
        )
        if not rows:
            return None
        provider, workspace, deleted_at, cost, commitments = rows[0]
        return Tombstone(
            str(provider), str(workspace), deleted_at.strftime(CATALOG_TIME), int(cost), int(commitments)
        )

    def delete_provider(
        self, workspace_id: str, provider_id: str, deleted_at: datetime | None = None
    ) -> Tombstone:
        """Make every row of the provider invisible at once (one tombstone row) and refuse its commits.

        The tombstone counts the rows it hides, every version and staged ones, per dataset; a repeated
        deletion keeps the first tombstone. `purge_deleted` removes the rows later, off the read path.
        """
        with self.catalog.writer_lock(provider_id):
            found = self.tombstone(workspace_id, provider_id)
            if found is not None:
                return found
            counts = [
                int(
                    self._query(
                        f"SELECT count() FROM {TABLES[d].name} WHERE workspace_id = {{ws:String}}"  # noqa: S608
                        " AND provider_id = {p:String}",
                        {"ws": workspace_id, "p": provider_id},
                    )[0][0]
                )
                for d in (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT)
            ]
            moment = deleted_at or datetime.now(UTC)
            if moment.tzinfo is None:  # naive times are UTC here, as in DuckDB's tombstones
                moment = moment.replace(tzinfo=UTC)
            with self._client_lock:
                self._client.insert(
                    "deleted_providers",
                    [(workspace_id, provider_id, moment, counts[0], counts[1])],
                    column_names=[
                        "workspace_id",
                        "provider_id",
                        "deleted_at",
                        "cost_rows",
                        "contract_commitment_rows",
                    ],
                    settings={**self._write_settings, "insert_deduplication_token": f"delete:{provider_id}"},
                )
            tombstone = self.tombstone(workspace_id, provider_id)
            assert tombstone is not None  # written above, read back on the same client
            return tombstone

    def purge_deleted(self) -> int:
        """Delete the stored rows, rollup rows and visibility rows of tombstoned providers; rows deleted.

        Readers already skip them (the tombstone); this only frees space. A lightweight DELETE per table.
        """
        dead = "provider_id IN (SELECT provider_id FROM deleted_providers)"
        deleted = 0
        for table in ("cost_rows", "contract_commitment_rows"):
            deleted += int(self._query(f"SELECT count() FROM {table} WHERE {dead}")[0][0])  # noqa: S608
        for table in ("cost_rows", "contract_commitment_rows", "cost_rollup_daily", "live_day_batches"):
            self._command(f"DELETE FROM {table} WHERE {dead}")  # noqa: S608
        return deleted
