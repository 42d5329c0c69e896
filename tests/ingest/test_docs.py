"""docs/ingest.md documents every ingest error code and every `focusbase push` option."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "src/focusbase/ingest" / name
    for name in (
        "batches.py",
        "revert.py",
        "custom_columns.py",
        "parts.py",
        "push.py",
        "model.py",
        "normalise.py",
        "lifecycle.py",
    )
] + [ROOT / "src/focusbase/api" / name for name in ("ingest.py", "batches.py")]


def test_every_error_code_is_documented() -> None:
    text = (ROOT / "docs/ingest.md").read_text(encoding="utf-8")
    codes: set[str] = set()
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:IngestError|ApiError)\(\s*\d{3},\s*"([a-z_]+)"', source))
        codes |= set(re.findall(r'"code": "([a-z_]+)"', source))
    assert {"validation_failed", "idempotency_key_reused", "revert_conflict", "unknown_column"} <= codes
    assert [code for code in sorted(codes) if f"`{code}`" not in text] == []


def test_push_cli_options_are_documented() -> None:
    text = (ROOT / "docs/ingest.md").read_text(encoding="utf-8")
    source = (ROOT / "src/focusbase/cli/push.py").read_text(encoding="utf-8")
    options = re.findall(r'typer\.Option\(\s*"(--[a-z-]+)"', source)
    assert "--part-rows" in options
    assert [option for option in options if option not in text] == []
