"""Demo files on disk: every format, the CSV conventions, byte-identical reruns, and the CLI."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from focusbase.cli import app
from focusbase.cli import commands as _commands  # noqa: F401 - registers the commands
from focusbase.demo import format_for, generate, write_demo_data
from focusbase.focus import Dataset, columns

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DECIMAL_TEXT = re.compile(r"^-?\d+\.\d+$")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_format_follows_the_extension() -> None:
    assert [format_for(Path(n)) for n in ("a.csv", "a.CSV.GZ", "a.parquet", "a.json", "a.ndjson")] == [
        "csv", "csv.gz", "parquet", "json", "ndjson"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="cannot tell the format"):
        format_for(Path("a.txt"))


def test_csv_conventions(tmp_path: Path) -> None:
    out = write_demo_data(tmp_path / "demo.csv", 3000, days=10)
    assert out.rows == 3000 and out.format == "csv"
    with out.path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == list(columns("1.2"))
        rows = list(reader)
    assert len(rows) == 3000
    cols = columns("1.2")
    for row in rows:
        for name, value in row.items():
            if value == "":
                continue
            kind = cols[name].data_type
            if kind == "Decimal":
                assert DECIMAL_TEXT.match(value), (name, value)  # always a decimal point, never 1E-5
            elif kind == "Date/Time":
                assert TIMESTAMP.match(value), (name, value)
    ids = ("BillingAccountId", "SubAccountId", "InvoiceId", "ResourceId", "SkuId", "SkuPriceId")
    assert any(row["BillingAccountId"].isdigit() for row in rows)  # ids stay text, leading zeros and all
    assert all(row[name] == row[name].strip() for row in rows for name in ids)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = write_demo_data(tmp_path / "a.csv", 5000, days=15, seed=9).path
    b = write_demo_data(tmp_path / "b.csv", 5000, days=15, seed=9).path
    c = write_demo_data(tmp_path / "c.csv", 5000, days=15, seed=10).path
    assert _sha(a) == _sha(b) != _sha(c)


def test_every_format_holds_the_same_rows(tmp_path: Path) -> None:
    expected = generate(2000, days=10, seed=5)
    billed = sum(expected.column("BilledCost").to_pylist(), Decimal(0))
    for name in ("d.csv", "d.csv.gz", "d.parquet", "d.ndjson", "d.json"):
        out = write_demo_data(tmp_path / name, 2000, days=10, seed=5)
        assert out.rows == 2000
        if name.endswith(".json"):
            doc = json.loads(out.path.read_text(), parse_float=Decimal)
            assert doc["format"] == "stackspend.focus" and doc["version"] == "1"
            records = doc["rows"]
        elif name.endswith(".ndjson"):
            records = [json.loads(line, parse_float=Decimal) for line in out.path.read_text().splitlines()]
        elif name.endswith(".csv.gz"):
            with gzip.open(out.path, "rt", newline="", encoding="utf-8") as fh:
                records = [{k: (Decimal(v) if k == "BilledCost" else v) for k, v in r.items()}
                           for r in csv.DictReader(fh)]  # fmt: skip
        elif name.endswith(".csv"):
            with out.path.open(newline="", encoding="utf-8") as fh:
                records = [
                    {"BilledCost": Decimal(r["BilledCost"]), "Tags": r["Tags"]} for r in csv.DictReader(fh)
                ]
        else:
            records = (
                duckdb.sql(f"SELECT BilledCost, Tags FROM read_parquet('{out.path}')")
                .to_arrow_table()
                .to_pylist()
            )
        assert len(records) == 2000, name
        assert sum((Decimal(r["BilledCost"]) for r in records), Decimal(0)) == billed, name
        if name.endswith("json"):
            assert any(isinstance(r["Tags"], dict) for r in records)  # JSON columns nest as objects


def test_parquet_types(tmp_path: Path) -> None:
    out = write_demo_data(tmp_path / "d.parquet", 500, days=5)
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{out.path}')").fetchall()
    schema = {row[0]: row[1] for row in described}
    assert schema["BilledCost"].startswith("DECIMAL")
    assert schema["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE"
    assert schema["BillingAccountId"] == "VARCHAR"


def test_contract_commitment_file(tmp_path: Path) -> None:
    out = write_demo_data(tmp_path / "cc.csv", 4000, days=21, focus_version="1.3",
                          dataset=Dataset.CONTRACT_COMMITMENT)  # fmt: skip
    with out.path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert out.rows == len(rows) == 4
    assert list(rows[0]) == list(columns("1.3", Dataset.CONTRACT_COMMITMENT))


def test_failed_run_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_demo_data(tmp_path / "x.csv", 10, focus_version="1.0")
    assert list(tmp_path.iterdir()) == []


def test_cli_demo_data(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "cli.parquet"
    done = runner.invoke(app, ["demo-data", "--rows", "1500", "--out", str(target), "--focus-version", "1.3",
                               "--seed", "4", "--days", "7", "--start", "2025-06-01"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "wrote 1,500 CostAndUsage rows (FOCUS 1.3, parquet)" in done.output
    first = duckdb.sql(f"SELECT epoch(min(ChargePeriodStart)) FROM read_parquet('{target}')").fetchall()
    assert first[0][0] == datetime(2025, 6, 1, tzinfo=UTC).timestamp()
    forced = runner.invoke(
        app, ["demo-data", "--rows", "10", "--out", str(tmp_path / "x.dat"), "--format", "csv"]
    )
    assert forced.exit_code == 0 and (tmp_path / "x.dat").read_text().startswith("AvailabilityZone,")
    cc = runner.invoke(app, ["demo-data", "--rows", "4000", "--out", str(tmp_path / "cc.ndjson"),
                             "--focus-version", "1.3", "--dataset", "contract-commitment"])  # fmt: skip
    assert cc.exit_code == 0 and "ContractCommitment rows" in cc.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/a.txt"], "cannot tell the format"),
        (["--out", "{tmp}/a.csv", "--focus-version", "1.1"], "1.2 or 1.3"),
        (["--out", "{tmp}/a.csv", "--dataset", "contract-commitment"], "from FOCUS 1.3"),
        (["--out", "{tmp}/a.csv", "--dataset", "invoices"], "unknown FOCUS dataset"),
        (["--out", "{tmp}/a.csv", "--format", "xlsx"], "use one of"),
        (["--out", "{tmp}/a.csv", "--start", "01/02/2025"], "is not a date"),
    ],
)
def test_cli_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = CliRunner().invoke(app, ["demo-data", "--rows", "10", *[a.format(tmp=tmp_path) for a in args]])
    assert done.exit_code == 2
    assert message in done.output
