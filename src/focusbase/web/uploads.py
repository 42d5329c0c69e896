"""Files uploaded on the Import data tab, kept between the preview and the import (one hour at most).

The page refers to a kept file by a random id; it is only handed back to the same key for the same
provider, and it is deleted when imported or when it expires.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from focusbase.ingest.uploads import Upload, spool_dir

TTL_SECONDS = 3600


@dataclass(slots=True)
class Kept:
    """An upload waiting for its import."""

    upload: Upload
    provider_id: str
    key_id: str
    kept_at: float


_KEPT: dict[str, Kept] = {}
_LOCK = threading.Lock()


def upload_dir(data_dir: Path) -> Path:
    """Where the web app spools uploads: its own folder of the import spool directory."""
    path = spool_dir(data_dir) / "web"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sweep(directory: Path) -> None:
    """Delete files an earlier server process left behind (older than the TTL and not kept now)."""
    with _LOCK:
        kept = {k.upload.path.name for k in _KEPT.values() if k.upload.path is not None}
    limit = time.time() - TTL_SECONDS
    for path in directory.iterdir():
        if path.is_file() and not any(path.name.startswith(name) for name in kept):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink(missing_ok=True)
            except OSError:
                continue


def _expire(now: float) -> None:
    for upload_id in [i for i, k in _KEPT.items() if now - k.kept_at > TTL_SECONDS]:
        _KEPT.pop(upload_id).upload.discard()


def keep(upload: Upload, provider_id: str, key_id: str) -> str:
    """Keep a spooled upload for this key and provider; returns its id."""
    upload_id = secrets.token_urlsafe(16)
    now = time.monotonic()
    with _LOCK:
        _expire(now)
        _KEPT[upload_id] = Kept(upload, provider_id, key_id, now)
    return upload_id


def find(upload_id: str, provider_id: str, key_id: str) -> Upload | None:
    """The kept upload, if it exists, has not expired and belongs to this key and provider."""
    with _LOCK:
        _expire(time.monotonic())
        kept = _KEPT.get(upload_id)
    if kept is None or kept.provider_id != provider_id or kept.key_id != key_id:
        return None
    return kept.upload


def discard(upload_id: str) -> None:
    """Delete a kept upload now (after its import)."""
    with _LOCK:
        kept = _KEPT.pop(upload_id, None)
    if kept is not None:
        kept.upload.discard()
