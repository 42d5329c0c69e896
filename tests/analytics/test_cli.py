"""`focusbase explore` and `focusbase rollups rebuild` on a data directory, and the rollup built on open."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from focusbase.app import create_app
from focusbase.cli import _register, app
from focusbase.cli.explore import parse_filter
from focusbase.config import Settings
from focusbase.storage import Warehouse
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.analytics.conftest import days, make_rows, push_ok
from tests.focusapi.loader import commit_rows
from tests.ingest.conftest import Provider

_register()


def _usd_total(warehouse: Warehouse) -> Decimal:
    with warehouse.cursor() as cur:
        row = cur.execute(
            'SELECT sum("BilledCost") FROM live_cost_rows WHERE "BillingCurrency" = \'USD\''
        ).fetchone()
    assert row is not None
    return Decimal(row[0])


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    """A data directory with one provider's pushed rows; nothing keeps it open afterwards."""
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        admin = create_key(runtime.catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
        provider = Provider(client, {"Authorization": f"Bearer {admin}"}, "Acme", "USD")
        push_ok(provider, make_rows(120, 31, days(1, 1, 10)))
    return settings.data_dir


def _explore(data_dir: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["explore", "--data-dir", str(data_dir), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    body: dict[str, object] = orjson.loads(result.stdout)
    return body


@pytest.mark.embedded_only("its check sums the DuckDB warehouse file")
def test_explore_prints_a_table_and_json(data_dir: Path) -> None:
    table = CliRunner().invoke(
        app,
        [
            "explore",
            "--data-dir",
            str(data_dir),
            "--metric",
            "BilledCost",
            "--grain",
            "none",
            "--group-by",
            "ServiceName",
            "--filter",
            "ChargeCategory=Usage,Tax",
        ],
    )
    assert table.exit_code == 0, table.output
    assert "Compute Engine" in table.stdout and "total" in table.stdout
    body = _explore(data_dir, "--metric", "BilledCost", "--grain", "none", "--filter", "BillingCurrency=USD")
    warehouse = Warehouse.in_dir(data_dir)
    try:
        totals = body["totals"]
        assert isinstance(totals, list) and len(totals) == 1
        assert Decimal(totals[0]["value"]) == _usd_total(warehouse)
    finally:
        warehouse.close()


def test_explore_writes_csv_and_parquet(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    result = CliRunner().invoke(
        app,
        [
            "explore",
            "--data-dir",
            str(data_dir),
            "--grain",
            "month",
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).column_names == [
        "currency",
        "unit",
        "period",
        "other",
        "EffectiveCost",
        "rowCount",
    ]
    csv_run = CliRunner().invoke(
        app, ["explore", "--data-dir", str(data_dir), "--grain", "none", "--format", "csv"]
    )
    assert csv_run.stdout.startswith("currency,unit,period,other,EffectiveCost,rowCount")
    assert io.StringIO(csv_run.stdout).read().count("\n") == 4  # header + three currencies


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group-by", "Nope"], "groupBy[0]"),
        (["--filter", "ServiceName"], "filter"),
        (["--format", "xml"], "--format"),
        (["--format", "parquet"], "--out"),
        (["--view", "view_missing"], "not found"),
        (["--workspace", "nowhere"], "no workspace"),
    ],
)
def test_explore_refuses_bad_options(data_dir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["explore", "--data-dir", str(data_dir), *args])
    assert result.exit_code == 1 and message in result.output


def test_filter_syntax() -> None:
    assert parse_filter("ServiceName=A") == {"dimension": "ServiceName", "op": "equals", "values": ["A"]}
    assert parse_filter("RegionId=a,b")["op"] == "in"
    assert parse_filter("tag:env!=dev")["values"] == ["dev"]
    assert parse_filter("x_Owner~own") == {"dimension": "x_Owner", "op": "contains", "values": ["own"]}
    assert parse_filter("+tag:team")["op"] == "present" and parse_filter("-ResourceId")["op"] == "absent"


@pytest.mark.embedded_only("the DuckDB rollup tables; ClickHouse keeps its rollup with a materialized view")
def test_rollups_rebuild_and_build_on_open(data_dir: Path) -> None:
    # Rows written behind the rollup's back (as a data directory from before the rollup holds them).
    warehouse = Warehouse.in_dir(data_dir)
    commit_rows(
        warehouse,
        [
            {
                "ChargePeriodStart": datetime(2025, 1, 3),
                "BilledCost": Decimal("1000.5"),
                "EffectiveCost": Decimal("1000.5"),
                "BillingCurrency": "USD",
                "ServiceName": "Late",
            }
        ],
        provider_id="prv_behind",
    )
    expected = _usd_total(warehouse)
    warehouse.close()
    stale = _explore(data_dir, "--metric", "BilledCost", "--grain", "none", "--filter", "BillingCurrency=USD")
    assert Decimal(stale["totals"][0]["value"]) == expected - Decimal("1000.5")  # type: ignore[index]
    result = CliRunner().invoke(app, ["rollups", "rebuild", "--data-dir", str(data_dir)])
    assert result.exit_code == 0 and "rebuilt the daily rollup" in result.output
    fresh = _explore(data_dir, "--metric", "BilledCost", "--grain", "none", "--filter", "BillingCurrency=USD")
    assert Decimal(fresh["totals"][0]["value"]) == expected  # type: ignore[index]

    # A data directory whose rollup was never built for this version gets it when the warehouse opens.
    warehouse = Warehouse.in_dir(data_dir)
    with warehouse.transaction() as cur:
        cur.execute("DELETE FROM cost_rollup_daily")
        cur.execute("DELETE FROM rollup_builds")
    warehouse.close()
    reopened = _explore(
        data_dir, "--metric", "BilledCost", "--grain", "none", "--filter", "BillingCurrency=USD"
    )
    assert Decimal(reopened["totals"][0]["value"]) == expected  # type: ignore[index]
