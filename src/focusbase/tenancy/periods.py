"""Finalised billing periods: a provider's month declared complete before the automatic close."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from focusbase.storage import Catalog
from focusbase.storage import periods as period_store

PERIOD_PATTERN = r"^([0-9]{4})-(0[1-9]|1[0-2])$"
_PERIOD = re.compile(PERIOD_PATTERN)


class PeriodNotEnded(Exception):
    """A billing period can only be finalised after it has ended."""


@dataclass(frozen=True, slots=True)
class Finalization:
    """One finalised period of a provider."""

    provider_id: str
    period: str
    finalized_at: str


def parse_period(text: str) -> str:
    """A YYYY-MM billing month; ValueError otherwise."""
    if not _PERIOD.match(text):
        raise ValueError(f"invalid period {text!r}: expected a billing month as YYYY-MM, for example 2026-10")
    return text


def finalize_period(
    catalog: Catalog, provider_id: str, period: str, *, now: datetime | None = None
) -> tuple[Finalization, bool]:
    """Mark a provider's billing month as final; returns it and whether it is new (repeats are no-ops)."""
    match = _PERIOD.match(parse_period(period))
    assert match is not None
    year, month = int(match.group(1)), int(match.group(2))
    today = (now or datetime.now(UTC)).astimezone(UTC)
    if (year, month) >= (today.year, today.month):
        raise PeriodNotEnded(f"billing period {period} has not ended yet; only past months can be finalised")
    row, created = period_store.finalize_period(catalog, provider_id=provider_id, period=period)
    return Finalization(row["provider_id"], row["period"], row["finalized_at"]), created


def list_finalized(catalog: Catalog, provider_id: str) -> list[Finalization]:
    """A provider's finalised periods, oldest first."""
    return [
        Finalization(row["provider_id"], row["period"], row["finalized_at"])
        for row in period_store.list_finalized(catalog, provider_id)
    ]


def finalized_periods(
    catalog: Catalog, workspace_id: str, provider_ids: Iterable[str] | None
) -> dict[str, set[str]]:
    """Finalised YYYY-MM periods per provider of the workspace (None: every provider)."""
    result: dict[str, set[str]] = {}
    for row in period_store.finalized_for_workspace(catalog, workspace_id, provider_ids):
        result.setdefault(row["provider_id"], set()).add(row["period"])
    return result
