"""Renames and aliases between FOCUS versions, and the names the seed Cost and Usage API uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rename:
    """A column known under an older or foreign name."""

    old: str
    new: str
    since: str
    note: str


# Column names renamed between FOCUS versions (old name -> current name).
RENAMES: tuple[Rename, ...] = (
    Rename("Region", "RegionId", "1.0", "Region (0.5) became RegionId; RegionName was added in 1.0"),
    Rename("UsageQuantity", "ConsumedQuantity", "1.0", "UsageQuantity (1.0-preview) became ConsumedQuantity"),
    Rename("UsageUnit", "ConsumedUnit", "1.0", "UsageUnit (1.0-preview) became ConsumedUnit"),
)

# Deprecated columns that stay Mandatory in 1.3, with the column that supersedes them.
DEPRECATIONS: dict[str, str | None] = {
    "ProviderName": "ServiceProviderName",
    "PublisherName": None,
}

# Names used by the seed FOCUS Cost and Usage API document that are not FOCUS 1.3 columns.
SEED_COST_AND_USAGE_NAMES: dict[str, str] = {
    "Region": "RegionId",
}
SEED_CUSTOM_COLUMNS: tuple[str, ...] = ("x_SplitCostAllocationMethod", "x_SplitCostAllocationPercentage")

# The seed's ContractCommitmentRecord property -> the FOCUS 1.3 Contract Commitment column it stands for.
SEED_CONTRACT_COMMITMENT_NAMES: dict[str, str] = {
    "CommitmentDiscountId": "ContractCommitmentId",
    "CommitmentStartDate": "ContractCommitmentPeriodStart",
    "CommitmentEndDate": "ContractCommitmentPeriodEnd",
    "CommitmentTotalQuantity": "ContractCommitmentQuantity",
    "CommitmentUnit": "ContractCommitmentUnit",
    "CommitmentDescription": "ContractCommitmentDescription",
    "CommitmentDiscountCategory": "ContractCommitmentCategory",
    "CommitmentDiscountType": "ContractCommitmentType",
}

_BY_OLD = {r.old: r for r in RENAMES}


def current_name(name: str) -> str:
    """The current FOCUS name for a possibly renamed column (unchanged when not renamed)."""
    rename = _BY_OLD.get(name)
    return rename.new if rename else name


def rename_for(name: str) -> Rename | None:
    """The rename record for an old column name, if any."""
    return _BY_OLD.get(name)
