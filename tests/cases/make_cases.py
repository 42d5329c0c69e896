"""Generate the clean validator fixtures in tests/cases/valid (deterministic; run from the repo root).

    .venv/bin/python tests/cases/make_cases.py

Each file is a FOCUS Cost and Usage table that must validate with no error: usage at list and committed
prices, commitment purchases (EffectiveCost 0), unused commitment rows, capacity reservations, credits and
taxes, for three providers. The seeded-defect tests change one cell of these files.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from focusbase.focus import columns

HERE = Path(__file__).resolve().parent

PROVIDERS = {
    "AWS": {
        "issuer": "Amazon Web Services, Inc.",
        "services": [
            ("Amazon EC2", "Compute", "Virtual Machines", "Hours", "0.0960"),
            ("Amazon S3", "Storage", "Object Storage", "GB-Months", "0.0230"),
            ("Amazon RDS", "Databases", "Relational Databases", "Hours", "0.1710"),
        ],
        "regions": [("us-east-1", "US East (N. Virginia)"), ("eu-west-1", "Europe (Ireland)")],
    },
    "Microsoft": {
        "issuer": "Microsoft",
        "services": [
            ("Virtual Machines", "Compute", "Virtual Machines", "Hours", "0.1040"),
            ("Azure Cosmos DB", "Databases", "NoSQL Databases", "Request Units", "0.0080"),
        ],
        "regions": [("westeurope", "West Europe"), ("eastus", "East US")],
    },
    "Google Cloud": {
        "issuer": "Google Cloud",
        "services": [
            ("Cloud Storage", "Storage", "Object Storage", "GiB-Months", "0.0200"),
            ("BigQuery", "Analytics", "Data Warehouses", "TiB", "6.2500"),
        ],
        "regions": [("europe-west1", "Belgium"), ("us-central1", "Iowa")],
    },
}
# BigQuery is a data warehouse but FOCUS files it under Databases; keep category and subcategory consistent.
PROVIDERS["Google Cloud"]["services"][1] = ("BigQuery", "Databases", "Data Warehouses", "TiB", "6.2500")


def _money(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.0000000001")).normalize(), "f")


def clean_rows(version: str, count: int, seed: int = 7) -> list[dict[str, str | None]]:
    """Deterministic rows that follow every rule of the given FOCUS version."""
    rng = random.Random(seed)
    names = list(columns(version))
    rows = []
    for i in range(count):
        provider = list(PROVIDERS)[i % 3]
        spec = PROVIDERS[provider]
        service, category, subcategory, unit, price = spec["services"][i % len(spec["services"])]
        region_id, region_name = spec["regions"][(i // 3) % 2]
        month = 1 + (i // 7) % 2
        day = 1 + (i % 27)
        kind = (
            "usage",
            "usage",
            "usage",
            "committed",
            "usage",
            "tax",
            "credit",
            "purchase",
            "unused",
            "usage",
        )[i % 10]
        sku = f"SKU-{provider[:3].upper()}-{service.replace(' ', '')}-{i % 4}"
        quantity = Decimal(rng.randint(1, 5000)) / Decimal(100)
        list_price = Decimal(price)
        contracted_price = (list_price * Decimal("0.9")).quantize(Decimal("0.00001"))
        commitment = f"cd-{provider[:3].lower()}-{i % 5}"
        row: dict[str, str | None] = dict.fromkeys(names)
        row.update(
            {
                "BillingAccountId": f"{provider[:3].upper()}-1000{i % 2}",
                "BillingAccountName": f"Example {provider} account {i % 2}",
                "BillingCurrency": "USD",
                "BillingPeriodStart": f"2025-0{month}-01T00:00:00Z",
                "BillingPeriodEnd": f"2025-0{month + 1}-01T00:00:00Z",
                "ChargePeriodStart": f"2025-0{month}-{day:02d}T00:00:00Z",
                "ChargePeriodEnd": f"2025-0{month}-{day + 1:02d}T00:00:00Z",
                "ChargeCategory": "Usage",
                "ChargeDescription": f"{service} {unit} in {region_name}",
                "ChargeFrequency": "Usage-Based",
                "InvoiceIssuerName": spec["issuer"],
                "ProviderName": spec["issuer"],
                "PublisherName": spec["issuer"],
                "ServiceName": service,
                "ServiceCategory": category,
                "SubAccountId": f"sub-{provider[:3].lower()}-{i % 4}",
                "SubAccountName": f"team {i % 4}",
                "RegionId": region_id,
                "RegionName": region_name,
                "AvailabilityZone": f"{region_id}-a" if provider == "AWS" else None,
                "ResourceId": f"res-{provider[:3].lower()}-{i % 50}",
                "ResourceName": f"resource {i % 50}",
                "ResourceType": "Virtual Machine" if category == "Compute" else "Bucket",
                "SkuId": sku,
                "SkuPriceId": f"{sku}-P{i % 2}",
                "PricingCategory": "Standard",
                "PricingQuantity": str(quantity),
                "PricingUnit": unit,
                "ListUnitPrice": str(list_price),
                "ContractedUnitPrice": str(contracted_price),
                "ConsumedQuantity": str(quantity),
                "ConsumedUnit": unit,
                "Tags": json.dumps(
                    {"env": ("prod", "dev")[i % 2], "team": f"t{i % 4}"}, separators=(",", ":")
                ),
            }
        )
        list_cost = list_price * quantity
        contracted_cost = contracted_price * quantity
        billed = contracted_cost
        effective = contracted_cost
        if kind == "committed":
            row.update(
                CommitmentDiscountId=commitment,
                CommitmentDiscountName=f"commitment {i % 5}",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountType="Reserved Instance",
                CommitmentDiscountStatus="Used",
                PricingCategory="Committed",
            )
            billed = Decimal(0)
        elif kind == "unused":
            row.update(
                CommitmentDiscountId=commitment,
                CommitmentDiscountName=f"commitment {i % 5}",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountType="Reserved Instance",
                CommitmentDiscountStatus="Unused",
                PricingCategory="Committed",
                ResourceId=commitment,
                ResourceName=f"commitment {i % 5}",
                ConsumedQuantity=None,
                ConsumedUnit=None,
            )
            billed = Decimal(0)
        elif kind == "purchase":
            row.update(
                ChargeCategory="Purchase",
                ChargeFrequency=("One-Time", "Recurring")[i % 2],
                CommitmentDiscountId=commitment,
                CommitmentDiscountName=f"commitment {i % 5}",
                CommitmentDiscountCategory="Usage",
                CommitmentDiscountType="Reserved Instance",
                ResourceId=commitment,
                ResourceName=f"commitment {i % 5}",
                ConsumedQuantity=None,
                ConsumedUnit=None,
            )
            effective = Decimal(0)
        elif kind in ("tax", "credit"):
            for name in (
                "SkuId",
                "SkuPriceId",
                "PricingCategory",
                "PricingQuantity",
                "PricingUnit",
                "ListUnitPrice",
                "ContractedUnitPrice",
                "ConsumedQuantity",
                "ConsumedUnit",
                "ResourceId",
                "ResourceName",
                "ResourceType",
                "AvailabilityZone",
            ):
                row[name] = None
            row.update(ChargeCategory="Tax" if kind == "tax" else "Credit", ChargeFrequency="Recurring")
            billed = Decimal(rng.randint(1, 900)) / Decimal(100) * (1 if kind == "tax" else -1)
            list_cost = contracted_cost = effective = billed
        if version >= "1.1" and kind in ("usage", "committed") and provider == "AWS" and i % 20 == 0:
            row.update(CapacityReservationId=f"cr-{i % 3}", CapacityReservationStatus="Used")
        row.update(
            ListCost=_money(list_cost),
            ContractedCost=_money(contracted_cost),
            BilledCost=_money(billed),
            EffectiveCost=_money(effective),
        )
        if version >= "1.1":
            row["ServiceSubcategory"] = subcategory
            if row["SkuId"] is not None:
                row["SkuMeter"] = unit
            if row["SkuPriceId"] is not None:
                row["SkuPriceDetails"] = json.dumps(
                    {"x_Tier": i % 3, "StorageClass": "Standard"}, separators=(",", ":")
                )
            if row["CommitmentDiscountId"] is not None and kind in ("committed", "unused", "purchase"):
                row["CommitmentDiscountQuantity"] = str(quantity)
                row["CommitmentDiscountUnit"] = "Hours"
        if version >= "1.2":
            row.update(
                BillingAccountType="Billing Account",
                SubAccountType="Sub Account",
                InvoiceId=f"INV-2025-0{month}-{provider[:3].upper()}",
                PricingCurrency="USD",
                PricingCurrencyListUnitPrice=row["ListUnitPrice"],
                PricingCurrencyContractedUnitPrice=row["ContractedUnitPrice"],
                PricingCurrencyEffectiveCost=row["EffectiveCost"],
            )
        if version >= "1.3":
            row.update(ServiceProviderName=spec["issuer"], HostProviderName=spec["issuer"])
        row["x_CostCenter"] = f"cc-{i % 6}"
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str | None]]) -> None:
    """Write rows as CSV; None becomes an empty (null) cell."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)


def main() -> None:
    """Write the clean fixtures."""
    for version in ("1.0", "1.1", "1.2", "1.3"):
        write_csv(HERE / "valid" / f"focus-{version}-clean.csv", clean_rows(version, 2000))


if __name__ == "__main__":
    main()
