"""The DuckDB SQL that builds the demo rows: hash-based pseudo-randomness, no per-row Python.

Every statement reads its parameters from the one-row table `demo_params`; row counts and the seed never
enter the SQL text. The core shape (`demo_core`) carries what differs per row; `demo_rows` projects it onto
the FOCUS 1.3 columns (typed: DECIMAL(18,9) money and quantities, TIMESTAMP in UTC, JSON as text).
"""

# ruff: noqa: E501, S608
# (SQL text reads best unwrapped; only module constants are ever interpolated into it.)

from __future__ import annotations

MONEY = "DECIMAL(18,9)"  # up to 999,999,999.999999999 per row
TOTAL = "DECIMAL(38,9)"

# One row per usage line item. Rows are in charge-day order; `u_*` are uniform draws from hash(row, seed, salt).
# __N_USAGE__ is replaced by the integer row count: a literal lets the planner see the real cardinality and
# build its hash tables from the small reference tables, never from the millions of usage rows.
USAGE_CORE = f"""
CREATE OR REPLACE TEMP VIEW demo_usage_core AS
WITH base AS (
    SELECT
        r.range AS i,
        CAST(r.range * p.days // p.n_usage AS INTEGER) AS day,
        pk.sku_idx,
        hash(r.range, p.seed, 'qty') % 1000000 / 1000000.0 AS u_qty,
        hash(r.range, p.seed, 'cov') % 1000 AS u_cov,
        hash(r.range, p.seed, 'res') AS h_res,
        p.seed, p.days, p.start_ts
    FROM demo_params p
    CROSS JOIN range(__N_USAGE__) r
    JOIN demo_pick pk ON pk.slot = hash(r.range, p.seed, 'sku') % p.total_weight
), res AS (
    SELECT b.*, s.*, CAST(hash(b.seed, b.sku_idx, b.h_res % s.pool) >> 1 AS BIGINT) AS rh,
           CAST(b.h_res % s.pool AS BIGINT) AS res_no,
           b.start_ts + to_days(b.day) AS cps,
           -- weekly seasonality (weekends 35% lower) and 25% growth over the period
           (CASE WHEN isodow(b.start_ts + to_days(b.day)) IN (6, 7) THEN 0.65 ELSE 1.0 END)
               * (1.0 + 0.25 * b.day / b.days) AS season
    FROM base b JOIN demo_skus s ON s.idx = b.sku_idx
), priced AS (
    SELECT
        res.*, sa.idx AS account_idx, sa.ba_idx, ba.price_factor, c.idx AS commit_idx, c.category AS c_category,
        c.rate AS c_rate, c.spend_factor AS c_spend_factor,
        CAST(
            CASE WHEN res.pricing_unit = 'Hours' AND res.qty_max <= 24
                 THEN least(24.0, (res.qty_min + res.u_qty * (res.qty_max - res.qty_min)) * res.season)
                 ELSE (res.qty_min + res.u_qty * (res.qty_max - res.qty_min)) * res.season END
            AS DECIMAL(18,3)) AS pq
    FROM res
    JOIN demo_sub_accounts sa ON sa.provider_idx = res.provider_idx AND sa.slot = res.rh % res.n_accounts
    JOIN demo_billing_accounts ba ON ba.idx = sa.ba_idx
    LEFT JOIN demo_commitments c ON c.idx = res.sku_commit_idx AND c.ba_idx = sa.ba_idx AND res.u_cov < c.coverage
), costed AS (
    SELECT
        priced.*,
        CAST(list_unit_price * pq AS {MONEY}) AS list_cost,
        CAST(CAST(list_unit_price * price_factor AS DECIMAL(18,6)) * pq AS {MONEY}) AS contracted_cost,
        CAST(list_unit_price * price_factor AS DECIMAL(18,6)) AS cup
    FROM priced
), amortised AS (
    SELECT
        costed.*,
        CASE WHEN commit_idx IS NULL THEN contracted_cost
             WHEN c_category = 'Usage' THEN CAST(c_rate * pq AS {MONEY})
             ELSE CAST(contracted_cost * c_spend_factor AS {MONEY}) END AS effective
    FROM costed
)
SELECT
    'U' AS kind, provider_idx, ba_idx, account_idx, sku_idx, service_sku_idx AS svc_sku_idx, commit_idx,
    CASE WHEN commit_idx IS NULL THEN NULL ELSE 'Used' END AS status,
    day, cps, cps + INTERVAL 1 DAY AS cpe,
    resource_prefix || lower(lpad(to_hex(rh % 281474976710656), 12, '0')) AS res_id,
    resource_word || '-' || (['prod', 'prod', 'staging', 'dev'])[(rh >> 20) % 4 + 1] || '-'
        || CAST(res_no % 1000 AS VARCHAR) AS res_name,
    resource_type AS res_type,
    CASE WHEN regional THEN region_ids[(rh >> 8) % len(region_ids) + 1] END AS region_id,
    CASE WHEN regional THEN region_names[(rh >> 8) % len(region_ids) + 1] END AS region_name,
    CASE WHEN zonal THEN region_ids[(rh >> 8) % len(region_ids) + 1] || chr(CAST(97 + (rh >> 16) % 3 AS INTEGER))
         END AS zone,
    CASE WHEN (rh >> 36) % 100 < 8 THEN NULL ELSE
        '{{"env":"' || (['prod', 'prod', 'staging', 'dev'])[(rh >> 20) % 4 + 1]
        || '","team":"' || (['payments', 'search', 'platform', 'data', 'growth', 'support'])[(rh >> 24) % 6 + 1]
        || '","cost-center":"CC-' || CAST(1000 + (rh >> 28) % 12 AS VARCHAR) || '"}}' END AS tags,
    CAST(pq AS {MONEY}) AS pq,
    CAST(list_unit_price AS {MONEY}) AS lup,
    CAST(cup AS {MONEY}) AS cup,
    list_cost, contracted_cost,
    CASE WHEN commit_idx IS NULL THEN contracted_cost ELSE CAST(0 AS {MONEY}) END AS billed,
    effective,
    CASE WHEN commit_idx IS NULL THEN NULL WHEN c_category = 'Usage' THEN CAST(pq AS {MONEY}) ELSE effective END
        AS cq,
    CAST(pq * block AS {MONEY}) AS consumed
FROM amortised
"""

# Per billing account, service, day and commitment: what the special rows are computed from.
AGGREGATE = f"""
CREATE OR REPLACE TEMP TABLE demo_agg AS
SELECT ba_idx, svc_sku_idx, day, commit_idx,
       CAST(sum(billed) AS {TOTAL}) AS billed, CAST(sum(cq) AS {TOTAL}) AS used
FROM demo_usage_core GROUP BY ALL
"""

# Commitment capacity per day: 10% above the busiest day's use, at least 1 unit (whole units).
CAPACITY = f"""
CREATE OR REPLACE TEMP TABLE demo_capacity AS
SELECT c.idx AS commit_idx,
       CAST(greatest(1, ceil(coalesce(max(d.used), 0) * 1.1)) AS {MONEY}) AS q
FROM demo_commitments c
LEFT JOIN (SELECT commit_idx, day, sum(used) AS used FROM demo_agg WHERE commit_idx IS NOT NULL GROUP BY ALL) d
    ON d.commit_idx = c.idx
GROUP BY c.idx
"""

_SPECIAL_COLUMNS = (
    "kind, provider_idx, ba_idx, account_idx, sku_idx, svc_sku_idx, commit_idx, status, day, cps, cpe, res_id, "
    "res_name, res_type, region_id, region_name, zone, tags, pq, lup, cup, list_cost, contracted_cost, billed, "
    "effective, cq, consumed"
)

# Unused commitment per day, the commitments' purchases, taxes and credits (a few rows per day at most).
SPECIAL = f"""
CREATE OR REPLACE TEMP TABLE demo_special AS
WITH months AS (
    SELECT greatest(m, p.start_ts) AS ms, least(m + INTERVAL 1 MONTH, p.end_ts) AS me, m AS month
    FROM demo_params p,
         unnest(generate_series(date_trunc('month', p.start_ts), p.end_ts - INTERVAL 1 SECOND, INTERVAL 1 MONTH))
         AS t(m)
), daily AS (
    SELECT commit_idx, day, sum(used) AS used FROM demo_agg WHERE commit_idx IS NOT NULL GROUP BY ALL
), unused AS (
    SELECT 'N' AS kind, c.provider_idx, c.ba_idx, c.account_idx, c.unused_sku_idx AS sku_idx,
           s.service_sku_idx AS svc_sku_idx, c.idx AS commit_idx, 'Unused' AS status, d.range AS day,
           p.start_ts + to_days(CAST(d.range AS INTEGER)) AS cps,
           p.start_ts + to_days(CAST(d.range AS INTEGER) + 1) AS cpe,
           c.id AS res_id, c.name AS res_name, c.type AS res_type,
           NULL AS region_id, NULL AS region_name, NULL AS zone, NULL AS tags,
           CAST(cap.q - coalesce(daily.used, 0) AS {MONEY}) AS pq, s.list_unit_price AS unit_price,
           CASE WHEN s.weight = 0 THEN s.list_unit_price
                ELSE CAST(s.list_unit_price * ba.price_factor AS DECIMAL(18,6)) END AS cup_raw,
           c.rate, c.ba_idx AS ba
    FROM demo_commitments c
    JOIN demo_params p ON TRUE
    CROSS JOIN range((SELECT days FROM demo_params)) d
    JOIN demo_capacity cap ON cap.commit_idx = c.idx
    JOIN demo_skus s ON s.idx = c.unused_sku_idx
    JOIN demo_billing_accounts ba ON ba.idx = c.ba_idx
    LEFT JOIN daily ON daily.commit_idx = c.idx AND daily.day = d.range
), purchase AS (
    SELECT 'P' AS kind, c.provider_idx, c.ba_idx, c.account_idx, c.purchase_sku_idx AS sku_idx,
           s.service_sku_idx AS svc_sku_idx, c.idx AS commit_idx, NULL AS status,
           CAST(date_diff('day', p.start_ts, m.ms) AS INTEGER) AS day,
           CASE WHEN c.frequency = 'One-Time' THEN p.start_ts ELSE m.ms END AS cps,
           CASE WHEN c.frequency = 'One-Time' THEN p.start_ts + INTERVAL 1 DAY ELSE m.me END AS cpe,
           c.id AS res_id, c.name AS res_name, c.type AS res_type,
           CAST(cap.q * CASE WHEN c.frequency = 'One-Time' THEN c.term_days ELSE date_diff('day', m.ms, m.me) END
                AS {MONEY}) AS pq,
           s.list_unit_price AS unit_price
    FROM demo_commitments c
    JOIN demo_params p ON TRUE
    JOIN months m ON c.frequency = 'Recurring' OR m.ms = p.start_ts
    JOIN demo_capacity cap ON cap.commit_idx = c.idx
    JOIN demo_skus s ON s.idx = c.purchase_sku_idx
), billed_base AS (
    SELECT a.ba_idx, a.svc_sku_idx, m.month, sum(a.billed) AS billed
    FROM demo_agg a JOIN demo_params p ON TRUE
    JOIN months m ON p.start_ts + to_days(a.day) >= m.ms AND p.start_ts + to_days(a.day) < m.me
    GROUP BY ALL
    UNION ALL
    SELECT ba_idx, svc_sku_idx, date_trunc('month', cps), CAST(CAST(unit_price AS {TOTAL}) * pq AS {MONEY}) FROM purchase
), tax_groups AS (
    SELECT ba.idx AS ba_idx, ba.provider_idx, sv.svc_sku_idx, m.ms, m.me, m.month, pr.tax_rate
    FROM demo_billing_accounts ba
    JOIN demo_providers pr ON pr.idx = ba.provider_idx AND pr.tax_rate IS NOT NULL
    JOIN (SELECT DISTINCT provider_idx, service_sku_idx AS svc_sku_idx FROM demo_skus WHERE weight > 0) sv
        ON sv.provider_idx = ba.provider_idx
    CROSS JOIN months m
), tax AS (
    SELECT 'T' AS kind, g.provider_idx, g.ba_idx, sa.idx AS account_idx, NULL AS sku_idx, g.svc_sku_idx,
           NULL AS commit_idx, NULL AS status, 0 AS day, g.ms AS cps, g.me AS cpe,
           CAST(round(CAST(coalesce(sum(b.billed), 0) AS {TOTAL}) * g.tax_rate, 2) AS {MONEY}) AS amount
    FROM tax_groups g
    JOIN demo_sub_accounts sa ON sa.provider_idx = g.provider_idx AND sa.slot = 0
    LEFT JOIN billed_base b ON b.ba_idx = g.ba_idx AND b.svc_sku_idx = g.svc_sku_idx AND b.month = g.month
    GROUP BY g.provider_idx, g.ba_idx, sa.idx, g.svc_sku_idx, g.ms, g.me, g.tax_rate
), credit AS (
    SELECT 'C' AS kind, ba.provider_idx, ba.idx AS ba_idx, sa.idx AS account_idx, NULL AS sku_idx,
           pr.primary_svc_idx AS svc_sku_idx,
           NULL AS commit_idx, NULL AS status, 0 AS day, m.ms AS cps, m.me AS cpe,
           CAST(-round(CAST(coalesce(sum(b.billed), 0) AS {TOTAL}) * pr.credit_rate, 2) AS {MONEY}) AS amount
    FROM demo_billing_accounts ba
    JOIN demo_providers pr ON pr.idx = ba.provider_idx AND pr.credit_rate IS NOT NULL
    JOIN demo_sub_accounts sa ON sa.provider_idx = ba.provider_idx AND sa.slot = 0
    CROSS JOIN months m
    LEFT JOIN billed_base b ON b.ba_idx = ba.idx AND b.month = m.month
    GROUP BY ba.provider_idx, ba.idx, sa.idx, pr.primary_svc_idx, m.ms, m.me, pr.credit_rate
)
SELECT kind, provider_idx, ba_idx, account_idx, sku_idx, svc_sku_idx, commit_idx, status, day, cps, cpe,
       res_id, res_name, res_type, region_id, region_name, zone, tags, pq,
       CAST(unit_price AS {MONEY}) AS lup, CAST(cup_raw AS {MONEY}) AS cup,
       CAST(CAST(unit_price AS {TOTAL}) * pq AS {MONEY}) AS list_cost, CAST(CAST(cup_raw AS {TOTAL}) * pq AS {MONEY}) AS contracted_cost,
       CAST(0 AS {MONEY}) AS billed, CAST(CAST(rate AS {TOTAL}) * pq AS {MONEY}) AS effective, pq AS cq, NULL AS consumed
FROM unused
UNION ALL
SELECT kind, provider_idx, ba_idx, account_idx, sku_idx, svc_sku_idx, commit_idx, status, day, cps, cpe,
       res_id, res_name, res_type, NULL, NULL, NULL, NULL, pq,
       CAST(unit_price AS {MONEY}), CAST(unit_price AS {MONEY}),
       CAST(CAST(unit_price AS {TOTAL}) * pq AS {MONEY}), CAST(CAST(unit_price AS {TOTAL}) * pq AS {MONEY}),
       CAST(CAST(unit_price AS {TOTAL}) * pq AS {MONEY}), CAST(0 AS {MONEY}), pq, NULL
FROM purchase
UNION ALL
SELECT kind, provider_idx, ba_idx, account_idx, sku_idx, svc_sku_idx, commit_idx, status, day, cps, cpe,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, amount, amount, amount, amount, NULL, NULL
FROM tax
UNION ALL
SELECT kind, provider_idx, ba_idx, account_idx, sku_idx, svc_sku_idx, commit_idx, status, day, cps, cpe,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, amount, amount, amount, amount, NULL, NULL
FROM credit
ORDER BY kind, commit_idx, ba_idx, svc_sku_idx, cps
"""

CORE = f"""
CREATE OR REPLACE TEMP VIEW demo_core AS
SELECT {_SPECIAL_COLUMNS} FROM demo_usage_core
UNION ALL
SELECT {_SPECIAL_COLUMNS} FROM demo_special
"""

# The FOCUS 1.3 Cost and Usage columns (older versions select a subset), typed.
ROWS = """
CREATE OR REPLACE TEMP VIEW demo_rows AS
SELECT
    NULL::VARCHAR AS AllocatedMethodId,
    NULL::VARCHAR AS AllocatedMethodDetails,
    NULL::VARCHAR AS AllocatedResourceId,
    NULL::VARCHAR AS AllocatedResourceName,
    NULL::VARCHAR AS AllocatedTags,
    k.zone AS AvailabilityZone,
    k.billed AS BilledCost,
    ba.id AS BillingAccountId,
    ba.name AS BillingAccountName,
    ba.type AS BillingAccountType,
    ba.currency AS BillingCurrency,
    date_trunc('month', k.cps) + INTERVAL 1 MONTH AS BillingPeriodEnd,
    date_trunc('month', k.cps) AS BillingPeriodStart,
    NULL::VARCHAR AS CapacityReservationId,
    NULL::VARCHAR AS CapacityReservationStatus,
    CASE k.kind WHEN 'U' THEN 'Usage' WHEN 'N' THEN 'Usage' WHEN 'P' THEN 'Purchase' WHEN 'T' THEN 'Tax'
        ELSE 'Credit' END AS ChargeCategory,
    NULL::VARCHAR AS ChargeClass,
    CASE k.kind
        WHEN 'U' THEN s.description || coalesce(' in ' || k.region_name, '')
        WHEN 'N' THEN 'Unused commitment: ' || c.name
        WHEN 'P' THEN c.name || CASE WHEN c.frequency = 'One-Time' THEN ' (upfront payment)' ELSE ' (monthly fee)' END
        WHEN 'T' THEN 'Sales tax on ' || sv.service_name
        ELSE 'Promotional credit' END AS ChargeDescription,
    CASE k.kind WHEN 'P' THEN c.frequency WHEN 'T' THEN 'Recurring' WHEN 'C' THEN 'One-Time'
        ELSE 'Usage-Based' END AS ChargeFrequency,
    k.cpe AS ChargePeriodEnd,
    k.cps AS ChargePeriodStart,
    c.category AS CommitmentDiscountCategory,
    c.id AS CommitmentDiscountId,
    c.name AS CommitmentDiscountName,
    k.cq AS CommitmentDiscountQuantity,
    k.status AS CommitmentDiscountStatus,
    c.type AS CommitmentDiscountType,
    CASE WHEN k.cq IS NOT NULL THEN c.unit END AS CommitmentDiscountUnit,
    k.consumed AS ConsumedQuantity,
    CASE WHEN k.consumed IS NOT NULL THEN s.consumed_unit END AS ConsumedUnit,
    CASE WHEN k.commit_idx IS NOT NULL OR pr.contract_id IS NOT NULL AND k.kind = 'U' THEN
        '{"Elements":[{"ContractId":"' || coalesce(c.contract_id, pr.contract_id)
        || '","ContractCommitmentId":"' || coalesce(c.id, pr.contract_commitment_id) || '",'
        || CASE WHEN c.category = 'Usage' AND k.kind <> 'P'
                THEN '"ContractCommitmentAppliedQuantity":' || demo_dec(k.cq)
                     || ',"ContractCommitmentAppliedUnit":"' || c.unit || '"'
                ELSE '"ContractCommitmentAppliedCost":'
                     || demo_dec(CASE WHEN k.kind = 'P' THEN k.billed
                                      WHEN c.idx IS NOT NULL THEN k.effective ELSE k.billed END) END
        || '}]}' END AS ContractApplied,
    k.contracted_cost AS ContractedCost,
    k.cup AS ContractedUnitPrice,
    k.effective AS EffectiveCost,
    CASE WHEN k.kind IN ('T', 'C') THEN NULL ELSE pr.host_provider END AS HostProviderName,
    pr.invoice_prefix || '-INV-' || strftime(date_trunc('month', k.cps), '%Y%m') || '-A' || CAST(ba.idx AS VARCHAR)
        AS InvoiceId,
    pr.name AS InvoiceIssuerName,
    k.list_cost AS ListCost,
    k.lup AS ListUnitPrice,
    CASE WHEN k.kind IN ('T', 'C') THEN NULL WHEN k.kind = 'P' OR k.commit_idx IS NULL THEN 'Standard'
        ELSE 'Committed' END AS PricingCategory,
    ba.currency AS PricingCurrency,
    k.cup AS PricingCurrencyContractedUnitPrice,
    k.effective AS PricingCurrencyEffectiveCost,
    k.lup AS PricingCurrencyListUnitPrice,
    k.pq AS PricingQuantity,
    CASE WHEN k.pq IS NOT NULL THEN s.pricing_unit END AS PricingUnit,
    pr.name AS ProviderName,
    pr.name AS PublisherName,
    k.region_id AS RegionId,
    k.region_name AS RegionName,
    k.res_id AS ResourceId,
    k.res_name AS ResourceName,
    k.res_type AS ResourceType,
    pr.name AS ServiceProviderName,
    sv.service_category AS ServiceCategory,
    sv.service_name AS ServiceName,
    sv.service_subcategory AS ServiceSubcategory,
    s.sku_id AS SkuId,
    s.sku_meter AS SkuMeter,
    s.sku_price_details AS SkuPriceDetails,
    s.sku_price_id AS SkuPriceId,
    sa.id AS SubAccountId,
    sa.name AS SubAccountName,
    sa.type AS SubAccountType,
    k.tags AS Tags
FROM demo_core k
JOIN demo_providers pr ON pr.idx = k.provider_idx
JOIN demo_billing_accounts ba ON ba.idx = k.ba_idx
JOIN demo_sub_accounts sa ON sa.idx = k.account_idx
JOIN demo_skus sv ON sv.idx = k.svc_sku_idx
LEFT JOIN demo_skus s ON s.idx = k.sku_idx
LEFT JOIN demo_commitments c ON c.idx = k.commit_idx
"""

# Decimal text that always has a decimal point and no trailing zeros beyond one ("12.0", "0.0345").
MACROS = """
CREATE OR REPLACE TEMP MACRO demo_dec_text(t) AS CASE WHEN t[-1] = '.' THEN t || '0' ELSE t END;
CREATE OR REPLACE TEMP MACRO demo_dec(x) AS demo_dec_text(rtrim(CAST(x AS VARCHAR), '0'));
CREATE OR REPLACE TEMP MACRO demo_ts(x) AS strftime(x, '%Y-%m-%dT%H:%M:%SZ');
"""

# The 1.3 Contract Commitment dataset: one row per commitment discount and per provider spend contract.
# Contracts started 120 days before the data and run three years (longer when --days is longer), so every
# row that cites one in ContractApplied lies inside its periods.
CONTRACT_COMMITMENTS = f"""
CREATE OR REPLACE TEMP VIEW demo_contract_commitment_rows AS
SELECT
    ba.currency AS BillingCurrency,
    CAST(CAST(c.rate AS {TOTAL}) * cap.q * c.term_days AS {MONEY}) AS ContractCommitmentCost,
    c.id AS ContractCommitmentId,
    c.category AS ContractCommitmentCategory,
    c.name || ', ' || CAST(cap.q AS BIGINT) || ' ' || c.unit || ' per day' AS ContractCommitmentDescription,
    p.start_ts + to_days(c.term_days) AS ContractCommitmentPeriodEnd,
    p.start_ts AS ContractCommitmentPeriodStart,
    CASE WHEN c.category = 'Usage' THEN CAST(cap.q * c.term_days AS {MONEY}) END AS ContractCommitmentQuantity,
    c.type AS ContractCommitmentType,
    CASE WHEN c.category = 'Usage' THEN c.unit END AS ContractCommitmentUnit,
    c.contract_id AS ContractId,
    p.start_ts + to_days(greatest(3 * 365, p.days + 120)) - INTERVAL 120 DAY AS ContractPeriodEnd,
    p.start_ts - INTERVAL 120 DAY AS ContractPeriodStart
FROM demo_commitments c
JOIN demo_params p ON TRUE
JOIN demo_capacity cap ON cap.commit_idx = c.idx
JOIN demo_billing_accounts ba ON ba.idx = c.ba_idx
UNION ALL
SELECT
    ba.currency, CAST(pr.contract_commitment_cost AS {MONEY}), pr.contract_commitment_id, 'Spend',
    pr.name || ' committed annual spend', p.start_ts + to_days(greatest(245, p.days)), p.start_ts - INTERVAL 120 DAY,
    NULL, 'Committed Spend', NULL, pr.contract_id,
    p.start_ts + to_days(greatest(3 * 365, p.days + 120)) - INTERVAL 120 DAY, p.start_ts - INTERVAL 120 DAY
FROM demo_providers pr
JOIN demo_params p ON TRUE
JOIN demo_billing_accounts ba ON ba.provider_idx = pr.idx
WHERE pr.contract_id IS NOT NULL
"""
