"""The stager: which parts of which batches this process is checking or writing, and the thread that writes.

Parts of one batch may be sent concurrently. Each reserves its row numbers, is checked in the request's
thread, and once accepted is handed to the stager: one background thread that writes accepted parts into
the warehouse while the next part is already being parsed and checked (staging a part is about as much
work as checking it, so the two overlap on separate cores). A part's response therefore means "valid and
accepted"; its rows are stored by the time a commit answers, which waits for every accepted part. Staged
rows are never visible before the commit and a restart fails open batches anyway, so nothing a client was
told is lost: a part the stager cannot write fails the batch with the reason (see ingest.batches).

This module only keeps the books and runs the jobs; what a job writes is the batch service's business.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from focusbase.ingest.model import Batch, IngestError

MAX_STAGING_PARTS = 1  # accepted parts of one batch waiting for the stager; a further part waits for room


@dataclass
class _Flight:
    """This process's parts of one batch: being checked, waiting to be staged, the next row number."""

    checking: int = 0
    staging: int = 0
    next_row: int = 0
    accepted: int = 0  # parts handed to the stager so far
    staged: int = 0  # of those, parts the stager has finished (it works in order)


_LOCK = threading.Condition()
_FLIGHTS: dict[str, _Flight] = {}
_COMMITTING: set[str] = set()  # batches whose commit has begun: no new part is accepted
_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="focusbase-stager")


def reserve(batch_id: str, rows: int, load: Callable[[], Batch]) -> tuple[Batch, int]:
    """Count a part as being checked and reserve its row numbers; returns the batch and the first number.

    `load` reads the batch and refuses a closed one; it runs under the stager's lock, so a part finishing
    meanwhile cannot leave the next part numbered from a stale row count.
    """
    with _LOCK:
        batch = load()
        if batch_id in _COMMITTING:
            raise IngestError(
                409, "batch_not_open", f"batch {batch_id} is being committed; it accepts no more parts"
            )
        flight = _FLIGHTS.get(batch_id)
        if flight is None:
            flight = _FLIGHTS[batch_id] = _Flight(next_row=batch.rows_received + 1)
        start = flight.next_row
        flight.next_row += rows
        flight.checking += 1
    return batch, start


def _settle(batch_id: str, *, checked: int = 0, staged: int = 0, to_stage: int = 0) -> None:
    """Move parts between the checking and staging counts; forget the batch when neither has any."""
    with _LOCK:
        flight = _FLIGHTS.get(batch_id)
        if flight is None:
            return
        flight.checking -= checked
        flight.staging += to_stage - staged
        flight.accepted += to_stage
        flight.staged += staged
        if not flight.checking and not flight.staging:
            # Every part has stored its counts, so the batch record numbers the next part.
            del _FLIGHTS[batch_id]
        _LOCK.notify_all()


def checked(batch_id: str) -> None:
    """A part reserved with `reserve` ends without being handed over (rejected, or an error)."""
    _settle(batch_id, checked=1)


def wait_for_room(batch_id: str) -> None:
    """Wait until the batch has fewer than MAX_STAGING_PARTS parts waiting for the stager."""
    with _LOCK:
        _LOCK.wait_for(lambda: batch_id not in _FLIGHTS or _FLIGHTS[batch_id].staging < MAX_STAGING_PARTS)


def hand_over(batch_id: str, job: Callable[..., None], *args: Any) -> None:
    """Hand a checked part to the stager thread, which runs `job(*args)` after the parts before it."""
    _settle(batch_id, checked=1, to_stage=1)

    def run() -> None:
        try:
            job(*args)
        finally:
            _settle(batch_id, staged=1)

    _THREAD.submit(run)


def _wait_staged(flights: list[tuple[_Flight, int]]) -> None:
    """Wait until each flight has staged the parts it had accepted (or is gone: all of them are)."""

    def done() -> bool:
        return all(flight.staged >= target or flight.staging == 0 for flight, target in flights)

    with _LOCK:
        _LOCK.wait_for(done)


def wait_until_staged(batch_id: str) -> None:
    """Return once every part of the batch accepted so far is written (or has failed the batch)."""
    with _LOCK:
        flight = _FLIGHTS.get(batch_id)
        flights = [(flight, flight.accepted)] if flight is not None else []
    _wait_staged(flights)


def wait_until_all_staged() -> None:
    """Return once the stager has written every part accepted so far, of every batch."""
    with _LOCK:
        flights = [(flight, flight.accepted) for flight in _FLIGHTS.values()]
    _wait_staged(flights)


@contextmanager
def committing(batch_id: str) -> Iterator[None]:
    """Refuse new parts of the batch while its commit runs; 409 batch_busy while a part is being checked.

    Inside, wait for the stager (`wait_until_staged`) before committing: every answered part is included,
    and none answered afterwards can miss the commit.
    """
    with _LOCK:
        flight = _FLIGHTS.get(batch_id)
        if flight is not None and flight.checking:
            raise IngestError(
                409,
                "batch_busy",
                f"a part of batch {batch_id} is still being checked; commit after every part has been "
                "answered",
                headers={"Retry-After": "1"},
            )
        _COMMITTING.add(batch_id)
    try:
        yield
    finally:
        with _LOCK:
            _COMMITTING.discard(batch_id)


def parts_in_flight(batch_id: str) -> int:
    """Parts of a batch this process is still checking or staging."""
    with _LOCK:
        flight = _FLIGHTS.get(batch_id)
        return flight.checking + flight.staging if flight else 0


def busy_batches() -> set[str]:
    """Batches with parts this process is still checking or staging."""
    with _LOCK:
        return set(_FLIGHTS)
