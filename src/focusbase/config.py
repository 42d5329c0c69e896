"""Settings, read from FOCUSBASE_* environment variables; built once and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure. Each field is FOCUSBASE_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="FOCUSBASE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the server listens on.")
    port: int = Field(8000, description="TCP port the server listens on.")
    data_dir: Path = Field(Path("./data"), description="Directory holding the databases and export files.")
    public_url: str | None = Field(
        None, description="Base URL clients use to reach the server (for ingest and download URLs)."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    max_body_bytes: int = Field(50 * 1024 * 1024, description="Largest accepted request body (after gunzip).")
    max_rows_per_request: int = Field(100_000, description="Most rows accepted in one push request or part.")
    rate_limit_read_per_minute: int = Field(600, description="Read requests per minute per key.")
    rate_limit_ingest_per_minute: int = Field(60, description="Ingest requests per minute per key.")
    rate_limit_store: Literal["auto", "memory", "catalog"] = Field(
        "auto",
        description="Where rate-limit buckets live: memory (per process), catalog (the PostgreSQL catalog, "
        "one budget per key shared by every replica) or auto (catalog with FOCUSBASE_CATALOG_URL, else "
        "memory).",
    )
    idempotency_ttl_hours: int = Field(24, description="How long Idempotency-Key replays are remembered.")
    open_batch_ttl_hours: int = Field(24, description="Open multi-part batches are aborted after this long.")
    keep_superseded_versions: int = Field(
        5, description="Superseded versions of a provider's data kept per day, for revert."
    )
    period_close_days: int = Field(
        15, description="A billing period counts as complete this many days after it ends, unless finalised."
    )
    export_ttl_days: int = Field(7, description="Export files are deleted this many days after completion.")
    export_workers: int = Field(2, description="Export jobs that may run at once.")
    export_dir: Path | None = Field(
        None,
        description="Directory of export files; a volume every replica mounts when several serve one "
        "deployment. Unset: exports/ in the data directory.",
    )
    export_lease_seconds: float = Field(
        60.0,
        ge=3,
        description="A running export job's claim lasts this long and is renewed every third of it; a job "
        "whose runner died is claimed again once its claim runs out.",
    )
    leader_lease_seconds: float = Field(
        30.0,
        ge=3,
        description="With a PostgreSQL catalog, one replica (the leader) runs the periodic sweeps; its lease "
        "lasts this long and is renewed every third of it, so another takes over within this time.",
    )
    secret_key: str | None = Field(
        None, description="Secret for page tokens and download URLs; generated into the data dir when unset."
    )
    catalog_url: str | None = Field(
        None,
        description="PostgreSQL URL of a shared catalog (postgresql://user:password@host:port/db) for the "
        "scale-out profile; unset, the catalog is catalog.sqlite in the data directory (docs/scaling.md).",
    )
    warehouse_url: str | None = Field(
        None,
        description="ClickHouse warehouse of the scale-out profile: clickhouse://user:password@host:port/db,"
        " http(s)://..., or chdb:///path (the engine embedded, one process); needs FOCUSBASE_CATALOG_URL."
        " Unset, the warehouse is warehouse.duckdb in the data directory (docs/scaling.md).",
    )
    catalog_pool_size: int = Field(
        10, description="Most PostgreSQL connections one server process holds open to the catalog."
    )
    duckdb_memory_limit: str | None = Field(
        "1GB",
        description="DuckDB memory_limit of the warehouse, for example '4GB'; empty for DuckDB's default "
        "(80% of RAM). DuckDB keeps blocks it has written in this pool, so it bounds the server's memory.",
    )
    duckdb_threads: int | None = Field(None, description="DuckDB worker threads (default: all cores).")
    duckdb_checkpoint_threshold: str = Field(
        "128MB",
        description="Write-ahead log size that triggers a DuckDB checkpoint (DuckDB's own default is 16MB).",
    )
    import_part_rows: int = Field(
        122_880,
        description="Rows per part when a file import is streamed; a multiple of DuckDB's row group "
        "(122,880 rows) is written straight to the database file instead of the write-ahead log.",
    )
    import_background_bytes: int = Field(
        64 * 1024 * 1024,
        description="Imports of files larger than this, as uploaded or once decompressed, run in the "
        "background (202).",
    )
    import_max_bytes: int = Field(
        50 * 1024 * 1024 * 1024, description="Largest accepted import file (bytes as uploaded)."
    )
    import_single_pass: bool = Field(
        True,
        description="Import a clean CSV file with one parallel DuckDB statement (its rows are then not kept "
        "in file order); off, or for any file the single pass cannot vouch for, files go part by part.",
    )
    import_memory_limit: str | None = Field(
        "512MB", description="DuckDB memory_limit of the reader of one import file."
    )
    max_cells_per_request: int = Field(
        30_000_000,
        description="Most cells (rows x distinct columns) one push request or part may make; rows with many "
        "different keys are refused before they are built into a table (413 too_many_cells).",
    )
    export_max_custom_columns: int = Field(
        500,
        description="Most custom (x_) columns an export file has as columns of their own (in name order); "
        "beyond it, each row's custom values are also written whole as JSON in x_CustomColumns.",
    )
    max_custom_columns_per_row: int = Field(
        200,
        description="Most custom (x_) columns one row may carry; a push row or file header with more is "
        "refused (422 too_many_custom_columns).",
    )
    max_custom_columns_per_batch: int = Field(
        1_000,
        description="Most distinct custom (x_) column names one batch may carry across all its rows and "
        "parts (422 too_many_custom_columns).",
    )
    import_max_decompressed_bytes: int = Field(
        8 * 1024 * 1024 * 1024,
        description="Largest text an import file may hold once decompressed (a CSV's bytes after gunzip, a "
        "Parquet file's uncompressed size); larger files are refused (413 file_too_large).",
    )
    import_max_rows: int = Field(
        10_000_000,
        description="Most rows one import (one batch) may hold; a file with more is refused (413 "
        "too_many_rows) and nothing of it is stored.",
    )
    web_session_hours: int = Field(
        12,
        ge=1,
        description="A web app sign-in lasts this many hours (sign-out or revoking the key ends it sooner).",
    )
    explorer_max_groups: int = Field(
        500,
        description="Most groups (combinations of group-by values) one explorer result may hold per currency "
        "without top; more is 400 too_many_groups.",
    )
    explorer_max_rows: int = Field(
        50_000,
        description="Most rows (time bucket x group x currency) one explorer result may return; more is "
        "400 result_too_large. Also bounds CSV and Parquet downloads.",
    )
    explorer_timeout_seconds: float = Field(
        30.0,
        description="Longest an explorer, dashboard or savings query may run before it is stopped "
        "(503 query_timeout).",
    )
    max_saved_views: int = Field(1_000, description="Most saved explorer views per workspace.")
    fx_max_rates: int = Field(
        200_000,
        description="Most currency conversion rates one workspace may load (one upload replaces all).",
    )

    webhook_allow_private_destinations: bool = Field(
        False,
        description="Allow webhook destinations that resolve to private, loopback, link-local, multicast or "
        "unspecified addresses (off: such URLs are refused when set and again before every delivery).",
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=120, description="Time limit of one webhook delivery attempt (connect, send, read)."
    )
    webhook_max_response_bytes: int = Field(
        2048,
        ge=0,
        le=1024 * 1024,
        description="Most bytes of a receiver's answer read and kept in the delivery log; the rest is "
        "ignored.",
    )
    webhook_retry_schedule: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 28800, 28800],
        min_length=1,
        description="Seconds to wait before each retry of a failed delivery (JSON list); after the last one "
        "the delivery is given up. The default retries 7 times over about 24 hours.",
    )
    webhook_retry_jitter: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Each retry delay is randomly shortened or lengthened by up to this share.",
    )
    webhook_secret_grace_hours: float = Field(
        24.0,
        ge=0,
        description="After a secret rotation, the previous secret also signs deliveries this long.",
    )
    webhook_concurrency: int = Field(4, ge=1, le=64, description="Webhook deliveries sent at the same time.")
    webhook_log_retention_days: int = Field(
        30,
        ge=1,
        description="Finished deliveries, their events and their log are deleted after this many days.",
    )
    budget_sweep_seconds: float = Field(
        60.0, gt=0, description="Every budget is evaluated at least this often (and after each batch commit)."
    )

    anomaly_detect_on_commit: bool = Field(
        True,
        description="Run anomaly detection in the background for a provider, and the saved views that can"
        " include it, after each batch commit (and for a saved view when it is created or its query"
        " changes).",
    )
    anomaly_detect_delay_seconds: float = Field(
        20.0,
        ge=0,
        description="Detection runs once a provider has had no commit for this long (a burst of batches is "
        "checked once, after it, instead of competing with it).",
    )
    anomaly_detect_max_delay_seconds: float = Field(
        300.0,
        ge=0,
        description="...but never later than this after the first commit it waits for, so a provider that "
        "commits without pause is still checked.",
    )
    anomaly_z_threshold: float = Field(
        3.5,
        gt=0,
        description="A day is anomalous only when |actual - baseline| is at least this many robust sigmas.",
    )
    anomaly_abs_floor: float = Field(
        10.0, ge=0, description="...and the money impact is at least this many units of the BillingCurrency."
    )
    anomaly_rel_floor: float = Field(
        0.20, ge=0, description="...and the money impact is at least this share of the baseline (0.20 = 20%)."
    )
    anomaly_history_days: int = Field(
        180, ge=14, le=730, description="Days of history read per series for anomaly detection (at most 730)."
    )
    anomaly_lookback_days: int = Field(
        90, ge=1, description="Only events that ended within this many days of the latest data are stored."
    )
    anomaly_fp_step: float = Field(
        0.15,
        ge=0,
        description="Each False positive of a scope in the last 90 days raises its thresholds by this factor "
        "(1 + step x count).",
    )
    anomaly_fp_cap: float = Field(
        1.75, ge=1, description="The highest threshold multiplier false positives reach."
    )
    anomaly_max_scopes: int = Field(
        300,
        ge=1,
        description="Most series (scope x currency) one detection run of a provider or saved view checks"
        " (time bound).",
    )
    anomaly_page_max: int = Field(
        500, ge=1, description="Most anomalies one GET /api/v1/anomalies page returns."
    )
    forecast_history_days: int = Field(
        400,
        ge=28,
        le=1000,
        description="Days of history a forecast is fitted and backtested on (time bound).",
    )

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class RateLimitStoreUnusable(ValueError):
    """FOCUSBASE_RATE_LIMIT_STORE asks for a store this deployment does not have."""


def uses_catalog_rate_limits(settings: Settings) -> bool:
    """Whether rate-limit buckets live in the catalog (FOCUSBASE_RATE_LIMIT_STORE; `auto`: with a PostgreSQL
    catalog); RateLimitStoreUnusable for `catalog` without one."""
    if settings.rate_limit_store == "auto":
        return settings.catalog_url is not None
    if settings.rate_limit_store == "catalog" and settings.catalog_url is None:
        raise RateLimitStoreUnusable(
            "FOCUSBASE_RATE_LIMIT_STORE=catalog needs a PostgreSQL catalog (FOCUSBASE_CATALOG_URL); the"
            " embedded catalog serves one process, which keeps its buckets in memory"
        )
    return settings.rate_limit_store == "catalog"
