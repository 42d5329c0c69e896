"""HTTP routes: webhook endpoints, secret rotation, test sends and the delivery log (admin scope)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from focusbase.api.deps import get_runtime, require_scope
from focusbase.api.errors import ApiError
from focusbase.notify import endpoints as service
from focusbase.notify.events import EVENT_TYPES
from focusbase.runtime import Runtime
from focusbase.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


def _whole_workspace(principal: Annotated[Principal, Depends(require_scope("admin"))]) -> Principal:
    # Events report on every provider of the workspace: a key limited to some providers may not subscribe.
    if principal.provider_ids is not None:
        raise ApiError(403, "forbidden", "a key limited to some providers cannot manage webhooks")
    return principal


Admin = Annotated[Principal, Depends(_whole_workspace)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
EndpointId = Annotated[str, Path(description="The webhook endpoint id (whk_...).", max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (the error envelope); `details.field` names the field."},
    401: {"description": "Missing or invalid API key."},
    403: {"description": "The key lacks the admin scope, or is limited to some providers."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such endpoint in this workspace."}}
_EVENTS_TEXT = "Event types to deliver: " + ", ".join(EVENT_TYPES) + "."


class WebhookCreate(BaseModel):
    """A new webhook endpoint."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="http(s) URL that receives POSTed events.", max_length=2048)
    events: list[str] = Field(
        description=_EVENTS_TEXT,
        max_length=50,
        json_schema_extra={"minItems": 1, "items": {"enum": list(EVENT_TYPES)}},
    )
    description: str = Field("", max_length=500)


class WebhookPatch(BaseModel):
    """Changes to an endpoint; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2048)
    events: list[str] | None = Field(
        None,
        description=_EVENTS_TEXT,
        max_length=50,
        json_schema_extra={"minItems": 1, "items": {"enum": list(EVENT_TYPES)}},
    )
    enabled: bool | None = Field(None, description="false pauses deliveries; true resumes pending ones.")
    description: str | None = Field(None, max_length=500)


class WebhookOut(BaseModel):
    """A webhook endpoint (its secret is only ever shown on creation and rotation)."""

    id: str
    url: str
    description: str
    events: list[str]
    enabled: bool
    disabledReason: str | None
    previousSecretExpiresAt: str | None = Field(
        description="Until then deliveries also carry a signature with the previous secret."
    )
    createdAt: str
    updatedAt: str


class WebhookWithSecret(WebhookOut):
    """An endpoint with its signing secret, shown in this response only."""

    secret: str = Field(description="whsec_<base64>: verify the webhook-signature header with it.")


class WebhookList(BaseModel):
    """The workspace's webhook endpoints."""

    webhooks: list[WebhookOut]


class TestSent(BaseModel):
    """A test event was queued for the endpoint."""

    eventId: str = Field(description="The webhook-id the delivery carries.")


class AttemptOut(BaseModel):
    """One delivery attempt."""

    deliveryId: str
    eventId: str
    eventType: str
    attempt: int
    attemptedAt: str
    statusCode: int | None
    durationMs: int
    response: str | None = Field(description="The start of the receiver's answer (truncated).")
    error: str | None
    outcome: str = Field(description="succeeded, retrying, failed (given up) or disabled (410 Gone).")
    nextAttemptAt: str | None


class DeliveryLog(BaseModel):
    """An endpoint's delivery attempts, newest first."""

    webhookId: str
    deliveries: dict[str, int] = Field(description="Deliveries per status: pending, succeeded, failed.")
    attempts: list[AttemptOut]
    nextPageToken: str | None


def _out(endpoint: service.Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "previousSecretExpiresAt": endpoint.previous_secret_expires_at,
        "createdAt": endpoint.created_at,
        "updatedAt": endpoint.updated_at,
    }


def _invalid(exc: service.InvalidEndpoint) -> ApiError:
    return ApiError(400, exc.code, str(exc), details={"field": exc.field})


def _not_found(endpoint_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no webhook endpoint {endpoint_id} in this workspace")


@router.post("", status_code=201, response_model=WebhookWithSecret, responses=_ERRORS)
def create(body: WebhookCreate, principal: Admin, runtime: RuntimeDep) -> WebhookWithSecret:
    """Create an endpoint; the response carries its signing secret, shown this once."""
    try:
        endpoint, secret = service.create_endpoint(
            runtime,
            principal.workspace_id,
            url=body.url,
            event_types=body.events,
            description=body.description,
        )
    except service.InvalidEndpoint as exc:
        raise _invalid(exc) from exc
    return WebhookWithSecret(**_out(endpoint), secret=secret)


@router.get("", response_model=WebhookList, responses=_ERRORS)
def list_all(principal: Admin, runtime: RuntimeDep) -> WebhookList:
    """The workspace's webhook endpoints."""
    return WebhookList(
        webhooks=[WebhookOut(**_out(e)) for e in service.list_endpoints(runtime, principal.workspace_id)]
    )


@router.get("/{webhook_id}", response_model=WebhookOut, responses={**_ERRORS, **_NOT_FOUND})
def get_one(webhook_id: EndpointId, principal: Admin, runtime: RuntimeDep) -> WebhookOut:
    """One endpoint."""
    endpoint = service.get_endpoint(runtime, principal.workspace_id, webhook_id)
    if endpoint is None:
        raise _not_found(webhook_id)
    return WebhookOut(**_out(endpoint))


@router.patch("/{webhook_id}", response_model=WebhookOut, responses={**_ERRORS, **_NOT_FOUND})
def patch(webhook_id: EndpointId, body: WebhookPatch, principal: Admin, runtime: RuntimeDep) -> WebhookOut:
    """Change an endpoint's URL, events, description or enabled flag."""
    try:
        endpoint = service.update_endpoint(
            runtime,
            principal.workspace_id,
            webhook_id,
            url=body.url,
            event_types=body.events,
            enabled=body.enabled,
            description=body.description,
        )
    except service.InvalidEndpoint as exc:
        raise _invalid(exc) from exc
    if endpoint is None:
        raise _not_found(webhook_id)
    return WebhookOut(**_out(endpoint))


@router.delete("/{webhook_id}", status_code=204, responses={**_ERRORS, **_NOT_FOUND})
def delete(webhook_id: EndpointId, principal: Admin, runtime: RuntimeDep) -> Response:
    """Delete an endpoint with its pending deliveries and its log."""
    if not service.delete_endpoint(runtime, principal.workspace_id, webhook_id):
        raise _not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    status_code=201,
    response_model=WebhookWithSecret,
    responses={**_ERRORS, **_NOT_FOUND},
)
def rotate(webhook_id: EndpointId, principal: Admin, runtime: RuntimeDep) -> WebhookWithSecret:
    """Issue a new secret; the previous one also signs deliveries until previousSecretExpiresAt."""
    rotated = service.rotate_secret(runtime, principal.workspace_id, webhook_id)
    if rotated is None:
        raise _not_found(webhook_id)
    endpoint, secret = rotated
    return WebhookWithSecret(**_out(endpoint), secret=secret)


@router.post(
    "/{webhook_id}/test",
    status_code=202,
    response_model=TestSent,
    responses={**_ERRORS, **_NOT_FOUND, 409: {"description": "The endpoint is disabled."}},
)
def test_send(webhook_id: EndpointId, principal: Admin, runtime: RuntimeDep) -> TestSent:
    """Queue a `webhook.test` event for this endpoint; watch its delivery in the log."""
    endpoint = service.get_endpoint(runtime, principal.workspace_id, webhook_id)
    if endpoint is None:
        raise _not_found(webhook_id)
    if not endpoint.enabled:
        raise ApiError(409, "webhook_disabled", f"webhook endpoint {webhook_id} is disabled; enable it first")
    event_id = service.send_test(runtime, principal.workspace_id, webhook_id)
    if event_id is None:
        raise _not_found(webhook_id)
    return TestSent(eventId=event_id)


def _page_token(attempt_id: int) -> str:
    return base64.urlsafe_b64encode(f"a{attempt_id}".encode()).decode().rstrip("=")


def _before_id(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("a"):
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            400,
            "invalid_page_token",
            "pageToken is not a token this endpoint returned",
            {"field": "pageToken"},
        ) from None


@router.get("/{webhook_id}/deliveries", response_model=DeliveryLog, responses={**_ERRORS, **_NOT_FOUND})
def deliveries(
    webhook_id: EndpointId,
    principal: Admin,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Attempts per page.")] = 100,
    pageToken: Annotated[
        str | None, Query(max_length=64, description="nextPageToken of the last page.")
    ] = None,
) -> DeliveryLog:
    """The endpoint's delivery log: every attempt with status, duration, response start and next attempt."""
    if service.get_endpoint(runtime, principal.workspace_id, webhook_id) is None:
        raise _not_found(webhook_id)
    attempts, counts = service.delivery_log(runtime, webhook_id, before_id=_before_id(pageToken), limit=limit)
    token = _page_token(attempts[-1].id) if len(attempts) == limit else None
    return DeliveryLog(
        webhookId=webhook_id,
        deliveries=counts,
        attempts=[
            AttemptOut(
                deliveryId=a.delivery_id,
                eventId=a.event_id,
                eventType=a.event_type,
                attempt=a.attempt,
                attemptedAt=a.attempted_at,
                statusCode=a.status_code,
                durationMs=a.duration_ms,
                response=a.response,
                error=a.error,
                outcome=a.outcome,
                nextAttemptAt=a.next_attempt_at,
            )
            for a in attempts
        ],
        nextPageToken=token,
    )
