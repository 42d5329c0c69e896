"""Anomaly detection over the stored rows: series per scope and currency, the detector, stored events.

Scopes are a provider and each of its ServiceName, SubAccountId and RegionId values, every one per
BillingCurrency. Children are checked on their own, so two accounts moving in opposite directions each raise
an event even when their provider's total does not move. Runs in the background after each batch commit
(`schedule_detection`) and on demand (`detect_provider`).

A saved view is a scope too (`detect_view`): its filtered spend per currency across the workspace's
providers, and that spend within each provider. The cross-provider total is stored without a provider
(`provider_id` '') and with the providers in it, so a key limited to some providers lists it only when it
may see all of them; such a key always sees the view's series of each of its providers. Either way a key
never sees more than the explorer shows it for the view. After a commit, every view whose filters can
include the committed provider is checked again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np

from focusbase.analytics.detect.anomalies import (
    Detection,
    DetectionParams,
    Event,
    detect,
    explain,
    false_positive_multiplier,
)
from focusbase.analytics.detect.series import DailySeries
from focusbase.analytics.model import ExplorerQuery
from focusbase.analytics.view_scopes import may_include, view_cells
from focusbase.analytics.views import ViewError, get_view, list_views
from focusbase.config import Settings
from focusbase.notify import events as notifications
from focusbase.query.filters import Scope
from focusbase.runtime import Runtime
from focusbase.storage import anomalies as store
from focusbase.storage.catalog import Catalog
from focusbase.storage.spend_series import SpendSeries

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
# Enough digits to add any number of DECIMAL(38, 12) values exactly.
EXACT_DIGITS = 60
SeriesKey = tuple[str, str, str]  # (dimension, value, currency)


def money(value: float | Decimal) -> str:
    """An amount as a decimal string rounded to cents (half even)."""
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN))


def params_from(settings: Settings, multiplier: float = 1.0) -> DetectionParams:
    """The detector's parameters from the settings."""
    return DetectionParams(
        z_threshold=settings.anomaly_z_threshold,
        abs_floor=settings.anomaly_abs_floor,
        rel_floor=settings.anomaly_rel_floor,
        multiplier=multiplier,
    )


@dataclass
class ProviderSeries:
    """Daily series of one provider's scopes, each from `since` (inclusive) to `until` (inclusive)."""

    since: date
    until: date
    series: dict[SeriesKey, DailySeries]
    cells: list[store.DailyCell]


def _dense(points: dict[date, tuple[float, float]], since: date, days: int) -> DailySeries:
    actual, expected = np.zeros(days), np.zeros(days)
    for day, (cost, exp) in points.items():
        i = (day - since).days
        actual[i], expected[i] = cost, exp
    return DailySeries(since, actual, expected)


def group_series(
    cells: list[store.DailyCell], since: date, until: date, by: tuple[str, ...]
) -> dict[SeriesKey, DailySeries]:
    """Series per (dimension, value, currency) for the dimensions in `by` ('provider' is each provider's
    total, 'all' the total of every cell)."""
    days = (until - since).days + 1
    zero = Decimal(0)
    sums: dict[SeriesKey, dict[date, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [zero, zero]))
    # Exact sums, so a series does not depend on the order a warehouse returns a day's cells in.
    with localcontext(prec=EXACT_DIGITS):
        for cell in cells:
            values = {
                "all": "",
                "provider": cell.provider_id,
                "ServiceName": cell.service,
                "SubAccountId": cell.account,
                "RegionId": cell.region,
            }
            for dim in by:
                slot = sums[(dim, values[dim], cell.currency)][cell.day]
                slot[0] += cell.cost
                slot[1] += cell.expected
    return {
        key: _dense({d: (float(v[0]), float(v[1])) for d, v in points.items()}, since, days)
        for key, points in sums.items()
    }


def load_provider(
    spend: SpendSeries, workspace_id: str, provider_id: str, history_days: int, until: date | None = None
) -> ProviderSeries | None:
    """The provider's series over its last `history_days` of data; None when it has none."""
    end = until or date.today()
    cells = spend.daily_cells(workspace_id, provider_id, end - timedelta(days=730), end)
    if not cells:
        return None
    last = max(cell.day for cell in cells)
    since = last - timedelta(days=min(history_days, 730) - 1)
    cells = [cell for cell in cells if cell.day >= since]
    since = min(cell.day for cell in cells)
    series = group_series(cells, since, last, ("provider", *store.DIMENSIONS))
    return ProviderSeries(since, last, series, cells)


def _multiplier(
    catalog: Catalog, settings: Settings, workspace_id: str, provider_id: str, key: SeriesKey
) -> float:
    starts = store.false_positive_starts(catalog, workspace_id, provider_id, *key)
    days = [date.fromisoformat(start) for start in starts]
    return false_positive_multiplier(
        days, date.today(), step=settings.anomaly_fp_step, cap=settings.anomaly_fp_cap
    )


def _children(data: ProviderSeries, key: SeriesKey, params: DetectionParams) -> dict[str, Detection]:
    dim, value, currency = key
    if dim == "provider":
        keys = [k for k in data.series if k[0] != "provider" and k[2] == currency]
        return {f"{k[0]}={k[1]}": detect(data.series[k], params) for k in keys}
    attr = {"ServiceName": "service", "SubAccountId": "account", "RegionId": "region"}[dim]
    cells = [c for c in data.cells if getattr(c, attr) == value and c.currency == currency]
    others = tuple(d for d in store.DIMENSIONS if d != dim)
    nested = group_series(cells, data.since, data.until, others)
    return {f"{k[0]}={k[1]}": detect(s, params) for k, s in nested.items()}


def _detected(
    provider_id: str,
    key: SeriesKey,
    event: Event,
    contributors: list[dict[str, object]],
    scope_providers: list[str] | None = None,
) -> store.Detected:
    return store.Detected(
        scope_providers=scope_providers,
        provider_id=provider_id,
        dimension=key[0],
        value=key[1],
        currency=key[2],
        start_date=event.start.isoformat(),
        end_date=event.end.isoformat(),
        detected_on=event.detected_on.isoformat(),
        kind=event.kind,
        severity=event.severity,
        direction=event.direction,
        actual=money(event.actual),
        expected=money(event.expected),
        impact=money(event.impact),
        impact_percentage=None if event.impact_percentage is None else money(event.impact_percentage),
        max_z=round(event.max_z, 2),
        ongoing=event.ongoing,
        contributors=contributors,
    )


def _contributors(event: Event, children: dict[str, Detection]) -> list[dict[str, object]]:
    return [
        {
            "dimension": part.child.split("=", 1)[0],
            "value": part.child.split("=", 1)[1],
            "impact": money(part.impact),
            "share": round(part.share, 4),
        }
        for part in explain(event, children)
    ]


def _save(runtime: Runtime, workspace_id: str, found: list[store.Detected]) -> int:
    created = store.upsert_anomalies(
        runtime.catalog,
        workspace_id,
        found,
        on_created=lambda tx, anomaly_id, item: notifications.enqueue(
            tx, workspace_id, "anomaly.created", _event_data(anomaly_id, item)
        ),
    )
    if created:
        notifications.wake(runtime)
    return created


def detect_provider(runtime: Runtime, workspace_id: str, provider_id: str) -> int:
    """Detect anomalies in every scope of a provider and store them; returns how many events are new."""
    settings = runtime.settings
    data = load_provider(runtime.series, workspace_id, provider_id, settings.anomaly_history_days)
    if data is None:
        return 0
    oldest = data.until - timedelta(days=settings.anomaly_lookback_days)
    found: list[store.Detected] = []
    # The provider total first, then the largest child scopes, up to the configured bound.
    keys = sorted(data.series, key=lambda k: (k[0] != "provider", -float(np.sum(data.series[k].actual))))
    for key in keys[: settings.anomaly_max_scopes]:
        if float(np.max(np.abs(data.series[key].detectable))) < settings.anomaly_abs_floor:
            continue  # no day of it reaches the absolute floor, so no day can alert
        params = params_from(settings, _multiplier(runtime.catalog, settings, workspace_id, provider_id, key))
        events = [e for e in detect(data.series[key], params).events if e.end >= oldest]
        if not events:
            continue
        children = _children(data, key, replace(params, multiplier=1.0))
        found.extend(_detected(provider_id, key, event, _contributors(event, children)) for event in events)
    return _save(runtime, workspace_id, found)


def load_view(
    spend: SpendSeries, workspace_id: str, view_query: ExplorerQuery, history_days: int
) -> tuple[date, date, list[store.DailyCell]] | None:
    """A view's cells over the last `history_days` of its data, workspace-wide; None when it has none."""
    end = date.today()
    cells = view_cells(spend, Scope(workspace_id), view_query, end - timedelta(days=730), end)
    if not cells:
        return None
    last = max(cell.day for cell in cells)
    since = last - timedelta(days=min(history_days, 730) - 1)
    cells = [cell for cell in cells if cell.day >= since]
    return min(cell.day for cell in cells), last, cells


def detect_view(runtime: Runtime, workspace_id: str, view_id: str) -> int:
    """Detect anomalies in a saved view's spend (its total, and its part in each provider); returns how many
    events are new. A view that no longer exists has nothing to detect."""
    settings = runtime.settings
    try:
        view = get_view(runtime.catalog, settings, workspace_id, view_id)
    except ViewError:
        return 0
    loaded = load_view(runtime.series, workspace_id, view.query, settings.anomaly_history_days)
    if loaded is None:
        return 0
    since, until, cells = loaded
    oldest = until - timedelta(days=settings.anomaly_lookback_days)
    # The providers with rows in each currency's series (its window, baseline included).
    members: dict[str, list[str]] = defaultdict(list)
    for currency, provider in sorted({(c.currency, c.provider_id) for c in cells}):
        members[currency].append(provider)
    providers = sorted({c.provider_id for c in cells})
    parts: list[tuple[str, list[store.DailyCell], tuple[str, ...]]] = [
        (p, [c for c in cells if c.provider_id == p], store.DIMENSIONS) for p in providers
    ]
    if any(len(inside) > 1 for inside in members.values()):
        parts.insert(0, ("", cells, ("provider", *store.DIMENSIONS)))
    found: list[store.Detected] = []
    checked = 0
    for record_provider, part, child_dims in parts:
        series = group_series(part, since, until, ("all", *child_dims))
        for total in sorted(k for k in series if k[0] == "all"):
            if record_provider == "" and len(members[total[2]]) < 2:
                continue  # with one provider in this currency, the total is that provider's part
            checked += 1
            if checked > settings.anomaly_max_scopes:
                break
            if float(np.max(np.abs(series[total].detectable))) < settings.anomaly_abs_floor:
                continue
            key: SeriesKey = ("view", view_id, total[2])
            multiplier = _multiplier(runtime.catalog, settings, workspace_id, record_provider, key)
            params = params_from(settings, multiplier)
            events = [e for e in detect(series[total], params).events if e.end >= oldest]
            if not events:
                continue
            child_params = replace(params, multiplier=1.0)
            children = {
                f"{k[0]}={k[1]}": detect(s, child_params)
                for k, s in series.items()
                if k[0] != "all" and k[2] == total[2]
            }
            inside = members[total[2]] if record_provider == "" else None
            found.extend(
                _detected(record_provider, key, event, _contributors(event, children), inside)
                for event in events
            )
    return _save(runtime, workspace_id, found)


def _event_data(anomaly_id: str, item: store.Detected) -> dict[str, object]:
    """The `anomaly.created` webhook payload: the new event as the anomalies API describes it."""
    return {
        "id": anomaly_id,
        "providerId": item.provider_id or None,
        "providerIds": item.scope_providers or [item.provider_id],
        "dimension": item.dimension,
        "value": item.value,
        "currency": item.currency,
        "startDate": item.start_date,
        "endDate": item.end_date,
        "kind": item.kind,
        "severity": item.severity,
        "actual": item.actual,
        "expected": item.expected,
        "impact": item.impact,
        "impactPercentage": item.impact_percentage,
        "contributors": item.contributors,
    }


# ------------------------------------------------------------------------------------------- background


Job = tuple[str, str, str]  # (workspace, "provider" or "view", id)


class _Worker:
    """One thread per runtime that runs queued detections in turn, once a provider's ingest goes quiet.

    A commit makes its provider due `delay` seconds later; another commit of the same provider within that
    time moves it back, but never past `max_delay` after the first, so a provider that never stops sending
    is still checked. Detection is CPU-bound Python, so it waits out a burst of parts and commits instead of
    competing with them for the interpreter; a provider is checked once per burst, not once per commit. The
    views a provider's rows can be part of are checked right after it; a view created or changed, at once.

    Every submission is also written to the catalog's detection queue and removed once its run is over, so
    jobs still waiting when the server stops (or dies) run after the next start, after the quiet period.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # job -> [due, deadline]: monotonic seconds.
        self.pending: dict[Job, list[float]] = {}
        self.tokens: dict[Job, str] = {}  # job -> its latest submission's token in the catalog queue
        self.running = False
        self.flushing = False
        self.changed = threading.Condition()
        self.stopping = False
        self._resume()
        self.thread = threading.Thread(target=self._loop, name="anomaly detection", daemon=True)
        self.thread.start()

    def _resume(self) -> None:
        """Queue the jobs a previous process left in the catalog, each after the quiet period."""
        settings = self.runtime.settings
        try:
            left = store.queued_detections(self.runtime.catalog)
        except Exception:  # the server still starts; those scopes are checked at their next commit
            log.exception("could not read the anomaly detection queue")
            return
        now = time.monotonic()
        delay = settings.anomaly_detect_delay_seconds
        for job, token in left:
            self.pending[job] = [now + delay, now + max(delay, settings.anomaly_detect_max_delay_seconds)]
            self.tokens[job] = token

    def submit(self, job: Job, *, quiet: bool = True) -> None:
        """Queue a job; with `quiet`, after the provider's quiet period (see the class)."""
        settings = self.runtime.settings
        delay = settings.anomaly_detect_delay_seconds if quiet else 0.0
        max_delay = max(delay, settings.anomaly_detect_max_delay_seconds if quiet else 0.0)
        with self.changed:
            if self.stopping:
                return
            # Recorded under the lock, so the token kept in memory is the one the catalog holds last.
            try:
                token: str | None = store.queue_detection(self.runtime.catalog, job)
            except Exception:  # the commit stands; detection still runs from memory, not across a restart
                log.exception("could not record anomaly detection of %s %s", job[1], job[2])
                token = None
            now = time.monotonic()
            slot = self.pending.get(job)
            if slot is None:
                self.pending[job] = [now + delay, now + max_delay]
            else:
                slot[0] = min(slot[1], now + delay)
            if token is not None:
                self.tokens[job] = token
            self.changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Run every pending detection now and wait until none is pending or running."""
        deadline = time.monotonic() + timeout
        with self.changed:
            self.flushing = True
            self.changed.notify_all()
            try:
                while self.pending or self.running:
                    left = deadline - time.monotonic()
                    if left <= 0 or self.stopping:
                        return False
                    self.changed.wait(left)
                return True
            finally:
                self.flushing = False

    def stop(self, timeout: float) -> None:
        """Drop pending runs, let the current one finish (storage closes after it) and end the thread."""
        with self.changed:
            self.stopping = True
            self.pending.clear()
            self.changed.notify_all()
        self.thread.join(timeout)

    def _next(self) -> tuple[Job, str | None] | None:
        """The next due job and its queue token, waiting for it; None when stopping."""
        with self.changed:
            while not self.stopping:
                now = time.monotonic()
                due = [job for job, (at, _) in self.pending.items() if self.flushing or at <= now]
                if due:
                    job = min(due, key=lambda j: self.pending[j][0])
                    del self.pending[job]
                    self.running = True
                    return job, self.tokens.pop(job, None)
                wait = min((at for at, _ in self.pending.values()), default=now + 3600) - now
                self.changed.wait(max(wait, 0.01))
            return None

    def _run(self, job: Job) -> None:
        workspace_id, kind, scope_id = job
        if kind == "view":
            detect_view(self.runtime, workspace_id, scope_id)
            return
        detect_provider(self.runtime, workspace_id, scope_id)
        # Then the views this provider's rows can be part of (queued behind, each once).
        for view in list_views(self.runtime.catalog, self.runtime.settings, workspace_id):
            if may_include(view.query, scope_id):
                self.submit((workspace_id, "view", view.id), quiet=False)

    def _loop(self) -> None:
        while (taken := self._next()) is not None:
            job, token = taken
            try:
                self._run(job)
            except Exception:  # a failed run must not stop later ones; the next commit retries
                log.exception("anomaly detection failed for %s %s", job[1], job[2])
            if token is not None:
                try:  # a submission made while it ran has a new token and stays queued
                    store.detection_done(self.runtime.catalog, job, token)
                except Exception:  # it runs once more after the next start: detection is idempotent
                    log.exception("could not clear anomaly detection of %s %s", job[1], job[2])
            with self.changed:
                self.running = False
                self.changed.notify_all()


_WORKERS: dict[int, _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def schedule_detection(runtime: Runtime, workspace_id: str, provider_id: str) -> None:
    """Queue detection for a provider whose data just changed; returns at once (the commit never waits)."""
    if not runtime.settings.anomaly_detect_on_commit:
        return
    with _WORKERS_LOCK:
        worker = _WORKERS.get(id(runtime))
    # Only a started server runs detection (a CLI command's runtime has no worker and closes right after);
    # a commit that lands during shutdown finds the worker gone.
    if worker is not None and worker.runtime is runtime:
        worker.submit((workspace_id, "provider", provider_id))


def schedule_view_detection(runtime: Runtime, workspace_id: str, view_id: str) -> None:
    """Queue detection for a saved view that was created or whose query changed; returns at once."""
    if not runtime.settings.anomaly_detect_on_commit:
        return
    with _WORKERS_LOCK:
        worker = _WORKERS.get(id(runtime))
    if worker is not None and worker.runtime is runtime:
        worker.submit((workspace_id, "view", view_id), quiet=False)


def start_detection(runtime: Runtime) -> None:
    """Start this runtime's detection thread (the server's lifecycle does, at start-up)."""
    with _WORKERS_LOCK:
        _WORKERS[id(runtime)] = _Worker(runtime)


def stop_detection(runtime: Runtime, timeout: float = 60.0) -> None:
    """Stop this runtime's detection thread before its storage closes."""
    with _WORKERS_LOCK:
        worker = _WORKERS.pop(id(runtime), None)
    if worker is not None:
        worker.stop(timeout)


def wait_for_detection(runtime: Runtime, timeout: float = 60.0) -> bool:
    """Run this runtime's pending detections now, without their quiet period, and wait for them (for tests
    and the CLI)."""
    worker = _WORKERS.get(id(runtime))
    return True if worker is None else worker.flush(timeout)
