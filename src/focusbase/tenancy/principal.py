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
