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


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def presented_keys(request: Request) -> list[str]:
    """Every key the request presents (Authorization: Bearer, X-API-Key); 401 for a malformed one."""
    # An empty header presents nothing; anything else in either header must be a valid key.
    keys = []
    auth = (request.headers.get("authorization") or "").strip()
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must read `Bearer <key>`")
        keys.append(token.strip())
    api_key = (request.headers.get("x-api-key") or "").strip()
    if api_key:
        keys.append(api_key)
    return keys


def principal_of(request: Request, runtime: Runtime) -> Principal:
    """The one principal every credential of the request names; 401 when any is missing or invalid.

    A request may send its key in both headers, but then both must hold the same valid key: one valid
    credential never excuses an invalid or different one.
    """
    keys = presented_keys(request)
    if not keys:
        raise _unauthorized("authentication required: send Authorization: Bearer <key> or X-API-Key: <key>")
    principals = []
    for raw in keys:
        principal = authenticate_key(runtime.catalog, raw)
        if principal is None:
            raise _unauthorized("invalid or revoked API key")
        principals.append(principal)
    if len({p.key_id for p in principals}) > 1:
        raise _unauthorized("Authorization and X-API-Key name different keys; send one key")
    return principals[0]


def authenticate(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>` or `X-API-Key: <key>`; 401 otherwise."""
    principal = principal_of(request, runtime)
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
