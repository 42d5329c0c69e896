"""Recognising cloud providers' native FOCUS exports, so they import as they come. Pure.

An export is recognised by its provider columns (AWS's x_ServiceCode, Azure's x_ResourceGroupName, OCI's
oci_ columns) or by its provider name in the first rows (Google Cloud). The profile may switch on reading
options the export needs (Google's BigQuery CSV writes '2024-05-01 07:00:00 UTC'); each option it switches
on is named in the preview and recorded on the batch with the mapping.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field

from focusbase.focus import all_column_names, latest_column
from focusbase.ingest.mapping import ImportOptions

# FOCUS 1.2 columns that a 1.0 export lacks; their presence tells the two apart.
_FOCUS_12_MARKERS = ("BillingAccountType", "ServiceSubcategory", "SubAccountType", "PricingCurrency")


@dataclass(frozen=True, slots=True)
class CloudExport:
    """A recognised export: a stable key, a label, and the reading options it needs."""

    key: str
    label: str
    focus_version: str
    options: dict[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The camelCase JSON form."""
        return {
            "key": self.key,
            "label": self.label,
            "focusVersion": self.focus_version,
            "options": self.options,
            "notes": list(self.notes),
        }


def _version(header: set[str]) -> str:
    return "1.2" if any(m in header for m in _FOCUS_12_MARKERS) else "1.0"


def _timestamps_need_leniency(header: list[str], sample: MappingABC[str, list[str]]) -> bool:
    for name in header:
        col = latest_column(name)
        if col is None or col.data_type != "Date/Time":
            continue
        for value in sample.get(name, []):
            if value and ("T" not in value or not value.endswith(("Z", "+00:00"))) and len(value) > 10:
                return True
            if value and value.endswith("Z") and value.count(":") == 1:
                return True
    return False


def detect_export(header: list[str], sample: MappingABC[str, list[str]] | None = None) -> CloudExport | None:
    """The cloud export this file looks like, or None for any other file."""
    sample = sample or {}
    names = set(header)
    focus_names = set(all_column_names())
    if len(names & focus_names) < 10:
        return None
    version = _version(names)
    lenient = _timestamps_need_leniency(header, sample)
    options: dict[str, object] = {"lenientTimestamps": True} if lenient else {}
    notes: list[str] = []
    if lenient:
        notes.append("timestamps without a 'T' or a zone are read as UTC (lenientTimestamps)")
    if "x_ServiceCode" in names or "x_Operation" in names or "x_UsageType" in names:
        if "x_CostCategories" in names or "x_UsageType" in names:
            version = "1.0"
        return CloudExport(
            "aws-data-exports",
            f"AWS Data Exports, FOCUS {version} with AWS columns",
            version,
            options,
            tuple(notes),
        )
    if names & {"x_ResourceGroupName", "x_BilledCostInUsd", "x_EffectiveCostInUsd", "x_SkuDetails"}:
        return CloudExport(
            "azure-focuscost",
            f"Azure Cost Management FocusCost export (FOCUS {version})",
            version,
            options,
            tuple(notes),
        )
    if any(h.lower().startswith("oci_") for h in header):
        notes.append("oci_ provider columns are kept as custom columns named x_oci_...")
        return CloudExport(
            "oci-focus", f"Oracle Cloud FOCUS report (FOCUS {version})", version, options, tuple(notes)
        )
    providers = {v for key in ("ProviderName", "ServiceProviderName") for v in sample.get(key, []) if v}
    if any("google" in p.lower() for p in providers):
        return CloudExport(
            "gcp-focus", f"Google Cloud FOCUS export (FOCUS {version})", version, options, tuple(notes)
        )
    return None


def apply_options(options: ImportOptions, export: CloudExport | None) -> ImportOptions:
    """The reading options with those the recognised export needs switched on."""
    if export is None or not export.options:
        return options
    lenient = options.lenient_timestamps or bool(export.options.get("lenientTimestamps"))
    return options.model_copy(update={"lenient_timestamps": lenient})
