"""Docs stay complete: every CLI command and every error code the server can return is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from focusbase.api.errors import _STATUS_CODES
from focusbase.cli import _register, app

REPO = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
)
# An error constructor with its code: ApiError(404, "not_found", ...), ImportFileError("empty_file", ...).
# ExportRequestError's and QueryError's first argument is a field name, not a code.
_ERROR_CALL = re.compile(
    r"\b(?!ExportRequestError|QueryError)[A-Z][A-Za-z]*Error\(\s*(?:\d{3}\s*,\s*)?\"([a-z]+(?:_[a-z0-9]+)*)\"",
    re.S,
)


def _command_paths() -> list[str]:
    _register()
    paths: list[str] = []

    def walk(command: object, prefix: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, f"{prefix} {name}")
        else:
            paths.append(prefix)

    walk(typer.main.get_command(app), "focusbase")
    return paths


def _error_codes() -> set[str]:
    codes = set(_STATUS_CODES.values())
    for path in (REPO / "src" / "focusbase").rglob("*.py"):
        codes.update(_ERROR_CALL.findall(path.read_text(encoding="utf-8")))
    return codes


def test_every_cli_command_is_documented() -> None:
    paths = _command_paths()
    assert "focusbase validate" in paths and "focusbase keys create" in paths
    missing = [path for path in paths if not re.search(rf"(?<![\w-]){re.escape(path)}(?![\w-])", DOCS)]
    assert missing == []


def test_every_error_code_is_documented() -> None:
    codes = _error_codes()
    assert {"not_found", "validation_failed", "empty_file", "invalid_page_token"} <= codes
    errors = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    assert sorted(code for code in codes if f"| `{code}` |" not in errors) == []
