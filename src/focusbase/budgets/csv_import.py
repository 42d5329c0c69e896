"""Import budgets from a Vantage budget CSV: `Budget Name,2024-01,2024-02,...` (+ `Parent Budget`).

Each row is a budget, each YYYY-MM column its amount for that month (an empty cell: no amount). focusbase
also reads three optional columns, `Provider` (a provider id or its unique name), `View` (a saved view id or
its name: the budget measures the view instead of a provider) and `Currency`; without them the import's
`providerId` and `currency` apply, and the currency defaults to the provider's (a view budget needs one).
`Parent Budget` is accepted and ignored (budgets are not hierarchical here), as are other columns; the
answer lists them. As in Vantage, the first column names the budget whatever its heading; a row without any
amount (a Vantage parent budget) is skipped.
The file is stored entirely or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from focusbase.analytics.views import list_views
from focusbase.budgets.model import (
    DEFAULT_THRESHOLDS,
    MAX_NAME,
    PERIOD,
    InvalidBudget,
    parse_amount,
    parse_currency,
    parse_thresholds,
)
from focusbase.runtime import Runtime
from focusbase.storage import budgets as store
from focusbase.storage.catalog import utcnow
from focusbase.tenancy.providers import get_provider

MAX_CSV_BYTES = 1024 * 1024
MAX_ROWS = 1000
MAX_ERRORS = 100
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
NAME_COLUMN = "budget name"
KNOWN = {"parent budget", "provider", "view", "currency"}


class BudgetImportError(Exception):
    """The file cannot be imported; `errors` lists each problem as {row, column, message}."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class ImportResult:
    """What an import stored."""

    created: list[tuple[str, str]] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)
    months_set: int = 0
    skipped: list[str] = field(default_factory=list)  # rows without any amount (Vantage parent budgets)
    ignored_columns: list[str] = field(default_factory=list)


def _amount(text: str, column: str) -> Decimal:
    cleaned = text.strip()
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    return parse_amount(cleaned, column)


def import_budgets(
    runtime: Runtime,
    workspace_id: str,
    data: bytes,
    *,
    provider_id: str | None = None,
    currency: str | None = None,
    overwrite: bool = False,
) -> ImportResult:
    """Create (or with `overwrite`, update) the budgets of a Vantage budget CSV."""
    if len(data) > MAX_CSV_BYTES:
        raise BudgetImportError(f"the file is larger than {MAX_CSV_BYTES} bytes", [])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BudgetImportError("the file is not UTF-8 text", []) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise BudgetImportError(
            "the file has no header row", [{"row": 1, "column": None, "message": "empty"}]
        )
    header = [cell.strip() for cell in rows[0]]
    lowered = [h.lower() for h in header]
    # As in Vantage, the first column names the budget whatever its heading ("Budget Name" usually).
    if PERIOD.match(header[0]):
        raise BudgetImportError(
            "the first column must name the budget (for example 'Budget Name'), not a month",
            [{"row": 1, "column": header[0], "message": "the first column is the budget name"}],
        )
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank:
        raise BudgetImportError(
            f"the header has blank column(s) at position {blank}",
            [{"row": 1, "column": None, "message": f"blank column {i}"} for i in blank],
        )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise BudgetImportError(
            f"the header names {duplicates} more than once",
            [{"row": 1, "column": h, "message": "duplicate column"} for h in duplicates],
        )
    months = {i: h for i, h in enumerate(header) if PERIOD.match(h)}
    if not months:
        raise BudgetImportError(
            "the header has no month column (YYYY-MM)", [{"row": 1, "column": None, "message": "no months"}]
        )
    position: dict[str, int] = {
        n: lowered.index(n) for n in ("provider", "view", "currency") if n in lowered[1:]
    }
    position[NAME_COLUMN] = 0
    result = ImportResult(
        ignored_columns=[
            h for i, h in enumerate(header) if i and i not in months and i not in position.values()
        ]
    )
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if len(body) > MAX_ROWS:
        raise BudgetImportError(f"the file has more than {MAX_ROWS} budgets", [])
    errors: list[dict[str, Any]] = []
    items: list[tuple[dict[str, Any], dict[str, str], str | None]] = []
    seen: set[str] = set()
    thresholds = json.dumps([t.as_json() for t in parse_thresholds(DEFAULT_THRESHOLDS)])
    views = list_views(runtime.catalog, runtime.settings, workspace_id) if "view" in position else []
    view_ids = {v.id: v.id for v in views}
    view_names = {v.name: v.id for v in views}
    now = utcnow()

    def cell(values: list[str], name: str) -> str:
        index = position.get(name)
        return values[index].strip() if index is not None and index < len(values) else ""

    for line, values in enumerate(body, start=2):
        # Trailing cells may be left out (blank) or be empty extras, as spreadsheets write them.
        if len(values) > len(header) and not any(v.strip() for v in values[len(header) :]):
            values = values[: len(header)]
        values = values + [""] * (len(header) - len(values))
        if len(values) != len(header):
            errors.append(
                {
                    "row": line,
                    "column": None,
                    "message": f"{len(values)} fields, the header has {len(header)}",
                }
            )
            continue
        name = cell(values, NAME_COLUMN)
        if not name or len(name) > MAX_NAME:
            errors.append(
                {"row": line, "column": header[0], "message": f"must be 1 to {MAX_NAME} characters"}
            )
            continue
        if name in seen:
            errors.append(
                {"row": line, "column": header[0], "message": f"{name!r} appears twice in the file"}
            )
            continue
        seen.add(name)
        try:
            amounts = {
                months[i]: format(_amount(values[i], months[i]), "f") for i in months if values[i].strip()
            }
        except InvalidBudget as exc:
            errors.append({"row": line, "column": exc.field, "message": str(exc)})
            continue
        if not amounts:
            # A Vantage parent budget (its amounts are its children's): nothing to watch here.
            result.skipped.append(name)
            continue
        view_text = cell(values, "view")
        if view_text:
            if cell(values, "provider"):
                errors.append(
                    {"row": line, "column": "View", "message": "give a Provider or a View, not both"}
                )
                continue
            view_id = view_ids.get(view_text) or view_names.get(view_text)
            if view_id is None:
                errors.append(
                    {
                        "row": line,
                        "column": "View",
                        "message": f"no view {view_text[:64]!r} in this workspace",
                    }
                )
                continue
            try:
                chosen_currency = parse_currency(cell(values, "currency") or currency, "Currency")
            except InvalidBudget:
                errors.append(
                    {
                        "row": line,
                        "column": "Currency",
                        "message": "a view budget needs a Currency (ISO 4217) or the currency parameter",
                    }
                )
                continue
            scope = ("view", view_id)
        else:
            provider_text = cell(values, "provider") or provider_id
            if not provider_text:
                errors.append(
                    {
                        "row": line,
                        "column": "Provider",
                        "message": "no Provider or View column value and no providerId given",
                    }
                )
                continue
            resolved = (
                provider_text if store.live_provider(runtime.catalog, workspace_id, provider_text) else None
            )
            resolved = resolved or store.provider_by_name(runtime.catalog, workspace_id, provider_text)
            provider = get_provider(runtime.catalog, workspace_id, resolved) if resolved else None
            if provider is None:
                errors.append(
                    {
                        "row": line,
                        "column": "Provider",
                        "message": f"no provider {provider_text[:64]!r} in this workspace",
                    }
                )
                continue
            try:
                chosen_currency = parse_currency(
                    cell(values, "currency") or currency or provider.default_currency, "Currency"
                )
            except InvalidBudget as exc:
                errors.append({"row": line, "column": exc.field, "message": str(exc)})
                continue
            scope = ("provider", provider.id)
        existing = store.budget_by_name(runtime.catalog, workspace_id, name)
        if existing is not None and not overwrite:
            errors.append(
                {
                    "row": line,
                    "column": header[0],
                    "message": f"a budget named {name!r} exists; import with overwrite=true to update it",
                }
            )
            continue
        row = {
            "name": name,
            "scope_kind": scope[0],
            "scope_id": scope[1],
            "currency": chosen_currency,
            "cost_column": "BilledCost",
        }
        if existing is None:
            budget_id = "bud_" + secrets.token_hex(8)
            row |= {
                "id": budget_id,
                "workspace_id": workspace_id,
                "thresholds": thresholds,
                "created_at": now,
                "updated_at": now,
            }
            result.created.append((budget_id, name))
            items.append((row, amounts, None))
        else:
            result.updated.append((existing["id"], name))
            items.append((row, amounts, existing["id"]))
        result.months_set += len(amounts)
    if errors:
        raise BudgetImportError(
            f"{len(errors)} row(s) of the file cannot be imported; nothing was stored", errors[:MAX_ERRORS]
        )
    try:
        store.save_many(runtime.catalog, items)
    except store.ViewGone as exc:  # deleted while the file was read
        raise BudgetImportError(
            f"view {str(exc)[:64]} was deleted during the import; nothing was stored",
            [{"row": None, "column": "View", "message": f"no view {str(exc)[:64]}"}],
        ) from exc
    return result
