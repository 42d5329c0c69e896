"""Signed, expiring download URLs: HMAC-SHA256 over the job id and the expiry, with the server secret."""

from __future__ import annotations

import hashlib
import hmac
import time

from focusbase.config import Settings
from focusbase.query.tokens import SECRET_FILE, load_secret

__all__ = ["SECRET_FILE", "check_signature", "download_query", "server_secret", "sign"]

DOWNLOAD_URL_TTL_SECONDS = 3600


def server_secret(settings: Settings) -> bytes:
    """Settings.secret_key, or the secret generated once into the data directory (shared with page tokens)."""
    return load_secret(settings.data_dir.resolve(), settings.secret_key)


def sign(secret: bytes, job_id: str, expires: int) -> str:
    """The signature of a download link."""
    message = f"export-download:{job_id}:{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def download_query(
    secret: bytes, job_id: str, *, not_after: float | None = None, now: float | None = None
) -> str:
    """`expires=..&signature=..` for a link valid for an hour (never past `not_after`, a Unix time)."""
    now = time.time() if now is None else now
    expires = int(now) + DOWNLOAD_URL_TTL_SECONDS
    if not_after is not None:
        expires = min(expires, int(not_after))
    return f"expires={expires}&signature={sign(secret, job_id, expires)}"


def check_signature(
    secret: bytes, job_id: str, expires: int, signature: str, *, now: float | None = None
) -> str | None:
    """None when the link is valid, else the reason it is not ('invalid' or 'expired')."""
    # compare_digest takes only ASCII text; a signature with anything else cannot be ours.
    if not signature.isascii() or not hmac.compare_digest(sign(secret, job_id, expires), signature):
        return "invalid"
    if (time.time() if now is None else now) >= expires:
        return "expired"
    return None
