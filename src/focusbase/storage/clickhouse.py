"""A ClickHouse warehouse for Cost and Usage rows (scale-out prototype; docs/scaling.md).

ClickHouse has no multi-statement transactions, so rows are immutable once inserted and a small visibility
table says which (batch, day) units are live. Staging inserts rows that no read can see (no visibility row
names them); commit, replace and revert are each **one** INSERT block into the unpartitioned
`live_day_batches`, which ClickHouse applies atomically, so a reader sees all of the old day-batches or all
of the new. Reads keep the rows whose `day_batch` is live. Sums accumulate in Decimal256 (ClickHouse does not
check Decimal128 overflow) and are checked against DECIMAL(38, 12) before they are answered.

Same client code for a server (clickhouse-connect over HTTP) and for tests and development (chDB, the engine
embedded: `get_client(interface="chdb", path=...)`). Not yet wired into the server: the batches table, the
commit outbox and the ingest path come next (docs/scaling.md, "What is left").
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc

from focusbase.storage import migrations
from focusbase.storage.catalog import Catalog
from focusbase.storage.cost_rows import CommitOutcome, Replace, exact
from focusbase.storage.urls import redact

MIGRATIONS = "clickhouse_warehouse"
DAY_BITS = 20  # day_batch = (batch_seq << 20) | day number: days up to 2^20 (year 4840)
ROW_BITS = 32  # row_id = (batch_seq << 32) | row number in the batch
COPY_ROW_BASE = 1 << 31  # row numbers of rows a replace_range/months copies in (a batch's own stay below)
# |sum| must fit DECIMAL(38, 12), the type every other part of focusbase (and DuckDB) answers in.
DECIMAL_38_12_MAX = Decimal(10) ** 26 - Decimal("1e-12")
SUMMED = ("BilledCost", "EffectiveCost")
# Columns a grouped read may name (our own column names only; never text from a request).
GROUPABLE = frozenset({"ServiceName", "ServiceCategory", "RegionId", "SubAccountId", "ChargeCategory"})
# Columns stage() derives itself; every other non-materialized column of cost_rows is a stored FOCUS column.
DERIVED = ("workspace_id", "provider_id", "batch_id", "batch_seq", "day_batch", "row_id", "charge_day")
HTTP_PORTS = {False: 8123, True: 8443}
# Whatever ClickHouse's own session default is (chDB's is async_insert=1), inserts here are synchronous:
# an asynchronous insert may be split into several blocks, and the visibility flip must be one.
INSERT_SETTINGS = {"async_insert": 0}


class WarehouseValueOutOfRange(ArithmeticError):
    """A sum left the DECIMAL(38, 12) range; nothing wrong is answered."""


class RevertRefused(RuntimeError):
    """Reverting the batch would restore rows that later data has replaced or overlaps."""


@dataclass(frozen=True, slots=True)
class BatchRef:
    """The batch a write is for; `batch_seq` is unique and increasing (a catalog sequence)."""

    workspace_id: str
    provider_id: str
    batch_id: str
    batch_seq: int

    def __post_init__(self) -> None:
        if not 0 < self.batch_seq < 1 << 32:
            raise ValueError("batch_seq must be a positive 32-bit number")


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    """Rows live again, rows retired, and the batches whose day-batches were restored."""

    restored_rows: int
    retired_rows: int
    restored_batches: list[str]


@dataclass(frozen=True, slots=True)
class Page:
    """One keyset page of live rows, in row_id order."""

    rows: list[dict[str, Any]]
    next_after: int | None  # the row_id to continue after, None on the last page


# The day-batches of workspace {ws} whose latest version is not deleted. argMax, not FINAL: the same answer
# on every ClickHouse version, merged or not.
LIVE = (
    "day_batch IN (SELECT day_batch FROM live_day_batches WHERE workspace_id = {ws:String}"
    " GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 0)"
)


class WarehouseUrlInvalid(ValueError):
    """A warehouse URL this module cannot open."""


def open_client(url: str) -> Any:
    """A clickhouse-connect client for a warehouse URL.

    `chdb:///path[?database=db]` is the engine embedded (the database is created if missing);
    `clickhouse://user:pass@host[:port]/db` and `http(s)://...` reach a server over HTTP (port 8123, or
    8443 with https or `?secure=true`).
    """
    import clickhouse_connect  # imported here: the optional [scale] extra

    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise WarehouseUrlInvalid(f"{url!r} names no directory (chdb:///path/to/dir)")
        database = query.get("database", "default")
        if database != "default":
            admin = clickhouse_connect.get_client(interface="chdb", path=path)
            admin.command(f"CREATE DATABASE IF NOT EXISTS {_identifier(database)}")
        return clickhouse_connect.get_client(interface="chdb", path=path, database=database)
    if parts.scheme not in ("clickhouse", "clickhouses", "http", "https"):
        raise WarehouseUrlInvalid(
            f"{redact(url)!r}: the warehouse URL must start with chdb://, clickhouse://, http:// or https://"
        )
    secure = parts.scheme in ("https", "clickhouses") or query.get("secure", "").lower() in ("1", "true")
    if not parts.hostname:
        raise WarehouseUrlInvalid(f"{redact(url)!r} names no host")
    return clickhouse_connect.get_client(
        interface="https" if secure else "http",
        host=parts.hostname,
        port=parts.port or HTTP_PORTS[secure],
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.strip("/")) or "default",
        secure=secure,
    )


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise WarehouseUrlInvalid(f"database name {name!r}: letters, digits and _ only")
    return name


def _checked(value: Decimal | None) -> str:
    if value is None:
        return "0"
    if abs(value) > DECIMAL_38_12_MAX:
        raise WarehouseValueOutOfRange(f"a sum ({value:.0f}) is beyond DECIMAL(38, 12)")
    return exact(format(value, "f"))


class ClickHouseWarehouse:
    """Cost and Usage rows in ClickHouse behind the warehouse's write and read operations."""

    def __init__(self, client: Any, catalog: Catalog) -> None:
        # A clickhouse-connect client is not safe for concurrent queries; one lock per client keeps the
        # prototype correct (a server deployment gives each thread a client of its own).
        self._client = client
        self._client_lock = threading.RLock()
        # The catalog's per-provider writer lock orders the commits of one provider across replicas.
        self.catalog = catalog
        self.migrate()

    # ------------------------------------------------------------------------------------------- plumbing

    def _query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        with self._client_lock:
            rows: list[Sequence[Any]] = self._client.query(sql, parameters=parameters or {}).result_rows
            return rows

    def _command(self, sql: str, parameters: dict[str, Any] | None = None) -> None:
        with self._client_lock:
            self._client.command(sql, parameters=parameters or {}, settings=INSERT_SETTINGS)

    def migrate(self) -> list[str]:
        """Apply pending ClickHouse migrations (DDL is not transactional: each statement is idempotent)."""
        self._command(
            "CREATE TABLE IF NOT EXISTS schema_migrations (number UInt32, name String,"
            " applied_at DateTime64(6, 'UTC')) ENGINE = ReplacingMergeTree ORDER BY number"
        )
        applied = {int(row[0]) for row in self._query("SELECT number FROM schema_migrations")}

        def run(migration: migrations.Migration) -> None:
            from focusbase.storage.catalog import split_statements

            for statement in split_statements(migration.sql):
                self._command(statement.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
            self._command(
                "INSERT INTO schema_migrations VALUES ({n:UInt32}, {name:String}, now64(6))",
                {"n": migration.number, "name": migration.name},
            )

        return migrations.apply_all(MIGRATIONS, applied, run)

    @contextmanager
    def _provider_lock(self, provider_id: str) -> Iterator[None]:
        with self.catalog.writer_lock(provider_id):
            yield

    # -------------------------------------------------------------------------------------------- staging

    def stage(self, batch: BatchRef, part_no: int, first_row: int, rows: pa.Table) -> int:
        """Insert a part's rows (stored FOCUS columns) invisibly; a retry of the same part stores nothing.

        `first_row` is the batch-wide number of the part's first row; row ids follow from it, so a part
        sent again is the same block and ClickHouse's insert deduplication drops it.
        """
        count = int(rows.num_rows)
        if first_row < 0 or first_row + count >= COPY_ROW_BASE:
            raise ValueError("row numbers of a batch must stay below 2^31")
        if "ChargePeriodStart" in rows.column_names:
            days = pc.cast(pc.cast(rows["ChargePeriodStart"], pa.timestamp("us", tz="UTC")), pa.date32())
            day_numbers = pc.fill_null(pc.cast(days, pa.int32()), 0)
        else:
            day_numbers = pa.array([0] * count, pa.int32())
        if count and pc.min(day_numbers).as_py() < 0:
            raise ValueError("ChargePeriodStart before 1970-01-01 cannot be stored")
        day_numbers = pc.cast(day_numbers, pa.uint64())
        seq = pa.scalar(batch.batch_seq, pa.uint64())
        meta = {
            "workspace_id": pa.array([batch.workspace_id] * count, pa.string()),
            "provider_id": pa.array([batch.provider_id] * count, pa.string()),
            "batch_id": pa.array([batch.batch_id] * count, pa.string()),
            "batch_seq": pa.array([batch.batch_seq] * count, pa.uint32()),
            "day_batch": pc.bit_wise_or(pc.shift_left(seq, pa.scalar(DAY_BITS, pa.uint64())), day_numbers),
            "row_id": pc.add(
                pc.shift_left(seq, pa.scalar(ROW_BITS, pa.uint64())),
                pa.array(range(first_row, first_row + count), pa.uint64()),
            ),
            "charge_day": pc.cast(day_numbers.cast(pa.int32()), pa.date32()),
        }
        table = rows
        for name, column in meta.items():
            table = table.append_column(name, column)
        with self._client_lock:
            self._client.insert_arrow(
                "cost_rows",
                table,
                settings={**INSERT_SETTINGS, "insert_deduplication_token": f"{batch.batch_id}:{part_no}"},
            )
        return count

    def staged_count(self, batch: BatchRef) -> int:
        """Rows a batch has staged (its own, not rows a replace copied in)."""
        rows = self._query(
            "SELECT count() FROM cost_rows WHERE workspace_id = {ws:String} AND batch_seq = {seq:UInt32}"
            " AND row_id < {limit:UInt64}",
            {"ws": batch.workspace_id, "seq": batch.batch_seq, "limit": self._copy_base(batch)},
        )
        return int(rows[0][0])

    @staticmethod
    def _copy_base(batch: BatchRef) -> int:
        return (batch.batch_seq << ROW_BITS) | COPY_ROW_BASE

    # --------------------------------------------------------------------------------------------- commit

    def commit(self, batch: BatchRef, replace: Replace) -> CommitOutcome:
        """Make a staged batch live, replacing what `replace` says, in one visibility block."""
        with self._provider_lock(batch.provider_id):
            return self._commit(batch, replace)

    def _live_day_batches(self, workspace_id: str, provider_id: str) -> list[tuple[int, date, str]]:
        rows = self._query(
            "SELECT day_batch, argMax(charge_day, commit_seq), argMax(batch_id, commit_seq)"
            " FROM live_day_batches WHERE workspace_id = {ws:String} AND provider_id = {p:String}"
            " GROUP BY day_batch HAVING argMax(is_deleted, commit_seq) = 0 ORDER BY day_batch",
            {"ws": workspace_id, "p": provider_id},
        )
        return [(int(r[0]), r[1], str(r[2])) for r in rows]

    def _next_commit_seq(self, workspace_id: str, provider_id: str) -> int:
        # Versions only need to increase per day_batch, and a day_batch belongs to one provider, whose
        # writer lock the caller holds.
        rows = self._query(
            "SELECT max(commit_seq) FROM live_day_batches WHERE workspace_id = {ws:String}"
            " AND provider_id = {p:String}",
            {"ws": workspace_id, "p": provider_id},
        )
        return int(rows[0][0] or 0) + 1

    def _replaced_predicate(self, batch: BatchRef, replace: Replace, params: dict[str, Any]) -> str | None:
        """SQL true for a live row of the provider that this commit replaces (never true for NULL).

        The batch's days and months are read once, before any survivor is copied into the batch.
        """
        own = {"ws": batch.workspace_id, "seq": batch.batch_seq}
        if replace.kind == "append":
            return None
        if replace.kind == "replace_all":
            return "1"
        if replace.kind == "replace_days":
            params["days"] = [
                r[0]
                for r in self._query(
                    "SELECT DISTINCT charge_day FROM cost_rows WHERE workspace_id = {ws:String}"
                    " AND batch_seq = {seq:UInt32}",
                    own,
                )
            ]
            return "charge_day IN {days:Array(Date)}"
        if replace.kind == "replace_range":
            params["start"], params["end"] = replace.start, replace.end
            return (
                "ifNull(\"ChargePeriodStart\" >= {start:DateTime64(6, 'UTC')}"
                " AND \"ChargePeriodStart\" < {end:DateTime64(6, 'UTC')}, 0)"
            )
        params["months"] = [
            r[0]
            for r in self._query(
                'SELECT DISTINCT toStartOfMonth("BillingPeriodStart") FROM cost_rows WHERE workspace_id'
                ' = {ws:String} AND batch_seq = {seq:UInt32} AND "BillingPeriodStart" IS NOT NULL',
                own,
            )
        ]
        return 'ifNull(toStartOfMonth("BillingPeriodStart") IN {months:Array(Date)}, 0)'

    def _sums(self, where: str, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        select = ", ".join(f'sum(toDecimal256("{c}", 12))' for c in SUMMED)
        rows = self._query(
            f"SELECT ifNull(\"BillingCurrency\", ''), count(), {select} FROM cost_rows"  # noqa: S608
            f" WHERE {where} GROUP BY 1 ORDER BY 1",
            params,
        )
        result: dict[str, dict[str, Any]] = {}
        for currency, count, *totals in rows:
            entry: dict[str, Any] = {"rows": int(count)}
            for name, total in zip(SUMMED, totals, strict=True):
                entry[name] = _checked(total)
            result[str(currency)] = entry
        return result

    def _commit(self, batch: BatchRef, replace: Replace) -> CommitOutcome:
        params: dict[str, Any] = {"ws": batch.workspace_id, "p": batch.provider_id, "seq": batch.batch_seq}
        new_days = self._query(
            "SELECT DISTINCT day_batch, charge_day FROM cost_rows WHERE workspace_id = {ws:String}"
            " AND batch_seq = {seq:UInt32} ORDER BY day_batch",
            params,
        )
        live = {
            day_batch: (day, batch_id)
            for day_batch, day, batch_id in self._live_day_batches(batch.workspace_id, batch.provider_id)
        }
        predicate = self._replaced_predicate(batch, replace, params)
        retired: list[int] = []
        replaced_sums: dict[str, dict[str, Any]] = {}
        superseded: list[str] = []
        if predicate is not None and live:
            params["live"] = sorted(live)
            scope = "workspace_id = {ws:String} AND day_batch IN {live:Array(UInt64)}"
            hits = self._query(
                f"SELECT day_batch, countIf({predicate}), count() FROM cost_rows WHERE {scope}"  # noqa: S608
                f" GROUP BY day_batch HAVING countIf({predicate}) > 0 ORDER BY day_batch",
                params,
            )
            retired = [int(r[0]) for r in hits]
            partial = [int(r[0]) for r in hits if int(r[1]) < int(r[2])]
            if retired:
                params["retired"] = retired
                where = (
                    f"workspace_id = {{ws:String}} AND day_batch IN {{retired:Array(UInt64)}} AND {predicate}"
                )
                replaced_sums = self._sums(where, params)
                superseded = sorted({live[d][1] for d in retired})
            if partial:
                self._copy_survivors(batch, partial, predicate, params)
        if not new_days and not retired:
            return CommitOutcome(0, {}, 0, {}, [])
        copied = self._query(
            "SELECT DISTINCT day_batch, charge_day FROM cost_rows WHERE workspace_id = {ws:String}"
            " AND batch_seq = {seq:UInt32} ORDER BY day_batch",
            params,
        )
        # Summed before the flip: a batch whose sums leave DECIMAL(38, 12) never becomes visible.
        sums = self._sums(
            "workspace_id = {ws:String} AND batch_seq = {seq:UInt32} AND row_id < {limit:UInt64}",
            {**params, "limit": self._copy_base(batch)},
        )
        commit_seq = self._next_commit_seq(batch.workspace_id, batch.provider_id)
        block = [
            (
                batch.workspace_id,
                batch.provider_id,
                day,
                int(day_batch),
                batch.batch_id,
                batch.batch_id,
                commit_seq,
                0,
            )
            for day_batch, day in copied
        ] + [
            (batch.workspace_id, batch.provider_id, live[d][0], d, live[d][1], batch.batch_id, commit_seq, 1)
            for d in retired
        ]
        self._flip(block, token=f"commit:{batch.batch_id}")
        return CommitOutcome(
            rows=sum(int(e["rows"]) for e in sums.values()),
            sums=sums,
            replaced_rows=sum(int(e["rows"]) for e in replaced_sums.values()),
            replaced_sums=replaced_sums,
            superseded_batches=superseded,
        )

    def _copy_survivors(
        self, batch: BatchRef, day_batches: list[int], predicate: str, params: dict[str, Any]
    ) -> None:
        """Copy the rows a partly replaced day-batch keeps into the new batch, so visibility stays whole-day.

        Deduplicated per source day-batch, so a commit retried after a crash copies nothing twice.
        """
        columns = [
            str(r[0])
            for r in self._query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'cost_rows'"
                " AND default_kind != 'MATERIALIZED' ORDER BY position"
            )
        ]
        derived = {
            "batch_seq": "{seq:UInt32}",
            "day_batch": f"bitOr(bitShiftLeft(toUInt64({{seq:UInt32}}), {DAY_BITS}),"
            " toUInt64(dateDiff('day', toDate('1970-01-01'), charge_day)))",
            "row_id": "{base:UInt64} + {offset:UInt64} + rowNumberInAllBlocks()",
        }
        select = ", ".join(derived.get(name, f'"{name}"') for name in columns)
        names = ", ".join(f'"{name}"' for name in columns)
        offset = 0
        for day_batch in day_batches:
            count = int(
                self._query(
                    f"SELECT count() FROM cost_rows WHERE workspace_id = {{ws:String}}"  # noqa: S608
                    f" AND day_batch = {{db:UInt64}} AND NOT ({predicate})",
                    {**params, "db": day_batch},
                )[0][0]
            )
            with self._client_lock:
                self._client.command(
                    f"INSERT INTO cost_rows ({names}) SELECT {select} FROM (SELECT * FROM cost_rows"  # noqa: S608
                    f" WHERE workspace_id = {{ws:String}} AND day_batch = {{db:UInt64}} AND NOT ({predicate})"
                    " ORDER BY row_id)",
                    parameters={**params, "db": day_batch, "base": self._copy_base(batch), "offset": offset},
                    settings={
                        **INSERT_SETTINGS,
                        "insert_deduplication_token": f"{batch.batch_id}:copy:{day_batch}",
                    },
                )
            offset += count

    def _flip(self, block: list[tuple[Any, ...]], *, token: str) -> None:
        """Insert visibility rows as one block: the atomic step of a commit or revert."""
        with self._client_lock:
            self._client.insert(
                "live_day_batches",
                block,
                column_names=[
                    "workspace_id",
                    "provider_id",
                    "charge_day",
                    "day_batch",
                    "batch_id",
                    "changed_by",
                    "commit_seq",
                    "is_deleted",
                ],
                settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
            )

    # --------------------------------------------------------------------------------------------- revert

    def revert(self, batch: BatchRef) -> RevertOutcome:
        """Undo a batch's commit in one visibility block: its day-batches retired, the ones it retired back.

        RevertRefused when a later commit changed or added data on those days (it would be double counted).
        """
        with self._provider_lock(batch.provider_id):
            params: dict[str, Any] = {"ws": batch.workspace_id, "p": batch.provider_id, "b": batch.batch_id}
            written = self._query(
                "SELECT day_batch, charge_day, batch_id, is_deleted, commit_seq FROM live_day_batches"
                " WHERE workspace_id = {ws:String} AND provider_id = {p:String} AND changed_by = {b:String}",
                params,
            )
            if not written:
                raise RevertRefused(f"batch {batch.batch_id} has no commit to revert")
            commit_seq = int(written[0][4])
            params["c"] = commit_seq
            later = self._query(
                "SELECT count() FROM live_day_batches WHERE workspace_id = {ws:String}"
                " AND provider_id = {p:String} AND commit_seq > {c:UInt64}"
                " AND charge_day IN (SELECT charge_day FROM live_day_batches WHERE workspace_id = {ws:String}"
                " AND provider_id = {p:String} AND changed_by = {b:String})",
                params,
            )
            if int(later[0][0]):
                raise RevertRefused(
                    f"later data on the days of batch {batch.batch_id} would be double counted"
                )
            next_seq = self._next_commit_seq(batch.workspace_id, batch.provider_id)
            block = [
                (
                    batch.workspace_id,
                    batch.provider_id,
                    day,
                    int(db),
                    owner,
                    f"revert:{batch.batch_id}",
                    next_seq,
                    1 - int(deleted),
                )
                for db, day, owner, deleted, _ in written
            ]
            restored = [int(db) for db, _, _, deleted, _ in written if int(deleted)]
            retired = [int(db) for db, _, _, deleted, _ in written if not int(deleted)]
            self._flip(block, token=f"revert:{batch.batch_id}")
            counts = self._query(
                "SELECT countIf(day_batch IN {r:Array(UInt64)}), countIf(day_batch IN {t:Array(UInt64)})"
                " FROM cost_rows WHERE workspace_id = {ws:String}",
                {"ws": batch.workspace_id, "r": restored, "t": retired},
            )
            owners = sorted({str(owner) for db, _, owner, deleted, _ in written if int(deleted)})
            return RevertOutcome(int(counts[0][0]), int(counts[0][1]), owners)

    # ---------------------------------------------------------------------------------------------- reads

    def live_sums(self, workspace_id: str) -> dict[str, dict[str, Any]]:
        """Rows and exact sums per currency over a workspace's live rows."""
        return self._sums(f"workspace_id = {{ws:String}} AND {LIVE}", {"ws": workspace_id})

    def read_page(
        self, workspace_id: str, columns: Sequence[str], *, after: int = 0, limit: int = 1000
    ) -> Page:
        """Live rows after a row_id, in row_id order (keyset: no OFFSET however deep the page)."""
        known = {
            str(r[0])
            for r in self._query(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'cost_rows'"
            )
        }
        unknown = [name for name in columns if name not in known]
        if unknown:
            raise ValueError(f"not stored columns: {unknown}")
        select = ", ".join(f'"{name}"' for name in columns)
        rows = self._query(
            f"SELECT row_id, {select} FROM cost_rows WHERE workspace_id = {{ws:String}} AND {LIVE}"  # noqa: S608
            " AND row_id > {after:UInt64} ORDER BY row_id LIMIT {n:UInt32}",
            {"ws": workspace_id, "after": after, "n": limit + 1},
        )
        more = len(rows) > limit
        rows = rows[:limit]
        records = [dict(zip(columns, row[1:], strict=True)) for row in rows]
        return Page(records, int(rows[-1][0]) if more and rows else None)

    def daily_totals(self, workspace_id: str, dimension: str) -> list[tuple[date, str, str, str]]:
        """(day, currency, dimension value, exact BilledCost) over live rows: the explorer's common shape."""
        if dimension not in GROUPABLE:
            raise ValueError(f"cannot group by {dimension!r}")
        rows = self._query(
            f"SELECT charge_day, ifNull(\"BillingCurrency\", ''), ifNull(\"{dimension}\", ''),"  # noqa: S608
            f' sum(toDecimal256("BilledCost", 12)) FROM cost_rows'
            f" WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            {"ws": workspace_id},
        )
        return [(r[0], str(r[1]), str(r[2]), _checked(r[3])) for r in rows]

    def tag_totals(self, workspace_id: str, tag: str) -> list[tuple[str, str | None, str]]:
        """(currency, the tag's value as its JSON literal or None, exact BilledCost) over live rows."""
        value = "if(mapContains(tags_kv, {tag:String}), tags_kv[{tag:String}], NULL)"
        rows = self._query(
            f'SELECT ifNull("BillingCurrency", \'\'), {value}, sum(toDecimal256("BilledCost", 12))'  # noqa: S608
            f" FROM cost_rows WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2 ORDER BY 1, 2",
            {"ws": workspace_id, "tag": tag},
        )
        return [(str(r[0]), None if r[1] is None else str(r[1]), _checked(r[2])) for r in rows]

    def live_totals(self, workspace_id: str, columns: Sequence[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Rows and exact sums of `columns` per (provider, currency) over a workspace's live rows."""
        unknown = [name for name in columns if name not in self.stored_columns()]
        if unknown:
            raise ValueError(f"not stored columns: {unknown}")
        select = "".join(f', sum(toDecimal256("{c}", 12))' for c in columns)
        rows = self._query(
            f"SELECT provider_id, ifNull(\"BillingCurrency\", ''), count(){select} FROM cost_rows"  # noqa: S608
            f" WHERE workspace_id = {{ws:String}} AND {LIVE} GROUP BY 1, 2 ORDER BY 1, 2",
            {"ws": workspace_id},
        )
        result: dict[tuple[str, str], dict[str, Any]] = {}
        for provider, currency, count, *totals in rows:
            entry: dict[str, Any] = {"rows": int(count)}
            for name, total in zip(columns, totals, strict=True):
                entry[name] = _checked(total)
            result[(str(provider), str(currency))] = entry
        return result

    def workspaces(self) -> list[str]:
        """Workspaces with a visibility row (live or retired)."""
        return [
            str(r[0]) for r in self._query("SELECT DISTINCT workspace_id FROM live_day_batches ORDER BY 1")
        ]

    def stored_columns(self) -> list[str]:
        """The FOCUS columns a staged part may carry (cost_rows without the columns stage() derives)."""
        rows = self._query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'cost_rows'"
            " AND default_kind != 'MATERIALIZED' ORDER BY position"
        )
        return [str(r[0]) for r in rows if str(r[0]) not in DERIVED]

    def batch_seqs(self) -> dict[str, int]:
        """The batch_seq of every batch with rows here, staged or live."""
        rows = self._query("SELECT batch_id, min(batch_seq) FROM cost_rows GROUP BY batch_id")
        return {str(r[0]): int(r[1]) for r in rows}

    def committed_batches(self) -> set[str]:
        """Batches whose commit (its visibility block) is written, whether or not a revert followed."""
        rows = self._query("SELECT DISTINCT changed_by FROM live_day_batches")
        return {str(r[0]) for r in rows}

    def close(self) -> None:
        with self._client_lock:
            self._client.close()
