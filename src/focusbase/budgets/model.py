"""A budget and the checks on what a client sends for one (each error names its field)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from focusbase.storage.catalog import Row

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
SCOPE_KINDS = ("provider", "view")
COST_COLUMNS = ("BilledCost", "EffectiveCost")
MAX_NAME = 200
MAX_THRESHOLDS = 20
MAX_AMOUNTS = 600
MAX_AMOUNT = Decimal("1e15")
DEFAULT_THRESHOLDS: list[dict[str, str]] = [
    {"kind": "actual", "percent": "80"},
    {"kind": "actual", "percent": "100"},
    {"kind": "forecast", "probability": "0.5"},
]


class InvalidBudget(ValueError):
    """A budget request that cannot be honoured; `field` names the culprit."""

    def __init__(self, message: str, *, field: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Threshold:
    """Fires when actual spend reaches `percent` of the amount, or P(month-end > amount) >= probability."""

    kind: str  # actual or forecast
    value: Decimal

    @property
    def key(self) -> str:
        return f"{self.kind}:{_plain(self.value)}"

    def as_json(self) -> dict[str, str]:
        name = "percent" if self.kind == "actual" else "probability"
        return {"kind": self.kind, name: _plain(self.value)}


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget: a scope, one currency, monthly amounts and thresholds."""

    id: str
    workspace_id: str
    name: str
    scope_kind: str
    scope_id: str
    currency: str
    cost_column: str
    thresholds: list[Threshold]
    amounts: dict[str, Decimal]
    created_at: str
    updated_at: str

    @classmethod
    def from_row(cls, row: Row, amounts: dict[str, str]) -> Budget:
        return cls(
            id=row["id"],
            workspace_id=row["workspace_id"],
            name=row["name"],
            scope_kind=row["scope_kind"],
            scope_id=row["scope_id"],
            currency=row["currency"],
            cost_column=row["cost_column"],
            thresholds=parse_thresholds(json.loads(row["thresholds"])),
            amounts={p: Decimal(a) for p, a in amounts.items()},
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def parse_decimal(value: Any, field: str) -> Decimal:
    """An exact decimal from a string or integer (floats are refused: they are not exact)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidBudget(
            f'{field} must be a decimal number written as a string, like "1250.00"', field=field
        )
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidBudget(f"{field} is not a decimal number: {str(value)[:40]!r}", field=field) from None
    if not number.is_finite():
        raise InvalidBudget(f"{field} must be a finite number", field=field)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -12:
        raise InvalidBudget(f"{field} has more than 12 decimal places", field=field)
    return number


def parse_amount(value: Any, field: str) -> Decimal:
    """A monthly amount: a positive decimal below 10^15."""
    number = parse_decimal(value, field)
    if number <= 0 or number >= MAX_AMOUNT:
        raise InvalidBudget(f"{field} must be greater than 0 and below 10^15", field=field)
    return number


def parse_period(value: Any, field: str) -> str:
    """A YYYY-MM month."""
    if not isinstance(value, str) or not PERIOD.match(value):
        raise InvalidBudget(f"{field} must be a month as YYYY-MM, for example 2026-06", field=field)
    return value


def parse_amounts(values: Any) -> dict[str, Decimal]:
    """{"YYYY-MM": "amount", ...}."""
    if not isinstance(values, dict):
        raise InvalidBudget(
            'amounts must be an object of months to amounts, like {"2026-06": "1000"}', field="amounts"
        )
    if len(values) > MAX_AMOUNTS:
        raise InvalidBudget(f"amounts has more than {MAX_AMOUNTS} months", field="amounts")
    return {
        parse_period(period, f"amounts.{period}"): parse_amount(amount, f"amounts.{period}")
        for period, amount in sorted(values.items())
    }


def parse_thresholds(values: Any) -> list[Threshold]:
    """[{"kind": "actual", "percent": "80"}, {"kind": "forecast", "probability": "0.5"}]."""
    if not isinstance(values, list) or len(values) > MAX_THRESHOLDS:
        raise InvalidBudget(
            f"thresholds must be a list of at most {MAX_THRESHOLDS} thresholds", field="thresholds"
        )
    found: dict[str, Threshold] = {}
    for i, item in enumerate(values):
        field = f"thresholds[{i}]"
        if not isinstance(item, dict):
            raise InvalidBudget(f"{field} must be an object", field=field)
        kind = item.get("kind")
        if kind == "actual":
            if set(item) != {"kind", "percent"}:
                raise InvalidBudget(f"{field}: an actual threshold has kind and percent only", field=field)
            value = parse_decimal(item["percent"], f"{field}.percent")
            if value <= 0 or value > 1000:
                raise InvalidBudget(
                    f"{field}.percent must be above 0 and at most 1000", field=f"{field}.percent"
                )
        elif kind == "forecast":
            if set(item) != {"kind", "probability"}:
                raise InvalidBudget(
                    f"{field}: a forecast threshold has kind and probability only", field=field
                )
            value = parse_decimal(item["probability"], f"{field}.probability")
            if value <= 0 or value >= 1:
                raise InvalidBudget(
                    f"{field}.probability must be between 0 and 1 (exclusive)", field=f"{field}.probability"
                )
        else:
            raise InvalidBudget(f"{field}.kind must be actual or forecast", field=f"{field}.kind")
        threshold = Threshold(kind, value)
        found.setdefault(threshold.key, threshold)
    return list(found.values())


def parse_currency(value: Any, field: str = "currency") -> str:
    """An ISO 4217 currency code."""
    if (
        not isinstance(value, str)
        or pycountry.currencies.get(alpha_3=value.upper()) is None
        or len(value) != 3
    ):
        raise InvalidBudget(f"{field} must be an ISO 4217 currency code such as USD", field=field)
    return value.upper()


def parse_name(value: Any, field: str = "name") -> str:
    """A non-empty name of at most MAX_NAME characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InvalidBudget(f"{field} must be a non-empty text of at most {MAX_NAME} characters", field=field)
    return value.strip()


def parse_cost_column(value: Any) -> str:
    """BilledCost or EffectiveCost."""
    if value not in COST_COLUMNS:
        raise InvalidBudget("costColumn must be BilledCost or EffectiveCost", field="costColumn")
    return str(value)
