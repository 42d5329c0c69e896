"""Sniffing files (format, encoding, delimiter, header) and reading them through mapping transforms."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from focusbase.focus import Dataset
from focusbase.ingest.mapping import ImportOptions, parse_mapping, resolve
from focusbase.ingest.reader import open_reader
from focusbase.ingest.sniff import ImportFileError, sniff_file
from tests.conftest import CASES
from tests.imports.conftest import IMPORTS

CU = Dataset.COST_AND_USAGE


def _read(path: Path, mapping: dict[str, object], **sniff: str) -> list[dict[str, object]]:
    doc = parse_mapping(mapping)
    shape = sniff_file(path, **sniff)  # type: ignore[arg-type]
    with open_reader(shape, doc.options) as reader:
        return reader.sample(resolve(doc, shape.header, CU), 100).to_pylist()


def test_semicolon_file_with_quoted_newline_and_decimal_comma() -> None:
    shape = sniff_file(IMPORTS / "vendor_semicolon_decimal_comma.csv")
    assert (shape.format, shape.delimiter, shape.encoding) == ("csv", ";", "utf-8")
    assert shape.header == ["Date", "Service", "Cost", "Currency", "Environment", "Team", "Notes"]
    assert shape.date_formats == {"Date": "%d/%m/%Y"}
    rows = _read(
        IMPORTS / "vendor_semicolon_decimal_comma.csv",
        {
            "columns": {
                "ChargePeriodStart": {"source": "Date", "dateFormat": "%d/%m/%Y"},
                "ServiceName": {"source": "Service"},
                "BilledCost": {"source": "Cost", "number": "money"},
                "BillingCurrency": {"source": "Currency"},
                "ChargeCategory": {"value": "Usage"},
            },
            "tags": {"env": "Environment", "team": "Team"},
            "custom": {"x_Notes": "Notes"},
            "options": {"decimalComma": True},
        },
    )
    assert [r["BilledCost"] for r in rows] == ["1234.50", "-12.50", "0.10"]
    assert [r["ChargePeriodStart"] for r in rows] == [
        "2025-03-31T00:00:00Z",
        "2025-04-01T00:00:00Z",
        "2025-04-02T00:00:00Z",
    ]
    assert rows[0]["x_Notes"] == "first\nline"
    assert [r["Tags"] for r in rows] == ['{"env":"prod","team":"core"}', '{"team":"web"}', '{"env":"dev"}']
    assert {r["ChargeCategory"] for r in rows} == {"Usage"}


def test_money_cleaning_keeps_exact_digits() -> None:
    rows = _read(
        IMPORTS / "vantage_custom_provider.csv",
        {"columns": {"BilledCost": {"source": "BilledCost", "number": "money"}}, "ignore": _vantage_rest()},
    )
    assert [r["BilledCost"] for r in rows] == ["1234.50", "0.10", "-5.00"]


def _vantage_rest() -> list[str]:
    header = (IMPORTS / "vantage_custom_provider.csv").read_text().splitlines()[0].split(",")
    return [h for h in header if h != "BilledCost"]


@pytest.mark.parametrize(
    ("name", "encoding", "expected"),
    [
        ("vendor_latin1.csv", "latin-1", "Café Cloud"),
        ("vendor_cp1252.csv", "cp1252", "\u201cQuoted\u201d Cloud"),
        ("vendor_utf16.csv", None, "Datadog"),
        ("vendor_tab.tsv", None, "Datadog"),
    ],
)
def test_encodings_and_delimiters(name: str, encoding: str | None, expected: str, tmp_path: Path) -> None:
    kwargs = {"encoding": encoding} if encoding else {}
    shape = sniff_file(IMPORTS / name, work_dir=tmp_path, **kwargs)  # type: ignore[arg-type]
    assert shape.header == ["Date", "Service", "Cost", "Currency"]
    mapping = parse_mapping(
        {
            "columns": {
                "ServiceName": {"source": "Service"},
                "BilledCost": {"source": "Cost", "number": "money"},
            },
            "ignore": ["Date", "Currency"],
        }
    )
    with open_reader(shape, mapping.options) as reader:
        rows = reader.sample(resolve(mapping, shape.header, CU), 10).to_pylist()
    assert rows[0]["ServiceName"] == expected
    assert rows[0]["BilledCost"] in ("12.00", "7.00", "3.00")
    if name == "vendor_tab.tsv":
        assert shape.delimiter == "\t" and shape.bom
    if name == "vendor_cp1252.csv":
        assert shape.transcoded_from == "cp1252" and shape.path.parent == tmp_path


def test_gzip_and_parquet_are_read_as_text() -> None:
    shape = sniff_file(IMPORTS / "aws_focus_1_2-00001.csv.gz")
    assert (shape.format, shape.compression) == ("csv", "gzip")
    assert "x_ServiceCode" in shape.header
    parquet = sniff_file(IMPORTS / "aws_focus_1_0-00001.snappy.parquet")
    assert parquet.format == "parquet"
    mapping = parse_mapping(
        {"columns": {n: {"source": n} for n in ("BilledCost", "ChargePeriodStart", "Tags")}}
    )
    header_rest = [h for h in parquet.header if h not in ("BilledCost", "ChargePeriodStart", "Tags")]
    mapping = mapping.model_copy(update={"ignore": [h for h in header_rest if not h.startswith("x_")]})
    with open_reader(parquet, mapping.options) as reader:
        rows = reader.sample(resolve(mapping, parquet.header, CU), 10).to_pylist()
    assert rows[0]["BilledCost"] == "12.500000000000"
    assert rows[0]["ChargePeriodStart"] == "2025-03-01T00:00:00Z"
    assert rows[0]["Tags"] == '{"env":"prod","team":"t1"}'
    assert rows[0]["x_Discounts"] == '{"bundled":-0.25}'
    assert rows[0]["x_ServiceCode"] == "AmazonEC2"


def test_lenient_timestamps_and_null_strings_are_explicit_options() -> None:
    path = CASES / "samples" / "focus-1.0-official-sample.csv"
    shape = sniff_file(path)
    base = {
        "columns": {
            "ChargePeriodStart": {"source": "ChargePeriodStart"},
            "ChargeClass": {"source": "ChargeClass"},
        },
        "ignore": [h for h in shape.header if h not in ("ChargePeriodStart", "ChargeClass")],
    }
    plain = _read(path, base)
    assert plain[0] == {"ChargePeriodStart": "2024-09-18 22:00:00", "ChargeClass": "NULL"}
    lenient = _read(path, {**base, "options": {"nullStrings": ["NULL"], "lenientTimestamps": True}})
    assert lenient[0] == {"ChargePeriodStart": "2024-09-18T22:00:00Z", "ChargeClass": None}


def test_lenient_formats_of_cloud_exports() -> None:
    gcp = _read(
        IMPORTS / "gcp_focus_bigquery.csv",
        {
            "columns": {"ChargePeriodStart": {"source": "ChargePeriodStart"}},
            "options": {"lenientTimestamps": True},
            "ignore": [
                h for h in sniff_file(IMPORTS / "gcp_focus_bigquery.csv").header if h != "ChargePeriodStart"
            ],
        },
    )
    assert gcp[0]["ChargePeriodStart"] == "2025-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("broken_empty.csv", "empty_file"),
        ("broken_duplicate_headers.csv", "duplicate_columns"),
        ("broken_not_utf8.csv", "bad_encoding"),
        ("broken_truncated.csv.gz", "unreadable_file"),
    ],
)
def test_broken_files_get_clear_errors(name: str, code: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        sniff_file(IMPORTS / name)
    assert caught.value.code == code
    assert caught.value.message


def test_ragged_rows_fail_with_the_line(tmp_path: Path) -> None:
    shape = sniff_file(IMPORTS / "broken_ragged.csv")
    mapping = parse_mapping({"columns": {n: {"source": n} for n in shape.header}})
    with open_reader(shape, mapping.options) as reader, pytest.raises(ImportFileError) as caught:
        list(reader.batches(resolve(mapping, shape.header, CU), 100))
    assert caught.value.code == "unreadable_file"
    assert "Line: 3" in caught.value.message or "line 3" in caught.value.message.lower()
    # A ragged row the sniffer sees (more fields than names) is caught before reading.
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\n1,2,3\n")
    with pytest.raises(ImportFileError, match="more fields"):
        sniff_file(wide)


def test_big_gzip_file_is_streamed_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "many.csv.gz"
    lines = ["BilledCost,ServiceName"] + [f"{i}.25,svc{i % 7}" for i in range(25_000)]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    shape = sniff_file(path)
    mapping = parse_mapping(
        {"columns": {"BilledCost": {"source": "BilledCost"}, "ServiceName": {"source": "ServiceName"}}}
    )
    with open_reader(shape, ImportOptions()) as reader:
        sizes = [t.num_rows for t in reader.batches(resolve(mapping, shape.header, CU), 10_000)]
    assert sizes == [10_000, 10_000, 5_000]


def test_json_files_are_refused_because_their_numbers_would_be_floats(tmp_path: Path) -> None:
    for name, text in (
        ("rows.json", '[{"BilledCost": 1234567.123456789012}]'),
        ("rows.ndjson", '{"a": 1}\n'),
    ):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ImportFileError) as caught:
            sniff_file(path)
        assert caught.value.code == "unsupported_format"
        assert "push" in caught.value.message


def test_constants_tag_merge_and_invalid_json_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text(
        "Amount,Labels,Env,x_Team\n"
        '1,"{""env"":""old"",""app"":""web""}",prod,core\n'
        "2,,dev,\n"
        "3,not json,,ops\n"
    )
    rows = _read(
        path,
        {
            "columns": {
                "BilledCost": {"source": "Amount"},
                "ServiceName": {"value": "Datadog"},
                "Tags": {"source": "Labels"},
            },
            "tags": {"env": "Env"},
        },
    )
    assert [r["ServiceName"] for r in rows] == ["Datadog"] * 3
    assert json.loads(rows[0]["Tags"]) == {"env": "prod", "app": "web"}  # the column wins over the JSON key
    assert rows[1]["Tags"] == '{"env":"dev"}'
    assert rows[2]["Tags"] == "not json"  # left for the validator to report with its row
    assert [r["x_Team"] for r in rows] == ["core", None, "ops"]


def test_date_format_values_that_do_not_parse_are_passed_on(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("Day,Amount\n31/12/2024 13:30,1\n2024-12-31,2\n")
    rows = _read(
        path,
        {
            "columns": {
                "ChargePeriodStart": {"source": "Day", "dateFormat": "%d/%m/%Y %H:%M"},
                "BilledCost": {"source": "Amount"},
            }
        },
    )
    assert [r["ChargePeriodStart"] for r in rows] == ["2024-12-31T13:30:00Z", "2024-12-31"]


def test_parquet_timestamps_of_every_unit_keep_their_fraction(tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [dt.datetime(2025, 3, 1, 12, 0, 0), dt.datetime(2025, 3, 1, 12, 0, 0, 250000)]
    table = pa.table(
        {
            "ChargePeriodStart": pa.array(stamps, pa.timestamp("ns")),
            "ChargePeriodEnd": pa.array(stamps, pa.timestamp("us", tz="Europe/Paris")),
            "BillingPeriodStart": pa.array(stamps, pa.timestamp("s")),
        }
    )
    path = tmp_path / "stamps.parquet"
    pq.write_table(table, path)
    rows = _read(path, {"columns": {n: {"source": n} for n in table.column_names}})
    assert [r["ChargePeriodStart"] for r in rows] == ["2025-03-01T12:00:00Z", "2025-03-01T12:00:00.250000Z"]
    assert [r["ChargePeriodEnd"] for r in rows] == ["2025-03-01T12:00:00Z", "2025-03-01T12:00:00.250000Z"]
    assert [r["BillingPeriodStart"] for r in rows] == ["2025-03-01T12:00:00Z"] * 2
