"""The outermost request wrapper: request id, access log line, latency metric and rate-limit headers."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from focusbase.api.errors import error_body
from focusbase.observability import (
    Metrics,
    record_request,
    reset_metrics,
    reset_request_id,
    set_request_id,
    use_metrics,
)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("focusbase.access")
error_log = logging.getLogger("focusbase.errors")


def request_id_from(headers: Headers) -> str:
    """The caller's X-Request-Id when it is a sane token, else a new random id."""
    incoming = headers.get(REQUEST_ID_HEADER)
    if incoming and _VALID_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives each HTTP request an id (echoed in X-Request-Id), logs it as one JSON line and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        metrics_token = use_metrics(self.metrics)
        request_token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in (state.get("rate_limit_headers") or {}).items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            error_log.exception(
                "unhandled error in %s %s", scope["method"], scope["path"], extra={"requestId": request_id}
            )
            if response_started:
                raise  # a response is half sent: only dropping the connection tells the client
            # An ordinary 500 response: re-raising would make the server reset the keep-alive connection and
            # fail the client's next request too. The log line above has the cause under the request id.
            body = error_body("internal_error", "internal server error", {"requestId": request_id})
            await JSONResponse(body, status_code=500)(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            record_request(scope["method"], template, status, seconds)
            principal = state.get("principal")
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "requestId": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "durationMs": round(seconds * 1000, 3),
                    "keyId": getattr(principal, "key_id", None),
                },
            )
            reset_request_id(request_token)
            reset_metrics(metrics_token)
