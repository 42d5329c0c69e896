"""Export jobs: create, look up, run (Pending -> Processing -> Complete | Failed), recover and expire."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from focusbase.config import Settings
from focusbase.export.spec import COMPRESSIONS, FORMATS, ExportSpec, output_columns
from focusbase.focus import LATEST_VERSION, VERSIONS, Dataset
from focusbase.query.filters import Scope
from focusbase.storage import Catalog
from focusbase.storage import exports as store
from focusbase.storage.export_rows import ExportRows, ExportSource
from focusbase.storage.exports import COMPLETE, FAILED, PENDING, PROCESSING, CopyColumn, CopyHandle, JobRecord
from focusbase.tenancy.principal import Principal

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
MAX_ATTEMPTS = 3
SHUTDOWN_REQUEUE = "interrupted by a server shutdown; the export restarts"
__all__ = [
    "COMPLETE",
    "FAILED",
    "PENDING",
    "PROCESSING",
    "ExportExpired",
    "ExportNotFound",
    "JobRecord",
    "Scope",
]

Progress = Callable[[int, int], None]


class ExportNotFound(LookupError):
    """No such job in the caller's workspace (or outside the caller's provider scope)."""


class ExportExpired(LookupError):
    """The job's file was deleted after its retention period."""


DEFAULT_MAX_CUSTOM_COLUMNS = Settings.model_fields["export_max_custom_columns"].default


def exports_dir(settings: Settings) -> Path:
    """Where export files live: <export_dir>/<job id>/<file>; by default <data_dir>/exports/."""
    return settings.export_dir if settings.export_dir is not None else settings.data_dir / EXPORTS_DIR


class ExportDirUnusable(OSError):
    """The export directory cannot be created or written to."""


def check_exports_dir(settings: Settings) -> Path:
    """Create the export directory if needed and prove a file can be written there (at start, so a bad
    FOCUSBASE_EXPORT_DIR stops the server with its name instead of failing every export later)."""
    folder = exports_dir(settings)
    probe = folder / f".write-check-{secrets.token_hex(6)}"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        setting = (
            "FOCUSBASE_EXPORT_DIR" if settings.export_dir is not None else "the data directory's exports/"
        )
        raise ExportDirUnusable(
            f"cannot write export files to {folder} ({setting}): {exc.strerror or exc}; make it a directory"
            " the server's user can write (shared by every server process of a deployment)"
        ) from exc
    return folder


def new_job_id() -> str:
    return "exp_" + secrets.token_hex(12)


def create_export(catalog: Catalog, principal: Principal, spec: ExportSpec) -> JobRecord:
    """Record a Pending job for this caller; the runner picks it up."""
    providers = json.dumps(sorted(principal.provider_ids)) if principal.provider_ids is not None else None
    return store.insert_job(
        catalog,
        job_id=new_job_id(),
        workspace_id=principal.workspace_id,
        key_id=principal.key_id,
        provider_ids=providers,
        request=json.dumps(spec.to_json()),
    )


def get_export(catalog: Catalog, principal: Principal, job_id: str) -> JobRecord:
    """A job visible to this caller: same workspace, and data within the caller's provider scope."""
    job = store.get_job(catalog, job_id, principal.workspace_id)
    if job is None:
        raise ExportNotFound(job_id)
    if principal.provider_ids is not None:
        job_providers = job_scope(job).provider_ids
        if job_providers is None or not job_providers <= principal.provider_ids:
            raise ExportNotFound(job_id)
    return job


class UnreadableJob(ValueError):
    """A stored job whose request cannot be read back (for example one stored before window checks)."""


def job_spec(job: JobRecord) -> ExportSpec:
    """The request a job was created with; UnreadableJob when the stored request cannot be read."""
    try:
        data = json.loads(job.request)
        if not isinstance(data, dict):
            raise TypeError("the stored request is not an object")
        return ExportSpec.from_json(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableJob(f"export {job.id} has an unreadable stored request: {exc}") from exc


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What a job's status reports about its request; readable for every stored job."""

    format: str
    focus_version: str
    compression: str | None
    include_contract_commitments: bool


def job_facts(job: JobRecord) -> JobFacts:
    """A job's request facts; for an unreadable request, its well-formed fields, else the API defaults."""
    try:
        spec = job_spec(job)
    except UnreadableJob:
        pass
    else:
        return JobFacts(spec.format, spec.focus_version, spec.compression, spec.include_contract_commitments)
    try:
        raw = json.loads(job.request)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raw = {}
    fmt, version = raw.get("format"), raw.get("focus_version")
    compression, both = raw.get("compression"), raw.get("include_contract_commitments")
    return JobFacts(
        format=fmt if fmt in FORMATS else "csv",
        focus_version=version if version in VERSIONS else LATEST_VERSION,
        compression=compression if compression in COMPRESSIONS else None,
        include_contract_commitments=both if isinstance(both, bool) else False,
    )


def job_scope(job: JobRecord) -> Scope:
    """The workspace and providers a job may read."""
    providers = frozenset(json.loads(job.provider_ids)) if job.provider_ids is not None else None
    return Scope(job.workspace_id, providers)


def record_counts(job: JobRecord) -> dict[str, int] | None:
    """Rows per FOCUS dataset of a finished job."""
    return json.loads(job.record_counts) if job.record_counts else None


def job_file(settings: Settings, job: JobRecord) -> Path | None:
    """The finished file of a Complete job, while it is kept."""
    if job.status != COMPLETE or job.file_name is None or job.expired_at is not None:
        return None
    path = exports_dir(settings) / job.id / job.file_name
    return path if path.is_file() else None


# ------------------------------------------------------------------------------------------------ running


def write_export(
    rows: ExportRows,
    scope: Scope,
    spec: ExportSpec,
    target: Path,
    *,
    on_progress: Progress | None = None,
    handle: CopyHandle | None = None,
    max_custom: int = DEFAULT_MAX_CUSTOM_COLUMNS,
    work_tag: str | None = None,
) -> dict[str, int]:
    """Write the export file (or the zip of both datasets) to `target`; returns rows per dataset.

    The file appears under `target` only when complete: everything is written under a temporary name first
    (with `work_tag`, a name of the runner's own, so a runner taking the job over never shares it).
    """
    work = target.parent / (f".{target.name}.{work_tag}.partial" if work_tag else f".{target.name}.partial")
    _remove(work)
    work.mkdir(parents=True)
    try:
        counts = _write_members(rows, scope, spec, work, on_progress, handle, max_custom)
        partial = work / target.name
        if spec.include_contract_commitments:
            _zip(spec, work, partial)
        else:
            (work / spec.member_name(Dataset.COST_AND_USAGE)).rename(partial)
        if handle is not None and handle.lost:  # taken over meanwhile: the file is the new runner's to write
            raise duckdb.InterruptException("the export's claim was lost before its file was in place")
        partial.replace(target)
    finally:
        _remove(work)
    return counts


def _write_members(
    rows: ExportRows,
    scope: Scope,
    spec: ExportSpec,
    work: Path,
    on_progress: Progress | None,
    handle: CopyHandle | None,
    max_custom: int,
) -> dict[str, int]:
    filters = spec.cost_filters(scope)
    counts: dict[str, int] = {}
    cost = ExportSource.cost(filters)
    counts[Dataset.COST_AND_USAGE.value] = rows.copy_rows(
        cost,
        _copy_columns(spec.focus_version, Dataset.COST_AND_USAGE, rows.custom_keys(cost), max_custom),
        fmt=spec.format,
        compression=spec.compression,
        target=work / spec.member_name(Dataset.COST_AND_USAGE),
        on_progress=on_progress,
        handle=handle,
    )
    if spec.include_contract_commitments:
        commitments = ExportSource.commitments(scope, spec.billing_period_start, spec.billing_period_end)
        done = counts[Dataset.COST_AND_USAGE.value]

        def shifted(written: int, total: int) -> None:
            if on_progress is not None:
                on_progress(done + written, done + total)

        counts[Dataset.CONTRACT_COMMITMENT.value] = rows.copy_rows(
            commitments,
            _copy_columns(
                spec.focus_version, Dataset.CONTRACT_COMMITMENT, rows.custom_keys(commitments), max_custom
            ),
            fmt=spec.format,
            compression=spec.compression,
            target=work / spec.member_name(Dataset.CONTRACT_COMMITMENT),
            on_progress=shifted,
            handle=handle,
        )
    return counts


def _copy_columns(version: str, dataset: Dataset, keys: list[str], max_custom: int) -> list[CopyColumn]:
    return [
        CopyColumn(c.name, c.source, c.data_type) for c in output_columns(version, dataset, keys, max_custom)
    ]


def _zip(spec: ExportSpec, work: Path, target: Path) -> None:
    # Already compressed members are stored; plain CSV/NDJSON is deflated.
    method = zipfile.ZIP_STORED if spec.compression or spec.format == "parquet" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(target, "w", compression=method, allowZip64=True) as zf:
        for dataset in (Dataset.COST_AND_USAGE, Dataset.CONTRACT_COMMITMENT):
            name = spec.member_name(dataset)
            zf.write(work / name, arcname=name)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def new_claimant() -> str:
    """A runner's name in job claims: host, process id and a random part (a restarted process is new)."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_until(settings: Settings) -> str:
    """When a claim taken or renewed now runs out."""
    return _stamp(datetime.now(UTC) + timedelta(seconds=settings.export_lease_seconds))


class LeaseKeeper:
    """Renews a running job's claim every third of the lease, in a thread of its own.

    When the claim turns out to be another runner's (it was taken over), or cannot be renewed for two thirds
    of the lease (the catalog does not answer), the job is stopped through its handle before the lease can
    run out: one job never runs twice at once.
    """

    def __init__(
        self, settings: Settings, catalog: Catalog, job_id: str, claimant: str, handle: CopyHandle
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.job_id = job_id
        self.claimant = claimant
        self.handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"export-lease {job_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        lease = self.settings.export_lease_seconds
        renewed = time.monotonic()  # when the lease last written was computed: it runs out `lease` later
        while not self._stop.wait(lease / 3):
            started = time.monotonic()
            # A renewal that blocks (the catalog writer lock, a hung connection) must not let the run go on
            # past its lease: it has until two thirds of the lease after the last renewal, then the run stops.
            outcome = self._renew(until=renewed + lease * 2 / 3)
            if outcome is True:
                renewed = started
                continue
            if outcome is None and time.monotonic() - renewed < lease * 2 / 3:
                log.warning("export %s: renewing its claim failed; trying again", self.job_id)
                continue
            if outcome is False:
                log.warning("export %s was taken over by another runner; this run stops", self.job_id)
            else:
                log.error("export %s: its claim could not be renewed in time; this run stops", self.job_id)
            self.handle.lose()
            return

    def _renew(self, *, until: float) -> bool | None:
        """Renew the claim, waiting at most until `until` (monotonic): True renewed, False taken over, None
        failed or still waiting (a late success only extends a lease this run no longer uses)."""
        result: list[bool] = []

        def attempt() -> None:
            try:
                result.append(
                    store.renew_lease(self.catalog, self.job_id, self.claimant, lease_until(self.settings))
                )
            except Exception:
                log.exception("export %s: renewing its claim failed", self.job_id)

        worker = threading.Thread(target=attempt, name=f"export-renew {self.job_id}", daemon=True)
        worker.start()
        worker.join(max(until - time.monotonic(), 0.0))
        return result[0] if result else None


def run_job(
    settings: Settings,
    catalog: Catalog,
    rows: ExportRows,
    job_id: str,
    handle: CopyHandle | None = None,
    claimant: str | None = None,
) -> JobRecord | None:
    """Claim a Pending job and run it to Complete or Failed (or back to Pending on shutdown)."""
    if not store.claim_job(catalog, job_id, claimant, lease_until(settings) if claimant else None):
        return None
    job = store.get_job(catalog, job_id)
    assert job is not None
    return run_claimed(settings, catalog, rows, job, handle, claimant)


def run_next_job(
    settings: Settings,
    catalog: Catalog,
    rows: ExportRows,
    claimant: str,
    handle: CopyHandle | None = None,
) -> JobRecord | None:
    """Claim the oldest Pending job for `claimant` and run it; None when no job is Pending."""
    job = store.claim_next_job(catalog, claimant, lease_until(settings))
    if job is None:
        return None
    return run_claimed(settings, catalog, rows, job, handle, claimant)


def run_claimed(
    settings: Settings,
    catalog: Catalog,
    rows: ExportRows,
    job: JobRecord,
    handle: CopyHandle | None = None,
    claimant: str | None = None,
) -> JobRecord | None:
    """Run a job this caller has claimed; with a claimant, under a lease renewed while it runs."""
    if claimant is None:
        _run_claimed(settings, catalog, rows, job, handle, None)
    else:
        handle = handle or CopyHandle()
        with LeaseKeeper(settings, catalog, job.id, claimant, handle):
            _run_claimed(settings, catalog, rows, job, handle, claimant)
    return store.get_job(catalog, job.id)


def _run_claimed(
    settings: Settings,
    catalog: Catalog,
    rows: ExportRows,
    job: JobRecord,
    handle: CopyHandle | None,
    claimant: str | None,
) -> None:
    job_id = job.id

    def fail(error: str) -> None:
        store.fail_job(catalog, job_id, error, claimant)

    try:
        spec = job_spec(job)
        job_dir = exports_dir(settings) / job.id
        job_dir.mkdir(parents=True, exist_ok=True)
        target = job_dir / spec.file_name()

        def progress(written: int, total: int) -> None:
            store.set_progress(catalog, job_id, rows_written=written, total_rows=total, claimant=claimant)

        counts = write_export(
            rows,
            job_scope(job),
            spec,
            target,
            on_progress=progress,
            handle=handle,
            max_custom=settings.export_max_custom_columns,
            work_tag=claimant,
        )
        expires = datetime.now(UTC) + timedelta(days=settings.export_ttl_days)
        if not store.complete_job(
            catalog,
            job_id,
            record_counts=counts,
            file_name=target.name,
            file_size=target.stat().st_size,
            expires_at=_stamp(expires),
            claimant=claimant,
        ):
            log.warning("export %s finished after another runner took it over; its result is theirs", job_id)
    except UnreadableJob as exc:
        log.warning("%s", exc)
        fail("the stored export request cannot be read; start a new export")
    except duckdb.InterruptException:
        if handle is not None and handle.lost:
            pass  # taken over: the new runner owns the job and its record
        elif handle is not None and handle.interrupted:
            store.requeue_job(catalog, job_id, SHUTDOWN_REQUEUE, claimant)
        else:
            fail("the export was interrupted")
    except (OSError, duckdb.IOException) as exc:
        log.warning("export %s failed writing its file: %s", job_id, exc)
        fail(f"could not write the export file: {_reason(exc)}")
    except duckdb.OutOfMemoryException:
        log.exception("export %s ran out of memory", job_id)
        fail(
            "the export needed more memory than the warehouse may use (FOCUSBASE_DUCKDB_MEMORY_LIMIT); "
            "export a shorter window or fewer rows, or raise the limit"
        )
    except Exception:
        # The engine's own text (internals, tuning advice) is for the log, not for the client.
        log.exception("export %s failed", job_id)
        fail(f"the export failed; the server log has the cause (export {job_id})")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.removeprefix("IO Error: ")


def recover_jobs(
    settings: Settings, catalog: Catalog, *, expired_only: bool = False, unleased: bool = True
) -> tuple[int, int]:
    """Jobs left Processing run again (or fail after MAX_ATTEMPTS): (requeued, failed).

    At the start of the only process on a catalog (the embedded profile) every Processing job is an orphan.
    With `expired_only` (replicas sharing a catalog), only jobs whose claim ran out, and with `unleased`
    those claimed without a lease, are taken back: the others belong to a runner that is alive.
    """
    requeued = failed = 0
    now = _stamp(datetime.now(UTC))
    for job in store.interrupted_jobs(catalog, now if expired_only else None, unleased=unleased):
        fail = job.attempts >= MAX_ATTEMPTS
        error = (
            f"interrupted {job.attempts} times (server stopped while it ran)"
            if fail
            else "interrupted by a server restart; the export restarts"
        )
        if expired_only:
            if not store.take_back(catalog, job.id, now, error=error, fail=fail, unleased=unleased):
                continue  # renewed meanwhile, or another replica took it back first
        elif fail:
            store.fail_job(catalog, job.id, error)
        else:
            store.requeue_job(catalog, job.id, error)
        _remove_partials(exports_dir(settings) / job.id, job.claimed_by)
        failed += fail
        requeued += not fail
    return requeued, failed


def _remove_partials(job_dir: Path, claimant: str | None) -> None:
    # A job taken back from a runner: only that runner's work files (a new runner may already have begun).
    suffix = f".{claimant}.partial" if claimant else ".partial"
    if job_dir.is_dir():
        for child in job_dir.iterdir():
            if child.name.endswith(suffix):
                _remove(child)


def sweep_expired(settings: Settings, catalog: Catalog, now: datetime | None = None) -> int:
    """Delete files of jobs past their retention; returns how many jobs were expired."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    expired = 0
    for job in store.due_for_expiry(catalog, stamp):
        _remove(exports_dir(settings) / job.id)
        store.mark_expired(catalog, job.id)
        expired += 1
    return expired


@dataclass(frozen=True, slots=True)
class Download:
    """A finished export file ready to send."""

    path: Path
    file_name: str
    media_type: str


MEDIA_TYPES = {
    "csv": "text/csv",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "zip": "application/zip",
    "gz": "application/gzip",
}


def download_for(settings: Settings, catalog: Catalog, job_id: str) -> Download:
    """The file of a Complete job; ExportExpired after retention, ExportNotFound when there is no file."""
    job = store.get_job(catalog, job_id)
    if job is None:
        raise ExportNotFound(job_id)
    if job.expired_at is not None:
        raise ExportExpired(job_id)
    path = job_file(settings, job)
    if path is None:
        raise ExportNotFound(job_id)
    suffix = path.name.rsplit(".", 1)[-1]
    return Download(
        path=path, file_name=path.name, media_type=MEDIA_TYPES.get(suffix, "application/octet-stream")
    )
