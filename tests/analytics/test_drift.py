"""The drift test on seeded daily cost series: a steady +1%/day rise is one drift event found within 14
days, also when it lasts 40 days, a spike on top of it is still a spike, and the normal days after a spike
or a drop are not mistaken for a drift."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from focusbase.analytics.detect.anomalies import detect
from focusbase.analytics.detect.series import DailySeries

START = date(2025, 1, 6)
AT = 120


def _spend(seed: int, cv: float, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    days = np.arange(n)
    weekday = np.where(days % 7 >= 5, 0.6, 1.0)
    return 2000.0 * weekday * rng.lognormal(-(cv**2) / 2, cv, days.size)


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_one_percent_a_day_drift_is_found_within_14_days(seed: int) -> None:
    x = _spend(seed, 0.06)
    x[AT:] *= 1.01 ** np.minimum(np.arange(x.size - AT), 30)
    events = detect(DailySeries(START, x)).events
    drifts = [e for e in events if e.kind == "drift"]
    assert drifts, events
    first = drifts[0]
    assert first.direction == 1
    assert (first.start - START).days >= AT
    assert (first.detected_on - START).days - AT <= 14


@pytest.mark.parametrize("kind", ["spike", "drop"])
def test_normal_days_after_a_spike_or_a_drop_are_not_a_drift(kind: str) -> None:
    x = _spend(4, 0.06)
    x[AT : AT + 3] *= 3.0 if kind == "spike" else 0.2
    events = detect(DailySeries(START, x)).events
    assert [e.kind for e in events] == [kind], events
    assert (events[0].start - START).days == AT


def _long_drift(seed: int, days: int = 40) -> np.ndarray:
    x = _spend(seed, 0.06, 260)
    x[AT:] *= 1.01 ** np.minimum(np.arange(x.size - AT), days)
    return x


@pytest.mark.parametrize("seed", range(1, 7))
def test_a_40_day_drift_is_one_drift_event_and_nothing_after_it(seed: int) -> None:
    events = detect(DailySeries(START, _long_drift(seed))).events
    drifts = [e for e in events if e.kind == "drift"]
    assert len(drifts) == 1, events
    after = [e for e in events if e.start >= drifts[0].start and e.kind != "drift"]
    assert after == [], events
    # The event lasts while the ramp goes on (it stops on day AT + 40), then the new level is normal.
    assert (drifts[0].end - START).days >= AT + 40
    assert not drifts[0].ongoing


@pytest.mark.parametrize("seed", range(1, 4))
def test_a_spike_on_top_of_a_drift_is_still_a_spike(seed: int) -> None:
    x = _long_drift(seed)
    x[AT + 25] *= 3.0
    found = detect(DailySeries(START, x))
    events = found.events
    drift = next(e for e in events if e.kind == "drift")
    assert [e.kind for e in events if e.start >= drift.start] == ["drift", "spike"], events
    spike = events[-1]
    assert (spike.start - START).days == (spike.end - START).days == AT + 25
    # Measured against the drift's own line, not the level before the drift.
    assert 1.6 < spike.actual / spike.expected < 4.0
    # The anomaly page's "Expected" for each event is what that event was measured against.
    assert found.expected(AT + 25, "spike") == pytest.approx(spike.expected)
    assert found.expected(AT + 25, "spike") > 1.1 * found.expected(AT + 25, "drift")
    assert found.expected(AT + 25, "drift") == found.baseline[AT + 25]
