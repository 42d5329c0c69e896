"""Request dependencies: the runtime, the settings and the authenticated principal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from focusbase.api.errors import ApiError
from focusbase.runtime import Runtime
from focusbase.tenancy.keys import authenticate_key
from focusbase.tenancy.principal import Principal


def get_runtime(request: Request) -> Runtime:
    """The process runtime opened by the lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = request.headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


def authenticate(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>` or `X-API-Key: <key>`; 401 otherwise."""
    raw = _presented_key(request)
    if raw is None:
        raise ApiError(
            401,
            "unauthorized",
            "authentication required: send Authorization: Bearer <key> or X-API-Key: <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = authenticate_key(runtime.catalog, raw)
    if principal is None:
        raise ApiError(
            401, "unauthorized", "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    request.state.principal = principal
    return principal


def require_scope(scope: str) -> Callable[..., Principal]:
    """A dependency that authenticates and demands a scope (admin implies all); 403 otherwise."""

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        refusal = principal.scope_refusal(scope)
        if refusal is not None:
            raise ApiError(403, "forbidden", refusal)
        return principal

    return dependency
