"""The PostgreSQL catalog offers the SQLite catalog's operations with the same results.

These start a throw-away PostgreSQL server (tests/postgres.py) and skip when none can be started here. The
whole catalog-level suite runs on it with `make test-scale`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from focusbase.config import Settings
from focusbase.runtime import Runtime
from focusbase.storage import migrations, open_catalog
from focusbase.storage.catalog import DEFAULT_WORKSPACE_ID, Catalog
from focusbase.storage.views import NameTaken, insert_view, update_view
from focusbase.tenancy.keys import authenticate_key, create_key, revoke_key
from focusbase.tenancy.periods import finalize_period
from focusbase.tenancy.providers import create_provider, list_providers

psycopg = pytest.importorskip("psycopg")

from focusbase.storage.postgres import (  # noqa: E402 - needs the optional psycopg
    CatalogUnavailable,
    PostgresCatalog,
    redact,
    translate,
)
from focusbase.storage.urls import scrub  # noqa: E402


def test_every_catalog_migration_has_a_postgres_twin_with_the_same_number() -> None:
    sqlite = [(m.number, m.name) for m in migrations.load("catalog")]
    postgres = [(m.number, m.name) for m in migrations.load("postgres_catalog")]
    assert postgres == sqlite


def test_placeholders_translate_outside_quotes_and_percent_signs_are_literal() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = %s AND c = %s"
    assert translate("SELECT '?', \"a?\" FROM t WHERE x LIKE '5%' AND y = ?") == (
        "SELECT '?', \"a?\" FROM t WHERE x LIKE '5%%' AND y = %s"
    )


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://fb:s3cret@db:5432/focusbase") == "postgresql://fb:***@db:5432/focusbase"
    assert redact("postgresql://fb@/x?host=/run") == "postgresql://fb@/x?host=/run"


@pytest.mark.parametrize(
    ("url", "shown", "password"),
    [
        ("clickhouse://u:pa/ss@host/db", "clickhouse://u:***@host/db", "pa/ss"),  # an unescaped /
        ("clickhouse://u:p?a#s@host:8123/db", "clickhouse://u:***@host:8123/db", "p?a#s"),
        ("postgresql://u:a@b@host/db", "postgresql://u:***@host/db", "a@b"),  # an unescaped @
        ("postgresql://u:s3cr%zzt@h/db", "postgresql://u:***@h/db", "s3cr%zzt"),  # a stray %
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db", "p@ss"),  # escaped; drivers show it decoded
    ],
)
def test_redact_and_scrub_fail_closed_on_odd_passwords(url: str, shown: str, password: str) -> None:
    assert redact(url) == shown
    assert password not in scrub(f"could not connect: password {password!s} rejected for {url}", url)


def test_a_password_query_parameter_is_hidden() -> None:
    url = "postgresql://u@host/db?password=s3cret&sslmode=require"
    assert redact(url) == "postgresql://u@host/db?password=***&sslmode=require"


def test_a_password_with_a_stray_percent_is_refused_without_being_shown() -> None:
    with pytest.raises(CatalogUnavailable) as refused:
        PostgresCatalog("postgresql://fb:s3cr%zzt@127.0.0.1:1/focusbase", timeout=1)
    assert "s3cr" not in str(refused.value) and "percent-encode" in str(refused.value)


@pytest.fixture
def pg(postgres_url: str) -> PostgresCatalog:
    catalog = PostgresCatalog(postgres_url)
    yield catalog  # type: ignore[misc]
    catalog.close()


def test_migrations_apply_once_and_the_default_workspace_exists(postgres_url: str) -> None:
    first = PostgresCatalog(postgres_url)
    # A second replica starting on the same database finds everything applied.
    second = PostgresCatalog(postgres_url)
    try:
        assert second.migrate() == []
        with second.read() as conn:
            rows = conn.execute("SELECT id, name FROM workspaces").fetchall()
            applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert [(row["id"], row[1]) for row in rows] == [(DEFAULT_WORKSPACE_ID, "default")]
        assert applied == len(migrations.load("catalog"))
    finally:
        first.close()
        second.close()


def test_settings_select_the_postgres_catalog_and_sqlite_stays_the_default(
    postgres_url: str, tmp_path: Path
) -> None:
    embedded = open_catalog(Settings(data_dir=tmp_path, catalog_url=None))
    assert embedded.dialect == "sqlite" and (tmp_path / "catalog.sqlite").exists()
    embedded.close()
    scale = open_catalog(Settings(data_dir=tmp_path / "other", catalog_url=postgres_url))
    assert isinstance(scale, PostgresCatalog)
    assert not (tmp_path / "other" / "catalog.sqlite").exists()
    scale.close()


def test_an_unreachable_catalog_is_reported_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://fb:hunter2@/focusbase?host={tmp_path}&port=1&connect_timeout=1"
    with pytest.raises(CatalogUnavailable) as caught:
        PostgresCatalog(url, timeout=2)
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


def test_a_database_that_does_not_sort_in_byte_order_is_refused(postgres_server: str) -> None:
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS icu_catalog")
        conn.execute(
            "CREATE DATABASE icu_catalog TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'"
        )
    url = postgres_server.replace("/postgres?", "/icu_catalog?")
    with pytest.raises(CatalogUnavailable, match="byte order"):
        PostgresCatalog(url)


def test_keys_providers_and_periods_behave_as_on_sqlite(pg: PostgresCatalog, tmp_path: Path) -> None:
    sqlite = Catalog.in_dir(tmp_path)
    for catalog in (sqlite, pg):
        new = create_key(catalog, workspace_id=DEFAULT_WORKSPACE_ID, name="k", scopes=["read"])
        principal = authenticate_key(catalog, new.key)
        assert principal is not None and principal.scopes == {"read"}
        assert revoke_key(catalog, DEFAULT_WORKSPACE_ID, new.id) is True
        assert revoke_key(catalog, DEFAULT_WORKSPACE_ID, new.id) is False
        assert authenticate_key(catalog, new.key) is None
        created = create_provider(catalog, DEFAULT_WORKSPACE_ID, name="AWS", default_currency="USD")
        assert [p.id for p in list_providers(catalog, DEFAULT_WORKSPACE_ID)] == [created.provider.id]
        first = finalize_period(catalog, created.provider.id, "2026-01")
        again = finalize_period(catalog, created.provider.id, "2026-01")
        assert first[1] is True and again[1] is False and first[0].finalized_at == again[0].finalized_at
    sqlite.close()


def test_a_unique_violation_is_the_same_domain_error(pg: PostgresCatalog) -> None:
    insert_view(pg, view_id="view_1", workspace_id=DEFAULT_WORKSPACE_ID, name="a", query={}, key_id=None)
    insert_view(pg, view_id="view_2", workspace_id=DEFAULT_WORKSPACE_ID, name="b", query={}, key_id=None)
    with pytest.raises(NameTaken):
        insert_view(pg, view_id="view_3", workspace_id=DEFAULT_WORKSPACE_ID, name="a", query={}, key_id=None)
    with pytest.raises(NameTaken):
        update_view(pg, DEFAULT_WORKSPACE_ID, "view_2", name="a", query=None)
    # The failed transactions left nothing behind and the pool's connections are usable.
    with pg.read() as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM saved_views ORDER BY name").fetchall()] == [
            "a",
            "b",
        ]


def test_a_transaction_rolls_back_on_error_and_sees_its_own_writes(pg: PostgresCatalog) -> None:
    with pytest.raises(RuntimeError), pg.transaction() as tx:
        tx.execute("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", ("ws_x", "x", "t"))
        with pg.read() as conn:  # the same connection: the uncommitted row is visible here
            assert conn.execute("SELECT count(*) FROM workspaces WHERE id = ?", ("ws_x",)).fetchone()[0] == 1
        raise RuntimeError("boom")
    with pg.read() as conn:
        assert conn.execute("SELECT count(*) FROM workspaces WHERE id = ?", ("ws_x",)).fetchone()[0] == 0


def test_write_transactions_are_serialised_across_replicas(postgres_url: str) -> None:
    # Read-then-write inside a transaction holds as under SQLite's BEGIN IMMEDIATE: no lost update, even
    # from two catalogs (two API replicas) with several threads each.
    replicas = [PostgresCatalog(postgres_url), PostgresCatalog(postgres_url)]
    with replicas[0].transaction() as tx:
        tx.execute("INSERT INTO workspaces (id, name, created_at) VALUES ('ws_n', 'n', '0')")

    def bump(catalog: PostgresCatalog) -> None:
        for _ in range(10):
            with catalog.transaction() as tx:
                value = int(tx.execute("SELECT created_at FROM workspaces WHERE id = 'ws_n'").fetchone()[0])
                time.sleep(0.001)
                tx.execute("UPDATE workspaces SET created_at = ? WHERE id = 'ws_n'", (str(value + 1),))

    threads = [threading.Thread(target=bump, args=(replicas[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with replicas[1].read() as conn:
        assert conn.execute("SELECT created_at FROM workspaces WHERE id = 'ws_n'").fetchone()[0] == "60"
    for catalog in replicas:
        catalog.close()


def test_a_providers_writer_lock_is_held_across_replicas_and_freed_when_its_holder_dies(
    postgres_url: str,
) -> None:
    one, two = PostgresCatalog(postgres_url), PostgresCatalog(postgres_url)
    try:
        with one.writer_lock("prv_a") as held:
            assert held is True
            with two.writer_lock("prv_a", wait=False) as other:
                assert other is False
            with two.writer_lock("prv_b", wait=False) as unrelated:
                assert unrelated is True  # locks are per provider
            acquired = threading.Event()

            def waiter() -> None:
                with two.writer_lock("prv_a"):
                    acquired.set()

            thread = threading.Thread(target=waiter)
            thread.start()
            assert not acquired.wait(0.3)
        assert acquired.wait(10)
        thread.join(10)
        # A replica killed while it holds the lock frees it: the server ends the dead process's session.
        with subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, postgres_url], stdout=subprocess.PIPE, text=True
        ) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
                with two.writer_lock("prv_c", wait=False) as taken:
                    assert taken is False
            finally:
                holder.kill()
                holder.wait(10)
        deadline = time.monotonic() + 10
        while True:
            with two.writer_lock("prv_c", wait=False) as taken:
                if taken:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        one.close()
    finally:
        two.close()


_HOLD_LOCK = """
import sys, time
from focusbase.storage.postgres import PostgresCatalog
with PostgresCatalog(sys.argv[1]).writer_lock("prv_c"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_server_runs_on_the_postgres_catalog(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, catalog_url=postgres_url, secret_key="k")
    runtime = Runtime.open(settings)
    try:
        assert isinstance(runtime.catalog, PostgresCatalog)
        assert not (tmp_path / "catalog.sqlite").exists()
    finally:
        runtime.warehouse.close()
        runtime.catalog.close()
