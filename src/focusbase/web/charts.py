"""Chart + table twins: the numbers of a chart laid out as its table (the chart is drawn from the table).

Presentation only: the figures come from the analytics services unchanged, as exact decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass(slots=True)
class Twin:
    """One chart's table: x values (rows), series (columns) and the exact value of each cell."""

    currency: str
    unit: str | None = None
    xs: list[str] = field(default_factory=list)
    series: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], str] = field(default_factory=dict)

    def value(self, x: str, series: str) -> str:
        """The cell's exact value; a bucket without rows of this series sums to 0."""
        return self.cells.get((x, series), "0")


def twins(rows: list[dict[str, Any]], x_key: str, series_of: Any) -> list[Twin]:
    """One Twin per (currency, unit) in the order rows first show them; series keep their first order."""
    found: dict[tuple[str, str | None], Twin] = {}
    for row in rows:
        key = (row.get("currency") or "", row.get("unit"))
        twin = found.setdefault(key, Twin(currency=key[0], unit=key[1]))
        x = str(row.get(x_key) or "")
        name = series_of(row)
        if x not in twin.xs:
            twin.xs.append(x)
        if name not in twin.series:
            twin.series.append(name)
        twin.cells[(x, name)] = row["value"]
    for twin in found.values():
        twin.xs.sort()
    return list(found.values())


def percent(ratio: str | None, places: int = 1) -> str:
    """A ratio string ('0.123456') as a percentage ('12.3%'); an undefined ratio is shown as 'n/a'."""
    if ratio is None:
        return "n/a"
    return f"{float(ratio) * 100:.{places}f}%"


def signed_percent(ratio: str | None) -> str:
    """A change ratio with its sign ('+12.3%'), or 'new' when there was nothing to compare with."""
    if ratio is None:
        return "new"
    value = float(ratio) * 100
    return f"{value:+.1f}%"


def day_label(text: str) -> str:
    """'2026-06-01' -> 'Mon 1 Jun 2026' (for table rows; the chart keeps the ISO day)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{day:%a} {day.day} {day:%b %Y}"


def day_before(text: str) -> str:
    """The last day of a [start, end) window: the day before its exclusive end."""
    try:
        return (date.fromisoformat(text) - timedelta(days=1)).isoformat()
    except ValueError:
        return text
