"""Query parameters of the FOCUS read API -> filters. Pure; errors name the parameter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from focusbase.query.filters import (
    QUERY_PARAMETERS,
    ContractCommitmentFilters,
    CostFilters,
    FilterError,
    Scope,
)

# RFC 3339 date-time (the OpenAPI `date-time` format): a full date, a time and a mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
_DATETIME_PARAMETERS = ("billing_period_start", "billing_period_end")


def parse_datetime(parameter: str, text: str) -> datetime:
    """An RFC 3339 date-time with an offset (Z or +hh:mm); FilterError naming the parameter otherwise."""
    if not _RFC3339.match(text):
        raise FilterError(parameter, f"{text!r} is not an RFC 3339 date-time such as 2026-01-01T00:00:00Z")
    normalised = text.replace("t", "T").replace("z", "Z").replace(" ", "T")
    fraction = re.search(r"\.(\d+)", normalised)
    if fraction and len(fraction.group(1)) > 6:  # Python keeps microseconds; drop finer digits
        normalised = normalised.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        return datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise FilterError(parameter, f"{text!r} is not a valid date-time: {exc}") from exc


def cost_filters(scope: Scope, params: Mapping[str, str | None]) -> CostFilters:
    """CostFilters from the API's query parameters (camelCase names; absent or None = no filter)."""
    values: dict[str, object] = {}
    for attr, name in QUERY_PARAMETERS.items():
        raw = params.get(name)
        if raw is None:
            continue
        values[attr] = parse_datetime(name, raw) if attr in _DATETIME_PARAMETERS else raw
    return CostFilters(scope, **values)  # type: ignore[arg-type]


def contract_commitment_filters(scope: Scope, params: Mapping[str, str | None]) -> ContractCommitmentFilters:
    """ContractCommitmentFilters from the API's query parameters."""
    return ContractCommitmentFilters(
        scope,
        commitment_discount_id=params.get("commitmentDiscountId"),
        billing_account_id=params.get("billingAccountId"),
    )
