"""How often the drift test finds a +1%/day drift within 14 days, against how often it raises a drift on
series without one, on many series drawn by the benchmark's generator (benchmarks/anomaly_cases.py).

`python -m benchmarks.drift_power --series 120 --drift-z 3.0 3.5`: for each threshold, the share of drift
series found within 14 days of the drift's start (and not flagged as a drift before it), and the share of
clean series and of series with spikes, drops or level shifts that get at least one drift event.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from benchmarks.anomaly_cases import START, _base_parts, _inject
from focusbase.analytics.detect.anomalies import DetectionParams, detect
from focusbase.analytics.detect.series import DailySeries

DAYS = 240


@dataclass
class Draw:
    drifts: list[tuple[np.ndarray, int]]
    clean: list[np.ndarray]
    events: list[np.ndarray]


def draw(series: int, seed: int) -> Draw:
    """`series` drift series, clean series and series with other events, as the benchmark draws them."""
    rng = np.random.default_rng(seed)
    out = Draw([], [], [])
    for i in range(series):
        weekend = bool(i % 2)
        mean, noise, _ = _base_parts(rng, DAYS, weekend=weekend)
        x = mean * noise
        at = int(rng.integers(100, 140))
        _inject(rng, x, "drift", at)
        out.drifts.append((x, at))
        mean, noise, _ = _base_parts(rng, DAYS, weekend=weekend)
        out.clean.append(mean * noise)
        mean, noise, _ = _base_parts(rng, DAYS, weekend=weekend)
        x = mean * noise
        kind = ("spike", "drop", "level_shift")[i % 3]
        _inject(rng, x, kind, int(rng.integers(100, 140)))
        if kind != "level_shift":
            _inject(rng, x, "drop" if kind == "spike" else "spike", int(rng.integers(180, 220)))
        out.events.append(x)
    return out


def drift_days(x: np.ndarray, params: DetectionParams) -> list[tuple[int, int]]:
    """(first day, day found) of every drift event the detector raises on `x`."""
    events = detect(DailySeries(START, x), params).events
    return [((e.start - START).days, (e.detected_on - START).days) for e in events if e.kind == "drift"]


def measure(sample: Draw, params: DetectionParams) -> tuple[float, float, float]:
    """Drifts found within 14 days, clean series with a drift event, event series with a drift event."""
    found = 0
    for x, at in sample.drifts:
        days = drift_days(x, params)
        early = any(start < at - 1 for start, _ in days)
        found += int(not early and any(seen - at <= 14 for start, seen in days if start >= at - 1))
    clean = sum(bool(drift_days(x, params)) for x in sample.clean)
    events = sum(bool(drift_days(x, params)) for x in sample.events)
    n = len(sample.drifts)
    return found / n, clean / n, events / n


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift_power")
    parser.add_argument("--series", type=int, default=120, help="series of each kind")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--drift-z", type=float, nargs="+", default=[3.0, 3.5])
    args = parser.parse_args()
    sample = draw(args.series, args.seed)
    print(f"{args.series} series of each kind, {DAYS} days, seed {args.seed}")
    print("| drift_z | drifts found within 14 days | clean series with a false drift | others with one |")
    print("|---|---|---|---|")
    for z in args.drift_z:
        found, clean, events = measure(sample, DetectionParams(drift_z=z))
        print(f"| {z} | {found:.1%} | {clean:.1%} | {events:.1%} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
