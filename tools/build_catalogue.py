"""Rebuild src/focusbase/focus/data/columns.csv from the FOCUS column catalogue in ../shared.

Run by hand when the upstream catalogue changes; the package itself only reads the generated file.
Resolves the rows the upstream file marks UNCERTAIN, following the FOCUS 1.3 errata:
PricingCurrency and PricingCurrencyEffectiveCost are not nullable (errata #9/#10), ContractId and
ContractCommitmentId are not nullable (normative bullet), HostProviderName is nullable.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

NOT_NULLABLE_FIXES = {"PricingCurrency", "PricingCurrencyEffectiveCost", "ContractCommitmentId", "ContractId"}
FIELDS = [
    "version",
    "dataset",
    "column",
    "display_name",
    "data_type",
    "kind",
    "feature_level",
    "nullable",
    "allowed_values",
    "introduced_in",
    "deprecated",
]


def main(source: Path, target: Path) -> None:
    rows = list(csv.DictReader(source.open(encoding="utf-8")))
    out = []
    for r in rows:
        notes = r["notes"]
        display = re.search(r'display="([^"]*)"', notes)
        kind = re.search(r"column_type=([A-Za-z ]+?)(;|$)", notes)
        nullable = r["nullable"] == "True"
        if "UNCERTAIN" in notes and r["column"] in NOT_NULLABLE_FIXES:
            nullable = False
        deprecated = r["version"] == "1.3" and r["column"] in {"ProviderName", "PublisherName"}
        out.append(
            {
                "version": r["version"],
                "dataset": r["dataset"],
                "column": r["column"],
                "display_name": display.group(1) if display else r["column"],
                "data_type": r["data_type"],
                "kind": (kind.group(1).strip() if kind else "Dimension").replace(
                    "Dimension and Metric", "Dimension"
                ),
                "feature_level": r["feature_level"],
                "nullable": "true" if nullable else "false",
                "allowed_values": r["allowed_values"],
                "introduced_in": r["introduced_in"],
                "deprecated": "true" if deprecated else "false",
            }
        )
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(out)


if __name__ == "__main__":
    here = Path(__file__).resolve().parent.parent
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent / "shared/focus/focus-columns.csv"
    main(src, here / "src/focusbase/focus/data/columns.csv")
