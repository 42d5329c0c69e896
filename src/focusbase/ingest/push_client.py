"""The client side of `focusbase push`: read a file in parts and send it as a multi-part batch over HTTP."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from focusbase.ingest.envelope import ENVELOPE_FORMAT, parse_json_payload
from focusbase.ingest.normalise import as_strings


class PushError(RuntimeError):
    """The server refused a step of the push; `body` is its error envelope."""

    def __init__(self, step: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{step} failed with HTTP {status}: {body.get('code')}: {body.get('message')}")
        self.step = step
        self.status = status
        self.body = body


def file_kind(path: Path) -> str:
    """csv, parquet or json, from the file name (a .gz suffix is allowed for csv and json)."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in ((".csv", "csv"), (".parquet", "parquet"), (".json", "json"), (".ndjson", "json")):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"{path.name}: cannot tell the format; name it .csv, .parquet, .json or .ndjson")


def count_rows(path: Path) -> int | None:
    """The row count when the file says so cheaply (Parquet metadata), else None."""
    if file_kind(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _csv_parts(path: Path, part_rows: int) -> Iterator[pa.Table]:
    header = pacsv.open_csv(path).schema.names
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    yield from _rebatch((pa.Table.from_batches([batch]) for batch in reader), part_rows)


def _rebatch(tables: Iterator[pa.Table], part_rows: int) -> Iterator[pa.Table]:
    pending: list[pa.Table] = []
    size = 0
    for table in tables:
        pending.append(table)
        size += table.num_rows
        while size >= part_rows:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, part_rows)
            rest = joined.slice(part_rows)
            pending, size = [rest], rest.num_rows
    if size:
        yield pa.concat_tables(pending)


def iter_parts(path: Path, part_rows: int) -> Iterator[pa.Table]:
    """The file's rows as tables of at most `part_rows` text columns, in file order."""
    kind = file_kind(path)
    if kind == "csv":
        yield from _csv_parts(path, part_rows)
    elif kind == "parquet":
        batches = pq.ParquetFile(path).iter_batches(batch_size=part_rows)
        yield from _rebatch((as_strings(pa.Table.from_batches([b])) for b in batches), part_rows)
    else:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
        table = parse_json_payload(data).table
        for offset in range(0, table.num_rows, part_rows):
            yield table.slice(offset, part_rows)


def encode_part(table: pa.Table, dataset: str | None = None) -> bytes:
    """The push envelope of a table of text columns (empty cells are left out of each row)."""
    rows = [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
    envelope: dict[str, Any] = {"format": ENVELOPE_FORMAT, "version": "1"}
    if dataset:
        envelope["dataset"] = dataset
    envelope["rows"] = rows
    return orjson.dumps(envelope)


@dataclass
class PushClient:
    """Open, fill and commit a multi-part batch on a focusbase server."""

    server: str
    key: str
    timeout: float = 300.0

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.server.rstrip("/"),
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=self.timeout,
        )

    def close(self) -> None:
        self._http.close()

    def _json(self, step: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {"code": "http_error", "message": response.text[:500]}
        if response.status_code >= 400:
            raise PushError(step, response.status_code, body)
        return body

    def open(
        self, provider_id: str, *, mode: str | None, start: str | None, end: str | None, dataset: str
    ) -> str:
        """Open a batch; returns its id."""
        body = {"mode": mode, "start": start, "end": end, "dataset": dataset}
        response = self._http.post(f"/api/v1/providers/{provider_id}/batches", json=body)
        return str(self._json("open", response)["batchId"])

    def part(
        self,
        batch_id: str,
        content: bytes,
        *,
        first_row: int | None = None,
        allow_partial: bool = False,
        compress: bool = False,
    ) -> dict[str, Any]:
        """Send one part (the push envelope); `first_row` keeps file row numbers when parts overlap."""
        headers = {"Content-Type": "application/json"}
        if compress:
            content = gzip.compress(content, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        params: dict[str, Any] = {"allowPartial": "true"} if allow_partial else {}
        if first_row is not None:
            params["firstRow"] = first_row
        response = self._http.post(
            f"/api/v1/batches/{batch_id}/parts", content=content, headers=headers, params=params
        )
        return self._json("part", response)

    def commit(self, batch_id: str) -> dict[str, Any]:
        """Commit the batch; returns the summary."""
        return self._json("commit", self._http.post(f"/api/v1/batches/{batch_id}/commit"))

    def abort(self, batch_id: str) -> None:
        """Abort the batch (best effort)."""
        with contextlib.suppress(httpx.HTTPError):
            self._http.delete(f"/api/v1/batches/{batch_id}")


def push_file(
    client: PushClient,
    path: Path,
    provider_id: str,
    *,
    mode: str | None = None,
    start: str | None = None,
    end: str | None = None,
    dataset: str = "CostAndUsage",
    part_rows: int = 50_000,
    allow_partial: bool = False,
    compress: bool = False,
    parallel: int = 2,
    on_part: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Stream a file as one multi-part batch and commit it; aborts the batch when a step fails.

    Up to `parallel` parts are in flight at once (the server validates them concurrently); each part says
    where it starts, so row numbers in errors are the file's own.
    """
    batch_id = client.open(provider_id, mode=mode, start=start, end=end, dataset=dataset)
    named = dataset if dataset != "CostAndUsage" else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            pending: set[Future[dict[str, Any]]] = set()
            first_row = 1
            for table in iter_parts(path, part_rows):
                if len(pending) >= max(1, parallel):
                    _finish(wait(pending, return_when=FIRST_COMPLETED).done, pending, on_part)
                body = encode_part(table, named)
                pending.add(
                    pool.submit(
                        client.part,
                        batch_id,
                        body,
                        first_row=first_row,
                        allow_partial=allow_partial,
                        compress=compress,
                    )
                )
                first_row += table.num_rows
            _finish(set(pending), pending, on_part)
        return client.commit(batch_id)
    except BaseException:
        client.abort(batch_id)
        raise


def _finish(
    done: set[Future[dict[str, Any]]],
    pending: set[Future[dict[str, Any]]],
    on_part: Callable[[dict[str, Any]], None] | None,
) -> None:
    for future in done:
        pending.discard(future)
        result = future.result()  # re-raises a refused part
        if on_part is not None:
            on_part(result)
