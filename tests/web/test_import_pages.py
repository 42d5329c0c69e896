"""The Import data tab over the in-process client: upload, edit the mapping, import, and its refusals."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from focusbase.app import create_app
from focusbase.config import Settings
from focusbase.storage import Catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID
from focusbase.tenancy.keys import create_key
from tests.web.conftest import sign_in

VENDOR = Path(__file__).resolve().parent.parent / "cases" / "imports" / "vendor_semicolon_decimal_comma.csv"


def _provider(client: TestClient, headers: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/providers", headers=headers, json={"name": "Vendor", "defaultCurrency": "EUR"}
    )
    return str(made.json()["id"])


def _upload(client: TestClient, provider_id: str, token: str | None, path: Path = VENDOR) -> str:
    data = {"csrf_token": token} if token is not None else {}
    shown = client.post(
        f"/settings/integrations/{provider_id}/import/preview",
        data=data,
        files={"file": (path.name, path.read_bytes(), "text/csv")},
    )
    assert shown.status_code == 200, shown.text
    return shown.text


def _form(page: str, token: str, **changes: str) -> dict[str, str]:
    """The editor's fields as the page fills them, with some changed."""
    form: dict[str, str] = {"csrf_token": token}
    for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page):
        form[name] = value
    for name, value in re.findall(r'<input id="\w+" name="([nfc]v?\d+)" value="([^"]*)"', page):
        form[name] = value
    for name in re.findall(r'<input type="checkbox" name="(\w+)" checked', page):
        form[name] = "on"
    for select in re.finditer(r'<select id="(t\d+)" name="t\d+">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', select.group(2))
        form[select.group(1)] = chosen.group(1) if chosen else ""
    form.update(changes)
    return form


def _spooled(settings: Settings) -> list[str]:
    folder = settings.data_dir / "imports" / "web"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_review_edit_and_import_a_vendor_file(
    client: TestClient, admin_key: str, admin_headers: dict[str, str], settings: Settings
) -> None:
    token = sign_in(client, admin_key)
    provider_id = _provider(client, admin_headers)
    page = _upload(client, provider_id, token)
    assert "suggested: review it, then import" in page
    assert "ChargePeriodStart · 60% · suggested" in page and 'value="%d/%m/%Y"' in page
    edited = _form(page, token, t4="tag", n4="env", t5="tag", n5="team", t6="ignore", cv0="Usage")
    preview = client.post(f"/settings/integrations/{provider_id}/import/preview", data=edited)
    assert preview.status_code == 200 and "No findings: the sample is valid FOCUS." in preview.text
    assert (
        "1234.50" in preview.text
        and "{&#34;env&#34;:&#34;prod&#34;,&#34;team&#34;:&#34;core&#34;}" in preview.text
    )
    done = client.post(f"/settings/integrations/{provider_id}/import/run", data=edited)
    assert done.status_code == 200 and "3 line items created" in done.text
    assert "1,222.10 EUR" in done.text
    batches = client.get(f"/api/v1/providers/{provider_id}/batches", headers=admin_headers).json()["batches"]
    assert [(b["source"], b["status"], b["lineItemsCreated"]) for b in batches] == [("csv", "committed", 3)]
    assert Decimal(batches[0]["sums"]["EUR"]["BilledCost"]) == Decimal("1222.10")
    saved = client.get(f"/api/v1/providers/{provider_id}/mapping", headers=admin_headers).json()["mapping"]
    assert saved["tags"] == {"env": "Environment", "team": "Team"} and saved["ignore"] == ["Notes"]
    assert _spooled(settings) == []  # the upload is gone once imported
    # The kept upload cannot be imported twice.
    again = client.post(f"/settings/integrations/{provider_id}/import/run", data=edited)
    assert again.status_code == 410 and "upload it again" in again.text


def test_refusals_name_what_is_wrong_and_store_nothing(
    client: TestClient, admin_key: str, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    token = sign_in(client, admin_key)
    provider_id = _provider(client, admin_headers)
    page = _upload(client, provider_id, token)
    twice = client.post(
        f"/settings/integrations/{provider_id}/import/run",
        data=_form(page, token, t1="col:ChargePeriodStart"),
    )
    assert (
        twice.status_code == 400 and "ChargePeriodStart is mapped from both &#39;Date&#39; and" in twice.text
    )
    unmapped = client.post(
        f"/settings/integrations/{provider_id}/import/run", data=_form(page, token, cv0="Usage")
    )
    assert (
        unmapped.status_code == 422 and "source column &#39;Environment&#39; is not mapped" in unmapped.text
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n2026-06-01,1,S,Usage\n2026-06-02,2,S,Bogus\n",
        "utf-8",
    )
    refused = client.post(
        f"/settings/integrations/{provider_id}/import/run",
        data=_form(_upload(client, provider_id, token, bad), token),
    )
    assert refused.status_code == 422 and "Import refused: nothing was stored" in refused.text
    assert "tick <em>Store the valid rows even if some are invalid</em>" in refused.text
    assert re.search(r"<td>2</td><td>ChargeCategory</td>", refused.text)
    batches = client.get(f"/api/v1/providers/{provider_id}/batches", headers=admin_headers).json()["batches"]
    assert [b["status"] for b in batches] == ["failed"]
    assert client.get("/cost").text.count("No data yet") == 1


def test_an_upload_without_the_token_is_refused_and_deleted(
    client: TestClient, admin_key: str, admin_headers: dict[str, str], settings: Settings
) -> None:
    sign_in(client, admin_key)
    provider_id = _provider(client, admin_headers)
    refused = client.post(
        f"/settings/integrations/{provider_id}/import/preview",
        data={"csrf_token": "wrong"},
        files={"file": (VENDOR.name, VENDOR.read_bytes(), "text/csv")},
    )
    assert refused.status_code == 403
    header = client.post(
        f"/settings/integrations/{provider_id}/import/preview",
        headers={"X-CSRF-Token": "wrong"},
        files={"file": (VENDOR.name, VENDOR.read_bytes(), "text/csv")},
    )
    assert header.status_code == 403
    assert _spooled(settings) == []


def test_a_kept_upload_is_only_for_its_provider_and_key(
    client: TestClient, admin_key: str, admin_headers: dict[str, str], catalog: Catalog
) -> None:
    token = sign_in(client, admin_key)
    first, second = _provider(client, admin_headers), _provider(client, admin_headers)
    form = _form(_upload(client, first, token), token, cv0="Usage")
    assert client.post(f"/settings/integrations/{second}/import/preview", data=form).status_code == 410
    other = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="other", scopes=["admin"])
    other_token = sign_in(client, other.key)
    form["csrf_token"] = other_token
    assert client.post(f"/settings/integrations/{first}/import/preview", data=form).status_code == 410


def test_a_read_key_sees_history_but_cannot_import(
    client: TestClient, catalog: Catalog, admin_headers: dict[str, str]
) -> None:
    provider_id = _provider(client, admin_headers)
    reader = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="r", scopes=["read"])
    sign_in(client, reader.key)
    history = client.get(f"/settings/integrations/{provider_id}/history")
    assert history.status_code == 200 and "Import data" not in history.text
    assert client.get(f"/settings/integrations/{provider_id}/import").status_code == 403


def test_a_large_file_imports_in_the_background_and_history_follows_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="k", import_background_bytes=1000)
    path = tmp_path / "big.csv"
    lines = ["ChargePeriodStart,BilledCost,ServiceName,ChargeCategory,BillingCurrency"]
    lines += [f"2025-03-{1 + i % 28:02d},{i}.01,svc{i % 5},Usage,USD" for i in range(3000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
        headers = {"Authorization": f"Bearer {key}"}
        token = sign_in(client, key)
        provider_id = _provider(client, headers)
        started = client.post(
            f"/settings/integrations/{provider_id}/import/run",
            data=_form(_upload(client, provider_id, token, path), token),
            follow_redirects=False,
        )
        assert started.status_code == 303
        assert started.headers["location"] == f"/settings/integrations/{provider_id}/history"
        for _ in range(600):
            batch = client.get(f"/api/v1/providers/{provider_id}/batches", headers=headers).json()["batches"][
                0
            ]
            if batch["status"] not in ("received", "validating"):
                break
            time.sleep(0.05)
        assert batch["status"] == "committed" and batch["lineItemsCreated"] == 3000
        history = client.get(started.headers["location"]).text
        assert "big.csv" in history and "3,000" in history
        for _ in range(200):  # the upload is deleted once the import's thread is done with it
            if not _spooled(settings):
                break
            time.sleep(0.05)
        assert _spooled(settings) == []


def test_previews_and_imports_count_against_the_keys_ingest_limit(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key="k", rate_limit_ingest_per_minute=2)
    with TestClient(create_app(settings)) as client:
        catalog = client.app.state.runtime.catalog  # type: ignore[attr-defined]
        key = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="a", scopes=["admin"]).key
        token = sign_in(client, key)
        provider_id = _provider(client, {"Authorization": f"Bearer {key}"})
        _upload(client, provider_id, token)
        _upload(client, provider_id, token)
        refused = client.post(
            f"/settings/integrations/{provider_id}/import/preview",
            data={"csrf_token": token},
            files={"file": (VENDOR.name, VENDOR.read_bytes(), "text/csv")},
        )
        assert refused.status_code == 429 and "2 ingest requests a minute" in refused.text
        # The API shares the bucket.
        api = client.get(
            f"/api/v1/providers/{provider_id}/mapping", headers={"Authorization": f"Bearer {key}"}
        )
        assert api.status_code == 404  # not rate limited: reads of the mapping are not ingest requests
        pushed = client.post(
            f"/api/v1/public/ingest/focus/{provider_id}",
            headers={"Authorization": f"Bearer {key}"},
            json={"format": "stackspend.focus", "version": "1", "rows": []},
        )
        assert pushed.status_code == 429
