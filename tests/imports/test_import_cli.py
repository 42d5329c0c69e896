"""`focusbase import`: on the data directory, --dry-run, through a running server, and a held data dir."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.ingest import batches
from focusbase.runtime import Runtime
from focusbase.storage import open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.providers import create_provider
from tests.conftest import serve_in_thread
from tests.imports.conftest import IMPORTS

_register()


@pytest.fixture
def provider(settings: Settings) -> str:
    catalog = open_catalog(Settings(data_dir=settings.data_dir))
    created = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="Datadog", default_currency="USD")
    catalog.close()
    return created.provider.id


def _batches(settings: Settings, provider_id: str) -> list[batches.Batch]:
    rt = Runtime.open(settings)
    try:
        return batches.list_batches(rt, DEFAULT_WORKSPACE_ID, provider_id)
    finally:
        rt.warehouse.close()
        rt.catalog.close()


def test_import_on_the_data_directory(settings: Settings, provider: str) -> None:
    args = ["import", str(IMPORTS / "vantage_custom_provider.csv"), "--provider", provider]
    result = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir), "--json"])
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert (body["status"], body["lineItemsCreated"]) == ("committed", 3)
    assert Decimal(body["sums"]["USD"]["BilledCost"]) == Decimal("1229.60")
    stored = _batches(settings, provider)
    assert [(b.source, b.file_name, b.status) for b in stored] == [
        ("csv", "vantage_custom_provider.csv", "committed")
    ]
    assert stored[0].mapping["origin"] == "auto"
    # The table summary, without --json.
    again = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir)])
    assert again.exit_code == 0, again.output
    assert "committed" in again.output and "1229.6" in again.output


def test_dry_run_shows_mapping_and_findings_and_stores_nothing(settings: Settings, provider: str) -> None:
    path = IMPORTS / "broken_bad_values.csv"
    args = ["import", str(path), "--provider", provider, "--dry-run", "--data-dir", str(settings.data_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "exact FOCUS column name" in result.output
    assert "row 2, BilledCost" in result.output
    assert _batches(settings, provider) == []
    as_json = CliRunner().invoke(app, [*args, "--json"])
    preview = orjson.loads(as_json.stdout[as_json.stdout.index("{") :])
    assert preview["findingCount"] >= 2 and preview["mappingSource"] == "auto"


def test_mapping_file_and_options(settings: Settings, provider: str, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_bytes(
        orjson.dumps(
            {
                "columns": {
                    "ChargePeriodStart": {"source": "Date", "dateFormat": "%d/%m/%Y"},
                    "ServiceName": {"source": "Service"},
                    "BilledCost": {"source": "Cost", "number": "money"},
                    "BillingCurrency": {"source": "Currency"},
                    "ChargeCategory": {"value": "Usage"},
                },
                "tags": {"env": "Environment"},
                "ignore": ["Team", "Notes"],
            }
        )
    )
    args = ["import", str(IMPORTS / "vendor_semicolon_decimal_comma.csv"), "--provider", provider]
    args += ["--mapping", str(mapping), "--decimal-comma", "--data-dir", str(settings.data_dir), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert Decimal(body["sums"]["EUR"]["BilledCost"]) == Decimal("1222.10")


def test_errors_exit_1_with_the_reason(settings: Settings, provider: str, tmp_path: Path) -> None:
    base = ["--provider", provider, "--data-dir", str(settings.data_dir)]
    result = CliRunner().invoke(app, ["import", str(IMPORTS / "broken_maps_nothing.csv"), *base])
    assert result.exit_code == 1
    assert "mapping_invalid" in result.output and "'foo' is not mapped" in result.output
    result = CliRunner().invoke(app, ["import", str(IMPORTS / "broken_bad_values.csv"), *base])
    assert result.exit_code == 1 and "row 2, BilledCost" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    result = CliRunner().invoke(
        app, ["import", str(IMPORTS / "vantage_custom_provider.csv"), *base, "--mapping", str(bad)]
    )
    assert result.exit_code == 1 and "cannot read the mapping file" in result.output
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(IMPORTS / "vantage_custom_provider.csv"),
            "--provider",
            "prv_nope",
            "--data-dir",
            str(settings.data_dir),
        ],
    )
    assert result.exit_code == 1 and "no provider prv_nope" in result.output
    assert [b.status for b in _batches(settings, provider)] == ["failed"]


@pytest.mark.embedded_only("DuckDB's file lock on the data directory")
def test_locked_data_directory_fails_clearly(settings: Settings, provider: str) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from focusbase.storage import Warehouse;"
            " w = Warehouse.in_dir(__import__('pathlib').Path(sys.argv[1])); print('held', flush=True);"
            " time.sleep(60)",
            str(settings.data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        args = ["import", str(IMPORTS / "vantage_custom_provider.csv"), "--provider", provider]
        result = CliRunner().invoke(app, [*args, "--data-dir", str(settings.data_dir)])
        assert result.exit_code == 1
        assert "is in use by another process" in result.output and "--server URL --key KEY" in result.output
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.fixture
def server(settings: Settings, provider: str) -> Iterator[str]:
    """The real app on a free port, in a thread; files over 1 kB import in the background."""
    with serve_in_thread(settings.model_copy(update={"import_background_bytes": 1000})) as url:
        yield url


def test_import_through_the_server(server: str, settings: Settings, provider: str) -> None:
    key = create_key(
        open_catalog(Settings(data_dir=settings.data_dir)),
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="cli",
        scopes=["ingest", "read"],
    )
    remote = ["--provider", provider, "--server", server, "--key", key.key]
    dry = CliRunner().invoke(
        app, ["import", str(IMPORTS / "vantage_custom_provider.csv"), *remote, "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "exact FOCUS column name" in dry.output
    # A file over the (lowered) background threshold: 202, then the CLI follows the batch to its end.
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(IMPORTS / "focus_sample_contractcommitment_aws.csv"),
            *remote,
            "--dataset",
            "contract-commitment",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout[result.stdout.index("{") :])
    assert (body["status"], body["lineItemsCreated"]) == ("committed", 21)
    bad = CliRunner().invoke(app, ["import", str(IMPORTS / "broken_empty.csv"), *remote])
    assert bad.exit_code == 1 and "empty_file" in bad.output
