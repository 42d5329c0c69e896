"""Support for the hostile import tests: files generated from a clean FOCUS row (bombs, wide headers), and
a real server whose peak memory is measured."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from focusbase.demo.writer import write_demo_data
from tests.ingest.server import Server, admin_key

READ_WINDOW = {"billingPeriodStart": "2000-01-01T00:00:00Z", "billingPeriodEnd": "2100-01-01T00:00:00Z"}
MAX_ERROR_BODY = 64 * 1024
PEAK_RSS_BYTES = 512 * 1024 * 1024  # the server idles near 170 MB; an unbounded bomb or wide file takes GBs


def clean_row(tmp_path: Path) -> tuple[bytes, bytes]:
    """The header and first data row of a clean FOCUS 1.2 demo file."""
    demo = tmp_path / "one-row.csv"
    write_demo_data(demo, 1)
    header, row = demo.read_bytes().splitlines()[:2]
    return header, row


def gzip_bomb(tmp_path: Path, rows: int, name: str = "bomb.csv.gz") -> tuple[Path, int]:
    """A .csv.gz repeating one clean row `rows` times; its path and its size once decompressed."""
    header, row = clean_row(tmp_path)
    path = tmp_path / name
    block = (row + b"\n") * 1000
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(header + b"\n")
        for _ in range(rows // 1000):
            gz.write(block)
        gz.write((row + b"\n") * (rows % 1000))
    return path, len(header) + 1 + rows * (len(row) + 1)


def dir_bytes(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def new_provider(client: TestClient, headers: dict[str, str], name: str = "Hostile") -> str:
    """A new USD provider; its id."""
    created = client.post("/api/v1/providers", json={"name": name, "defaultCurrency": "USD"}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


class Running:
    def __init__(self, server: Server, headers: dict[str, str]) -> None:
        self.server = server
        self.headers = headers

    def provider(self, name: str) -> str:
        created = httpx.post(
            self.server.url + "/api/v1/providers",
            json={"name": name, "defaultCurrency": "USD"},
            headers=self.headers,
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def post_file(self, provider_id: str, path: Path) -> httpx.Response:
        with path.open("rb") as fh:
            return httpx.post(
                f"{self.server.url}/api/v1/providers/{provider_id}/imports",
                headers=self.headers,
                files={"file": (path.name, fh)},
                timeout=120,
            )

    def get(self, url: str, **params: Any) -> Any:
        response = httpx.get(self.server.url + url, headers=self.headers, params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def peak_rss(self) -> int:
        assert self.server.process is not None
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        assert match is not None
        return int(match.group(1)) * 1024


@contextmanager
def real_server(root: Path, env: dict[str, str]) -> Iterator[Running]:
    """A `focusbase serve` process on a new data directory under `root`, with `env`, and an admin key."""
    data_dir = root / "data"
    data_dir.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        server = Server(data_dir, root / "server.log")
        server.start()
    try:
        yield Running(server, {"Authorization": f"Bearer {admin_key(data_dir)}"})
    finally:
        server.stop()
