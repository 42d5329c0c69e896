"""The operations and management docs cover every setting, platform command and error code."""

from __future__ import annotations

import re
from pathlib import Path

from focusbase.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented_with_its_default() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2) for m in re.finditer(r"^\| `(FOCUSBASE_[A-Z_]+)` \| ([^|]+) \|", text, re.M)
    }
    missing = [
        f"FOCUSBASE_{name.upper()}"
        for name in Settings.model_fields
        if f"FOCUSBASE_{name.upper()}" not in rows
    ]
    assert missing == []
    for name, field in Settings.model_fields.items():
        default = field.default
        documented = rows[f"FOCUSBASE_{name.upper()}"]
        if isinstance(default, (int, str)) and not isinstance(default, bool):
            assert f"`{default}`" in documented, (name, default, documented)


def test_platform_commands_are_documented() -> None:
    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for command in (
        "focusbase serve",
        "focusbase keys create",
        "focusbase keys list",
        "focusbase keys revoke",
        "focusbase providers create",
        "focusbase providers list",
        "focusbase providers rotate-key",
    ):
        assert command in text, command


def test_management_error_codes_are_documented() -> None:
    text = (DOCS / "management-api.md").read_text(encoding="utf-8")
    sources = Path(__file__).resolve().parents[2] / "src" / "focusbase" / "api"
    codes = set()
    for module in ("providers.py", "keys.py"):
        codes |= set(
            re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', (sources / module).read_text(encoding="utf-8"))
        )
    assert codes >= {"not_found", "invalid_request", "provider_has_data", "period_not_ended", "forbidden"}
    assert [code for code in sorted(codes) if f"`{code}`" not in text] == []
