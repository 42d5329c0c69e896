"""HTTP routes: API keys of the caller's workspace (admin scope)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.runtime import Runtime
from focusbase.tenancy.apikeys import (
    KeyRequestForbidden,
    KeyRequestInvalid,
    create_api_key,
    list_visible_keys,
    revoke_visible_key,
)
from focusbase.tenancy.principal import Principal
from focusbase.tenancy.providers import MAX_NAME_LENGTH

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])

Admin = Annotated[Principal, Depends(require_scope("admin"))]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (the error envelope)."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the admin scope, or asks for more than it has."},
}


class KeyCreate(BaseModel):
    """A new API key."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        description="What the key is for.", min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"\S"
    )
    scopes: list[Literal["admin", "read", "ingest"]] = Field(
        description="admin implies read and ingest.", min_length=1
    )
    providerIds: list[str] | None = Field(
        None,
        description="Limit the key to these providers; omit for every provider of the workspace.",
        min_length=1,
    )


class KeyCreated(BaseModel):
    """A new key; `key` is shown in this response only."""

    id: str
    key: str
    name: str
    scopes: list[str]
    providerIds: list[str] | None


class KeyOut(BaseModel):
    """A key without its secret."""

    id: str
    name: str
    kind: str
    scopes: list[str]
    providerIds: list[str] | None
    workspaceId: str
    prefix: str
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None


class KeyList(BaseModel):
    """The workspace's keys, revoked ones included."""

    keys: list[KeyOut]


@router.post("", status_code=201, response_model=KeyCreated, responses=_ERRORS)
def create(body: KeyCreate, principal: Admin, runtime: RuntimeDep) -> KeyCreated:
    """Create an API key in the caller's workspace; the key text is shown this once."""
    try:
        new = create_api_key(
            runtime.catalog,
            principal,
            name=body.name,
            scopes=list(body.scopes),
            provider_ids=body.providerIds,
        )
    except KeyRequestInvalid as exc:
        raise ApiError(400, "invalid_request", str(exc)) from exc
    except KeyRequestForbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    return KeyCreated(
        id=new.id,
        key=new.key,
        name=new.name,
        scopes=list(new.scopes),
        providerIds=list(new.provider_ids) if new.provider_ids is not None else None,
    )


@router.get("", response_model=KeyList, responses=_ERRORS)
def list_all(principal: Admin, runtime: RuntimeDep) -> KeyList:
    """The workspace's keys, without secrets."""
    return KeyList(keys=[KeyOut(**key) for key in list_visible_keys(runtime.catalog, principal)])


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    responses={**_ERRORS, 404: {"description": "No such active key in this workspace."}},
)
def revoke(
    key_id: Annotated[str, Path(description="The key id (key_...).")], principal: Admin, runtime: RuntimeDep
) -> Response:
    """Revoke a key; it stops working at once."""
    if not revoke_visible_key(runtime.catalog, principal, key_id):
        raise ApiError(404, "not_found", f"no active key {key_id} in this workspace")
    return Response(status_code=204)
