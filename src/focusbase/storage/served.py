"""The FOCUS API's record reads, one operation per dataset, on whichever warehouse holds the rows.

`ServedRecords` is what the read service (query/service.py) needs: a keyset page of served records matching
the filters and the summary of all of them (count, last change, billing periods). `DuckDBServedRecords`
answers from the embedded warehouse; the ClickHouse warehouse answers the same operations
(storage/clickhouse_served.py), with the same records, counts and last changes for the same live rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Protocol

import orjson

from focusbase.focus import Dataset
from focusbase.query.filters import ContractCommitmentFilters, CostFilters, Scope
from focusbase.storage import query as store
from focusbase.storage.query import Field, Page, Summary
from focusbase.storage.warehouse import Warehouse

COST_VIEW = "live_cost_rows"
COMMITMENT_VIEW = "live_contract_commitment_rows"


class ServedRecords(Protocol):
    """Keyset pages of served records and their summary; `after` is the last key of the previous page."""

    def cost_records(
        self,
        filters: CostFilters,
        fields: tuple[Field, ...],
        *,
        after: int,
        page_size: int,
        periods_ending_after: datetime | None,
    ) -> tuple[Page, Summary]: ...

    def contract_commitment_records(
        self, filters: ContractCommitmentFilters, fields: tuple[Field, ...], *, after: int, page_size: int
    ) -> tuple[Page, Summary]: ...

    def custom_column_names(self, dataset: Dataset, scope: Scope) -> list[str]:
        """The distinct x_ column names in the live rows of `dataset` the scope can see, sorted."""
        ...


class SummaryCache:
    """Summaries of recent queries, valid while the warehouse's data version is unchanged.

    Counting and summarising every match is the expensive part of a page; a page walk (or a dashboard
    polling one query) repeats it with identical answers until a commit changes the data.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[object, ...], Summary] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> Summary | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], summary: Summary) -> None:
        with self._lock:
            self._items[key] = summary
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_SUMMARIES: dict[Path, SummaryCache] = {}


def clear_summary_cache() -> None:
    """Forget every cached summary (benchmarks measure the uncached path with it)."""
    _SUMMARIES.clear()


class DuckDBServedRecords:
    """The embedded warehouse's answers: a page and its summary from one snapshot, summaries cached."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def cost_records(
        self,
        filters: CostFilters,
        fields: tuple[Field, ...],
        *,
        after: int,
        page_size: int,
        periods_ending_after: datetime | None,
    ) -> tuple[Page, Summary]:
        where = store.cost_where(filters)
        if filters.empty_window:
            where = (where[0] + " AND FALSE", where[1])
        key = orjson.dumps(filters.canonical(), option=orjson.OPT_SORT_KEYS)
        return self._read(COST_VIEW, where, fields, key, after, page_size, periods_ending_after)

    def contract_commitment_records(
        self, filters: ContractCommitmentFilters, fields: tuple[Field, ...], *, after: int, page_size: int
    ) -> tuple[Page, Summary]:
        where = store.contract_commitment_where(filters)
        key = orjson.dumps(filters.canonical(), option=orjson.OPT_SORT_KEYS)
        return self._read(COMMITMENT_VIEW, where, fields, key, after, page_size, None)

    def custom_column_names(self, dataset: Dataset, scope: Scope) -> list[str]:
        view = COST_VIEW if dataset is Dataset.COST_AND_USAGE else COMMITMENT_VIEW
        with self.warehouse.cursor() as cur:
            return store.custom_column_names(cur, view, scope)

    def _read(
        self,
        view: str,
        where: tuple[str, list[object]],
        fields: tuple[Field, ...],
        key: bytes,
        after: int,
        page_size: int,
        periods_ending_after: datetime | None,
    ) -> tuple[Page, Summary]:
        cache = _SUMMARIES.setdefault(self.warehouse.path, SummaryCache())
        with self.warehouse.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")  # one snapshot for the page and its summary
            try:
                page = store.read_page(cur, view, where, fields, after_seq=after, page_size=page_size)
                cache_key = (view, key, periods_ending_after, store.data_version(cur))
                summary = cache.get(cache_key)
                if summary is None:
                    summary = store.summarize(cur, view, where, periods_ending_after=periods_ending_after)
                    cache.put(cache_key, summary)
            finally:
                cur.execute("ROLLBACK")
        return page, summary
