"""The ClickHouse warehouse prototype (chDB, the engine embedded) keeps focusbase's batch semantics.

Each operation is checked against a small model of what the DuckDB warehouse does (rows superseded by a
replace, restored by a revert), with exact Decimal sums per currency.
"""

from __future__ import annotations

import itertools
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from focusbase.config import Settings
from focusbase.focus import Dataset
from focusbase.storage import open_catalog
from focusbase.storage.catalog import Catalog
from focusbase.storage.cost_rows import CUSTOM_COLUMN, Replace
from focusbase.storage.providers import ProviderDeleted

clickhouse_connect = pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.clickhouse import ClickHouseWarehouse  # noqa: E402 - needs the optional clickhouse-connect
from focusbase.storage.clickhouse_replicas import ReplicaLagging  # noqa: E402
from focusbase.storage.clickhouse_types import (  # noqa: E402
    BatchRef,
    RevertRefused,
    WarehouseValueOutOfRange,
)

MONEY = pa.decimal128(38, 12)
TIME = pa.timestamp("us", tz="UTC")
WS = "ws_default"


@pytest.fixture
def database(chdb_path: Path) -> str:
    admin = clickhouse_connect.get_client(interface="chdb", path=str(chdb_path))
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin.command(f"CREATE DATABASE {name}")
    return name


def connect(chdb_path: Path, database: str) -> Any:
    return clickhouse_connect.get_client(interface="chdb", path=str(chdb_path), database=database)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = open_catalog(Settings(data_dir=tmp_path))
    yield opened
    opened.close()


@pytest.fixture
def warehouse(chdb_path: Path, database: str, catalog: Catalog) -> ClickHouseWarehouse:
    return ClickHouseWarehouse(connect(chdb_path, database), catalog)


@dataclass(frozen=True)
class Row:
    start: datetime
    cost: Decimal
    currency: str = "USD"
    service: str = "Compute"
    tags: str = '{"team": "a", "n": 1}'
    region: str | None = None  # RegionName
    account: str = "acc-1"  # BillingAccountId
    charge_class: str | None = None  # ChargeClass
    unit: str = "Hours"  # PricingUnit

    @property
    def day(self) -> date:
        return self.start.date()


def table(rows: list[Row]) -> pa.Table:
    return pa.table(
        {
            "ChargePeriodStart": pa.array([r.start for r in rows], TIME),
            "ChargePeriodEnd": pa.array([r.start + timedelta(hours=1) for r in rows], TIME),
            "BillingPeriodStart": pa.array([r.start.replace(day=1, hour=0) for r in rows], TIME),
            "BilledCost": pa.array([r.cost for r in rows], MONEY),
            "EffectiveCost": pa.array([r.cost for r in rows], MONEY),
            "BillingCurrency": pa.array([r.currency for r in rows], pa.string()),
            "ServiceName": pa.array([r.service for r in rows], pa.string()),
            "Tags": pa.array([r.tags for r in rows], pa.string()),
            "RegionName": pa.array([r.region for r in rows], pa.string()),
            "BillingAccountId": pa.array([r.account for r in rows], pa.string()),
            "ChargeClass": pa.array([r.charge_class for r in rows], pa.string()),
            "PricingUnit": pa.array([r.unit for r in rows], pa.string()),
        }
    )


# Rollup dimensions the tests vary, and the Row field that holds each (BillingPeriodStart: from `start`).
DIMENSIONS = {
    "ServiceName": "service",
    "RegionName": "region",
    "BillingAccountId": "account",
    "ChargeClass": "charge_class",
    "PricingUnit": "unit",
}


def at(day: int, hour: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Model:
    """What the DuckDB warehouse keeps live: rows by (batch, number), superseded by a later batch."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Row] = {}
        self.superseded: dict[tuple[str, int], str] = {}
        self.deleted: set[str] = set()  # tombstoned providers: none of their rows is live
        self.order: dict[str, int] = {}  # commit order of batches (DuckDB's row_seq order)
        self.replaced: dict[str, int] = {}  # rows each batch's commit superseded (DuckDB's expected count)
        self.seq = itertools.count(1)

    def revert_allowed(self, batch: str) -> bool:
        """DuckDB's revert_check: refused when own rows were superseded, or when rows the batch replaced
        would come back on a day where a batch committed later has live rows."""
        if any((batch, n) in self.superseded for b, n in self.rows if b == batch):
            return False
        kept = [k for k, by in self.superseded.items() if by == batch]
        if len(kept) != self.replaced.get(batch, 0):
            return False  # revert_unavailable: some of the rows it replaced were pruned
        days = {self.rows[k].day for k in kept}
        provider = batch.rsplit("_bat", 1)[0]
        return not any(
            k[0] != batch and self.order[k[0]] > self.order[batch] and row.day in days
            for k, row in self.live(provider).items()
        )

    def visible(self) -> dict[tuple[str, int], Row]:
        return {
            k: r
            for k, r in self.rows.items()
            if k not in self.superseded and not any(k[0].startswith(p + "_") for p in self.deleted)
        }

    def daily(self, dimension: str = "ServiceName") -> list[tuple[date, str, str, str]]:
        """DuckDB's explorer answer: BilledCost per day, currency and a dimension over live rows."""
        out: dict[tuple[date, str, str], Decimal] = {}
        for row in self.visible().values():
            key = (row.day, row.currency, getattr(row, DIMENSIONS[dimension]) or "")
            out[key] = out.get(key, Decimal(0)) + row.cost
        return [(*k, _text(v)) for k, v in sorted(out.items())]

    def live(self, provider: str) -> dict[tuple[str, int], Row]:
        return {
            k: r for k, r in self.rows.items() if k not in self.superseded and k[0].startswith(provider + "_")
        }

    def commit(self, provider: str, batch: str, rows: list[Row], replace: Replace) -> None:
        live = self.live(provider)
        days = {r.day for r in rows}
        months = {r.start.replace(day=1, hour=0) for r in rows}
        for key, row in live.items():
            hit = {
                "append": False,
                "replace_all": True,
                "replace_days": row.day in days,
                "replace_range": replace.start is not None
                and replace.end is not None
                and replace.start <= row.start < replace.end,
                "replace_months": row.start.replace(day=1, hour=0) in months,
            }[replace.kind]
            if hit:
                self.superseded[key] = batch
                self.replaced[batch] = self.replaced.get(batch, 0) + 1
        for number, row in enumerate(rows):
            self.rows[(batch, number)] = row
        self.order[batch] = len(self.order)

    def prune(self, provider: str, keep: int) -> None:
        """DuckDB's cost_rows.prune: delete superseded (batch, day) versions past the newest `keep`."""
        versions: dict[date, set[str]] = {}
        for key in self.superseded:
            if key[0].startswith(provider + "_"):
                versions.setdefault(self.rows[key].day, set()).add(key[0])
        doomed = {
            (day, b)
            for day, batches in versions.items()
            for b in sorted(batches, key=self.order.__getitem__, reverse=True)[keep:]
        }
        for key in [k for k in self.superseded if (self.rows[k].day, k[0]) in doomed]:
            del self.superseded[key]
            del self.rows[key]

    def revert(self, batch: str) -> None:
        for key in [k for k, by in self.superseded.items() if by == batch]:
            del self.superseded[key]
        for key in [k for k in self.rows if k[0] == batch]:
            self.superseded[key] = "revert:" + batch

    def sums(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in self.visible().values():
            entry = out.setdefault(row.currency, {"rows": 0, "total": Decimal(0)})
            entry["rows"] += 1
            entry["total"] += row.cost
        return {
            c: {"rows": e["rows"], "BilledCost": _text(e["total"]), "EffectiveCost": _text(e["total"])}
            for c, e in sorted(out.items())
        }


def _text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class Harness:
    """Drives the warehouse and the model with the same operations."""

    def __init__(
        self, warehouse: ClickHouseWarehouse, provider: str = "prv_a", model: Model | None = None
    ) -> None:
        self.warehouse = warehouse
        self.model = model or Model()
        self.provider = provider
        self.refs: dict[str, BatchRef] = {}

    def push(self, rows: list[Row], replace: Replace, parts: int = 1) -> tuple[str, Any]:
        seq = next(self.model.seq)
        batch_id = f"{self.provider}_bat{seq}"
        ref = BatchRef(WS, self.provider, batch_id, seq)
        self.refs[batch_id] = ref
        size = max(1, -(-len(rows) // parts))
        for part_no, first in enumerate(range(0, len(rows), size)):
            self.warehouse.stage(ref, part_no, first, table(rows[first : first + size]))
        outcome = self.warehouse.commit(ref, replace)
        self.model.commit(self.provider, batch_id, rows, replace)
        return batch_id, outcome

    def revert(self, batch_id: str) -> None:
        self.warehouse.revert(self.refs[batch_id])
        self.model.revert(batch_id)

    def check(self) -> None:
        assert self.warehouse.live_sums(WS) == self.model.sums()


def test_staged_rows_are_invisible_until_the_commit_and_sums_are_exact(
    warehouse: ClickHouseWarehouse,
) -> None:
    ref = BatchRef(WS, "prv_a", "bat_1", 1)
    warehouse.stage(ref, 0, 0, table([Row(at(1), Decimal("0.1")), Row(at(1, 5), Decimal("0.2"))]))
    assert warehouse.staged_count(ref) == 2
    assert warehouse.live_sums(WS) == {}
    outcome = warehouse.commit(ref, Replace("append"))
    assert outcome.rows == 2 and outcome.replaced_rows == 0
    assert outcome.sums == {"USD": {"rows": 2, "BilledCost": "0.3", "EffectiveCost": "0.3"}}
    assert warehouse.live_sums(WS) == outcome.sums


def test_a_part_staged_twice_is_stored_once(warehouse: ClickHouseWarehouse) -> None:
    ref = BatchRef(WS, "prv_a", "bat_1", 1)
    part = table([Row(at(1), Decimal("1.5")), Row(at(2), Decimal("2.5"))])
    warehouse.stage(ref, 0, 0, part)
    warehouse.stage(ref, 0, 0, part)  # a retry after an unknown outcome
    assert warehouse.staged_count(ref) == 2
    assert warehouse.commit(ref, Replace("append")).sums["USD"]["BilledCost"] == "4"


def test_replace_days_replaces_whole_days_and_reports_what_it_replaced(
    warehouse: ClickHouseWarehouse,
) -> None:
    h = Harness(warehouse)
    first, _ = h.push(
        [Row(at(d, hr), Decimal("1.25")) for d in (1, 2, 3) for hr in (0, 12)], Replace("append")
    )
    _, outcome = h.push([Row(at(2, 6), Decimal("10"))], Replace("replace_days"))
    assert outcome.replaced_rows == 2 and outcome.replaced_sums["USD"]["BilledCost"] == "2.5"
    assert outcome.superseded_batches == [first]
    h.check()
    assert warehouse.live_sums(WS)["USD"] == {"rows": 5, "BilledCost": "15", "EffectiveCost": "15"}


def test_replace_range_keeps_the_rows_of_partly_covered_days(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(d, hr), Decimal("1")) for d in (1, 2, 3) for hr in (0, 6, 12, 18)], Replace("append"))
    window = Replace("replace_range", at(1, 12), at(3, 6))  # half of day 1, all of day 2, a quarter of day 3
    _, outcome = h.push([Row(at(2, 1), Decimal("7"))], window)
    assert outcome.replaced_rows == 2 + 4 + 1 and outcome.rows == 1
    h.check()
    # The survivors of days 1 and 3 are served once each, with their own values.
    page = warehouse.read_page(WS, ["ChargePeriodStart", "BilledCost"], limit=100)
    starts = sorted(r["ChargePeriodStart"].astimezone(UTC) for r in page.rows)
    assert starts == sorted([at(1, 0), at(1, 6), at(2, 1), at(3, 6), at(3, 12), at(3, 18)])


def test_replace_months_and_replace_all(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(d, 0, m), Decimal("2")) for m in (1, 2) for d in (10, 20)], Replace("append"))
    h.push([Row(at(5, 0, 2), Decimal("3"))], Replace("replace_months"))
    h.check()
    h.push([Row(at(9, 0, 3), Decimal("4"))], Replace("replace_all"))
    h.check()
    assert warehouse.live_sums(WS)["USD"]["rows"] == 1


def test_revert_restores_what_was_replaced_and_refuses_over_later_data(
    warehouse: ClickHouseWarehouse, chdb_path: Path, database: str
) -> None:
    h = Harness(warehouse)
    h.push([Row(at(1), Decimal("1")), Row(at(2), Decimal("2"))], Replace("append"))
    second, _ = h.push([Row(at(2), Decimal("20"))], Replace("replace_days"))
    # Merges keep only the newest version of each day-batch; revert must not need the older ones.
    connect(chdb_path, database).command("OPTIMIZE TABLE live_day_batches FINAL")
    h.revert(second)
    h.check()
    assert warehouse.live_sums(WS)["USD"]["BilledCost"] == "3"
    with pytest.raises(RevertRefused):
        h.revert(second)  # already reverted
    h.push([Row(at(3), Decimal("4"))], Replace("append"))
    third, _ = h.push([Row(at(3), Decimal("5"))], Replace("replace_days"))
    fourth, _ = h.push([Row(at(3, 4), Decimal("6"))], Replace("append"))
    with pytest.raises(RevertRefused, match="later batches"):
        h.revert(third)  # the row it replaced would come back beside a later batch's row of that day
    h.push([Row(at(3), Decimal("7"))], Replace("replace_days"))
    connect(chdb_path, database).command("OPTIMIZE TABLE live_day_batches FINAL")
    with pytest.raises(RevertRefused, match="replaced by later"):
        h.revert(fourth)  # its rows were replaced since
    h.check()
    # A batch that replaced nothing comes out whatever came later, as in DuckDB.
    fifth, _ = h.push([Row(at(5), Decimal("1"))], Replace("append"))
    h.push([Row(at(5, 1), Decimal("2"))], Replace("append"))
    h.revert(fifth)
    h.check()


def test_currencies_are_never_summed_together_and_overflow_is_refused(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(1), Decimal("0.000000000001"), "EUR"), Row(at(1), Decimal("5"), "USD")], Replace("append"))
    assert set(warehouse.live_sums(WS)) == {"EUR", "USD"}
    assert warehouse.live_sums(WS)["EUR"]["BilledCost"] == "0.000000000001"
    big = Decimal("90000000000000000000000000")  # 9e25 fits DECIMAL(38, 12); three of them do not
    before = warehouse.live_sums(WS)
    with pytest.raises(WarehouseValueOutOfRange):
        h.push([Row(at(2, hour), big, "JPY") for hour in range(3)], Replace("append"))
    assert warehouse.live_sums(WS) == before  # the refused batch never became visible
    # Two batches that each fit, whose total does not: the read refuses instead of answering a wrong sum.
    part = Decimal("40000000000000000000000000")
    h.push([Row(at(3), part, "JPY")], Replace("append"))
    h.push([Row(at(4), part, "JPY"), Row(at(4, 1), part, "JPY")], Replace("append"))
    with pytest.raises(WarehouseValueOutOfRange):
        warehouse.live_sums(WS)


def test_keyset_pages_serve_every_live_row_once_in_order(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(1 + i % 5, i % 24), Decimal(i)) for i in range(57)], Replace("append"), parts=4)
    h.push([Row(at(3, 1), Decimal("1000"))], Replace("replace_days"))
    seen: list[Decimal] = []
    after = 0
    while True:
        page = warehouse.read_page(WS, ["BilledCost"], after=after, limit=10)
        seen += [r["BilledCost"] for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    expected = [r.cost for k, r in sorted(h.model.rows.items()) if k not in h.model.superseded]
    assert sorted(seen) == sorted(expected) and len(seen) == len(expected)
    totals = warehouse.daily_totals(WS, "ServiceName")
    assert sum(Decimal(t[3]) for t in totals) == sum(expected)


@contextmanager
def usd_totals_read_meanwhile(warehouse: ClickHouseWarehouse) -> Iterator[set[str]]:
    """Every USD BilledCost total a reader saw, reading in a loop while the block runs."""
    observed: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            observed.add(warehouse.live_sums(WS)["USD"]["BilledCost"])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield observed
    finally:
        stop.set()
        reader.join(30)


def test_a_reader_sees_all_of_the_old_rows_or_all_of_the_new(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(d, hr), Decimal("1")) for d in range(1, 11) for hr in (0, 12)], Replace("append"))
    old = warehouse.live_sums(WS)["USD"]["BilledCost"]
    with usd_totals_read_meanwhile(warehouse) as observed:
        # Ten days replaced by a batch staged in five parts, with a partly covered day copied in.
        rows = [Row(at(d, 3), Decimal("2")) for d in range(1, 11)]
        h.push(rows, Replace("replace_range", at(1, 6), at(11)), parts=5)
    new = warehouse.live_sums(WS)["USD"]["BilledCost"]
    assert old == "20" and new == str(1 + 10 * 2)
    assert observed <= {old, new}


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_histories_match_the_model(warehouse: ClickHouseWarehouse, seed: int) -> None:
    rng = random.Random(seed)
    h = Harness(warehouse, provider=f"prv_{seed}")
    committed: list[str] = []
    for _ in range(12):
        kind = rng.choice(
            ["append", "replace_days", "replace_range", "replace_months", "replace_all", "revert", "prune"]
        )
        if kind == "prune":
            before = (h.warehouse.live_sums(WS), h.warehouse.rollup_daily_totals(WS, "ServiceName"))
            keep = rng.randint(0, 2)
            h.warehouse.prune(WS, h.provider, keep)
            h.model.prune(h.provider, keep)
            assert (h.warehouse.live_sums(WS), h.warehouse.rollup_daily_totals(WS, "ServiceName")) == before
            assert h.warehouse.prunable(WS, h.provider, keep) == []
        elif kind == "revert" and committed:
            batch = rng.choice(committed)
            allowed = h.model.revert_allowed(batch)
            try:
                h.warehouse.revert(h.refs[batch])
            except RevertRefused:
                # Never looser than DuckDB; stricter only where a replace_range copied the batch's rows.
                continue
            assert allowed, f"DuckDB would refuse to revert {batch}"
            h.model.revert(batch)
            committed.remove(batch)
        else:
            rows = [
                Row(
                    at(rng.randint(1, 4), rng.randint(0, 23), rng.choice([1, 2])),
                    Decimal(rng.randint(1, 10**6)) / 1000,
                )
                for _ in range(rng.randint(1, 12))
            ]
            if kind == "replace_range":
                start = at(rng.randint(1, 4), rng.randint(0, 23), 1)
                replace = Replace(kind, start, start + timedelta(hours=rng.randint(1, 72)))
            else:
                replace = Replace("append" if kind == "revert" else kind)  # type: ignore[arg-type]
            batch, _ = h.push(rows, replace, parts=rng.randint(1, 3))
            committed.append(batch)
        h.check()


def test_tags_are_served_verbatim_and_grouped_by_their_json_values(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    tagged = [
        Row(at(1), Decimal("1"), tags='{"env":"prod", "team": "a"}'),
        Row(at(1, 1), Decimal("2"), tags='{"env": true}'),
        Row(at(1, 2), Decimal("4"), tags='{"team": "b"}'),
        Row(at(1, 3), Decimal("8"), tags="{}"),
    ]
    h.push(tagged, Replace("append"))
    page = warehouse.read_page(WS, ["Tags"], limit=10)
    assert [r["Tags"] for r in page.rows] == [r.tags for r in tagged]  # byte for byte, key order kept
    assert warehouse.tag_totals(WS, "env") == [
        ("USD", '"prod"', "1"),
        ("USD", "true", "2"),
        ("USD", None, "12"),
    ]
    # A replace copies kept rows, and their tags, into the new batch.
    h.push([Row(at(1, 1, 1), Decimal("16"))], Replace("replace_range", at(1, 1), at(1, 2)))
    assert warehouse.tag_totals(WS, "team") == [("USD", '"a"', "17"), ("USD", '"b"', "4"), ("USD", None, "8")]


# ------------------------------------------------------------------------------------------ custom columns


def custom_table(rows: list[Row], custom: dict[str, list[str | None]]) -> pa.Table:
    """Rows with their x_ columns as the ingest layer hands them over: one struct column (CUSTOM_COLUMN)."""
    struct = pa.StructArray.from_arrays(
        [pa.array(values, pa.string()) for values in custom.values()], names=list(custom)
    )
    return table(rows).append_column(CUSTOM_COLUMN, struct)


def test_custom_columns_are_stored_as_duckdb_text_and_grouped_as_duckdb_groups_them(
    warehouse: ClickHouseWarehouse,
) -> None:
    first = BatchRef(WS, "prv_a", "prv_a_bat1", 1)
    rows = [Row(at(1, hour), Decimal(10**hour) / 1000) for hour in range(5)]
    team = ["a", None, 'q"z', "a", "\u00e9"]
    warehouse.stage(first, 0, 0, custom_table(rows, {"x_team": team, "x_env": ["p", "p", None, "d", "p"]}))
    warehouse.commit(first, Replace("append"))
    second = BatchRef(WS, "prv_a", "prv_a_bat2", 2)
    others = [Row(at(2, 1), Decimal("0.5")), Row(at(2, 2), Decimal("7"))]
    warehouse.stage(second, 0, 0, custom_table(others, {"x_env": ["p", None]}))  # no x_team at all
    warehouse.commit(second, Replace("append"))
    third = BatchRef(WS, "prv_a", "prv_a_bat3", 3)
    warehouse.stage(third, 0, 0, table([Row(at(3), Decimal("100"))]))  # no custom columns
    warehouse.commit(third, Replace("append"))

    # The model is DuckDB itself: what it stores for the same structs, and how its explorer groups them.
    duck = duckdb.connect()
    stored: list[str | None] = []
    costs: list[Decimal] = []
    for batch_rows, custom in (
        (rows, {"x_team": team, "x_env": ["p", "p", None, "d", "p"]}),
        (others, {"x_env": ["p", None]}),
    ):
        duck.register("source", custom_table(batch_rows, custom))
        stored += [r[0] for r in duck.sql("SELECT CAST(to_json(__x) AS VARCHAR) FROM source").fetchall()]
        duck.unregister("source")
        costs += [r.cost for r in batch_rows]
    stored.append(None)
    costs.append(Decimal("100"))
    page = warehouse.read_page(WS, ["x_columns"], limit=100)
    assert [r["x_columns"] for r in page.rows] == stored  # served as DuckDB serves it
    duck.execute("CREATE TABLE t (x JSON, c DECIMAL(38, 12))")
    duck.executemany("INSERT INTO t VALUES (?, ?)", list(zip(stored, costs, strict=True)))
    for column in ("x_team", "x_env", "x_none"):
        expected = [
            ("USD", value, _text(Decimal(total)))
            for value, total in duck.execute(
                "SELECT json_extract_string(x, ?), CAST(sum(c) AS VARCHAR) FROM t"
                " GROUP BY 1 ORDER BY 1 NULLS LAST",
                [f'$."{column}"'],
            ).fetchall()
        ]
        assert warehouse.custom_totals(WS, column) == expected
    # A replace copies the kept rows of a partly replaced day, custom columns with them.
    fourth = BatchRef(WS, "prv_a", "prv_a_bat4", 4)
    warehouse.stage(fourth, 0, 0, table([Row(at(1, 1), Decimal("1"))]))
    warehouse.commit(fourth, Replace("replace_range", at(1, 1), at(1, 2)))
    assert warehouse.custom_totals(WS, "x_team")[0] == ("USD", "a", "1.001")  # hours 0 and 3 kept
    with pytest.raises(ValueError, match="custom"):
        warehouse.custom_totals(WS, "ServiceName")


# ------------------------------------------------------------------------------- contract commitments


def commitments(costs: list[str], currency: str = "USD") -> pa.Table:
    return pa.table(
        {
            "ContractId": pa.array([f"c-{i}" for i in range(len(costs))], pa.string()),
            "ContractCommitmentId": pa.array([f"cc-{i}" for i in range(len(costs))], pa.string()),
            "ContractCommitmentCategory": pa.array(["Spend"] * len(costs), pa.string()),
            "ContractCommitmentCost": pa.array([Decimal(c) for c in costs], MONEY),
            "ContractCommitmentPeriodStart": pa.array([at(1)] * len(costs), TIME),
            "BillingCurrency": pa.array([currency] * len(costs), pa.string()),
        }
    )


def test_contract_commitments_replace_and_revert_like_duckdb(warehouse: ClickHouseWarehouse) -> None:
    h = Harness(warehouse)
    h.push([Row(at(1), Decimal("3"))], Replace("append"))  # Cost and Usage rows of the same provider
    cost_before = warehouse.live_sums(WS)
    seqs = itertools.count(100)

    def commit(costs: list[str], kind: str, parts: int = 1) -> tuple[BatchRef, Any]:
        seq = next(seqs)
        ref = BatchRef(WS, "prv_a", f"prv_a_cc{seq}", seq, Dataset.CONTRACT_COMMITMENT)
        rows = commitments(costs)
        size = max(1, -(-rows.num_rows // parts))
        for part_no, first in enumerate(range(0, rows.num_rows, size)):
            warehouse.stage(ref, part_no, first, rows.slice(first, size))
        assert warehouse.staged_count(ref) == len(costs)
        return ref, warehouse.commit(ref, Replace(kind))  # type: ignore[arg-type]

    first, outcome = commit(["0.1", "0.2", "1000000"], "replace_all", parts=2)
    assert outcome.sums == {"USD": {"rows": 3, "ContractCommitmentCost": "1000000.3"}}
    assert outcome.replaced_rows == 0
    second, outcome = commit(["5"], "append")
    assert (
        warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)["USD"]["ContractCommitmentCost"] == "1000005.3"
    )
    third, outcome = commit(["7", "8"], "replace_all")  # replaces both earlier batches, as in DuckDB
    assert (
        outcome.replaced_rows == 4 and outcome.replaced_sums["USD"]["ContractCommitmentCost"] == "1000005.3"
    )
    assert outcome.superseded_batches == [first.batch_id, second.batch_id]
    assert warehouse.live_sums(WS) == cost_before  # Cost and Usage rows are another dataset
    page = warehouse.read_page(
        WS, ["ContractCommitmentId", "ContractCommitmentCost"], dataset=Dataset.CONTRACT_COMMITMENT
    )
    assert [(r["ContractCommitmentId"], r["ContractCommitmentCost"]) for r in page.rows] == [
        ("cc-0", Decimal("7")),
        ("cc-1", Decimal("8")),
    ]
    reverted = warehouse.revert(third)
    assert (reverted.restored_rows, reverted.retired_rows) == (4, 2)
    assert reverted.restored_batches == [first.batch_id, second.batch_id]
    assert (
        warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)["USD"]["ContractCommitmentCost"] == "1000005.3"
    )
    with pytest.raises(RevertRefused, match="reverted already"):
        warehouse.revert(third)
    warehouse.revert(second)  # it replaced nothing: nothing would be counted twice
    assert (
        warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)["USD"]["ContractCommitmentCost"] == "1000000.3"
    )
    fourth, _ = commit(["1"], "replace_all")
    commit(["2"], "append")
    with pytest.raises(RevertRefused, match="later batches"):
        warehouse.revert(fourth)  # first would come back beside the later append
    # A Cost and Usage replace_all leaves commitments alone, and the other way round.
    h.push([Row(at(2), Decimal("4"))], Replace("replace_all"))
    assert warehouse.live_sums(WS)["USD"]["BilledCost"] == "4"
    assert warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)["USD"]["rows"] == 2
    with pytest.raises(ValueError, match="replace_all"):
        commit(["1"], "replace_days")


# ---------------------------------------------------------------------------------- provider deletion


def test_a_deleted_provider_disappears_at_once_and_never_commits_again(
    warehouse: ClickHouseWarehouse,
) -> None:
    model = Model()
    a = Harness(warehouse, "prv_a", model)
    b = Harness(warehouse, "prv_b", model)
    for day in range(1, 6):
        a.push([Row(at(day, hr), Decimal("1.5")) for hr in (0, 12)], Replace("replace_days"))
        b.push([Row(at(day), Decimal("0.25"))], Replace("append"))
    a.push([Row(at(2), Decimal("9"))], Replace("replace_days"))  # a superseded version of day 2
    cc = BatchRef(WS, "prv_a", "prv_a_cc", 90, Dataset.CONTRACT_COMMITMENT)
    warehouse.stage(cc, 0, 0, commitments(["12"]))
    warehouse.commit(cc, Replace("replace_all"))
    open_batch = BatchRef(WS, "prv_a", "prv_a_open", 91)
    warehouse.stage(open_batch, 0, 0, table([Row(at(9), Decimal("100"))]))  # staged, not committed
    with_a = warehouse.live_sums(WS)
    model.deleted.add("prv_a")
    without_a = model.sums()
    with usd_totals_read_meanwhile(warehouse) as observed:
        tombstone = warehouse.delete_provider(WS, "prv_a")
    assert observed <= {with_a["USD"]["BilledCost"], without_a["USD"]["BilledCost"]}
    assert warehouse.live_sums(WS) == without_a
    assert warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT) == {}
    assert warehouse.rollup_daily_totals(WS, "ServiceName") == model.daily()
    # Every version and the staged rows are counted, as DuckDB counts the rows its deletion removes.
    assert (tombstone.cost_rows, tombstone.contract_commitment_rows) == (5 * 2 + 1 + 1, 1)
    assert warehouse.delete_provider(WS, "prv_a") == tombstone  # a repeated deletion keeps the first
    with pytest.raises(ProviderDeleted):
        warehouse.commit(open_batch, Replace("append"))
    with pytest.raises(ProviderDeleted):
        warehouse.revert(a.refs["prv_a_bat11"])
    assert warehouse.live_sums(WS) == without_a
    assert warehouse.tombstone(WS, "prv_b") is None
    b.push([Row(at(6), Decimal("1"))], Replace("append"))  # the other provider carries on
    b.check()
    assert warehouse.purge_deleted() == 5 * 2 + 1 + 1 + 1
    b.check()
    assert warehouse.staged_count(open_batch) == 0
    assert warehouse.tombstone(WS, "prv_a") == tombstone


# ------------------------------------------------------------------------------------------------ rollup


def test_a_part_staged_twice_is_summed_once_in_the_rollup(warehouse: ClickHouseWarehouse) -> None:
    ref = BatchRef(WS, "prv_a", "bat_1", 1)
    part = table([Row(at(1), Decimal("1.5")), Row(at(1, 1), Decimal("2.5"), service="Storage")])
    warehouse.stage(ref, 0, 0, part)
    warehouse.stage(ref, 0, 0, part)  # a retry after an unknown outcome: the view must not sum it again
    assert warehouse.rollup_daily_totals(WS, "ServiceName") == []  # staged: not live
    warehouse.commit(ref, Replace("append"))
    assert warehouse.rollup_daily_totals(WS, "ServiceName") == [
        (date(2026, 1, 1), "USD", "Compute", "1.5"),
        (date(2026, 1, 1), "USD", "Storage", "2.5"),
    ]
    assert warehouse.rollup_daily_totals(WS, "ServiceName", "EffectiveCost") == warehouse.daily_totals(
        WS, "ServiceName"
    )
    with pytest.raises(ValueError, match="measure"):
        warehouse.rollup_daily_totals(WS, "ServiceName", "BilledCost; DROP TABLE cost_rows")
    with pytest.raises(ValueError, match="group"):
        warehouse.rollup_daily_totals(WS, "ResourceId")  # not a rollup dimension (DuckDB's neither)


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_the_rollup_equals_the_rows_after_every_step_of_random_histories(
    warehouse: ClickHouseWarehouse, chdb_path: Path, database: str, seed: int
) -> None:
    rng = random.Random(seed)
    admin = connect(chdb_path, database)
    model = Model()
    harnesses = {p: Harness(warehouse, p, model) for p in ("prv_a", "prv_b")}
    committed: list[tuple[str, str]] = []
    deleted: str | None = None
    for step in range(14):
        kind = rng.choice(
            ["append", "replace_days", "replace_range", "replace_months", "replace_all", "revert", "revert"]
            + ["prune"]
            + (["delete"] if deleted is None and step > 5 else [])
        )
        provider = rng.choice([p for p in harnesses if p != deleted])
        h = harnesses[provider]
        if kind == "prune":
            keep = rng.randint(0, 2)
            warehouse.prune(WS, provider, keep)
            model.prune(provider, keep)
        elif kind == "delete":
            warehouse.delete_provider(WS, provider)
            model.deleted.add(provider)
            deleted = provider
            with pytest.raises(ProviderDeleted):
                h.push([Row(at(1), Decimal(1))], Replace("append"))
        elif kind == "revert":
            choices = [(p, b) for p, b in committed if p != deleted]
            if not choices:
                continue
            provider, batch = rng.choice(choices)
            allowed = model.revert_allowed(batch)
            try:
                harnesses[provider].revert(batch)
            except RevertRefused:
                continue
            assert allowed
            committed.remove((provider, batch))
        else:
            rows = [
                Row(
                    at(rng.randint(1, 4), rng.randint(0, 23), rng.choice([1, 2])),
                    Decimal(rng.randint(-(10**6), 10**9)) / 10**6,
                    currency=rng.choice(["USD", "EUR"]),
                    service=rng.choice(["Compute", "Storage", "Network"]),
                    region=rng.choice([None, "US East", "EU West"]),
                    account=rng.choice(["acc-1", "acc-2"]),
                    charge_class=rng.choice([None, "Correction"]),
                    unit=rng.choice(["Hours", "GB"]),
                )
                for _ in range(rng.randint(1, 15))
            ]
            if kind == "replace_range":
                start = at(rng.randint(1, 4), rng.randint(0, 23), rng.choice([1, 2]))
                replace = Replace(kind, start, start + timedelta(hours=rng.randint(1, 60)))
            else:
                replace = Replace(kind)  # type: ignore[arg-type]
            batch, _ = h.push(rows, replace, parts=rng.randint(1, 3))
            committed.append((provider, batch))
        if rng.random() < 0.3:
            # Merges fold rollup rows and drop old visibility versions; no answer may change.
            admin.command("OPTIMIZE TABLE cost_rollup_daily FINAL")
            admin.command("OPTIMIZE TABLE live_day_batches FINAL")
        expected = model.daily()
        assert warehouse.daily_totals(WS, "ServiceName") == expected, f"rows, step {step} ({kind})"
        assert warehouse.rollup_daily_totals(WS, "ServiceName") == expected, f"rollup, step {step} ({kind})"
        assert warehouse.live_sums(WS) == model.sums()
        for dimension in DIMENSIONS:  # the dimensions of migration 0006 (DuckDB's rollup keeps them all)
            expected = model.daily(dimension)
            assert warehouse.daily_totals(WS, dimension) == expected, f"rows by {dimension}, step {step}"
            assert warehouse.rollup_daily_totals(WS, dimension) == expected, f"rollup by {dimension}, {step}"
        assert warehouse.rollup_daily_totals(WS, "BillingPeriodStart") == warehouse.daily_totals(
            WS, "BillingPeriodStart"
        )


# ------------------------------------------------------------------------------------------------- prune


def test_prune_keeps_the_newest_versions_per_day_and_a_revert_that_needs_pruned_rows_is_refused(
    warehouse: ClickHouseWarehouse,
) -> None:
    h = Harness(warehouse)
    h.push([Row(at(1), Decimal(1)), Row(at(2), Decimal(10))], Replace("append"))
    versions = [h.push([Row(at(1), Decimal(n))], Replace("replace_days"))[0] for n in (2, 3, 4)]
    live = (warehouse.live_sums(WS), warehouse.rollup_daily_totals(WS, "ServiceName"))
    stored = warehouse._query("SELECT count() FROM cost_rows")[0][0]
    # Day 1 has three superseded versions (the first batch's, bat2's, bat3's); day 2 none.
    assert warehouse.prune(WS, "prv_a", keep=5) == 0
    assert warehouse.prune(WS, "prv_a", keep=1) == 2  # the first batch's day 1 and bat2's
    assert warehouse.prune(WS, "prv_a", keep=1) == 0  # nothing left to prune: idempotent
    assert warehouse._query("SELECT count() FROM cost_rows")[0][0] == stored - 2
    assert (warehouse.live_sums(WS), warehouse.rollup_daily_totals(WS, "ServiceName")) == live
    assert warehouse._query("SELECT sum(row_count) FROM cost_rollup_daily")[0][0] == stored - 2
    h.model.prune("prv_a", 1)
    h.check()
    h.revert(versions[2])  # restores bat3's row: the newest superseded version was kept
    h.check()
    with pytest.raises(RevertRefused, match="no longer kept"):
        warehouse.revert(h.refs[versions[1]])  # it replaced bat2's day 1, pruned
    assert not h.model.revert_allowed(versions[1])
    h.check()
    with pytest.raises(ValueError, match="keep"):
        warehouse.prune(WS, "prv_a", keep=-1)


def test_prune_of_contract_commitments_keeps_the_newest_versions_per_provider(
    warehouse: ClickHouseWarehouse,
) -> None:
    refs = [BatchRef(WS, "prv_a", f"prv_a_bat{n}", n, Dataset.CONTRACT_COMMITMENT) for n in (1, 2, 3)]
    for ref, cost in zip(refs, ("1", "2", "3"), strict=True):
        warehouse.stage(ref, 0, 0, commitments([cost]))
        warehouse.commit(ref, Replace("replace_all"))
    live = warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)
    assert warehouse.prune(WS, "prv_a", 1, Dataset.CONTRACT_COMMITMENT) == 1
    assert warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT) == live
    warehouse.revert(refs[2])  # the second batch's rows were kept
    assert warehouse.live_sums(WS, Dataset.CONTRACT_COMMITMENT)["USD"]["ContractCommitmentCost"] == "2"
    with pytest.raises(RevertRefused, match="no longer kept"):
        warehouse.revert(refs[1])  # it replaced the first batch's rows, pruned


# ------------------------------------------------------------------------------------------------ replicas


class Recording:
    """A client passing everything to a real one, recording the table and settings of each write."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.real.query(*args, **kwargs)

    def command(self, sql: str, parameters: Any = None, settings: Any = None) -> Any:
        words = sql.split()
        if words[0] in ("INSERT", "DELETE"):
            self.writes.append((words[2], dict(settings or {})))
        return self.real.command(sql, parameters=parameters, settings=settings)

    def insert(self, table_name: str, data: Any, **kwargs: Any) -> Any:
        self.writes.append((table_name, dict(kwargs.get("settings") or {})))
        return self.real.insert(table_name, data, **kwargs)

    def insert_arrow(self, table_name: str, data: Any, **kwargs: Any) -> Any:
        self.writes.append((table_name, dict(kwargs.get("settings") or {})))
        return self.real.insert_arrow(table_name, data, **kwargs)

    def close(self) -> None:
        self.real.close()


class LaggingReplica:
    """The client of a replica that lacks `missing` rows of each batch for its first `behind_for` counts."""

    def __init__(self, real: Any, missing: int, behind_for: int | None = None) -> None:
        self.real, self.missing, self.behind_for = real, missing, behind_for
        self.counts = 0

    def query(self, sql: str, parameters: Any = None, **kwargs: Any) -> Any:
        result = self.real.query(sql, parameters=parameters, **kwargs)
        self.counts += 1
        if self.behind_for is not None and self.counts > self.behind_for:
            return result
        return SimpleNamespace(result_rows=[(max(0, int(result.result_rows[0][0]) - self.missing),)])


class Unreachable:
    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("connection refused")


def replicated(
    chdb_path: Path, database: str, catalog: Catalog, second: Any, wait: float = 0.2
) -> tuple[ClickHouseWarehouse, Recording]:
    client = Recording(connect(chdb_path, database))
    warehouse = ClickHouseWarehouse(
        client,
        catalog,
        replicas=2,
        replica_clients={"r1": connect(chdb_path, database), "r2": second},
        replica_wait_seconds=wait,
    )
    client.writes.clear()  # the migrations'
    return warehouse, client


def test_with_replicas_every_write_waits_for_all_and_the_commit_counts_rows_on_each(
    chdb_path: Path, database: str, catalog: Catalog
) -> None:
    warehouse, client = replicated(chdb_path, database, catalog, connect(chdb_path, database))
    h = Harness(warehouse)
    h.push([Row(at(1, hr), Decimal("1")) for hr in (0, 6, 12)], Replace("append"), parts=2)
    _, outcome = h.push([Row(at(1, 7), Decimal("2"))], Replace("replace_range", at(1, 5), at(1, 8)))
    assert outcome.replicas_verified == 2
    h.check()
    tables = {name for name, _ in client.writes}
    assert tables == {"cost_rows", "live_day_batches"}  # parts, the survivors copied in, the flips
    assert len(client.writes) == 2 + 1 + 1 + 1 + 1
    for _, settings in client.writes:
        assert settings["insert_quorum"] == 2 and settings["insert_quorum_parallel"] == 0
        assert settings["async_insert"] == 0


def test_one_replica_by_default_and_replicas_need_a_client_each(
    warehouse: ClickHouseWarehouse, catalog: Catalog, chdb_path: Path, database: str
) -> None:
    _, outcome = Harness(warehouse).push([Row(at(1), Decimal("1"))], Replace("append"))
    assert outcome.replicas_verified == 1
    with pytest.raises(ValueError, match="replicas=3 needs a client for each replica"):
        ClickHouseWarehouse(
            connect(chdb_path, database),
            catalog,
            replicas=3,
            replica_clients={"r1": connect(chdb_path, database)},
        )


def test_a_lagging_replica_keeps_the_commit_invisible_until_it_has_every_row(
    chdb_path: Path, database: str, catalog: Catalog
) -> None:
    lagging = LaggingReplica(connect(chdb_path, database), missing=0)
    warehouse, _ = replicated(chdb_path, database, catalog, lagging, wait=1.0)
    h = Harness(warehouse)
    h.push([Row(at(1), Decimal("1"))], Replace("append"))
    before = warehouse.live_sums(WS)
    lagging.missing, lagging.counts = 1, 0
    ref = BatchRef(WS, "prv_a", "prv_a_bat9", 9)
    warehouse.stage(ref, 0, 0, table([Row(at(1, hr), Decimal("5")) for hr in (1, 2, 3)]))
    with pytest.raises(
        ReplicaLagging, match=r"replica r2 has 2 of the 3 rows of batch prv_a_bat9"
    ) as refused:
        warehouse.commit(ref, Replace("replace_days"))
    assert (refused.value.replica, refused.value.found, refused.value.expected) == ("r2", 2, 3)
    assert lagging.counts > 1  # it waited and asked again before refusing
    assert warehouse.live_sums(WS) == before  # the flip never happened
    lagging.missing = 0  # the replica caught up: the same commit goes through
    outcome = warehouse.commit(ref, Replace("replace_days"))
    assert outcome.replicas_verified == 2 and outcome.replaced_rows == 1
    assert warehouse.live_sums(WS)["USD"]["BilledCost"] == "15"


def test_a_replica_that_catches_up_within_the_wait_lets_the_commit_through(
    chdb_path: Path, database: str, catalog: Catalog
) -> None:
    lagging = LaggingReplica(connect(chdb_path, database), missing=2, behind_for=3)
    warehouse, _ = replicated(chdb_path, database, catalog, lagging, wait=10)
    _, outcome = Harness(warehouse).push([Row(at(1, hr), Decimal("1")) for hr in (1, 2)], Replace("append"))
    assert outcome.replicas_verified == 2 and lagging.counts == 4


def test_an_unreachable_replica_refuses_the_commit(chdb_path: Path, database: str, catalog: Catalog) -> None:
    warehouse, _ = replicated(chdb_path, database, catalog, Unreachable(), wait=0.05)
    with pytest.raises(ReplicaLagging, match="replica r2 could not be asked"):
        Harness(warehouse).push([Row(at(1), Decimal("1"))], Replace("append"))
    assert warehouse.live_sums(WS) == {}


def test_the_rollup_migration_sums_rows_stored_before_it_and_can_run_again(
    warehouse: ClickHouseWarehouse, chdb_path: Path, database: str, catalog: Catalog
) -> None:
    h = Harness(warehouse)
    h.push(
        [Row(at(d, hr), Decimal("1.25"), service=s) for d in (1, 2) for hr in (0, 5) for s in "AB"],
        Replace("append"),
    )
    h.push([Row(at(2, 7), Decimal("3"))], Replace("replace_range", at(2, 4), at(2, 8)))
    expected = warehouse.daily_totals(WS, "ServiceName")
    admin = connect(chdb_path, database)
    # As if the rows had been stored before migration 0006 (0005's rollup and view gone or never made) ...
    admin.command("DROP VIEW cost_rollup_daily_mv")
    admin.command("TRUNCATE TABLE cost_rollup_daily")
    admin.command("DELETE FROM schema_migrations WHERE number = 6")
    assert (
        ClickHouseWarehouse(connect(chdb_path, database), catalog).rollup_daily_totals(WS, "ServiceName")
        == expected
    )
    # ... and as if a crash had come after the view was created but before the migration was recorded.
    admin.command("DELETE FROM schema_migrations WHERE number = 6")
    again = ClickHouseWarehouse(connect(chdb_path, database), catalog)
    assert again.rollup_daily_totals(WS, "ServiceName") == expected
    Harness(again, "prv_b", h.model).push(
        [Row(at(1), Decimal("2"))], Replace("append")
    )  # the view feeds it again
    for dimension in (*DIMENSIONS, "BillingPeriodStart"):
        assert again.rollup_daily_totals(WS, dimension) == again.daily_totals(WS, dimension)
    # ... and as if a crash had come after both the view and the table were dropped.
    admin.command("DROP VIEW cost_rollup_daily_mv")
    admin.command("DROP TABLE cost_rollup_daily")
    admin.command("DELETE FROM schema_migrations WHERE number = 6")
    third = ClickHouseWarehouse(connect(chdb_path, database), catalog)
    for dimension in (*DIMENSIONS, "BillingPeriodStart"):
        assert third.rollup_daily_totals(WS, dimension) == third.daily_totals(WS, dimension)


def test_the_largest_decimal_38_12_passes_and_one_past_it_is_refused() -> None:
    from focusbase.storage.clickhouse_types import checked

    largest = Decimal("9" * 26 + "." + "9" * 12)  # 38 digits: Python's 28-digit arithmetic would round it
    assert checked(largest) == str(largest) and checked(largest.copy_negate()) == "-" + str(largest)
    for beyond in (Decimal(10) ** 26, Decimal("1" + "0" * 26 + ".000000000001")):
        with pytest.raises(WarehouseValueOutOfRange):
            checked(beyond)
