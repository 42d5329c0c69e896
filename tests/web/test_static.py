"""Vendored static files are the published ones, with their licences beside them, and are served."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from focusbase.web.core import STATIC_DIR


def test_vendored_files_match_their_recorded_digest_and_keep_their_licence() -> None:
    listing = (STATIC_DIR / "README.md").read_text(encoding="utf-8")
    vendored = re.findall(
        r"^\| `([\w.]+)` \|.*SHA-256 `([0-9a-f]{64})`.*`([\w.]+\.LICENSE)` \|$", listing, re.M
    )
    assert [name for name, _, _ in vendored] == ["htmx.min.js", "uplot.min.js", "uplot.min.css"]
    grants = {"htmx.LICENSE": "Permission to use, copy, modify", "uplot.LICENSE": "The MIT License"}
    for name, digest, licence in vendored:
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == digest, name
        assert grants[licence] in (STATIC_DIR / licence).read_text(encoding="utf-8")


def test_static_files_are_served(client: TestClient) -> None:
    for name, kind in (
        ("htmx.min.js", "javascript"),
        ("app.js", "javascript"),
        ("app.css", "text/css"),
        ("uplot.min.js", "javascript"),
        ("chart.js", "javascript"),
    ):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"], name
