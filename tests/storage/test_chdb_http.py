"""ClickHouseWarehouse over clickhouse-connect's HTTP client, through the chDB gateway (tests/chdb_http.py).

The same history is built on the warehouse through chDB in-process and through the gateway (another process
hosting another chDB engine); every write's outcome and every read (live sums, keyset pages, daily totals,
served pages, an export file, the explorer) must be equal on both and equal to the model of DuckDB's
semantics. Then several OS processes share the gateway's one engine: writers of one provider committing
concurrently under the PostgreSQL catalog's writer lock, and a writer killed mid-staging.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import pytest
from typer.testing import CliRunner

from focusbase.analytics.model import parse_query
from focusbase.cli import _register, app
from focusbase.export import service
from focusbase.export.spec import ExportSpec
from focusbase.focus import Dataset
from focusbase.query.filters import Scope
from focusbase.query.params import contract_commitment_filters, cost_filters
from focusbase.query.records import contract_commitment_fields, cost_fields
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.storage.cost_rows import Replace

clickhouse_connect = pytest.importorskip("clickhouse_connect")
pytest.importorskip("chdb")

from focusbase.storage.analytics import QueryTimeout  # noqa: E402
from focusbase.storage.clickhouse import ClickHouseWarehouse  # noqa: E402
from focusbase.storage.clickhouse_client import open_client, timed_out  # noqa: E402
from focusbase.storage.clickhouse_served import contract_commitment_where, cost_where  # noqa: E402
from focusbase.storage.clickhouse_types import BatchRef, RevertRefused, WarehouseValueOutOfRange  # noqa: E402
from tests.chdb_http import REPO, running_gateway  # noqa: E402
from tests.storage import gateway_writer  # noqa: E402
from tests.storage import test_clickhouse_served as served  # noqa: E402
from tests.storage.test_clickhouse_served import Expected, _canonical, _read_all  # noqa: E402
from tests.storage.test_clickhouse_warehouse import WS, Model, Row, at, table  # noqa: E402

WIDE = (datetime(1900, 1, 1), datetime(9999, 12, 31))
# The data directory the served reads' tests build through the embedded server's API, with its answers.
expected = served.expected


def new_database(gateway: str) -> str:
    """A fresh database on the gateway's engine; its warehouse URL (http://127.0.0.1:PORT/db)."""
    parts = urlsplit(gateway)
    name = f"g_{uuid.uuid4().hex[:12]}"
    admin = clickhouse_connect.get_client(host=parts.hostname, port=parts.port)
    admin.command(f"CREATE DATABASE {name}")
    admin.close()
    return f"{gateway}/{name}"


@pytest.fixture
def twins(chdb_path: Path, chdb_gateway: str, catalog: Catalog) -> Iterator[list[ClickHouseWarehouse]]:
    """The warehouse in-process (chDB) and over HTTP (the gateway), each on a database of its own."""
    local = open_client(f"chdb://{chdb_path}?database=l_{uuid.uuid4().hex[:12]}")
    both = [
        ClickHouseWarehouse(local, catalog),
        ClickHouseWarehouse(open_client(new_database(chdb_gateway)), catalog),
    ]
    yield both
    for warehouse in both:
        warehouse.close()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    from focusbase.config import Settings
    from focusbase.storage import open_catalog

    opened = open_catalog(Settings(data_dir=tmp_path))
    yield opened
    opened.close()


class Twins:
    """Drives the two warehouses with the same operations, at the same commit times, and checks that they
    answer the same, and as the model."""

    clock = itertools.count()  # commit and revert times: one minute apart, the same on both warehouses

    def __init__(
        self, warehouses: list[ClickHouseWarehouse], provider: str, model: Model, first: int
    ) -> None:
        self.warehouses = warehouses
        self.provider = provider
        self.model = model
        self.seq = itertools.count(first)  # batch_seq is the workspace's: each provider a range of its own
        self.refs: dict[str, BatchRef] = {}

    def at(self) -> datetime:
        return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=next(self.clock))

    def push(self, rows: list[Row], replace: Replace, parts: int = 1) -> str:
        seq = next(self.seq)
        ref = self.refs.setdefault(
            f"{self.provider}_bat{seq}", BatchRef(WS, self.provider, f"{self.provider}_bat{seq}", seq)
        )
        size = max(1, -(-len(rows) // parts))
        when = self.at()
        for warehouse in self.warehouses:
            for part_no, first in enumerate(range(0, len(rows), size)):
                warehouse.stage(ref, part_no, first, table(rows[first : first + size]))
        self.each(lambda w: w.commit(ref, replace, at=when))  # rows, sums, replaced rows and batches
        self.model.commit(self.provider, ref.batch_id, rows, replace)
        self.check()
        return ref.batch_id

    def revert(self, batch: str) -> bool:
        when = self.at()

        def revert(warehouse: ClickHouseWarehouse) -> Any:
            try:
                return warehouse.revert(self.refs[batch], at=when)
            except RevertRefused as refused:
                return str(refused)

        answer = self.each(revert)
        if not isinstance(answer, str):
            self.model.revert(batch)
        self.check()
        return not isinstance(answer, str)

    def each(self, call: Callable[[ClickHouseWarehouse], Any]) -> Any:
        local, remote = (call(w) for w in self.warehouses)
        assert local == remote
        return local

    def check(self) -> None:
        assert self.each(lambda w: w.live_sums(WS)) == self.model.sums()


def served_pages(warehouse: ClickHouseWarehouse, filters: Any, fields: Any) -> tuple[list[Any], list[Any]]:
    """Every served record, three to a page, and each page's summary (total, last update, periods)."""
    records: list[Any] = []
    summaries: list[Any] = []
    after = 0
    while True:
        page, summary = warehouse.cost_records(
            filters, fields, after=after, page_size=3, periods_ending_after=None
        )
        records += orjson.loads(page.records_json)
        summaries.append((summary.total, summary.last_updated, sorted(summary.periods)))
        if not page.has_more or page.last_seq is None:
            return records, summaries
        after = page.last_seq


def test_the_warehouse_over_http_answers_as_in_process(
    twins: list[ClickHouseWarehouse], tmp_path: Path
) -> None:
    model = Model()
    a, b = Twins(twins, "prv_a", model, 1), Twins(twins, "prv_b", model, 100)
    a.push(
        [Row(at(d, h), Decimal("1.25"), tags=f'{{"team": "t{d}"}}') for d in (1, 2, 3) for h in (0, 12)],
        Replace("append"),
        parts=2,
    )
    a.push([Row(at(2, 6), Decimal("10"), "EUR", service="Storage")], Replace("replace_days"))
    ranged = a.push([Row(at(1, 13), Decimal("7"))], Replace("replace_range", at(1, 12), at(3, 6)))
    a.push([Row(at(5, 0, 2), Decimal("0.000000000001"), region="eu")], Replace("append"))
    monthly = a.push([Row(at(9, 0, 2), Decimal("3"))], Replace("replace_months"))
    assert a.revert(monthly) and not a.revert(monthly)  # reverted, then refused: already reverted
    b.push([Row(at(4), Decimal("100"), account="acc-2"), Row(at(4, 1), Decimal("-0.5"))], Replace("append"))
    b.push([Row(at(6), Decimal("2"))], Replace("replace_all"))
    a.push([Row(at(1, 20), Decimal("4"))], Replace("append"))
    a.revert(ranged)  # a later append on a day it replaced: refused, alike on both (compared inside)

    # A part sent twice (a retry after an unknown outcome) is stored once on both.
    for warehouse in twins:
        ref = BatchRef(WS, "prv_a", "prv_a_retried", 50)
        part = table([Row(at(7), Decimal("1.5")), Row(at(7, 1), Decimal("2.5"))])
        warehouse.stage(ref, 0, 0, part)
        warehouse.stage(ref, 0, 0, part)
        assert warehouse.staged_count(ref) == 2
        outcome = warehouse.commit(ref, Replace("append"), at=datetime(2026, 3, 2, tzinfo=UTC))
        assert outcome.sums["USD"]["BilledCost"] == "4"
    model.commit(
        "prv_a",
        "prv_a_retried",
        [Row(at(7), Decimal("1.5")), Row(at(7, 1), Decimal("2.5"))],
        Replace("append"),
    )
    a.check()

    # A batch whose sum leaves DECIMAL(38, 12) is refused on both and never becomes visible.
    big = Decimal("90000000000000000000000000")
    for warehouse in twins:
        ref = BatchRef(WS, "prv_a", "prv_a_big", 60)
        warehouse.stage(ref, 0, 0, table([Row(at(8, h), big, "JPY") for h in range(3)]))
        with pytest.raises(WarehouseValueOutOfRange):
            warehouse.commit(ref, Replace("append"))
    a.check()

    # The reads: keyset pages, grouped totals, served pages with their summaries, the explorer, an export.
    columns = ["ChargePeriodStart", "BilledCost", "BillingCurrency", "ServiceName", "Tags", "RegionName"]

    def every_page(w: ClickHouseWarehouse) -> list[dict[str, Any]]:
        rows, after = [], 0
        while True:
            page = w.read_page(WS, columns, after=after, limit=4)
            rows += page.rows
            if page.next_after is None:
                return rows
            after = page.next_after

    pages = a.each(every_page)
    live = model.visible()
    assert sorted(r["BilledCost"] for r in pages) == sorted(r.cost for r in live.values())
    assert len(pages) == len(live) >= 8
    for dimension in ("ServiceName", "RegionName", "BillingAccountId"):
        assert a.each(lambda w, d=dimension: w.daily_totals(WS, d)) == model.daily(dimension)
    a.each(lambda w: w.tag_totals(WS, "team"))

    fields = cost_fields()
    for query in ({}, {"billingCurrency": "EUR"}, {"serviceName": "Compute"}, {"serviceName": "none"}):
        filters = cost_filters(Scope(WS), query)

        records, summaries = a.each(lambda w, f=filters: served_pages(w, f, fields))
        assert summaries[0][0] == len(records)
    assert a.each(
        lambda w: (
            w.cost_records(
                cost_filters(Scope(WS), {}), fields, after=0, page_size=100, periods_ending_after=None
            )[1].total
        )
    ) == len(live)

    query = parse_query({"metric": "BilledCost", "groupBy": ["ServiceName"]}, max_groups=10)
    explored = a.each(lambda w: w.explore(Scope(WS), query, max_rows=100, timeout_seconds=30).aggregate.rows)
    assert explored

    spec = ExportSpec(*WIDE, format="csv")
    files = []
    for n, warehouse in enumerate(twins):
        target = tmp_path / f"export{n}" / spec.file_name()
        target.parent.mkdir()
        counts = service.write_export(warehouse, Scope(WS), spec, target)
        assert counts["CostAndUsage"] == len(live)
        files.append(target.read_bytes())
    assert files[0] == files[1] and files[0].count(b"\n") == len(live) + 1


def test_errors_and_timeouts_come_back_as_clickhouse_writes_them(
    chdb_gateway: str, twins: list[ClickHouseWarehouse]
) -> None:
    url = new_database(chdb_gateway)
    client = open_client(url)
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError) as missing:
        client.query("SELECT * FROM no_such_table")
    assert missing.value.code == 60 and "UNKNOWN_TABLE" in str(missing.value)
    with pytest.raises(clickhouse_connect.driver.exceptions.DatabaseError) as slow:
        client.query("SELECT count() FROM numbers(10000000000)", settings={"max_execution_time": 0.2})
    assert slow.value.code == 159 and timed_out(slow.value)
    # A per-query setting is that query's only: the next query runs without it.
    assert client.query("SELECT getSetting('max_execution_time')").result_rows[0][0] == 0
    asked = client.query("SELECT getSetting('max_threads')", settings={"max_threads": 1}).result_rows
    default = client.query("SELECT getSetting('max_threads')").result_rows
    assert asked == [(1,)] and default != asked
    # Insert settings of a replicated deployment pass (a table that is not replicated ignores a quorum).
    client.command(
        "CREATE TABLE q (n UInt8) ENGINE = MergeTree ORDER BY n"
        " SETTINGS non_replicated_deduplication_window = 10"
    )
    settings = {"insert_quorum": 2, "insert_quorum_parallel": 0, "insert_deduplication_token": "t"}
    first = client.insert("q", [(1,), (2,)], column_names=["n"], settings=settings)
    assert first.written_rows == 2
    client.insert("q", [(1,), (2,)], column_names=["n"], settings=settings)
    assert client.command("SELECT count() FROM q") == 2  # the second insert, same token: deduplicated
    # The raw HTTP answer: status 500, the code in a header, the server's text in the body.
    request = urllib.request.Request(f"{chdb_gateway}/?{urlencode({'query': 'SELECT throwIf(1)'})}")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=30)
    assert answer.value.code == 500
    assert answer.value.headers["X-ClickHouse-Exception-Code"] == "395"
    assert answer.value.read().startswith(b"Code: 395. DB::Exception: ")
    with urllib.request.urlopen(f"{chdb_gateway}/ping", timeout=30) as ping:
        assert ping.read() == b"Ok.\n"
    # The explorer's deadline travels as max_execution_time and comes back as QueryTimeout.
    remote = twins[1]
    with pytest.raises(QueryTimeout):
        remote._timed(
            "SELECT count() FROM numbers(10000000000) WHERE sipHash64(number) % 7 = 1",
            {},
            time.monotonic() + 0.2,
            0.2,
        )
    client.close()


def test_an_insert_whose_body_is_cut_short_stores_nothing(chdb_gateway: str) -> None:
    url = new_database(chdb_gateway)
    client = open_client(url)
    client.command("CREATE TABLE cut (n UInt32) ENGINE = MergeTree ORDER BY n")
    parts = urlsplit(url)
    query = urlencode({"database": parts.path.strip("/"), "query": "INSERT INTO cut FORMAT TSV"})
    data = "".join(f"{i}\n" for i in range(1000)).encode()
    head = f"POST /?{query} HTTP/1.1\r\nHost: gateway\r\n"

    def send(request: bytes, *, answer: bool) -> bytes:
        assert parts.hostname and parts.port
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(request)
            if not answer:
                return b""  # the sender dies here: the connection closes mid-body
            sock.shutdown(socket.SHUT_WR)
            return b"".join(iter(lambda: sock.recv(65536), b""))

    chunked = f"{head}Transfer-Encoding: chunked\r\n\r\n{len(data):x}\r\n".encode()
    send(chunked + data[:500], answer=False)  # a chunk cut short
    send(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data[:500], answer=False)
    send(chunked + data + b"\r\n", answer=False)  # every byte of the data, but not the last chunk
    time.sleep(0.5)
    assert client.command("SELECT count() FROM cut") == 0
    whole = send(chunked + data + b"\r\n0\r\n\r\n", answer=True)
    assert whole.startswith(b"HTTP/1.1 200 ")
    assert client.command("SELECT count() FROM cut") == 1000
    client.close()


def test_the_gateway_starts_in_seconds_and_is_gone_after_its_context(tmp_path: Path) -> None:
    started = time.monotonic()
    with running_gateway(tmp_path / "engine") as url:
        startup = time.monotonic() - started
        with urllib.request.urlopen(f"{url}/ping", timeout=30) as ping:
            assert ping.read() == b"Ok.\n"
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/ping", timeout=5)
    assert startup < 10  # about a second here; generous for a loaded machine


# ------------------------------------------------------------------------------------------- processes


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `python -m tests.storage.gateway_writer MODE ...` (stdout piped); killed after the test."""
    started: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}

    def start(*args: int | str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "tests.storage.gateway_writer", *map(str, args)]
        started.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def test_writer_processes_commit_one_provider_concurrently_each_commit_once(
    chdb_gateway: str, postgres_url: str, tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    url = new_database(chdb_gateway)
    from focusbase.storage.postgres import PostgresCatalog

    catalog = PostgresCatalog(postgres_url, pool_size=2)
    warehouse = ClickHouseWarehouse(open_client(url), catalog)  # migrated once before the writers start
    # Merges would keep only the newest version of a day-batch; the test reads every commit's versions.
    warehouse._command("SYSTEM STOP MERGES live_day_batches")
    count = 10
    go = tmp_path / "go"
    processes = [spawn("commit", url, postgres_url, first, 2, count, go) for first in (1, 2)]
    for process in processes:  # both started and connected, then both released at once
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    go.touch()
    for process in processes:
        assert process.wait(180) == 0
    # The order the commits took: each batch's one commit version, all versions distinct (the writer lock
    # serialised them; two commits reading the same max would have written the same version).
    versions = warehouse._query(
        "SELECT changed_by, groupUniqArray(commit_seq) FROM live_day_batches"
        " WHERE changed_by LIKE 'prv_shared_bat%' GROUP BY changed_by"
    )
    order = {str(batch): [int(v) for v in seqs] for batch, seqs in versions}
    assert len(order) == 2 * count and all(len(seqs) == 1 for seqs in order.values())
    assert len({seqs[0] for seqs in order.values()}) == 2 * count
    model = Model()
    for batch in sorted(order, key=lambda b: order[b][0]):
        seq = int(batch.removeprefix(f"{gateway_writer.PROVIDER}_bat"))
        model.commit(
            gateway_writer.PROVIDER, batch, gateway_writer.batch_rows(seq), gateway_writer.batch_replace(seq)
        )
    assert warehouse.live_sums(WS) == model.sums() != {}
    # Interleaved, not one writer after the other: the commit order alternates at least once.
    writers = [
        int(b.removeprefix(f"{gateway_writer.PROVIDER}_bat")) % 2
        for b in sorted(order, key=lambda b: order[b][0])
    ]
    assert sum(1 for x, y in itertools.pairwise(writers) if x != y) >= 1
    warehouse.close()
    catalog.close()


def test_a_writer_killed_mid_staging_leaves_nothing_visible(
    chdb_gateway: str, postgres_url: str, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    url = new_database(chdb_gateway)
    from focusbase.storage.postgres import PostgresCatalog

    catalog = PostgresCatalog(postgres_url, pool_size=2)
    warehouse = ClickHouseWarehouse(open_client(url), catalog)
    committed = BatchRef(WS, gateway_writer.PROVIDER, "prv_shared_bat1", 1)
    warehouse.stage(committed, 0, 0, table([Row(at(1), Decimal("2.5"))]))
    warehouse.commit(committed, Replace("append"))
    before = warehouse.live_sums(WS)
    parts, size = 40, 20_000
    process = spawn("stage", url, postgres_url, 7, parts, size)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"staged 1"
    assert process.stdout.readline().strip() == b"staged 2"
    time.sleep(0.05)  # into the third part's request
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    killed = BatchRef(WS, gateway_writer.PROVIDER, "prv_shared_bat7", 7)
    # Whole parts only (an insert whose body did not arrive in full is not run), never visible.
    time.sleep(1)  # an insert the gateway had fully received finishes
    staged = warehouse.staged_count(killed)
    assert staged % size == 0 and 2 * size <= staged < parts * size
    assert warehouse.live_sums(WS) == before
    # The gateway keeps serving: the dead batch is discarded, and another commits.
    warehouse.discard_staged(killed)
    assert warehouse.staged_count(killed) == 0
    after = BatchRef(WS, gateway_writer.PROVIDER, "prv_shared_bat8", 8)
    warehouse.stage(after, 0, 0, table([Row(at(2), Decimal("1.5"))]))
    warehouse.commit(after, Replace("append"))
    assert warehouse.live_sums(WS)["USD"] == {"rows": 2, "BilledCost": "4", "EffectiveCost": "4"}
    warehouse.close()
    catalog.close()


# ------------------------------------------------------------------------------- data built through the API


def test_migrate_storage_over_http_serves_what_the_embedded_server_served(
    expected: Expected, chdb_gateway: str, postgres_url: str, tmp_path: Path
) -> None:
    """A data directory built through the embedded server's API, copied by `focusbase migrate-storage` into
    the gateway over HTTP: every filter's pages and counts are what the embedded server answered."""
    _register()
    source = tmp_path / "data"
    shutil.copytree(expected.data_dir, source)
    url = new_database(chdb_gateway)
    args = [
        "migrate-storage",
        "--data-dir",
        str(source),
        "--catalog-url",
        postgres_url,
        "--warehouse-url",
        url,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    from focusbase.storage.postgres import PostgresCatalog

    catalog = PostgresCatalog(postgres_url, pool_size=2)
    warehouse = ClickHouseWarehouse(open_client(url), catalog)
    compared = 0
    for (who, dataset, query_text), (want, total) in expected.answers.items():
        if who != "admin":
            continue
        query = orjson.loads(query_text)
        if dataset == "cost":
            where = cost_where(cost_filters(Scope(DEFAULT_WORKSPACE_ID), query))
            got = _read_all(warehouse, Dataset.COST_AND_USAGE, where, cost_fields())
            summary = warehouse.served_summary(Dataset.COST_AND_USAGE, where)
        else:
            where = contract_commitment_where(contract_commitment_filters(Scope(DEFAULT_WORKSPACE_ID), query))
            got = _read_all(warehouse, Dataset.CONTRACT_COMMITMENT, where, contract_commitment_fields())
            summary = warehouse.served_summary(Dataset.CONTRACT_COMMITMENT, where)
        assert _canonical(got) == _canonical(want), (dataset, query)
        assert summary.total == total == len(want), (dataset, query)
        compared += len(want)
    assert compared > 40 and len(expected.answers[("admin", "cost", "{}")][0]) > 15
    warehouse.close()
    catalog.close()
