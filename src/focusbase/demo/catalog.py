"""The fictional world the demo data describes: providers, accounts, regions, SKUs and commitments."""

# ruff: noqa: E501
# (the reference tables read best one record per line.)

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Provider:
    """A service provider; it also issues its own invoices and publishes its own services."""

    idx: int
    name: str
    host_provider: str | None  # FOCUS 1.3 HostProviderName (the cloud a SaaS runs on)
    invoice_prefix: str
    tax_rate: str | None  # e.g. "0.0800": one Tax row per billing account and month
    credit_rate: str | None  # e.g. "0.0300": one promotional Credit row per billing account and month
    contract_id: (
        str | None
    )  # a provider-level spend contract (FOCUS 1.3 ContractApplied / Contract Commitment)
    contract_commitment_id: str | None
    contract_commitment_cost: str | None
    regions: tuple[str, ...]
    region_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BillingAccount:
    """A billing account: it receives the invoices, in one currency."""

    idx: int
    provider_idx: int
    id: str
    name: str
    type: str
    currency: str
    price_factor: str  # negotiated discount: ContractedUnitPrice = ListUnitPrice x price_factor


@dataclass(frozen=True, slots=True)
class SubAccount:
    """A sub account (member account, subscription, project); all-null for providers without them."""

    idx: int
    provider_idx: int
    slot: int  # position among the provider's sub accounts
    ba_idx: int
    id: str | None
    name: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class Sku:
    """A priced product: service, category pair, units, list price and typical daily quantities."""

    idx: int
    provider_idx: int
    service_name: str
    service_category: str
    service_subcategory: str
    sku_id: str
    sku_price_id: str
    sku_meter: str
    description: str
    pricing_unit: str
    consumed_unit: str
    block: int  # ConsumedQuantity = PricingQuantity x block (e.g. prices per 1000 Tokens)
    list_unit_price: str
    qty_min: float
    qty_max: float
    weight: int  # share of usage rows (per mille of the picking table); 0 = not used for usage rows
    resource_prefix: str
    resource_type: str
    resource_word: str
    regional: bool
    zonal: bool
    sku_price_details: str | None
    sku_commit_idx: int | None  # the commitment that may cover this SKU's usage


@dataclass(frozen=True, slots=True)
class Commitment:
    """A commitment discount (savings plan or reservation), amortised per FOCUS DiscountHandling."""

    idx: int
    provider_idx: int
    ba_idx: int
    account_idx: int  # the sub account that bought it (its Purchase and Unused rows)
    id: str
    name: str
    category: str  # Spend | Usage
    type: str
    unit: str  # CommitmentDiscountUnit: the currency for Spend, Hours for Usage
    rate: str  # EffectiveCost per commitment unit (1 for Spend)
    spend_factor: str  # Spend only: covered EffectiveCost = ContractedCost x spend_factor
    coverage: int  # per mille of eligible usage rows it covers
    frequency: str  # Recurring (monthly fee) | One-Time (prepaid at the start)
    purchase_sku_idx: int
    unused_sku_idx: int
    contract_id: str
    term_days: int


def _regions(pairs: list[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


_NWS_REGIONS = _regions(
    [
        ("us-east-1", "US East (N. Virginia)"),
        ("us-west-2", "US West (Oregon)"),
        ("eu-west-1", "Europe (Ireland)"),
        ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ]
)
_CIRRUS_REGIONS = _regions(
    [("eastus", "East US"), ("westeurope", "West Europe"), ("northeurope", "North Europe")]
)
_PARALLAX_REGIONS = _regions([("global", "Global")])

PROVIDERS: tuple[Provider, ...] = (
    Provider(0, "Nimbus Web Services", "Nimbus Web Services", "NWS", "0.0800", "0.0300", None, None, None,
             *_NWS_REGIONS),
    Provider(1, "Cirrus Cloud", "Cirrus Cloud", "CRC", None, "0.0200", None, None, None, *_CIRRUS_REGIONS),
    Provider(2, "Beacon Observability", "Nimbus Web Services", "BCN", "0.0800", None, None, None, None, (), ()),
    Provider(3, "Parallax AI", "Cirrus Cloud", "PLX", "0.0800", None, "plx-msa-2024-017",
             "plx-msa-2024-017-spend", "120000.00", *_PARALLAX_REGIONS),
)  # fmt: skip

BILLING_ACCOUNTS: tuple[BillingAccount, ...] = (
    BillingAccount(0, 0, "584731902266", "Acme Corp (management)", "Management Account", "USD", "0.9500"),
    BillingAccount(
        1, 1, "bp-7d41c2e9-acme-emea", "Acme EMEA billing profile", "Billing Profile", "EUR", "0.9200"
    ),
    BillingAccount(2, 2, "acme-beacon-org", "Acme Corp", "Organization", "USD", "1.0000"),
    BillingAccount(3, 3, "org-qm3Xa9LwT2", "Acme Corp", "Organization", "USD", "1.0000"),
)

SUB_ACCOUNTS: tuple[SubAccount, ...] = (
    SubAccount(0, 0, 0, 0, "104928375561", "acme-prod", "Member Account"),
    SubAccount(1, 0, 1, 0, "271836450092", "acme-staging", "Member Account"),
    SubAccount(2, 0, 2, 0, "390475128836", "acme-data", "Member Account"),
    SubAccount(3, 0, 3, 0, "455019283746", "acme-sandbox", "Member Account"),
    SubAccount(4, 1, 0, 1, "/subscriptions/3f2a9c1e-8b7d-4e6f-a1c2-9d8e7f6a5b41", "Acme EMEA Production",
               "Subscription"),
    SubAccount(5, 1, 1, 1, "/subscriptions/b81e4d07-2c3a-4f59-9e6d-0a1b2c3d4e5f", "Acme EMEA Dev/Test",
               "Subscription"),
    SubAccount(6, 2, 0, 2, None, None, None),
    SubAccount(7, 3, 0, 3, "proj_support-bot", "Support assistant", "Project"),
    SubAccount(8, 3, 1, 3, "proj_search-rerank", "Search re-ranking", "Project"),
)  # fmt: skip

_VM_DETAILS = '{{"CoreCount":{cores},"InstanceType":"{itype}","MemorySize":{mem},"OperatingSystem":"Linux"}}'

SKUS: tuple[Sku, ...] = (
    # Nimbus Web Services (an IaaS cloud)
    Sku(0, 0, "Nimbus Compute", "Compute", "Virtual Machines", "NC-GP-M2", "NC-GP-M2-LNX-OD", "Instance Hours",
        "General purpose m2.large Linux instance", "Hours", "Hours", 1, "0.096000", 2.0, 24.0, 180,
        "i-", "Virtual Machine", "web", True, True, _VM_DETAILS.format(cores=2, itype="m2.large", mem=8), 1),
    Sku(1, 0, "Nimbus Compute", "Compute", "Virtual Machines", "NC-CO-C3", "NC-CO-C3-LNX-OD", "Instance Hours",
        "Compute optimised c3.xlarge Linux instance", "Hours", "Hours", 1, "0.170000", 2.0, 24.0, 110,
        "i-", "Virtual Machine", "worker", True, True, _VM_DETAILS.format(cores=4, itype="c3.xlarge", mem=8), 0),
    Sku(2, 0, "Nimbus Compute", "Compute", "Virtual Machines", "NC-GPU-G5", "NC-GPU-G5-LNX-OD", "Instance Hours",
        "GPU g5.2xlarge Linux instance", "Hours", "Hours", 1, "1.212000", 1.0, 24.0, 20,
        "i-", "Virtual Machine", "train", True, True, _VM_DETAILS.format(cores=8, itype="g5.2xlarge", mem=32), 0),
    Sku(3, 0, "Nimbus Object Storage", "Storage", "Object Storage", "NOS-STD", "NOS-STD-GBMO", "Storage",
        "Standard object storage", "GB-Months", "GB-Months", 1, "0.023000", 0.5, 400.0, 90,
        "bucket/", "Bucket", "assets", True, False, '{"StorageClass":"Standard","Redundancy":"Regional"}', None),
    Sku(4, 0, "Nimbus Object Storage", "Storage", "Object Storage", "NOS-REQ", "NOS-REQ-1K", "Requests",
        "Object storage GET requests", "1000 Requests", "Requests", 1000, "0.000400", 1.0, 5000.0, 50,
        "bucket/", "Bucket", "assets", True, False, None, None),
    Sku(5, 0, "Nimbus Managed Database", "Databases", "Relational Databases", "NDB-PG-R5", "NDB-PG-R5-OD",
        "Database Instance Hours", "Managed PostgreSQL r5.large instance", "Hours", "Hours", 1, "0.250000",
        4.0, 24.0, 60, "db-", "Database Instance", "orders", True, True,
        '{"CoreCount":2,"InstanceType":"db.r5.large","MemorySize":16}', None),
    Sku(6, 0, "Nimbus Functions", "Compute", "Serverless Compute", "NFN-GBS", "NFN-GBS-ARM", "Compute",
        "Serverless function compute (GB-seconds)", "GB-Seconds", "GB-Seconds", 1, "0.000013", 100.0,
        90000.0, 60, "fn:", "Function", "api", True, False, None, 0),
    Sku(7, 0, "Nimbus Data Transfer", "Networking", "Network Connectivity", "NDT-OUT", "NDT-OUT-INET", "Egress",
        "Data transfer out to the internet", "GB", "GB", 1, "0.090000", 0.1, 60.0, 50,
        "lb-", "Load Balancer", "edge", True, False, None, None),
    Sku(8, 0, "Nimbus Compute", "Compute", "Virtual Machines", "NC-SP-COMPUTE-1Y", "NC-SP-COMPUTE-1Y-NU",
        "Savings Plan", "Compute savings plan, 1 year, no upfront", "USD", "USD", 1, "1.000000", 0, 0, 0,
        "sp-", "Savings Plan", "", False, False, None, None),
    Sku(9, 0, "Nimbus Compute", "Compute", "Virtual Machines", "NC-RI-M2-1Y", "NC-RI-M2-1Y-AU",
        "Reserved Instance", "m2.large reserved instance, 1 year, all upfront", "Hours", "Hours", 1, "0.061000",
        0, 0, 0, "ri-", "Reserved Instance", "", False, False, None, None),
    # Cirrus Cloud (a second IaaS cloud, billed in EUR)
    Sku(10, 1, "Cirrus Virtual Machines", "Compute", "Virtual Machines", "CVM-D4V5", "CVM-D4V5-LNX-PAYG",
        "D4 v5", "D4 v5 Linux virtual machine", "Hours", "Hours", 1, "0.192000", 2.0, 24.0, 110,
        "vm-", "Virtual Machine", "app", True, False, _VM_DETAILS.format(cores=4, itype="D4 v5", mem=16), 2),
    Sku(11, 1, "Cirrus Blob Storage", "Storage", "Object Storage", "CBS-HOT-LRS", "CBS-HOT-LRS-GBMO", "Hot LRS",
        "Hot LRS blob storage", "GB-Months", "GB-Months", 1, "0.018400", 1.0, 300.0, 50,
        "st", "Storage Account", "logs", True, False, '{"StorageClass":"Hot","Redundancy":"LRS"}', None),
    Sku(12, 1, "Cirrus SQL Database", "Databases", "Relational Databases", "CSQL-GP-2", "CSQL-GP-2-VCORE",
        "vCore", "SQL Database general purpose vCore", "Hours", "Hours", 1, "0.505000", 8.0, 48.0, 40,
        "sqldb-", "SQL Database", "billing", True, False, '{"CoreCount":2}', None),
    Sku(13, 1, "Cirrus Kubernetes Service", "Compute", "Containers", "CKS-UPTIME", "CKS-UPTIME-STD",
        "Uptime SLA", "Kubernetes cluster uptime SLA", "Hours", "Hours", 1, "0.100000", 24.0, 24.0, 20,
        "aks-", "Kubernetes Cluster", "platform", True, False, None, None),
    Sku(14, 1, "Cirrus Virtual Machines", "Compute", "Virtual Machines", "CVM-RES-D4V5-1Y", "CVM-RES-D4V5-1Y-M",
        "Reservation", "D4 v5 reservation, 1 year, monthly", "Hours", "Hours", 1, "0.118000", 0, 0, 0,
        "res-", "Reservation", "", False, False, None, None),
    # Beacon Observability (a SaaS)
    Sku(15, 2, "Beacon APM", "Management and Governance", "Observability", "BCN-APM-HOST", "BCN-APM-HOST-PRO",
        "APM Host Hours", "APM host monitoring (Pro)", "Hours", "Hours", 1, "0.043000", 12.0, 24.0, 50,
        "host:", "Monitored Host", "node", False, False, None, None),
    Sku(16, 2, "Beacon Logs", "Management and Governance", "Observability", "BCN-LOG-INGEST",
        "BCN-LOG-INGEST-STD", "Log Ingestion", "Log ingestion", "GB", "GB", 1, "0.100000", 0.5, 80.0, 30,
        "index:", "Log Index", "main", False, False, None, None),
    # Parallax AI (an AI API, priced per 1000 tokens)
    Sku(17, 3, "Parallax Inference API", "AI and Machine Learning", "Generative AI", "PLX-ORCA-IN",
        "PLX-ORCA-IN-STD", "Input Tokens", "Orca model input tokens", "1000 Tokens", "Tokens", 1000, "0.003000",
        10.0, 25000.0, 50, "key_", "API Key", "svc", True, False, None, None),
    Sku(18, 3, "Parallax Inference API", "AI and Machine Learning", "Generative AI", "PLX-ORCA-OUT",
        "PLX-ORCA-OUT-STD", "Output Tokens", "Orca model output tokens", "1000 Tokens", "Tokens", 1000,
        "0.015000", 5.0, 6000.0, 30, "key_", "API Key", "svc", True, False, None, None),
)  # fmt: skip

COMMITMENTS: tuple[Commitment, ...] = (
    Commitment(0, 0, 0, 0, "arn:nws:savingsplans::584731902266:savingsplan/sp-4f1c9a7e2b",
               "Compute savings plan (1 year)", "Spend", "Savings Plan", "USD", "1.000000", "0.7200", 550,
               "Recurring", 8, 8, "nws-edp-2024-acme", 365),
    Commitment(1, 0, 0, 0, "arn:nws:ec2:us-east-1:584731902266:reserved-instances/ri-0b7e3d92",
               "m2.large reserved instances (1 year)", "Usage", "Reserved Instance", "Hours", "0.061000", "1.0000",
               650, "One-Time", 9, 0, "nws-edp-2024-acme", 365),
    Commitment(2, 1, 1, 4, "/providers/Cirrus.Capacity/reservationOrders/5e0c2d1a/reservations/9a8b7c6d",
               "D4 v5 reservation (1 year)", "Usage", "Reservation", "Hours", "0.118000", "1.0000", 600,
               "Recurring", 14, 10, "crc-mca-acme-emea", 365),
)  # fmt: skip


def _table(items: tuple[Any, ...], schema: pa.Schema) -> pa.Table:
    names = [f.name for f in fields(items[0])]
    data = {name: [getattr(item, name) for item in items] for name in names}
    return pa.table({name: pa.array(data[name], type=schema.field(name).type) for name in names})


def _schema(**types: pa.DataType) -> pa.Schema:
    return pa.schema(list(types.items()))


_S, _I, _F, _B = pa.string(), pa.int32(), pa.float64(), pa.bool_()


def reference_tables() -> dict[str, pa.Table]:
    """The reference data as Arrow tables, keyed by the table name the generator's SQL uses."""
    return {
        "demo_providers": _table(
            PROVIDERS,
            _schema(idx=_I, name=_S, host_provider=_S, invoice_prefix=_S, tax_rate=_S, credit_rate=_S,
                    contract_id=_S, contract_commitment_id=_S, contract_commitment_cost=_S,
                    regions=pa.list_(_S), region_names=pa.list_(_S)),
        ),
        "demo_billing_accounts": _table(
            BILLING_ACCOUNTS,
            _schema(idx=_I, provider_idx=_I, id=_S, name=_S, type=_S, currency=_S, price_factor=_S),
        ),
        "demo_sub_accounts": _table(
            SUB_ACCOUNTS, _schema(idx=_I, provider_idx=_I, slot=_I, ba_idx=_I, id=_S, name=_S, type=_S)
        ),
        "demo_skus": _table(
            SKUS,
            _schema(idx=_I, provider_idx=_I, service_name=_S, service_category=_S, service_subcategory=_S,
                    sku_id=_S, sku_price_id=_S, sku_meter=_S, description=_S, pricing_unit=_S,
                    consumed_unit=_S, block=_I, list_unit_price=_S, qty_min=_F, qty_max=_F, weight=_I,
                    resource_prefix=_S, resource_type=_S, resource_word=_S, regional=_B, zonal=_B,
                    sku_price_details=_S, sku_commit_idx=_I),
        ),
        "demo_commitments": _table(
            COMMITMENTS,
            _schema(idx=_I, provider_idx=_I, ba_idx=_I, account_idx=_I, id=_S, name=_S, category=_S, type=_S,
                    unit=_S, rate=_S, spend_factor=_S, coverage=_I, frequency=_S, purchase_sku_idx=_I,
                    unused_sku_idx=_I, contract_id=_S, term_days=_I),
        ),
    }  # fmt: skip
