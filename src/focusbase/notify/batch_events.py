"""Events of the batch lifecycle: batch.committed, batch.failed and period.restated.

The batch service calls one function at each outcome. Notification trouble never fails an ingest: it is
logged, and the batch stays as it is.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from focusbase.budgets.lifecycle import request_evaluation
from focusbase.ingest.model import Batch
from focusbase.notify.events import emit
from focusbase.runtime import Runtime
from focusbase.storage.webhooks import subscribed
from focusbase.tenancy.periods import finalized_periods

log = logging.getLogger(__name__)


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(batch: Batch) -> dict[str, Any]:
    return {
        "batchId": batch.id,
        "providerId": batch.provider_id,
        "dataset": batch.dataset.value,
        "source": batch.source,
        "mode": batch.mode,
        "windowStart": _time(batch.window_start),
        "windowEnd": _time(batch.window_end),
        "rowsReceived": batch.rows_received,
        "rowsRejected": batch.rows_rejected,
    }


def period_state(period: str, finalized: set[str], close_days: int, now: datetime) -> str | None:
    """`finalized`, `closed` (ended more than close_days ago) or None while the period is open."""
    if period in finalized:
        return "finalized"
    year, month = int(period[:4]), int(period[5:7])
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    if (now - end).total_seconds() >= close_days * 86400:
        return "closed"
    return None


def restated_periods(runtime: Runtime, batch: Batch, now: datetime | None = None) -> list[dict[str, Any]]:
    """The finalised or closed billing periods whose rows this committed batch replaced."""
    replaced = runtime.ingest.replaced_periods(batch.id)
    if not replaced:
        return []
    finalized = finalized_periods(runtime.catalog, batch.workspace_id, [batch.provider_id]).get(
        batch.provider_id, set()
    )
    moment = now or datetime.now(UTC)
    found: dict[str, dict[str, Any]] = {}
    for entry in replaced:
        if entry["period"] is None:
            continue
        state = period_state(entry["period"], finalized, runtime.settings.period_close_days, moment)
        if state is None:
            continue
        item = found.setdefault(
            entry["period"], {"period": entry["period"], "state": state, "rowsReplaced": 0, "billedCost": {}}
        )
        item["rowsReplaced"] += entry["rows"]
        item["billedCost"][entry["currency"]] = entry["billedCost"]
    return list(found.values())


def batch_committed(runtime: Runtime, batch: Batch) -> None:
    """After a commit: batch.committed, period.restated when closed periods changed, budget evaluation."""
    try:
        emit(
            runtime,
            batch.workspace_id,
            "batch.committed",
            {
                **_summary(batch),
                "lineItemsCreated": batch.line_items_created,
                "sums": batch.sums or {},
                "replaced": batch.replaced or {},
                "committedAt": _time(batch.committed_at),
            },
        )
        replaced = bool((batch.replaced or {}).get("rows"))
        wanted = replaced and subscribed(runtime.catalog, batch.workspace_id, "period.restated")
        periods = restated_periods(runtime, batch) if wanted else []
        if periods:
            emit(
                runtime,
                batch.workspace_id,
                "period.restated",
                {"batchId": batch.id, "providerId": batch.provider_id, "periods": periods},
            )
    except Exception:
        log.exception("could not queue the events of committed batch %s", batch.id)
    request_evaluation(runtime, batch.workspace_id, batch.provider_id)


def batch_failed(runtime: Runtime, batch: Batch, reason: str) -> None:
    """After a batch failed (or was aborted): batch.failed."""
    try:
        record = runtime.ingest.get(batch.id)
        failed = Batch.from_record(record) if record is not None else batch  # with its final counts
        emit(runtime, batch.workspace_id, "batch.failed", {**_summary(failed), "reason": reason})
    except Exception:
        log.exception("could not queue the batch.failed event of batch %s", batch.id)
