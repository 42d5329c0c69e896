"""Opaque, tamper-proof keyset page tokens, signed with the server secret.

A token carries the keyset position after the page it follows (the last row_seq of a FOCUS page, the last
batch's creation time and id of a History page) and a digest of the query (dataset, filters and the key's
scope), signed with HMAC-SHA256. A token that does not verify, or that belongs to another query or
another workspace, is rejected with PageTokenError (the API answers 400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

import orjson

SECRET_FILE = "secret.key"
_VERSION = 1
MAX_TOKEN_LENGTH = 512
# The form of every token this module issues (documented in the OpenAPI document; the signature decides).
TOKEN_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


class PageTokenError(ValueError):
    """A page token that is malformed, forged, or not for this query."""


def load_secret(data_dir: Path, configured: str | None = None) -> bytes:
    """The signing secret: the configured one, else `<data_dir>/secret.key`, created (0600) on first use."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first; read theirs
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip().encode("utf-8")


def query_digest(dataset: str, canonical: object) -> str:
    """A short, stable digest of a query's dataset, filters and scope."""
    body = orjson.dumps({"dataset": dataset, "query": canonical}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()[:24]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:18]


def encode_cursor(secret: bytes, digest: str, cursor: object) -> str:
    """A token resuming the query `digest` after the keyset position `cursor` (any JSON value)."""
    payload = orjson.dumps({"v": _VERSION, "q": digest, "k": cursor})
    return _b64(payload) + "." + _b64(_mac(secret, payload))


def decode_cursor(secret: bytes, token: str, digest: str) -> object:
    """The keyset position a valid token for the query `digest` carries; PageTokenError for anything else."""
    head, sep, tail = token.partition(".")
    if not sep or not head or not tail or len(token) > MAX_TOKEN_LENGTH:
        raise PageTokenError("pageToken is malformed; use the nextPageToken of a previous response unchanged")
    try:
        payload = _unb64(head)
        mac = _unb64(tail)
    except (ValueError, TypeError) as exc:
        raise PageTokenError("pageToken is malformed; use the nextPageToken of a previous response") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise PageTokenError("pageToken was not issued by this server or has been altered")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # pragma: no cover - a valid MAC over bad JSON means a bug
        raise PageTokenError("pageToken is malformed") from exc
    if not isinstance(body, dict) or body.get("v") != _VERSION or "k" not in body:
        raise PageTokenError("pageToken is from an unsupported version; start the walk again")
    if body.get("q") != digest:
        raise PageTokenError(
            "pageToken belongs to a different query: keep the filters of the request that returned it"
        )
    return body["k"]


def encode_token(secret: bytes, digest: str, after_seq: int) -> str:
    """A token resuming the query `digest` after row `after_seq`."""
    return encode_cursor(secret, digest, after_seq)


def decode_token(secret: bytes, token: str, digest: str) -> int:
    """The row_seq a valid token resumes after; PageTokenError for anything else."""
    seq = decode_cursor(secret, token, digest)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise PageTokenError("pageToken is from an unsupported version; start the walk again")
    return seq
