"""Conditional rules tying the columns of one row together (FOCUS requirement model, errata applied)."""

from __future__ import annotations

from focusbase.focus import Dataset, allowed_service_subcategories
from focusbase.validate.context import Context, RowRule
from focusbase.validate.parsing import one_of_sql, quote_literal
from focusbase.validate.rm12 import rm12_id

# Columns tied to ChargeCategory: null for Tax; present for Usage/Purchase unless the row is a correction.
PRICING_COLUMNS = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)
# Child column -> parent id column: the child is null when the parent is, and (from 1.2) set when it is set.
PARENT_ID = {
    "SubAccountName": ("SubAccountId", "1.2", "1.0"),
    "SubAccountType": ("SubAccountId", "1.2", "1.2"),
    "RegionName": ("RegionId", "1.2", "1.0"),
    "ResourceType": ("ResourceId", "1.2", "1.0"),
    "ResourceName": ("ResourceId", None, "1.0"),
    "SkuMeter": ("SkuId", None, "1.1"),
    "SkuPriceDetails": ("SkuPriceId", None, "1.1"),
    "CommitmentDiscountName": ("CommitmentDiscountId", None, "1.0"),
    "CommitmentDiscountCategory": ("CommitmentDiscountId", "1.0", "1.0"),
    "CommitmentDiscountType": ("CommitmentDiscountId", "1.0", "1.0"),
    "CommitmentDiscountStatus": ("CommitmentDiscountId", None, "1.0"),
    "CapacityReservationStatus": ("CapacityReservationId", None, "1.1"),
}


def cross_rules(ctx: Context) -> list[RowRule]:
    """Every cross-column rule whose columns are present, for the context's version and dataset."""
    if ctx.dataset is Dataset.CONTRACT_COMMITMENT:
        return _contract_commitment_rules(ctx)
    rules: list[RowRule] = []
    rules += _period_rules(ctx)
    rules += _charge_category_rules(ctx)
    rules += _parent_rules(ctx)
    rules += _commitment_rules(ctx)
    rules += _quantity_rules(ctx)
    rules += _cost_rules(ctx)
    rules += _service_rules(ctx)
    return rules


def _not_correction(ctx: Context) -> str:
    return ctx.is_not("ChargeClass", "Correction")


def _period_rules(ctx: Context) -> list[RowRule]:
    rules = []
    for prefix, rule in (("Charge", "charge-period-order"), ("Billing", "billing-period-order")):
        start, end = f"{prefix}PeriodStart", f"{prefix}PeriodEnd"
        if ctx.has(start, end):
            rules.append(
                RowRule(
                    rule,
                    end,
                    "error",
                    f"{ctx.n(end)} <= {ctx.n(start)}",
                    f"{end} must be after {start} (start inclusive, end exclusive): {{value}}",
                    value=ctx.pairs(start, end),
                    quote=False,
                )
            )
    if ctx.has("ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd"):
        rules.append(
            RowRule(
                "charge-period-outside-billing-period",
                "ChargePeriodStart",
                "error",
                f"({ctx.n('ChargePeriodStart')} < {ctx.n('BillingPeriodStart')} OR "
                f"{ctx.n('ChargePeriodStart')} >= {ctx.n('BillingPeriodEnd')}) AND {_not_correction(ctx)}",
                "ChargePeriodStart lies outside the billing period (only corrections of earlier periods "
                "may): {value}",
                value=ctx.pairs("ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd"),
                quote=False,
            )
        )
    if ctx.has("ChargePeriodEnd", "BillingPeriodEnd", "ChargeCategory"):
        rules.append(
            RowRule(
                "charge-period-outside-billing-period",
                "ChargePeriodEnd",
                "error",
                f"{ctx.n('ChargePeriodEnd')} > {ctx.n('BillingPeriodEnd')} "
                f"AND {ctx.is_('ChargeCategory', 'Usage')} AND {_not_correction(ctx)}",
                "a Usage charge period ends after its billing period: {value}",
                value=ctx.pairs("ChargePeriodEnd", "BillingPeriodEnd"),
                quote=False,
            )
        )
    return rules


def _charge_category_rules(ctx: Context) -> list[RowRule]:
    if not ctx.has("ChargeCategory"):
        return []
    rules = []
    usage_or_purchase = f"{one_of_sql(ctx.v('ChargeCategory'), ('Usage', 'Purchase'))}"
    for name in PRICING_COLUMNS:
        if not ctx.has(name):
            continue
        rules.append(
            RowRule(
                "null-for-tax",
                name,
                "error",
                f"{ctx.is_('ChargeCategory', 'Tax')} AND {ctx.not_null(name)}",
                f"{name} must be null when ChargeCategory is Tax (found {{value}})",
                value=ctx.v(name),
                rm12=rm12_id("tax_null", name),
            )
        )
        rules.append(
            RowRule(
                "required-for-usage-purchase",
                name,
                "error",
                f"{usage_or_purchase} AND {_not_correction(ctx)} AND {ctx.null(name)}",
                f"{name} must not be null when ChargeCategory is {{value}} and the row is not a correction",
                value=ctx.v("ChargeCategory"),
                rm12=rm12_id("usage_not_null", name),
            )
        )
    if ctx.has("ChargeFrequency"):
        rules.append(
            RowRule(
                "charge-frequency-purchase",
                "ChargeFrequency",
                "error",
                f"{ctx.is_('ChargeCategory', 'Purchase')} AND {ctx.is_('ChargeFrequency', 'Usage-Based')}",
                "ChargeFrequency must not be Usage-Based when ChargeCategory is Purchase",
                rm12="ChargeFrequency-C-004-C",
            )
        )
    if ctx.since("1.3") and ctx.has("SkuPriceId"):
        for name in ("ListUnitPrice", "ContractedUnitPrice", "PricingQuantity", "PricingCategory"):
            if ctx.has(name):
                rules.append(
                    RowRule(
                        "null-without-sku-price",
                        name,
                        "error",
                        f"{ctx.null('SkuPriceId')} AND {ctx.not_null(name)}",
                        f"{name} must be null when SkuPriceId is null (FOCUS 1.3); found {{value}}",
                        value=ctx.v(name),
                    )
                )
        for name in ("ListUnitPrice", "ContractedUnitPrice"):
            if ctx.has(name):
                rules.append(
                    RowRule(
                        "required-with-sku-price",
                        name,
                        "error",
                        f"{ctx.not_null('SkuPriceId')} AND {ctx.null(name)}",
                        f"{name} must not be null when SkuPriceId is set (FOCUS 1.3)",
                    )
                )
    return rules


def _parent_rules(ctx: Context) -> list[RowRule]:
    rules = []
    for child, (parent, both_ways_since, since) in PARENT_ID.items():
        if not ctx.has(child, parent) or not ctx.since(since):
            continue
        rules.append(
            RowRule(
                "set-without-parent",
                child,
                "error",
                f"{ctx.null(parent)} AND {ctx.not_null(child)}",
                f"{child} must be null when {parent} is null (found {{value}})",
                value=ctx.v(child),
                rm12=rm12_id("null_iff", child),
            )
        )
        if both_ways_since is not None and ctx.since(both_ways_since):
            rules.append(
                RowRule(
                    "missing-with-parent",
                    child,
                    "error",
                    f"{ctx.not_null(parent)} AND {ctx.null(child)}",
                    f"{child} must not be null when {parent} is set ({{value}})",
                    value=ctx.v(parent),
                    rm12=rm12_id("not_null_iff", child),
                )
            )
    return rules


def _commitment_rules(ctx: Context) -> list[RowRule]:
    rules = []
    if ctx.has("CommitmentDiscountId", "CommitmentDiscountStatus", "ChargeCategory"):
        rules.append(
            RowRule(
                "missing-with-parent",
                "CommitmentDiscountStatus",
                "error",
                f"{ctx.not_null('CommitmentDiscountId')} AND {ctx.is_('ChargeCategory', 'Usage')} "
                f"AND {ctx.null('CommitmentDiscountStatus')}",
                "CommitmentDiscountStatus must not be null on Usage rows with a CommitmentDiscountId "
                "({value})",
                value=ctx.v("CommitmentDiscountId"),
            )
        )
    if ctx.has("CapacityReservationId", "CapacityReservationStatus", "ChargeCategory"):
        rules.append(
            RowRule(
                "missing-with-parent",
                "CapacityReservationStatus",
                "error",
                f"{ctx.not_null('CapacityReservationId')} AND {ctx.is_('ChargeCategory', 'Usage')} "
                f"AND {ctx.null('CapacityReservationStatus')}",
                "CapacityReservationStatus must not be null on Usage rows with a CapacityReservationId "
                "({value})",
                value=ctx.v("CapacityReservationId"),
            )
        )
    if ctx.since("1.1") and ctx.has("CommitmentDiscountQuantity", "ChargeCategory"):
        cdq = "CommitmentDiscountQuantity"
        usage_or_purchase = one_of_sql(ctx.v("ChargeCategory"), ("Usage", "Purchase"))
        applies = f"{usage_or_purchase} AND {ctx.not_null('CommitmentDiscountId')} AND {_not_correction(ctx)}"
        rules.append(
            RowRule(
                "missing-with-parent",
                cdq,
                "error",
                f"{applies} AND {ctx.null(cdq)}",
                f"{cdq} must not be null on Usage and Purchase rows with a CommitmentDiscountId ({{value}})",
                value=ctx.v("CommitmentDiscountId") if ctx.has("CommitmentDiscountId") else None,
                rm12="CommitmentDiscountQuantity-C-005-C",
            )
        )
        rules.append(
            RowRule(
                "set-without-parent",
                cdq,
                "error",
                f"({ctx.null('CommitmentDiscountId')} OR NOT {usage_or_purchase}) AND {ctx.not_null(cdq)}",
                f"{cdq} must be null unless the row is a Usage or Purchase with a CommitmentDiscountId "
                "(found {value})",
                value=ctx.v(cdq),
                rm12="CommitmentDiscountQuantity-C-007-C",
            )
        )
    if ctx.since("1.2"):
        for unit, quantity in (
            ("CommitmentDiscountUnit", "CommitmentDiscountQuantity"),
            ("PricingUnit", "PricingQuantity"),
            ("ConsumedUnit", "ConsumedQuantity"),
        ):
            rules += _null_iff(ctx, unit, quantity)
    return rules


def _null_iff(ctx: Context, unit: str, quantity: str) -> list[RowRule]:
    if not ctx.has(unit, quantity):
        return []
    return [
        RowRule(
            "unit-without-quantity",
            unit,
            "error",
            f"{ctx.null(quantity)} AND {ctx.not_null(unit)}",
            f"{unit} must be null when {quantity} is null (found {{value}})",
            value=ctx.v(unit),
            rm12=rm12_id("null_iff", unit),
        ),
        RowRule(
            "quantity-without-unit",
            unit,
            "error",
            f"{ctx.not_null(quantity)} AND {ctx.null(unit)}",
            f"{unit} must not be null when {quantity} is set ({{value}})",
            value=ctx.v(quantity),
            rm12=rm12_id("not_null_iff", unit),
        ),
    ]


def _quantity_rules(ctx: Context) -> list[RowRule]:
    if not ctx.has("ConsumedQuantity", "ChargeCategory"):
        return []
    usage = ctx.is_("ChargeCategory", "Usage")
    if ctx.since("1.1"):
        usage = f"{usage} AND {ctx.is_not('CommitmentDiscountStatus', 'Unused')}"
    rules = [
        RowRule(
            "consumed-quantity-null",
            "ConsumedQuantity",
            "error",
            f"NOT ({usage}) AND {ctx.not_null('ConsumedQuantity')}",
            "ConsumedQuantity must be null unless the row is Usage of a used resource (found {value})",
            value=ctx.v("ConsumedQuantity"),
            rm12="ConsumedQuantity-C-004-C",
        )
    ]
    if ctx.since("1.1"):
        # 1.0 only asked for nulls outside Usage; the not-null side arrived with the Unused status in 1.1.
        rules.append(
            RowRule(
                "consumed-quantity-required",
                "ConsumedQuantity",
                "error",
                f"{usage} AND {_not_correction(ctx)} AND {ctx.null('ConsumedQuantity')}",
                "ConsumedQuantity must not be null on Usage rows (except corrections and unused commitment)",
                rm12="ConsumedQuantity-C-005-C",
            )
        )
    return rules


def _product_rule(ctx: Context, cost: str, price: str, rule: str, rm12: str) -> list[RowRule]:
    if not ctx.has(cost, price, "PricingQuantity"):
        return []
    expected = f"(CAST({ctx.n(price)} AS DOUBLE) * CAST({ctx.n('PricingQuantity')} AS DOUBLE))"
    actual = f"CAST({ctx.n(cost)} AS DOUBLE)"
    # The cost may be rounded to the decimals it is written with; unit prices may carry rounding too.
    decimals = (
        f"CASE WHEN strpos({ctx.v(cost)}, '.') > 0 AND strpos(lower({ctx.v(cost)}), 'e') = 0 "
        f"THEN length({ctx.v(cost)}) - strpos({ctx.v(cost)}, '.') ELSE 0 END"
    )
    tolerance = f"greatest(0.5 * pow(10, -({decimals})), abs({expected}) * 1e-6, 1e-9)"
    condition = f"abs({actual} - {expected}) > {tolerance}"
    if not ctx.since("1.3"):
        condition += f" AND {_not_correction(ctx)}"
    return [
        RowRule(
            rule,
            cost,
            "error",
            condition,
            f"{cost} must equal {price} x PricingQuantity within rounding: {{value}}",
            value=ctx.pairs(cost, price, "PricingQuantity"),
            rm12=rm12,
            quote=False,
        )
    ]


def _cost_rules(ctx: Context) -> list[RowRule]:
    rules = _product_rule(ctx, "ListCost", "ListUnitPrice", "list-cost-product", "ListCost-C-009-C")
    rules += _product_rule(
        ctx, "ContractedCost", "ContractedUnitPrice", "contracted-cost-product", "ContractedCost-C-009-C"
    )
    if ctx.has("EffectiveCost", "ChargeCategory", "CommitmentDiscountId"):
        rules.append(
            RowRule(
                "effective-cost-prepaid-purchase",
                "EffectiveCost",
                "error",
                f"{ctx.is_('ChargeCategory', 'Purchase')} AND {ctx.not_null('CommitmentDiscountId')} "
                f"AND {_not_correction(ctx)} AND {ctx.n('EffectiveCost')} <> 0",
                "EffectiveCost must be 0 on the purchase of a commitment discount (its cost is amortised "
                "onto usage); found {value}",
                value=ctx.v("EffectiveCost"),
                rm12="EffectiveCost-C-005-C",
            )
        )
    provider = "ServiceProviderName" if ctx.since("1.3") else "ProviderName"
    if ctx.has("BilledCost", provider, "InvoiceIssuerName"):
        rules.append(
            RowRule(
                "billed-cost-third-party",
                "BilledCost",
                "warning",
                f"{ctx.v(provider)} <> {ctx.v('InvoiceIssuerName')} AND {ctx.n('BilledCost')} <> 0",
                f"{provider} differs from InvoiceIssuerName but BilledCost is not 0; if a third party "
                "collects payment (marketplace) BilledCost must be 0: {value}",
                value=ctx.pairs(provider, "InvoiceIssuerName", "BilledCost"),
                rm12="BilledCost-C-005-C",
                quote=False,
            )
        )
    return rules


def _service_rules(ctx: Context) -> list[RowRule]:
    if not ctx.has("ServiceCategory", "ServiceSubcategory"):
        return []
    # Each allowed subcategory -> its one parent category, as a constant MAP: one lookup per row instead of a
    # concatenated pair searched in a list of 82 (half the cost). An unknown subcategory looks up NULL.
    parent = (
        "MAP {"
        + ", ".join(
            f"{quote_literal(sub)}: {quote_literal(cat)}"
            for sub, cat in allowed_service_subcategories().items()
        )
        + "}"
    )
    categories = ctx.bindings["ServiceCategory"].column.allowed_values
    return [
        RowRule(
            "service-subcategory-parent",
            "ServiceSubcategory",
            "error",
            # Only pairs of two allowed values: a bad value alone is the allowed-value rule's finding.
            f"({parent}[{ctx.v('ServiceSubcategory')}] <> {ctx.v('ServiceCategory')} "
            f"AND {one_of_sql(ctx.v('ServiceCategory'), categories)})",
            "ServiceSubcategory belongs to another ServiceCategory: {value}",
            value=ctx.pairs("ServiceCategory", "ServiceSubcategory"),
            rm12="ServiceSubcategory-C-004-M",
            quote=False,
        )
    ]


def _contract_commitment_rules(ctx: Context) -> list[RowRule]:
    rules = []
    spend = ctx.is_("ContractCommitmentCategory", "Spend")
    usage = ctx.is_("ContractCommitmentCategory", "Usage")
    for name, condition, label in (
        ("BillingCurrency", spend, "Spend"),
        ("ContractCommitmentCost", spend, "Spend"),
        ("ContractCommitmentQuantity", usage, "Usage"),
    ):
        if ctx.has(name):
            rules.append(
                RowRule(
                    "required-for-category",
                    name,
                    "error",
                    f"{condition} AND {ctx.null(name)}",
                    f"{name} must not be null when ContractCommitmentCategory is {label}",
                )
            )
    rules += _null_iff(ctx, "ContractCommitmentUnit", "ContractCommitmentQuantity")
    for prefix in ("ContractCommitmentPeriod", "ContractPeriod"):
        start, end = f"{prefix}Start", f"{prefix}End"
        if ctx.has(start, end):
            rules.append(
                RowRule(
                    "period-order",
                    end,
                    "error",
                    f"{ctx.n(end)} <= {ctx.n(start)}",
                    f"{end} must be after {start}: {{value}}",
                    value=ctx.pairs(start, end),
                    quote=False,
                )
            )
    return rules
