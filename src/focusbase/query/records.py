"""The properties of served records: every FOCUS 1.3 column, plus the seed document's own names."""

from __future__ import annotations

from functools import cache

from focusbase.focus import Dataset, columns
from focusbase.focus.renames import SEED_COST_AND_USAGE_NAMES, SEED_CUSTOM_COLUMNS
from focusbase.storage.query import Field

SERVED_VERSION = "1.3"

# The seed's custom columns and their types (x_SplitCostAllocationPercentage is a number in the seed).
SEED_CUSTOM_TYPES: dict[str, str] = {
    "x_SplitCostAllocationMethod": "String",
    "x_SplitCostAllocationPercentage": "Decimal",
}


@cache
def cost_fields() -> tuple[Field, ...]:
    """Cost and Usage properties: FOCUS 1.3 columns, the seed's `Region` (= RegionId) and x_ columns."""
    cols = columns(SERVED_VERSION, Dataset.COST_AND_USAGE)
    fields = [Field(name, name, col.data_type) for name, col in cols.items()]
    for seed_name, focus_name in SEED_COST_AND_USAGE_NAMES.items():
        fields.append(Field(seed_name, focus_name, cols[focus_name].data_type))
    fields.extend(Field(name, name, SEED_CUSTOM_TYPES[name]) for name in SEED_CUSTOM_COLUMNS)
    return tuple(sorted(fields, key=lambda f: f.prop))


@cache
def contract_commitment_fields() -> tuple[Field, ...]:
    """Contract Commitment record properties: the FOCUS 1.3 Contract Commitment columns."""
    cols = columns(SERVED_VERSION, Dataset.CONTRACT_COMMITMENT)
    return tuple(
        sorted((Field(name, name, col.data_type) for name, col in cols.items()), key=lambda f: f.prop)
    )
