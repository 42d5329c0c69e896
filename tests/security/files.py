"""Hostile import files, generated in the test from a clean FOCUS row: bombs, wide headers."""

from __future__ import annotations

import gzip
from pathlib import Path

from fastapi.testclient import TestClient

from focusbase.demo.writer import write_demo_data

READ_WINDOW = {"billingPeriodStart": "2000-01-01T00:00:00Z", "billingPeriodEnd": "2100-01-01T00:00:00Z"}
MAX_ERROR_BODY = 64 * 1024


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
