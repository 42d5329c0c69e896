"""The mapping editor's form: a mapping document shown as one row per source column, and read back.

Only the shape changes here (form fields <-> the mapping document of docs/import.md); whether a mapping
is valid and fits the file is decided by the import services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass
from typing import Any

from focusbase.focus import Dataset, all_column_names
from focusbase.validate.columns import INGEST_REQUIRED

CONSTANT_ROWS = 3  # free constant rows besides the required columns the file lacks


class FormError(ValueError):
    """A form that cannot become a mapping document; `field` names the control."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class EditorRow:
    """One source column: where it goes (col:<FOCUS>, tag, custom, ignore or unmapped) and its transforms."""

    header: str
    target: str
    name: str
    date_format: str
    money: bool
    proposal: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Constant:
    """A FOCUS column given one value for every row."""

    column: str
    value: str
    required: bool


def focus_columns(dataset: Dataset = Dataset.COST_AND_USAGE) -> list[str]:
    """The FOCUS columns a source column can be mapped to, alphabetically."""
    return sorted(all_column_names(dataset))


def custom_name(header: str) -> str:
    """A custom column name for a vendor header: x_ and its letters, digits and underscores."""
    return "x_" + (re.sub(r"[^A-Za-z0-9_]+", "_", header).strip("_") or "column")


def editor_rows(
    document: AnyMapping[str, Any], header: list[str], proposals: list[dict[str, Any]]
) -> list[EditorRow]:
    """One row per use of a source column by the mapping document (a column may feed two FOCUS columns)."""
    by_source = {p["source"]: p for p in proposals}
    columns: dict[str, Any] = document.get("columns", {})
    tags = {source: key for key, source in document.get("tags", {}).items()}
    custom = {source: name for name, source in document.get("custom", {}).items()}
    ignore = set(document.get("ignore", []))
    rows: list[EditorRow] = []
    for source in header:
        proposal = by_source.get(source)
        uses = [(col, rule) for col, rule in columns.items() if rule.get("source") == source]
        for column, rule in uses:
            rows.append(
                EditorRow(
                    header=source,
                    target=f"col:{column}",
                    name="",
                    date_format=rule.get("dateFormat") or "",
                    money=rule.get("number") == "money",
                    proposal=proposal,
                )
            )
        if uses:
            continue
        if source in tags:
            target, name = "tag", tags[source]
        elif source in custom:
            target, name = "custom", custom[source]
        elif source in ignore:
            target, name = "ignore", ""
        else:
            target, name = "", ""
        rows.append(EditorRow(source, target, name, "", False, proposal))
    return rows


def constants(document: AnyMapping[str, Any], dataset: Dataset = Dataset.COST_AND_USAGE) -> list[Constant]:
    """Constant rows: those of the document, required columns the document leaves empty, and spares."""
    columns: dict[str, Any] = document.get("columns", {})
    found = [
        Constant(col, str(rule["value"]), col in INGEST_REQUIRED[dataset])
        for col, rule in columns.items()
        if rule.get("value") is not None
    ]
    missing = [Constant(col, "", True) for col in INGEST_REQUIRED[dataset] if col not in columns]
    return found + missing + [Constant("", "", False) for _ in range(CONSTANT_ROWS)]


def _flag(form: AnyMapping[str, Any], name: str) -> bool:
    return str(form.get(name) or "").lower() in ("on", "true", "1", "yes")


def _add_once(names: dict[str, str], name: str, source: str, field: str, what: str) -> None:
    if name in names:
        raise FormError(field, f"{what} {name!r} is given to both {names[name]!r} and {source!r}")
    names[name] = source


def document_from_form(form: AnyMapping[str, Any]) -> dict[str, Any]:
    """The mapping document the editor's fields describe (h<i>, t<i>, n<i>, f<i>, m<i>; cc<j>, cv<j>)."""
    columns: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    tags: dict[str, str] = {}
    custom: dict[str, str] = {}
    ignore: list[str] = []
    count = int(str(form.get("rows") or "0")) if str(form.get("rows") or "0").isdigit() else 0
    for i in range(count):
        source = str(form.get(f"h{i}") or "")
        target = str(form.get(f"t{i}") or "")
        name = str(form.get(f"n{i}") or "").strip()
        if not source:
            continue
        if target.startswith("col:"):
            column = target[4:]
            if column in columns:
                raise FormError(f"t{i}", f"{column} is mapped from both {origin[column]} and {source!r}")
            rule: dict[str, Any] = {"source": source}
            date_format = str(form.get(f"f{i}") or "").strip()
            if date_format:
                rule["dateFormat"] = date_format
            if _flag(form, f"m{i}"):
                rule["number"] = "money"
            columns[column], origin[column] = rule, repr(source)
        elif target == "tag":
            _add_once(tags, name or source, source, f"n{i}", "tag key")
        elif target == "custom":
            _add_once(custom, name or custom_name(source), source, f"n{i}", "custom column")
        elif target == "ignore":
            ignore.append(source)
    for j in range(
        int(str(form.get("constants") or "0")) if str(form.get("constants") or "0").isdigit() else 0
    ):
        column = str(form.get(f"cc{j}") or "").strip()
        value = str(form.get(f"cv{j}") or "")
        if not column or value == "":
            continue
        if column in columns:
            raise FormError(f"cv{j}", f"{column} is mapped from {origin[column]} and also given a constant")
        columns[column], origin[column] = {"value": value}, "a constant"
    options: dict[str, Any] = {
        "nullStrings": [s.strip() for s in str(form.get("nullStrings") or "").split(",") if s.strip()],
        "lenientTimestamps": _flag(form, "lenientTimestamps"),
        "decimalComma": _flag(form, "decimalComma"),
    }
    for key in ("encoding", "delimiter"):
        value = str(form.get(key) or "")
        if value:
            options[key] = "\t" if key == "delimiter" and value == "\\t" else value
    return {"columns": columns, "tags": tags, "custom": custom, "ignore": ignore, "options": options}
