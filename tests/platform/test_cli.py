"""The keys and providers commands, against the data directory, including while a server holds it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from focusbase.cli import _register, app
from focusbase.config import Settings
from focusbase.storage import open_catalog
from focusbase.tenancy.keys import authenticate_key
from focusbase.tenancy.workspaces import list_workspaces

runner = CliRunner()


@pytest.fixture(autouse=True)
def _commands() -> None:
    _register()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "focusbase", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_keys_create_works_while_the_server_holds_the_data_dir(
    client: TestClient, settings: Settings
) -> None:
    # The app holds the warehouse; the CLI touches only the catalog (SQLite WAL), from another process.
    result = _cli(
        "keys",
        "create",
        "--scope",
        "admin",
        "--name",
        "bootstrap",
        "--json",
        "--data-dir",
        str(settings.data_dir),
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"id", "key"} and created["key"].startswith(f"fbk_{created['id']}_")
    response = client.get("/api/v1/keys", headers={"Authorization": f"Bearer {created['key']}"})
    assert response.status_code == 200
    assert created["id"] in {k["id"] for k in response.json()["keys"]}

    # Revoking from the CLI takes effect in the running server at once.
    revoked = _cli("keys", "revoke", created["id"], "--data-dir", str(settings.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/api/v1/keys", headers={"X-API-Key": created["key"]}).status_code == 401


@pytest.mark.embedded_only("DuckDB's file lock on the data directory")
def test_serve_refuses_a_data_dir_another_server_holds(client: TestClient, settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _cli("serve", "--port", str(port), "--data-dir", str(settings.data_dir))
    assert result.returncode == 1
    assert "in use by another process" in result.stderr and "Traceback" not in result.stderr


def test_keys_create_human_output_and_workspaces(tmp_path: Path) -> None:
    data = str(tmp_path)
    result = runner.invoke(
        app, ["keys", "create", "--scope", "read", "--workspace", "team-b", "--data-dir", data]
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("fbk_key_") and "not shown again" in result.stderr
    principal = authenticate_key(open_catalog(Settings(data_dir=tmp_path)), key)
    assert principal is not None and principal.workspace_id != "ws_default" and principal.scopes == {"read"}

    again = runner.invoke(
        app, ["keys", "create", "--scope", "admin", "--workspace", "team-b", "--json", "--data-dir", data]
    )
    second = authenticate_key(open_catalog(Settings(data_dir=tmp_path)), json.loads(again.stdout)["key"])
    assert second is not None and second.workspace_id == principal.workspace_id

    listed = runner.invoke(app, ["keys", "list", "--json", "--data-dir", data])
    keys = json.loads(listed.stdout)
    assert len(keys) == 2 and all("secret" not in json.dumps(k) for k in keys)
    assert key.split("_", 3)[3] not in listed.stdout
    only_default = runner.invoke(
        app, ["keys", "list", "--json", "--workspace", "default", "--data-dir", data]
    )
    assert json.loads(only_default.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--scope", "owner"], "scopes"),
        (["keys", "create", "--scope", "read", "--workspace", "bad name!"], "workspace name"),
        (["keys", "create", "--scope", "read", "--provider", "prv_missing"], "prv_missing"),
        (["keys", "revoke", "key_missing"], "no active key"),
        (["keys", "list", "--workspace", "nobody"], "no workspace named 'nobody'"),
        (["providers", "list", "--workspace", "nobody"], "no workspace named 'nobody'"),
        (["providers", "create", "--name", "A", "--currency", "EURO"], "ISO 4217"),
        (["providers", "rotate-key", "prv_missing"], "no provider"),
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert [ws.name for ws in list_workspaces(open_catalog(Settings(data_dir=tmp_path)))] == ["default"]


def test_providers_create_list_rotate(tmp_path: Path) -> None:
    data = str(tmp_path)
    created = runner.invoke(
        app, ["providers", "create", "--name", "Acme", "--currency", "usd", "--json", "--data-dir", data]
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    assert body["defaultCurrency"] == "USD" and body["ingestUrl"].endswith(
        f"/api/v1/public/ingest/focus/{body['id']}"
    )
    catalog = open_catalog(Settings(data_dir=tmp_path))
    assert authenticate_key(catalog, body["ingestKey"]) is not None

    listed = json.loads(runner.invoke(app, ["providers", "list", "--json", "--data-dir", data]).stdout)
    assert [(p["id"], p["workspace"]) for p in listed] == [(body["id"], "default")]
    human = runner.invoke(app, ["providers", "list", "--data-dir", data]).stdout
    assert body["id"] in human and "Acme" in human

    rotated = runner.invoke(app, ["providers", "rotate-key", body["id"], "--json", "--data-dir", data])
    new_key = json.loads(rotated.stdout)["key"]
    assert authenticate_key(catalog, body["ingestKey"]) is None
    assert authenticate_key(catalog, new_key) is not None
    # A provider-limited key can be created for it.
    limited = runner.invoke(
        app, ["keys", "create", "--scope", "read", "--provider", body["id"], "--json", "--data-dir", data]
    )
    principal = authenticate_key(catalog, json.loads(limited.stdout)["key"])
    assert principal is not None and principal.provider_ids == {body["id"]}
