"""Regenerate docs/screenshots/: every page of the web app at desktop (1280 px) and phone (375 px) width.

    .venv/bin/python tools/web_screenshots.py [OUT_DIR]

Starts the real server on a temporary data directory, walks the custom provider journey in Debian's
Chromium (tests/web/browser.py) and captures each page as it is reached (light colour scheme; History and
Cost, Dashboard and Data Explorer also dark). The analytics pages show a month of pushed demo rows.
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
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots")
