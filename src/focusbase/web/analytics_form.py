"""The explorer query in a URL: query-string parameters <-> the JSON body `parse_query` reads.

The URL is the state (datasette's convention): a reload or a shared link shows the same result. Filters are
numbered rows fd1/fo1/fv1 ...; `in` and `not_in` take values separated by commas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from focusbase.analytics.model import MAX_FILTERS

LIST_OPS = ("in", "not_in")
SCALARS = ("metric", "grain", "start", "end", "sort", "currency")


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return str(value).strip() if value is not None else ""


def body_from_params(params: Any) -> dict[str, Any]:
    """The explorer body a query string describes (blank fields are left out, so defaults apply)."""
    body: dict[str, Any] = {}
    for name in SCALARS:
        value = _text(params, name)
        if value:
            body[name] = value.upper() if name == "currency" else value
    group = [str(g).strip() for g in params.getlist("g") if str(g).strip()]
    if group:
        body["groupBy"] = group
    top = _text(params, "top")
    if top:
        body["top"] = int(top) if top.isdigit() else top
    filters = []
    for i in range(1, MAX_FILTERS + 2):
        dimension, op = _text(params, f"fd{i}"), _text(params, f"fo{i}")
        if not dimension:
            continue
        raw = _text(params, f"fv{i}")
        entry: dict[str, Any] = {"dimension": dimension, "op": op or "equals"}
        if entry["op"] in LIST_OPS:
            entry["values"] = [v.strip() for v in raw.split(",") if v.strip()]
        elif entry["op"] not in ("present", "absent"):
            entry["values"] = [raw]
        filters.append(entry)
    if filters:
        body["filters"] = filters
    return body


def params_from_query(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The query-string parameters of a canonical query (`ExplorerQuery.as_json()`)."""
    out: list[tuple[str, str]] = []
    for name in ("metric", "grain"):
        out.append((name, str(query[name])))
    out += [("g", g) for g in query.get("groupBy") or []]
    for name in ("start", "end", "top", "sort", "currency"):
        if query.get(name) is not None:
            out.append((name, str(query[name])))
    for i, f in enumerate(query.get("filters") or [], start=1):
        out += [(f"fd{i}", f["dimension"]), (f"fo{i}", f["op"])]
        if f.get("values"):
            out.append((f"fv{i}", ", ".join(f["values"])))
    return out


def query_string(query: Mapping[str, Any], extra: Sequence[tuple[str, str]] = ()) -> str:
    """The URL query string of a canonical query."""
    return urlencode([*params_from_query(query), *extra])


def default_params() -> list[tuple[str, str]]:
    """What a bare /explorer shows: all the data by month and service, the top 10 of each currency."""
    return [
        ("metric", "EffectiveCost"),
        ("grain", "month"),
        ("g", "ServiceName"),
        ("top", "10"),
        ("sort", "value_desc"),
    ]
