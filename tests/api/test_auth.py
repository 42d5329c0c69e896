from __future__ import annotations

from fastapi.testclient import TestClient

from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, SQLiteCatalog
from focusbase.tenancy.keys import authenticate_key, create_key, revoke_key


def test_key_round_trip_and_revoke(catalog: Catalog) -> None:
    new = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"])
    assert new.key.startswith("fbk_key_")
    principal = authenticate_key(catalog, new.key)
    assert principal is not None and principal.has_scope("read") and not principal.has_scope("admin")
    assert authenticate_key(catalog, new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    assert authenticate_key(catalog, "nonsense") is None
    assert revoke_key(catalog, DEFAULT_WORKSPACE_ID, new.id)
    assert authenticate_key(catalog, new.key) is None


def test_secret_is_not_stored(catalog: Catalog) -> None:
    new = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"])
    secret = new.key.split("_", 3)[3]
    if isinstance(catalog, SQLiteCatalog):
        raw = catalog.path.read_bytes()  # every byte of the database file, free pages included
    else:
        with catalog.read() as conn:
            raw = repr(conn.execute("SELECT * FROM api_keys").fetchall()).encode()
        assert new.id.encode() in raw
    assert secret.encode() not in raw


def test_unknown_route_uses_the_error_envelope(client: TestClient) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "details"}
