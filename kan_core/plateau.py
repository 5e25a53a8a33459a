"""Plateau detection: has training stopped making progress?

A pure, step-by-step detector (no I/O, no torch) for a training loop that should stop by itself
when its loss levels off. Feed it each step's values; it answers whether the run has plateaued.

The test compares two medians: the values of the last ``patience`` steps against those of the
``patience`` steps before. A run has plateaued when no tracked value improved (fell) by more
than ``rel_tol`` of itself between the two windows. Medians, not minima or means, so that a
few noise spikes — up or down — neither stop a run nor keep it going; two whole windows, so a
slow but steady decrease (any relative fall above ``rel_tol`` per ``patience`` steps) goes on.

Steps marked ``hold`` (the trainer still has grid updates scheduled: each one moves the loss)
and non-finite values restart the count; so does :meth:`PlateauDetector.reset` (an edit, new
settings, a new run). No stop comes before ``max(min_steps, 2 * patience)`` counted steps.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["PlateauDetector", "plateau_step"]


@dataclass
class PlateauDetector:
    """Answers ``update(values)`` → True once every tracked value has stopped improving."""

    patience: int = 20  # steps per window: the last window is compared with the one before
    rel_tol: float = 1e-3  # a fall of less than this fraction per window is no improvement
    min_steps: int = 0  # counted steps before any stop (at least 2 * patience anyway)
    _history: deque = field(init=False, repr=False)
    _counted: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int):
            raise ValueError(f"patience must be a whole number, got {self.patience!r}")
        if self.patience < 1:
            raise ValueError(f"patience must be ≥ 1, got {self.patience}")
        if not (isinstance(self.rel_tol, int | float) and 0 < self.rel_tol < 1):
            raise ValueError(f"rel_tol must be a number in (0, 1), got {self.rel_tol!r}")
        if isinstance(self.min_steps, bool) or not isinstance(self.min_steps, int):
            raise ValueError(f"min_steps must be a whole number, got {self.min_steps!r}")
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be ≥ 0, got {self.min_steps}")
        self._history = deque(maxlen=2 * self.patience)

    @property
    def counted(self) -> int:
        """Steps counted since the last reset, hold or non-finite value."""
        return self._counted

    def reset(self) -> None:
        """Forget the history: the next values start a fresh count."""
        self._history.clear()
        self._counted = 0

    def update(self, values: float | Sequence[float], hold: bool = False) -> bool:
        """Record one step's values (a loss, or several quantities tracked together, the same
        number every step); True when none of them improved over the last window."""
        vals = (float(values),) if isinstance(values, int | float) else tuple(map(float, values))
        if not vals:
            raise ValueError("update needs at least one value")
        if self._history and len(self._history[-1]) != len(vals):
            raise ValueError(
                f"update got {len(vals)} values; earlier steps had {len(self._history[-1])}"
            )
        if hold or not all(math.isfinite(v) for v in vals):
            self.reset()
            return False
        self._history.append(vals)
        self._counted += 1
        if self._counted < max(self.min_steps, 2 * self.patience):
            return False
        rows = list(self._history)
        before, last = rows[: self.patience], rows[self.patience :]
        return not any(
            _improved(_median([r[k] for r in before]), _median([r[k] for r in last]), self.rel_tol)
            for k in range(len(vals))
        )


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _improved(before: float, after: float, rel_tol: float) -> bool:
    return before - after > rel_tol * abs(before)


def plateau_step(
    curve: Sequence[float] | Sequence[Sequence[float]],
    patience: int = 20,
    rel_tol: float = 1e-3,
    min_steps: int = 0,
    hold_until: int = 0,
) -> int | None:
    """The 1-based step at which a run over ``curve`` would stop (None: it never does); steps
    up to ``hold_until`` are held (grid updates still scheduled)."""
    det = PlateauDetector(patience, rel_tol, min_steps)
    for n, v in enumerate(curve, start=1):
        if det.update(v, hold=n <= hold_until):
            return n
    return None
