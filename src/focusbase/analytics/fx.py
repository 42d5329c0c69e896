"""Currency conversion rates a workspace loads as CSV (`date,from,to,rate`), used by `currency=` queries.

A rate converts an amount in `from` to `to` on one UTC day: amount x rate. Pure parsing here; the warehouse
keeps them (storage.fx_rates.FxRates, DuckDB or ClickHouse) so the explorer joins them by day.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from focusbase.config import Settings
from focusbase.storage.fx_rates import FxRates

HEADER = ["date", "from", "to", "rate"]
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_RATE = re.compile(r"^\d{1,28}(\.\d{1,10})?$")
MAX_LISTED = 10_000


class RatesError(ValueError):
    """An uploaded rates file that cannot be used; the message names the line and column."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_rates(data: bytes, max_rates: int) -> list[tuple[date, str, str, Decimal]]:
    """Rows of a rates CSV: header date,from,to,rate; one rate per day and pair; rates > 0, <= 10 decimals."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RatesError("the rates file is not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != HEADER:
        raise RatesError(f"line 1: the header must be {','.join(HEADER)}", "header")
    rates: list[tuple[date, str, str, Decimal]] = []
    seen: set[tuple[date, str, str]] = set()
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 4:
            raise RatesError(f"line {line}: expected 4 fields (date,from,to,rate), found {len(row)}", "line")
        day_text, source, target, rate_text = (cell.strip() for cell in row)
        try:
            day = date.fromisoformat(day_text) if re.match(r"^\d{4}-\d{2}-\d{2}$", day_text) else None
        except ValueError:
            day = None
        if day is None:
            raise RatesError(f"line {line}: date {day_text!r} is not a date YYYY-MM-DD", "date")
        for name, code in (("from", source), ("to", target)):
            if not _CURRENCY.match(code):
                raise RatesError(f"line {line}: {name} {code!r} is not an ISO 4217 code such as USD", name)
        if source == target:
            raise RatesError(f"line {line}: from and to are both {source}", "to")
        if not _RATE.match(rate_text):
            raise RatesError(
                f"line {line}: rate {rate_text!r} is not a positive decimal with at most 10 decimals", "rate"
            )
        try:
            rate = Decimal(rate_text)
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
            raise RatesError(f"line {line}: rate {rate_text!r} is not a number", "rate") from exc
        if rate == 0:
            raise RatesError(f"line {line}: rate must be greater than 0", "rate")
        key = (day, source, target)
        if key in seen:
            raise RatesError(f"line {line}: a second rate for {source}->{target} on {day}", "date")
        seen.add(key)
        rates.append((day, source, target, rate))
        if len(rates) > max_rates:
            raise RatesError(f"more than fx_max_rates ({max_rates}) rates", "line")
    return rates


def load_rates(fx: FxRates, settings: Settings, workspace_id: str, data: bytes) -> dict[str, Any]:
    """Replace the workspace's rates with a CSV file's; returns what is stored now."""
    rates = parse_rates(data, settings.fx_max_rates)
    fx.replace_rates(workspace_id, rates)
    return describe_rates(fx, workspace_id, limit=0)


def describe_rates(fx: FxRates, workspace_id: str, *, limit: int = 1000) -> dict[str, Any]:
    """The workspace's rates: count, pairs with their first and last day, and the first `limit` rates."""
    total, rows, pairs = fx.list_rates(workspace_id, min(max(limit, 0), MAX_LISTED))
    return {
        "rateCount": total,
        "pairs": [
            {"from": f, "to": t, "firstDay": first.isoformat(), "lastDay": last.isoformat(), "rates": n}
            for f, t, first, last, n in pairs
        ],
        "rates": [{"date": d.isoformat(), "from": f, "to": t, "rate": _trim(r)} for d, f, t, r in rows],
    }


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text
