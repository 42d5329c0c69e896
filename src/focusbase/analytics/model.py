"""The explorer's query model: metric, grain, group-by, filters, range, top-N and sort. Pure; no I/O.

`parse_query` turns the JSON body of `POST /api/v1/explorer/query` (also a saved view's query and the CLI's
options) into an `ExplorerQuery`, or raises QueryError naming the offending field. Dimensions are names from
the FOCUS catalogue, `provider`, `tag:<key>` or an `x_` custom column; nothing else ever reaches SQL as an
identifier, and tag keys and custom names travel as bound parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

from focusbase.focus import Dataset, columns

METRICS: tuple[str, ...] = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ConsumedQuantity",
    "PricingQuantity",
)
QUANTITY_UNITS = {"ConsumedQuantity": "ConsumedUnit", "PricingQuantity": "PricingUnit"}
GRAINS: tuple[str, ...] = ("day", "week", "month", "none")
OPS: tuple[str, ...] = ("equals", "in", "not_in", "contains", "present", "absent")
SORTS: tuple[str, ...] = ("value_desc", "value_asc", "group")
MAX_GROUP_BY = 3
MAX_FILTERS = 20
MAX_FILTER_VALUES = 500
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Tag keys and custom column names are bound as JSON paths; these characters would need escaping there.
_NAME = re.compile(r'^[^"\\\x00-\x1f]{1,128}$')
_CUSTOM = re.compile(r"^x_[A-Za-z0-9_]{1,126}$")

DimensionKind = Literal["column", "provider", "tag", "custom"]


class QueryError(ValueError):
    """An explorer query that cannot run; `field` names the offending part of the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@cache
def dimension_columns() -> frozenset[str]:
    """FOCUS 1.3 Cost and Usage String dimension columns (the allow-list for group-by and filters)."""
    return frozenset(
        name
        for name, col in columns("1.3", Dataset.COST_AND_USAGE).items()
        if col.kind == "Dimension" and col.data_type == "String"
    )


@dataclass(frozen=True, slots=True)
class Dimension:
    """Something to group or filter by: a FOCUS column, the provider, a tag key or a custom column."""

    kind: DimensionKind
    name: str  # column name, tag key or x_ name ("provider" for the provider)

    @property
    def label(self) -> str:
        """The name used on the wire: `ServiceName`, `provider`, `tag:env`, `x_Owner`."""
        return "tag:" + self.name if self.kind == "tag" else self.name


def parse_dimension(field: str, text: object) -> Dimension:
    """A dimension from its wire name; QueryError naming `field` otherwise."""
    if not isinstance(text, str) or not text:
        raise QueryError(field, "must be a dimension name such as ServiceName, provider, tag:env or x_Owner")
    if text == "provider":
        return Dimension("provider", "provider")
    if text.startswith("tag:"):
        key = text[4:]
        if not _NAME.match(key):
            raise QueryError(
                field, f"{text!r}: a tag key is 1 to 128 characters without quotes or backslashes"
            )
        return Dimension("tag", key)
    if text.startswith("x_"):
        if not _CUSTOM.match(text):
            raise QueryError(field, f"{text!r}: a custom column is x_ followed by letters, digits or _")
        return Dimension("custom", text)
    if text in dimension_columns():
        return Dimension("column", text)
    raise QueryError(
        field,
        f"{text!r} is not a FOCUS dimension column, provider, tag:<key> or x_ column"
        " (names are case-sensitive, e.g. ServiceName)",
    )


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter: equals / in / not_in / contains (case-insensitive) on values, or present / absent."""

    dimension: Dimension
    op: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExplorerQuery:
    """A cost-over-time question. Days are UTC charge days (ChargePeriodStart); `end` is exclusive."""

    metric: str = "EffectiveCost"
    grain: str = "day"
    group_by: tuple[Dimension, ...] = ()
    filters: tuple[Filter, ...] = ()
    start: date | None = None
    end: date | None = None
    top: int | None = None
    sort: str = "value_desc"
    currency: str | None = None  # convert to this currency with the workspace's rates

    @property
    def unit_column(self) -> str | None:
        """The unit column results are also split by (quantities of different units never add up)."""
        return QUANTITY_UNITS.get(self.metric)

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        """Every dimension the query reads (group-by and filters)."""
        return self.group_by + tuple(f.dimension for f in self.filters)

    def as_json(self) -> dict[str, Any]:
        """The canonical JSON form (what a saved view stores and a result echoes)."""
        return {
            "metric": self.metric,
            "grain": self.grain,
            "groupBy": [d.label for d in self.group_by],
            "filters": [
                {
                    "dimension": f.dimension.label,
                    "op": f.op,
                    **({"values": list(f.values)} if f.values else {}),
                }
                for f in self.filters
            ],
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "top": self.top,
            "sort": self.sort,
            "currency": self.currency,
        }


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value is None:
        value = default
    if value not in allowed:
        raise QueryError(name, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _date(body: dict[str, Any], name: str) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise QueryError(name, f"{value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(name, f"{value!r} is not a valid date: {exc}") from exc


def _filter(index: int, raw: object) -> Filter:
    where = f"filters[{index}]"
    if not isinstance(raw, dict):
        raise QueryError(where, "must be an object with dimension, op and values")
    dimension = parse_dimension(f"{where}.dimension", raw.get("dimension"))
    op = raw.get("op")
    if op not in OPS:
        raise QueryError(f"{where}.op", f"{op!r} is not one of {', '.join(OPS)}")
    values = raw.get("values")
    if "value" in raw and values is None:
        values = [raw["value"]]
    if op in ("present", "absent"):
        if values:
            raise QueryError(f"{where}.values", f"op {op} takes no values")
        return Filter(dimension, op)
    if not isinstance(values, list) or not values:
        raise QueryError(f"{where}.values", f"op {op} needs a non-empty list of strings")
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"{where}.values", f"at most {MAX_FILTER_VALUES} values")
    if not all(isinstance(v, str) for v in values):
        raise QueryError(f"{where}.values", "every value must be a string")
    if op in ("equals", "contains") and len(values) != 1:
        raise QueryError(f"{where}.values", f"op {op} takes exactly one value")
    return Filter(dimension, op, tuple(values))


_KNOWN = {"metric", "grain", "groupBy", "filters", "start", "end", "top", "sort", "currency"}


def parse_query(body: object, *, max_groups: int) -> ExplorerQuery:
    """An ExplorerQuery from its JSON form; QueryError names the field at fault."""
    if not isinstance(body, dict):
        raise QueryError("query", "must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise QueryError(unknown[0], f"unknown field; the query fields are {', '.join(sorted(_KNOWN))}")
    metric = _choice(body, "metric", METRICS, "EffectiveCost")
    grain = _choice(body, "grain", GRAINS, "day")
    sort = _choice(body, "sort", SORTS, "value_desc")
    raw_group = body.get("groupBy") or []
    if not isinstance(raw_group, list):
        raise QueryError("groupBy", "must be a list of dimension names")
    if len(raw_group) > MAX_GROUP_BY:
        raise QueryError("groupBy", f"at most {MAX_GROUP_BY} dimensions")
    group_by = tuple(parse_dimension(f"groupBy[{i}]", d) for i, d in enumerate(raw_group))
    if len(set(group_by)) != len(group_by):
        raise QueryError("groupBy", "a dimension appears twice")
    raw_filters = body.get("filters") or []
    if not isinstance(raw_filters, list):
        raise QueryError("filters", "must be a list of filter objects")
    if len(raw_filters) > MAX_FILTERS:
        raise QueryError("filters", f"at most {MAX_FILTERS} filters")
    filters = tuple(_filter(i, f) for i, f in enumerate(raw_filters))
    start, end = _date(body, "start"), _date(body, "end")
    if start is not None and end is not None and end < start:
        # end == start is an empty range, answered with an empty result.
        raise QueryError("end", "must not be before start (the range is [start, end))")
    top = body.get("top")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= max_groups):
        raise QueryError("top", f"must be an integer from 1 to {max_groups}")
    currency = body.get("currency")
    if currency is not None:
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise QueryError("currency", f"{currency!r} is not an ISO 4217 code such as USD")
        if metric in QUANTITY_UNITS:
            raise QueryError("currency", f"{metric} is a quantity; only cost metrics are converted")
    return ExplorerQuery(
        metric=metric,
        grain=grain,
        group_by=group_by,
        filters=filters,
        start=start,
        end=end,
        top=top,
        sort=sort,
        currency=currency,
    )
