"""Leader election: with several server processes on one PostgreSQL catalog, one runs the periodic sweeps.

The leader holds a lease row in the catalog (storage/leases.py) and renews it every third of
FOCUSBASE_LEADER_LEASE_SECONDS. It counts itself leader only until two thirds of the lease after its last
successful renewal, a third before anyone else may take the lease, so two processes never both act as leader;
when it dies, another takes the lease within one lease time (at once after a clean shutdown, which releases
it). The embedded catalog serves one process, which always leads.

Sweeps that are safe to repeat and cheap to skip run only on the leader: the budget sweep, the export file
expiry and the webhook delivery log pruning. Work claimed row by row in the catalog (export jobs, webhook
deliveries) runs on every process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
import time

from focusbase.storage import leases as store
from focusbase.storage.catalog import Catalog

log = logging.getLogger(__name__)

BACKGROUND = "background"


class Leadership:
    """Whether this process leads the deployment's periodic sweeps."""

    def __init__(self, catalog: Catalog, lease_seconds: float, name: str = BACKGROUND) -> None:
        self.catalog = catalog
        self.lease_seconds = lease_seconds
        self.name = name
        self.holder = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"
        self.always = catalog.dialect == "sqlite"
        self._valid_until = 0.0
        self._stopping = False
        # A renewal and the release never overlap: a renewal landing after the release would take the lease
        # again for a process that is stopping, and another would wait the whole lease to take over.
        self._turn = threading.Lock()

    @property
    def is_leader(self) -> bool:
        """True while this process may run the sweeps."""
        return self.always or time.monotonic() < self._valid_until

    def renew(self) -> bool:
        """Take or renew the lease (blocking); whether this process leads now."""
        if self.always:
            return True
        with self._turn:
            if self._stopping:
                return False
            return self._renew()

    def _renew(self) -> bool:
        started = time.monotonic()
        was = self.is_leader
        try:
            held = store.take_or_renew(self.catalog, self.name, self.holder, self.lease_seconds)
        except Exception:
            # The catalog does not answer: keep what the last renewal gave, which runs out by itself.
            log.warning("leader lease: renewing failed; trying again", exc_info=True)
            return self.is_leader
        if held:
            self._valid_until = started + self.lease_seconds * 2 / 3
        else:
            self._valid_until = 0.0
        if held != was:
            log.info("leader lease %s: %s", self.name, "taken" if held else "held by another process")
        return held

    async def loop(self) -> None:
        """Renew every third of the lease until stopped."""
        while not self._stopping:
            await asyncio.sleep(self.lease_seconds / 3)
            if not self._stopping:
                await asyncio.to_thread(self.renew)

    def release(self) -> None:
        """Stop leading and give the lease up, so another process takes over at its next try."""
        self._stopping = True
        if self.always:
            return
        with self._turn:  # after a renewal under way, so none can follow it
            held = self.is_leader
            self._valid_until = 0.0
            if held:
                try:
                    store.release(self.catalog, self.name, self.holder)
                except Exception:
                    log.warning("leader lease: releasing failed; it runs out by itself", exc_info=True)
