"""Fixtures shared by the storage tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chdb_http import chdb_gateway

__all__ = ["chdb_gateway", "chdb_path"]


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # chDB runs one engine per process, bound to one path: every test gets a database of its own in it.
    return tmp_path_factory.mktemp("chdb")
