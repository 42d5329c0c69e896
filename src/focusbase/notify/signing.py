"""Standard Webhooks signing: secrets `whsec_<base64>` and `v1,<base64 HMAC-SHA256>` signatures.

Signing is a few lines of the standard library, so the server does not depend on a webhook package;
the tests check every delivery with the reference verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec allows 24 to 64


def generate_secret() -> str:
    """A new random endpoint secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The raw key bytes of a `whsec_` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_in_use: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per valid secret, space separated (rotation)."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_in_use)
