"""The session cookie and CSRF token: signed, bound to a nonce, expiring, never forgeable."""

from __future__ import annotations

import base64

from focusbase.web import session as sessions

SECRET = sessions.derive_secret(b"server secret")


def test_a_session_round_trips_and_expires() -> None:
    session = sessions.new_session("key_0123456789abcdef", 3600, now=1_000_000)
    value = sessions.encode(SECRET, session)
    assert sessions.decode(SECRET, value, now=1_000_000 + 3599) == session
    assert sessions.decode(SECRET, value, now=1_000_000 + 3600) is None
    assert "fbk_" not in value  # a key id and a nonce, never a key


def test_a_changed_or_foreign_cookie_is_refused() -> None:
    session = sessions.new_session("key_0123456789abcdef", 3600, now=1_000_000)
    value = sessions.encode(SECRET, session)
    version, payload, mac = value.split(".")
    forged_payload = base64.urlsafe_b64encode(b'{"k":"key_ffffffffffffffff","n":"x","e":9999999999}')
    forged = f"{version}.{forged_payload.decode().rstrip('=')}.{mac}"
    assert sessions.decode(SECRET, forged, now=1_000_000) is None
    other = sessions.derive_secret(b"another server")
    assert sessions.decode(other, value, now=1_000_000) is None
    for broken in ("", "v1", "v2." + payload + "." + mac, value + "x", "v1.!!.!!"):
        assert sessions.decode(SECRET, broken, now=1_000_000) is None


def test_the_csrf_token_belongs_to_one_session() -> None:
    first = sessions.new_session(None, 3600)
    second = sessions.new_session(None, 3600)
    token = sessions.csrf_token(SECRET, first)
    assert sessions.csrf_valid(SECRET, first, token)
    assert not sessions.csrf_valid(SECRET, second, token)
    assert not sessions.csrf_valid(SECRET, first, None)
    assert not sessions.csrf_valid(SECRET, first, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not sessions.csrf_valid(SECRET, None, token)
