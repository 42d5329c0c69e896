"""Opening a ClickHouse warehouse client from a URL: a server over HTTP, or chDB (the engine embedded)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from focusbase.storage.urls import redact

HTTP_PORTS = {False: 8123, True: 8443}


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


def timed_out(exc: BaseException) -> bool:
    """Whether a query failed for exceeding its max_execution_time (ClickHouse error 159)."""
    return "TIMEOUT_EXCEEDED" in str(exc) or "Code: 159." in str(exc)


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise WarehouseUrlInvalid(f"database name {name!r}: letters, digits and _ only")
    return name
