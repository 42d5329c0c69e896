"""The explorer API's edges: errors name the field, limits, downloads, currency conversion, saved views."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.analytics import QueryTimeout, deadline
from tests.analytics.conftest import days, make_rows, push_ok, read_headers
from tests.ingest.conftest import Provider

QUERY = "/api/v1/explorer/query"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        rate_limit_read_per_minute=1_000_000,
        rate_limit_ingest_per_minute=100_000,
        explorer_max_groups=6,
        explorer_max_rows=100,
        max_saved_views=3,
    )


@pytest.fixture
def loaded(make_provider: Callable[..., Provider]) -> Provider:
    provider = make_provider("Acme", "USD")
    push_ok(provider, make_rows(200, 21, days(1, 1, 20)))
    return provider


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "Cost"}, "metric"),
        ({"grain": "year"}, "grain"),
        ({"groupBy": ["Bogus"]}, "groupBy[0]"),
        ({"groupBy": ["ServiceName", "RegionId", "provider", "ChargeCategory"]}, "groupBy"),
        ({"groupBy": ["ServiceName", "ServiceName"]}, "groupBy"),
        ({"groupBy": ['tag:a"b']}, "groupBy[0]"),
        ({"groupBy": ["x_bad-name"]}, "groupBy[0]"),
        ({"groupBy": ["BilledCost"]}, "groupBy[0]"),
        ({"filters": [{"dimension": "ServiceName", "op": "like", "values": ["a"]}]}, "filters[0].op"),
        ({"filters": [{"dimension": "ServiceName", "op": "in", "values": []}]}, "filters[0].values"),
        (
            {"filters": [{"dimension": "ServiceName", "op": "equals", "values": ["a", "b"]}]},
            "filters[0].values",
        ),
        ({"filters": [{"dimension": "tag:env", "op": "present", "values": ["x"]}]}, "filters[0].values"),
        ({"filters": [{"dimension": "Nope", "op": "equals", "values": ["x"]}]}, "filters[0].dimension"),
        ({"start": "2025-02-30"}, "start"),
        ({"start": "01/02/2025"}, "start"),
        ({"start": "2025-02-01", "end": "2025-01-01"}, "end"),
        ({"top": 0}, "top"),
        ({"top": 7}, "top"),
        ({"sort": "random"}, "sort"),
        ({"currency": "usd"}, "currency"),
        ({"metric": "ConsumedQuantity", "currency": "USD"}, "currency"),
    ],
)
def test_bad_queries_name_the_field(
    client: TestClient, catalog: Catalog, body: dict[str, Any], field: str
) -> None:
    response = client.post(QUERY, json=body, headers=read_headers(catalog))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "invalid_query" and error["details"] == field
    assert set(error) == {"code", "message", "details"}


def test_malformed_bodies_and_keys(client: TestClient, catalog: Catalog, loaded: Provider) -> None:
    headers = read_headers(catalog)
    unknown = client.post(QUERY, json={"metrics": "BilledCost"}, headers=headers)
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_request"
    wrong_type = client.post(QUERY, json={"groupBy": "ServiceName"}, headers=headers)
    assert wrong_type.status_code == 400 and wrong_type.json()["code"] == "invalid_request"
    assert (
        client.post(QUERY, content=b"{", headers={**headers, "Content-Type": "application/json"}).status_code
        == 400
    )
    assert client.post(QUERY, json={}).status_code == 401
    assert client.post(QUERY, json={}, headers=loaded.headers).status_code == 403
    bad_format = client.post(QUERY, params={"format": "xlsx"}, json={}, headers=headers)
    assert bad_format.status_code == 400 and bad_format.json()["code"] == "invalid_request"


def test_limits_on_groups_and_rows(client: TestClient, catalog: Catalog, loaded: Provider) -> None:
    headers = read_headers(catalog)
    many = {"metric": "BilledCost", "grain": "none", "groupBy": ["ResourceId", "SubAccountId", "ServiceName"]}
    refused = client.post(QUERY, json=many, headers=headers)
    assert refused.status_code == 400 and refused.json()["code"] == "too_many_groups"
    assert refused.json()["details"] == "top"
    kept = client.post(QUERY, json={**many, "top": 2}, headers=headers)
    assert kept.status_code == 200
    body = kept.json()
    assert body["groupCount"] > 6 and {r["other"] for r in body["rows"]} == {True, False}
    assert sum(1 for r in body["rows"] if not r["other"]) == 2 * len(body["totals"])
    daily = client.post(QUERY, json={**many, "grain": "day", "top": 6}, headers=headers)
    assert daily.status_code == 400 and daily.json()["code"] == "result_too_large"


def test_a_statement_past_its_deadline_is_stopped() -> None:
    with duckdb.connect() as conn, pytest.raises(QueryTimeout), deadline(conn, 0.2):
        conn.execute("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3").fetchall()


def test_csv_and_parquet_downloads_hold_the_json_rows(
    client: TestClient, catalog: Catalog, loaded: Provider
) -> None:
    headers = read_headers(catalog)
    query = {"metric": "BilledCost", "grain": "week", "groupBy": ["ServiceName", "tag:env"], "top": 2}
    rows = client.post(QUERY, json=query, headers=headers).json()["rows"]
    expected = [
        (r["currency"], r["period"], r["group"]["ServiceName"], r["group"]["tag:env"], r["other"], r["value"])
        for r in rows
    ]
    text = client.post(QUERY, params={"format": "csv"}, json=query, headers=headers)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    reader = list(csv.DictReader(io.StringIO(text.text)))
    assert list(reader[0]) == [
        "currency",
        "unit",
        "period",
        "ServiceName",
        "tag:env",
        "other",
        "BilledCost",
        "rowCount",
    ]
    assert [
        (
            r["currency"],
            r["period"],
            r["ServiceName"] or None,
            r["tag:env"] or None,
            r["other"] == "true",
            r["BilledCost"],
        )
        for r in reader
    ] == expected
    parquet = client.post(QUERY, params={"format": "parquet"}, json=query, headers=headers)
    assert parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    assert str(table.schema.field("BilledCost").type) == "decimal128(38, 12)"
    got = [
        (r["currency"], r["period"].isoformat(), r["ServiceName"], r["tag:env"], r["other"], r["BilledCost"])
        for r in table.to_pylist()
    ]
    assert got == [(c, p, s, t, o, Decimal(v)) for c, p, s, t, o, v in expected]


def test_currency_conversion_uses_each_days_rate_and_reports_rows_without_one(
    client: TestClient,
    catalog: Catalog,
    admin_headers: dict[str, str],
    loaded: Provider,
) -> None:
    lines = ["date,from,to,rate"] + [f"2025-01-{d:02d},EUR,USD,1.{d:02d}25" for d in range(1, 16)]
    put = client.put(
        "/api/v1/fx-rates",
        content="\n".join(lines).encode(),
        headers={**admin_headers, "Content-Type": "text/csv"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["rateCount"] == 15 and put.json()["pairs"][0]["lastDay"] == "2025-01-15"
    listed = client.get("/api/v1/fx-rates", params={"limit": 2}, headers=read_headers(catalog)).json()
    assert listed["rateCount"] == 15 and listed["rates"][0] == {
        "date": "2025-01-01",
        "from": "EUR",
        "to": "USD",
        "rate": "1.0125",
    }

    body = client.post(
        QUERY,
        json={"metric": "BilledCost", "grain": "none", "currency": "USD"},
        headers=read_headers(catalog),
    ).json()
    assert [t["currency"] for t in body["totals"]] == ["USD"]
    # The unconverted daily figures of the same warehouse (whichever the server runs on) are the oracle.
    daily = client.post(
        QUERY, json={"metric": "BilledCost", "grain": "day"}, headers=read_headers(catalog)
    ).json()["rows"]
    usd = sum(Decimal(r["value"]) for r in daily if r["currency"] == "USD")
    eur = [(date.fromisoformat(r["period"]), Decimal(r["value"])) for r in daily if r["currency"] == "EUR"]
    lacking = [
        r for r in daily if r["currency"] == "JPY" or (r["currency"] == "EUR" and r["period"] > "2025-01-15")
    ]
    missing = [
        (
            c,
            sum(r["rowCount"] for r in lacking if r["currency"] == c),
            sum(r["currency"] == c for r in lacking),
        )
        for c in sorted({r["currency"] for r in lacking})
    ]
    assert {c for c, _, _ in missing} == {"EUR", "JPY"}
    converted = usd + sum(
        (total * Decimal(f"1.{day.day:02d}25")).quantize(Decimal("1e-12"))
        for day, total in eur
        if day.day <= 15
    )
    assert Decimal(body["totals"][0]["value"]) == converted
    report = body["missingRates"]
    assert report["rows"] == sum(n for _, n, _ in missing)
    assert [(c["currency"], c["rows"], c["dayCount"]) for c in report["currencies"]] == missing
    assert all(d > "2025-01-15" for c in report["currencies"] if c["currency"] == "EUR" for d in c["days"])


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("day,from,to,rate\n", "line 1"),
        ("date,from,to,rate\n2025-01-01,EUR,USD\n", "line 2"),
        ("date,from,to,rate\n2025-13-01,EUR,USD,1.1\n", "date"),
        ("date,from,to,rate\n2025-01-01,eur,USD,1.1\n", "from"),
        ("date,from,to,rate\n2025-01-01,EUR,EUR,1.1\n", "both EUR"),
        ("date,from,to,rate\n2025-01-01,EUR,USD,-1\n", "rate"),
        ("date,from,to,rate\n2025-01-01,EUR,USD,0\n", "greater than 0"),
        ("date,from,to,rate\n2025-01-01,EUR,USD,1.12345678901\n", "10 decimals"),
        ("date,from,to,rate\n2025-01-01,EUR,USD,1.1\n2025-01-01,EUR,USD,1.2\n", "line 3: a second rate"),
    ],
)
def test_bad_rates_files_are_refused_naming_the_line(
    client: TestClient, admin_headers: dict[str, str], text: str, needle: str
) -> None:
    response = client.put("/api/v1/fx-rates", content=text.encode(), headers=admin_headers)
    assert response.status_code == 400 and response.json()["code"] == "invalid_rates"
    assert needle in response.json()["message"]


def test_saved_views(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str], loaded: Provider
) -> None:
    reader = read_headers(catalog)
    query = {"metric": "EffectiveCost", "grain": "month", "groupBy": ["ServiceName"], "top": 2}
    created = client.post("/api/v1/views", json={"name": "By service", "query": query}, headers=admin_headers)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["query"]["groupBy"] == ["ServiceName"] and view["workspaceId"] == "ws_default"
    assert client.post("/api/v1/views", json={"name": "x", "query": query}, headers=reader).status_code == 403
    taken = client.post("/api/v1/views", json={"name": "By service", "query": query}, headers=admin_headers)
    assert taken.status_code == 409 and taken.json()["code"] == "view_name_taken"
    bad = client.post(
        "/api/v1/views", json={"name": "Bad", "query": {"metric": "Nope"}}, headers=admin_headers
    )
    assert bad.status_code == 400 and bad.json()["details"] == "query.metric"
    blank = client.post("/api/v1/views", json={"name": " ", "query": {}}, headers=admin_headers)
    assert blank.status_code == 400 and blank.json()["details"] == "name"

    assert [v["name"] for v in client.get("/api/v1/views", headers=reader).json()["data"]] == ["By service"]
    assert client.get(f"/api/v1/views/{view['id']}", headers=reader).json() == view
    run = client.get(f"/api/v1/views/{view['id']}/result", headers=reader).json()
    direct = client.post(QUERY, json=query, headers=reader).json()
    assert run["rows"] == direct["rows"] and run["totals"] == direct["totals"]
    download = client.get(f"/api/v1/views/{view['id']}/result", params={"format": "csv"}, headers=reader)
    assert download.status_code == 200 and download.text.startswith("currency,unit,period,ServiceName")

    renamed = client.patch(
        f"/api/v1/views/{view['id']}",
        json={"name": "Services", "query": {"grain": "none"}},
        headers=admin_headers,
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Services"
    assert renamed.json()["query"]["grain"] == "none" and renamed.json()["query"]["groupBy"] == []
    for name in ("Two", "Three"):
        assert (
            client.post("/api/v1/views", json={"name": name, "query": {}}, headers=admin_headers).status_code
            == 201
        )
    full = client.post("/api/v1/views", json={"name": "Four", "query": {}}, headers=admin_headers)
    assert full.status_code == 409 and full.json()["code"] == "view_limit"
    assert client.delete(f"/api/v1/views/{view['id']}", headers=admin_headers).status_code == 204
    gone = client.get(f"/api/v1/views/{view['id']}", headers=reader)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert client.delete(f"/api/v1/views/{view['id']}", headers=admin_headers).status_code == 404


def test_openapi_documents_every_analytics_route(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    routes = {
        (method, path): op
        for path, item in doc["paths"].items()
        if path.startswith(
            ("/api/v1/explorer", "/api/v1/views", "/api/v1/dashboard", "/api/v1/savings", "/api/v1/fx")
        )
        for method, op in item.items()
    }
    assert len(routes) == 11
    for (method, path), op in routes.items():
        assert op.get("description"), (method, path)
        ok = next(code for code in ("200", "201", "204") if code in op["responses"])
        if ok != "204":
            assert "schema" in op["responses"][ok]["content"]["application/json"], (method, path)
        assert {"400", "401", "403"} <= set(op["responses"]), (method, path)


def test_freshness_and_partial_period_markers(client: TestClient, catalog: Catalog, loaded: Provider) -> None:
    headers = read_headers(catalog)
    cut = {"metric": "BilledCost", "grain": "month", "start": "2025-01-01", "end": "2025-01-16"}
    body = client.post(QUERY, json=cut, headers=headers).json()
    [bucket] = body["buckets"]
    assert bucket == {
        "period": "2025-01-01",
        "end": "2025-02-01",
        "daysInPeriod": 31,
        "daysWithData": 15,
        "partial": True,
        "open": False,
    }
    assert [p["status"] for p in body["billingPeriods"]] == ["closed"]
    assert body["dataCompleteness"] == "Complete"
    assert (
        body["providers"][0]["firstDay"] == "2025-01-01" and body["providers"][0]["lastDay"] == "2025-01-15"
    )
    assert body["dataLastUpdated"] == body["providers"][0]["lastUpdated"] is not None
    # Without an end the current month (still open for the provider) is in the window.
    assert (
        client.post(QUERY, json={"grain": "none"}, headers=headers).json()["dataCompleteness"] == "Incomplete"
    )
    weeks = client.post(QUERY, json={"grain": "week", "end": "2025-01-21"}, headers=headers).json()
    assert [b["period"] for b in weeks["buckets"]] == ["2024-12-30", "2025-01-06", "2025-01-13", "2025-01-20"]
    assert weeks["buckets"][0]["daysWithData"] == 5 and weeks["buckets"][-1]["partial"] is True


def test_random_bodies_never_cause_a_server_error(
    client: TestClient, catalog: Catalog, loaded: Provider
) -> None:
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    headers = read_headers(catalog)
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(["ServiceName", "tag:env", "x_Owner", "provider", "2025-01-05", "USD", "in", "day"]),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )
    fields = ["metric", "grain", "groupBy", "filters", "start", "end", "top", "sort", "currency"]
    filters = st.lists(
        st.fixed_dictionaries({"dimension": values, "op": values}, optional={"values": values}), max_size=2
    )

    @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=st.dictionaries(st.sampled_from(fields), values, max_size=5), extra=filters)
    def no_500(body: dict[str, Any], extra: list[dict[str, Any]]) -> None:
        if extra:
            body = {**body, "filters": extra}
        response = client.post(QUERY, json=body, headers=headers)
        assert response.status_code in (200, 400), (body, response.text)
        assert response.status_code == 200 or set(response.json()) == {"code", "message", "details"}

    no_500()


def test_a_conversion_that_does_not_fit_is_a_422(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str], loaded: Provider
) -> None:
    rates = "date,from,to,rate\n" + "".join(f"2025-01-{d:02d},EUR,USD,{'9' * 28}\n" for d in range(1, 21))
    assert client.put("/api/v1/fx-rates", content=rates.encode(), headers=admin_headers).status_code == 200
    response = client.post(
        QUERY, json={"metric": "BilledCost", "currency": "USD"}, headers=read_headers(catalog)
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "value_out_of_range" and "DuckDB" not in response.json()["message"]
