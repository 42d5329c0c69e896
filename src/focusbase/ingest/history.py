"""History pages: a provider's batches, newest first, behind signed keyset page tokens.

A History token is signed like the FOCUS API's page tokens (query/tokens.py) and bound to the workspace and
the provider it lists, so a forged, altered or foreign token is refused instead of steering the walk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from focusbase.ingest.batches import list_batches
from focusbase.ingest.model import Batch, IngestError
from focusbase.query.tokens import PageTokenError, decode_cursor, encode_cursor, load_secret, query_digest
from focusbase.runtime import Runtime


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a provider's History and the token of the next, if any."""

    batches: list[Batch]
    next_page_token: str | None


def history_page(
    runtime: Runtime, workspace_id: str, provider_id: str, *, page_size: int, page_token: str | None
) -> HistoryPage:
    """A page of the provider's batches; 400 `invalid_page_token` for a token not issued for this list."""
    settings = runtime.settings
    secret = load_secret(settings.data_dir.resolve(), settings.secret_key)
    digest = query_digest("history", {"workspace": workspace_id, "provider": provider_id})
    after = None
    if page_token:
        try:
            after = _position(decode_cursor(secret, page_token, digest))
        except PageTokenError as exc:
            raise IngestError(400, "invalid_page_token", str(exc), details="pageToken") from None
    found = list_batches(runtime, workspace_id, provider_id, limit=page_size + 1, after=after)
    page = found[:page_size]
    token = None
    if len(found) > page_size and page:
        last = page[-1]
        token = encode_cursor(secret, digest, [last.created_at.isoformat(), last.id])
    return HistoryPage(page, token)


def _position(cursor: object) -> tuple[datetime, str]:
    try:
        if not isinstance(cursor, list) or len(cursor) != 2:
            raise TypeError("not a History position")
        created, batch_id = cursor
        if not isinstance(created, str) or not isinstance(batch_id, str):
            raise TypeError("not a History position")
        return datetime.fromisoformat(created), batch_id
    except (TypeError, ValueError):
        raise PageTokenError("pageToken is not a History token; start the walk again") from None
