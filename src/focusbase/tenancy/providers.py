"""Providers: a named source of cost data in a workspace, with its ingest key and ingest URL."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pycountry

from focusbase.storage import Catalog
from focusbase.storage import providers as provider_store
from focusbase.storage.ingest_store import IngestStore
from focusbase.tenancy.keys import NewKey, prepare_key

MAX_NAME_LENGTH = 200


class InvalidProvider(ValueError):
    """A provider field that cannot be accepted; `field` names it as it appears in the API."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class ProviderHasData(Exception):
    """Deleting a provider that still has stored rows needs an explicit confirmation."""

    def __init__(self, provider_id: str, counts: dict[str, int]) -> None:
        self.provider_id = provider_id
        self.counts = counts
        self.rows = sum(counts.values())
        super().__init__(
            f"provider {provider_id} has {self.rows} stored rows ({counts.get('cost', 0)} cost and usage,"
            f" {counts.get('contractCommitment', 0)} contract commitment, every version); deleting it deletes"
            " them: repeat the request with ?confirm=true"
        )


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider of cost data; its id is also the connectionId of its ingest URL."""

    id: str
    workspace_id: str
    name: str
    default_currency: str
    ingest_key_id: str | None
    created_at: str
    updated_at: str
    deleted_at: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedProvider:
    """A new provider and its ingest key, whose text exists only here."""

    provider: Provider
    ingest_key: NewKey


def _provider(row: Any) -> Provider:
    return Provider(
        id=row["id"],
        workspace_id=row["workspace_id"],
        name=row["name"],
        default_currency=row["default_currency"],
        ingest_key_id=row["ingest_key_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
    )


def validate_currency(code: str) -> str:
    """The ISO 4217 alphabetic code, upper-cased; ValueError when it is not one."""
    clean = code.strip().upper()
    if len(clean) != 3 or not clean.isalpha() or pycountry.currencies.get(alpha_3=clean) is None:
        raise InvalidProvider(
            "defaultCurrency", f"{code!r} is not an ISO 4217 currency code (for example USD, EUR, GBP)"
        )
    return clean


def validate_name(name: str) -> str:
    """A provider display name: stripped, 1..200 characters; ValueError otherwise."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_LENGTH:
        raise InvalidProvider("name", f"name must have 1 to {MAX_NAME_LENGTH} characters")
    return clean


def ingest_url(base_url: str, provider_id: str) -> str:
    """Where the provider's rows are pushed."""
    return f"{base_url.rstrip('/')}/api/v1/public/ingest/focus/{provider_id}"


def _ingest_key(workspace_id: str, provider_id: str, name: str) -> tuple[NewKey, Any]:
    return prepare_key(
        workspace_id=workspace_id,
        name=f"ingest: {name}",
        scopes=["ingest"],
        provider_ids=[provider_id],
        kind="ingest",
    )


def create_provider(
    catalog: Catalog, workspace_id: str, *, name: str, default_currency: str
) -> CreatedProvider:
    """Create a provider and its ingest key (kind ingest, limited to this provider) atomically."""
    clean_name = validate_name(name)
    currency = validate_currency(default_currency)
    provider_id = "prv_" + secrets.token_hex(8)
    new_key, record = _ingest_key(workspace_id, provider_id, clean_name)
    row = provider_store.insert_provider(
        catalog,
        provider_id=provider_id,
        workspace_id=workspace_id,
        name=clean_name,
        default_currency=currency,
        ingest_key=record,
    )
    return CreatedProvider(provider=_provider(row), ingest_key=new_key)


def get_provider(catalog: Catalog, workspace_id: str, provider_id: str) -> Provider | None:
    """The live (not deleted) provider of this workspace, or None."""
    row = provider_store.get_provider(catalog, workspace_id, provider_id)
    return _provider(row) if row is not None else None


def list_providers(
    catalog: Catalog, workspace_id: str, provider_ids: frozenset[str] | None = None
) -> list[Provider]:
    """The workspace's live providers, optionally only those in `provider_ids`, oldest first."""
    providers = [_provider(row) for row in provider_store.list_providers(catalog, workspace_id)]
    if provider_ids is None:
        return providers
    return [p for p in providers if p.id in provider_ids]


def update_provider(
    catalog: Catalog,
    workspace_id: str,
    provider_id: str,
    *,
    name: str | None = None,
    default_currency: str | None = None,
) -> Provider | None:
    """Rename a provider or change its default currency; None when it does not exist."""
    changes: dict[str, str] = {}
    if name is not None:
        changes["name"] = validate_name(name)
    if default_currency is not None:
        changes["default_currency"] = validate_currency(default_currency)
    row = provider_store.update_provider(catalog, workspace_id, provider_id, changes)
    return _provider(row) if row is not None else None


def rotate_ingest_key(catalog: Catalog, workspace_id: str, provider_id: str) -> NewKey | None:
    """A new ingest key for the provider; the old one stops working at once. None: no such provider."""
    provider = get_provider(catalog, workspace_id, provider_id)
    if provider is None:
        return None
    new_key, record = _ingest_key(workspace_id, provider_id, provider.name)
    row = provider_store.replace_ingest_key(catalog, workspace_id, provider_id, record)
    return new_key if row is not None else None


def delete_provider(
    catalog: Catalog, store: IngestStore, workspace_id: str, provider_id: str, *, confirm: bool
) -> dict[str, Any] | None:
    """Delete a provider (soft) with its ingest key and, when confirmed, every row it stored.

    None when the provider does not exist; ProviderHasData when it has rows and `confirm` is false. The rows
    and a tombstone go in one warehouse transaction before the catalog records the deletion; a crash between
    the two is finished by `finish_deletions` on the next start.
    """
    if get_provider(catalog, workspace_id, provider_id) is None:
        return None
    counts = store.stored_row_counts(workspace_id, provider_id)
    if sum(counts.values()) and not confirm:
        raise ProviderHasData(provider_id, counts)
    # Rows and tombstone first, in one atomic step of the warehouse that no batch commit interleaves with
    # (a commit checks the tombstone); only then the catalog. A crash between them leaves a tombstone that
    # `finish_deletions` completes on the next start.
    tombstone = store.tombstone_provider(workspace_id, provider_id)
    if not provider_store.mark_deleted(catalog, workspace_id, provider_id, tombstone.deleted_at):
        return None  # another request completed the deletion
    return {
        "rows": tombstone.cost_rows + tombstone.contract_commitment_rows,
        "cost": tombstone.cost_rows,
        "contractCommitment": tombstone.contract_commitment_rows,
        "deletedAt": tombstone.deleted_at,
    }


@dataclass(frozen=True, slots=True)
class FinishedDeletions:
    """What `finish_deletions` completed."""

    interrupted: list[str]  # providers tombstoned in the warehouse, now deleted in the catalog too
    leftover_rows: int  # rows of tombstoned providers still stored (staged ones), now deleted
    untombstoned: list[str]  # providers deleted in the catalog without a tombstone, now tombstoned
    untombstoned_rows: int  # the rows those providers still had, now deleted


def finish_deletions(catalog: Catalog, store: IngestStore) -> FinishedDeletions:
    """Complete every provider deletion a crash left half done; run before anything reads or writes.

    A tombstone whose provider the catalog still has live means the crash came after the warehouse commit:
    the catalog step is done now (provider deleted, key revoked). Rows a tombstoned provider still has go.
    A provider the catalog has deleted but the warehouse has no tombstone for was deleted before tombstones
    existed, when a crash could leave its rows behind: whatever rows it has are deleted and it is tombstoned.
    """
    unfinished = store.unfinished_deletions(catalog)
    leftover = store.delete_leftovers()
    interrupted = [
        t.provider_id
        for t in unfinished
        if provider_store.mark_deleted(catalog, t.workspace_id, t.provider_id, t.deleted_at)
    ]
    untombstoned = []
    untombstoned_rows = 0
    for workspace_id, provider_id, deleted_at in store.untombstoned_deletions(catalog):
        tombstone = store.tombstone_deleted(workspace_id, provider_id, deleted_at)
        untombstoned.append(provider_id)
        untombstoned_rows += tombstone.cost_rows + tombstone.contract_commitment_rows
    return FinishedDeletions(interrupted, leftover, untombstoned, untombstoned_rows)
