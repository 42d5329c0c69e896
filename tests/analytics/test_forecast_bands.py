"""Forecast bands: split-conformal limits on backtest errors, at a level adapted to how recent bands fared."""

from __future__ import annotations

from datetime import date

import numpy as np

from focusbase.analytics.detect.forecast import ForecastParams, forecast

START = date(2026, 1, 1)


def _series(rng: np.random.Generator, days: int, cv: float) -> np.ndarray:
    weekday = np.where(np.arange(days) % 7 >= 5, 0.6, 1.0)
    return 1000 * weekday * rng.lognormal(0, cv, days)


def test_a_stationary_series_keeps_the_nominal_level() -> None:
    fc = forecast(_series(np.random.default_rng(3), 400, 0.05), START)
    assert fc.calibrated and fc.band_level is not None
    assert 0.70 <= fc.band_level <= 0.90
    assert np.all(fc.lower <= fc.point) and np.all(fc.point <= fc.upper)


def test_errors_growing_after_a_regime_change_raise_the_level_and_widen_the_band() -> None:
    # Quiet for 340 days, then the day-to-day noise quadruples: the errors of the origins whose 30 days have
    # all happened (the oldest ones) understate the new ones.
    rng = np.random.default_rng(6)
    y = np.concatenate([_series(rng, 340, 0.03), _series(rng, 60, 0.12)])
    adapted = forecast(y, START)
    fixed = forecast(y, START, ForecastParams(adapt_rate=0.0))
    assert fixed.band_level == 0.8
    assert adapted.band_level is not None and adapted.band_level > 0.82
    adapted_width = float(np.median((adapted.upper - adapted.lower) / adapted.point))
    fixed_width = float(np.median((fixed.upper - fixed.lower) / fixed.point))
    assert adapted_width > fixed_width * 1.1
    np.testing.assert_array_equal(adapted.point, fixed.point)


def test_bands_that_were_too_wide_narrow() -> None:
    # The opposite change: noisy, then quiet. The adapted band is narrower than the nominal one.
    rng = np.random.default_rng(9)
    y = np.concatenate([_series(rng, 300, 0.15), _series(rng, 100, 0.03)])
    adapted = forecast(y, START)
    fixed = forecast(y, START, ForecastParams(adapt_rate=0.0))
    assert adapted.band_level is not None and adapted.band_level < 0.8
    assert float(np.sum(adapted.upper - adapted.lower)) < float(np.sum(fixed.upper - fixed.lower))


def test_the_band_always_holds_the_forecast_itself() -> None:
    # Spend that starts growing 3% a day: every backtest forecast fell short, so both conformal limits lie
    # above the point. The range shown must still contain the expected value, day by day and cumulatively.
    rng = np.random.default_rng(2)
    days = np.arange(300)
    y = 1000 * np.exp(0.03 * np.maximum(days - 200, 0)) * rng.lognormal(0, 0.02, days.size)
    fc = forecast(y, START)
    assert np.all(fc.lower <= fc.point) and np.all(fc.point <= fc.upper)
    total = np.cumsum(fc.point)
    assert np.all(fc.total_lower <= total + 1e-9) and np.all(total <= fc.total_upper + 1e-9)
    assert float(np.max(fc.upper / fc.point)) > 1.0  # widened upwards, where the errors lean


def test_a_one_off_spike_in_the_history_does_not_stretch_the_band() -> None:
    # 90 days of about 220 a day (weekends at 80%, a fixed +-6% wobble) with two days at five times that,
    # 11 and 12 days before the end: several of the few backtest origins saw them in one horizon week.
    days = np.arange(90, 0, -1)
    weekday = np.where((days % 7) < 2, 0.8, 1.0)
    y = 217 * weekday * (1 + ((days * 7919) % 13 - 6) / 100)
    y[(days == 12) | (days == 11)] += 900
    fc = forecast(y, START)
    assert float(np.max(fc.upper / fc.point)) < 1.5
    # Kept in the band's errors, the spike sets the top of a whole horizon week.
    raw = forecast(y, START, ForecastParams(calibration_outlier_k=float("inf")))
    assert float(np.max(raw.upper / raw.point)) > 2.0
