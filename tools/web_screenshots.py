"""Regenerate docs/screenshots/: every page of the web app at desktop (1280 px) and phone (375 px) width.

    .venv/bin/python tools/web_screenshots.py [--insights] [OUT_DIR]

Starts the real server on a temporary data directory, walks the custom provider journey in Debian's
Chromium (tests/web/browser.py) and captures each page as it is reached (light colour scheme; History and
Cost, Dashboard and Data Explorer also dark). The analytics pages show a month of pushed demo rows.
Then anomalies, forecasts, budgets and webhooks over 90 days of demo rows up to yesterday, with a loopback
webhook receiver (`--insights` regenerates only these).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.web import browser as b  # noqa: E402


def insights(out: Path) -> None:
    """Anomalies, forecasts, budgets and webhooks over 90 days of demo rows up to yesterday."""
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        b.live_server(
            Path(tmp) / "data", webhook_allow_private_destinations=True, budget_sweep_seconds=1
        ) as (base, key),
        b.receiver() as (hook_url, _got),
        b.chromium() as chrome,
    ):
        desktop = chrome.new_context(viewport=b.DESKTOP)
        phone = chrome.new_context(viewport=b.PHONE, device_scale_factor=1)
        page, small = desktop.new_page(), phone.new_page()
        b.sign_in(page, base, key)
        b.sign_in(small, base, key)

        def shot(name: str, path: str | None = None) -> None:
            for target, kind in ((page, "desktop"), (small, "phone")):
                if path is not None:
                    target.goto(base + path)
                if target.locator("[data-chart-for]").count():
                    target.locator(".uplot canvas").first.wait_for()
                target.screenshot(path=str(out / f"{name}-{kind}.png"), full_page=True)
            print("wrote", name)

        shot("anomalies-empty", "/anomalies")
        shot("forecasts-empty", "/forecasts")
        shot("budgets-empty", "/budgets")
        shot("webhooks-empty", "/settings/webhooks")
        provider = b.push_insight_rows(base, key)
        short = b.push_insight_rows(base, key, name="Fresh Co", days=10)
        shot("anomalies", "/anomalies")
        first = page.locator("tr[data-anomaly]").first.get_attribute("data-anomaly")
        shot("anomaly", f"/anomalies/{first}")
        shot("forecast", f"/forecasts?provider={provider}")
        shot("forecast-short-history", f"/forecasts?provider={short}")
        shot("budget-new", "/budgets/new")
        page.get_by_label("Name").fill("Northwind monthly")
        page.get_by_label("Scope", exact=True).select_option(f"provider:{provider}")
        page.get_by_label("Currency").fill("USD")
        month = page.locator(".month-grid input").first
        month.fill("5000")
        b.follow(page, page.get_by_role("button", name="Create budget"))
        budget_url = page.url.split("?")[0]
        page.goto(budget_url)
        small.goto(budget_url)
        shot("budget")
        page.goto(base + "/budgets")
        page.get_by_label("CSV file").set_input_files(str(b.vantage_budgets_csv(Path(tmp) / "budgets.csv")))
        page.get_by_label("Provider of rows without a Provider column").select_option(provider)
        b.follow(page, page.get_by_role("button", name="Import budgets"))
        page.screenshot(path=str(out / "budgets-imported-desktop.png"), full_page=True)
        page.wait_for_timeout(2500)  # the periodic check fires the thresholds crossed
        page.goto(base + "/budgets")
        small.goto(base + "/budgets")
        shot("budgets")
        page.goto(base + "/settings/webhooks")
        page.get_by_label("URL").fill(hook_url)
        page.get_by_label("Description (optional)").fill("On-call bot")
        page.get_by_role("button", name="Add endpoint").click()
        page.get_by_test_id("new-secret").wait_for()
        webhook_id = page.get_by_test_id("webhook-id").inner_text()
        small.goto(f"{base}/settings/webhooks/{webhook_id}")
        page.screenshot(path=str(out / "webhook-created-desktop.png"), full_page=True)
        b.follow(page, page.get_by_role("button", name="Send test event"))
        page.wait_for_timeout(1500)
        page.goto(f"{base}/settings/webhooks/{webhook_id}")
        shot("webhook")
        # An endpoint nobody listens on: the attempt fails and the log shows the next retry.
        page.goto(base + "/settings/webhooks")
        page.get_by_label("URL").fill("http://127.0.0.1:9/unreachable")
        page.get_by_label("Description (optional)").fill("Old receiver")
        page.get_by_role("button", name="Add endpoint").click()
        page.get_by_test_id("new-secret").wait_for()
        failing = page.get_by_test_id("webhook-id").inner_text()
        b.follow(page, page.get_by_role("button", name="Send test event"))
        page.wait_for_timeout(1500)
        shot("webhook-retrying", f"/settings/webhooks/{failing}")
        shot("webhooks", "/settings/webhooks")
        with chrome.new_context(viewport=b.DESKTOP, color_scheme="dark") as dark:
            night = dark.new_page()
            b.sign_in(night, base, key)
            for name, path in (
                ("anomaly", f"/anomalies/{first}"),
                ("forecast", f"/forecasts?provider={provider}"),
            ):
                night.goto(base + path)
                night.locator(".uplot canvas").first.wait_for()
                night.screenshot(path=str(out / f"{name}-dark-desktop.png"), full_page=True)
        desktop.close()
        phone.close()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        b.live_server(Path(tmp) / "data") as (base, key),
        b.chromium() as chrome,
    ):
        desktop = chrome.new_context(viewport=b.DESKTOP)
        phone = chrome.new_context(viewport=b.PHONE, device_scale_factor=1)
        page, small = desktop.new_page(), phone.new_page()
        b.sign_in(small, base, key)

        def shot(name: str, on_phone: Callable[[Any], None] | None = None) -> None:
            page.screenshot(path=str(out / f"{name}-desktop.png"), full_page=True)
            if on_phone is None:
                small.goto(page.url)
            else:
                on_phone(small)
            small.screenshot(path=str(out / f"{name}-phone.png"), full_page=True)
            print("wrote", name)

        page.goto(base + "/sign-in")
        page.screenshot(path=str(out / "sign-in-desktop.png"), full_page=True)
        with chrome.new_context(viewport=b.PHONE) as anonymous:
            signed_out = anonymous.new_page()
            signed_out.goto(base + "/sign-in")
            signed_out.screenshot(path=str(out / "sign-in-phone.png"), full_page=True)
        b.sign_in(page, base, key)
        shot("cost-empty")
        page.goto(base + "/settings/integrations/new")
        page.get_by_label("Display name").fill("Acme Cloud")
        shot("provider-new", lambda p: (p.goto(page.url), p.get_by_label("Display name").fill("Acme Cloud")))
        created = b.create_provider(page, base, "Acme Cloud", "USD")
        mobile = b.create_provider(small, base, "Acme Mobile", "USD")
        shot("provider-created", lambda p: None)
        b.push_with_curl_request(created["curl"], created["key"])
        b.push_with_curl_request(mobile["curl"], mobile["key"])
        page.goto(f"{base}/settings/integrations/{created['id']}")
        shot("provider-key", lambda p: p.goto(f"{base}/settings/integrations/{mobile['id']}"))
        page.goto(f"{base}/settings/integrations/{created['id']}/import")
        shot("import-upload", lambda p: p.goto(f"{base}/settings/integrations/{mobile['id']}/import"))
        b.upload_vendor_csv(page, base, created["id"])
        b.upload_vendor_csv(small, base, mobile["id"])
        b.edit_vendor_mapping(page)
        b.edit_vendor_mapping(small)
        shot("import-mapping", lambda p: None)
        for target in (page, small):
            target.get_by_role("button", name="Import", exact=True).click()
            target.get_by_role("heading", name="Imported vendor_semicolon_decimal_comma.csv").wait_for()
        shot("import-done", lambda p: None)
        page.goto(f"{base}/settings/integrations/{created['id']}/history")
        shot("history", lambda p: p.goto(f"{base}/settings/integrations/{mobile['id']}/history"))
        batch = page.locator("tr[data-batch]").first.get_attribute("data-batch")
        page.goto(f"{base}/settings/integrations/{created['id']}/history/{batch}/revert")
        shot("revert")
        page.goto(base + "/cost")
        shot("cost")
        page.goto(base + "/settings/integrations")
        shot("integrations")
        page.goto(base + "/dashboard")
        shot("dashboard-empty")
        b.push_demo_rows(base, key)
        charted = "[data-chart-for]"

        def drawn(target: Any) -> None:
            if target.locator(charted).count():
                target.locator(".uplot canvas").first.wait_for()

        def visit(path: str) -> Callable[[Any], None]:
            def go(target: Any) -> None:
                target.goto(base + path)
                drawn(target)

            return go

        for name, path in (
            ("dashboard", f"/dashboard?asOf={b.DEMO_AS_OF}"),
            (
                "explorer",
                "/explorer?metric=EffectiveCost&grain=day&g=ServiceName&start=2026-05-01&end=2026-06-01&top=4",
            ),
            ("explorer-table", "/explorer?metric=EffectiveCost&grain=none&g=provider&g=ServiceName"),
            ("savings", "/savings"),
        ):
            visit(path)(page)
            shot(name, visit(path))
        page.goto(base + "/settings/keys")
        page.get_by_label("Name").fill("BI dashboards")
        page.get_by_role("button", name="Create key").click()
        page.get_by_test_id("new-key").wait_for()
        shot("keys", lambda p: p.goto(base + "/settings/keys"))
        with chrome.new_context(viewport=b.DESKTOP, color_scheme="dark") as dark:
            night = dark.new_page()
            b.sign_in(night, base, key)
            for name, path in (
                ("history", f"/settings/integrations/{created['id']}/history"),
                ("cost", "/cost"),
                ("dashboard", f"/dashboard?asOf={b.DEMO_AS_OF}"),
                (
                    "explorer",
                    "/explorer?metric=EffectiveCost&grain=day&g=ServiceName&start=2026-05-01&end=2026-06-01&top=4",
                ),
            ):
                night.goto(base + path)
                if night.locator("[data-chart-for]").count():
                    night.locator(".uplot canvas").first.wait_for()
                night.screenshot(path=str(out / f"{name}-dark-desktop.png"), full_page=True)
        desktop.close()
        phone.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    only_insights = "--insights" in args
    args = [a for a in args if a != "--insights"]
    target = Path(args[0]) if args else REPO / "docs" / "screenshots"
    if not only_insights:
        main(target)
    insights(target)
