"""The FOCUS standard itself: column catalogue per version, renames and aliases (pure; package data only)."""

from focusbase.focus.catalogue import (
    LATEST_VERSION,
    VERSIONS,
    Column,
    Dataset,
    all_column_names,
    allowed_service_subcategories,
    check_version,
    column,
    columns,
    is_custom_column,
    latest_column,
)
from focusbase.focus.renames import DEPRECATIONS, RENAMES, Rename, current_name, rename_for

__all__ = [
    "DEPRECATIONS",
    "LATEST_VERSION",
    "RENAMES",
    "VERSIONS",
    "Column",
    "Dataset",
    "Rename",
    "all_column_names",
    "allowed_service_subcategories",
    "check_version",
    "column",
    "columns",
    "current_name",
    "is_custom_column",
    "latest_column",
    "rename_for",
]
