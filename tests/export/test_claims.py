"""Export job claims: atomic, leased, taken back after their runner dies, never run twice at once.

Tests taking `settings` run on the SQLite catalog, and on PostgreSQL with FOCUSBASE_TEST_CATALOG=postgres;
those taking `postgres_url` run two claimants (two connection pools, as two replicas have) on one
PostgreSQL catalog.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from focusbase.app import create_app
from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.export import service
from focusbase.export.spec import ExportSpec
from focusbase.runtime import Runtime
from focusbase.storage import Catalog, open_catalog
from focusbase.storage import exports as store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.exports import CopyHandle
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.principal import Principal
from tests.export.conftest import cost_row, insert_cost_rows, wait_for_job

PRINCIPAL = Principal("key_test", DEFAULT_WORKSPACE_ID, "api", frozenset({"read"}), None)
SPEC = ExportSpec(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC), format="csv")
REPO = Path(__file__).resolve().parents[2]


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.open(settings)
    insert_cost_rows(rt.warehouse, [cost_row(i) for i in range(10)])
    yield rt
    rt.warehouse.close()
    rt.catalog.close()


def test_claims_take_the_oldest_pending_job_once(runtime: Runtime) -> None:
    jobs = [service.create_export(runtime.catalog, PRINCIPAL, SPEC).id for _ in range(3)]
    claimed = [store.claim_next_job(runtime.catalog, name, _at(60)) for name in ("a", "b", "a")]
    assert [job.id for job in claimed if job is not None] == jobs
    assert [(job.claimed_by, job.attempts, job.status) for job in claimed if job is not None] == [
        ("a", 1, "Processing"),
        ("b", 1, "Processing"),
        ("a", 1, "Processing"),
    ]
    assert store.claim_next_job(runtime.catalog, "b", _at(60)) is None


def test_an_expired_claim_is_taken_over_and_its_runner_changes_nothing(
    runtime: Runtime, settings: Settings
) -> None:
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    live = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    dead = store.claim_next_job(runtime.catalog, "dead-runner", _at(-1))  # its lease ran out a second ago
    alive = store.claim_next_job(runtime.catalog, "live-runner", _at(60))
    assert dead is not None and dead.id == job.id and alive is not None and alive.id == live.id
    partial = service.exports_dir(settings) / job.id / f".{SPEC.file_name()}.dead-runner.partial"
    partial.mkdir(parents=True)
    # Only the expired claim is taken back (requeued, its runner's work files removed).
    assert service.recover_jobs(settings, runtime.catalog, expired_only=True, unleased=False) == (1, 0)
    assert not partial.exists()
    requeued = store.get_job(runtime.catalog, job.id)
    assert requeued is not None and requeued.status == "Pending" and requeued.claimed_by is None
    still = store.get_job(runtime.catalog, live.id)
    assert still is not None and still.status == "Processing" and still.claimed_by == "live-runner"

    done = service.run_next_job(settings, runtime.catalog, runtime.exports, "new-runner")
    assert done is not None and done.id == job.id
    assert done.status == "Complete" and done.attempts == 2 and done.record_count == 10
    # The dead runner, should it wake up, can neither renew nor finish nor fail the job.
    assert not store.renew_lease(runtime.catalog, job.id, "dead-runner", _at(60))
    assert not store.fail_job(runtime.catalog, job.id, "late", "dead-runner")
    assert not store.complete_job(
        runtime.catalog,
        job.id,
        record_counts={"CostAndUsage": 1},
        file_name="x.csv",
        file_size=1,
        expires_at=_at(60),
        claimant="dead-runner",
    )
    after = store.get_job(runtime.catalog, job.id)
    assert after is not None and after.status == "Complete" and after.record_count == 10


def test_a_job_taken_back_too_often_fails(runtime: Runtime, settings: Settings) -> None:
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    for _ in range(service.MAX_ATTEMPTS):
        assert store.claim_next_job(runtime.catalog, "dies", _at(-1)) is not None
        service.recover_jobs(settings, runtime.catalog, expired_only=True, unleased=False)
    failed = store.get_job(runtime.catalog, job.id)
    assert failed is not None and failed.status == "Failed"
    assert failed.error == f"interrupted {service.MAX_ATTEMPTS} times (server stopped while it ran)"


def test_a_renewal_that_blocks_stops_the_run_before_its_lease_runs_out(
    runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = settings.model_copy(update={"export_lease_seconds": 1.5})
    service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    job = store.claim_next_job(runtime.catalog, "a", service.lease_until(quick))
    assert job is not None
    release = threading.Event()

    def stuck(*_: object) -> bool:  # the catalog's writer lock held elsewhere, or a hung connection
        release.wait(30)
        return True

    monkeypatch.setattr(store, "renew_lease", stuck)
    handle = CopyHandle()
    started = time.monotonic()
    try:
        with service.LeaseKeeper(quick, runtime.catalog, job.id, "a", handle):
            while not handle.lost:
                assert time.monotonic() - started < 1.5, "the run went on past its lease"
                time.sleep(0.02)
    finally:
        release.set()
    # Stopped once two thirds of the lease had passed since the claim, not after the stuck call returned.
    assert 0.9 <= time.monotonic() - started < 1.5


def test_the_lease_is_renewed_while_the_job_runs_and_a_lost_claim_stops_it(
    runtime: Runtime, settings: Settings
) -> None:
    quick = settings.model_copy(update={"export_lease_seconds": 3.0})
    service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    job = store.claim_next_job(runtime.catalog, "a", service.lease_until(quick))
    assert job is not None and job.lease_expires_at is not None
    handle = CopyHandle()
    with service.LeaseKeeper(quick, runtime.catalog, job.id, "a", handle):
        deadline = time.monotonic() + 10
        while (renewed := store.get_job(runtime.catalog, job.id)) is not None and (
            renewed.lease_expires_at == job.lease_expires_at
        ):
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.1)
        assert not handle.lost
        with runtime.catalog.transaction() as tx:  # another runner took the job over
            tx.execute("UPDATE export_jobs SET claimed_by = 'b' WHERE id = ?", (job.id,))
        while not handle.lost:
            assert time.monotonic() < deadline, "the lost claim did not stop the job"
            time.sleep(0.1)
    assert handle.interrupted
    with pytest.raises(Exception, match="interrupted"):
        handle.check()


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[list[Runtime]]:
    """Two runtimes, as two server processes have: one catalog, one export directory, a warehouse each."""
    runtimes = []
    for name in ("r1", "r2"):
        settings = Settings(
            data_dir=tmp_path / name,
            catalog_url=postgres_url,
            export_dir=tmp_path / "shared-exports",
            secret_key="shared",
        )
        rt = Runtime.open(settings)
        insert_cost_rows(rt.warehouse, [cost_row(i) for i in range(10)])
        runtimes.append(rt)
    yield runtimes
    for rt in runtimes:
        rt.warehouse.close()
        rt.catalog.close()


def test_two_replicas_run_each_job_exactly_once(replicas: list[Runtime]) -> None:
    jobs = {service.create_export(replicas[0].catalog, PRINCIPAL, SPEC).id for _ in range(12)}
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()

    def runner(rt: Runtime, claimant: str) -> None:
        while (job := service.run_next_job(rt.settings, rt.catalog, rt.exports, claimant)) is not None:
            with lock:
                ran.append((job.id, claimant))

    threads = [threading.Thread(target=runner, args=(replicas[i % 2], f"runner-{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(job_id for job_id, _ in ran) == sorted(jobs)  # every job once, none twice
    for job_id in jobs:
        job = store.get_job(replicas[1].catalog, job_id)
        assert job is not None and job.status == "Complete" and job.attempts == 1 and job.record_count == 10


def test_concurrent_claims_on_two_catalogs_never_share_a_job(replicas: list[Runtime]) -> None:
    catalogs: list[Catalog] = [rt.catalog for rt in replicas]
    jobs = {service.create_export(catalogs[0], PRINCIPAL, SPEC).id for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(catalog: Catalog, name: str) -> None:
        while (job := store.claim_next_job(catalog, name, _at(60))) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim, args=(catalogs[i % 2], f"c{i}")) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(jobs)


_DYING_RUNNER = """
import sys, time
from focusbase.config import Settings
from focusbase.export import service
from focusbase.storage import open_catalog
from focusbase.storage import exports as store
from focusbase.storage.exports import CopyHandle

settings = Settings(data_dir=sys.argv[2], catalog_url=sys.argv[1], export_lease_seconds=3.0)
catalog = open_catalog(settings)
job = store.claim_next_job(catalog, "doomed", service.lease_until(settings))
with service.LeaseKeeper(settings, catalog, job.id, "doomed", CopyHandle()):
    print(job.id, flush=True)
    time.sleep(3600)
"""


def test_a_runner_killed_with_sigkill_loses_its_job_after_the_lease(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d", catalog_url=postgres_url)
    catalog = open_catalog(settings)
    try:
        job = service.create_export(catalog, PRINCIPAL, SPEC)
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        proc = subprocess.Popen(
            [sys.executable, "-c", _DYING_RUNNER, postgres_url, str(tmp_path / "dying")],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == job.id
            time.sleep(4.5)  # longer than the 3 s lease: renewals keep the claim
            assert service.recover_jobs(settings, catalog, expired_only=True, unleased=False) == (0, 0)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        deadline = time.monotonic() + 10
        while service.recover_jobs(settings, catalog, expired_only=True, unleased=False) == (0, 0):
            assert time.monotonic() < deadline, "the dead runner's job was never taken back"
            time.sleep(0.2)
        taken = store.claim_next_job(catalog, "survivor", _at(60))
        assert taken is not None and taken.id == job.id and taken.attempts == 2
    finally:
        catalog.close()


def test_a_replica_serves_the_file_another_wrote_in_the_shared_export_dir(
    postgres_url: str, tmp_path: Path
) -> None:
    def settings(name: str) -> Settings:
        return Settings(
            data_dir=tmp_path / name,
            catalog_url=postgres_url,
            export_dir=tmp_path / "shared-exports",
            secret_key="shared",
        )

    with TestClient(create_app(settings("r1"))) as one, TestClient(create_app(settings("r2"))) as two:
        for client in (one, two):
            insert_cost_rows(client.app.state.runtime.warehouse, [cost_row(i) for i in range(7)])  # type: ignore[attr-defined]
        catalog = one.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="e", scopes=["read"]).key
        headers = {"Authorization": f"Bearer {key}"}
        body = {"billingPeriodStart": "2025-01-01T00:00:00Z", "billingPeriodEnd": "2025-02-01T00:00:00Z"}
        created = one.post("/focus/v1/cost-and-usage/export", json=body, headers=headers)
        assert created.status_code == 202, created.text
        job = wait_for_job(two, headers, created.json()["jobId"])
        assert job["status"] == "Complete" and job["recordCount"] == 7
        for client in (one, two):
            download = client.get(job["downloadUrl"])
            assert download.status_code == 200 and len(download.content) == job["fileSize"]
    assert (tmp_path / "shared-exports" / job["jobId"] / job["fileName"]).is_file()
    assert not (tmp_path / "r1" / "exports").exists() and not (tmp_path / "r2" / "exports").exists()


def test_an_unwritable_export_dir_stops_the_start_naming_it(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the export directory should be")
    settings = Settings(data_dir=tmp_path / "d", export_dir=blocked)
    with pytest.raises(service.ExportDirUnusable, match="FOCUSBASE_EXPORT_DIR") as caught:
        service.check_exports_dir(settings)
    assert str(blocked) in str(caught.value)
    with pytest.raises(service.ExportDirUnusable), TestClient(create_app(settings)):
        pass
    default = Settings(data_dir=tmp_path / "e")
    assert service.check_exports_dir(default) == tmp_path / "e" / "exports"
    assert list((tmp_path / "e" / "exports").iterdir()) == []  # the probe file is gone


def test_serve_refuses_an_unwritable_export_dir_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("x")
    monkeypatch.setenv("FOCUSBASE_EXPORT_DIR", str(blocked))
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 1
    assert "error: cannot write export files to" in result.output and "FOCUSBASE_EXPORT_DIR" in result.output
