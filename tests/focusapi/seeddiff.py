"""Compare an OpenAPI document with the seed FOCUS document, and attribute differences to corrections."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml

from focusbase.api.openapi import CORRECTIONS, SEED_FILE


def seed_document() -> dict[str, Any]:
    text = resources.files("focusbase.api").joinpath(SEED_FILE).read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def focus_view(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The parts of a document the seed defines: its paths (under `prefix`), schemas, schemes, security."""
    seed = seed_document()
    paths = doc.get("paths", {})
    schemas = doc.get("components", {}).get("schemas", {})
    return {
        "paths": {p: paths.get(prefix + p) for p in seed["paths"]},
        "schemas": {name: schemas.get(name) for name in seed["components"]["schemas"]},
        "securitySchemes": doc.get("components", {}).get("securitySchemes", {}),
        "security": doc.get("security"),
        "tags": [t for t in doc.get("tags", []) if t["name"] in {s["name"] for s in seed["tags"]}],
    }


def diff(a: Any, b: Any, pointer: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            out |= diff(a.get(key, _MISSING), b.get(key, _MISSING), f"{pointer}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= diff(x, y, f"{pointer}/{i}")
        return out
    return set() if a == b else {pointer}


_MISSING = object()


def related(a: str, b: str) -> bool:
    """Same pointer, or one inside the other (a correction that lengthens a list changes the whole list)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def explained() -> dict[str, set[str]]:
    """Each correction's id -> the pointers (in the seed's coordinates) it changes."""
    doc = seed_document()
    out = {}
    for correction in CORRECTIONS:
        before = copy.deepcopy(doc)
        correction.apply(doc)
        out[correction.id] = diff(focus_view(before, ""), focus_view(doc, ""))
    return out
