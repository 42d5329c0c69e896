"""Driving the web app in Debian's Chromium with Playwright: the browser, a live server, the journey steps.

Used by tests/web/test_browser.py and by tools/web_screenshots.py (which regenerates docs/screenshots/).
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
def live_server(data_dir: Path, **overrides: Any) -> Iterator[tuple[str, str]]:
    """The real app on a free port with a fresh admin key: (base URL, key)."""
    settings = Settings(data_dir=data_dir, secret_key="browser-test-secret", **overrides)
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
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook receiver on the loopback interface: (its URL, the requests it got: headers and body)."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got.append({"headers": dict(self.headers), "body": json.loads(body)})
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/focusbase", got
    finally:
        server.shutdown()
        server.server_close()


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


def insight_rows(today: date | None = None, days: int = 90) -> list[dict[str, str]]:
    """90 days up to yesterday of a provider's daily spend by service, account and region, with a weekday
    pattern and a two-day spike in Database 12 days ago (an anomaly with contributors; forecasts and
    budgets of this month have actuals)."""
    end = today or date.today()
    plan = (
        ("Compute", "acct-prod", "us-east-1", 120.0),
        ("Storage", "acct-prod", "us-east-1", 35.0),
        ("Database", "acct-analytics", "eu-west-1", 48.0),
        ("Networking", "acct-prod", "us-east-1", 14.0),
    )
    rows = []
    for back in range(days, 0, -1):
        day = end - timedelta(days=back)
        weekday = 0.8 if day.weekday() >= 5 else 1.0
        for i, (service, account, region, cost) in enumerate(plan):
            wobble = ((back * 7919 + i * 104729) % 13 - 6) / 100  # a fixed pseudo-random ±6%
            value = cost * weekday * (1 + ((back * (i + 3)) % 5) / 50 + wobble)
            if service == "Database" and back in (12, 11):
                value += 900
            rows.append(
                {
                    "ChargePeriodStart": day.isoformat(),
                    "BilledCost": f"{value:.2f}",
                    "EffectiveCost": f"{value:.2f}",
                    "ServiceName": service,
                    "SubAccountId": account,
                    "RegionId": region,
                    "ChargeCategory": "Usage",
                }
            )
    return rows


def push_insight_rows(base: str, admin_key: str, name: str = "Northwind Cloud", days: int = 90) -> str:
    """A USD provider with insight_rows, anomaly detection run on it; returns its id."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    made = httpx.post(
        f"{base}/api/v1/providers", headers=headers, json={"name": name, "defaultCurrency": "USD"}
    ).json()
    pushed = httpx.post(
        made["ingestUrl"],
        json={"format": "stackspend.focus", "version": "1", "rows": insight_rows(days=days)},
        headers={"Authorization": f"Bearer {made['ingestKey']}"},
        timeout=60,
    )
    assert pushed.status_code == 200, pushed.text
    detected = httpx.post(
        f"{base}/api/v1/anomalies/detect", headers=headers, json={"providerId": made["id"]}, timeout=120
    )
    assert detected.status_code == 200, detected.text
    return str(made["id"])


def vantage_budgets_csv(path: Path, today: date | None = None) -> Path:
    """A Vantage budget export for this month and the next two: a parent budget (no amounts, skipped)
    and two budgets, one with a thousands separator, one a month short."""
    day = today or date.today()
    months = []
    year, month = day.year, day.month
    for _ in range(3):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    path.write_text(
        "Budget Name,Parent Budget," + ",".join(months) + "\n"
        "Engineering,,,,\n"
        'Platform team,Engineering,"3,200.00",3300,3400\n'
        "Data team,Engineering,900,950,\n"
    )
    return path
