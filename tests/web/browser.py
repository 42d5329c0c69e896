"""Driving the web app in Debian's Chromium with Playwright: the browser, a live server, the journey steps.

Used by tests/web/test_browser.py and by tools/web_screenshots.py (which regenerates docs/screenshots/).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from focusbase.config import Settings
from focusbase.storage import open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.conftest import serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VENDOR_CSV = (
    Path(__file__).resolve().parent.parent / "cases" / "imports" / "vendor_semicolon_decimal_comma.csv"
)
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}


@contextmanager
def live_server(data_dir: Path) -> Iterator[tuple[str, str]]:
    """The real app on a free port with a fresh admin key: (base URL, key)."""
    settings = Settings(data_dir=data_dir, secret_key="browser-test-secret")
    with serve_in_thread(settings) as base:
        catalog = open_catalog(Settings(data_dir=data_dir))
        try:
            key = create_key(
                catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="browser admin", scopes=["admin"]
            )
        finally:
            catalog.close()
        yield base, key.key


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright's driver (nothing is downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def follow(page: Any, locator: Any) -> None:
    """Click a link or form button and wait for the page it leads to."""
    with page.expect_navigation():
        locator.click()


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(base + "/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/cost$"))


def create_provider(page: Any, base: str, name: str, currency: str) -> dict[str, str]:
    """Settings -> Integrations -> Custom provider -> Create & get ingest key; reads what the page shows."""
    page.goto(base + "/cost")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Add a custom provider").click()
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Default currency").fill(currency)
    page.get_by_role("button", name="Create & get ingest key").click()
    page.get_by_text("copy its ingest key now").wait_for()
    url = page.get_by_test_id("ingest-url").inner_text()
    return {
        "key": page.get_by_test_id("new-key").inner_text(),
        "url": url,
        "id": url.rsplit("/", 1)[1],
        "curl": page.get_by_test_id("curl").inner_text(),
    }


def push_with_curl_request(curl: str, key: str) -> httpx.Response:
    """Send exactly the request the page's curl example describes (URL, headers, body) with httpx."""
    words = shlex.split(curl.replace("\\\n", " "))
    assert words[:3] == ["curl", "-X", "POST"], words[:3]
    url = words[3]
    headers: dict[str, str] = {}
    body = ""
    rest = words[4:]
    for flag, value in zip(rest[::2], rest[1::2], strict=True):
        if flag == "-H":
            name, _, text = value.partition(": ")
            headers[name] = text
        elif flag == "-d":
            body = value
    headers["Authorization"] = headers["Authorization"].replace("YOUR_INGEST_KEY", key)
    assert json.loads(body)["format"] == "stackspend.focus"
    return httpx.post(url, headers=headers, content=body.encode(), timeout=30)


def upload_vendor_csv(page: Any, base: str, provider_id: str) -> None:
    """Import data tab: upload the vendor CSV and wait for the proposed mapping."""
    page.goto(f"{base}/settings/integrations/{provider_id}/import")
    page.get_by_label("File", exact=True).set_input_files(str(VENDOR_CSV))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="Column mapping").wait_for()


def edit_vendor_mapping(page: Any) -> None:
    """Confirm the suggestions and map what the file's vendor columns mean; then preview."""
    page.get_by_label("Environment goes to").select_option("tag")
    page.get_by_label("Environment: tag key or custom column name").fill("env")
    page.get_by_label("Team goes to").select_option("tag")
    page.get_by_label("Team: tag key or custom column name").fill("team")
    page.get_by_label("Notes goes to").select_option("custom")
    page.get_by_label("ChargeCategory (required)").fill("Usage")
    page.get_by_role("button", name="Preview with this mapping").click()
    page.get_by_test_id("no-findings").wait_for()


DEMO_AS_OF = "2026-05-31"


def push_demo_rows(base: str, admin_key: str) -> None:
    """Two providers (USD, EUR) with a month and a half of daily rows over a few services, one commitment."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    plan = {
        "Northwind Cloud": ("USD", {"Compute": 42, "Storage": 11, "Database": 23, "Networking": 6, "CDN": 3}),
        "Contoso EU": ("EUR", {"Compute": 18, "Analytics": 9}),
    }
    for name, (currency, services) in plan.items():
        made = httpx.post(
            f"{base}/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": currency}
        ).json()
        rows = []
        for day in range(46):  # 2026-04-16 .. 2026-05-31
            when = f"2026-04-{16 + day:02d}" if day < 15 else f"2026-05-{day - 14:02d}"
            for i, (service, cost) in enumerate(services.items()):
                value = cost * (1 + ((day * (i + 3)) % 7) / 10 + (0.4 if day > 30 and i == 1 else 0))
                row = {"ChargePeriodStart": when, "BilledCost": f"{value:.2f}", "ServiceName": service}
                row |= {"ChargeCategory": "Usage", "PricingCategory": "Standard"}
                row["ListCost"] = f"{value * 1.25:.2f}"
                if service == "Compute" and currency == "USD":
                    row |= {
                        "PricingCategory": "Committed",
                        "CommitmentDiscountId": "sp-compute-1y",
                        "CommitmentDiscountName": "Compute savings plan (1 year)",
                        "CommitmentDiscountCategory": "Spend",
                        "CommitmentDiscountType": "Savings Plan",
                        "CommitmentDiscountStatus": "Used",
                        "EffectiveCost": f"{value * 0.8:.2f}",
                        "ContractedCost": f"{value:.2f}",
                    }
                rows.append(row)
                if service == "Compute" and currency == "USD" and day % 3 == 0:
                    rows.append(
                        row
                        | {"CommitmentDiscountStatus": "Unused", "BilledCost": "0"}
                        | {"EffectiveCost": "6.00", "ListCost": "0", "ContractedCost": "0"}
                    )
        pushed = httpx.post(
            made["ingestUrl"],
            json={"format": "stackspend.focus", "version": "1", "rows": rows},
            headers={"Authorization": f"Bearer {made['ingestKey']}"},
            timeout=60,
        )
        assert pushed.status_code == 200, pushed.text
