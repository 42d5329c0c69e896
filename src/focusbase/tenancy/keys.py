"""API keys: random, prefixed, stored only as hashes, verified in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from focusbase.storage import Catalog
from focusbase.storage import keys as key_store
from focusbase.storage.keys import KeyRecord
from focusbase.tenancy.principal import SCOPES, Principal

KEY_PREFIX = "fbk"  # every key reads fbk_<key id>_<secret>
KINDS = ("api", "ingest")
LAST_USED_RESOLUTION = timedelta(minutes=1)  # lastUsedAt is exact to this


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key as created: the only time its full text exists."""

    id: str
    key: str
    workspace_id: str
    name: str
    scopes: tuple[str, ...]
    provider_ids: tuple[str, ...] | None
    kind: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def prepare_key(
    *,
    workspace_id: str,
    name: str,
    scopes: list[str],
    provider_ids: list[str] | None = None,
    kind: str = "api",
) -> tuple[NewKey, KeyRecord]:
    """Generate a key: its text (shown once) and the record to store (the secret only as a hash)."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {scopes}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    key_id = "key_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    clean_scopes = tuple(sorted(set(scopes)))
    clean_providers = tuple(sorted(set(provider_ids))) if provider_ids is not None else None
    record = KeyRecord(
        key_id=key_id,
        workspace_id=workspace_id,
        name=name,
        kind=kind,
        scopes=orjson.dumps(clean_scopes).decode(),
        provider_ids=orjson.dumps(clean_providers).decode() if clean_providers is not None else None,
        secret_hash=_hash(secret),
    )
    new = NewKey(
        id=key_id,
        key=f"{KEY_PREFIX}_{key_id}_{secret}",
        workspace_id=workspace_id,
        name=name,
        scopes=clean_scopes,
        provider_ids=clean_providers,
        kind=kind,
    )
    return new, record


def create_key(
    catalog: Catalog,
    *,
    workspace_id: str,
    name: str,
    scopes: list[str],
    provider_ids: list[str] | None = None,
    kind: str = "api",
) -> NewKey:
    """Create a key and return its text once; only the hash of the secret is stored."""
    new, record = prepare_key(
        workspace_id=workspace_id, name=name, scopes=scopes, provider_ids=provider_ids, kind=kind
    )
    key_store.insert_key(
        catalog,
        key_id=record.key_id,
        workspace_id=record.workspace_id,
        name=record.name,
        kind=record.kind,
        scopes=record.scopes,
        provider_ids=record.provider_ids,
        secret_hash=record.secret_hash,
    )
    return new


def authenticate_key(catalog: Catalog, raw: str) -> Principal | None:
    """The principal for a key text, or None when it is malformed, unknown, revoked or wrong."""
    parts = raw.strip().split("_")
    # fbk _ key _ <hex> _ <secret, which may itself contain "_">
    if len(parts) < 4 or parts[0] != KEY_PREFIX or parts[1] != "key":
        return None
    key_id = f"key_{parts[2]}"
    secret = "_".join(parts[3:])
    row = key_store.get_key(catalog, key_id)
    if row is None or row["revoked_at"] is not None:
        # Still hash, so unknown ids cost the same as wrong secrets.
        hmac.compare_digest(_hash(secret), "0" * 64)
        return None
    if not hmac.compare_digest(_hash(secret), row["secret_hash"]):
        return None
    _record_use(catalog, key_id, row["last_used_at"])
    return _principal(key_id, row)


def principal_for_key_id(catalog: Catalog, key_id: str) -> Principal | None:
    """The principal of a key already verified once (a web session holds its id), or None once revoked."""
    row = key_store.get_key(catalog, key_id)
    if row is None or row["revoked_at"] is not None:
        return None
    _record_use(catalog, key_id, row["last_used_at"])
    return _principal(key_id, row)


def _principal(key_id: str, row: Any) -> Principal:
    provider_ids = row["provider_ids"]
    return Principal(
        key_id=key_id,
        workspace_id=row["workspace_id"],
        kind=row["kind"],
        scopes=frozenset(orjson.loads(row["scopes"])),
        provider_ids=frozenset(orjson.loads(provider_ids)) if provider_ids is not None else None,
    )


def _record_use(catalog: Catalog, key_id: str, last_used_at: str | None) -> None:
    # At most one catalog write per key per LAST_USED_RESOLUTION, not one per request.
    threshold = (datetime.now(UTC) - LAST_USED_RESOLUTION).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if last_used_at is None or last_used_at < threshold:
        key_store.touch_key(catalog, key_id, older_than=threshold)


def list_keys(catalog: Catalog, workspace_id: str) -> list[dict[str, Any]]:
    """Keys of a workspace without secrets."""
    return [_public(row) for row in key_store.list_keys(catalog, workspace_id)]


def revoke_key(catalog: Catalog, workspace_id: str, key_id: str) -> bool:
    """Revoke a key at once; False when the workspace has no such active key."""
    return key_store.revoke_key(catalog, workspace_id, key_id)


def get_key(catalog: Catalog, key_id: str) -> dict[str, Any] | None:
    """One key without its secret (any workspace: for the operator's CLI), or None."""
    row = key_store.get_key(catalog, key_id)
    return _public(row) if row is not None else None


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "scopes": orjson.loads(row["scopes"]),
        "providerIds": orjson.loads(row["provider_ids"]) if row["provider_ids"] is not None else None,
        "workspaceId": row["workspace_id"],
        "prefix": f"{KEY_PREFIX}_{row['id']}_",
        "createdAt": row["created_at"],
        "lastUsedAt": row["last_used_at"],
        "revokedAt": row["revoked_at"],
    }
