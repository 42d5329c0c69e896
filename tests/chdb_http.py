"""ClickHouse's HTTP interface over chDB, for tests: several processes share one real ClickHouse engine.

chDB is the ClickHouse engine embedded in a process, and one process opens a chDB path. This module is that
process: it hosts the engine on a directory and answers the requests clickhouse-connect's HTTP client makes
(`clickhouse_connect.get_client(host=..., port=..., database=...)`, what
`storage.clickhouse_client.open_client` returns for `http://host:port/db`), so any number of test processes
reach the same engine over HTTP.

    python -m tests.chdb_http --path DIR [--port N] [--serial]

prints its URL (`http://127.0.0.1:PORT`) on one line once it answers. `running_gateway(path)` starts it as a
subprocess and yields that URL; `chdb_gateway` is a session fixture doing so.

What it emulates of the server (docs/chdb-gateway.md): the SQL in the body, the `query` URL parameter (its
text, then the body, as the server does), bound parameters (`param_<name>`, in the URL or a multipart form),
`database`, `default_format`, every other URL parameter applied as a setting of that one query
(`insert_deduplication_token`, `max_execution_time`, ...); `INSERT ... FORMAT <fmt>` with the data after the
statement, chunked and compressed (lz4, zstd, gzip, deflate) request bodies; errors as the server writes them
(HTTP 500, `X-ClickHouse-Exception-Code`, `Code: N. DB::Exception: ...`), and the response headers the client
reads (`X-ClickHouse-Format`, `-Timezone`, `-Query-Id`, `-Summary`); `/ping`. Responses are never compressed
(the server compresses only when asked, and the client reads what the headers say). Every request runs on a
fresh chDB connection of its own, so settings never leak between requests; sessions (`session_id`) are not
kept, and each response is the whole result, as with `wait_end_of_query=1`.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import gzip
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent

# URL parameters the server's HTTP handler consumes itself: never settings of the query.
TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "http_zlib_compression_level",
    }
)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# An insert with data: the statement ends at its FORMAT name; the data starts after the line break.
INSERT_WITH_DATA = re.compile(rb"^(\s*INSERT\s.*?)\bFORMAT\s+(\w+)[ \t]*(?:\r?\n)?", re.I | re.S)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
RESULT_STATEMENT = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN|CHECK)\b", re.I)
ERROR_CODE = re.compile(r"Code: (\d+)\.")
UNKNOWN_SETTING, NOT_IMPLEMENTED, CANNOT_DECOMPRESS, STD_EXCEPTION = 115, 48, 271, 1001


class QueryFailed(Exception):
    """A request the engine (or the gateway, as the server would) refused: a ClickHouse error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


class Engine:
    """One chDB engine on a directory; each query runs on a connection of its own."""

    def __init__(self, path: str, *, serial: bool = False) -> None:
        import chdb

        self._chdb = chdb
        self.path = path
        self._anchor = chdb.connect(path)  # keeps the engine open between requests
        self.spool = tempfile.mkdtemp(prefix="chdb-gateway-")  # insert data on its way into the engine
        # chDB runs queries of separate connections concurrently; `serial` runs one at a time.
        self._lock: Any = threading.Lock() if serial else nullcontext()
        row = self._anchor.query("SELECT version(), timezone()", "TabSeparated").bytes().decode()
        self.version, self.timezone = row.rstrip("\n").split("\t")

    def run(
        self, sql: bytes, fmt: str, params: dict[str, str], settings: dict[str, str], database: str | None
    ) -> tuple[bytes, dict[str, str]]:
        """The query's output in `fmt` (a FORMAT clause in the SQL wins) and its summary."""
        with self._lock:
            conn = self._chdb.connect(self.path)
            try:
                try:
                    if database:
                        conn.query(f"USE {_identifier(database)}", "TabSeparated")
                    for name, value in settings.items():
                        if not SETTING_NAME.match(name):
                            raise QueryFailed(UNKNOWN_SETTING, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
                        conn.query(f"SET {name} = {_quoted(value)}", "TabSeparated")
                    result = conn.query(sql, fmt, params=params)
                except QueryFailed:
                    raise
                except Exception as exc:  # chDB raises its own error type with the server's text
                    text = str(exc)
                    start = text.find("Code: ")
                    text = text[start:] if start >= 0 else text
                    match = ERROR_CODE.match(text)
                    raise QueryFailed(int(match.group(1)) if match else 1000, text.strip()) from exc
                return result.bytes() or b"", _summary(result)
            finally:
                conn.close()

    def insert(
        self,
        statement: bytes,
        fmt: bytes,
        data: bytes,
        params: dict[str, str],
        settings: dict[str, str],
        database: str | None,
    ) -> tuple[bytes, dict[str, str]]:
        """`INSERT INTO t (...) FORMAT fmt` with `data` after it, all of it or nothing."""
        fd, name = tempfile.mkstemp(suffix=".data", dir=self.spool)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            sql = statement + f" FROM INFILE {_quoted(name)} FORMAT ".encode() + fmt
            output, summary = self.run(sql, "TabSeparated", params, settings, database)
            # What an insert reads from its file is what it writes (a deduplicated block is read too).
            summary.update(written_rows=summary["read_rows"], written_bytes=summary["read_bytes"])
            return output, summary
        finally:
            os.unlink(name)


def _summary(result: Any) -> dict[str, str]:
    read, size, elapsed = result.rows_read(), result.bytes_read(), result.elapsed()
    return {
        "read_rows": str(read),
        "read_bytes": str(size),
        "written_rows": "0",
        "written_bytes": "0",
        "total_rows_to_read": str(read),
        "result_rows": "0",
        "result_bytes": "0",
        "elapsed_ns": str(int(elapsed * 1e9)),
    }


def _decompress(data: bytes, encoding: str) -> bytes:
    """A request body as the client compressed it: one frame per block, frames concatenated."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return data
    try:
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
        if encoding == "zstd":
            from clickhouse_connect.driver.compression import _zstd_decompress

            return _zstd_decompress(data)
        if encoding == "lz4":
            import lz4.frame

            out = bytearray()
            while data:
                frame = lz4.frame.LZ4FrameDecompressor()
                out += frame.decompress(data)
                if not frame.eof:
                    raise ValueError("truncated LZ4 frame")
                data = frame.unused_data
            return bytes(out)
    except Exception as exc:
        raise QueryFailed(
            CANNOT_DECOMPRESS, f"Cannot decompress the request body ({encoding}): {exc}"
        ) from exc
    raise QueryFailed(NOT_IMPLEMENTED, f"Unknown compression method {encoding!r}. (NOT_IMPLEMENTED)")


def _form_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (the client sends long bound parameters this way)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if part.get_filename():
            raise QueryFailed(NOT_IMPLEMENTED, "external data is not supported by the chDB gateway")
        fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


class Handler(BaseHTTPRequestHandler):
    """One HTTP request: parse it as ClickHouse's HTTP handler does, run it, answer as the server does."""

    protocol_version = "HTTP/1.1"
    server: Gateway

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read the client's errors, not an access log

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        try:
            body = self._body()
        except (ConnectionError, ValueError):
            self.close_connection = True  # a client that died mid-body: nothing of it runs
            return
        self._handle(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise ConnectionError("the request body ended before its last chunk")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(chunks)
                chunk = self.rfile.read(size + 2)
                if len(chunk) != size + 2:
                    raise ConnectionError("the request body ended inside a chunk")
                chunks += chunk[:size]
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            raise ConnectionError("the request body ended early")
        return data

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        query_id = ""
        try:
            if url.path.rstrip("/") == "/ping" or (self.command == "GET" and not url.query):
                self._answer(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
                return
            if url.path.strip("/"):
                raise QueryFailed(NOT_IMPLEMENTED, f"There is no handler {url.path}")
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            query_id = params.get("query_id", "")
            body = _decompress(body, self.headers.get("Content-Encoding", ""))
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                fields = _form_fields(content_type, body)
                params.update({k: v.decode() for k, v in fields.items() if k != "query"})
                body = fields.get("query", b"")
            text = params.get("query", "").encode()
            sql = text + b"\n" + body if text and body else text or body
            try:
                self._run(sql, params, query_id)
            except QueryFailed:
                raise
            except Exception as exc:  # the gateway's own failure: answered as the server's std::exception
                raise QueryFailed(STD_EXCEPTION, f"{type(exc).__name__}: {exc}. (STD_EXCEPTION)") from exc
        except QueryFailed as failed:
            message = (
                f"Code: {failed.code}. DB::Exception: {failed}"
                if not str(failed).startswith("Code:")
                else str(failed)
            )
            payload = f"{message} (version {self.server.engine.version} (chDB gateway))\n".encode()
            headers = {
                "Content-Type": "text/plain; charset=UTF-8",
                "X-ClickHouse-Exception-Code": str(failed.code),
                "X-ClickHouse-Query-Id": query_id,
            }
            self._answer(500, payload, headers)

    def _run(self, sql: bytes, params: dict[str, str], query_id: str) -> None:
        bound = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
        settings = {k: v for k, v in params.items() if k not in TRANSPORT and not k.startswith("param_")}
        insert = INSERT_WITH_DATA.match(sql)
        head = (insert.group(0) if insert else sql[:4096]).decode(errors="replace")
        fmt = params.get("default_format", "TabSeparated")
        trailing = None if insert else TRAILING_FORMAT.search(sql[-200:].decode(errors="replace"))
        if trailing:
            fmt = trailing.group(1)
        database = params.get("database")
        if insert:
            # chDB does not take binary data inline in the query text: the statement reads it from a file.
            output, summary = self.server.engine.insert(
                insert.group(1), insert.group(2), sql[insert.end() :], bound, settings, database
            )
        else:
            output, summary = self.server.engine.run(sql, fmt, bound, settings, database)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.server.engine.timezone,
            "X-ClickHouse-Summary": json.dumps(summary),
        }
        if trailing or (not insert and RESULT_STATEMENT.match(head)):
            headers["X-ClickHouse-Format"] = fmt
        self._answer(200, output, headers)

    def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (ConnectionError, OSError):
            self.close_connection = True


class Gateway(ThreadingHTTPServer):
    """The HTTP server and the engine it serves."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, path: str, port: int = 0, *, serial: bool = False) -> None:
        self.engine = Engine(path, serial=serial)
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def running_gateway(path: Path | str, *, port: int = 0, serial: bool = False) -> Iterator[str]:
    """Start the gateway on `path` in a process of its own; yield its URL; stop it after."""
    command = [sys.executable, "-m", "tests.chdb_http", "--path", str(path), "--port", str(port)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [*command, *(["--serial"] if serial else [])], stdout=subprocess.PIPE, cwd=REPO, env=env
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://"):
            raise RuntimeError(f"the chDB gateway did not start (exit {process.poll()}): {line!r}")
        yield line
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="session")
def chdb_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a gateway process on a chDB directory of the session; stopped after the session."""
    pytest.importorskip("chdb")
    pytest.importorskip("clickhouse_connect")
    with running_gateway(tmp_path_factory.mktemp("chdb-gateway")) as url:
        yield url


def main(argv: list[str] | None = None) -> None:
    """Serve a chDB directory over ClickHouse's HTTP interface until stopped."""
    parser = argparse.ArgumentParser(prog="python -m tests.chdb_http", description=main.__doc__)
    parser.add_argument("--path", required=True, help="the chDB directory (created if missing)")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--serial", action="store_true", help="run one query at a time")
    args = parser.parse_args(argv)
    Path(args.path).mkdir(parents=True, exist_ok=True)
    server = Gateway(args.path, args.port, serial=args.serial)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped as by Ctrl-C: the spool is removed
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        shutil.rmtree(server.engine.spool, ignore_errors=True)


if __name__ == "__main__":
    main()
