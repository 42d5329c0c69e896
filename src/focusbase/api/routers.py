"""Every router the app serves, in one place."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# One module per domain; each defines `router`.
ROUTER_MODULES: tuple[str, ...] = (
    "focusbase.api.health",
    "focusbase.api.keys",
    "focusbase.api.providers",
    "focusbase.api.ingest",
    "focusbase.api.batches",
    "focusbase.api.imports",
    "focusbase.api.focus",
    "focusbase.api.exports",
    "focusbase.api.explorer",
    "focusbase.api.dashboard",
    "focusbase.api.savings",
    "focusbase.api.views",
    "focusbase.api.fx",
    "focusbase.api.webhooks",
    "focusbase.api.budgets",
    "focusbase.api.anomalies",
    "focusbase.api.forecasts",
)


def ROUTERS() -> list[APIRouter]:
    """Import each router module and return its router."""
    return [importlib.import_module(name).router for name in ROUTER_MODULES]
