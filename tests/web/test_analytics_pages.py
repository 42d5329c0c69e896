"""The analytics pages over the in-process client: dashboard, Data Explorer (URL state, CSV, saved views)
and savings, with the same figures and the same scope rules as the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.focusapi.loader import commit_rows
from tests.web.conftest import sign_in


def _provider(client: TestClient, headers: dict[str, str], name: str, currency: str) -> dict[str, str]:
    made = client.post("/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": currency})
    assert made.status_code == 201, made.text
    return dict(made.json())


def _push(client: TestClient, provider: dict[str, str], rows: list[dict[str, str]]) -> None:
    pushed = client.post(
        f"/api/v1/public/ingest/focus/{provider['id']}",
        headers={"Authorization": f"Bearer {provider['ingestKey']}"},
        json={"format": "stackspend.focus", "version": "1", "rows": rows},
    )
    assert pushed.status_code == 200, pushed.text


def _row(day: str, cost: str, service: str, **extra: str) -> dict[str, str]:
    return {
        "ChargePeriodStart": day,
        "BilledCost": cost,
        "ServiceName": service,
        "ChargeCategory": "Usage",
        **extra,
    }


def _data(client: TestClient, headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    usd = _provider(client, headers, "Acme", "USD")
    eur = _provider(client, headers, "Euro Co", "EUR")
    _push(
        client,
        usd,
        [
            _row("2026-05-02", "10.00", "Compute"),
            _row("2026-06-01", "12.50", "Compute"),
            _row("2026-06-02", "7.25", "Storage"),
        ],
    )
    _push(client, eur, [_row("2026-06-02", "100.10", "Database")])
    return usd, eur


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_analytics_pages_have_clear_empty_states(client: TestClient, admin_key: str) -> None:
    sign_in(client, admin_key)
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200 and "No data yet: push or import" in dashboard.text
    explorer = client.get("/explorer", follow_redirects=False)
    assert explorer.status_code == 303 and explorer.headers["location"].startswith("/explorer?metric=")
    shown = client.get(explorer.headers["location"])
    assert shown.status_code == 200 and 'data-testid="explorer-empty"' in shown.text
    savings = client.get("/savings")
    assert savings.status_code == 200 and 'data-testid="savings-empty"' in savings.text
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', dashboard.text, re.S)
    assert nav and "(soon)" not in nav.group(0)
    assert all(f'href="{p}"' in nav.group(0) for p in ("/dashboard", "/explorer", "/savings"))


def test_the_dashboard_shows_the_api_figures_per_currency(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    usd, eur = _data(client, admin_headers)
    sign_in(client, admin_key)
    page = client.get("/dashboard?asOf=2026-06-02")
    api = client.get("/api/v1/dashboard?asOf=2026-06-02", headers=admin_headers).json()
    text = _text(page.text)
    assert [m["monthToDate"] for m in api["monthToDate"]] == ["100.1", "19.75"]
    assert "100.10 EUR" in text and "19.75 USD" in text and "(+97.5%)" in text  # 19.75 vs 10.00
    assert "120" not in text.split("Month to date vs")[1].split("Last 30 days")[0]  # never EUR + USD
    # The chart's table twin: one table per currency, every day of the API's last 30 days, exact values.
    usd_table = re.search(r'<table id="daily-USD".*?</table>', page.text, re.S)
    assert usd_table, "a table twin for USD"
    cells = re.findall(r'data-x="([\d-]+)".*?data-value="([^"]+)"', usd_table.group(0), re.S)
    assert cells == [(r["day"], r["value"]) for r in api["last30Days"] if r["currency"] == "USD"]
    assert 'data-chart-for="daily-USD"' in page.text
    assert f'data-testid="provider-{usd["id"]}-USD">19.75 USD' in page.text
    assert f'data-testid="provider-{eur["id"]}-EUR">100.10 EUR' in page.text
    assert "Biggest movers" in text and "Storage" in text
    assert "Data freshness per provider" in text and "Euro Co" in text
    # A dashboard window without data says so, and points at the freshness table.
    old = client.get("/dashboard?asOf=2020-01-31").text
    assert "No cost in these 30 days" in old
    assert (
        'href="/dashboard?metric=EffectiveCost&amp;asOf=2026-06-02">Show the 30 days up to 2026-06-02' in old
    )
    assert client.get("/dashboard?asOf=2026-13-01").status_code == 400


def test_the_explorer_url_is_the_query_and_matches_the_api(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    _data(client, admin_headers)
    sign_in(client, admin_key)
    params = [("metric", "BilledCost"), ("grain", "day"), ("g", "ServiceName"), ("start", "2026-06-01")]
    params += [("end", "2026-07-01"), ("fd1", "ServiceName"), ("fo1", "in"), ("fv1", "Compute, Storage")]
    page = client.get("/explorer?" + urlencode(params))
    assert page.status_code == 200
    body = {
        "metric": "BilledCost",
        "grain": "day",
        "groupBy": ["ServiceName"],
        "start": "2026-06-01",
        "end": "2026-07-01",
        "filters": [{"dimension": "ServiceName", "op": "in", "values": ["Compute", "Storage"]}],
    }
    api = client.post("/api/v1/explorer/query", headers=admin_headers, json=body).json()
    assert [t["value"] for t in api["totals"]] == ["19.75"]
    assert 'data-testid="explorer-total-USD"' in page.text and "19.75 USD" in _text(page.text)
    assert "EUR" not in _text(page.text.split('id="result-heading"')[1].split('id="share-heading"')[0])
    # The form shows the query back, so the next change starts from it.
    assert 'id="fv1" name="fv1" value="Compute, Storage"' in page.text
    assert 'name="g" list="dimensions" value="ServiceName"' in page.text
    # Chart twin: period rows x service columns, the API's exact values.
    twin = re.search(r'<table id="chart-1".*?</table>', page.text, re.S)
    assert twin and re.findall(r'data-series="([^"]+)"', twin.group(0)) == ["Compute", "Storage"]
    assert re.findall(r'data-value="([^"]+)"', twin.group(0)) == ["12.5", "0", "0", "7.25"]
    # CSV download: the same query, the API's CSV.
    download = client.get("/explorer.csv?" + urlencode(params))
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    api_csv = client.post("/api/v1/explorer/query?format=csv", headers=admin_headers, json=body)
    assert download.content == api_csv.content
    assert next(iter(csv.reader(io.StringIO(download.text))))[-2:] == ["BilledCost", "rowCount"]
    # The share link is the page's own URL.
    share = re.search(r'id="share-url" class="secret" readonly value="([^"]+)"', page.text)
    assert share and share.group(1).endswith("/explorer?" + urlencode(params).replace("&", "&amp;"))


def test_the_explorer_converts_or_splits_currencies(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    _data(client, admin_headers)
    sign_in(client, admin_key)
    by_provider = client.get("/explorer?metric=BilledCost&grain=none&g=provider").text
    table = re.search(r'<table id="result-table".*?</table>', by_provider, re.S)
    assert table and 'data-label="provider">Acme<' in table.group(0) and ">Euro Co</td>" in table.group(0)
    assert "prv_" not in table.group(0)  # providers by name; the CSV keeps their ids, as the API
    split = _text(client.get("/explorer?metric=BilledCost&grain=none&start=2026-06-01").text)
    assert "Mixed currencies" in split and "100.10 EUR" in split and "19.75 USD" in split
    rates = "date,from,to,rate\n2026-06-02,EUR,USD,1.1\n"
    loaded = client.put(
        "/api/v1/fx-rates", headers={**admin_headers, "Content-Type": "text/csv"}, content=rates
    )
    assert loaded.status_code == 200, loaded.text
    converted = _text(client.get("/explorer?metric=BilledCost&grain=none&start=2026-06-01&currency=usd").text)
    assert "converted at the workspace's rates" in converted and "Mixed currencies" not in converted
    assert "129.86 USD" in converted  # 19.75 + 100.10 x 1.1


def test_an_invalid_query_names_its_field(client: TestClient, admin_key: str) -> None:
    sign_in(client, admin_key)
    page = client.get("/explorer?metric=EffectiveCost&g=NotAColumn")
    assert page.status_code == 400
    assert 'data-testid="query-error"' in page.text and "groupBy[0]" in page.text
    assert 'value="NotAColumn"' in page.text  # the form keeps what was typed
    assert client.get("/explorer.csv?metric=Nope").status_code == 400
    late = _text(client.get("/savings?start=2026-06-02&end=2026-06-01").text)
    assert "To: must not be before start" in late


def test_saved_views_save_list_open_and_delete(
    client: TestClient, admin_key: str, admin_headers: dict[str, str], catalog: Catalog
) -> None:
    _data(client, admin_headers)
    csrf = sign_in(client, admin_key)
    current = urlencode([("metric", "BilledCost"), ("grain", "month"), ("g", "provider"), ("top", "5")])
    saved = client.post(
        "/explorer/views",
        data={"name": "Monthly by provider", "query": current, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"])
    assert "Saved the view “Monthly by provider”" in shown.text
    listed = client.get("/api/v1/views", headers=admin_headers).json()["data"]
    assert [(v["name"], v["query"]["groupBy"], v["query"]["top"]) for v in listed] == [
        ("Monthly by provider", ["provider"], 5)
    ]
    view_id = listed[0]["id"]
    assert f'href="/explorer/views/{view_id}"' in shown.text
    # Without the CSRF token nothing is saved.
    forged = client.post("/explorer/views", data={"name": "x", "query": current, "csrf_token": "no"})
    assert forged.status_code == 403
    # A read key opens views and cannot save or delete them (the API's scopes).
    reader = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="reader", scopes=["read"])
    other = TestClient(client.app)  # a second browser; the app (and its lifespan) stays the first client's
    token = sign_in(other, reader.key)
    opened = other.get(f"/explorer/views/{view_id}", follow_redirects=False)
    assert opened.status_code == 303 and "g=provider" in opened.headers["location"]
    page = other.get(opened.headers["location"])
    assert 'data-testid="view-name">Monthly by provider<' in page.text
    assert "Save view" not in page.text and "Delete…" not in page.text
    refused = other.post("/explorer/views", data={"name": "r", "query": current, "csrf_token": token})
    assert refused.status_code == 403
    assert other.post(f"/explorer/views/{view_id}/delete", data={"csrf_token": token}).status_code == 403
    assert "Delete the view" in client.get(f"/explorer/views/{view_id}/delete").text
    gone = client.post(f"/explorer/views/{view_id}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert client.get("/api/v1/views", headers=admin_headers).json()["data"] == []
    assert client.get(f"/explorer/views/{view_id}").status_code == 404
    assert "The view was deleted." in client.get(gone.headers["location"]).text


def test_a_provider_limited_key_sees_only_its_provider(
    client: TestClient, admin_headers: dict[str, str], catalog: Catalog
) -> None:
    usd, _eur = _data(client, admin_headers)
    limited = create_key(
        catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="usd", scopes=["read"], provider_ids=[usd["id"]]
    )
    sign_in(client, limited.key)
    for path in ("/dashboard?asOf=2026-06-02", "/explorer?metric=BilledCost&grain=none", "/savings"):
        text = _text(client.get(path).text)
        assert "EUR" not in text and "Euro Co" not in text, path
        assert "USD" in text, path


def test_savings_per_currency_and_commitment_with_missing_prices(
    client: TestClient, admin_key: str, admin_headers: dict[str, str]
) -> None:
    usd = _provider(client, admin_headers, "Committed", "USD")
    commitment = {
        "CommitmentDiscountId": "cd-1",
        "CommitmentDiscountName": "Compute plan",
        "CommitmentDiscountCategory": "Spend",
        "CommitmentDiscountType": "Savings Plan",
    }
    _push(
        client,
        usd,
        [
            _row(
                "2026-06-01",
                "0",
                "Compute",
                EffectiveCost="6",
                ListCost="10",
                ContractedCost="8",
                CommitmentDiscountStatus="Used",
                PricingCategory="Committed",
                **commitment,
            ),
            _row(
                "2026-06-01",
                "0",
                "Compute",
                EffectiveCost="2",
                ListCost="2.5",
                ContractedCost="2",
                CommitmentDiscountStatus="Unused",
                PricingCategory="Committed",
                ChargeCategory="Usage",
                **commitment,
            ),
        ],
    )
    # A row without list or contracted prices (a push would copy BilledCost into them).
    no_prices = {
        "BillingCurrency": "USD",
        "ChargePeriodStart": datetime(2026, 6, 1),
        "BilledCost": Decimal(4),
    }
    no_prices |= {"EffectiveCost": Decimal(4), "ServiceName": "Storage", "ChargeCategory": "Usage"}
    commit_rows(client.app.state.runtime.warehouse, [no_prices], provider_id=usd["id"])  # type: ignore[attr-defined]
    sign_in(client, admin_key)
    page = client.get("/savings")
    api = client.get("/api/v1/savings", headers=admin_headers).json()
    text = _text(page.text)
    total = api["totals"][0]
    assert total["currency"] == "USD"
    assert total["totalSavings"] == "4.5" and 'data-testid="savings-list-USD">4.50 USD<' in page.text
    assert "Compute plan" in text and "cd-1" in text
    missing = total["missingPrices"]
    assert missing["rowsWithoutListCost"] == 1
    assert "1 (33.3%) lack a list price" in text
    assert f"{float(total['utilization']) * 100:.1f}%" in text
    assert f"{float(total['effectiveSavingsRate']) * 100:.1f}%" in text


def test_the_url_form_of_a_query_round_trips() -> None:
    from starlette.datastructures import QueryParams

    from focusbase.analytics.model import parse_query
    from focusbase.web.analytics_form import body_from_params, params_from_query

    body = {
        "metric": "ListCost",
        "grain": "week",
        "groupBy": ["provider", "tag:env", "x_Owner"],
        "filters": [
            {"dimension": "ServiceName", "op": "not_in", "values": ["A B", "C&D"]},
            {"dimension": "RegionId", "op": "absent"},
            {"dimension": "tag:team", "op": "contains", "values": ["core, web"]},
        ],
        "start": "2026-01-01",
        "end": "2026-02-01",
        "top": 7,
        "sort": "group",
        "currency": "EUR",
    }
    query = parse_query(body, max_groups=100)
    params = QueryParams(urlencode(params_from_query(query.as_json())))
    assert parse_query(body_from_params(params), max_groups=100) == query
    # What a person types: blank fields fall back to the defaults, a lower-case currency is accepted.
    typed = QueryParams("metric=&grain=month&g=&g=ServiceName&fd1=&fo1=equals&fv1=&currency=usd&top=")
    assert body_from_params(typed) == {"grain": "month", "groupBy": ["ServiceName"], "currency": "USD"}
