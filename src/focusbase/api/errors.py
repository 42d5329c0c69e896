"""One error envelope everywhere: {"code", "message", "details"}."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """An error with an HTTP status, a stable machine-readable code and a human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.extra = extra or {}


def error_body(code: str, message: str, details: Any = None, **extra: Any) -> dict[str, Any]:
    """The error envelope. `details` is a string (or null) as the FOCUS API's Error schema requires."""
    if details is not None and not isinstance(details, str):
        details = orjson.dumps(details).decode()
    return {"code": code, "message": message, "details": details, **extra}


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(err.code, err.message, err.details, **err.extra),
        status_code=err.status,
        headers=err.headers,
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at this path (HEAD with GET), sorted."""
    matching = [
        context
        for context in routing.iter_route_contexts(app.routes)
        if getattr(context, "path_regex", None) is not None and context.path_regex.match(path)
    ]
    # A literal path (/anomalies/detect) is its own resource even where a template (/anomalies/{id}) also
    # matches it: its methods are the ones the document lists for it.
    literal = [context for context in matching if "{" not in getattr(context, "path_format", "{")]
    methods: set[str] = set()
    for context in literal or matching:
        methods |= set(getattr(context, "methods", None) or ())
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Route every error the app can raise through the one envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the methods of the first route matching the path; list them all.
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.url.path))}
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = problems[0] if problems else {"location": "request", "message": "invalid"}
        message = f"invalid request: {first['location']}: {first['message']}"
        # The FOCUS API documents 400 for invalid parameters; bodies that do not parse are 400 too.
        return JSONResponse(error_body("invalid_request", message, problems), status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        return JSONResponse(
            error_body("internal_error", "internal server error", {"requestId": request_id}), status_code=500
        )
