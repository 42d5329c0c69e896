"""An independent answer to explorer queries: plain SQL over live_cost_rows, top-N and Other in Python.

Written apart from storage/analytics.py on purpose (other SQL functions, Python ranking), so a test comparing
the two catches a mistake in either.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from decimal import Decimal
from typing import Any

from focusbase.storage import Warehouse

Cell = tuple[str | None, str | None, str | None, tuple[str | None, ...], bool, Decimal, int]

UNITS = {"ConsumedQuantity": "ConsumedUnit", "PricingQuantity": "PricingUnit"}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _dim(name: str) -> str:
    if name == "provider":
        return "provider_id"
    if name.startswith("tag:"):
        return f'json_extract_string("Tags", {_literal("$." + chr(34) + name[4:] + chr(34))})'
    if name.startswith("x_"):
        return f"json_extract_string(x_columns, {_literal('$.' + chr(34) + name + chr(34))})"
    return '"' + name + '"'


def _condition(f: dict[str, Any]) -> str:
    name, op, values = f["dimension"], f["op"], f.get("values", [])
    expr = _dim(name)
    if op in ("present", "absent"):
        present = f"{expr} IS NOT NULL"
        return present if op == "present" else f"NOT ({present})"
    listed = ", ".join(_literal(v) for v in values)
    if op == "equals":
        return f"{expr} = {_literal(values[0])}"
    if op == "in":
        return f"{expr} IN ({listed})"
    if op == "not_in":
        return f"({expr} IS NULL OR {expr} NOT IN ({listed}))"
    return f"strpos(lower({expr}), lower({_literal(values[0])})) > 0"


def _bucket(grain: str) -> str:
    return {
        "day": "strftime(charge_day, '%Y-%m-%d')",
        "week": "strftime(charge_day - CAST(isodow(charge_day) - 1 AS INTEGER), '%Y-%m-%d')",
        "month": "strftime(charge_day, '%Y-%m-01')",
        "none": "CAST(NULL AS VARCHAR)",
    }[grain]


def expected(
    warehouse: Warehouse, query: dict[str, Any], workspace_id: str, providers: list[str] | None = None
) -> tuple[list[Cell], dict[tuple[str | None, str | None], tuple[Decimal, int]]]:
    """The cells (currency, unit, period, group, other, value, rows) and totals a query should give."""
    metric = query.get("metric", "EffectiveCost")
    group = list(query.get("groupBy", []))
    unit = f'"{UNITS[metric]}"' if metric in UNITS else "CAST(NULL AS VARCHAR)"
    where = [f"workspace_id = {_literal(workspace_id)}"]
    if providers is not None:
        where.append(f"provider_id IN ({', '.join(_literal(p) for p in providers)})")
    if query.get("start"):
        where.append(f"charge_day >= DATE {_literal(query['start'])}")
    if query.get("end"):
        where.append(f"charge_day < DATE {_literal(query['end'])}")
    where += [_condition(f) for f in query.get("filters", [])]
    keys = ['"BillingCurrency"', unit, _bucket(query.get("grain", "day")), *(_dim(g) for g in group)]
    sql = (
        f'SELECT {", ".join(keys)}, CAST(sum("{metric}") AS VARCHAR), count(*) FROM live_cost_rows '
        f"WHERE {' AND '.join(where)} GROUP BY ALL"
    )
    with warehouse.cursor() as cur:
        found = cur.execute(sql).fetchall()
    context = decimal.Context(prec=80)
    cells: dict[tuple[Any, ...], list[Any]] = {}
    group_totals: dict[tuple[Any, ...], Decimal | None] = {}
    for currency, unit_value, period, *rest in found:
        values, total, count = tuple(rest[:-2]), rest[-2], int(rest[-1])
        cells[(currency, unit_value, period, values)] = [None if total is None else Decimal(total), count]
        gkey = (currency, unit_value, values)
        if total is not None:
            prior = group_totals.get(gkey)
            group_totals[gkey] = context.add(prior or Decimal(0), Decimal(total))
        else:
            group_totals.setdefault(gkey, None)
    top = query.get("top")
    shown: set[tuple[Any, ...]] = set(group_totals)
    if top is not None:
        per_split: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
        for gkey in group_totals:
            per_split[gkey[:2]].append(gkey)

        def rank(gkey: tuple[Any, ...]) -> tuple[Any, ...]:
            total = group_totals[gkey]
            order = (total is None, -(total or 0))
            return order + tuple((v is None, v or "") for v in gkey[2])

        shown = {g for keys in per_split.values() for g in sorted(keys, key=rank)[:top]}
    out: dict[tuple[Any, ...], list[Any]] = {}
    totals: dict[tuple[str | None, str | None], list[Any]] = {}
    for (currency, unit_value, period, values), (total, count) in cells.items():
        other = (currency, unit_value, values) not in shown
        key = (currency, unit_value, period, tuple(None for _ in values) if other else values, other)
        entry = out.setdefault(key, [Decimal(0), 0])
        entry[0] = context.add(entry[0], total or Decimal(0))
        entry[1] += count
        split = totals.setdefault((currency, unit_value), [Decimal(0), 0])
        split[0] = context.add(split[0], total or Decimal(0))
        split[1] += count
    result = [(c, u, p, g, o, v, n) for (c, u, p, g, o), (v, n) in out.items()]
    return result, {k: (v, n) for k, (v, n) in totals.items()}


def cells_of(body: dict[str, Any]) -> list[Cell]:
    """An explorer response's rows in the oracle's shape."""
    labels = body["query"]["groupBy"]
    return [
        (
            r["currency"],
            r["unit"],
            r["period"],
            tuple(r["group"][label] for label in labels),
            r["other"],
            Decimal(r["value"]),
            r["rowCount"],
        )
        for r in body["rows"]
    ]
