"""The FOCUS read services: keyset pages of Cost and Usage and Contract Commitment records.

Pagination is a keyset over row_seq: a row's row_seq never changes and later commits get higher ones, so
a page walk never returns a row twice and never skips a row that stayed live for the whole walk. Each page
is read from one consistent snapshot; totalRecords, dataLastUpdated and dataCompleteness describe the data
at the time of that page's request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from focusbase.config import Settings
from focusbase.query.completeness import data_completeness
from focusbase.query.filters import ContractCommitmentFilters, CostFilters
from focusbase.query.records import contract_commitment_fields, cost_fields
from focusbase.query.tokens import decode_token, encode_token, load_secret, query_digest
from focusbase.storage import Catalog, Warehouse
from focusbase.storage import query as store
from focusbase.tenancy.periods import finalized_periods

DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
COST_VIEW = "live_cost_rows"
COMMITMENT_VIEW = "live_contract_commitment_rows"


@dataclass(frozen=True, slots=True)
class RecordPage:
    """One page of records (`records_json` is a JSON array text built by the warehouse)."""

    records_json: str
    count: int
    next_page_token: str | None
    total_records: int
    data_last_updated: datetime | None
    data_completeness: str | None


class SummaryCache:
    """Summaries of recent queries, valid while the warehouse's data version is unchanged.

    Counting and summarising every match is the expensive part of a page; a page walk (or a dashboard
    polling one query) repeats it with identical answers until a commit changes the data.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[object, ...], store.Summary] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> store.Summary | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], summary: store.Summary) -> None:
        with self._lock:
            self._items[key] = summary
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_SUMMARIES: dict[Path, SummaryCache] = {}


def clear_summary_cache() -> None:
    """Forget every cached summary (benchmarks measure the uncached path with it)."""
    _SUMMARIES.clear()


def _summary_cache(warehouse: Warehouse) -> SummaryCache:
    return _SUMMARIES.setdefault(warehouse.path, SummaryCache())


def _read(
    warehouse: Warehouse,
    view: str,
    where: tuple[str, list[object]],
    fields: tuple[store.Field, ...],
    digest: str,
    *,
    after: int,
    page_size: int,
    periods_ending_after: datetime | None,
) -> tuple[store.Page, store.Summary]:
    cache = _summary_cache(warehouse)
    with warehouse.cursor() as cur:
        cur.execute("BEGIN TRANSACTION")  # one snapshot for the page and its summary
        try:
            page = store.read_page(cur, view, where, fields, after_seq=after, page_size=page_size)
            key = (view, digest, periods_ending_after, store.data_version(cur))
            summary = cache.get(key)
            if summary is None:
                summary = store.summarize(cur, view, where, periods_ending_after=periods_ending_after)
                cache.put(key, summary)
        finally:
            cur.execute("ROLLBACK")
    return page, summary


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
    warehouse: Warehouse,
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
    where = store.cost_where(filters)
    if filters.empty_window:
        where = (where[0] + " AND FALSE", where[1])
    now = now or _utcnow()
    # Periods that ended before this are closed whatever else holds; an hourly step keeps the cache useful
    # (an earlier cut-off only lists more periods, which data_completeness checks against `now` itself).
    cutoff = (now - timedelta(days=settings.period_close_days)).replace(minute=0, second=0, microsecond=0)
    page, summary = _read(
        warehouse,
        COST_VIEW,
        where,
        cost_fields(),
        digest,
        after=after,
        page_size=page_size,
        periods_ending_after=cutoff,
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
    warehouse: Warehouse,
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
    where = store.contract_commitment_where(filters)
    page, summary = _read(
        warehouse,
        COMMITMENT_VIEW,
        where,
        contract_commitment_fields(),
        digest,
        after=after,
        page_size=page_size,
        periods_ending_after=None,
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
