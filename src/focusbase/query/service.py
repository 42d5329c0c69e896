"""The FOCUS read services: keyset pages of Cost and Usage and Contract Commitment records.

Pagination is a keyset over the warehouse's row key (row_seq in DuckDB, row_id in ClickHouse): a row's key
never changes, so a page walk never returns a row twice and never skips a row that stayed live for the whole
walk. The rows come from any `ServedRecords` (storage/served.py). Each page
is read from one consistent snapshot; totalRecords, dataLastUpdated and dataCompleteness describe the data
at the time of that page's request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from focusbase.config import Settings
from focusbase.query.completeness import data_completeness
from focusbase.query.filters import ContractCommitmentFilters, CostFilters
from focusbase.query.records import contract_commitment_fields, cost_fields
from focusbase.query.tokens import decode_token, encode_token, load_secret, query_digest
from focusbase.storage import Catalog
from focusbase.storage import query as store
from focusbase.storage.served import ServedRecords, clear_summary_cache
from focusbase.tenancy.periods import finalized_periods

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
__all__ = ["RecordPage", "clear_summary_cache", "list_contract_commitments", "list_cost_records"]


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One page of records (`records_json` is a JSON array text built by the warehouse)."""

    records_json: str
    count: int
    next_page_token: str | None
    total_records: int
    data_last_updated: datetime | None
    data_completeness: str | None


@cache
def _secret(data_dir: Path, configured: str | None) -> bytes:
    return load_secret(data_dir, configured)


def page_secret(settings: Settings) -> bytes:
    """The page-token signing secret for these settings."""
    return _secret(settings.data_dir.resolve(), settings.secret_key)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")


def list_cost_records(
    records: ServedRecords,
    catalog: Catalog,
    settings: Settings,
    filters: CostFilters,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
    now: datetime | None = None,
) -> RecordPage:
    """A page of live Cost and Usage rows matching the filters; PageTokenError for a bad token."""
    _check_page_size(page_size)
    secret = page_secret(settings)
    digest = query_digest("CostAndUsage", filters.canonical())
    after = decode_token(secret, page_token, digest) if page_token is not None else 0
    now = now or _utcnow()
    # Periods that ended before this are closed whatever else holds; an hourly step keeps the cache useful
    # (an earlier cut-off only lists more periods, which data_completeness checks against `now` itself).
    cutoff = (now - timedelta(days=settings.period_close_days)).replace(minute=0, second=0, microsecond=0)
    page, summary = records.cost_records(
        filters, cost_fields(), after=after, page_size=page_size, periods_ending_after=cutoff
    )
    providers = store.scope_provider_ids(catalog, filters.scope)
    completeness = data_completeness(
        now=now,
        close_days=settings.period_close_days,
        periods=summary.periods,
        provider_ids=providers,
        finalized=finalized_periods(catalog, filters.scope.workspace_id, providers),
        window_start=filters.billing_period_start,
        window_end=filters.billing_period_end,
    )
    token = (
        encode_token(secret, digest, page.last_seq) if page.has_more and page.last_seq is not None else None
    )
    return RecordPage(
        records_json=page.records_json,
        count=page.count,
        next_page_token=token,
        total_records=summary.total,
        data_last_updated=summary.last_updated,
        data_completeness=completeness,
    )


def list_contract_commitments(
    records: ServedRecords,
    settings: Settings,
    filters: ContractCommitmentFilters,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    page_token: str | None = None,
) -> RecordPage:
    """A page of live Contract Commitment rows matching the filters; PageTokenError for a bad token."""
    _check_page_size(page_size)
    secret = page_secret(settings)
    digest = query_digest("ContractCommitment", filters.canonical())
    after = decode_token(secret, page_token, digest) if page_token is not None else 0
    page, summary = records.contract_commitment_records(
        filters, contract_commitment_fields(), after=after, page_size=page_size
    )
    token = (
        encode_token(secret, digest, page.last_seq) if page.has_more and page.last_seq is not None else None
    )
    return RecordPage(
        records_json=page.records_json,
        count=page.count,
        next_page_token=token,
        total_records=summary.total,
        data_last_updated=summary.last_updated,
        data_completeness=None,
    )
