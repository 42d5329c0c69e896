"""The web app in a real browser (Debian's Chromium via Playwright) against the real server process."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from focusbase.config import Settings
from focusbase.storage import open_catalog
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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with b.live_server(tmp_path / "data") as found:
        yield found


@pytest.fixture
def page(chromium: Any, server: tuple[str, str]) -> Iterator[Any]:
    context = chromium.new_context(viewport=b.DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server[0])
    try:
        yield context.new_page()
    finally:
        context.close()


def _effective(page: Any, provider_id: str, currency: str) -> str | None:
    cell = page.get_by_test_id(f"effective-{provider_id}-{currency}")
    return str(cell.inner_text()) if cell.count() else None


def _tile(page: Any, test_id: str) -> str | None:
    tile = page.get_by_test_id(test_id)
    return str(tile.locator("strong").inner_text()) if tile.count() else None


def _dashboard(page: Any, base: str, as_of: str) -> None:
    """The dashboard through its own form: the As of field, then Show."""
    b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard"))
    page.get_by_label("As of (UTC day)").fill(as_of)
    b.follow(page, page.get_by_role("button", name="Show"))


def _explorer(page: Any, base: str) -> None:
    """All the data by month and service (the explorer's default query)."""
    b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Data Explorer"))


def test_the_custom_provider_journey(page: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    b.sign_in(page, base, admin_key)
    page.get_by_text("No data yet: push or import").wait_for()

    created = b.create_provider(page, base, "Acme Cloud", "USD")
    page.get_by_role("button", name="Copy key").click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == created["key"]
    assert created["key"].startswith("fbk_key_") and created["url"].endswith(f"/focus/{created['id']}")
    # The key is shown once: the tab, loaded again, no longer has it.
    page.goto(f"{base}/settings/integrations/{created['id']}")
    assert page.get_by_test_id("new-key").count() == 0
    assert created["key"] not in page.content()

    pushed = b.push_with_curl_request(page.get_by_test_id("curl").inner_text(), created["key"])
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["lineItemsCreated"] == 1
    _dashboard(page, base, "2026-06-15")
    assert _tile(page, "mtd-USD") == "12.50 USD"
    page.locator(".uplot canvas").first.wait_for()  # the chart is drawn from its table twin
    _explorer(page, base)
    assert _tile(page, "explorer-total-USD") == "12.50 USD" and _tile(page, "explorer-total-EUR") is None

    b.upload_vendor_csv(page, base, created["id"])
    assert page.url.endswith("/import")  # htmx sent the upload and swapped the tab in place
    assert "suggested" in page.get_by_test_id("mapping-source").inner_text()
    assert "60%" in page.get_by_role("row", name=re.compile("^Cost")).inner_text()
    b.edit_vendor_mapping(page)
    preview = page.get_by_role("table", name=re.compile("rows after mapping"))
    assert "Datadog" in preview.inner_text() and "1234.50" in preview.inner_text()
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_role("heading", name=re.compile("Imported vendor_semicolon")).wait_for()
    assert "3 line items created" in page.inner_text("main")

    b.follow(page, page.get_by_role("link", name="See History"))
    rows = page.locator("tr[data-batch]")
    assert rows.count() == 2
    sources = [rows.nth(i).locator("td").first.inner_text() for i in range(2)]
    assert sources[0].startswith("csv") and "vendor_semicolon_decimal_comma.csv" in sources[0]
    assert sources[1].startswith("push")
    assert "1,222.10 EUR" in rows.nth(0).inner_text() and "12.50 USD" in rows.nth(1).inner_text()

    b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Cost"))
    assert _effective(page, created["id"], "EUR") == "1,222.10 EUR"
    assert _effective(page, created["id"], "USD") == "12.50 USD"
    _dashboard(page, base, "2025-04-02")  # the import's rows: 31 Mar to 2 Apr 2025
    assert _tile(page, "mtd-EUR") == "-12.40 EUR" and _tile(page, "mtd-USD") is None
    _explorer(page, base)
    assert _tile(page, "explorer-total-EUR") == "1,222.10 EUR"
    assert _tile(page, "explorer-total-USD") == "12.50 USD"
    assert page.get_by_text("Mixed currencies").count() == 1

    # Revert the import: a confirmation first; cancelling changes nothing.
    page.goto(f"{base}/settings/integrations/{created['id']}/history")
    import_batch = rows.nth(0).get_attribute("data-batch")
    b.follow(page, page.get_by_role("link", name=f"Revert batch {import_batch}"))
    page.get_by_role("heading", name=re.compile("Revert batch")).wait_for()
    b.follow(page, page.get_by_role("link", name="Cancel"))
    assert "committed" in page.locator(f'tr[data-batch="{import_batch}"]').inner_text()
    b.follow(page, page.get_by_role("link", name=f"Revert batch {import_batch}"))
    b.follow(page, page.get_by_role("button", name="Revert batch"))
    page.get_by_text(f"Batch {import_batch} was reverted").wait_for()
    assert "reverted" in page.locator(f'tr[data-batch="{import_batch}"]').inner_text()

    b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Cost"))
    assert _effective(page, created["id"], "EUR") is None
    assert _effective(page, created["id"], "USD") == "12.50 USD"
    _dashboard(page, base, "2025-04-02")
    assert _tile(page, "mtd-EUR") is None
    assert page.get_by_role("heading", name="No cost in these 30 days").count() == 1
    _explorer(page, base)
    assert _tile(page, "explorer-total-EUR") is None and _tile(page, "explorer-total-USD") == "12.50 USD"

    # The mapping was saved: the next upload of the same file uses it as it is.
    b.upload_vendor_csv(page, base, created["id"])
    assert page.get_by_test_id("mapping-source").inner_text() == "your saved mapping"
    assert page.get_by_test_id("no-findings").count() == 1


def _two_currencies(base: str, admin_key: str) -> dict[str, str]:
    """Two providers (USD and EUR) with pushed rows across services and days: {currency: provider id}."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    ids = {}
    for name, currency, costs in (
        ("Acme", "USD", ("10.25", "3.5", "7")),
        ("Euro Co", "EUR", ("100", "20.5", "1")),
    ):
        made = httpx.post(
            f"{base}/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": currency}
        ).json()
        rows = [
            {"ChargePeriodStart": day, "BilledCost": cost, "ServiceName": service, "ChargeCategory": "Usage"}
            for day, cost, service in zip(
                ("2026-05-03", "2026-06-01", "2026-06-02"),
                costs,
                ("Compute", "Compute", "Storage"),
                strict=True,
            )
        ]
        pushed = httpx.post(
            made["ingestUrl"],
            json={"format": "stackspend.focus", "version": "1", "rows": rows},
            headers={"Authorization": f"Bearer {made['ingestKey']}"},
        )
        assert pushed.status_code == 200, pushed.text
        ids[currency] = made["id"]
    return ids


def test_the_explorer_url_is_shareable_and_a_saved_view_opens(
    chromium: Any, page: Any, server: tuple[str, str]
) -> None:
    base, admin_key = server
    _two_currencies(base, admin_key)
    b.sign_in(page, base, admin_key)
    _explorer(page, base)
    page.get_by_label("Grain").select_option("day")
    page.get_by_label("Group by 1").fill("ServiceName")
    page.get_by_label("From (UTC day)").fill("2026-06-01")
    page.get_by_label("Filter 1 dimension").fill("ServiceName")
    page.get_by_label("Filter 1 operator").select_option("in")
    page.get_by_label("Filter 1 values").fill("Compute, Storage")
    b.follow(page, page.get_by_role("button", name="Run query"))
    assert (
        _tile(page, "explorer-total-USD") == "10.50 USD" and _tile(page, "explorer-total-EUR") == "21.50 EUR"
    )
    page.locator(".uplot canvas").first.wait_for()
    twin = page.get_by_role("table", name=re.compile("EffectiveCost per day, USD by ServiceName"))
    assert "3.50 USD" in twin.inner_text() and "7.00 USD" in twin.inner_text()
    shared = page.get_by_label("Link to this result").input_value()
    assert shared == page.url
    # The link, opened in another browser that signs in first, shows the same result.
    with chromium.new_context(viewport=b.PHONE) as other:
        reader = other.new_page()
        reader.goto(shared)
        reader.get_by_label("API key").fill(admin_key)
        b.follow(reader, reader.get_by_role("button", name="Sign in"))
        assert reader.url == shared
        assert _tile(reader, "explorer-total-USD") == "10.50 USD"
        assert _tile(reader, "explorer-total-EUR") == "21.50 EUR"
        assert reader.get_by_label("Filter 1 values").input_value() == "Compute, Storage"
    # The CSV download is the same query's rows.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "currency,unit,period,ServiceName,other,EffectiveCost,rowCount"
    assert "USD,,2026-06-02,Storage,false,7,1" in lines
    # Save the query as a view, go elsewhere, and open it from the list.
    page.get_by_label("Save this query as").fill("June by service")
    b.follow(page, page.get_by_role("button", name="Save view"))
    page.get_by_text("Saved the view “June by service”.").wait_for()
    page.goto(base + "/explorer?metric=BilledCost&grain=none")
    assert _tile(page, "explorer-total-USD") == "20.75 USD"
    b.follow(page, page.get_by_role("link", name="June by service", exact=True))
    assert page.get_by_test_id("view-name").inner_text() == "June by service"
    assert _tile(page, "explorer-total-USD") == "10.50 USD"
    assert page.get_by_label("Filter 1 values").input_value() == "Compute, Storage"
    b.follow(page, page.get_by_role("link", name="Delete view June by service"))
    b.follow(page, page.get_by_role("button", name="Delete view"))
    page.get_by_text("The view was deleted.").wait_for()
    assert page.get_by_role("link", name="June by service", exact=True).count() == 0


def test_a_refused_import_shows_rows_and_columns(page: Any, server: tuple[str, str], tmp_path: Path) -> None:
    base, admin_key = server
    b.sign_in(page, base, admin_key)
    created = b.create_provider(page, base, "Broken Co", "USD")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n"
        "2026-06-01,1.00,Compute,Usage\n2026-06-02,abc,Compute,Usage\n",
        encoding="utf-8",
    )
    page.goto(f"{base}/settings/integrations/{created['id']}/import")
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="Column mapping").wait_for()
    page.get_by_role("button", name="Import", exact=True).click()
    alert = page.get_by_role("alert")
    alert.get_by_text("Import refused: nothing was stored").wait_for()
    errors = alert.get_by_role("table").inner_text()
    assert re.search(r"2\s+BilledCost", errors), errors
    page.goto(f"{base}/settings/integrations/{created['id']}/history")
    failed = page.locator("tr[data-batch]").first
    assert "failed" in failed.inner_text()
    page.get_by_text("1 row error").click()
    assert "BilledCost" in page.get_by_role("table", name=re.compile("Row errors")).inner_text()


def test_a_provider_limited_key_sees_only_its_provider(
    chromium: Any, server: tuple[str, str], tmp_path: Path
) -> None:
    base, admin_key = server
    headers = {"Authorization": f"Bearer {admin_key}"}
    ids = {}
    for name, cost in (("Mine", "7.5"), ("Theirs", "1000")):
        made = httpx.post(
            f"{base}/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": "GBP"}
        )
        ids[name] = made.json()["id"]
        body = {
            "format": "stackspend.focus",
            "version": "1",
            "rows": [
                {
                    "ChargePeriodStart": "2026-06-01",
                    "BilledCost": cost,
                    "ServiceName": "S",
                    "ChargeCategory": "Usage",
                }
            ],
        }
        pushed = httpx.post(
            made.json()["ingestUrl"],
            json=body,
            headers={"Authorization": f"Bearer {made.json()['ingestKey']}"},
        )
        assert pushed.status_code == 200
    catalog = open_catalog(Settings(data_dir=tmp_path / "data"))
    try:
        limited = create_key(
            catalog,
            workspace_id=DEFAULT_WORKSPACE_ID,
            name="mine only",
            scopes=["admin"],
            provider_ids=[ids["Mine"]],
        )
    finally:
        catalog.close()
    context = chromium.new_context(viewport=b.DESKTOP)
    try:
        page = context.new_page()
        b.sign_in(page, base, limited.key)
        assert _effective(page, ids["Mine"], "GBP") == "7.50 GBP"
        assert _effective(page, ids["Theirs"], "GBP") is None and "Theirs" not in page.inner_text("main")
        b.follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations"))
        assert page.get_by_role("link", name="Mine").count() == 1
        assert page.get_by_role("link", name="Theirs").count() == 0
        page.goto(f"{base}/settings/integrations/{ids['Theirs']}/history")
        assert page.get_by_role("heading", name="No such provider").count() == 1
    finally:
        context.close()


def test_csrf_refused_in_the_browser(page: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    b.sign_in(page, base, admin_key)
    page.goto(base + "/settings/integrations/new")
    page.get_by_label("Display name").fill("Forged")
    page.get_by_label("Default currency").fill("USD")
    page.evaluate("document.querySelector('main form input[name=csrf_token]').value = 'forged'")
    page.get_by_role("button", name="Create & get ingest key").click()
    page.get_by_role("heading", name="Form expired").wait_for()
    response = page.request.post(
        base + "/settings/integrations/new", form={"name": "Forged2", "currency": "USD"}
    )
    assert response.status == 403
    # The htmx upload sends the token as a header: a forged one is refused, the error page replaces the tab.
    created = b.create_provider(page, base, "Real", "USD")
    page.goto(f"{base}/settings/integrations/{created['id']}/import")
    page.evaluate(
        "document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRF-Token': 'forged'}));"
        "document.querySelector('main form input[name=csrf_token]').value = 'forged'"
    )
    page.get_by_label("File", exact=True).set_input_files(str(b.VENDOR_CSV))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="Form expired").wait_for()
    assert page.get_by_role("heading", name="Column mapping").count() == 0
    listed = httpx.get(f"{base}/api/v1/providers", headers={"Authorization": f"Bearer {admin_key}"})
    assert [p["name"] for p in listed.json()["providers"]] == ["Real"]


def _violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{page.url} [{v['impact']}] {v['id']}: {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe_in_light_and_dark(chromium: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    problems: list[str] = []
    with chromium.new_context() as context:  # the checker itself finds a serious problem when there is one
        broken = context.new_page()
        broken.set_content('<html lang="en"><title>x</title><main><input type="text"></main></html>')
        assert any("label" in v for v in _violations(broken))
    for scheme in ("light", "dark"):
        context = chromium.new_context(viewport=b.DESKTOP, color_scheme=scheme)
        page = context.new_page()
        try:
            page.goto(base + "/sign-in")
            problems += _violations(page)
            b.sign_in(page, base, admin_key)
            problems += _violations(page)  # Cost, empty
            for path in (
                "/dashboard",
                "/explorer",
                "/savings",
                "/anomalies",
                "/forecasts",
                "/budgets",
                "/settings/webhooks",
            ):
                page.goto(base + path)
                problems += _violations(page)  # the empty states
            created = b.create_provider(page, base, f"Axe {scheme}", "USD")
            problems += _violations(page)  # the key shown once
            assert b.push_with_curl_request(created["curl"], created["key"]).status_code == 200
            pid = created["id"]
            for path in (
                "/cost",
                "/settings/integrations",
                "/settings/integrations/new",
                f"/settings/integrations/{pid}",
                f"/settings/integrations/{pid}/import",
                f"/settings/integrations/{pid}/history",
                f"/settings/integrations/{pid}/delete",
                "/settings/keys",
                "/settings/integrations/prv_missing",
                "/dashboard",
                "/dashboard?asOf=2026-06-01",
                "/explorer",
                "/explorer?metric=BilledCost&grain=day&g=ServiceName&g=provider&top=5&fd1=ServiceName&fo1=contains&fv1=a",
                "/explorer?metric=BilledCost&grain=none&g=ServiceName",
                "/explorer?g=NotAColumn",
                "/savings",
                "/savings?start=2020-01-01&end=2020-02-01",
            ):
                page.goto(base + path)
                if page.locator("[data-chart-for]").count():
                    page.locator(".uplot canvas").first.wait_for()
                problems += _violations(page)
            page.goto(base + "/explorer")
            page.get_by_label("Save this query as").fill(f"View {scheme}")
            b.follow(page, page.get_by_role("button", name="Save view"))
            problems += _violations(page)  # the saved notice and the list
            b.follow(page, page.get_by_role("link", name=f"Delete view View {scheme}"))
            problems += _violations(page)
            batch = (
                page.goto(f"{base}/settings/integrations/{pid}/history")
                and page.locator("tr[data-batch]").first
            )
            page.goto(
                f"{base}/settings/integrations/{pid}/history/{batch.get_attribute('data-batch')}/revert"
            )
            problems += _violations(page)
            b.upload_vendor_csv(page, base, pid)
            problems += _violations(page)  # the mapping editor
            b.edit_vendor_mapping(page)
            page.get_by_role("button", name="Import", exact=True).click()
            page.get_by_role("heading", name=re.compile("Imported")).wait_for()
            problems += _violations(page)
            page.goto(base + "/settings/keys")
            page.get_by_label("Name").fill("reader")
            page.get_by_role("button", name="Create key").click()
            key_id = "key_" + page.get_by_test_id("new-key").inner_text().split("_")[2]
            problems += _violations(page)
            b.follow(page, page.get_by_role("link", name=f"Revoke key reader ({key_id})"))
            problems += _violations(page)
        finally:
            context.close()
    assert problems == []


def test_pages_fit_a_phone_screen(chromium: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    context = chromium.new_context(viewport=b.PHONE)
    page = context.new_page()
    try:
        b.sign_in(page, base, admin_key)
        created = b.create_provider(page, base, "Phone Co", "EUR")
        _two_currencies(base, admin_key)
        for path in (
            "/dashboard?asOf=2026-06-02",
            "/explorer",
            "/explorer?metric=BilledCost&grain=day&g=ServiceName&g=provider&start=2026-05-01",
            "/savings",
            "/cost",
            "/settings/integrations",
            f"/settings/integrations/{created['id']}",
            "/settings/keys",
        ):
            page.goto(base + path)
            if page.locator("[data-chart-for]").count():
                page.locator(".uplot canvas").first.wait_for()
            # The page itself never scrolls sideways; wide tables scroll inside their own box.
            assert page.evaluate("document.documentElement.scrollWidth") <= b.PHONE["width"], path
    finally:
        context.close()


def test_money_keeps_every_digit(page: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    b.sign_in(page, base, admin_key)
    created = b.create_provider(page, base, "Exact", "JPY")
    body = {
        "format": "stackspend.focus",
        "version": "1",
        "rows": [
            {
                "ChargePeriodStart": "2026-06-01",
                "BilledCost": "1234567.123456789",
                "ServiceName": "S",
                "ChargeCategory": "Usage",
            }
        ],
    }
    pushed = httpx.post(created["url"], json=body, headers={"Authorization": f"Bearer {created['key']}"})
    assert pushed.status_code == 200
    page.goto(base + "/cost")
    shown = _effective(page, created["id"], "JPY")
    assert shown == "1,234,567.123456789 JPY"
    assert Decimal(shown.split()[0].replace(",", "")) == Decimal("1234567.123456789")


def test_keyboard_only(page: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    page.goto(base + "/sign-in")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("e => e === document.activeElement")
    assert skip.is_visible()  # shown when focused
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "key"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.type(admin_key)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/cost$"))
    page.goto(base + "/settings/integrations/new")
    page.get_by_label("Display name").focus()
    page.keyboard.type("Keyboard Co")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("EUR")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Create & get ingest key"
    page.keyboard.press("Enter")
    page.get_by_text("copy its ingest key now").wait_for()
    # The explorer's query form: type a group-by, choose a grain with the keyboard, Enter runs it.
    page.goto(base + "/explorer")
    page.get_by_label("Group by 1").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("provider")
    page.get_by_label("Grain").focus()
    page.keyboard.press("End")  # the last grain: none
    page.get_by_label("Group by 1").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "g=provider" in page.url and "grain=none" in page.url


def test_an_upload_shows_its_progress(chromium: Any, server: tuple[str, str], tmp_path: Path) -> None:
    base, admin_key = server
    context = chromium.new_context(viewport=b.DESKTOP)
    try:
        page = context.new_page()
        b.sign_in(page, base, admin_key)
        created = b.create_provider(page, base, "Slow Link", "USD")
        big = tmp_path / "big.csv"
        rows = [f"2025-03-{1 + i % 28:02d},{i}.01,svc,Usage" for i in range(20_000)]
        big.write_text("ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n" + "\n".join(rows) + "\n")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(  # about 3 s for the 590 kB file
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
        )
        page.goto(f"{base}/settings/integrations/{created['id']}/import")
        page.get_by_label("File", exact=True).set_input_files(str(big))
        page.get_by_role("button", name="Upload and preview").click()
        bar = page.get_by_role("progressbar", name="Upload progress")
        bar.wait_for(state="visible")
        page.wait_for_function(
            "() => { const p = document.querySelector('progress.upload-progress');"
            " return p && p.value > 0 && p.value < 100; }"
        )
        page.get_by_role("heading", name="Column mapping").wait_for()
        assert page.get_by_test_id("mapping-source").inner_text() == "matched automatically"
    finally:
        context.close()


def test_the_pages_work_without_javascript(chromium: Any, server: tuple[str, str]) -> None:
    base, admin_key = server
    context = chromium.new_context(viewport=b.DESKTOP, java_script_enabled=False)
    try:
        page = context.new_page()
        b.sign_in(page, base, admin_key)
        created = b.create_provider(page, base, "No Script", "EUR")
        b.upload_vendor_csv(page, base, created["id"])
        assert page.url.endswith("/import/preview")  # a plain form post, no htmx
        b.edit_vendor_mapping(page)
        b.follow(page, page.get_by_role("button", name="Import", exact=True))
        assert "3 line items created" in page.inner_text("main")
        b.follow(page, page.get_by_role("link", name="See History"))
        batch = page.locator("tr[data-batch]").first.get_attribute("data-batch")
        b.follow(page, page.get_by_role("link", name=f"Revert batch {batch}"))
        b.follow(page, page.get_by_role("button", name="Revert batch"))
        assert f"Batch {batch} was reverted" in page.inner_text("main")
        b.follow(page, page.get_by_role("button", name="Sign out"))
        assert page.url.endswith("/sign-in")
    finally:
        context.close()
