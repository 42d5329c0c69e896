"""From raw pushed rows to the stored shape: column names, custom columns and the documented defaults."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from focusbase.focus import LATEST_VERSION, Dataset, columns, current_name, is_custom_column
from focusbase.focus.renames import SEED_COST_AND_USAGE_NAMES
from focusbase.storage.cost_rows import CUSTOM_COLUMN, ROW_COLUMN, Fill, Source

# Columns filled with the provider's display name when a row leaves them empty.
PROVIDER_NAME_COLUMNS = ("ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceProviderName")
# Cost columns that default to BilledCost when absent.
BILLED_COST_COPIES = ("EffectiveCost", "ListCost", "ContractedCost")


class ColumnError(ValueError):
    """The table's columns cannot be ingested (unknown names, duplicates after renames)."""

    def __init__(self, message: str, columns: list[str]) -> None:
        super().__init__(message)
        self.columns = columns


@dataclass(frozen=True, slots=True)
class ProviderDefaults:
    """What the defaults of a provider fill in."""

    id: str
    name: str
    default_currency: str


def canonical_columns(table: pa.Table, dataset: Dataset) -> pa.Table:
    """Rename old and seed aliases (Region -> RegionId), and reject unknown non-x_ columns."""
    known = columns(LATEST_VERSION, dataset)
    names: list[str] = []
    unknown: list[str] = []
    for name in table.column_names:
        new = name
        if dataset is Dataset.COST_AND_USAGE:
            new = SEED_COST_AND_USAGE_NAMES.get(name, current_name(name))
        if new not in known and not is_custom_column(new):
            unknown.append(name)
        names.append(new)
    if unknown:
        raise ColumnError(
            f"{_counted(unknown, 'unknown column')}: use FOCUS {LATEST_VERSION} {dataset.value} column names,"
            " or prefix custom columns with x_",
            unknown,
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise ColumnError(
            f"{_counted(duplicates, 'column')} given twice (under an old and a current name)", duplicates
        )
    return table.rename_columns(names)


# Messages name this many columns and count the rest, so an error stays small whatever the table's width.
NAMED_COLUMNS = 5


def _counted(names: list[str], what: str) -> str:
    """`3 unknown columns: a, b, c` or `12 unknown columns, the first 5: a, b, c, d, e`."""
    if len(names) == 1:
        return f"{what} {names[0]}"
    if len(names) <= NAMED_COLUMNS:
        return f"{len(names)} {what}s: {', '.join(names)}"
    return f"{len(names)} {what}s, the first {NAMED_COLUMNS}: {', '.join(names[:NAMED_COLUMNS])}"


def as_strings(table: pa.Table) -> pa.Table:
    """Typed columns (from Parquet, say) as the raw text the validator reads; strings stay untouched."""
    arrays = []
    for col in table.columns:
        kind = col.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            arrays.append(col.cast(pa.string()))
        elif pa.types.is_timestamp(kind):
            utc = col if kind.tz is None else col.cast(pa.timestamp(kind.unit, "UTC"))
            arrays.append(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ"))
        elif pa.types.is_date(kind):
            arrays.append(pc.strftime(col, format="%Y-%m-%d"))
        elif pa.types.is_null(kind):
            arrays.append(pa.nulls(len(col), pa.string()))
        else:
            arrays.append(col.cast(pa.string()))
    return pa.table(arrays, names=table.column_names)


def with_row_numbers(table: pa.Table, first_row: int) -> pa.Table:
    """Append the 1-based input row number column (continuing from `first_row`)."""
    numbers = pa.array(range(first_row, first_row + table.num_rows), type=pa.int64())
    return table.append_column(ROW_COLUMN, numbers)


def pack_custom_columns(table: pa.Table) -> pa.Table:
    """Move the x_ columns into one struct column, stored as the row's x_columns JSON object."""
    custom = [name for name in table.column_names if is_custom_column(name)]
    if not custom:
        return table
    struct = pa.StructArray.from_arrays(
        [table.column(name).combine_chunks() for name in custom], names=custom
    )
    return table.drop_columns(custom).append_column(CUSTOM_COLUMN, struct)


def defaults(
    dataset: Dataset, present: set[str], provider: ProviderDefaults
) -> tuple[list[Fill], dict[str, dict[str, Any]]]:
    """Text-level default rules (cell or column first, then the default) and how each is described."""
    rules: list[Fill] = []
    described: dict[str, dict[str, Any]] = {}
    for name, col in columns(LATEST_VERSION, dataset).items():
        if dataset is Dataset.COST_AND_USAGE:
            default, description = _cost_default(name, present, provider)
        else:
            default, description = _commitment_default(name, provider)
        if not default:
            continue
        own = (Source("column", name),) if name in present else ()
        rules.append(Fill(name, col.data_type, own + default))
        described[name] = description
    return rules, described


def casts(dataset: Dataset, present: set[str]) -> list[Fill]:
    """How each stored column is read from the (defaulted, validated) text columns."""
    return [
        Fill(name, col.data_type, (Source("column", name, data_type=col.data_type),))
        for name, col in columns(LATEST_VERSION, dataset).items()
        if name in present
    ]


def _cost_default(
    name: str, present: set[str], provider: ProviderDefaults
) -> tuple[tuple[Source, ...], dict[str, Any]]:
    start = Source("column", "ChargePeriodStart", data_type="Date/Time")
    if name in BILLED_COST_COPIES and "BilledCost" in present:
        return (Source("column", "BilledCost", data_type="Decimal"),), {"from": "BilledCost"}
    if name == "BillingCurrency":
        return (Source("value", value=provider.default_currency),), {"value": provider.default_currency}
    if name in PROVIDER_NAME_COLUMNS:
        return (Source("value", value=provider.name),), {"value": provider.name}
    if name == "BillingAccountId":
        return (Source("value", value=provider.id),), {"value": provider.id}
    if "ChargePeriodStart" not in present:
        return (), {}
    if name == "ChargePeriodEnd":
        return (Source("plus_one_day", "ChargePeriodStart", data_type="Date/Time"),), {
            "from": "ChargePeriodStart + 1 day"
        }
    if name == "BillingPeriodStart":
        return (Source("month_start", start.name, data_type="Date/Time"),), {
            "from": "first day of the ChargePeriodStart month"
        }
    if name == "BillingPeriodEnd":
        return (Source("next_month_start", start.name, data_type="Date/Time"),), {
            "from": "first day of the month after ChargePeriodStart"
        }
    return (), {}


def _commitment_default(name: str, provider: ProviderDefaults) -> tuple[tuple[Source, ...], dict[str, Any]]:
    if name == "BillingCurrency":
        return (Source("value", value=provider.default_currency),), {"value": provider.default_currency}
    return (), {}
