"""Filters of the FOCUS read API and export jobs: what a caller asked for plus what its key may see.

Pure: no I/O. storage/query.py turns these into a parameterised WHERE clause over the live_* views.

Semantics (docs/api.md, "Filters"):
- billing_period_start / billing_period_end select rows whose `BillingPeriodStart` lies in
  [billing_period_start, billing_period_end): the start is inclusive, the end exclusive. Adjacent windows
  therefore partition the data; a calendar-month window returns exactly that month's billing period.
- Every string filter is an exact, case-sensitive equality on one FOCUS column (see STRING_FILTER_COLUMNS);
  `region` matches `RegionId` (the seed document's `Region` is FOCUS 1.0+'s `RegionId`).
- The scope (workspace, and the key's providers when it was created with providerIds) is always applied.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime

CHARGE_CATEGORIES: tuple[str, ...] = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")

# Filter attribute -> the FOCUS column it compares with (exact, case-sensitive equality).
STRING_FILTER_COLUMNS: dict[str, str] = {
    "charge_category": "ChargeCategory",
    "provider_name": "ProviderName",
    "service_name": "ServiceName",
    "service_category": "ServiceCategory",
    "region": "RegionId",
    "resource_id": "ResourceId",
    "sub_account_id": "SubAccountId",
    "billing_currency": "BillingCurrency",
}

# Filter attribute -> the query parameter name of the FOCUS Cost and Usage API.
QUERY_PARAMETERS: dict[str, str] = {
    "billing_period_start": "billingPeriodStart",
    "billing_period_end": "billingPeriodEnd",
    "charge_category": "chargeCategory",
    "provider_name": "providerName",
    "service_name": "serviceName",
    "service_category": "serviceCategory",
    "region": "region",
    "resource_id": "resourceId",
    "sub_account_id": "subAccountId",
    "billing_currency": "billingCurrency",
}


class FilterError(ValueError):
    """A filter value that cannot be used; `parameter` names the offending query parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class Scope:
    """What a key may see: one workspace, and only these providers when `provider_ids` is not None."""

    workspace_id: str
    provider_ids: frozenset[str] | None = None


def to_utc_naive(value: datetime) -> datetime:
    """A timestamp as the warehouse stores it: UTC without tzinfo (naive input is taken as UTC)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # an offset pushing year 1 or 9999 out of range: clamp to the representable edge
        return datetime.min if value.year == 1 else datetime.max


@dataclass(frozen=True, slots=True)
class CostFilters:
    """The seed's cost-and-usage filters plus the caller's scope. Timestamps are normalised to naive UTC."""

    scope: Scope
    billing_period_start: datetime | None = None
    billing_period_end: datetime | None = None
    charge_category: str | None = None
    provider_name: str | None = None
    service_name: str | None = None
    service_category: str | None = None
    region: str | None = None
    resource_id: str | None = None
    sub_account_id: str | None = None
    billing_currency: str | None = None

    def __post_init__(self) -> None:
        for name in ("billing_period_start", "billing_period_end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_utc_naive(value))
        if self.charge_category is not None and self.charge_category not in CHARGE_CATEGORIES:
            raise FilterError(
                "chargeCategory",
                f"{self.charge_category!r} is not a FOCUS ChargeCategory;"
                f" use one of {', '.join(CHARGE_CATEGORIES)}",
            )

    @property
    def empty_window(self) -> bool:
        """True when the billing period window cannot match anything (end at or before start)."""
        start, end = self.billing_period_start, self.billing_period_end
        return start is not None and end is not None and end <= start

    def string_filters(self) -> dict[str, str]:
        """FOCUS column -> required value, for every string filter that is set."""
        out: dict[str, str] = {}
        for attr, column in STRING_FILTER_COLUMNS.items():
            value = getattr(self, attr)
            if value is not None:
                out[column] = value
        return out

    def canonical(self) -> dict[str, str | list[str] | None]:
        """A stable, JSON-ready form of the filters and scope (page tokens bind to it)."""
        out: dict[str, str | list[str] | None] = {
            "workspace": self.scope.workspace_id,
            "providers": sorted(self.scope.provider_ids) if self.scope.provider_ids is not None else None,
        }
        for f in fields(self):
            if f.name == "scope":
                continue
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class ContractCommitmentFilters:
    """The seed's contract-commitments filters plus the caller's scope.

    `commitment_discount_id` is the seed's name for FOCUS 1.3's ContractCommitmentId. `billing_account_id`
    has no column in the FOCUS 1.3 Contract Commitment dataset; it matches the row's `x_BillingAccountId`
    custom column when the provider sends one (docs/api.md, "Contract commitments").
    """

    scope: Scope
    commitment_discount_id: str | None = None
    billing_account_id: str | None = None

    def canonical(self) -> dict[str, str | list[str] | None]:
        """A stable, JSON-ready form of the filters and scope (page tokens bind to it)."""
        return {
            "workspace": self.scope.workspace_id,
            "providers": sorted(self.scope.provider_ids) if self.scope.provider_ids is not None else None,
            "commitment_discount_id": self.commitment_discount_id,
            "billing_account_id": self.billing_account_id,
        }
