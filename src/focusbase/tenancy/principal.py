"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["admin", "read", "ingest"]
SCOPES: tuple[Scope, ...] = ("admin", "read", "ingest")


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified key: its workspace, scopes and (optionally) the providers it is limited to."""

    key_id: str
    workspace_id: str
    kind: Literal["api", "ingest"]
    scopes: frozenset[str]
    provider_ids: frozenset[str] | None  # None: every provider of the workspace

    def has_scope(self, scope: str) -> bool:
        """admin implies every other scope."""
        return scope in self.scopes or "admin" in self.scopes

    def can_access_provider(self, provider_id: str) -> bool:
        return self.provider_ids is None or provider_id in self.provider_ids

    def may_read_history(self) -> bool:
        """History is open to admin and read keys, and to an ingest key for its own provider's batches."""
        return self.kind == "ingest" or self.has_scope("read")

    def history_refusal(self) -> str | None:
        """Why this key may not read History (403), or None when it may."""
        return None if self.may_read_history() else "this key lacks the 'read' scope"

    def provider_creation_refusal(self) -> str | None:
        """Why this key may not create providers (403), or None; the admin scope is checked first."""
        if self.provider_ids is not None:
            return "a key limited to some providers cannot create providers"
        return None

    def scope_refusal(self, scope: str) -> str | None:
        """Why this key may not act with `scope` (the API answers 403 with it), or None when it may."""
        if self.kind == "ingest" and scope != "ingest":
            return "an ingest key can only push data for its own provider"
        if not self.has_scope(scope):
            return f"this key lacks the {scope!r} scope"
        return None
