"""Uploads kept between the preview and the import: only for their key and provider, swept when stale."""

from __future__ import annotations

import os
import time
from pathlib import Path

from focusbase.ingest.uploads import Upload
from focusbase.web import uploads


def _upload(directory: Path, name: str) -> Upload:
    path = directory / name
    path.write_text("Date,Cost\n2026-01-01,1\n", encoding="utf-8")
    return Upload(path=path, file_name="costs.csv", size=path.stat().st_size)


def test_a_kept_upload_goes_only_to_its_key_and_provider(tmp_path: Path) -> None:
    upload = _upload(tmp_path, "a")
    upload_id = uploads.keep(upload, "prv_1", "key_1")
    assert uploads.find(upload_id, "prv_1", "key_1") is upload
    assert uploads.find(upload_id, "prv_2", "key_1") is None
    assert uploads.find(upload_id, "prv_1", "key_2") is None
    assert uploads.find("made-up", "prv_1", "key_1") is None
    uploads.discard(upload_id)
    assert uploads.find(upload_id, "prv_1", "key_1") is None
    assert not (tmp_path / "a").exists()


def test_sweep_deletes_only_stale_files_nobody_keeps(tmp_path: Path) -> None:
    stale, _fresh, kept = (_upload(tmp_path, n) for n in ("stale", "fresh", "kept"))
    old = time.time() - uploads.TTL_SECONDS - 60
    for upload in (stale, kept):
        assert upload.path is not None
        os.utime(upload.path, (old, old))
    upload_id = uploads.keep(kept, "prv_1", "key_1")
    uploads.sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "kept"]
    uploads.discard(upload_id)
