"""Managing API keys on behalf of a caller: what an admin key may create, see and revoke."""

from __future__ import annotations

from typing import Any

from focusbase.storage import Catalog
from focusbase.tenancy.keys import NewKey, create_key, list_keys, revoke_key
from focusbase.tenancy.principal import SCOPES, Principal
from focusbase.tenancy.providers import MAX_NAME_LENGTH, list_providers


class KeyRequestInvalid(ValueError):
    """A key request that cannot be accepted as given."""


class KeyRequestForbidden(PermissionError):
    """A key request the caller's own key does not allow."""


def _visible(principal: Principal, key: dict[str, Any]) -> bool:
    # A caller limited to some providers sees only keys limited to (a subset of) the same providers.
    if principal.provider_ids is None:
        return True
    limited = key["providerIds"]
    return limited is not None and set(limited) <= principal.provider_ids


def create_api_key(
    catalog: Catalog, principal: Principal, *, name: str, scopes: list[str], provider_ids: list[str] | None
) -> NewKey:
    """Create a key in the caller's workspace; it never grants more providers than the caller has."""
    clean_name = name.strip()
    if not clean_name or len(clean_name) > MAX_NAME_LENGTH:
        raise KeyRequestInvalid(f"name must have 1 to {MAX_NAME_LENGTH} characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise KeyRequestInvalid(f"scopes must be a non-empty list of {', '.join(SCOPES)}; got {scopes}")
    if principal.provider_ids is not None:
        if provider_ids is None:
            raise KeyRequestForbidden(
                "a key limited to some providers can only create keys limited the same way"
            )
        beyond = sorted(set(provider_ids) - principal.provider_ids)
        if beyond:
            raise KeyRequestForbidden(f"this key has no access to provider(s) {', '.join(beyond)}")
    if provider_ids is not None:
        if not provider_ids:
            raise KeyRequestInvalid("providerIds must list at least one provider (omit it for all providers)")
        known = {p.id for p in list_providers(catalog, principal.workspace_id)}
        missing = sorted(set(provider_ids) - known)
        if missing:
            raise KeyRequestInvalid(f"unknown provider(s) {', '.join(missing)} in this workspace")
    return create_key(
        catalog,
        workspace_id=principal.workspace_id,
        name=clean_name,
        scopes=scopes,
        provider_ids=provider_ids,
        kind="api",
    )


def list_visible_keys(catalog: Catalog, principal: Principal) -> list[dict[str, Any]]:
    """The keys of the caller's workspace that the caller may see, without secrets."""
    return [key for key in list_keys(catalog, principal.workspace_id) if _visible(principal, key)]


def revoke_visible_key(catalog: Catalog, principal: Principal, key_id: str) -> bool:
    """Revoke a key the caller may see; False when there is no such active key."""
    if not any(
        key["id"] == key_id and key["revokedAt"] is None for key in list_visible_keys(catalog, principal)
    ):
        return False
    return revoke_key(catalog, principal.workspace_id, key_id)
