"""The provider, workspace and period services against a real catalog and warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from focusbase.config import Settings
from focusbase.storage import Catalog, Warehouse, open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.storage.ingest_store import DuckDBIngestStore
from focusbase.tenancy.keys import authenticate_key
from focusbase.tenancy.periods import PeriodNotEnded, finalize_period, finalized_periods, list_finalized
from focusbase.tenancy.providers import (
    ProviderHasData,
    create_provider,
    delete_provider,
    get_provider,
    list_providers,
    rotate_ingest_key,
    update_provider,
    validate_currency,
)
from focusbase.tenancy.workspaces import ensure_workspace


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Catalog, Warehouse]:
    catalog = open_catalog(Settings(data_dir=tmp_path))
    warehouse = Warehouse.in_dir(tmp_path)
    yield catalog, warehouse
    warehouse.close()
    catalog.close()


def test_create_get_update_and_ingest_key(stores: tuple[Catalog, Warehouse]) -> None:
    catalog, _ = stores
    created = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="  Acme Cloud ", default_currency="eur")
    provider = created.provider
    assert provider.id.startswith("prv_") and provider.name == "Acme Cloud"
    assert provider.default_currency == "EUR"
    assert get_provider(catalog, DEFAULT_WORKSPACE_ID, provider.id) == provider
    principal = authenticate_key(catalog, created.ingest_key.key)
    assert principal is not None
    assert principal.kind == "ingest" and principal.scopes == frozenset({"ingest"})
    assert principal.provider_ids == frozenset({provider.id})
    assert provider.ingest_key_id == principal.key_id

    updated = update_provider(catalog, DEFAULT_WORKSPACE_ID, provider.id, default_currency="GBP")
    assert updated is not None and updated.default_currency == "GBP" and updated.name == "Acme Cloud"

    new_key = rotate_ingest_key(catalog, DEFAULT_WORKSPACE_ID, provider.id)
    assert new_key is not None
    assert authenticate_key(catalog, created.ingest_key.key) is None
    assert authenticate_key(catalog, new_key.key) is not None
    refreshed = get_provider(catalog, DEFAULT_WORKSPACE_ID, provider.id)
    assert refreshed is not None and refreshed.ingest_key_id == new_key.id


@pytest.mark.parametrize("bad", ["US", "usdd", "XYZ", "12A", ""])
def test_currency_must_be_iso_4217(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        validate_currency(bad)


def test_workspaces_do_not_see_each_other(stores: tuple[Catalog, Warehouse]) -> None:
    catalog, _ = stores
    other = ensure_workspace(catalog, "team-b")
    assert ensure_workspace(catalog, "team-b") == other
    assert ensure_workspace(catalog, None).id == DEFAULT_WORKSPACE_ID
    created = create_provider(catalog, other.id, name="B", default_currency="USD")
    assert get_provider(catalog, DEFAULT_WORKSPACE_ID, created.provider.id) is None
    assert list_providers(catalog, DEFAULT_WORKSPACE_ID) == []
    assert [p.id for p in list_providers(catalog, other.id)] == [created.provider.id]
    assert update_provider(catalog, DEFAULT_WORKSPACE_ID, created.provider.id, name="x") is None
    assert rotate_ingest_key(catalog, DEFAULT_WORKSPACE_ID, created.provider.id) is None


def test_delete_with_rows_needs_confirmation(stores: tuple[Catalog, Warehouse]) -> None:
    catalog, warehouse = stores
    created = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="A", default_currency="USD")
    keep = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="Keep", default_currency="USD")
    pid = created.provider.id
    with warehouse.transaction() as cur:
        for seq, (provider_id, superseded) in enumerate(
            [(pid, None), (pid, "bat_2"), (keep.provider.id, None)], start=1
        ):
            cur.execute(
                "INSERT INTO cost_rows (row_seq, workspace_id, provider_id, batch_id, superseded_by,"
                " charge_day, \"BilledCost\") VALUES (?, ?, ?, ?, ?, DATE '2026-10-01', 1.5)",
                [seq, DEFAULT_WORKSPACE_ID, provider_id, "bat_1", superseded],
            )
        cur.execute(
            "INSERT INTO contract_commitment_rows (row_seq, workspace_id, provider_id, batch_id)"
            " VALUES (1, ?, ?, 'bat_3')",
            [DEFAULT_WORKSPACE_ID, pid],
        )
    with pytest.raises(ProviderHasData) as info:
        delete_provider(catalog, DuckDBIngestStore(warehouse), DEFAULT_WORKSPACE_ID, pid, confirm=False)
    assert info.value.rows == 3 and info.value.counts == {"cost": 2, "contractCommitment": 1}
    assert get_provider(catalog, DEFAULT_WORKSPACE_ID, pid) is not None

    result = delete_provider(catalog, DuckDBIngestStore(warehouse), DEFAULT_WORKSPACE_ID, pid, confirm=True)
    assert result is not None and result["rows"] == 3
    assert get_provider(catalog, DEFAULT_WORKSPACE_ID, pid) is None
    assert authenticate_key(catalog, created.ingest_key.key) is None
    with warehouse.cursor() as cur:
        left = cur.execute("SELECT provider_id, count(*) FROM cost_rows GROUP BY ALL").fetchall()
    assert left == [(keep.provider.id, 1)]
    assert (
        delete_provider(catalog, DuckDBIngestStore(warehouse), DEFAULT_WORKSPACE_ID, pid, confirm=True)
        is None
    )


def test_empty_provider_deletes_without_confirmation(stores: tuple[Catalog, Warehouse]) -> None:
    catalog, warehouse = stores
    created = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="A", default_currency="USD")
    result = delete_provider(
        catalog, DuckDBIngestStore(warehouse), DEFAULT_WORKSPACE_ID, created.provider.id, confirm=False
    )
    assert result is not None and result["rows"] == 0


def test_finalised_periods(stores: tuple[Catalog, Warehouse]) -> None:
    catalog, _ = stores
    a = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="A", default_currency="USD").provider
    b = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="B", default_currency="USD").provider
    other_ws = ensure_workspace(catalog, "other")
    c = create_provider(catalog, other_ws.id, name="C", default_currency="USD").provider
    now = datetime(2026, 11, 5, tzinfo=UTC)
    first, created = finalize_period(catalog, a.id, "2026-09", now=now)
    assert created
    again, created_again = finalize_period(catalog, a.id, "2026-09", now=now)
    assert not created_again and again == first
    finalize_period(catalog, a.id, "2026-10", now=now)
    finalize_period(catalog, b.id, "2026-10", now=now)
    finalize_period(catalog, c.id, "2026-10", now=now)
    with pytest.raises(PeriodNotEnded):
        finalize_period(catalog, a.id, "2026-11", now=now)
    with pytest.raises(ValueError, match="YYYY-MM"):
        finalize_period(catalog, a.id, "2026-13", now=now)
    assert [f.period for f in list_finalized(catalog, a.id)] == ["2026-09", "2026-10"]
    assert finalized_periods(catalog, DEFAULT_WORKSPACE_ID, None) == {
        a.id: {"2026-09", "2026-10"},
        b.id: {"2026-10"},
    }
    assert finalized_periods(catalog, DEFAULT_WORKSPACE_ID, [b.id, c.id]) == {b.id: {"2026-10"}}
