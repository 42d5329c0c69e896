"""Fixtures for ingest tests: a provider with its ingest key, helpers to push and to read stored rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.storage import Warehouse
from tests.conftest import SCALE_WAREHOUSE, warehouse_of
from tests.scale_query import snapshot_query


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Tests push far more than the production 60 requests a minute.
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        rate_limit_ingest_per_minute=100_000,
        rate_limit_read_per_minute=100_000,
    )


class Provider:
    """A provider created through the API, with its ingest key."""

    def __init__(self, client: TestClient, admin_headers: dict[str, str], name: str, currency: str) -> None:
        response = client.post(
            "/api/v1/providers", json={"name": name, "defaultCurrency": currency}, headers=admin_headers
        )
        assert response.status_code == 201, response.text
        body = response.json()
        self.client = client
        self.id: str = body["id"]
        self.name = name
        self.key: str = body["ingestKey"]
        self.headers = {"Authorization": f"Bearer {self.key}"}

    def push(
        self, rows: list[dict[str, Any]], *, headers: dict[str, str] | None = None, **params: Any
    ) -> Any:
        """POST the rows in the StackSpend envelope; returns the response."""
        return self.client.post(
            f"/api/v1/public/ingest/focus/{self.id}",
            content=envelope(rows),
            params={k: v for k, v in params.items() if v is not None},
            headers={"Content-Type": "application/json", **(headers or self.headers)},
        )


@pytest.fixture
def make_provider(client: TestClient, admin_headers: dict[str, str]) -> Callable[..., Provider]:
    def make(name: str = "Acme Cloud", currency: str = "USD") -> Provider:
        return Provider(client, admin_headers, name, currency)

    return make


@pytest.fixture
def provider(make_provider: Callable[..., Provider]) -> Provider:
    return make_provider()


@pytest.fixture
def warehouse(client: TestClient) -> Warehouse:
    warehouse: Warehouse = warehouse_of(client)
    return warehouse


@pytest.fixture
def query(client: TestClient, warehouse: Warehouse) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    if SCALE_WAREHOUSE:  # the ClickHouse run: the same SQL over a snapshot of what the scale-out stores hold
        yield snapshot_query(client.app.state.runtime)  # type: ignore[attr-defined]
        return

    def run(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with warehouse.cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    yield run


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode())
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> bytes:
    """JSON with Decimals written as exact number literals."""
    return orjson.dumps(value, default=_exact)


def envelope(rows: list[dict[str, Any]], **fields: Any) -> bytes:
    """The StackSpend push body."""
    return dumps({"format": "stackspend.focus", "version": "1", **fields, "rows": rows})


def _number_or_text(text: str) -> Any:
    try:
        return Decimal(text)
    except ArithmeticError:
        return text  # deliberately invalid values are sent as JSON strings


def row(day: str, cost: str, **extra: Any) -> dict[str, Any]:
    """A minimal StackSpend row: ChargePeriodStart, BilledCost (JSON number), ServiceName, ChargeCategory."""
    base: dict[str, Any] = {
        "ChargePeriodStart": day,
        "BilledCost": _number_or_text(cost),
        "ServiceName": "Compute",
        "ChargeCategory": "Usage",
    }
    base.update(extra)
    return base


def commitment(commitment_id: str, cost: str, **extra: Any) -> dict[str, Any]:
    """A Contract Commitment row of contract-1, a monthly spend commitment for 2026, with `extra` columns."""
    return {
        "ContractId": "contract-1",
        "ContractCommitmentId": commitment_id,
        "ContractCommitmentCategory": "Spend",
        "ContractCommitmentType": "Monthly spend",
        "ContractCommitmentCost": Decimal(cost),
        "ContractCommitmentPeriodStart": "2026-01-01",
        "ContractCommitmentPeriodEnd": "2027-01-01",
        "ContractPeriodStart": "2026-01-01",
        "ContractPeriodEnd": "2027-01-01",
        **extra,
    }
