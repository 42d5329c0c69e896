"""One HTTP POST of a webhook: to the checked address, bounded in time and response size, no redirects."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from focusbase import __version__
from focusbase.notify.destinations import Destination

USER_AGENT = f"focusbase-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class Response:
    """What came back: the HTTP status (None when none came), the start of the body, or the error."""

    status: int | None
    body: str
    error: str | None
    duration_ms: int
    retry_after: float | None = None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    # Connects to the address the SSRF check approved, whatever the name resolves to now.
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, destination: Destination, timeout: float) -> None:
        super().__init__(
            destination.host, destination.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = destination.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def post(
    destination: Destination,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    max_response_bytes: int,
) -> Response:
    """POST `body`; a 3xx is returned as it is (never followed). Reads at most `max_response_bytes`."""
    started = time.monotonic()
    deadline = started + timeout
    conn: http.client.HTTPConnection
    if destination.scheme == "https":
        conn = _PinnedHTTPSConnection(destination, timeout)
    else:
        conn = _PinnedHTTPConnection(destination, timeout)
    # The socket timeout bounds each read; the timer bounds the whole attempt (a receiver that drips bytes).
    expired = threading.Event()
    watchdog = threading.Timer(timeout, _abort, args=(conn, expired))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request(
            "POST",
            destination.target,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        answer = conn.getresponse()
        if expired.is_set():
            # Cut off before the headers ended: what was parsed is not an answer.
            return Response(
                None, "", f"timed out after {timeout:g} s", int((time.monotonic() - started) * 1000)
            )
        chunks: list[bytes] = []
        size = 0
        while size < max_response_bytes and time.monotonic() < deadline:
            chunk = answer.read1(min(65536, max_response_bytes - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        text = b"".join(chunks)[:max_response_bytes].decode("utf-8", "replace")
        return Response(
            answer.status,
            text,
            None,
            int((time.monotonic() - started) * 1000),
            _retry_after(answer.getheader("Retry-After")),
        )
    except TimeoutError:
        return Response(None, "", f"timed out after {timeout:g} s", int((time.monotonic() - started) * 1000))
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            return Response(
                None, "", f"timed out after {timeout:g} s", int((time.monotonic() - started) * 1000)
            )
        message = f"{type(exc).__name__}: {exc}"[:300]
        return Response(None, "", message, int((time.monotonic() - started) * 1000))
    finally:
        watchdog.cancel()
        conn.close()
