"""Explorer results as JSON (camelCase, money as exact decimal strings) and as CSV or Parquet files."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from focusbase.analytics.explorer import ExplorerResult, missing_rates_json


def exact(value: str | None) -> str:
    """A DECIMAL's text without padding zeros ('12.500000000000' -> '12.5'); a missing sum is '0'."""
    if value is None:
        return "0"
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return "0" if value in ("", "-0") else value


def plain(value: Decimal) -> str:
    """A Decimal as exact plain text (never exponent notation), without padding zeros."""
    return exact(format(value, "f"))


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def result_json(result: ExplorerResult) -> dict[str, Any]:
    """The response body of POST /api/v1/explorer/query."""
    labels = [d.label for d in result.query.group_by]
    agg = result.aggregate
    body: dict[str, Any] = {
        "query": result.query.as_json(),
        "source": result.source,
        "groupCount": agg.groups,
        "rows": [
            {
                "currency": r.currency,
                "unit": r.unit,
                "period": _day(r.period),
                "group": dict(zip(labels, r.group, strict=True)),
                "other": r.other,
                "value": exact(r.value),
                "rowCount": r.rows,
            }
            for r in agg.rows
        ],
        "totals": [
            {"currency": t.currency, "unit": t.unit, "value": exact(t.value), "rowCount": t.rows}
            for t in agg.totals
        ],
        "buckets": [
            {
                "period": b.start.isoformat(),
                "end": b.end.isoformat(),
                "daysInPeriod": (b.end - b.start).days,
                "daysWithData": b.days_with_data,
                "partial": b.partial,
                "open": b.open,
            }
            for b in result.buckets
        ],
        "billingPeriods": [
            {
                "providerId": p.provider_id,
                "billingPeriodStart": _stamp(p.start),
                "billingPeriodEnd": _stamp(p.end),
                "status": p.status,
            }
            for p in result.periods
        ],
        "providers": [
            {
                "providerId": p.provider_id,
                "lastUpdated": _stamp(p.last_updated),
                "firstDay": _day(p.first_day),
                "lastDay": _day(p.last_day),
                "daysWithData": p.days_with_data,
            }
            for p in result.providers
        ],
        "dataCompleteness": result.data_completeness,
        "dataLastUpdated": _stamp(result.data_last_updated),
        "missingRates": missing_rates_json(result),
    }
    return body


def _table(result: ExplorerResult) -> pa.Table:
    labels = [d.label for d in result.query.group_by]
    rows = result.aggregate.rows
    columns: dict[str, pa.Array] = {
        "currency": pa.array([r.currency for r in rows], pa.string()),
        "unit": pa.array([r.unit for r in rows], pa.string()),
        "period": pa.array([r.period for r in rows], pa.date32()),
    }
    for i, label in enumerate(labels):
        columns[label] = pa.array([r.group[i] for r in rows], pa.string())
    columns["other"] = pa.array([r.other for r in rows], pa.bool_())
    columns[result.query.metric] = pa.array([Decimal(exact(r.value)) for r in rows], pa.decimal128(38, 12))
    columns["rowCount"] = pa.array([r.rows for r in rows], pa.int64())
    return pa.table(columns)


def result_csv(result: ExplorerResult) -> bytes:
    """The result's rows as CSV (header row; exact decimals; empty cells for missing values)."""
    labels = [d.label for d in result.query.group_by]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["currency", "unit", "period", *labels, "other", result.query.metric, "rowCount"])
    for r in result.aggregate.rows:
        writer.writerow(
            [
                r.currency or "",
                r.unit or "",
                _day(r.period) or "",
                *(v or "" for v in r.group),
                "true" if r.other else "false",
                exact(r.value),
                r.rows,
            ]
        )
    return out.getvalue().encode("utf-8")


def result_parquet(result: ExplorerResult) -> bytes:
    """The result's rows as a Parquet file (the metric as DECIMAL(38, 12))."""
    sink = io.BytesIO()
    pq.write_table(_table(result), sink)
    return sink.getvalue()
