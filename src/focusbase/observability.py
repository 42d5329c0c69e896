"""Metrics (Prometheus), structured JSON logs and the request id they share.

Each app has its own metrics registry, so several apps in one process (tests) never collide. Code that
records metrics outside a request handler calls the module functions (`record_ingest`, ...); they find the
registry of the app they run under through a context variable that the request middleware and the app
lifespan set, so background tasks started by the lifespan inherit it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Seconds; request latency buckets from 5 ms (a health check) to a minute (a large push or export).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The Prometheus metrics of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.ingest_rows = Counter(
            "focusbase_ingest_rows",
            "Rows received by ingest (push, parts, imports), by outcome: stored or rejected.",
            ["status"],
            registry=self.registry,
        )
        self.batches = Counter(
            "focusbase_batches",
            "Ingest batches reaching a status (received, committed, failed, superseded, reverted, ...).",
            ["status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "focusbase_http_request_duration_seconds",
            "HTTP request latency by method, route template and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "focusbase_rate_limited_requests",
            "Requests answered 429 by the per-key rate limiter, by limit class.",
            ["limit_class"],
            registry=self.registry,
        )

    def watch_batches(self, source: Callable[[], dict[str, int]]) -> Collector:
        """Serve `focusbase_stored_batches{status}` from `source` at each scrape; returns the collector."""
        collector = _StoredBatches(source)
        self.registry.register(collector)
        return collector

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StoredBatches(Collector):
    """Batches per current status, read from the warehouse when Prometheus scrapes."""

    def __init__(self, source: Callable[[], dict[str, int]]) -> None:
        self.source = source

    def describe(self) -> list[Any]:
        return []  # nothing to check at registration; the family is built at scrape time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "focusbase_stored_batches",
            "Ingest batches stored in the warehouse, by current status.",
            labels=["status"],
        )
        try:
            counts = self.source()
        except Exception as exc:  # a scrape must not fail because the warehouse is closing
            logging.getLogger("focusbase.metrics").warning("stored batch counts unavailable: %s", exc)
            counts = {}
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        yield family


_fallback = Metrics()  # used outside any app (scripts, CLI), so recording never fails
_current: ContextVar[Metrics | None] = ContextVar("focusbase_metrics", default=None)
_request_id: ContextVar[str | None] = ContextVar("focusbase_request_id", default=None)


def current_metrics() -> Metrics:
    """The metrics of the app the caller runs under."""
    return _current.get() or _fallback


def use_metrics(metrics: Metrics) -> Token[Metrics | None]:
    """Make `metrics` current for this context (and tasks created from it)."""
    return _current.set(metrics)


def reset_metrics(token: Token[Metrics | None]) -> None:
    """Undo `use_metrics`."""
    _current.reset(token)


def record_ingest(rows: int, status: str) -> None:
    """Count ingested rows by outcome, for example record_ingest(9998, "stored"), (2, "rejected")."""
    if rows:
        current_metrics().ingest_rows.labels(status=status).inc(rows)


def record_batch_status(status: str) -> None:
    """Count a batch reaching a status (call once per transition)."""
    current_metrics().batches.labels(status=status).inc()


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    """Observe one HTTP request's latency."""
    current_metrics().request_seconds.labels(method=method, route=route, status=str(status)).observe(seconds)


def record_rate_limited(limit_class: str) -> None:
    """Count a request refused by the rate limiter."""
    current_metrics().rate_limited.labels(limit_class=limit_class).inc()


def set_request_id(request_id: str | None) -> Token[str | None]:
    """Make `request_id` appear on every log line of this context."""
    return _request_id.set(request_id)


def reset_request_id(token: Token[str | None]) -> None:
    """Undo `set_request_id`."""
    _request_id.reset(token)


def current_request_id() -> str | None:
    """The id of the request being handled, if any."""
    return _request_id.get()


# Attributes every LogRecord has; anything else passed through `extra=` becomes a JSON field.
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, requestId and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "requestId", None) or current_request_id()
        if request_id:
            entry["requestId"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str = "info") -> dict[str, Any]:
    """A logging.config.dictConfig for the server: JSON lines on stderr for focusbase and uvicorn."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {
            "focusbase": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }


def configure_logging(level: str = "info") -> None:
    """Install the JSON log configuration in this process."""
    import logging.config

    logging.config.dictConfig(logging_config(level))
    logging.captureWarnings(True)
    sys.stderr.flush()
