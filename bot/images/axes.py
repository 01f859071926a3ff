"""The value axis of a chart: round bounds and 4-5 round ticks, whatever the data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

MAX_INTERVALS: Final = 4


@dataclass(frozen=True)
class Axis:
    """A value axis: its bounds and the tick values from ``low`` to ``high`` inclusive."""

    low: float
    high: float
    ticks: tuple[float, ...]

    def crosses_zero(self) -> bool:
        return self.low < 0 < self.high


def _tidy(value: float) -> float:
    """``value`` without float noise, as an ``int`` when it is whole (so ``str`` gives ``"50"``)."""
    value = round(value, 9)
    return int(value) if value == int(value) else value


def _steps(span: float, *, integer: bool) -> list[float]:
    """Candidate 1/2/2.5/5 x 10^k steps around ``span / MAX_INTERVALS``, smallest first."""
    exponent = math.floor(math.log10(span / MAX_INTERVALS))
    steps = []
    for power in range(exponent - 1, exponent + 3):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0**power
            if integer and (step < 1 or step != int(step)):
                continue
            steps.append(step)
    return steps


def nice_axis(low: float, high: float, *, integer: bool = False) -> Axis:
    """An axis covering ``[low, high]`` with 4-5 round ticks (3-4 intervals as a rule).

    The bounds are rounded out to whole steps of 1, 2, 2.5 or 5 times a power of ten (whole
    numbers only when ``integer``). An empty range grows to include zero, and ``0..0`` becomes
    ``0..1`` (``0..4`` in whole numbers) so a chart of zeros still has a grid.
    """
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)):
        raise ValueError(f"axis bounds must be finite, got {low!r}..{high!r}")
    low, high = min(low, high), max(low, high)
    if low == high:
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:
        high = low + (MAX_INTERVALS if integer else 1)
    if integer and high - low < MAX_INTERVALS:
        # Whole-number ticks cannot split a short range: show it on a 0..4 scale instead.
        if low >= 0:
            high = math.floor(low) + MAX_INTERVALS
        else:
            low = math.ceil(high) - MAX_INTERVALS
    chosen = None
    for step in _steps(high - low, integer=integer):
        first = math.floor(low / step + 1e-9)
        last = math.ceil(high / step - 1e-9)
        if last - first <= MAX_INTERVALS:
            chosen = step, first, last
            break
    if chosen is None:  # not reached for finite input; kept as a guard
        raise ValueError(f"no axis for {low!r}..{high!r}")
    step, first, last = chosen
    ticks = tuple(_tidy(k * step) for k in range(first, last + 1))
    return Axis(low=ticks[0], high=ticks[-1], ticks=ticks)


def default_tick(value: float) -> str:
    """A tick's text when the caller gives no format: ``50``, ``2.5``."""
    value = _tidy(value)
    return str(value) if isinstance(value, int) else f"{value:g}"
