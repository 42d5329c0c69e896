"""Fixtures shared by the storage tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chdb_http import chdb_gateway

__all__ = ["chdb_gateway", "chdb_path"]

# These tests choose their storage profiles themselves (the embedded one next to the scale-out one, chDB at
# paths of their own) and run in `make test`; the ClickHouse run of `make test-scale` leaves them out.
if os.environ.get("FOCUSBASE_TEST_WAREHOUSE") == "chdb":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # chDB runs one engine per process, bound to one path: every test gets a database of its own in it.
    return tmp_path_factory.mktemp("chdb")
