"""Replicas of a ClickHouse shard: quorum writes and the check that every replica holds a batch's rows.

Rows and the visibility table replicate through separate queues, so a lagging replica could receive a
commit's flip before the row parts it names and serve "batch live, rows missing" (docs/scaling.md). Two
guards, both on the write side: every insert waits for all replicas (`insert_quorum`, sequential so a
quorum read sees each acknowledged insert), and before the flip the committer counts the batch's rows on
each replica, waiting a bounded time for a lagging one and refusing the commit if it does not catch up.
A replica outage then blocks commits, not reads.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class ReplicaLagging(RuntimeError):
    """A replica did not hold every row of a batch in time; the commit was not made visible."""

    def __init__(self, batch_id: str, replica: str, found: int | None, expected: int, waited: float) -> None:
        self.batch_id, self.replica, self.found, self.expected = batch_id, replica, found, expected
        held = "could not be asked" if found is None else f"has {found} of the {expected} rows"
        super().__init__(
            f"replica {replica} {held} of batch {batch_id} after waiting {waited:.1f} s;"
            " the commit was not made visible (retry when the replica has caught up)"
        )


def quorum_settings(replicas: int) -> dict[str, Any]:
    """Insert settings that make an insert succeed only once every replica of the shard has it."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    if replicas == 1:
        return {}
    return {"insert_quorum": replicas, "insert_quorum_parallel": 0}


class ReplicaSet:
    """The replicas a commit must see holding a batch's rows before its flip."""

    def __init__(self, replicas: int, clients: dict[str, Any], wait_seconds: float) -> None:
        quorum_settings(replicas)  # validates the count
        if replicas > 1 and len(clients) < replicas:
            raise ValueError(
                f"replicas={replicas} needs a client for each replica to count staged rows on;"
                f" got {len(clients)}"
            )
        self.replicas = replicas
        self._clients = dict(clients)
        self._wait_seconds = wait_seconds
        self._lock = threading.Lock()  # clients are not safe for concurrent queries

    def _count(self, client: Any, table: str, workspace_id: str, batch_seq: int) -> int:
        result = client.query(
            f"SELECT count() FROM {table} WHERE workspace_id = {{ws:String}}"  # noqa: S608 - our table names
            " AND batch_seq = {seq:UInt32}",
            parameters={"ws": workspace_id, "seq": batch_seq},
        )
        return int(result.result_rows[0][0])

    def verify(self, table: str, workspace_id: str, batch_seq: int, batch_id: str, expected: int) -> int:
        """Wait until every replica holds `expected` rows of the batch; the number of replicas verified.

        Without replica clients the one client the warehouse writes through is the only replica (it counted
        `expected`). ReplicaLagging, naming the replica and its count, when one has not caught up in time.
        """
        if not self._clients:
            return 1
        deadline = time.monotonic() + self._wait_seconds
        started = time.monotonic()
        pause = 0.01
        while True:
            behind: tuple[str, int | None] | None = None
            with self._lock:
                for name, client in self._clients.items():
                    try:
                        found: int | None = self._count(client, table, workspace_id, batch_seq)
                    except Exception:  # an unreachable replica is a lagging one
                        found = None
                    if found is None or found < expected:
                        behind = (name, found)
                        break
            if behind is None:
                return len(self._clients)
            if time.monotonic() >= deadline:
                raise ReplicaLagging(batch_id, behind[0], behind[1], expected, time.monotonic() - started)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)
