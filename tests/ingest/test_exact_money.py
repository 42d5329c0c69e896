"""Exact money: the sums stored per currency equal the sums of the input to the last digit."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal, localcontext
from typing import Any

from fastapi.testclient import TestClient

from tests.ingest.conftest import Provider, envelope, row

CURRENCIES = ("USD", "EUR", "JPY")


def amounts(rng: random.Random, n: int) -> list[Decimal]:
    values = []
    for _ in range(n):
        whole = rng.choice([0, rng.randint(0, 99), rng.randint(0, 10**9), rng.randint(0, 10**20)])
        fraction = rng.randint(0, 10**12 - 1)
        sign = "-" if rng.random() < 0.1 else ""
        values.append(Decimal(f"{sign}{whole}.{fraction:012d}"))
    # Classic float traps, exact here.
    return [*values, Decimal("0.1"), Decimal("0.2"), Decimal("0.000000000001"), Decimal("1E-12")]


def test_sums_per_currency_are_exact(client: TestClient, provider: Provider, query: Any) -> None:
    # Python's default decimal context keeps 28 digits; these sums need up to 38.
    with localcontext(prec=60):
        check_sums(client, provider, query)


def check_sums(client: TestClient, provider: Provider, query: Any) -> None:
    rng = random.Random(20260601)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    day = 0
    for batch in range(4):
        rows = []
        for value in amounts(rng, 300):
            currency = rng.choice(CURRENCIES)
            day = (day % 27) + 1
            rows.append(
                row(f"2026-0{batch + 1}-{day:02d}", "0", BillingCurrency=currency) | {"BilledCost": value}
            )
            expected[currency] += value
        response = provider.push(rows)
        assert response.status_code == 200, response.text
        for currency, entry in response.json()["sums"].items():
            assert Decimal(entry["BilledCost"]) == sum(
                (r["BilledCost"] for r in rows if r["BillingCurrency"] == currency), Decimal(0)
            )
    # A multi-part batch on other days adds to it exactly too.
    batch_id = client.post(
        f"/api/v1/providers/{provider.id}/batches", json={}, headers=provider.headers
    ).json()["batchId"]
    for _ in range(3):
        rows = []
        for value in amounts(rng, 200):
            currency = rng.choice(CURRENCIES)
            rows.append(
                row(f"2026-07-{rng.randint(1, 28):02d}", "0", BillingCurrency=currency)
                | {"BilledCost": value}
            )
            expected[currency] += value
        part = client.post(
            f"/api/v1/batches/{batch_id}/parts", content=envelope(rows), headers=provider.headers
        )
        assert part.status_code == 200, part.text
    assert client.post(f"/api/v1/batches/{batch_id}/commit", headers=provider.headers).status_code == 200
    stored = dict(query('SELECT "BillingCurrency", sum("BilledCost") FROM live_cost_rows GROUP BY 1'))
    assert stored == dict(expected)
    assert all(isinstance(v, Decimal) for v in stored.values())
    # Re-sending one month (replace_days) leaves every total unchanged.
    january = query(
        'SELECT "ChargePeriodStart"::DATE::VARCHAR, "BillingCurrency", "BilledCost" FROM live_cost_rows '
        'WHERE month("ChargePeriodStart") = 1'
    )
    resend = [row(d, "0", BillingCurrency=c) | {"BilledCost": v} for d, c, v in january]
    assert provider.push(resend).status_code == 200
    assert dict(query('SELECT "BillingCurrency", sum("BilledCost") FROM live_cost_rows GROUP BY 1')) == dict(
        expected
    )
