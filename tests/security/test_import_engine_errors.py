"""Engine failures while importing reach the client as a stable code and a plain message.

DuckDB's own text ("Out of Memory Error ... Possible solutions: SET threads=...") goes to the server log with
the request id; the response and the batch's History entry carry no engine internals.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.demo.writer import write_demo_data
from tests.imports.conftest import upload
from tests.imports.test_import_api import admin_and_provider
from tests.security.test_import_support import MAX_ERROR_BODY, READ_WINDOW

ENGINE_WORDS = ("Possible solutions", "SET threads", "Out of Memory Error", "Exception", "duckdb")


def test_out_of_memory_while_reading_is_a_503_without_engine_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The file's own reader gets 2 MB: DuckDB cannot read the file within it.
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="k", import_memory_limit="2MB", import_single_pass=False
    )
    path = tmp_path / "demo.csv"
    write_demo_data(path, 20_000)
    with TestClient(create_app(settings)) as client:
        headers, pid = admin_and_provider(client, "Engine")
        with caplog.at_level(logging.WARNING, logger="focusbase.ingest.file_errors"):
            response = upload(client, headers, pid, path)
        assert response.status_code == 503, response.text
        assert len(response.content) < MAX_ERROR_BODY
        body = response.json()
        assert body["code"] == "out_of_memory"
        assert "ran out of memory" in body["message"] and "FOCUSBASE_IMPORT_MEMORY_LIMIT" in body["message"]
        assert not any(word in response.text for word in ENGINE_WORDS)
        history = client.get(f"/api/v1/providers/{pid}/batches", headers=headers).json()["batches"]
        assert [batch["status"] for batch in history] == ["failed"]
        assert history[0]["failureReason"] == body["message"]
        stored = client.get(
            "/focus/v1/cost-and-usage", params={**READ_WINDOW, "pageSize": 1}, headers=headers
        )
        assert stored.json()["totalRecords"] == 0
    logged = [r for r in caplog.records if "Possible solutions" in r.getMessage()]
    assert logged and getattr(logged[0], "requestId", None) == response.headers["X-Request-Id"]
