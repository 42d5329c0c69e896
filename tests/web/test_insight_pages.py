"""Anomalies, forecasts, budgets and webhooks pages over the in-process client: the API's figures, its scope
rules, state changes and forms with their CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.web.browser import insight_rows, vantage_budgets_csv
from tests.web.conftest import csrf_of, sign_in


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="insight-secret", anomaly_detect_on_commit=False
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def catalog(client: TestClient) -> Catalog:
    return client.app.state.runtime.catalog  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def admin_key(catalog: Catalog) -> str:
    return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="admin", scopes=["admin"]).key


@pytest.fixture
def headers(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _provider(client: TestClient, headers: dict[str, str], name: str, days: int = 90) -> str:
    made = client.post("/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": "USD"})
    assert made.status_code == 201, made.text
    body = made.json()
    pushed = client.post(
        f"/api/v1/public/ingest/focus/{body['id']}",
        headers={"Authorization": f"Bearer {body['ingestKey']}"},
        json={"format": "stackspend.focus", "version": "1", "rows": insight_rows(days=days)},
    )
    assert pushed.status_code == 200, pushed.text
    detected = client.post("/api/v1/anomalies/detect", headers=headers, json={"providerId": body["id"]})
    assert detected.status_code == 200, detected.text
    return str(body["id"])


def _key(catalog: Catalog, scopes: list[str], providers: list[str] | None = None) -> str:
    return create_key(
        catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="k", scopes=scopes, provider_ids=providers
    ).key


def test_every_page_has_a_clear_empty_state(client: TestClient, admin_key: str) -> None:
    sign_in(client, admin_key)
    nav = client.get("/anomalies").text
    for label in ("Anomalies", "Forecasts", "Budgets", "Webhooks"):
        assert f">{label}</a>" in nav
    assert "No anomalies found" in _text(client.get("/anomalies").text)
    assert "No data yet: push or import" in _text(client.get("/forecasts").text)
    assert "No budgets yet" in _text(client.get("/budgets").text)
    assert "No endpoints yet" in _text(client.get("/settings/webhooks").text)


def test_the_anomaly_list_and_detail_show_the_api_figures(
    client: TestClient, admin_key: str, headers: dict[str, str]
) -> None:
    provider = _provider(client, headers, "Northwind Cloud")
    api = client.get("/api/v1/anomalies", headers=headers).json()["data"]
    assert api, "the demo rows raise anomalies"
    sign_in(client, admin_key)
    listed = client.get("/anomalies").text
    assert re.findall(r'data-anomaly="([^"]+)"', listed) == [a["id"] for a in api]
    database = next(a for a in api if a["scope"] == "ServiceName" and a["scopeValue"] == "Database")
    row = _text(listed.split(f'data-anomaly="{database["id"]}"')[1].split("</tr>")[0])
    assert f"{database['actualSpend']} USD" in row.replace(",", "")
    assert database["severity"] in row
    # Filters are the API's: severity, scope and value, state and the start days (inclusive).
    only = client.get(f"/anomalies?scope=ServiceName&scopeValue=Database&provider={provider}&state=New").text
    assert re.findall(r'data-anomaly="([^"]+)"', only) == [database["id"]]
    day = database["startDate"]
    assert database["id"] in client.get(f"/anomalies?startFrom={day}&startTo={day}").text
    assert "No anomaly matches these filters" in _text(
        client.get("/anomalies?severity=Low&state=Resolved").text
    )
    assert client.get("/anomalies?severity=Huge").status_code == 400
    detail = client.get(f"/anomalies/{database['id']}").text
    text = _text(detail)
    assert "A spike in ServiceName Database, Northwind Cloud" in text
    assert f"+{float(database['impact']):,.2f} USD" in text
    for c in database["contributors"]:
        assert f"{c['dimension']} {c['value']}" in text
    # The chart's table: actual vs expected per day, the anomaly's days marked.
    twin = detail.split('id="around"')[1].split("</table>")[0]
    marked = re.findall(r'<tr class="marked"><th scope="row" data-x="([^"]+)"', twin)
    assert marked[0] == database["startDate"] and marked[-1] == database["endDate"]
    assert client.get("/anomalies/anm_missing").status_code == 404


def test_state_changes_record_who_and_when_and_are_admin_only(
    client: TestClient, catalog: Catalog, admin_key: str, headers: dict[str, str]
) -> None:
    _provider(client, headers, "Northwind Cloud")
    anomaly = client.get("/api/v1/anomalies", headers=headers).json()["data"][0]
    csrf = sign_in(client, admin_key)
    assert client.post(f"/anomalies/{anomaly['id']}/state", data={"state": "Resolved"}).status_code == 403
    done = client.post(
        f"/anomalies/{anomaly['id']}/state",
        data={"csrf_token": csrf, "state": "Acknowledged", "note": "planned load test"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = _text(client.get(done.headers["location"]).text)
    after = client.get(f"/api/v1/anomalies/{anomaly['id']}", headers=headers).json()
    assert after["state"] == "Acknowledged" and after["note"] == "planned load test"
    assert "State set to Acknowledged" in shown and f"set by key {after['stateChangedBy']}" in shown
    assert "planned load test" in shown
    bad = client.post(f"/anomalies/{anomaly['id']}/state", data={"csrf_token": csrf, "state": "Gone"})
    assert bad.status_code == 400 and "State must be one of" in bad.text
    # A read key sees the anomaly and no buttons; the server refuses its POST.
    reader = TestClient(client.app)
    token = sign_in(reader, _key(catalog, ["read"]))
    page = reader.get(f"/anomalies/{anomaly['id']}").text
    assert "Acknowledge</button>" not in page and 'data-testid="read-only"' in page
    refused = reader.post(
        f"/anomalies/{anomaly['id']}/state", data={"csrf_token": token, "state": "Resolved"}
    )
    assert refused.status_code == 403 and "admin" in refused.text
    assert client.get(f"/api/v1/anomalies/{anomaly['id']}", headers=headers).json()["state"] == "Acknowledged"


def test_a_provider_limited_key_sees_only_its_providers_anomalies_and_forecasts(
    client: TestClient, catalog: Catalog, headers: dict[str, str]
) -> None:
    mine = _provider(client, headers, "Mine")
    other = _provider(client, headers, "Other")
    limited = _key(catalog, ["read", "admin"], [mine])
    sign_in(client, limited)
    listed = client.get("/anomalies").text
    theirs = [a["id"] for a in client.get("/api/v1/anomalies", headers=headers).json()["data"]]
    visible = re.findall(r'data-anomaly="([^"]+)"', listed)
    assert visible and set(visible) < set(theirs)
    hidden = next(a for a in theirs if a not in visible)
    assert client.get(f"/anomalies/{hidden}").status_code == 404
    assert "Other" not in _text(client.get("/forecasts").text)
    assert client.get(f"/forecasts?provider={other}").status_code == 404
    # Budgets and webhooks are for keys of the whole workspace, as in the API.
    for path in ("/budgets", "/budgets/new", "/settings/webhooks"):
        refused = client.get(path)
        assert refused.status_code == 403 and "limited to some providers" in refused.text, path


def test_the_forecast_page_shows_the_api_forecast_and_its_table(
    client: TestClient, admin_key: str, headers: dict[str, str]
) -> None:
    provider = _provider(client, headers, "Northwind Cloud")
    api = client.get(f"/api/v1/forecasts?provider={provider}", headers=headers).json()["data"][0]
    sign_in(client, admin_key)
    page = client.get(f"/forecasts?provider={provider}").text
    text = _text(page)
    month = api["monthEnd"]
    assert f"Projected total for {month['month']}" in text
    assert f"{float(month['expected']):,.2f} USD" in text
    assert f"{float(month['actualToDate']):,.2f} USD" in text
    assert f"<code>{api['model']}</code>" in page and "chosen" in text
    # The band's adapted level is explained when it differs from the nominal 80% (as the API reports it).
    explained = f'data-testid="band-level-{api["currency"]}"' in page
    assert explained == (abs(api["bandLevelAdapted"] - api["bandLevel"]) >= 0.02)
    if explained:
        assert f"cut at the {api['bandLevelAdapted'] * 100:.0f}% level" in text
    table = page.split(f'id="fc-table-{api["currency"]}"')[1].split("</table>")[0]
    cells = {
        day: re.findall(r'data-value="([^"]*)"', rest)
        for day, rest in re.findall(r'data-x="([^"]+)"(.*?)</tr>', table, flags=re.S)
    }
    forecast_cells = [(day, values[1]) for day, values in cells.items() if not values[0]]
    assert forecast_cells == [(d["date"], d["expected"]) for d in api["days"]]
    assert [cells[d["date"]][2:] for d in api["days"]] == [[d["lower"], d["upper"]] for d in api["days"]]
    # A dimension value, and a scope without its value named on the form.
    compute = client.get(f"/forecasts?provider={provider}&scope=ServiceName&scopeValue=Compute").text
    assert "ServiceName Compute of Northwind Cloud, USD" in _text(compute)
    missing = client.get(f"/forecasts?provider={provider}&scope=RegionId")
    assert missing.status_code == 400 and "choose which RegionId" in missing.text
    assert "us-east-1" in missing.text  # the values seen are offered


def test_a_short_history_says_so_clearly(client: TestClient, admin_key: str, headers: dict[str, str]) -> None:
    provider = _provider(client, headers, "Fresh Co", days=10)
    sign_in(client, admin_key)
    text = _text(client.get(f"/forecasts?provider={provider}").text)
    assert "Low confidence: only 10 days of history (fewer than 21)." in text
    assert "±50% band" in text and "the mean of the recent days" in text


def test_budgets_create_edit_status_and_delete(
    client: TestClient, admin_key: str, headers: dict[str, str]
) -> None:
    provider = _provider(client, headers, "Northwind Cloud")
    csrf = sign_in(client, admin_key)
    form = client.get("/budgets/new").text
    month = re.search(r'name="amount-(\d{4}-\d{2})"', form)
    assert month is not None
    this_month = month.group(1)
    fields = {
        "csrf_token": csrf,
        "name": "Northwind monthly",
        "scope": f"provider:{provider}",
        "currency": "usd",
        "costColumn": "BilledCost",
        f"amount-{this_month}": "1,000",
        "actual": "50, 100",
        "forecast": "0.5",
    }
    bad = client.post("/budgets/new", data=fields | {"actual": "0"})
    assert bad.status_code == 400 and "thresholds[0].percent must be above 0" in bad.text
    assert 'id="b-actual" name="actual" value="0"' in bad.text  # the form keeps what was typed
    made = client.post("/budgets/new", data=fields, follow_redirects=False)
    assert made.status_code == 303
    budget_id = made.headers["location"].split("/")[2].split("?")[0]
    api = client.get(f"/api/v1/budgets/{budget_id}/status", headers=headers).json()
    assert api["amount"] == "1000"
    page = _text(client.get(made.headers["location"]).text)
    assert "Budget created." in page and "1,000.00 USD" in page
    assert f"{float(api['actual']):,.2f} USD" in page
    assert f"{api['probabilityAboveBudget'] * 100:.0f}%" in page
    assert "Actual reaches 50% (500.00 USD)" in page
    listed = client.get("/budgets").text
    assert f'data-budget="{budget_id}"' in listed and "Northwind monthly" in listed
    assert client.post("/budgets/new", data=fields).status_code == 409  # the name is taken
    # Edit: rename and empty this month's amount (removed, as null in the API).
    edited = client.post(
        f"/budgets/{budget_id}/edit",
        data=fields | {"name": "Renamed", f"amount-{this_month}": ""},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    body = client.get(f"/api/v1/budgets/{budget_id}", headers=headers).json()
    assert body["name"] == "Renamed" and body["amounts"] == {}
    assert "No amount for" in client.get(f"/budgets/{budget_id}").text
    assert "Delete budget “Renamed”?" in client.get(f"/budgets/{budget_id}/delete").text
    assert client.post(f"/budgets/{budget_id}/delete", data={}).status_code == 403
    gone = client.post(f"/budgets/{budget_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert "Budget “Renamed” was deleted." in client.get(gone.headers["location"]).text
    assert client.get(f"/budgets/{budget_id}").status_code == 404


def _view(client: TestClient, headers: dict[str, str], name: str, service: str) -> str:
    query = {
        "metric": "EffectiveCost",
        "filters": [{"dimension": "ServiceName", "op": "equals", "values": [service]}],
    }
    made = client.post("/api/v1/views", headers=headers, json={"name": name, "query": query})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_budget_on_a_saved_view_is_made_with_the_form_and_listed(
    client: TestClient, admin_key: str, headers: dict[str, str]
) -> None:
    provider = _provider(client, headers, "Northwind Cloud")
    view = _view(client, headers, "Databases", "Database")
    csrf = sign_in(client, admin_key)
    form = client.get("/budgets/new").text
    assert f'<option value="provider:{provider}" selected>' in form
    assert '<optgroup label="Saved views">' in form and f'<option value="view:{view}">Databases' in form
    month = re.search(r'name="amount-(\d{4}-\d{2})"', form)
    assert month is not None
    fields = {
        "csrf_token": csrf,
        "name": "Database spend",
        "scope": f"view:{view}",
        "currency": "USD",
        "costColumn": "EffectiveCost",
        f"amount-{month.group(1)}": "500",
        "actual": "80, 100",
        "forecast": "0.5",
    }
    # The API's refusals, named on the form, which keeps the choice.
    unknown = client.post("/budgets/new", data=fields | {"scope": "view:view_missing"})
    assert unknown.status_code == 400 and "scope.id: no view view_missing in this workspace" in unknown.text
    assert 'id="b-scope" name="scope" aria-describedby="b-scope-help" aria-invalid="true"' in unknown.text
    assert client.post("/budgets/new", data=fields | {"scope": ""}).status_code == 400
    assert client.post("/budgets/new", data=fields | {"csrf_token": ""}).status_code == 403
    made = client.post("/budgets/new", data=fields, follow_redirects=False)
    assert made.status_code == 303, made.text
    budget_id = made.headers["location"].split("/")[2].split("?")[0]
    api = client.get(f"/api/v1/budgets/{budget_id}", headers=headers).json()
    assert api["scope"] == {"kind": "view", "id": view} and api["costColumn"] == "EffectiveCost"
    link = f'<a href="/explorer/views/{view}">Databases</a>'
    listed = client.get("/budgets").text
    row = listed.split(f'data-budget="{budget_id}"')[1].split("</tr>")[0]
    assert f"view {link} · EffectiveCost" in row
    detail = client.get(made.headers["location"]).text
    assert link in detail and "Budget created." in detail
    status = client.get(f"/api/v1/budgets/{budget_id}/status", headers=headers).json()
    assert f"{float(status['actual']):,.2f} USD" in _text(detail)
    # The edit form shows the view chosen; moving the budget to the provider is a change of scope.
    assert f'<option value="view:{view}" selected>' in client.get(f"/budgets/{budget_id}/edit").text
    moved = client.post(
        f"/budgets/{budget_id}/edit", data=fields | {"scope": f"provider:{provider}"}, follow_redirects=False
    )
    assert moved.status_code == 303
    after = client.get(f"/api/v1/budgets/{budget_id}", headers=headers).json()
    assert after["scope"] == {"kind": "provider", "id": provider}


def test_the_forecast_page_shows_a_saved_views_forecast(
    client: TestClient, admin_key: str, headers: dict[str, str]
) -> None:
    _provider(client, headers, "Northwind Cloud")
    view = _view(client, headers, "Compute only", "Compute")
    api = client.get(f"/api/v1/forecasts?scope=view&scopeValue={view}", headers=headers).json()["data"]
    assert api
    sign_in(client, admin_key)
    form = client.get("/forecasts").text
    assert (
        '<option value="view">Saved view</option>' in form and f'<option value="{view}">Compute only' in form
    )
    # The API's URL, and the form's (its view select), show the same forecast.
    for url in (f"/forecasts?scope=view&scopeValue={view}", f"/forecasts?scope=view&scopeValue=&view={view}"):
        page = client.get(url)
        assert page.status_code == 200, url
        text = _text(page.text)
        for item in api:
            c, month = item["currency"], item["monthEnd"]
            assert f"Saved view “Compute only”, {c}" in text
            assert f"{float(month['expected']):,.2f} {c}" in text
            assert f"{float(month['actualToDate']):,.2f} {c}" in text
            table = page.text.split(f'id="fc-table-{c}"')[1].split("</table>")[0]
            expected = re.findall(r'data-series="Forecast"', table)
            assert expected and all(f'data-value="{d["expected"]}"' in table for d in item["days"])
        assert f'<option value="{view}" selected>' in page.text
    missing = client.get("/forecasts?scope=view")
    assert missing.status_code == 400 and "Saved view: choose which view to forecast" in missing.text
    assert client.get("/forecasts?scope=view&scopeValue=view_missing").status_code == 404


def test_budgets_import_a_vantage_csv_or_name_its_problems(
    client: TestClient, admin_key: str, headers: dict[str, str], tmp_path: Path
) -> None:
    provider = _provider(client, headers, "Northwind Cloud")
    csrf = sign_in(client, admin_key)
    csv_file = vantage_budgets_csv(tmp_path / "budgets.csv")
    done = client.post(
        "/budgets/import",
        data={"csrf_token": csrf, "provider": provider},
        files={"file": ("budgets.csv", csv_file.read_bytes(), "text/csv")},
    )
    assert done.status_code == 200, done.text
    text = _text(done.text)
    assert "2 budgets created, 0 updated, 5 monthly amounts set." in text
    assert "Skipped (no amount): Engineering." in text
    names = sorted(b["name"] for b in client.get("/api/v1/budgets", headers=headers).json()["budgets"])
    assert names == ["Data team", "Platform team"]
    again = client.post(
        "/budgets/import",
        data={"csrf_token": csrf, "provider": provider},
        files={"file": ("budgets.csv", csv_file.read_bytes(), "text/csv")},
    )
    assert again.status_code == 422 and "exists" in again.text  # without overwrite, names are taken
    broken = client.post(
        "/budgets/import",
        data={"csrf_token": csrf, "provider": provider},
        files={"file": ("b.csv", b"Budget Name,2026-12\nTeam,abc\n", "text/csv")},
    )
    assert broken.status_code == 422
    assert "Problems in the file (nothing was stored)" in broken.text and "2026-12" in broken.text
    empty = client.post(
        "/budgets/import", data={"csrf_token": csrf}, files={"file": ("e.csv", b"", "text/csv")}
    )
    assert empty.status_code == 400 and "choose a CSV file" in empty.text
    forged = client.post(
        "/budgets/import",
        data={"csrf_token": "x"},
        files={"file": ("b.csv", csv_file.read_bytes(), "text/csv")},
    )
    assert forged.status_code == 403


def test_budgets_and_webhooks_need_the_admin_scope(client: TestClient, catalog: Catalog) -> None:
    sign_in(client, _key(catalog, ["read"]))
    for path in ("/budgets", "/settings/webhooks"):
        refused = client.get(path)
        assert refused.status_code == 403 and "admin" in refused.text
    nav = client.get("/anomalies").text
    assert ">Budgets</a>" not in nav and ">Webhooks</a>" not in nav and ">Forecasts</a>" in nav


def _endpoint(client: TestClient, csrf: str, url: str, events: list[str]) -> tuple[str, str, Any]:
    made = client.post("/settings/webhooks", data={"csrf_token": csrf, "url": url, "events": events})
    assert made.status_code == 201, made.text
    secret = re.search(r'data-testid="new-secret">([^<]+)<', made.text)
    endpoint_id = re.search(r'data-testid="webhook-id">([^<]+)<', made.text)
    assert secret and endpoint_id
    return endpoint_id.group(1), secret.group(1), made


def test_webhooks_create_rotate_test_disable_and_delete(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="s", webhook_allow_private_destinations=True)
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = _key(catalog, ["admin"])
        headers = {"Authorization": f"Bearer {key}"}
        csrf = sign_in(client, key)
        refused = client.post(
            "/settings/webhooks", data={"csrf_token": csrf, "url": "ftp://x", "events": ["batch.failed"]}
        )
        assert refused.status_code == 400 and 'aria-invalid="true"' in refused.text
        none = client.post("/settings/webhooks", data={"csrf_token": csrf, "url": "http://127.0.0.1:9/x"})
        assert none.status_code == 400 and "events must be a non-empty list" in none.text
        endpoint_id, secret, made = _endpoint(client, csrf, "http://127.0.0.1:9/x", ["anomaly.created"])
        assert secret.startswith("whsec_") and "shown once" in made.text
        # The secret is shown once: the endpoint's page does not have it.
        page = client.get(f"/settings/webhooks/{endpoint_id}").text
        assert secret not in page and "one secret" in page and "No deliveries yet" in page
        rotated = client.post(f"/settings/webhooks/{endpoint_id}/rotate", data={"csrf_token": csrf})
        assert rotated.status_code == 201
        new_secret = re.search(r'data-testid="new-secret">([^<]+)<', rotated.text)
        assert new_secret and new_secret.group(1) != secret
        api = client.get(f"/api/v1/webhooks/{endpoint_id}", headers=headers).json()
        assert api["previousSecretExpiresAt"] is not None
        assert "two secrets sign deliveries until" in _text(
            client.get(f"/settings/webhooks/{endpoint_id}").text
        )
        sent = client.post(
            f"/settings/webhooks/{endpoint_id}/test", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert sent.status_code == 303
        assert "A webhook.test event was queued" in client.get(sent.headers["location"]).text
        off = client.post(
            f"/settings/webhooks/{endpoint_id}/enabled", data={"csrf_token": csrf, "enabled": "false"}
        )
        assert "Endpoint disabled" in off.text
        assert client.get(f"/api/v1/webhooks/{endpoint_id}", headers=headers).json()["enabled"] is False
        blocked = client.post(f"/settings/webhooks/{endpoint_id}/test", data={"csrf_token": csrf})
        assert blocked.status_code == 409 and "enable it first" in blocked.text
        on = client.post(
            f"/settings/webhooks/{endpoint_id}/enabled", data={"csrf_token": csrf, "enabled": "true"}
        )
        assert "Endpoint enabled" in on.text
        assert client.post(f"/settings/webhooks/{endpoint_id}/rotate", data={}).status_code == 403
        assert "Delete this webhook endpoint?" in client.get(f"/settings/webhooks/{endpoint_id}/delete").text
        gone = client.post(
            f"/settings/webhooks/{endpoint_id}/delete", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert gone.status_code == 303
        assert client.get("/api/v1/webhooks", headers=headers).json()["webhooks"] == []
        assert client.get(f"/settings/webhooks/{endpoint_id}").status_code == 404


def test_private_webhook_destinations_are_refused_by_default(client: TestClient, admin_key: str) -> None:
    csrf = sign_in(client, admin_key)
    refused = client.post(
        "/settings/webhooks",
        data={"csrf_token": csrf, "url": "http://127.0.0.1:8080/x", "events": ["batch.failed"]},
    )
    assert refused.status_code == 400 and "loopback" in _text(refused.text)
    assert "Private, loopback and link-local addresses are refused." in refused.text
    assert csrf_of(refused.text) == csrf
