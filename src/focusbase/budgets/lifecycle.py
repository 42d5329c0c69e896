"""Server lifecycle hooks for budgets: the evaluator that runs after commits and on a periodic sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from focusbase.analytics.view_scopes import may_include
from focusbase.analytics.views import ViewError, get_view
from focusbase.budgets.evaluation import evaluate_budgets
from focusbase.budgets.model import Budget
from focusbase.budgets.service import get_budget, list_budgets
from focusbase.runtime import Runtime
from focusbase.storage import budgets as store

log = logging.getLogger(__name__)


class Evaluator:
    """Evaluates the budgets a commit can change soon after it (those of the committed provider and of the
    saved views that can include it), and every budget periodically (on the leader, when several processes
    share a catalog)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._pending: set[tuple[str, str]] = set()
        self._stopping = False

    def request(self, workspace_id: str, provider_id: str) -> None:
        """Ask for the budgets of a provider to be evaluated (thread-safe)."""

        def add() -> None:
            self._pending.add((workspace_id, provider_id))
            self._wake.set()

        with contextlib.suppress(RuntimeError):  # the loop is closed: the next start sweeps
            self._loop.call_soon_threadsafe(add)

    async def loop(self) -> None:
        """Evaluate on request, and everything every budget_sweep_seconds."""
        sweep_every = self.runtime.settings.budget_sweep_seconds
        next_sweep = 0.0
        while not self._stopping:
            now = self._loop.time()
            try:
                if now >= next_sweep:
                    next_sweep = now + sweep_every
                    # One process of a deployment sweeps (the leader); each still evaluates its own commits.
                    if self.runtime.leadership.is_leader:
                        self._pending.clear()
                        await asyncio.to_thread(self.sweep)
                if self._pending:
                    pending, self._pending = self._pending, set()
                    await asyncio.to_thread(self.evaluate_providers, pending)
            except Exception:
                log.exception("budget evaluation failed")
            if not self._pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, next_sweep - self._loop.time()))

    def sweep(self) -> None:
        """Evaluate every budget of every workspace."""
        workspaces = dict.fromkeys(row["workspace_id"] for row in store.list_budgets(self.runtime.catalog))
        budgets = [b for w in workspaces for b in list_budgets(self.runtime, w)]
        evaluate_budgets(self.runtime, budgets)

    def evaluate_providers(self, pending: set[tuple[str, str]]) -> None:
        """Evaluate the budgets on these providers and on the saved views that can include them."""
        ids: dict[tuple[str, str], None] = {}
        for workspace_id, provider_id in sorted(pending):
            for row in store.budgets_for_scope(self.runtime.catalog, workspace_id, "provider", provider_id):
                ids[(workspace_id, row["id"])] = None
            for budget_id in store.view_budget_ids(self.runtime.catalog, workspace_id):
                ids[(workspace_id, budget_id)] = None
        budgets = []
        for workspace_id, budget_id in ids:
            budget = get_budget(self.runtime, workspace_id, budget_id)
            if budget is not None and (budget.scope_kind != "view" or self._admits(budget, pending)):
                budgets.append(budget)
        evaluate_budgets(self.runtime, budgets)

    def _admits(self, budget: Budget, pending: set[tuple[str, str]]) -> bool:
        """Whether a view budget's view can include one of the committed providers of its workspace."""
        try:
            view = get_view(self.runtime.catalog, self.runtime.settings, budget.workspace_id, budget.scope_id)
        except ViewError:
            return False
        return any(w == budget.workspace_id and may_include(view.query, p) for w, p in pending)

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()


_EVALUATORS: dict[int, Evaluator] = {}


async def on_startup(runtime: Runtime) -> None:
    """Start the evaluator; its first pass sweeps every budget."""
    evaluator = Evaluator(runtime)
    _EVALUATORS[id(runtime)] = evaluator
    runtime.tasks.append(asyncio.create_task(evaluator.loop(), name="budget evaluator"))


async def on_shutdown(runtime: Runtime) -> None:
    evaluator = _EVALUATORS.pop(id(runtime), None)
    if evaluator is not None:
        await evaluator.stop()


def request_evaluation(runtime: Runtime, workspace_id: str, provider_id: str) -> None:
    """Evaluate a provider's budgets soon (after a commit); a no-op when no evaluator runs."""
    evaluator = _EVALUATORS.get(id(runtime))
    if evaluator is not None:
        evaluator.request(workspace_id, provider_id)
