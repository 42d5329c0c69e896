"""File import: preview a file's mapping, and stream a whole file into one batch that commits atomically.

The mapping applied is, in order: the one sent with the request; else the provider's saved mapping, when
it fits the file; else the confident part of the auto-matching. Suggested matches (vendor headers such as
"Cost") are never applied until the user sends or saves a mapping that contains them.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow.parquet as pq

from focusbase.config import Settings
from focusbase.focus import Dataset, all_column_names, is_custom_column
from focusbase.ingest import batches, single_pass
from focusbase.ingest.cloud import CloudExport, apply_options, detect_export
from focusbase.ingest.file_errors import engine_failure
from focusbase.ingest.limits import (
    FileLimits,
    measure_text,
    too_large,
    too_many_custom_columns,
    too_many_rows,
)
from focusbase.ingest.mapping import (
    ImportOptions,
    Mapping,
    MappingError,
    ResolvedMapping,
    parse_mapping,
    resolve,
)
from focusbase.ingest.matching import MatchResult, match_headers
from focusbase.ingest.model import Batch, BatchSummary, IngestError, PartResult
from focusbase.ingest.parts import merge_defaults
from focusbase.ingest.reader import open_reader
from focusbase.ingest.sniff import FileShape, ImportFileError, sniff_file
from focusbase.runtime import Runtime
from focusbase.storage import mappings as mapping_store
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import Provider

Origin = Literal["request", "saved", "auto"]
PART_BY_PART = "part-by-part"  # progress.method of a file streamed in parts (single_pass.METHOD otherwise)
MATCH_SAMPLE_ROWS = 200


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """Everything decided before the first row is stored: file shape, proposals and the mapping to apply."""

    shape: FileShape
    dataset: Dataset
    match: MatchResult
    export: CloudExport | None
    mapping: Mapping
    origin: Origin
    resolved: ResolvedMapping | None
    problems: list[dict[str, str]]
    notes: list[str] = field(default_factory=list)
    saved_at: str | None = None

    def mapping_record(self) -> dict[str, Any]:
        """What the batch records as "the mapping used"."""
        return {
            "origin": self.origin,
            "detectedExport": self.export.key if self.export else None,
            "mapping": self.mapping.to_json(),
        }


def file_error(exc: ImportFileError) -> IngestError:
    """A refused file as the error the API returns (422 unreadable, 413 over a limit, ...)."""
    return IngestError(exc.status, exc.code, exc.message, details=exc.details)


def file_limits(settings: Settings, dataset: Dataset) -> FileLimits:
    """The bounds of one import file, from the settings."""
    custom = settings.max_custom_columns_per_row
    return FileLimits(
        max_decompressed_bytes=settings.import_max_decompressed_bytes,
        max_rows=settings.import_max_rows,
        max_custom_columns=custom,
        max_columns=custom + len(all_column_names(dataset)),
        measure_bytes=settings.import_background_bytes,
    )


def _check_custom_columns(resolved: ResolvedMapping, settings: Settings) -> None:
    """Every row of a file carries the same custom columns: the mapping's count is per row and batch."""
    count = sum(1 for output in resolved.outputs if is_custom_column(output.name))
    for limit, setting in (
        (settings.max_custom_columns_per_row, "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_ROW"),
        (settings.max_custom_columns_per_batch, "FOCUSBASE_MAX_CUSTOM_COLUMNS_PER_BATCH"),
    ):
        if count > limit:
            raise file_error(too_many_custom_columns(count, limit, setting))


def mapping_error(exc: MappingError, plan: ImportPlan | None = None) -> IngestError:
    """A mapping that does not fit as a 422 listing every problem (and the proposals, to fix it)."""
    extra: dict[str, Any] = {"problems": exc.problems}
    if plan is not None:
        extra["proposals"] = [p.to_json() for p in plan.match.proposals]
        extra["suggestedMapping"] = plan.match.suggested.to_json()
    return IngestError(422, "mapping_invalid", str(exc), extra=extra)


def parse_mapping_document(document: Any) -> Mapping:
    """A mapping from its JSON form; IngestError 400 naming the problem."""
    try:
        return parse_mapping(document)
    except MappingError as exc:
        raise IngestError(400, "invalid_mapping", str(exc), extra={"problems": exc.problems}) from None


def parse_options(document: Any) -> ImportOptions:
    """Reading options from their JSON form; IngestError 400 naming the problem."""
    try:
        return parse_mapping({"options": document or {}}).options
    except MappingError as exc:
        first = exc.problems[0] if exc.problems else {"location": "options", "message": str(exc)}
        message = f"invalid option {first['location'].removeprefix('options.')}: {first['message']}"
        raise IngestError(400, "invalid_options", message, extra={"problems": exc.problems}) from None


def get_saved_mapping(runtime: Runtime, provider: Provider) -> dict[str, Any] | None:
    """The provider's saved mapping `{mapping, updatedAt}`, or None."""
    found = mapping_store.get_mapping(runtime.catalog, provider.id)
    if found is None:
        return None
    document, updated_at = found
    return {"mapping": document, "updatedAt": updated_at}


def save_mapping(runtime: Runtime, provider: Provider, document: Any) -> dict[str, Any]:
    """Check and save the provider's mapping; later imports use it when it fits the file."""
    mapping = parse_mapping_document(document)
    updated_at = mapping_store.put_mapping(runtime.catalog, provider.id, mapping.to_json())
    return {"mapping": mapping.to_json(), "updatedAt": updated_at}


def delete_saved_mapping(runtime: Runtime, provider: Provider) -> bool:
    """Forget the provider's saved mapping."""
    return mapping_store.delete_mapping(runtime.catalog, provider.id)


def _merge_options(base: ImportOptions, override: ImportOptions | None) -> ImportOptions:
    if override is None:
        return base
    changes = override.model_dump(exclude_unset=True)
    return base.model_copy(update=changes) if changes else base


def plan_import(
    runtime: Runtime,
    provider: Provider,
    path: Path,
    *,
    file_name: str | None,
    dataset: Dataset,
    mapping: Mapping | None = None,
    options: ImportOptions | None = None,
    work_dir: Path | None = None,
) -> ImportPlan:
    """Sniff the file, match its header, and choose the mapping to apply (request, saved, or auto)."""
    saved = mapping_store.get_mapping(runtime.catalog, provider.id) if mapping is None else None
    saved_mapping: Mapping | None = None
    if saved is not None:
        try:
            saved_mapping = parse_mapping(saved[0])
        except MappingError:
            saved_mapping = None
    first = mapping or saved_mapping
    read_options = _merge_options(first.options if first else ImportOptions(), options)
    try:
        shape = sniff_file(
            path,
            file_name=file_name,
            encoding=read_options.encoding,
            delimiter=read_options.delimiter,
            work_dir=work_dir,
            limits=file_limits(runtime.settings, dataset),
        )
    except ImportFileError as exc:
        raise file_error(exc) from None
    try:
        with open_reader(shape, read_options) as reader:
            sample = reader.raw_sample(MATCH_SAMPLE_ROWS)
    except ImportFileError as exc:
        discard_copies(shape)
        raise file_error(exc) from None
    match = match_headers(shape.header, dataset, sample=sample, date_formats=shape.date_formats)
    export = detect_export(shape.header, sample) if dataset is Dataset.COST_AND_USAGE else None
    notes: list[str] = []
    chosen: Mapping
    origin: Origin
    if mapping is not None:
        chosen, origin = mapping, "request"
    elif saved_mapping is not None and _fits(saved_mapping, shape.header, dataset):
        chosen, origin = saved_mapping, "saved"
    else:
        if saved_mapping is not None:
            notes.append("the saved mapping does not fit this file's columns; the automatic mapping is used")
        auto_options = apply_options(match.auto.options, export)
        chosen, origin = match.auto.model_copy(update={"options": auto_options}), "auto"
    final_options = _merge_options(chosen.options, options)
    chosen = chosen.model_copy(update={"options": final_options})
    if export is not None:
        notes.append(f"recognised {export.label}")
        notes.extend(export.notes)
    resolved: ResolvedMapping | None = None
    problems: list[dict[str, str]] = []
    try:
        resolved = resolve(chosen, shape.header, dataset)
    except MappingError as exc:
        problems = exc.problems
    if resolved is not None:
        try:
            _check_custom_columns(resolved, runtime.settings)
        except IngestError:
            discard_copies(shape)
            raise
    return ImportPlan(
        shape=shape,
        dataset=dataset,
        match=match,
        export=export,
        mapping=chosen,
        origin=origin,
        resolved=resolved,
        problems=problems,
        notes=notes,
        saved_at=saved[1] if saved is not None and origin == "saved" else None,
    )


def discard_copies(shape: FileShape) -> None:
    """Delete the transcoded copy of a file, if one was made."""
    if shape.transcoded_from is not None:
        shape.path.unlink(missing_ok=True)


def _fits(mapping: Mapping, header: list[str], dataset: Dataset) -> bool:
    try:
        resolve(mapping, header, dataset)
    except MappingError:
        return False
    return True


def _require_resolved(plan: ImportPlan) -> ResolvedMapping:
    if plan.resolved is None:
        first = plan.problems[0] if plan.problems else {"location": "mapping", "message": "does not fit"}
        raise mapping_error(
            MappingError(
                f"the mapping does not fit the file: {first['location']}: {first['message']}", plan.problems
            ),
            plan,
        )
    return plan.resolved


def estimate_rows(shape: FileShape) -> int | None:
    """Rows in the file: exact for Parquet, estimated from the first megabyte for text files."""
    if shape.format == "parquet":
        return int(pq.ParquetFile(shape.path).metadata.num_rows)
    total = shape.path.stat().st_size
    opener: Callable[..., Any] = open
    if shape.compression == "gzip":
        opener = gzip.open
        with shape.path.open("rb") as fh:
            fh.seek(-4, 2)
            total = int.from_bytes(fh.read(4), "little")  # the gzip trailer: size mod 2**32
    with opener(shape.path, "rb") as fh:
        head: bytes = fh.read(1 << 20)
    lines = head.count(b"\n")
    if lines <= 1:
        return None
    return max(1, int(total / (len(head) / lines)) - 1)


@dataclass(slots=True)
class StartedImport:
    """A planned import with its open batch, ready to run (now or in the background)."""

    plan: ImportPlan
    batch: Batch
    provider: Provider
    allow_partial: bool
    save: bool
    estimated_rows: int | None
    cancel: threading.Event = field(default_factory=threading.Event)


def runs_in_background(settings: Settings, started: StartedImport, upload_size: int) -> bool:
    """Whether an import answers 202 and runs as a job: by its uploaded or its decompressed size."""
    threshold = settings.import_background_bytes
    size = started.plan.shape.text_bytes
    return upload_size > threshold or size is None or size > threshold


def start_import(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    path: Path,
    *,
    file_name: str | None,
    file_size: int,
    dataset: Dataset = Dataset.COST_AND_USAGE,
    mapping: Mapping | None = None,
    options: ImportOptions | None = None,
    mode: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    allow_partial: bool = False,
    save_mapping_used: bool = True,
    work_dir: Path | None = None,
) -> StartedImport:
    """Plan the import and open its batch; refuses (422) a file that cannot be read or mapped."""
    batches.check_mode(dataset, mode, window_start, window_end)
    plan = plan_import(
        runtime,
        provider,
        path,
        file_name=file_name,
        dataset=dataset,
        mapping=mapping,
        options=options,
        work_dir=work_dir,
    )
    try:
        return _open_batch(
            runtime,
            principal,
            provider,
            plan,
            file_name=file_name,
            file_size=file_size,
            mode=mode,
            window_start=window_start,
            window_end=window_end,
            allow_partial=allow_partial,
            save=save_mapping_used and plan.origin == "request",
        )
    except BaseException:
        discard_copies(plan.shape)
        raise


def _open_batch(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    plan: ImportPlan,
    *,
    file_name: str | None,
    file_size: int,
    mode: str | None,
    window_start: datetime | None,
    window_end: datetime | None,
    allow_partial: bool,
    save: bool,
) -> StartedImport:
    resolved = _require_resolved(plan)
    dataset = plan.dataset
    try:
        with open_reader(plan.shape, plan.mapping.options) as reader:
            if reader.sample(resolved, 1).num_rows == 0:
                raise IngestError(
                    422,
                    "no_rows",
                    "the file has a header but no data rows; nothing was imported",
                    details={"columns": plan.shape.header},
                )
    except ImportFileError as exc:
        raise file_error(exc) from None
    source = "csv" if plan.shape.format == "csv" else plan.shape.format
    batch = batches.create_batch(
        runtime,
        principal,
        provider,
        source=source,
        mode=mode,
        window_start=window_start,
        window_end=window_end,
        dataset=dataset,
        file_name=file_name,
        file_size=file_size,
        mapping=plan.mapping_record(),
    )
    estimated = None
    try:
        estimated = estimate_rows(plan.shape)
    except (OSError, ValueError):
        estimated = None
    batches.set_progress(
        runtime, batch, {"rowsRead": 0, "percent": 0, "estimatedRows": estimated, "phase": "queued"}
    )
    return StartedImport(
        plan=plan,
        batch=batch,
        provider=provider,
        allow_partial=allow_partial,
        save=save,
        estimated_rows=estimated,
    )


def run_import(
    runtime: Runtime, started: StartedImport, *, on_progress: Callable[[dict[str, Any]], None] | None = None
) -> BatchSummary:
    """Stream the file into the batch part by part, then commit; on any failure the batch fails whole."""
    try:
        return _run(runtime, started, on_progress)
    finally:
        discard_copies(started.plan.shape)


def _run(
    runtime: Runtime, started: StartedImport, on_progress: Callable[[dict[str, Any]], None] | None
) -> BatchSummary:
    plan, batch = started.plan, started.batch

    def report(progress: dict[str, Any]) -> None:
        batches.set_progress(runtime, batch, progress)
        if on_progress is not None:
            on_progress(progress)

    resolved = _require_resolved(plan)
    settings = runtime.settings
    try:
        if plan.shape.text_bytes is None:
            # Only known to be large: decompress it once, up to the limit, before any row is read.
            limit = settings.import_max_decompressed_bytes
            if not measure_text(plan.shape.path, plan.shape.compression, limit).complete:
                raise too_large(limit)
        staged: PartResult | single_pass.GaveUp | None = None
        if single_pass.eligible(runtime, started):
            staged = single_pass.stage(runtime, started, on_progress or (lambda _progress: None))
        if isinstance(staged, PartResult):
            rows_read, method = staged.rows_received, single_pass.METHOD
        else:
            if isinstance(staged, single_pass.GaveUp) and staged.rejected:
                # Some row breaks an error rule: find the first bad part and report it, storing nothing.
                _stage_parts(runtime, started, resolved, on_progress, check_only=True)
            rows_read, method = _stage_parts(runtime, started, resolved, on_progress), PART_BY_PART
        # Every row is read and staged: only the atomic commit is left.
        report(_progress(rows_read, rows_read, "committing", method))
        summary = batches.commit_batch(runtime, batch)
    except ImportFileError as exc:
        batches.fail_batch(runtime, batch, exc.message)
        raise file_error(exc) from None
    except IngestError as exc:
        batches.fail_batch(runtime, batch, exc.message)
        raise
    except duckdb.Error as exc:
        refusal = engine_failure(exc, "importing the file")
        batches.fail_batch(runtime, batch, refusal.message)
        raise file_error(refusal) from None
    except BaseException as exc:
        # The caller logs the traceback (with the request id); History gets no internals.
        batches.fail_batch(runtime, batch, f"internal error: {type(exc).__name__}")
        raise
    report(_progress(rows_read, rows_read, "done", method))
    if started.save:
        mapping_store.put_mapping(runtime.catalog, started.provider.id, plan.mapping.to_json())
    return summary


def _stage_parts(
    runtime: Runtime,
    started: StartedImport,
    resolved: ResolvedMapping,
    on_progress: Callable[[dict[str, Any]], None] | None,
    *,
    check_only: bool = False,
) -> int:
    """Stream the file part by part into the batch (checked here, stored by the stager); rows read.

    `check_only` checks the parts without staging any: the first bad part fails the batch as it would
    have; a file with none returns (and must then be imported for real).
    """
    plan, batch = started.plan, started.batch
    max_rows = runtime.settings.import_max_rows
    rows_read = 0
    defaults: dict[str, Any] = {}
    with open_reader(
        plan.shape, plan.mapping.options, memory_limit=runtime.settings.import_memory_limit
    ) as reader:
        for table in reader.batches(resolved, runtime.settings.import_part_rows):
            if started.cancel.is_set():
                raise IngestError(503, "import_interrupted", "the import was interrupted by a shutdown")
            if rows_read + table.num_rows > max_rows:
                raise too_many_rows(max_rows)
            if check_only:
                result = batches.check_part(
                    runtime,
                    batch,
                    table,
                    first_row=rows_read + 1,
                    defaults_before=defaults,
                    provider=started.provider,
                )
                defaults = merge_defaults(defaults, result.defaults_applied)
                rows_read += table.num_rows
                progress = _progress(rows_read, started.estimated_rows, "checking", PART_BY_PART)
                batches.set_progress(runtime, batch, progress)
                if on_progress is not None:
                    on_progress(progress)
                continue
            rows_read += table.num_rows
            progress = _progress(rows_read, started.estimated_rows, "reading", PART_BY_PART)
            # The batch records the progress with the part's counts, once the part is staged.
            batches.add_part(
                runtime,
                batch,
                table,
                allow_partial=started.allow_partial,
                provider=started.provider,
                progress=progress,
            )
            if on_progress is not None:
                on_progress(progress)
    return rows_read


def _progress(rows_read: int, estimated: int | None, phase: str, method: str) -> dict[str, Any]:
    percent = 100.0 if phase in ("done", "committing") else 0.0
    if phase in ("reading", "checking") and estimated:
        percent = min(99.0, round(rows_read * 100.0 / estimated, 1))
    return {
        "rowsRead": rows_read,
        "estimatedRows": estimated,
        "percent": percent,
        "phase": phase,
        "method": method,
    }


def import_file(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    path: Path,
    **kwargs: Any,
) -> BatchSummary:
    """Plan, open the batch, stream and commit in one call (the CLI and small uploads)."""
    started = start_import(runtime, principal, provider, path, **kwargs)
    return run_import(runtime, started)
