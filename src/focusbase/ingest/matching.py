"""Auto-matching a file's headers to FOCUS columns, each proposal with a confidence and a reason. Pure.

Confident matches (exact names, names differing only in case, spaces, underscores or hyphens, and renames
across FOCUS 1.0-1.3) are applied automatically. Common vendor headers ("Cost", "Date", "Service") are
only suggested: an import never applies them until the user accepts them in a mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from typing import Literal

from focusbase.focus import RENAMES, Dataset, all_column_names, is_custom_column, latest_column
from focusbase.focus.renames import SEED_CONTRACT_COMMITMENT_NAMES, SEED_COST_AND_USAGE_NAMES
from focusbase.ingest.mapping import ColumnRule, ImportOptions, Mapping

Status = Literal["auto", "suggested", "ambiguous"]

AUTO_CONFIDENCE = 0.9

# Vendor headers with no FOCUS name of their own: (normalised header, FOCUS column, confidence).
VENDOR_HEADERS: tuple[tuple[str, str, float], ...] = (
    ("cost", "BilledCost", 0.6),
    ("amount", "BilledCost", 0.55),
    ("totalcost", "BilledCost", 0.55),
    ("charge", "BilledCost", 0.5),
    ("spend", "BilledCost", 0.5),
    ("netcost", "EffectiveCost", 0.5),
    ("amortizedcost", "EffectiveCost", 0.55),
    ("date", "ChargePeriodStart", 0.6),
    ("usagedate", "ChargePeriodStart", 0.6),
    ("day", "ChargePeriodStart", 0.5),
    ("startdate", "ChargePeriodStart", 0.5),
    ("enddate", "ChargePeriodEnd", 0.5),
    ("service", "ServiceName", 0.6),
    ("product", "ServiceName", 0.5),
    ("currency", "BillingCurrency", 0.6),
    ("currencycode", "BillingCurrency", 0.6),
    ("quantity", "ConsumedQuantity", 0.5),
    ("usageamount", "ConsumedQuantity", 0.5),
    ("unit", "ConsumedUnit", 0.5),
    ("account", "SubAccountId", 0.5),
    ("accountid", "SubAccountId", 0.5),
    ("accountname", "SubAccountName", 0.5),
    ("project", "SubAccountName", 0.4),
    ("resource", "ResourceId", 0.5),
    ("labels", "Tags", 0.6),
    ("description", "ChargeDescription", 0.5),
    ("sku", "SkuId", 0.5),
    ("location", "RegionId", 0.4),
    ("vendor", "ServiceProviderName", 0.4),
    ("provider", "ServiceProviderName", 0.4),
)

# Provider columns that cloud exports write without the x_ prefix; kept as custom x_ columns.
VENDOR_PREFIXES: tuple[tuple[str, str], ...] = (("oci_", "Oracle Cloud FOCUS reports"),)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed FOCUS column <- source column match."""

    column: str
    source: str
    confidence: float
    reason: str
    status: Status

    def to_json(self) -> dict[str, object]:
        """The camelCase JSON form."""
        return {
            "column": self.column,
            "source": self.source,
            "confidence": self.confidence,
            "reason": self.reason,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Every proposal, the mapping an import applies on its own (auto) and the one to review (suggested)."""

    proposals: tuple[Proposal, ...]
    auto: Mapping
    suggested: Mapping
    unmapped: tuple[str, ...]


def normalise(name: str) -> str:
    """A header reduced to lower-case letters and digits: 'Billed Cost', 'billed_cost', 'BILLEDCOST' agree."""
    return re.sub(r"[\s_\-.]+", "", name.strip().lstrip("\ufeff")).lower()


def _candidates(dataset: Dataset) -> dict[str, list[tuple[str, float, str]]]:
    """normalised header -> [(FOCUS column, confidence, reason)]."""
    table: dict[str, list[tuple[str, float, str]]] = {}

    def add(key: str, column: str, confidence: float, reason: str) -> None:
        table.setdefault(key, []).append((column, confidence, reason))

    names = all_column_names(dataset)
    for name in names:
        add(
            normalise(name),
            name,
            0.95,
            f"same as FOCUS column {name} ignoring case, spaces, underscores, hyphens",
        )
        col = latest_column(name, dataset)
        if col is not None and normalise(col.display_name) != normalise(name):
            add(normalise(col.display_name), name, 0.9, f"the display name of FOCUS column {name}")
    if dataset is Dataset.COST_AND_USAGE:
        for rename in RENAMES:
            add(normalise(rename.old), rename.new, 0.9, f"renamed in FOCUS {rename.since}: {rename.note}")
        for old, new in SEED_COST_AND_USAGE_NAMES.items():
            add(normalise(old), new, 0.9, f"{old} is the FOCUS Cost and Usage API's name for {new}")
        for key, column, confidence in VENDOR_HEADERS:
            add(key, column, confidence, f"common vendor header for {column}; confirm before importing")
    else:
        for old, new in SEED_CONTRACT_COMMITMENT_NAMES.items():
            add(normalise(old), new, 0.9, f"{old} is the FOCUS Cost and Usage API's name for {new}")
    return table


_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_MONEY = re.compile(r"^\s*\(?\s*[-+]?\s*[^\d\s().,-]{0,3}\s*[-+]?[\d.,\s]+\s*[^\d\s().,-]{0,3}\s*\)?\s*$")
_DECIMAL_COMMA = re.compile(r"^[^\d]*-?\d{1,3}(\.\d{3})*,\d+[^\d]*$|^[^\d]*-?\d+,\d{1,2}[^\d]*$")


def money_style(values: list[str]) -> tuple[bool, bool]:
    """(needs money cleaning, uses a decimal comma) judged from sample values of a Decimal column."""
    texts = [v.strip() for v in values if v is not None and v.strip()]
    odd = [v for v in texts if not _PLAIN_NUMBER.match(v)]
    if not odd or not all(_MONEY.match(v) for v in odd):
        return False, False
    return True, all(_DECIMAL_COMMA.match(v) for v in odd if "," in v) and any("," in v for v in odd)


def match_headers(
    header: list[str],
    dataset: Dataset,
    *,
    sample: MappingABC[str, list[str]] | None = None,
    date_formats: MappingABC[str, str] | None = None,
) -> MatchResult:
    """Propose a mapping for a header; `sample` values tune money handling, `date_formats` date parsing."""
    sample = sample or {}
    date_formats = date_formats or {}
    candidates = _candidates(dataset)
    exact = set(all_column_names(dataset))
    raw: list[Proposal] = []
    for source in header:
        if is_custom_column(source):
            continue
        if source in exact:
            raw.append(Proposal(source, source, 1.0, "exact FOCUS column name", "auto"))
            continue
        for column, confidence, reason in candidates.get(normalise(source), []):
            status: Status = "auto" if confidence >= AUTO_CONFIDENCE else "suggested"
            raw.append(Proposal(column, source, confidence, reason, status))
    proposals = _settle(raw)
    proposals += _deprecated_aliases(proposals, dataset)
    auto_cols: dict[str, ColumnRule] = {}
    suggested_cols: dict[str, ColumnRule] = {}
    decimal_comma = False
    settled: list[Proposal] = []
    for p in proposals:
        if p.status == "ambiguous":
            settled.append(p)
            continue
        rule, comma = _rule_for(p, dataset, sample.get(p.source, []), date_formats.get(p.source))
        decimal_comma = decimal_comma or comma
        # A guessed date format (day or month first?) or decimal comma ('1,234' is 1234 or 1.234?) changes
        # values: such a match is only suggested, even under an exact name.
        if p.status == "auto" and (rule.date_format is not None or comma):
            guess = (
                f"dates look like {rule.date_format}" if rule.date_format else "money uses a decimal comma"
            )
            p = Proposal(p.column, p.source, p.confidence, f"{p.reason}; {guess}: confirm", "suggested")
        settled.append(p)
        suggested_cols.setdefault(p.column, rule)
        if p.status == "auto":
            auto_cols.setdefault(p.column, rule)
    custom = {_vendor_custom(s): s for s in header if _vendor_custom(s)}
    mapped = {p.source for p in settled if p.status != "ambiguous"} | set(custom.values())
    unmapped = tuple(s for s in header if s not in mapped and not is_custom_column(s))
    return MatchResult(
        proposals=tuple(settled),
        auto=Mapping(columns=auto_cols, custom=custom),
        suggested=Mapping(
            columns=suggested_cols, custom=custom, options=ImportOptions(decimal_comma=decimal_comma)
        ),
        unmapped=unmapped,
    )


def _settle(raw: list[Proposal]) -> list[Proposal]:
    """One source per FOCUS column: the best match wins; a tie between sources is ambiguous (not applied)."""
    by_column: dict[str, list[Proposal]] = {}
    for p in raw:
        by_column.setdefault(p.column, []).append(p)
    settled: list[Proposal] = []
    claimed: set[str] = set()
    for column, options in by_column.items():
        options.sort(key=lambda p: -p.confidence)
        best = options[0]
        # Two vendor-header guesses for one column (say 'Cost' and 'Amount') are as ambiguous as a tie.
        ties = [
            p
            for p in options
            if p.source != best.source
            and (p.confidence == best.confidence or best.confidence < AUTO_CONFIDENCE)
        ]
        if ties:
            names = ", ".join(repr(p.source) for p in [best, *ties])
            for p in [best, *ties]:
                settled.append(
                    Proposal(
                        column,
                        p.source,
                        p.confidence,
                        f"ambiguous: {names} could all be {column}",
                        "ambiguous",
                    )
                )
            continue
        settled.append(best)
        claimed.add(best.source)
    # A source matched to several columns keeps its best match only (e.g. 'Cost' is BilledCost, not both).
    by_source: dict[str, list[Proposal]] = {}
    for p in settled:
        by_source.setdefault(p.source, []).append(p)
    result: list[Proposal] = []
    for p in settled:
        rivals = by_source[p.source]
        top = max(r.confidence for r in rivals)
        if p.confidence == top or p.status == "ambiguous":
            result.append(p)
    return result


def _deprecated_aliases(proposals: list[Proposal], dataset: Dataset) -> list[Proposal]:
    """ProviderName feeds ServiceProviderName too when the file (FOCUS 1.0-1.2) has no ServiceProviderName."""
    if dataset is not Dataset.COST_AND_USAGE:
        return []
    have = {p.column for p in proposals if p.status != "ambiguous"}
    extra: list[Proposal] = []
    for p in proposals:
        if p.column == "ProviderName" and p.status == "auto" and "ServiceProviderName" not in have:
            reason = "ProviderName is deprecated in FOCUS 1.3 in favour of ServiceProviderName (same meaning)"
            extra.append(Proposal("ServiceProviderName", p.source, 0.9, reason, "auto"))
    return extra


def _rule_for(
    p: Proposal, dataset: Dataset, values: list[str], date_format: str | None
) -> tuple[ColumnRule, bool]:
    col = latest_column(p.column, dataset)
    if col is not None and col.data_type == "Decimal":
        money, comma = money_style(values)
        if money:
            return ColumnRule(source=p.source, number="money"), comma
    if col is not None and col.data_type == "Date/Time" and date_format:
        return ColumnRule(source=p.source, date_format=date_format), False
    return ColumnRule(source=p.source), False


def _vendor_custom(source: str) -> str | None:
    for prefix, _ in VENDOR_PREFIXES:
        if source.lower().startswith(prefix) and len(source) > len(prefix):
            return f"x_{source}"
    return None
