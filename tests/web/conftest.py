"""Helpers for the page tests: signing in through the form and reading the CSRF token off a page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in with the form; returns the session's CSRF token."""
    form = client.get("/sign-in")
    assert form.status_code == 200
    done = client.post(
        "/sign-in", data={"key": key, "csrf_token": csrf_of(form.text), "next": "/"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    return csrf_of(client.get("/sign-in", follow_redirects=True).text)
