"""Leader election: one process of those sharing a PostgreSQL catalog runs the periodic sweeps; another takes
over within the lease time when it dies, at once when it stops cleanly. The embedded catalog always leads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.budgets.lifecycle import Evaluator
from focusbase.config import Settings
from focusbase.export import service as export_service
from focusbase.leadership import BACKGROUND, Leadership
from focusbase.notify import worker as notify_worker
from focusbase.storage import Catalog, open_catalog
from focusbase.storage import leases as store

REPO = Path(__file__).resolve().parents[2]


def _eventually(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, what
        time.sleep(0.05)
    return time.monotonic() - started


def test_one_of_two_leads_and_the_other_takes_over_when_its_lease_runs_out(
    catalogs: tuple[Catalog, Catalog],
) -> None:
    one, two = (Leadership(catalog, lease_seconds=1.5) for catalog in catalogs)
    assert one.renew() and one.is_leader
    assert not two.renew() and not two.is_leader
    assert one.renew() and not two.renew()  # the holder renews; the other still cannot take it
    assert store.holder_of(catalogs[1], BACKGROUND) == one.holder
    # The leader stops renewing (hung or dead): it stops counting itself leader first, at 2/3 of the lease,
    # and only once the lease has run out can the other take it.
    stopped_leading = _eventually(
        lambda: not one.is_leader, 3, "the silent leader still counts itself leader"
    )
    assert not two.renew()
    taken = _eventually(two.renew, 5, "nobody took the lease over")
    assert 0.8 <= stopped_leading + taken <= 3.0
    assert two.is_leader and not one.renew()  # the old leader finds it taken


def test_a_clean_stop_hands_the_lease_over_at_once(catalogs: tuple[Catalog, Catalog]) -> None:
    one, two = (Leadership(catalog, lease_seconds=30) for catalog in catalogs)
    assert one.renew() and not two.renew()
    one.release()
    assert not one.is_leader and two.renew() and two.is_leader


def test_a_renewal_under_way_when_the_process_stops_cannot_take_the_lease_back(
    catalogs: tuple[Catalog, Catalog], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = (Leadership(catalog, lease_seconds=30) for catalog in catalogs)
    assert one.renew()
    entered, go_on = threading.Event(), threading.Event()
    take = store.take_or_renew

    def slow(*args: Any) -> bool:  # a renewal held up in the catalog while the server stops
        entered.set()
        go_on.wait(10)
        return take(*args)

    monkeypatch.setattr(store, "take_or_renew", slow)
    renewal = threading.Thread(target=one.renew)
    renewal.start()
    assert entered.wait(10)
    releasing = threading.Thread(target=one.release)
    releasing.start()
    go_on.set()
    renewal.join(10)
    releasing.join(10)
    monkeypatch.setattr(store, "take_or_renew", take)
    assert store.holder_of(one.catalog, one.name) is None  # released after the renewal, not before it
    assert not one.renew() and two.renew()


def test_the_embedded_catalog_always_leads(tmp_path: Path) -> None:
    catalog = open_catalog(Settings(data_dir=tmp_path, catalog_url=None))
    try:
        leadership = Leadership(catalog, lease_seconds=3)
        assert leadership.is_leader and leadership.renew()
        leadership.release()
    finally:
        catalog.close()


_LEADER = """
import sys, time
from focusbase.config import Settings
from focusbase.leadership import Leadership
from focusbase.storage import open_catalog

catalog = open_catalog(Settings(data_dir=sys.argv[2], catalog_url=sys.argv[1]))
leadership = Leadership(catalog, lease_seconds=3)
assert leadership.renew()
print("leading", flush=True)
while True:
    time.sleep(1)
    leadership.renew()
"""


def test_a_leader_killed_with_sigkill_is_replaced_within_the_lease(postgres_url: str, tmp_path: Path) -> None:
    catalog = open_catalog(Settings(data_dir=tmp_path / "d", catalog_url=postgres_url))
    follower = Leadership(catalog, lease_seconds=3)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    try:
        with subprocess.Popen(
            [sys.executable, "-c", _LEADER, postgres_url, str(tmp_path / "leader")],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as proc:
            try:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "leading"
                time.sleep(4)  # longer than the lease: the leader's renewals keep it
                assert not follower.renew()
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        waited = _eventually(follower.renew, 6, "nobody took over from the killed leader")
        assert waited <= 3.5 and follower.is_leader
    finally:
        catalog.close()


def test_two_servers_elect_one_leader_and_hand_over_on_shutdown(postgres_url: str, tmp_path: Path) -> None:
    def server(name: str) -> TestClient:
        settings = Settings(data_dir=tmp_path / name, catalog_url=postgres_url, leader_lease_seconds=3)
        return TestClient(create_app(settings))

    first, second = server("r1").__enter__(), server("r2").__enter__()
    try:
        leaders = [c.app.state.runtime.leadership for c in (first, second)]  # type: ignore[attr-defined]
        assert [leader.is_leader for leader in leaders] == [True, False]
        first.__exit__(None, None, None)  # the leader stops cleanly and releases its lease
        waited = _eventually(lambda: leaders[1].is_leader, 3, "the second server did not take over")
    finally:
        second.__exit__(None, None, None)
    assert waited < 3  # at its next renewal (a third of the lease), not once the lease has run out


def test_only_the_leader_runs_the_periodic_sweeps(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swept: list[tuple[str, str]] = []

    def record(kind: str, data_dir: Path) -> None:
        swept.append((kind, data_dir.name))

    monkeypatch.setattr(Evaluator, "sweep", lambda self: record("budgets", self.runtime.settings.data_dir))
    monkeypatch.setattr(
        export_service, "sweep_expired", lambda settings, catalog: record("exports", settings.data_dir) or 0
    )
    monkeypatch.setattr(
        notify_worker, "prune_log", lambda runtime: record("webhooks", runtime.settings.data_dir)
    )

    def server(name: str) -> TestClient:
        return TestClient(create_app(Settings(data_dir=tmp_path / name, catalog_url=postgres_url)))

    with server("leader"), server("follower"):
        _eventually(lambda: len(swept) >= 3, 10, f"the leader's first sweeps did not run: {swept}")
        time.sleep(0.5)  # time for the follower's loops to have had their first turn too
    assert sorted(swept) == [("budgets", "leader"), ("exports", "leader"), ("webhooks", "leader")]
