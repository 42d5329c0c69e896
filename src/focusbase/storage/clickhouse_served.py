"""The FOCUS API's reads on the ClickHouse warehouse: filters, keyset pages of served records, their summary.

For the same live rows these answer what the DuckDB warehouse answers (storage/query.py): the same records
(every FOCUS property, the seed's names, x_ columns spliced in), the same exact decimals and UTC times, the
same counts and billing periods. Pages are keyed by row_id instead of row_seq; both are stable keysets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import orjson

from focusbase.focus import Dataset
from focusbase.query.filters import ContractCommitmentFilters, CostFilters, Scope
from focusbase.storage.clickhouse_reads import ClickHouseReads
from focusbase.storage.clickhouse_types import LIVE, TABLES
from focusbase.storage.cost_rows import exact
from focusbase.storage.query import BillingPeriod, Field, Page, Summary, quote
from focusbase.storage.served import SummaryCache

Params = dict[str, Any]
TIME_PARAMETER = "DateTime64(6, 'UTC')"
_SCALE = Decimal("1e-12")
# DateTime64's range: a filter bound outside it is moved to its edge (no stored time lies beyond).
_FIRST_TIME, _LAST_TIME = datetime(1900, 1, 1), datetime(2299, 12, 31, 23, 59, 59, 999999)


@dataclass(frozen=True, slots=True)
class Where:
    """Filter conditions over one dataset's rows, SQL with named parameters (values never in the text); the
    reads add the live filter (`LIVE`) themselves."""

    sql: str
    params: Params


def scope_where(scope: Scope) -> Where:
    """A key's workspace (and providers) as conditions; `{ws:String}` is what the live filter reads."""
    clauses = ["workspace_id = {ws:String}"]
    params: Params = {"ws": scope.workspace_id}
    if scope.provider_ids is not None:
        clauses.append("provider_id IN {providers:Array(String)}")
        params["providers"] = sorted(scope.provider_ids)
    return Where(" AND ".join(clauses), params)


def utc_bounded(moment: datetime) -> datetime:
    """A time as a DateTime64(6, 'UTC') parameter: naive UTC, inside the type's range."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return min(max(moment, _FIRST_TIME), _LAST_TIME)


def cost_where(filters: CostFilters) -> Where:
    """The cost-and-usage filters (storage.query.cost_where's conditions) over live Cost and Usage rows."""
    where = scope_where(filters.scope)
    clauses, params = [where.sql], dict(where.params)
    if filters.billing_period_start is not None:
        clauses.append(f'"BillingPeriodStart" >= {{period_from:{TIME_PARAMETER}}}')
        params["period_from"] = utc_bounded(filters.billing_period_start)
    if filters.billing_period_end is not None:
        clauses.append(f'"BillingPeriodStart" < {{period_to:{TIME_PARAMETER}}}')
        params["period_to"] = utc_bounded(filters.billing_period_end)
    for i, (column, value) in enumerate(sorted(filters.string_filters().items())):
        clauses.append(f"{quote(column)} = {{s{i}:String}}")
        params[f"s{i}"] = value
    if filters.empty_window:
        clauses.append("0")
    return Where(" AND ".join(clauses), params)


def contract_commitment_where(filters: ContractCommitmentFilters) -> Where:
    """The contract-commitments filters over live Contract Commitment rows.

    `billing_account_id` matches the row's x_BillingAccountId as DuckDB's json_extract_string reads it: a
    string value unquoted; a row without the column never matches.
    """
    where = scope_where(filters.scope)
    clauses, params = [where.sql], dict(where.params)
    if filters.commitment_discount_id is not None:
        clauses.append('"ContractCommitmentId" = {commitment:String}')
        params["commitment"] = filters.commitment_discount_id
    if filters.billing_account_id is not None:
        raw = "x_kv['x_BillingAccountId']"
        clauses.append(
            f"mapContains(x_kv, 'x_BillingAccountId') AND {raw} != 'null'"
            f" AND if(startsWith({raw}, '\"'), JSONExtractString({raw}), {raw}) = {{account:String}}"
        )
        params["account"] = filters.billing_account_id
    return Where(" AND ".join(clauses), params)


# ---------------------------------------------------------------------------------------------------------
# Records: the text DuckDB's record SQL writes, built from the typed values ClickHouse returns.


def _decimal_text(value: Decimal) -> str:
    """An exact number literal with trailing zeros trimmed, as DuckDB's CAST(DECIMAL AS VARCHAR) + rtrim."""
    return exact(format(value, "f"))


def _custom_decimal(text: str) -> Decimal | None:
    """An x_ column's text as DECIMAL(38, 12), or None where DuckDB's TRY_CAST gives NULL."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    value = value.quantize(_SCALE, rounding=ROUND_HALF_UP)
    return value if value.adjusted() < 26 else None


def _sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value_sql(field: Field) -> str:
    """ClickHouse SQL for a stored property's JSON text (never NULL: a missing value is the literal null)."""
    column = quote(field.source)
    if field.data_type == "Decimal":
        text = f"toString({column})"  # exact, trailing zeros trimmed
    elif field.data_type == "Date/Time":
        text = f"concat('\"', formatDateTime({column}, '%Y-%m-%dT%H:%i:%SZ'), '\"')"
    elif field.data_type == "JSON":
        text = column  # stored JSON text, served as stored
    else:
        text = f"toJSONString({column})"  # a JSON string literal, escaped by ClickHouse
    return f"ifNull({text}, 'null')"


def record_sql(fields: tuple[Field, ...]) -> str:
    """The stored properties of a record as JSON object text without its closing brace, in field order."""
    parts: list[str] = []
    for f in (f for f in fields if not f.source.startswith("x_")):
        key = ("{" if not parts else ",") + orjson.dumps(f.prop).decode() + ":"
        parts.extend([_sql_literal(key), _value_sql(f)])
    return f"concat({', '.join(parts)})" if parts else "'{'"


def _custom_value(custom: dict[str, Any], field: Field) -> str:
    """One served x_ property from the row's x_ object (json_extract_string, then the field's type)."""
    value = custom.get(field.source)
    if value is None:
        return "null"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if field.data_type == "Decimal":
        number = _custom_decimal(text)
        return "null" if number is None else _decimal_text(number)
    return orjson.dumps(text).decode()


def finish_record(body: str, x_columns: str | None, fields: tuple[Field, ...]) -> str:
    """A record from `record_sql`'s text: the served x_ properties (typed as DuckDB types them) and the row's
    other x_ columns spliced in as top-level properties, then the closing brace."""
    custom_fields = [f for f in fields if f.source.startswith("x_")]
    custom: dict[str, Any] = orjson.loads(x_columns) if x_columns else {}
    if not isinstance(custom, dict):
        custom = {}
    sep = "," if body != "{" else ""
    parts = [orjson.dumps(f.prop).decode() + ":" + _custom_value(custom, f) for f in custom_fields]
    served = {f.source for f in custom_fields}
    extra = {k: v for k, v in custom.items() if k not in served}
    if extra:
        parts.append(orjson.dumps(extra).decode()[1:-1])
    return body + (sep + ",".join(parts) if parts else "") + "}"


class ClickHouseServedReads(ClickHouseReads):
    """The served reads (`storage.served.ServedRecords`); mixed into the warehouse with the other reads.

    A page and its summary are two queries with no snapshot between them (ClickHouse has none): a commit
    landing between them can show in the count and not yet in the page. Each alone is atomic.
    """

    def cost_records(
        self,
        filters: CostFilters,
        fields: tuple[Field, ...],
        *,
        after: int,
        page_size: int,
        periods_ending_after: datetime | None,
    ) -> tuple[Page, Summary]:
        where = cost_where(filters)
        page = self.served_page(Dataset.COST_AND_USAGE, where, fields, after=after, page_size=page_size)
        summary = self.served_summary(
            Dataset.COST_AND_USAGE, where, periods_ending_after=periods_ending_after
        )
        return page, summary

    def contract_commitment_records(
        self, filters: ContractCommitmentFilters, fields: tuple[Field, ...], *, after: int, page_size: int
    ) -> tuple[Page, Summary]:
        where = contract_commitment_where(filters)
        page = self.served_page(Dataset.CONTRACT_COMMITMENT, where, fields, after=after, page_size=page_size)
        return page, self.served_summary(Dataset.CONTRACT_COMMITMENT, where)

    def custom_column_names(self, dataset: Dataset, scope: Scope) -> list[str]:
        """The distinct x_ column names in the live rows the scope can see."""
        return self.custom_keys_where(dataset, scope_where(scope))

    def custom_keys_where(self, dataset: Dataset, where: Where) -> list[str]:
        """The distinct x_ column names in the live rows matching `where`, sorted (keys of x_kv, as DuckDB's
        json_keys of x_columns: a key whose value is null counts)."""
        rows = self._query(
            f"SELECT DISTINCT arrayJoin(mapKeys(x_kv)) AS k FROM {TABLES[dataset].name}"  # noqa: S608
            f" WHERE {where.sql} AND {LIVE} ORDER BY k",
            where.params,
        )
        return [str(r[0]) for r in rows]

    def _stored(self, dataset: Dataset) -> frozenset[str]:
        """The dataset table's columns (fixed once migrated, so asked once per warehouse object)."""
        known: dict[Dataset, frozenset[str]] = self.__dict__.setdefault("_stored_columns", {})
        if dataset not in known:
            rows = self._query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
                {"t": TABLES[dataset].name},
            )
            known[dataset] = frozenset(str(r[0]) for r in rows)
        return known[dataset]

    def served_page(
        self, dataset: Dataset, where: Where, fields: tuple[Field, ...], *, after: int, page_size: int
    ) -> Page:
        """The next `page_size` live rows matching `where` with row_id > after, as served records."""
        stored = self._stored(dataset)
        missing = [f.source for f in fields if not f.source.startswith("x_") and f.source not in stored]
        if missing:
            raise ValueError(f"not stored columns: {missing}")
        rows = self._query(
            f"SELECT row_id, x_columns, {record_sql(fields)} FROM {TABLES[dataset].name}"  # noqa: S608 - ours
            f" WHERE {where.sql} AND {LIVE} AND row_id > {{after:UInt64}} ORDER BY row_id LIMIT {{n:UInt32}}",
            {**where.params, "after": after, "n": page_size + 1},
        )
        has_more = len(rows) > page_size
        rows = rows[:page_size]
        if not rows:
            return Page(records_json="[]", count=0, last_seq=None, has_more=False)
        records = [finish_record(str(r[2]), r[1], fields) for r in rows]
        return Page(
            records_json="[" + ",".join(records) + "]",
            count=len(rows),
            last_seq=int(rows[-1][0]),
            has_more=has_more,
        )

    def clear_summary_cache(self) -> None:
        """Forget this warehouse object's cached summaries (benchmarks measure the uncached path)."""
        self.__dict__.pop("_summaries", None)

    def data_version(self) -> tuple[Any, ...]:
        """A fingerprint that changes with every write the served reads can see: per table and partition, the
        newest block number (every insert: stage, commit, revert, tombstone) and data version (every
        lightweight delete: prune, purge). A merge may change it too, which only costs a cache miss."""
        return tuple(self._query(_VERSION)[0][0])

    def served_summary(
        self, dataset: Dataset, where: Where, *, periods_ending_after: datetime | None = None
    ) -> Summary:
        """The live row count matching `where`, the last change that touched matching rows and, with
        `periods_ending_after`, the distinct (provider, billing period) of those rows whose period ends after
        it (Cost and Usage only). Cached per warehouse object under `data_version`, computed in one query
        with the version it is cached under, so a cached summary always describes that version's data."""
        cache: SummaryCache = self.__dict__.setdefault("_summaries", SummaryCache())
        key = (dataset, where.sql, repr(sorted(where.params.items())), periods_ending_after)
        found = cache.get((*key, self.data_version()))
        if found is not None:
            return found
        table = TABLES[dataset].name
        params = dict(where.params)
        periods_sql = "[]"
        if periods_ending_after is not None:
            periods_sql = (
                '(SELECT groupUniqArray((provider_id, "BillingPeriodStart", "BillingPeriodEnd"))'  # noqa: S608
                f" FROM {table} WHERE {where.sql} AND {LIVE}"
                f' AND "BillingPeriodEnd" > {{cutoff:{TIME_PARAMETER}}} AND "BillingPeriodStart" IS NOT NULL)'
            )
            params["cutoff"] = periods_ending_after
        # The last change: the newest visibility row of any day-batch holding matching rows, live or not (the
        # commit that made them live, a later one that retired them, a revert). DuckDB's summarize reads the
        # same events from its batches (committed_at of holders and supersedors, updated_at of reverts).
        row = self._query(
            f"SELECT (SELECT count() FROM {table} WHERE {where.sql} AND {LIVE}),"  # noqa: S608
            " (SELECT nullIf(max(changed_at), toDateTime64(0, 6, 'UTC')) FROM live_day_batches"
            " WHERE workspace_id = {ws:String} AND provider_id NOT IN"
            " (SELECT provider_id FROM deleted_providers WHERE workspace_id = {ws:String})"
            f" AND day_batch IN (SELECT day_batch FROM {table} WHERE {where.sql})),"
            f" {periods_sql}, ({_VERSION})",
            params,
        )[0]
        count, updated, found_periods, version = row
        periods = tuple(
            sorted(
                (BillingPeriod(str(p), _naive(s), _naive(e)) for p, s, e in found_periods),
                key=lambda bp: (bp.provider_id, bp.start, bp.end),
            )
        )
        summary = Summary(
            total=int(count), last_updated=None if updated is None else _naive(updated), periods=periods
        )
        cache.put((*key, tuple(version)), summary)
        return summary


_VERSION = (
    "SELECT groupArray((table, partition_id, block, version)) FROM (SELECT table, partition_id,"
    " max(max_block_number) AS block, max(data_version) AS version FROM system.parts"
    " WHERE database = currentDatabase() AND active AND table IN"
    " ('cost_rows', 'contract_commitment_rows', 'live_day_batches', 'deleted_providers')"
    " GROUP BY table, partition_id ORDER BY table, partition_id)"
)


def _naive(moment: datetime) -> datetime:
    """A time as DuckDB's warehouse returns it: UTC without tzinfo."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
