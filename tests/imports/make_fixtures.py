"""Writes the synthetic import fixtures in tests/cases/imports (run once; the files are committed).

Each cloud fixture follows its provider's documented export shape (column names, x_ or oci_ provider
columns, timestamp and compression style); values are invented.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from focusbase.focus import columns

OUT = Path(__file__).resolve().parent.parent / "cases" / "imports"


def _base_row(provider: str, day: int, cost: str, service: str, category: str) -> dict[str, str]:
    quantity = str(Decimal(cost) * 2)  # unit prices are 0.5, so List/ContractedCost = price x quantity
    start = f"2025-03-{day:02d}T00:00:00Z"
    end = f"2025-03-{day + 1:02d}T00:00:00Z"
    return {
        "BilledCost": cost,
        "BillingAccountId": "123456789012",
        "BillingAccountName": "Acme Payer",
        "BillingAccountType": "Billing Account",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": "2025-04-01T00:00:00Z",
        "BillingPeriodStart": "2025-03-01T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeDescription": f"{service} usage",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": end,
        "ChargePeriodStart": start,
        "ConsumedQuantity": quantity,
        "ConsumedUnit": "Hours",
        "ContractedCost": cost,
        "ContractedUnitPrice": "0.5",
        "EffectiveCost": cost,
        "InvoiceIssuerName": provider,
        "ListCost": cost,
        "ListUnitPrice": "0.5",
        "PricingCategory": "Standard",
        "PricingQuantity": quantity,
        "PricingCurrency": "USD",
        "PricingCurrencyContractedUnitPrice": "0.5",
        "PricingCurrencyEffectiveCost": cost,
        "PricingCurrencyListUnitPrice": "0.5",
        "PricingUnit": "Hours",
        "ProviderName": provider,
        "PublisherName": provider,
        "RegionId": "us-east-1",
        "RegionName": "US East (N. Virginia)",
        "ResourceId": f"res-{day}",
        "ResourceName": f"resource {day}",
        "ResourceType": "Virtual Machine",
        "ServiceCategory": category,
        "ServiceName": service,
        "ServiceSubcategory": "Virtual Machines" if category == "Compute" else "Other (Storage)",
        "SkuId": "SKU1",
        "SkuPriceId": "SKU1-PRICE",
        "SubAccountId": "210987654321",
        "SubAccountName": "prod",
        "SubAccountType": "Account",
        "Tags": json.dumps({"env": "prod", "team": f"t{day}"}),
    }


def _rows(provider: str, version: str, extra: dict[str, str]) -> list[dict[str, str]]:
    names = list(columns(version))
    rows = []
    specs = [
        (1, "12.500000", "Compute Engine", "Compute"),
        (2, "0.000123", "Cloud Storage", "Storage"),
        (3, "100", "Compute Engine", "Compute"),
    ]
    for day, cost, service, category in specs:
        base = _base_row(provider, day, cost, service, category)
        row = {n: base.get(n, "") for n in names}
        row.update({k: v.replace("{day}", str(day)) for k, v in extra.items()})
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]], *, gz: bool = False, delimiter: str = ",") -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)


def aws() -> None:
    extra12 = {
        "x_Discounts": '{"SavingsPlan":-0.5}',
        "x_Operation": "RunInstances",
        "x_ServiceCode": "AmazonEC2",
    }
    rows = _rows("AWS", "1.2", extra12)
    for r in rows:
        r["ChargePeriodStart"] = r["ChargePeriodStart"].replace("Z", ".000Z")
    _write_csv(OUT / "aws_focus_1_2-00001.csv.gz", rows, gz=True)
    # FOCUS 1.0 with AWS columns, as Parquet: doubles for money, millisecond timestamps, maps for tags.
    rows10 = _rows("AWS", "1.0", {})
    table: dict[str, pa.Array] = {}
    cols10 = columns("1.0")
    for name in cols10:
        values = [r[name] or None for r in rows10]
        col = cols10[name]
        if col.data_type == "Decimal":
            table[name] = pa.array([float(Decimal(v)) if v else None for v in values], pa.float64())
        elif col.data_type == "Date/Time":
            stamps = [v.replace("Z", "") if v else None for v in values]
            table[name] = pa.array(stamps, pa.string()).cast(pa.timestamp("ms"))
        elif name == "Tags":
            table[name] = pa.array(
                [list(json.loads(v).items()) for v in values], pa.map_(pa.string(), pa.string())
            )
        else:
            table[name] = pa.array(values, pa.string())
    table["x_CostCategories"] = pa.array([[("team", "core")]] * 3, pa.map_(pa.string(), pa.string()))
    table["x_Discounts"] = pa.array([[("bundled", -0.25)], [], []], pa.map_(pa.string(), pa.float64()))
    table["x_Operation"] = pa.array(["RunInstances", "PutObject", "RunInstances"])
    table["x_ServiceCode"] = pa.array(["AmazonEC2", "AmazonS3", "AmazonEC2"])
    table["x_UsageType"] = pa.array(["BoxUsage:m5.large", "TimedStorage-ByteHrs", "BoxUsage:m5.large"])
    pq.write_table(pa.table(table), OUT / "aws_focus_1_0-00001.snappy.parquet", compression="snappy")


def azure() -> None:
    extra = {
        "x_BilledCostInUsd": "12.5",
        "x_EffectiveCostInUsd": "12.5",
        "x_ResourceGroupName": "rg-prod",
        "x_SkuDetails": '{"VCPUs":"2"}',
        "x_PricingUnitDescription": "1 Hour",
        "x_InvoiceSectionId": "IS-{day}",
    }
    rows = _rows("Microsoft", "1.0", extra)
    for r in rows:
        r["RegionId"] = "eastus"
        r["RegionName"] = "East US"
    _write_csv(OUT / "azure_focuscost_1_0.csv", rows)


def gcp() -> None:
    rows = _rows("Google Cloud", "1.0", {})
    for r in rows:
        for name in ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"):
            # BigQuery's CSV export writes TIMESTAMP as '2025-03-01 00:00:00 UTC'.
            r[name] = r[name].replace("T", " ").replace("Z", " UTC")
    _write_csv(OUT / "gcp_focus_bigquery.csv", rows)


def oci() -> None:
    extra = {
        "oci_ReferenceNumber": "REF-{day}",
        "oci_CompartmentId": "ocid1.compartment.oc1..a{day}",
        "oci_CompartmentName": "prod",
        "oci_OverageFlag": "N",
    }
    rows = _rows("Oracle", "1.0", extra)
    for r in rows:
        for name in ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"):
            r[name] = r[name].replace(":00:00Z", ":00Z")  # '2025-03-01T00:00Z'
    _write_csv(OUT / "oci_focus_report-00001.csv.gz", rows, gz=True)


def vantage() -> None:
    header = [
        "BillingCurrency",
        "ChargeCategory",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "ConsumedQuantity",
        "ConsumedUnit",
        "BilledCost",
        "RegionId",
        "ResourceId",
        "ResourceType",
        "ServiceCategory",
        "ServiceName",
        "Tags",
    ]
    rows = [
        [
            "USD",
            "Usage",
            "2025-03-01",
            "2025-03-02",
            "10",
            "Requests",
            "$1,234.50",
            "us-east-1",
            "api-1",
            "Endpoint",
            "Developer Tools",
            "Datadog",
            '{"env":"prod"}',
        ],
        [
            "USD",
            "Usage",
            "2025-03-02",
            "2025-03-03",
            "5",
            "Requests",
            "$0.10",
            "us-east-1",
            "api-1",
            "Endpoint",
            "Developer Tools",
            "Datadog",
            '{"env":"dev","team":"web"}',
        ],
        [
            "USD",
            "Credit",
            "2025-03-02",
            "2025-03-03",
            "",
            "",
            "($5.00)",
            "",
            "",
            "",
            "Developer Tools",
            "Datadog",
            "",
        ],
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (OUT / "vantage_custom_provider.csv").write_text(buf.getvalue(), encoding="utf-8")


def vendor() -> None:
    text = (
        "Date;Service;Cost;Currency;Environment;Team;Notes\n"
        '31/03/2025;Datadog;"1.234,50";EUR;prod;core;"first\nline"\n'
        "01/04/2025;Datadog;(12,50);EUR;;web;\n"
        "02/04/2025;Datadog;0,10;EUR;dev;;x\n"
    )
    (OUT / "vendor_semicolon_decimal_comma.csv").write_text(text, encoding="utf-8")
    latin = "Date,Service,Cost,Currency\n2025-03-01,Caf\u00e9 Cloud,\u00a312.00,GBP\n"
    (OUT / "vendor_latin1.csv").write_bytes(latin.encode("latin-1"))
    (OUT / "vendor_cp1252.csv").write_bytes(
        "Date,Service,Cost,Currency\n2025-03-01,\u201cQuoted\u201d Cloud,\u20ac7.00,EUR\n".encode("cp1252")
    )
    tsv = "Date\tService\tCost\tCurrency\n2025-03-01\tDatadog\t$3.00\tUSD\n"
    (OUT / "vendor_tab.tsv").write_bytes(("\ufeff" + tsv).encode("utf-8"))
    (OUT / "vendor_utf16.csv").write_bytes(tsv.replace("\t", ",").encode("utf-16"))


def broken() -> None:
    (OUT / "broken_empty.csv").write_bytes(b"")
    (OUT / "broken_header_only.csv").write_text("ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n")
    (OUT / "broken_ragged.csv").write_text(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n"
        "2025-03-01,1.00,Datadog,Usage\n2025-03-02,2.00,Datadog\n"
    )
    (OUT / "broken_duplicate_headers.csv").write_text(
        "ChargePeriodStart,BilledCost,BilledCost,ServiceName\n2025-03-01,1,2,Datadog\n"
    )
    (OUT / "broken_maps_nothing.csv").write_text("foo,bar,baz\n1,2,3\n")
    (OUT / "broken_not_utf8.csv").write_bytes(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n2025-03-01,1.00,Caf\u00e9,Usage\n".encode(
            "latin-1"
        )
    )
    (OUT / "broken_bad_values.csv").write_text(
        "ChargePeriodStart,BilledCost,ServiceName,ChargeCategory\n"
        "2025-03-01,1.00,Datadog,Usage\n2025-03-02,abc,Datadog,Usage\n2025-03-03,3.00,Datadog,Shopping\n"
    )
    empty = pa.table(
        {"ChargePeriodStart": pa.array([], pa.string()), "BilledCost": pa.array([], pa.string())}
    )
    pq.write_table(empty, OUT / "broken_zero_rows.parquet")
    (OUT / "broken_truncated.csv.gz").write_bytes(gzip.compress(b"ChargePeriodStart,BilledCost\n" * 50)[:40])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    aws()
    azure()
    gcp()
    oci()
    vantage()
    vendor()
    broken()


if __name__ == "__main__":
    main()
