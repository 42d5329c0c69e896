"""The job state machine, restart recovery, shutdown, expiry and write failures, on real storage files."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from benchmarks.bench_export import generate
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.export import service
from focusbase.export.spec import ExportSpec
from focusbase.runtime import Runtime
from focusbase.storage import exports as store
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.exports import CopyHandle
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.principal import Principal
from tests.export.conftest import cost_row, insert_cost_rows, wait_for_job

PRINCIPAL = Principal("key_test", DEFAULT_WORKSPACE_ID, "api", frozenset({"read"}), None)
SPEC = ExportSpec(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC), format="csv")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """Storage opened without starting the lifecycle, so the test drives each job step itself."""
    rt = Runtime.open(settings)
    insert_cost_rows(rt.warehouse, [cost_row(i) for i in range(25)])
    yield rt
    rt.warehouse.close()
    rt.catalog.close()


def test_state_machine(runtime: Runtime, settings: Settings) -> None:
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    assert job.status == "Pending" and job.attempts == 0 and job.id.startswith("exp_")
    assert store.claim_job(runtime.catalog, job.id)
    assert not store.claim_job(runtime.catalog, job.id)  # only one worker gets it
    processing = store.get_job(runtime.catalog, job.id)
    assert processing is not None and processing.status == "Processing" and processing.attempts == 1
    store.requeue_job(runtime.catalog, job.id, "test")
    done = service.run_job(settings, runtime.catalog, runtime.exports, job.id)
    assert done is not None and done.status == "Complete" and done.attempts == 2
    assert done.record_count == 25 and done.error is None
    assert done.completed_at is not None and done.expires_at is not None
    path = service.job_file(settings, done)
    assert path is not None and path.stat().st_size == done.file_size
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial files left behind
    assert service.run_job(settings, runtime.catalog, runtime.exports, job.id) is None  # not Pending


def test_interrupt_requeues_the_job(runtime: Runtime, settings: Settings) -> None:
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    handle = CopyHandle()
    handle.interrupt()
    after = service.run_job(settings, runtime.catalog, runtime.exports, job.id, handle)
    assert after is not None and after.status == "Pending"
    assert after.error is not None and "shutdown" in after.error
    assert not (service.exports_dir(settings) / job.id / SPEC.file_name()).exists()
    done = service.run_job(settings, runtime.catalog, runtime.exports, job.id)
    assert done is not None and done.status == "Complete" and done.record_count == 25


def test_restart_resumes_interrupted_job(settings: Settings) -> None:
    rt = Runtime.open(settings)
    insert_cost_rows(rt.warehouse, [cost_row(i) for i in range(25)])
    key = create_key(rt.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="t", scopes=["read"]).key
    job = service.create_export(rt.catalog, PRINCIPAL, SPEC)
    assert store.claim_job(rt.catalog, job.id)  # the process "dies" while the job is Processing
    partial = service.exports_dir(settings) / job.id / f".{SPEC.file_name()}.partial"
    partial.mkdir(parents=True)
    (partial / "cost-and-usage.csv").write_text("half a file")
    rt.warehouse.close()
    rt.catalog.close()

    with TestClient(create_app(settings)) as client:
        body = wait_for_job(client, {"Authorization": f"Bearer {key}"}, job.id)
    assert body["status"] == "Complete" and body["recordCount"] == 25
    assert not partial.exists()


def test_restart_fails_a_job_interrupted_too_often(settings: Settings) -> None:
    rt = Runtime.open(settings)
    key = create_key(rt.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="t", scopes=["read"]).key
    job = service.create_export(rt.catalog, PRINCIPAL, SPEC)
    for _ in range(service.MAX_ATTEMPTS - 1):
        assert store.claim_job(rt.catalog, job.id)
        store.requeue_job(rt.catalog, job.id, "interrupted")
    assert store.claim_job(rt.catalog, job.id)
    rt.warehouse.close()
    rt.catalog.close()

    with TestClient(create_app(settings)) as client:
        body = wait_for_job(client, {"Authorization": f"Bearer {key}"}, job.id)
    assert body["status"] == "Failed"
    assert body["error"] == f"interrupted {service.MAX_ATTEMPTS} times (server stopped while it ran)"
    assert body["downloadUrl"] is None and body["completedAt"] is not None


def test_expiry_deletes_the_file(runtime: Runtime, settings: Settings) -> None:
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    done = service.run_job(settings, runtime.catalog, runtime.exports, job.id)
    assert done is not None
    path = service.job_file(settings, done)
    assert path is not None
    expires = datetime.fromisoformat(done.expires_at.replace("Z", "+00:00"))  # type: ignore[union-attr]
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert service.sweep_expired(settings, runtime.catalog, now=expires - timedelta(seconds=1)) == 0
    assert path.exists()
    assert service.sweep_expired(settings, runtime.catalog, now=expires + timedelta(seconds=1)) == 1
    assert not path.exists() and not path.parent.exists()
    gone = store.get_job(runtime.catalog, job.id)
    assert gone is not None and gone.expired_at is not None and service.job_file(settings, gone) is None
    with pytest.raises(service.ExportExpired):
        service.download_for(settings, runtime.catalog, job.id)
    assert service.sweep_expired(settings, runtime.catalog, now=expires + timedelta(days=1)) == 0


def test_write_error_fails_the_job(runtime: Runtime, settings: Settings) -> None:
    service.exports_dir(settings).write_text("a file where the export folder should be")
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    failed = service.run_job(settings, runtime.catalog, runtime.exports, job.id)
    assert failed is not None and failed.status == "Failed"
    assert failed.error is not None and failed.error.startswith("could not write the export file:")
    assert "exports" in failed.error


@pytest.fixture
def tiny_disk(settings: Settings) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted as the export folder: a real disk-full condition."""
    folder = service.exports_dir(settings)
    folder.mkdir(parents=True)
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a small tmpfs here to fill a disk (needs root): {exc}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_disk_full_fails_the_job_cleanly(runtime: Runtime, settings: Settings, tiny_disk: Path) -> None:
    insert_cost_rows(runtime.warehouse, [cost_row(i) for i in range(3000)])
    job = service.create_export(runtime.catalog, PRINCIPAL, SPEC)
    failed = service.run_job(settings, runtime.catalog, runtime.exports, job.id)
    assert failed is not None and failed.status == "Failed"
    assert failed.error is not None and "No space left on device" in failed.error
    assert failed.error.startswith("could not write the export file:")
    assert list((tiny_disk / job.id).iterdir()) == []  # the partial file was removed
    # The job after it succeeds once space is back (a small export fits).
    small = ExportSpec(SPEC.billing_period_start, SPEC.billing_period_end, filters={"resource_id": "vm-0"})
    ok = service.run_job(
        settings,
        runtime.catalog,
        runtime.exports,
        service.create_export(runtime.catalog, PRINCIPAL, small).id,
    )
    assert ok is not None and ok.status == "Complete", ok


def test_job_request_round_trips(runtime: Runtime) -> None:
    spec = ExportSpec(
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
        format="json",
        focus_version="1.1",
        compression="gzip",
        filters={"provider_name": "Acme Cloud"},
    )
    job = service.create_export(runtime.catalog, PRINCIPAL, spec)
    assert service.job_spec(job) == spec
    assert json.loads(job.request)["billing_period_end"] == "2025-03-01T00:00:00Z"


@pytest.mark.slow
@pytest.mark.embedded_only("its rows are generated straight into the DuckDB file")
def test_shutdown_interrupts_a_running_copy(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    generate(settings.data_dir, 400_000)
    rt = Runtime.open(settings)
    handle = CopyHandle()
    real_set_progress = store.set_progress

    def set_progress_then_shut_down(*args: object, **kwargs: object) -> None:
        # The shutdown arrives inside the job's read transaction, once the row count is known: the moment
        # a timer-driven test could miss on a loaded machine.
        real_set_progress(*args, **kwargs)  # type: ignore[arg-type]
        handle.interrupt()

    monkeypatch.setattr(store, "set_progress", set_progress_then_shut_down)
    try:
        job = service.create_export(rt.catalog, PRINCIPAL, SPEC)
        worker = threading.Thread(
            target=service.run_job, args=(settings, rt.catalog, rt.exports, job.id, handle)
        )
        worker.start()
        worker.join(60)
        assert not worker.is_alive()
        after = store.get_job(rt.catalog, job.id)
        assert after is not None and after.status == "Pending", after
        assert after.total_rows == 400_000
        assert after.error == "interrupted by a server shutdown; the export restarts"
        assert list((service.exports_dir(settings) / job.id).iterdir()) == []
    finally:
        rt.warehouse.close()
        rt.catalog.close()
