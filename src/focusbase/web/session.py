"""Web sessions: a signed cookie naming the signed-in key's id, and the CSRF token bound to it.

The cookie never holds a key: only its id, a random nonce and an expiry, signed with HMAC-SHA256 under a
secret derived from the server's secret. Each request re-reads the key by id, so revoking it ends every
session at once. The CSRF token is an HMAC of the nonce: a page form carries it and every unsafe request
must send it back; a new nonce is drawn at sign-in and sign-out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import orjson

COOKIE_NAME = "focusbase_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Session:
    """A browser session: the signed-in key's id (None before sign-in), a nonce and its expiry (epoch s)."""

    key_id: str | None
    nonce: str
    expires: int


def derive_secret(server_secret: bytes) -> bytes:
    """The session-signing secret, separate from every other use of the server's secret."""
    return hmac.new(server_secret, b"focusbase web session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_session(key_id: str | None, lifetime_seconds: int, now: float | None = None) -> Session:
    """A fresh session with a new random nonce."""
    issued = time.time() if now is None else now
    return Session(key_id=key_id, nonce=secrets.token_hex(16), expires=int(issued) + lifetime_seconds)


def encode(secret: bytes, session: Session) -> str:
    """The cookie value: version, payload and signature."""
    payload = _b64(orjson.dumps({"k": session.key_id, "n": session.nonce, "e": session.expires}))
    mac = hmac.new(secret, f"{_VERSION}.{payload}".encode(), hashlib.sha256).digest()
    return f"{_VERSION}.{payload}.{_b64(mac)}"


def decode(secret: bytes, value: str | None, now: float | None = None) -> Session | None:
    """The session a cookie value carries, or None when it is missing, forged, malformed or expired."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        return None
    expected = hmac.new(secret, f"{_VERSION}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(parts[2])
        data = orjson.loads(_unb64(parts[1]))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not hmac.compare_digest(given, expected) or not isinstance(data, dict):
        return None
    key_id, nonce, expires = data.get("k"), data.get("n"), data.get("e")
    if not isinstance(nonce, str) or not isinstance(expires, int) or not isinstance(key_id, str | None):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return Session(key_id=key_id, nonce=nonce, expires=expires)


class EndedSessions:
    """Nonces of sessions signed out in this process, remembered until the sessions would have expired."""

    def __init__(self) -> None:
        self._ended: dict[str, int] = {}
        self._lock = threading.Lock()

    def end(self, session: Session) -> None:
        with self._lock:
            now = time.time()
            for nonce in [n for n, expires in self._ended.items() if expires <= now]:
                del self._ended[nonce]
            self._ended[session.nonce] = session.expires

    def ended(self, session: Session) -> bool:
        with self._lock:
            return session.nonce in self._ended


def csrf_token(secret: bytes, session: Session) -> str:
    """The CSRF token of a session: what its forms carry."""
    return _b64(hmac.new(secret, f"csrf.{session.nonce}".encode(), hashlib.sha256).digest())


def csrf_valid(secret: bytes, session: Session | None, presented: str | None) -> bool:
    """Whether a presented token is this session's (constant time); never without a session."""
    if session is None or not presented:
        return False
    return hmac.compare_digest(presented.encode(), csrf_token(secret, session).encode())
