"""A daily cost series of one scope and currency, and the calendar helpers the detectors share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DailySeries:
    """Spend per UTC day from `start`, one value per day (missing days are 0).

    `expected` is the part of each day's spend that is expected by its nature (commitment purchases, taxes,
    charges billed as recurring): it is shown but never alerts.
    """

    start: date
    actual: FloatArray
    expected: FloatArray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.expected.size == 0:
            object.__setattr__(self, "expected", np.zeros(self.actual.size))
        if self.expected.size != self.actual.size:
            raise ValueError("actual and expected must have one value per day")

    def __len__(self) -> int:
        return int(self.actual.size)

    @property
    def detectable(self) -> FloatArray:
        """The spend that may alert: actual minus expected."""
        return np.asarray(self.actual - self.expected, dtype=np.float64)

    def day(self, index: int) -> date:
        """The date of position `index`."""
        return self.start + timedelta(days=index)

    def weekdays(self) -> npt.NDArray[np.int64]:
        """Weekday (Monday 0) of every position."""
        return (np.arange(len(self)) + self.start.weekday()) % 7

    def days_of_month(self) -> npt.NDArray[np.int64]:
        """Day of month of every position."""
        return np.array([self.day(i).day for i in range(len(self))], dtype=np.int64)


def from_points(points: dict[date, float], *, expected: dict[date, float] | None = None) -> DailySeries:
    """A dense series from sparse (day -> amount) points; days without a point are 0."""
    if not points:
        raise ValueError("a series needs at least one day")
    start, end = min(points), max(points)
    if expected:
        start, end = min(start, min(expected)), max(end, max(expected))
    n = (end - start).days + 1
    actual = np.zeros(n)
    exp = np.zeros(n)
    for day, value in points.items():
        actual[(day - start).days] = value
    for day, value in (expected or {}).items():
        exp[(day - start).days] = value
    return DailySeries(start, actual, exp)


def mad_scale(values: FloatArray) -> float:
    """1.4826 x the median absolute deviation: a standard deviation that ignores outliers."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))
