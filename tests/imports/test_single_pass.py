"""The single pass: a clean CSV staged by one statement stores exactly what the part path stores."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.ingest import single_pass
from focusbase.ingest.model import PartResult
from focusbase.storage import cost_rows, rollups
from focusbase.storage.cost_rows import TABLES
from tests.analytics.test_explorer_property import assert_rollup_fresh
from tests.imports.conftest import IMPORTS, upload
from tests.imports.test_import_api import admin_and_provider

pytestmark = pytest.mark.embedded_only("the single pass is the embedded warehouse's own INSERT ... SELECT")

META = ("row_seq", "workspace_id", "provider_id", "batch_id", "superseded_by")
# What History shows of a batch that must not depend on the path its file took.
SUMMARY = (
    "rowsReceived",
    "lineItemsCreated",
    "rowsRejected",
    "sums",
    "defaultsApplied",
    "errors",
    "errorCount",
    "mapping",
)


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each commit of staged Cost and Usage rows: whether the rollup came from the staged sums."""
    seen: list[bool] = []
    original = rollups._apply_staged

    def spy(*args: Any, **kwargs: Any) -> bool:
        used = original(*args, **kwargs)
        seen.append(used)
        return used

    monkeypatch.setattr(rollups, "_apply_staged", spy)
    return seen


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[PartResult | single_pass.GaveUp]:
    """What each single-pass attempt returned (GaveUp: the part path ran)."""
    seen: list[PartResult | single_pass.GaveUp] = []
    original = single_pass.stage

    def spy(*args: Any, **kwargs: Any) -> PartResult | single_pass.GaveUp:
        result = original(*args, **kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(single_pass, "stage", spy)
    return seen


def _import(
    tmp_path: Path, name: str, path: Path, *, single: bool, **fields: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Import a file into a fresh server; the response body and the stored rows (provider id masked)."""
    settings = Settings(
        data_dir=tmp_path / name, secret_key="k", import_single_pass=single, import_part_rows=7
    )
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Same name")
        response = upload(client, headers, pid, path, **fields)
        assert response.status_code == 200, response.text
        dataset = Dataset.parse(fields.get("dataset", "CostAndUsage"))
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with runtime.warehouse.cursor() as cur:
            relation = cur.sql(f"SELECT * EXCLUDE ({', '.join(META)}) FROM {TABLES[dataset].rows}")
            names = relation.columns
            rows = [dict(zip(names, row, strict=True)) for row in relation.fetchall()]
        assert_rollup_fresh(runtime.warehouse)  # maintained from the sums staged with the rows
    masked = [{k: ("<provider>" if v == pid else v) for k, v in row.items()} for row in rows]
    body = orjson.loads(response.content.replace(pid.encode(), b"<provider>"))
    return body, sorted(masked, key=repr)


CLEAN = [
    ("vantage_custom_provider.csv", {}),
    ("aws_focus_1_2-00001.csv.gz", {}),
    ("azure_focuscost_1_0.csv", {}),
    ("gcp_focus_bigquery.csv", {}),
    ("oci_focus_report-00001.csv.gz", {}),
    ("focus_sample_contractcommitment_aws.csv", {"dataset": "ContractCommitment"}),
]


@pytest.mark.parametrize(("name", "fields"), CLEAN)
def test_single_pass_stores_what_the_part_path_stores(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    passes: list[PartResult | single_pass.GaveUp],
    applied: list[bool],
    name: str,
    fields: dict[str, str],
) -> None:
    # 7-row parts barely shrink when summed; keep summing them so both paths' sums are compared.
    monkeypatch.setattr(rollups, "STAGE_MAX_GROUPS_PER_ROW", 1.0)
    single_body, single_rows = _import(tmp_path, "single", IMPORTS / name, single=True, **fields)
    assert len(passes) == 1 and isinstance(passes[0], PartResult)  # the single pass staged the file
    parts_body, parts_rows = _import(tmp_path, "parts", IMPORTS / name, single=False, **fields)
    assert len(passes) == 1  # switched off: not even tried
    cost = fields.get("dataset", "CostAndUsage") == "CostAndUsage"
    assert applied == ([True, True] if cost else [])  # both paths staged the file's rollup sums
    assert single_rows == parts_rows
    assert len(single_rows) == single_body["lineItemsCreated"] > 0
    for key in SUMMARY:
        assert single_body["batch"][key] == parts_body["batch"][key], key
    single_progress, parts_progress = single_body["batch"]["progress"], parts_body["batch"]["progress"]
    assert (single_progress.pop("method"), parts_progress.pop("method")) == ("single-pass", "part-by-part")
    assert single_progress == parts_progress


def test_custom_columns_defaults_and_offsets_match_the_part_path(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp]
) -> None:
    # x_ columns packed into x_columns, absent columns defaulted (ChargePeriodEnd from the start, the cost
    # copies from BilledCost, the provider's name), a zero offset written as +00:00, quoted newlines.
    path = tmp_path / "custom.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency,x_Team,x_Note"]
    lines += [
        f"2025-03-{1 + i % 28:02d}T10:00:00{'Z' if i % 2 else '+00:00'},{i}.125,svc{i % 3},Usage,USD,"
        f'team{i % 4},"line one\nline two"'
        for i in range(40)
    ]
    path.write_text("\n".join(lines) + "\n")
    single_body, single_rows = _import(tmp_path, "single", path, single=True)
    assert passes and isinstance(passes[0], PartResult)
    parts_body, parts_rows = _import(tmp_path, "parts", path, single=False)
    assert single_rows == parts_rows
    assert single_body["batch"]["defaultsApplied"] == parts_body["batch"]["defaultsApplied"]
    assert single_body["batch"]["defaultsApplied"]["EffectiveCost"]["rows"] == 40
    assert {row["x_columns"] for row in single_rows} >= {'{"x_Team":"team0","x_Note":"line one\\nline two"}'}


FAILED_BATCH = (
    "status",
    "failureReason",
    "rowsReceived",
    "rowsRejected",
    "errors",
    "errorCount",
    "defaultsApplied",
)


def _failed_import(
    tmp_path: Path, name: str, path: Path, *, single: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Import a file that is rejected; the 422 body and the failed batch as History shows it."""
    settings = Settings(
        data_dir=tmp_path / name, secret_key="k", import_single_pass=single, import_part_rows=7
    )
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Same name")
        response = upload(client, headers, pid, path)
        assert response.status_code == 422, response.text
        body = orjson.loads(response.content.replace(pid.encode(), b"<provider>"))
        batch = client.get(f"/api/v1/batches/{body['batchId']}", headers=headers)
        shown = orjson.loads(batch.content.replace(pid.encode(), b"<provider>"))
        with client.app.state.runtime.warehouse.cursor() as cur:  # type: ignore[attr-defined]
            assert cur.execute("SELECT count(*) FROM cost_rows").fetchall() == [(0,)]
    return body, shown


def test_a_rejected_file_is_reported_as_part_by_part_without_staging_a_row(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A value breaking a rule in the 5th part: the part path must still name its row; after the single
    # pass, it only checks the parts (nothing is staged), and the failed batch reads the same in History.
    path = tmp_path / "file.csv"
    rows = ["2025-03-01,1.5,svc,Usage,USD"] * 30 + ["2025-03-01,abc,svc,Usage,USD"]
    path.write_text(
        "\n".join(["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency", *rows])
    )
    inserts: list[str] = []
    original = cost_rows.insert
    monkeypatch.setattr(cost_rows, "insert", lambda *a, **k: (inserts.append("x"), original(*a, **k))[1])
    single_body, single_batch = _failed_import(tmp_path, "single", path, single=True)
    assert len(passes) == 1 and isinstance(passes[0], single_pass.GaveUp) and passes[0].rejected
    assert inserts == []
    parts_body, parts_batch = _failed_import(tmp_path, "parts", path, single=False)
    assert inserts  # part by part, the four clean parts were staged, then dropped
    assert [(e["row"], e["column"]) for e in single_body["errors"]] == [(31, "BilledCost")]
    for key in ("code", "message", "errors", "errorCount", "rowsReceived", "rowsRejected"):
        assert single_body[key] == parts_body[key], key
    for key in FAILED_BATCH:
        assert single_batch[key] == parts_batch[key], key
    assert (
        single_batch["rowsReceived"] == 31 and single_batch["defaultsApplied"]["EffectiveCost"]["rows"] == 28
    )
    assert (single_batch["progress"]["phase"], single_batch["progress"]["rowsRead"]) == ("checking", 28)


def test_a_cell_to_default_goes_part_by_part(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp]
) -> None:
    # An empty cell the part path fills with the provider's currency, and counts.
    path = tmp_path / "file.csv"
    rows = ["2025-03-01,1.5,svc,Usage,USD"] * 5 + ["2025-03-01,1.5,svc,Usage,"]
    path.write_text(
        "\n".join(["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency", *rows])
    )
    settings = Settings(data_dir=tmp_path / "data", secret_key="k")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Fallback")
        response = upload(client, headers, pid, path)
    assert len(passes) == 1 and isinstance(passes[0], single_pass.GaveUp) and not passes[0].rejected
    body = response.json()
    assert response.status_code == 200, body
    assert body["batch"]["progress"]["method"] == "part-by-part"
    assert body["batch"]["defaultsApplied"]["BillingCurrency"] == {"value": "USD", "rows": 1}
    assert body["lineItemsCreated"] == len(rows)


def test_a_dataset_rule_broken_across_the_file_goes_part_by_part(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp]
) -> None:
    # One ServiceName in two ServiceCategory values: no row breaks a rule, the file does.
    path = tmp_path / "file.csv"
    header = "ChargePeriodStart,BilledCost,ServiceName,ServiceCategory,ChargeCategory,BillingCurrency"
    rows = ["2025-03-01,1.5,Db,Databases,Usage,USD", "2025-03-02,2.5,Db,Storage,Usage,USD"]
    path.write_text("\n".join([header, *rows]) + "\n")
    settings = Settings(data_dir=tmp_path / "data", secret_key="k")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Rules")
        response = upload(client, headers, pid, path)
        stored = client.app.state.runtime.warehouse  # type: ignore[attr-defined]
        with stored.cursor() as cur:
            left = cur.execute("SELECT count(*) FROM cost_rows").fetchall()
    assert len(passes) == 1 and isinstance(passes[0], single_pass.GaveUp) and not passes[0].rejected
    assert response.status_code == 422, response.text
    assert {e["code"] for e in response.json()["errors"]} == {"service-name-one-category"}
    assert left == [(0,)]  # the rolled-back statement left nothing behind


class _Started:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.batch = type("B", (), {"id": "bat_test"})()


def test_the_watch_reports_progress_and_interrupts_on_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(single_pass, "PROGRESS_SECONDS", 0.05)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")
    started = _Started()
    seen: list[float] = []

    def report(percent: float) -> None:
        seen.append(percent)
        if len(seen) >= 2:
            started.cancel.set()

    began = time.monotonic()
    with pytest.raises(duckdb.InterruptException), single_pass._Watch(con, started, report):  # type: ignore[arg-type]
        con.execute("SELECT sum(hash(range)) FROM range(100000000000)").fetchall()
    assert time.monotonic() - began < 30  # interrupted, not run to the end (hours)
    assert len(seen) >= 2 and all(0 <= p <= 100 for p in seen)


HEADER = "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency,PricingCurrency"


def test_warnings_alone_keep_the_single_pass(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp]
) -> None:
    # A virtual PricingCurrency is a warning, which rejects nothing: the file is staged in one pass and
    # stored exactly as part by part.
    path = tmp_path / "virtual.csv"
    path.write_text(
        "\n".join([HEADER] + [f"2025-03-0{1 + i % 9},1.{i},svc,Usage,USD,XBT" for i in range(20)])
    )
    single_body, single_rows = _import(tmp_path, "single", path, single=True)
    assert passes and isinstance(passes[0], PartResult)
    parts_body, parts_rows = _import(tmp_path, "parts", path, single=False)
    assert single_rows == parts_rows and len(single_rows) == 20
    assert single_body["batch"]["errorCount"] == parts_body["batch"]["errorCount"] == 0


def test_a_placeholder_behind_a_warning_still_goes_part_by_part(
    tmp_path: Path, passes: list[PartResult | single_pass.GaveUp]
) -> None:
    # `NULL` in PricingCurrency only breaks a warning (not a currency code) as text; read as the null it
    # stands for, it is an error. The single pass must not store what the part path rejects.
    path = tmp_path / "placeholder.csv"
    rows = ["2025-03-01,1.5,svc,Usage,USD,USD"] * 3 + ["2025-03-01,1.5,svc,Usage,USD,NULL"]
    path.write_text("\n".join([HEADER, *rows]))
    settings = Settings(data_dir=tmp_path / "data", secret_key="k")
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Placeholder")
        response = upload(client, headers, pid, path)
    assert len(passes) == 1 and isinstance(passes[0], single_pass.GaveUp) and passes[0].rejected
    assert response.status_code == 422, response.text
    assert {(e["row"], e["column"], e["code"]) for e in response.json()["errors"]} == {
        (4, "PricingCurrency", "null-placeholder")
    }
