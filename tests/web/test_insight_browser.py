"""Anomalies, forecasts, budgets and webhooks in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.web import browser as b

if not b.CHROMIUM.exists():
    message = (
        f"\n\n!!!!! BROWSER TESTS SKIPPED: {b.CHROMIUM} is missing. Install it with "
        "`apt-get install -y chromium` !!!!!\n"
    )
    sys.stderr.write(message)
    pytest.skip(message, allow_module_level=True)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with b.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path, str]]:
    """One server for the module, with loopback webhook destinations allowed and the demo rows pushed."""
    data = tmp_path_factory.mktemp("insights") / "data"
    with b.live_server(data, webhook_allow_private_destinations=True) as (base, key):
        provider = b.push_insight_rows(base, key)
        yield base, key, data, provider


@pytest.fixture
def page(chromium: Any, server: tuple[str, str, Path, str]) -> Iterator[Any]:
    context = chromium.new_context(viewport=b.DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def _nav(page: Any, name: str) -> None:
    b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name=name))


def _key(data: Path, scopes: list[str]) -> str:
    catalog = Catalog.in_dir(data)
    try:
        return create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="reader", scopes=scopes).key
    finally:
        catalog.close()


def test_an_anomaly_is_explained_and_acknowledged(
    chromium: Any, page: Any, server: tuple[str, str, Path, str]
) -> None:
    base, key, data, _provider = server
    b.sign_in(page, base, key)
    _nav(page, "Anomalies")
    page.get_by_label("Scope", exact=True).select_option("ServiceName")
    page.get_by_label("Scope value").fill("Database")
    b.follow(page, page.get_by_role("button", name="Show"))
    assert page.locator("tr[data-anomaly]").count() == 1
    b.follow(page, page.get_by_role("link", name="Database"))
    page.get_by_role("heading", name="A spike in ServiceName Database, Northwind Cloud").wait_for()
    assert "USD" in page.get_by_test_id("impact").inner_text()
    assert "acct-analytics" in page.get_by_test_id("contributors").inner_text()
    page.locator(".uplot canvas").first.wait_for()  # actual vs expected, drawn from its table
    page.get_by_text("The chart's numbers as a table").click()
    assert page.locator("#around tr.marked").count() >= 1
    page.get_by_label("Note (optional)").fill("planned load test")
    b.follow(page, page.get_by_role("button", name="Acknowledge"))
    page.get_by_text("State set to Acknowledged.").wait_for()
    state = page.get_by_test_id("state").inner_text()
    assert "Acknowledged" in state and "set by key key_" in state and "UTC" in state
    assert "planned load test" in page.inner_text("main")
    assert page.get_by_role("button", name="Acknowledge").count() == 0  # the current state is not offered
    # A read key sees the anomaly without buttons; the server refuses its post all the same.
    with chromium.new_context(viewport=b.DESKTOP) as other:
        reader = other.new_page()
        b.sign_in(reader, base, _key(data, ["read"]))
        reader.goto(page.url.split("?")[0])
        assert reader.get_by_role("button", name="Resolve").count() == 0
        assert reader.get_by_test_id("read-only").is_visible()
        token = reader.locator("form.signout input[name=csrf_token]").get_attribute("value")
        refused = reader.request.post(
            page.url.split("?")[0] + "/state", form={"csrf_token": token, "state": "Resolved"}
        )
        assert refused.status == 403 and "admin" in refused.text()
    page.reload()
    assert "Acknowledged" in page.get_by_test_id("state").inner_text()


def test_the_forecast_page_draws_actuals_forecast_and_band(
    page: Any, server: tuple[str, str, Path, str]
) -> None:
    base, key, _data, provider = server
    b.sign_in(page, base, key)
    _nav(page, "Forecasts")
    page.locator(".uplot canvas").first.wait_for()
    section = page.get_by_test_id("forecast-USD")
    assert re.search(r"Projected total for \d{4}-\d{2}\s+[\d,]+\.\d{2} USD", section.inner_text())
    assert "Chosen:" in page.get_by_test_id("model-USD").inner_text()
    legend = page.locator(".u-legend").first.inner_text()
    for name in ("Actual", "Forecast", "Low (10%)", "High (90%)"):
        assert name in legend
    table = page.locator("#fc-table-USD tbody tr")
    assert table.count() >= 60  # six weeks of actual days, then the forecast days
    # A dimension value from the form.
    page.get_by_label("Scope", exact=True).select_option("ServiceName")
    page.get_by_label("Scope value").fill("Compute")
    b.follow(page, page.get_by_role("button", name="Forecast"))
    page.get_by_role("heading", name="ServiceName Compute of Northwind Cloud, USD").wait_for()
    assert f"provider={provider}" in page.url and "scopeValue=Compute" in page.url


def test_a_budget_is_created_and_budgets_imported_from_csv(
    page: Any, server: tuple[str, str, Path, str], tmp_path: Path
) -> None:
    base, key, _data, provider = server
    b.sign_in(page, base, key)
    _nav(page, "Budgets")
    b.follow(page, page.get_by_role("link", name="New budget"))
    page.get_by_label("Name").fill("Northwind monthly")
    page.get_by_label("Scope", exact=True).select_option(f"provider:{provider}")
    page.get_by_label("Currency").fill("USD")
    page.locator(".month-grid input").first.fill("5000")
    page.get_by_label("Actual spend, % of the amount").fill("5, 80, 100")
    b.follow(page, page.get_by_role("button", name="Create budget"))
    page.get_by_text("Budget created.").wait_for()
    assert page.get_by_test_id("amount").inner_text().endswith("5,000.00 USD")
    assert "USD" in page.get_by_test_id("actual").inner_text()
    assert "%" in page.get_by_test_id("probability").inner_text()
    thresholds = page.get_by_test_id("thresholds").inner_text()
    assert "Actual reaches 5% (250.00 USD)" in thresholds and "crossed" in thresholds
    _nav(page, "Budgets")
    page.get_by_label("CSV file").set_input_files(str(b.vantage_budgets_csv(tmp_path / "budgets.csv")))
    page.get_by_label("Provider of rows without a Provider column").select_option(provider)
    b.follow(page, page.get_by_role("button", name="Import budgets"))
    result = page.get_by_test_id("import-result").inner_text()
    assert "2 budgets created" in result and "Skipped (no amount): Engineering." in result
    rows = page.locator("tr[data-budget]")
    assert [rows.nth(i).locator("th a").inner_text() for i in range(rows.count())] == [
        "Data team",
        "Northwind monthly",
        "Platform team",
    ]
    assert "3,200.00 USD" in page.locator("tr[data-budget]", has_text="Platform team").inner_text()


def test_a_webhook_is_created_and_its_test_event_arrives(
    page: Any, server: tuple[str, str, Path, str]
) -> None:
    base, key, _data, _provider = server
    b.sign_in(page, base, key)
    with b.receiver() as (url, got):
        _nav(page, "Webhooks")
        page.get_by_label("URL").fill(url)
        for event in ("batch.committed", "batch.failed", "period.restated"):
            page.get_by_role("checkbox", name=re.compile(re.escape(event))).uncheck()
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_test_id("new-secret").inner_text()
        assert secret.startswith("whsec_")
        webhook_id = page.get_by_test_id("webhook-id").inner_text()
        b.follow(page, page.get_by_role("button", name="Send test event"))
        page.get_by_text("A webhook.test event was queued").wait_for()
        for _ in range(50):
            if got:
                break
            page.wait_for_timeout(100)
        assert got and got[0]["body"]["type"] == "webhook.test"
        assert got[0]["headers"]["webhook-signature"].startswith("v1,")
        page.goto(f"{base}/settings/webhooks/{webhook_id}")
        log = page.get_by_test_id("delivery-log").inner_text()
        assert "webhook.test" in log and "succeeded" in log and "200" in log
        assert secret not in page.content()
        b.follow(page, page.get_by_role("button", name="Rotate secret"))
        rotated = page.get_by_test_id("new-secret").inner_text()
        assert rotated != secret and "previous secret" in page.inner_text("main")
        b.follow(page, page.get_by_role("button", name="Disable"))
        assert page.get_by_test_id("webhook-state").inner_text().startswith("State\nDisabled")
        assert page.get_by_role("button", name="Send test event").is_disabled()
        b.follow(page, page.get_by_role("button", name="Enable"))
        b.follow(page, page.get_by_role("link", name="Delete endpoint…"))
        b.follow(page, page.get_by_role("button", name="Delete endpoint"))
        page.get_by_text(f"Endpoint {url} was deleted").wait_for()


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{page.url} [{v['impact']}] {v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_the_new_pages_pass_axe_in_light_and_dark_and_fit_a_phone(
    chromium: Any, server: tuple[str, str, Path, str], tmp_path: Path
) -> None:
    base, key, _data, provider = server
    problems: list[str] = []
    setup = chromium.new_context(viewport=b.DESKTOP)
    try:
        admin = setup.new_page()
        b.sign_in(admin, base, key)
        admin.goto(base + "/budgets/new")
        admin.get_by_label("Name").fill("Axe budget")
        admin.get_by_label("Currency").fill("USD")
        admin.locator(".month-grid input").first.fill("100")
        b.follow(admin, admin.get_by_role("button", name="Create budget"))
        budget = admin.url.split("/")[-1].split("?")[0]
        admin.goto(base + "/settings/webhooks")
        admin.get_by_label("URL").fill("http://127.0.0.1:9/axe")
        admin.get_by_role("button", name="Add endpoint").click()
        webhook = admin.get_by_test_id("webhook-id").inner_text()
        problems += _violations(admin)  # the secret shown once
        b.follow(admin, admin.get_by_role("button", name="Send test event"))
        admin.wait_for_timeout(1000)
        admin.goto(base + "/anomalies")
        anomaly = admin.locator("tr[data-anomaly]").first.get_attribute("data-anomaly")
    finally:
        setup.close()
    paths = [
        "/anomalies",
        "/anomalies?severity=Low&state=Dismissed",
        f"/anomalies/{anomaly}",
        "/forecasts",
        f"/forecasts?provider={provider}&scope=RegionId",
        f"/forecasts?provider={provider}&scope=ServiceName&scopeValue=Nothing",
        "/budgets",
        "/budgets/new",
        f"/budgets/{budget}",
        f"/budgets/{budget}/edit",
        f"/budgets/{budget}/delete",
        "/settings/webhooks",
        f"/settings/webhooks/{webhook}",
        f"/settings/webhooks/{webhook}/delete",
    ]
    for scheme in ("light", "dark"):
        with chromium.new_context(viewport=b.DESKTOP, color_scheme=scheme) as context:
            page = context.new_page()
            b.sign_in(page, base, key)
            for path in paths:
                page.goto(base + path)
                if page.locator("[data-chart-for]").count():
                    page.locator(".uplot canvas").first.wait_for()
                problems += _violations(page)
    with chromium.new_context(viewport=b.PHONE) as context:
        page = context.new_page()
        b.sign_in(page, base, key)
        for path in paths:
            page.goto(base + path)
            if page.locator("[data-chart-for]").count():
                page.locator(".uplot canvas").first.wait_for()
            # The page itself never scrolls sideways; wide tables scroll inside their own box.
            assert page.evaluate("document.documentElement.scrollWidth") <= b.PHONE["width"], path
    assert problems == []


def test_the_new_pages_work_by_keyboard(page: Any, server: tuple[str, str, Path, str]) -> None:
    base, key, _data, _provider = server
    b.sign_in(page, base, key)
    page.goto(base + "/anomalies")
    page.get_by_label("Critical").focus()
    page.keyboard.press("Space")
    for _ in range(20):  # Tab on through the filters (a date field takes a Tab per part) to the button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Show":
            break
    assert page.evaluate("document.activeElement.textContent") == "Show"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "severity=Critical" in page.url
    first = page.locator("tr[data-anomaly] th a").first
    first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.get_by_label("Note (optional)").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
