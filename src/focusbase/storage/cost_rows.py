"""SQL for stored FOCUS rows: normalising raw rows, staging, the atomic commit with replace, revert, prune.

Both datasets share this code: Cost and Usage rows (`cost_rows`) and Contract Commitment rows
(`contract_commitment_rows`). Every identifier interpolated into SQL comes from the warehouse schema or the
FOCUS column catalogue, never from a request; user-named custom columns travel as one Arrow struct column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import duckdb
import pyarrow as pa

from focusbase.focus import Dataset
from focusbase.storage import rollups
from focusbase.storage.providers import ProviderDeleted, is_deleted
from focusbase.validate.parsing import timestamp_sql

# Internal column names on the Arrow tables handed to `normalise` (the ingest layer adds them).
ROW_COLUMN = "__row"  # 1-based input row number (continues across the parts of a batch)
CUSTOM_COLUMN = "__x"  # struct of the row's x_ columns, or absent

STAGED_PREFIX = rollups.STAGED_PREFIX  # superseded_by of rows staged by an open batch: not live yet


def staged_marker(batch_id: str) -> str:
    """The superseded_by value of an open batch's staged rows."""
    return STAGED_PREFIX + batch_id


ReplaceKind = Literal["replace_days", "replace_range", "replace_months", "replace_all", "append"]


@dataclass(frozen=True, slots=True)
class Tables:
    """The tables and sequence of one dataset."""

    rows: str
    sequence: str
    cost: str  # the money column summed per currency
    effective: str | None  # the second summed column, if any
    by_day: bool  # has charge_day (replace_days / replace_months / replace_range apply)


TABLES: dict[Dataset, Tables] = {
    Dataset.COST_AND_USAGE: Tables("cost_rows", "cost_row_seq", "BilledCost", "EffectiveCost", by_day=True),
    Dataset.CONTRACT_COMMITMENT: Tables(
        "contract_commitment_rows",
        "contract_commitment_row_seq",
        "ContractCommitmentCost",
        None,
        by_day=False,
    ),
}

META_COLUMNS = ("row_seq", "workspace_id", "provider_id", "batch_id", "superseded_by", "charge_day")

_SQL_TYPES = {
    "String": "VARCHAR",
    "Decimal": "DECIMAL(38, 12)",
    "Date/Time": "TIMESTAMP",
    "JSON": "JSON",
}


@dataclass(frozen=True, slots=True)
class Source:
    """One way to obtain a value: an input column, a bound constant, or a value derived from a column."""

    kind: Literal["column", "value", "plus_one_day", "month_start", "next_month_start"]
    name: str = ""  # input column (a catalogue name) for column and derived kinds
    value: Any = None  # the constant for kind == "value"
    data_type: str = "String"  # the input column's FOCUS type, for derived kinds and casts


@dataclass(frozen=True, slots=True)
class Fill:
    """How one stored column is filled: the first non-null of its sources, cast to the column's type."""

    column: str
    data_type: str
    sources: tuple[Source, ...] = field(default_factory=tuple)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cast_sql(expr: str, data_type: str) -> str:
    """SQL casting an accepted text value to the stored type of a FOCUS data type."""
    # Only values the validator accepted reach these casts (it checks them with validate.parsing). For those
    # a plain cast gives the same value as the validator's parse: a number with at most 12 decimals, a date,
    # or a date-time in UTC ending in Z, z or +00:00 (a zero offset the cast may ignore). Plain casts are
    # several times faster than re-running the format checks on every cell.
    if data_type == "Date/Time":
        # DuckDB's cast takes `Z` and `+00:00` but not a lowercase `z`; testing the last character is ~3x
        # cheaper than trimming every value.
        return f"CAST(CASE WHEN suffix({expr}, 'z') THEN rtrim({expr}, 'z') ELSE {expr} END AS TIMESTAMP)"
    return f"CAST({expr} AS {_SQL_TYPES[data_type]})"


_DERIVED_TIME = {
    "plus_one_day": "{t} + INTERVAL 1 DAY",
    "month_start": "date_trunc('month', {t})",
    "next_month_start": "date_trunc('month', {t}) + INTERVAL 1 MONTH",
}


def _fill_sql(fill: Fill, params: list[Any]) -> str:
    # The first non-null of the text sources (the cell, then its default), cast to the stored type.
    if len(fill.sources) == 1 and fill.sources[0].kind in _DERIVED_TIME and fill.data_type == "Date/Time":
        # An absent column derived from a validated timestamp: computed on the cast value, which is the
        # same instant the text round trip (parse, derive, format, cast) gives, without the regex and format.
        source = fill.sources[0]
        moment = cast_sql(_quote(source.name), "Date/Time")
        return "CAST(" + _DERIVED_TIME[source.kind].format(t=moment) + " AS TIMESTAMP)"
    parts = [_text_source_sql(source, params) for source in fill.sources]
    sql_type = _SQL_TYPES[fill.data_type]
    if not parts:
        return f"CAST(NULL AS {sql_type})"
    text = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    return f"CAST({cast_sql(text, fill.data_type)} AS {sql_type})"


_TEXT_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _text_source_sql(source: Source, params: list[Any]) -> str:
    if source.kind == "value":
        params.append(source.value)
        return "CAST(? AS VARCHAR)"
    raw = _quote(source.name)
    if source.kind == "column":
        return raw
    moment = timestamp_sql(raw, "ingest")
    if source.kind == "plus_one_day":
        return f"strftime({moment} + INTERVAL 1 DAY, '{_TEXT_TIME}')"
    if source.kind == "month_start":
        return f"strftime(date_trunc('month', {moment}), '{_TEXT_TIME}')"
    return f"strftime(date_trunc('month', {moment}) + INTERVAL 1 MONTH, '{_TEXT_TIME}')"


def fill_defaults(cur: duckdb.DuckDBPyConnection, source: pa.Table, fills: list[Fill]) -> pa.Table:
    """Fill empty cells and absent columns with their defaults, as text, before validation sees the rows.

    Only the filled columns are computed (and copied); every other column of `source` is kept as it is.
    """
    if not fills:
        return source
    params: list[Any] = []
    select: list[str] = []
    for fill in fills:
        parts = [_text_source_sql(s, params) for s in fill.sources]
        expr = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
        select.append(f"{expr} AS {_quote(fill.column)}")
    cur.register("__defaults", source)
    try:
        sql = f"SELECT {', '.join(select)} FROM __defaults"  # noqa: S608 - catalogue names, bound values
        filled = cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.unregister("__defaults")
    table = source
    for fill in fills:
        column = filled.column(fill.column)
        if fill.column in table.column_names:
            table = table.set_column(table.column_names.index(fill.column), fill.column, column)
        else:
            table = table.append_column(fill.column, column)
    return table


def table_columns(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of one of our tables, in order."""
    rows = cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [row[0] for row in rows]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Validated, defaulted rows of one part (text columns) and the casts into the stored shape."""

    source: pa.Table
    fills: list[Fill]

    @property
    def rows(self) -> int:
        return int(self.source.num_rows)


def select_sql(
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    fills: list[Fill],
    *,
    has_custom: bool,
    row_seq: str,
    superseded_by: str | None,
    workspace_id: str,
    provider_id: str,
    batch_id: str,
) -> tuple[str, list[Any]]:
    """The SELECT over `__source` (text columns, CUSTOM_COLUMN if `has_custom`) giving the stored columns."""
    tables = TABLES[dataset]
    by_column = {fill.column: fill for fill in fills}
    params: list[Any] = []
    select: list[str] = []
    for name in table_columns(cur, tables.rows):
        if name == "row_seq":
            select.append(row_seq)
        elif name in ("workspace_id", "provider_id", "batch_id"):
            params.append(
                {"workspace_id": workspace_id, "provider_id": provider_id, "batch_id": batch_id}[name]
            )
            select.append("CAST(? AS VARCHAR)")
        elif name == "superseded_by":
            params.append(superseded_by)
            select.append("CAST(? AS VARCHAR)")
        elif name == "charge_day":
            start = by_column.get("ChargePeriodStart")
            select.append(f"CAST({_fill_sql(start, params)} AS DATE)" if start else "CAST(NULL AS DATE)")
        elif name == "x_columns":
            select.append(f"CAST(to_json({CUSTOM_COLUMN}) AS JSON)" if has_custom else "CAST(NULL AS JSON)")
        else:
            fill = by_column.get(name)
            select.append(_fill_sql(fill, params) if fill else "NULL")
    return "SELECT " + ", ".join(select) + " FROM __source", params  # noqa: S608 - catalogue names only


def insert(
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    prepared: Prepared,
    *,
    staged: bool,
    workspace_id: str,
    provider_id: str,
    batch_id: str,
) -> None:
    """Cast prepared rows into the stored rows: live (commit of a single push) or staged (a part).

    Staged rows are written where they will live, hidden behind superseded_by = 'staged:<batch>' and a
    provisional negative row_seq; the commit only flips those two columns (no copy of the rows).
    """
    tables = TABLES[dataset]
    row_seq = f"-CAST({ROW_COLUMN} AS BIGINT)" if staged else f"nextval('{tables.sequence}')"
    sql, params = select_sql(
        cur,
        dataset,
        prepared.fills,
        has_custom=CUSTOM_COLUMN in prepared.source.column_names,
        row_seq=row_seq,
        superseded_by=staged_marker(batch_id) if staged else None,
        workspace_id=workspace_id,
        provider_id=provider_id,
        batch_id=batch_id,
    )
    cur.register("__source", one_chunk(prepared.source))
    try:
        cur.execute(f"INSERT INTO {tables.rows} {sql}", params)
    finally:
        cur.unregister("__source")


def one_chunk(table: pa.Table) -> pa.Table:
    """The table with one chunk per column, as `insert` hands it to DuckDB.

    DuckDB inserts a table of many record batches in order by numbering them and merging what each thread
    wrote: a 122,880-row part in a dozen record batches (of at most 16,384 rows) became two row groups and
    took 0.7 s. One chunk is read by one thread in order and written as one row group: 17 -> 9 row groups
    per 1,000,000 imported rows, and the whole import 10.7 s -> 9.8 s in-process (docs/benchmarks.md).
    Columns are copied only when some column has several chunks; the copy runs on the stager's thread (in
    alternating runs, 9.0-9.6 s against 9.5-10.0 s with the copy on the checking thread).
    """
    if all(column.num_chunks <= 1 for column in table.columns):
        return table
    return table.combine_chunks()


def discard_staged(cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str) -> None:
    """Drop the staged rows of a batch and their pre-aggregates (abort, failure, expiry)."""
    cur.execute(
        f"DELETE FROM {TABLES[dataset].rows} WHERE superseded_by = ?",  # noqa: S608
        [staged_marker(batch_id)],
    )
    rollups.discard_staged(cur, [batch_id])


def discard_all_staged(cur: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> None:
    """Drop the staged rows of several batches in every dataset, and their pre-aggregates."""
    if not batch_ids:
        return
    markers = [staged_marker(batch_id) for batch_id in batch_ids]
    for tables in TABLES.values():
        cur.execute(f"DELETE FROM {tables.rows} WHERE list_contains(?, superseded_by)", [markers])  # noqa: S608
    rollups.discard_staged(cur, batch_ids)


def stage_rollup(
    cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str, first_row: int, last_row: int, rows: int
) -> bool:
    """After `insert(..., staged=True)` of a part (input rows first_row..last_row, `rows` stored): sum it into
    the batch's rollup pre-aggregates, in the same transaction (Cost and Usage only). False when summing
    does not shrink this batch's parts, so its later parts need not be summed (rollups.stage_part)."""
    if dataset is Dataset.COST_AND_USAGE and rows:
        return rollups.stage_part(cur, batch_id, first_row, last_row, rows)
    return True


def stage_batch_rollup(cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str) -> None:
    """Sum all staged rows of a batch into its rollup pre-aggregates (a file staged by one statement)."""
    if dataset is Dataset.COST_AND_USAGE:
        rollups.stage_batch(cur, batch_id)


def staged_count(cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str) -> int:
    """Rows staged so far for a batch."""
    row = cur.execute(
        f"SELECT count(*) FROM {TABLES[dataset].rows} WHERE superseded_by = ?",  # noqa: S608
        [staged_marker(batch_id)],
    ).fetchall()[0]
    return int(row[0])


@dataclass(frozen=True, slots=True)
class Replace:
    """What a commit replaces: the kind and, for replace_range, the [start, end) window."""

    kind: ReplaceKind
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class CommitOutcome:
    """Rows stored, what they replaced and the sums of both, per currency (exact decimal strings)."""

    rows: int
    sums: dict[str, dict[str, Any]]
    replaced_rows: int
    replaced_sums: dict[str, dict[str, Any]]
    superseded_batches: list[str]


def _sums(
    cur: duckdb.DuckDBPyConnection, tables: Tables, where: str, params: list[Any]
) -> dict[str, dict[str, Any]]:
    columns = [tables.cost] + ([tables.effective] if tables.effective else [])
    select = ", ".join(f"CAST(sum({_quote(c)}) AS VARCHAR)" for c in columns)
    rows = cur.execute(
        f"SELECT coalesce(\"BillingCurrency\", ''), count(*), {select} FROM {tables.rows} "  # noqa: S608
        f"WHERE {where} GROUP BY 1 ORDER BY 1",
        params,
    ).fetchall()
    result: dict[str, dict[str, Any]] = {}
    for currency, count, *totals in rows:
        entry: dict[str, Any] = {"rows": int(count)}
        for name, total in zip(columns, totals, strict=True):
            entry[name] = exact(total)
        result[currency] = entry
    return result


def exact(value: str | None) -> str:
    """A DECIMAL rendered without padding zeros: '12.500000000000' -> '12.5' (no rounding ever)."""
    if value is None:
        return "0"
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return "0" if value in ("", "-0") else value


def commit(
    cur: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    *,
    batch_id: str,
    workspace_id: str,
    provider_id: str,
    replace: Replace,
    prepared: Prepared | None = None,
) -> CommitOutcome:
    """In one transaction: store the batch's rows (staged or prepared), then supersede what it replaces.

    ProviderDeleted when the provider was deleted meanwhile (the caller's transaction rolls back).
    """
    if is_deleted(cur, workspace_id, provider_id):
        raise ProviderDeleted(provider_id)
    tables = TABLES[dataset]
    staged_rows: int | None = None
    if prepared is None:
        # Staged rows become live: their final row_seq (higher than every row committed before) is drawn now.
        flipped = cur.execute(
            f"UPDATE {tables.rows} SET row_seq = nextval('{tables.sequence}'), superseded_by = NULL "  # noqa: S608
            "WHERE superseded_by = ?",
            [staged_marker(batch_id)],
        ).fetchall()
        staged_rows = int(flipped[0][0])
    else:
        insert(
            cur,
            dataset,
            prepared,
            staged=False,
            workspace_id=workspace_id,
            provider_id=provider_id,
            batch_id=batch_id,
        )
    # The batch's own rows are live already (inside this transaction); everything else in scope is replaced.
    scope = "workspace_id = ? AND provider_id = ? AND superseded_by IS NULL AND batch_id <> ?"
    params: list[Any] = [workspace_id, provider_id, batch_id]
    own = f"FROM {tables.rows} WHERE batch_id = ?"
    where: str | None
    if replace.kind == "append":
        where = None
    elif replace.kind == "replace_all":
        where = scope
    elif replace.kind == "replace_range":
        where = scope + ' AND "ChargePeriodStart" >= ? AND "ChargePeriodStart" < ?'
        params += [replace.start, replace.end]
    elif replace.kind == "replace_days":
        where = f"{scope} AND charge_day IN (SELECT DISTINCT charge_day {own})"
        params.append(batch_id)
    else:
        month = "date_trunc('month', \"BillingPeriodStart\")"
        where = f"{scope} AND {month} IN (SELECT DISTINCT {month} {own})"
        params.append(batch_id)
    replaced_sums: dict[str, dict[str, Any]] = {}
    superseded: list[str] = []
    if where is not None:
        replaced_sums = _sums(cur, tables, where, params)
        if replaced_sums:
            superseded = [
                r[0]
                for r in cur.execute(
                    f"SELECT DISTINCT batch_id FROM {tables.rows} WHERE {where}",  # noqa: S608
                    params,
                ).fetchall()
            ]
            cur.execute(
                f"UPDATE {tables.rows} SET superseded_by = ? WHERE {where}",  # noqa: S608
                [batch_id, *params],
            )
    if superseded:
        # A batch none of whose rows is live any more is shown as superseded in History.
        cur.execute(
            "UPDATE batches SET status = 'superseded' "  # noqa: S608 - our table names only
            "WHERE status = 'committed' AND list_contains(?, id) "
            f"AND NOT EXISTS (SELECT 1 FROM {tables.rows} r WHERE r.batch_id = batches.id "
            "AND r.superseded_by IS NULL)",
            [superseded],
        )
    if dataset is Dataset.COST_AND_USAGE:
        rollups.refresh_batch(cur, provider_id, batch_id, kind=replace.kind, staged_rows=staged_rows)
    sums = _sums(cur, tables, "batch_id = ?", [batch_id])
    return CommitOutcome(
        rows=sum(int(entry["rows"]) for entry in sums.values()),
        sums=sums,
        replaced_rows=sum(int(entry["rows"]) for entry in replaced_sums.values()),
        replaced_sums=replaced_sums,
        superseded_batches=superseded,
    )


@dataclass(frozen=True, slots=True)
class RevertCheck:
    """Whether a batch can be reverted, and why not."""

    own_rows_superseded: int
    replaced_rows_kept: int
    later_rows_on_restored_days: int


def revert_check(
    cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str, provider_id: str
) -> RevertCheck:
    """Facts that decide whether reverting a batch is safe (no later data would be double counted)."""
    tables = TABLES[dataset]
    own = cur.execute(
        f"SELECT count(*) FILTER (WHERE superseded_by IS NOT NULL), coalesce(max(row_seq), 0) "  # noqa: S608
        f"FROM {tables.rows} WHERE batch_id = ?",
        [batch_id],
    ).fetchall()[0]
    kept = cur.execute(
        f"SELECT count(*) FROM {tables.rows} WHERE provider_id = ? AND superseded_by = ?",  # noqa: S608
        [provider_id, batch_id],
    ).fetchall()[0]
    # Rows committed after this batch that are live where restored rows would come back.
    overlap = (
        " AND charge_day IN (SELECT DISTINCT charge_day FROM {t} WHERE provider_id = ? AND superseded_by = ?)"
        if tables.by_day
        else " AND EXISTS (SELECT 1 FROM {t} WHERE provider_id = ? AND superseded_by = ?)"
    ).format(t=tables.rows)
    later = cur.execute(
        f"SELECT count(*) FROM {tables.rows} WHERE provider_id = ? AND superseded_by IS NULL "  # noqa: S608
        f"AND batch_id <> ? AND row_seq > ?" + overlap,
        [provider_id, batch_id, own[1], provider_id, batch_id],
    ).fetchall()[0]
    return RevertCheck(int(own[0]), int(kept[0]), int(later[0]))


def revert(
    cur: duckdb.DuckDBPyConnection, dataset: Dataset, batch_id: str, provider_id: str, marker: str
) -> tuple[int, int, list[str]]:
    """Restore the rows a batch replaced and retire its own rows; returns (restored, retired, batches)."""
    tables = TABLES[dataset]
    days = rollups.affected_days(cur, provider_id, batch_id) if dataset is Dataset.COST_AND_USAGE else []
    restored_batches = [
        r[0]
        for r in cur.execute(
            f"SELECT DISTINCT batch_id FROM {tables.rows} WHERE provider_id = ? AND superseded_by = ?",  # noqa: S608
            [provider_id, batch_id],
        ).fetchall()
    ]
    retired = cur.execute(
        f"UPDATE {tables.rows} SET superseded_by = ? WHERE batch_id = ? AND superseded_by IS NULL",  # noqa: S608
        [marker, batch_id],
    ).fetchall()[0]
    restored = cur.execute(
        f"UPDATE {tables.rows} SET superseded_by = NULL WHERE provider_id = ? AND superseded_by = ?",  # noqa: S608
        [provider_id, batch_id],
    ).fetchall()[0]
    if restored_batches:
        cur.execute(
            "UPDATE batches SET status = 'committed' WHERE status = 'superseded' AND list_contains(?, id)",
            [restored_batches],
        )
    rollups.refresh_days(cur, provider_id, days)
    return int(restored[0]), int(retired[0]), restored_batches


def prune(cur: duckdb.DuckDBPyConnection, dataset: Dataset, provider_id: str, keep: int) -> int:
    """Delete superseded versions beyond the newest `keep` per provider-day (per provider without days)."""
    tables = TABLES[dataset]
    part = "charge_day" if tables.by_day else "provider_id"
    row = cur.execute(
        f"""
        DELETE FROM {tables.rows} AS t
        WHERE t.provider_id = ? AND t.superseded_by IS NOT NULL
          AND NOT starts_with(t.superseded_by, '{STAGED_PREFIX}')
          AND EXISTS (
            SELECT 1 FROM (
                SELECT {part} AS part, batch_id,
                       dense_rank() OVER (PARTITION BY {part} ORDER BY max(row_seq) DESC) AS version
                FROM {tables.rows}
                WHERE provider_id = ? AND superseded_by IS NOT NULL
                  AND NOT starts_with(superseded_by, '{STAGED_PREFIX}')
                GROUP BY {part}, batch_id
            ) AS v
            WHERE v.version > ? AND v.part = t.{part} AND v.batch_id = t.batch_id
        )
        """,  # noqa: S608 - our table and column names only
        [provider_id, provider_id, keep],
    ).fetchall()[0]
    return int(row[0])


def live_sums(
    cur: duckdb.DuckDBPyConnection, dataset: Dataset, workspace_id: str
) -> dict[str, dict[str, Any]]:
    """Sums per currency over a workspace's live rows (for checks and the CLI)."""
    tables = TABLES[dataset]
    return _sums(cur, tables, "workspace_id = ? AND superseded_by IS NULL", [workspace_id])
