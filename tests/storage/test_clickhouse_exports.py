"""Export files written from the ClickHouse warehouse are the files the embedded warehouse writes.

A data directory is built through the API (two currencies, tags, custom x_ columns, the seed's names, a
FOCUS sample import, a replaced and a reverted batch, Contract Commitments with x_ columns, one outside the
2026 windows). Each export (format, gzip, FOCUS version, filters, scope, a custom-column limit that adds the
all-custom column, with and without Contract Commitments) is written by `service.write_export` from the
embedded warehouse and from ClickHouse after `focusbase migrate-storage`, and compared:

* CSV and JSON lines (plain or gzip, decompressed): byte for byte, the header and every row line equal; rows
  compared as a sorted list, because the two warehouses keep rows in different orders (ClickHouse writes
  row_id order, DuckDB its storage order).
* Parquet: the columns equal in name, order and Arrow type (decimal128(38, 12), timestamp[us, UTC], strings)
  and the rows equal (sorted the same way). Whether a column is marked required is not compared: DuckDB
  marks one required when its stored column holds no NULL at all (a statistic of the whole table, superseded
  versions included), which the rows an export selects cannot tell; ClickHouse's files mark every column
  optional.
"""

from __future__ import annotations

import gzip
import io
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.export import service
from focusbase.export.spec import ExportSpec
from focusbase.query.filters import Scope
from focusbase.storage import Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.export_rows import DuckDBExportRows, ExportRows, ExportSource
from focusbase.storage.exports import CopyColumn, CopyHandle
from tests.ingest.conftest import commitment, envelope, row
from tests.storage.sources import api_source

pytest.importorskip("psycopg")
pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage import clickhouse_exports
from focusbase.storage.clickhouse import ClickHouseWarehouse
from focusbase.storage.clickhouse_client import open_client
from focusbase.storage.postgres import PostgresCatalog

WIDE = (datetime(1900, 1, 1), datetime(9999, 12, 31))
JUNE = (datetime(2026, 6, 1), datetime(2026, 7, 1))
SUMMER = (datetime(2026, 6, 1), datetime(2026, 9, 1))
# (who, window, FOCUS version, filters, max custom columns): each is written in every format.
CASES_: list[tuple[str, tuple[datetime, datetime], str, dict[str, str], int]] = [
    ("admin", WIDE, "1.3", {}, 100),
    ("admin", WIDE, "1.0", {}, 100),
    ("admin", JUNE, "1.2", {"billing_currency": "EUR"}, 100),
    ("admin", SUMMER, "1.1", {"service_name": "Compute"}, 1),  # x_ columns beyond one: x_CustomColumns
    ("acme", SUMMER, "1.3", {}, 100),
    ("admin", JUNE, "1.3", {"service_name": "no such service"}, 100),  # no rows: the header alone
]
FORMATS = [("csv", None), ("csv", "gzip"), ("json", None), ("json", "gzip"), ("parquet", None)]


class Built:
    """The data directory and the acme provider's id."""

    def __init__(self, data_dir: Path, acme: str) -> None:
        self.data_dir = data_dir
        self.acme = acme


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    data_dir = tmp_path_factory.mktemp("exports") / "data"
    with api_source(data_dir) as source:
        client, headers = source.client, source.headers
        acme = source.provider("Acme Cloud", "USD")
        euro = source.provider("Euro Cloud", "EUR")
        aws = source.provider("AWS", "USD")
        push = source.push

        push(
            acme,
            [
                row(
                    "2026-06-01",
                    "10.5",
                    ListCost=Decimal("11"),
                    ContractedCost=Decimal("12345678901234.123456789012"),
                    Tags={"team": "a/b", "env": "prod", "n": 1},
                    RegionId="eu-west-1",
                    x_SplitCostAllocationPercentage=Decimal("12.5"),
                    x_Owner='ops, "core"\nteam',
                ),
                row("2026-06-02", "20", ContractedCost=Decimal("12345678901234.123456789012"), x_Note='é"q'),
                row("2026-07-03", "-0.000000000001", ServiceName="Storage", RegionId="eu-west-1"),
                row("2026-08-04", "0", ResourceName="a\tb  ", x_Owner="", Tags={}),
            ],
        )
        push(acme, [row("2026-06-02", "3", x_SplitCostAllocationMethod="even")])  # replaces 2026-06-02
        reverted = push(acme, [row("2026-07-03", "99")])
        response = client.post(f"/api/v1/batches/{reverted}/revert", headers=headers)
        assert response.status_code == 200, response.text
        push(euro, [row(f"2026-06-{d:02d}", f"{d}.25", BillingCurrency="EUR") for d in (1, 2, 3)])
        source.import_sample(aws)
        commitments = client.post(
            f"/api/v1/public/ingest/focus/{acme.id}",
            content=envelope(
                [
                    commitment("c1", "1000", x_BillingAccountId="acct-1"),
                    commitment("c2", "0.000000000001", x_BillingAccountId="acct-2", x_Tier="gold"),
                    commitment("c3", "2.5", BillingCurrency="EUR"),
                    commitment(
                        "c4",
                        "7",
                        ContractCommitmentPeriodStart="2025-01-01",
                        ContractCommitmentPeriodEnd="2025-06-01",
                    ),
                ],
                dataset="ContractCommitment",
            ),
            params={"mode": "replace_all"},
            headers={"Content-Type": "application/json", **acme.headers},
        )
        assert commitments.status_code == 200, commitments.text
    return Built(data_dir, acme.id)


@pytest.fixture(scope="module")
def embedded(built: Built) -> Iterator[DuckDBExportRows]:
    warehouse = Warehouse.in_dir(built.data_dir)
    yield DuckDBExportRows(warehouse)
    warehouse.close()


@pytest.fixture
def clickhouse(built: Built, tmp_path: Path, postgres_url: str, chdb_path: Path) -> ClickHouseWarehouse:
    _register()
    source = tmp_path / "data"
    shutil.copytree(built.data_dir, source)
    warehouse_url = f"chdb://{chdb_path}?database=e_{uuid.uuid4().hex[:12]}"
    args = ["migrate-storage", "--data-dir", str(source), "--catalog-url", postgres_url]
    result = CliRunner().invoke(app, [*args, "--warehouse-url", warehouse_url])
    assert result.exit_code == 0, result.output
    return ClickHouseWarehouse(open_client(warehouse_url), PostgresCatalog(postgres_url, pool_size=1))


def _members(path: Path, spec: ExportSpec) -> dict[str, bytes]:
    """The data files of an export (the zip's members, or the file), decompressed."""
    if spec.include_contract_commitments:
        with zipfile.ZipFile(path) as zf:
            files = {name: zf.read(name) for name in zf.namelist()}
    else:
        files = {"cost": path.read_bytes()}
    if spec.compression == "gzip":
        files = {name: gzip.decompress(data) for name, data in files.items()}
    return files


def _text_rows(data: bytes, fmt: str) -> tuple[bytes, list[bytes]]:
    """(header, sorted row records) of CSV (quoted newlines kept inside their record) or JSON lines."""
    if fmt == "json":
        lines = data.splitlines(keepends=True)
        return b"", sorted(lines)
    records: list[bytes] = []
    current = b""
    for line in data.splitlines(keepends=True):
        current += line
        if current.count(b'"') % 2 == 0:
            records.append(current)
            current = b""
    assert current == b""
    return records[0], sorted(records[1:])


def _parquet(data: bytes) -> tuple[list[tuple[str, pa.DataType]], list[tuple[Any, ...]]]:
    """(column names and types, sorted rows); required-or-optional is not compared (module docstring)."""
    table = pq.read_table(io.BytesIO(data))
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return [(f.name, f.type) for f in table.schema], sorted(rows, key=repr)


def _export(
    rows: ExportRows, scope: Scope, spec: ExportSpec, target: Path, max_custom: int
) -> dict[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    return service.write_export(rows, scope, spec, target, max_custom=max_custom)


def test_every_export_is_the_embedded_warehouses_file(
    built: Built, embedded: DuckDBExportRows, clickhouse: ClickHouseWarehouse, tmp_path: Path
) -> None:
    scopes = {
        "admin": Scope(DEFAULT_WORKSPACE_ID),
        "acme": Scope(DEFAULT_WORKSPACE_ID, frozenset({built.acme})),
    }
    specs = [
        (
            who,
            max_custom,
            ExportSpec(*window, format=fmt, focus_version=version, compression=gz, filters=filters),
        )
        for who, window, version, filters, max_custom in CASES_
        for fmt, gz in FORMATS
    ]
    specs += [
        (who, 100, ExportSpec(*window, format=fmt, compression=gz, include_contract_commitments=True))
        for who, window in (("admin", WIDE), ("admin", SUMMER), ("acme", JUNE))
        for fmt, gz in FORMATS
    ]
    seen = {"rows": 0, "custom_all": 0, "commitments": 0}
    for n, (who, max_custom, spec) in enumerate(specs):
        want_counts = _export(embedded, scopes[who], spec, tmp_path / f"d{n}" / spec.file_name(), max_custom)
        got_counts = _export(clickhouse, scopes[who], spec, tmp_path / f"c{n}" / spec.file_name(), max_custom)
        assert got_counts == want_counts, spec
        want = _members(tmp_path / f"d{n}" / spec.file_name(), spec)
        got = _members(tmp_path / f"c{n}" / spec.file_name(), spec)
        assert got.keys() == want.keys()
        for name in want:
            if spec.format == "parquet":
                got_schema, got_rows = _parquet(got[name])
                want_schema, want_rows = _parquet(want[name])
                assert got_schema == want_schema, (spec, name)
                assert got_rows == want_rows, (spec, name)
                seen["custom_all"] += "x_CustomColumns" in dict(want_schema)
            else:
                assert _text_rows(got[name], spec.format) == _text_rows(want[name], spec.format), (spec, name)
        seen["rows"] += sum(want_counts.values())
        seen["commitments"] += want_counts.get("ContractCommitment", 0)
    # Not vacuous: rows of every kind written, the all-custom column and commitments among them.
    assert seen["rows"] > 400 and seen["custom_all"] == 1 and seen["commitments"] > 10


def test_the_types_and_text_are_the_embedded_warehouses(
    built: Built, clickhouse: ClickHouseWarehouse, tmp_path: Path
) -> None:
    """Spot checks of what the comparison above holds equal: exact decimals, UTC times, JSON as stored."""
    spec = ExportSpec(*JUNE, format="parquet", filters={"provider_name": "Acme Cloud"})
    target = tmp_path / spec.file_name()
    _export(clickhouse, Scope(DEFAULT_WORKSPACE_ID), spec, target, 100)
    table = pq.read_table(target)
    assert table.schema.field("BilledCost").type == pa.decimal128(38, 12)
    assert table.schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Tags").type == pa.string()
    assert Decimal("12345678901234.123456789012") in table.column("ContractedCost").to_pylist()
    spec = ExportSpec(*JUNE, format="csv", filters={"provider_name": "Acme Cloud"})
    target = tmp_path / spec.file_name()
    _export(clickhouse, Scope(DEFAULT_WORKSPACE_ID), spec, target, 100)
    text = target.read_text()
    assert ",12345678901234.123456789012,,10.500000000000," in text and ",2026-06-01T00:00:00Z," in text
    assert '"{""team"":""a/b""' in text  # Tags as stored, quoted as CSV


def test_progress_reaches_the_total(built: Built, clickhouse: ClickHouseWarehouse, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    spec = ExportSpec(*WIDE, format="csv", include_contract_commitments=True)
    counts = service.write_export(
        clickhouse,
        Scope(DEFAULT_WORKSPACE_ID),
        spec,
        tmp_path / spec.file_name(),
        on_progress=lambda rows, total: seen.append((rows, total)),
    )
    total = sum(counts.values())
    assert counts["CostAndUsage"] > 15 and counts["ContractCommitment"] == 4
    assert seen[0] == (0, counts["CostAndUsage"]) and seen[-1] == (total, total)
    assert all(rows <= t <= total for rows, t in seen)


def test_an_interrupted_copy_stops_and_leaves_no_file(
    built: Built, clickhouse: ClickHouseWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    columns = [CopyColumn("BilledCost", "BilledCost", "Decimal"), CopyColumn("x_Owner", "x_Owner", "Custom")]
    source = ExportSource.cost(ExportSpec(*WIDE).cost_filters(Scope(DEFAULT_WORKSPACE_ID)))
    # Blocks of two rows, progress after each: interrupted after the first block, the stream stops there.
    monkeypatch.setattr(
        clickhouse_exports, "_ARROW_SETTINGS", {**clickhouse_exports._ARROW_SETTINGS, "max_block_size": 2}
    )
    monkeypatch.setattr(clickhouse_exports, "PROGRESS_INTERVAL", 0.0)
    handle = CopyHandle()
    target = tmp_path / "stopped.csv"
    seen: list[int] = []

    def interrupt(rows: int, total: int) -> None:
        seen.append(rows)
        if rows > 0:
            handle.interrupt()

    with pytest.raises(duckdb.InterruptException):
        clickhouse.copy_rows(
            source, columns, fmt="csv", compression=None, target=target, on_progress=interrupt, handle=handle
        )
    assert not target.exists()
    assert seen[0] == 0 and 0 < seen[-1] < 10  # stopped within the first blocks of more than fifteen rows
    # A lost claim stops it too, before anything is written; the warehouse still answers afterwards.
    lost = CopyHandle()
    lost.lose()
    with pytest.raises(duckdb.InterruptException):
        clickhouse.copy_rows(source, columns, fmt="parquet", compression=None, target=target, handle=lost)
    assert not target.exists()
    assert clickhouse.copy_rows(source, columns, fmt="csv", compression=None, target=target) > 15
    # Through the service: no file under the export's name and no work files left.
    spec = ExportSpec(*WIDE, format="json", include_contract_commitments=True)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    stopped = CopyHandle()
    stopped.interrupt()
    with pytest.raises(duckdb.InterruptException):
        service.write_export(
            clickhouse, Scope(DEFAULT_WORKSPACE_ID), spec, job_dir / spec.file_name(), handle=stopped
        )
    assert list(job_dir.iterdir()) == []
