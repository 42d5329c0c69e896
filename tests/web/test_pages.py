"""The pages over the in-process client: sign-in, session cookie, CSRF, and key scoping as the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from focusbase.tenancy.workspaces import ensure_workspace
from tests.web.conftest import csrf_of, sign_in

ROW = {
    "ChargePeriodStart": "2026-06-01",
    "BilledCost": "12.50",
    "ServiceName": "Compute",
    "ChargeCategory": "Usage",
}


def _provider(client: TestClient, headers: dict[str, str], name: str, currency: str = "USD") -> dict:
    created = client.post(
        "/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": currency}
    )
    assert created.status_code == 201
    return dict(created.json())


def _push(client: TestClient, provider: dict, cost: str) -> None:
    pushed = client.post(
        f"/api/v1/public/ingest/focus/{provider['id']}",
        headers={"Authorization": f"Bearer {provider['ingestKey']}"},
        json={"format": "stackspend.focus", "version": "1", "rows": [{**ROW, "BilledCost": cost}]},
    )
    assert pushed.status_code == 200, pushed.text


def test_pages_need_a_session_and_sign_in_comes_back(client: TestClient, admin_key: str) -> None:
    first = client.get("/settings/keys", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/sign-in?next=/settings/keys"
    form = client.get(first.headers["location"])
    done = client.post(
        "/sign-in",
        data={"key": admin_key, "csrf_token": csrf_of(form.text), "next": "/settings/keys"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/settings/keys"
    assert client.get("/settings/keys").status_code == 200


def test_the_cookie_is_httponly_lax_and_never_holds_the_key(client: TestClient, admin_key: str) -> None:
    form = client.get("/sign-in")
    done = client.post(
        "/sign-in", data={"key": admin_key, "csrf_token": csrf_of(form.text)}, follow_redirects=False
    )
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("focusbase_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over http here
    secret = admin_key.split("_", 3)[3]
    assert secret not in cookie and admin_key not in cookie


def test_pages_are_never_cached_framed_or_given_foreign_scripts(client: TestClient, admin_key: str) -> None:
    sign_in(client, admin_key)
    for path in ("/sign-in", "/cost", "/settings/keys", "/settings/integrations/prv_missing"):
        headers = client.get(path).headers
        assert headers["cache-control"] == "no-store", path
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self';" in headers["content-security-policy"]


def test_the_cookie_is_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", secret_key="s", public_url="https://cost.example.com")
    with TestClient(create_app(settings)) as client:
        assert "Secure" in client.get("/sign-in").headers["set-cookie"]


def test_a_wrong_key_is_refused_with_a_message(client: TestClient) -> None:
    form = client.get("/sign-in")
    refused = client.post(
        "/sign-in", data={"key": "fbk_key_0000000000000000_nope", "csrf_token": csrf_of(form.text)}
    )
    assert refused.status_code == 401
    assert "unknown, revoked or malformed" in refused.text
    assert client.get("/cost", follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_off_site(client: TestClient, admin_key: str) -> None:
    form = client.get("/sign-in")
    done = client.post(
        "/sign-in",
        data={"key": admin_key, "csrf_token": csrf_of(form.text), "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/"


def test_a_post_without_or_with_a_wrong_token_is_refused_and_changes_nothing(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    token = sign_in(client, admin_key)
    for bad in ({}, {"csrf_token": "x" + token[1:]}, {"csrf_token": ""}):
        refused = client.post("/settings/integrations/new", data={"name": "Evil", "currency": "USD", **bad})
        assert refused.status_code == 403 and "security token" in refused.text
        keys = client.post("/settings/keys", data={"name": "evil", "scopes": ["admin"], **bad})
        assert keys.status_code == 403
    assert client.get("/api/v1/providers", headers=admin_headers).json()["providers"] == []
    assert [k["name"] for k in client.get("/api/v1/keys", headers=admin_headers).json()["keys"]] == [
        "test admin"
    ]
    # An htmx request refused shows the error page whole, not inside the part it targeted.
    htmx = client.post(
        "/settings/integrations/new", data={"name": "E", "currency": "USD"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 403 and htmx.headers["HX-Retarget"] == "#main"
    assert client.get("/api/v1/providers", headers=admin_headers).json()["providers"] == []
    # The header form (htmx) is checked the same way.
    header = client.post(
        "/settings/integrations/new", data={"name": "Ok", "currency": "USD"}, headers={"X-CSRF-Token": token}
    )
    assert header.status_code == 201


def test_sign_out_ends_the_session_and_its_token(client: TestClient, admin_key: str) -> None:
    token = sign_in(client, admin_key)
    copied = client.cookies.get("focusbase_session")
    assert copied and client.get("/cost", follow_redirects=False).status_code == 200
    assert client.post("/sign-out", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/cost", follow_redirects=False).status_code == 303
    again = client.post(
        "/settings/integrations/new",
        data={"name": "X", "currency": "USD", "csrf_token": token},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")
    # A copy of the signed-out cookie is refused too.
    client.cookies.clear()
    client.cookies.set("focusbase_session", copied)
    assert client.get("/cost", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(client: TestClient, catalog: Catalog) -> None:
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="me", scopes=["admin"])
    token = sign_in(client, key.key)
    confirm = client.get(f"/settings/keys/{key.id}/revoke")
    assert "signs you out" in confirm.text
    client.post(f"/settings/keys/{key.id}/revoke", data={"csrf_token": token})
    assert client.get("/settings/keys", follow_redirects=False).status_code == 303


def test_a_provider_limited_key_sees_only_its_provider(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str]
) -> None:
    mine = _provider(client, admin_headers, "Mine", "EUR")
    other = _provider(client, admin_headers, "Other")
    _push(client, mine, "3.25")
    _push(client, other, "99")
    limited = create_key(
        catalog,
        workspace_id=DEFAULT_WORKSPACE_ID,
        name="limited",
        scopes=["admin"],
        provider_ids=[mine["id"]],
    )
    sign_in(client, limited.key)
    cost = client.get("/cost").text
    assert "3.25 EUR" in cost and "99.00 USD" not in cost and "Other" not in cost
    listing = client.get("/settings/integrations").text
    assert mine["id"] in listing and other["id"] not in listing
    assert "Add a custom provider" not in listing
    assert client.get("/settings/integrations/new").status_code == 403
    for path in ("", "/history", "/import"):
        assert client.get(f"/settings/integrations/{other['id']}{path}").status_code == 404
        assert client.get(f"/settings/integrations/{mine['id']}{path}").status_code == 200


@pytest.mark.parametrize(
    ("scopes", "allowed", "refused"),
    [
        (["read"], ["/cost"], ["/settings/integrations", "/settings/keys"]),
        (["ingest"], [], ["/cost", "/settings/integrations", "/settings/keys"]),
        (["admin"], ["/cost", "/settings/integrations", "/settings/keys"], []),
    ],
)
def test_pages_follow_the_api_scopes(
    client: TestClient, catalog: Catalog, scopes: list[str], allowed: list[str], refused: list[str]
) -> None:
    key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="k", scopes=scopes)
    sign_in(client, key.key)
    for path in allowed:
        assert client.get(path).status_code == 200, path
    for path in refused:
        page = client.get(path)
        assert page.status_code == 403, path
        assert "lacks the" in page.text


def test_the_cost_page_has_an_empty_state_then_totals_per_currency(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    sign_in(client, admin_key)
    assert "No data yet: push or import" in client.get("/cost").text
    eur = _provider(client, admin_headers, "Acme EU", "EUR")
    usd = _provider(client, admin_headers, "Acme US")
    _push(client, eur, "1234.5")
    _push(client, usd, "0.125")
    also_eur = _provider(client, admin_headers, "Zeta EU", "EUR")
    _push(client, also_eur, "0.5")
    page = client.get("/cost").text
    rows = re.findall(r'data-testid="effective-(prv_\w+)-(\w+)">([^<]+)<', page)
    assert rows == [
        (eur["id"], "EUR", "1,234.50 EUR"),
        (usd["id"], "USD", "0.125 USD"),
        (also_eur["id"], "EUR", "0.50 EUR"),
    ]  # by provider name, each in its own currency
    totals = dict(re.findall(r'data-testid="total-(\w+)">([^<]+)<', page))
    assert totals == {"EUR": "1,235.00 EUR", "USD": "0.125 USD"}


def test_bad_provider_input_names_the_field(client: TestClient, admin_key: str) -> None:
    token = sign_in(client, admin_key)
    bad = client.post(
        "/settings/integrations/new", data={"name": "  ", "currency": "USD", "csrf_token": token}
    )
    assert bad.status_code == 400 and 'id="name-error"' in bad.text
    bad = client.post(
        "/settings/integrations/new", data={"name": "A", "currency": "EURO", "csrf_token": token}
    )
    assert bad.status_code == 400 and 'id="currency-error"' in bad.text and "ISO 4217" in bad.text


def test_the_api_and_docs_are_unchanged(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert all(p.startswith(("/api/", "/focus/", "/healthz", "/readyz", "/metrics")) for p in paths), paths
    assert client.get("/api/v1/keys").json()["code"] == "unauthorized"


def test_reloading_a_form_result_goes_back_to_its_page(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    sign_in(client, admin_key)
    provider = _provider(client, admin_headers, "Reload")
    for path, target in (
        (f"/settings/integrations/{provider['id']}/ingest-key", f"/settings/integrations/{provider['id']}"),
        (
            f"/settings/integrations/{provider['id']}/import/run",
            f"/settings/integrations/{provider['id']}/import",
        ),
        ("/sign-out", "/"),
    ):
        back = client.get(path, follow_redirects=False)
        assert back.status_code == 303 and back.headers["location"] == target, path
    assert client.get("/cost").status_code == 200  # a GET never signs out


def test_a_providers_ingest_key_sees_its_history_and_import_only(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    mine = _provider(client, admin_headers, "Mine")
    other = _provider(client, admin_headers, "Other")
    sign_in(client, mine["ingestKey"])
    start = client.get("/", follow_redirects=False)
    assert start.headers["location"] == f"/settings/integrations/{mine['id']}/history"
    history = client.get(start.headers["location"])
    assert (
        history.status_code == 200
        and "Import data" in history.text
        and "API key &amp; ingest URL" not in history.text
    )
    assert client.get(f"/settings/integrations/{mine['id']}/import").status_code == 200
    refused = client.get(f"/settings/integrations/{mine['id']}")
    assert (
        refused.status_code == 403 and "an ingest key can only push data for its own provider" in refused.text
    )
    assert client.get(f"/settings/integrations/{other['id']}/history").status_code == 404
    assert client.get("/cost").status_code == 403


def test_another_workspaces_key_sees_none_of_this_one(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str]
) -> None:
    here = _provider(client, admin_headers, "Here", "EUR")
    _push(client, here, "5")
    elsewhere = ensure_workspace(catalog, "elsewhere")
    key = create_key(catalog, workspace_id=elsewhere.id, name="other ws", scopes=["admin"])
    sign_in(client, key.key)
    assert "No data yet: push or import" in client.get("/cost").text
    assert here["id"] not in client.get("/settings/integrations").text
    for path in ("", "/history", "/import"):
        assert client.get(f"/settings/integrations/{here['id']}{path}").status_code == 404
    assert "test admin" not in client.get("/settings/keys").text


def test_rename_change_currency_and_delete_a_provider(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    token = sign_in(client, admin_key)
    provider = _provider(client, admin_headers, "Old Name")
    _push(client, provider, "4")
    tab = f"/settings/integrations/{provider['id']}"
    bad = client.post(f"{tab}/settings", data={"name": "New", "currency": "ZZZ", "csrf_token": token})
    assert bad.status_code == 400 and 'id="currency-error"' in bad.text and 'value="ZZZ"' in bad.text
    unchanged = client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers).json()
    assert (unchanged["name"], unchanged["defaultCurrency"]) == ("Old Name", "USD")
    saved = client.post(f"{tab}/settings", data={"name": "New Name", "currency": "gbp", "csrf_token": token})
    assert saved.status_code == 200 and "Saved: rows pushed from now on" in saved.text
    changed = client.get(f"/api/v1/providers/{provider['id']}", headers=admin_headers).json()
    assert (changed["name"], changed["defaultCurrency"]) == ("New Name", "GBP")

    confirm = client.get(f"{tab}/delete")
    assert "1 cost and usage rows" in confirm.text and "cannot be undone" in confirm.text
    assert client.post(f"{tab}/delete", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/api/v1/providers", headers=admin_headers).json()["providers"] != []
    gone = client.post(f"{tab}/delete", data={"csrf_token": token})
    assert gone.status_code == 200 and "Provider New Name was deleted with its stored rows." in gone.text
    assert client.get("/api/v1/providers", headers=admin_headers).json()["providers"] == []
    assert "No data yet: push or import" in client.get("/cost").text
    refused = client.post(
        f"/api/v1/public/ingest/focus/{provider['id']}",
        headers={"Authorization": f"Bearer {provider['ingestKey']}"},
        json={"format": "stackspend.focus", "version": "1", "rows": [ROW]},
    )
    assert refused.status_code in (401, 404)
