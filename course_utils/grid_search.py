"""Reading a grid search: which learning rates of a grid count as good, from each one's final loss.

A grid search trains once per learning rate of a grid (log-spaced, usually) and compares the
final losses. Two readings of that curve, both about the span around the best learning rate:

* :func:`good_range` -- the grid points next to the best whose final loss is at most ``factor``
  times the best (a :class:`GoodRange`: the points themselves, the best, the ends). Lesson 04
  compares optimizers by it.
* :func:`good_region` -- where the curve through the grid points (straight in log lr) stays at
  or below ``(1 + margin)`` times the best: the ends are interpolated between grid points.
  Lesson 06 asks whether a range test's suggestion lands inside it.

Both treat a diverged run (``inf`` or NaN) as the worst possible loss.

Example:
    >>> good_range([1e-3, 1e-2, 1e-1], [0.9, 0.2, 0.3], factor=2.0).high
    0.1
    >>> [round(x, 4) for x in good_region([1e-3, 1e-2, 1e-1], [0.9, 0.2, 0.3], margin=0.5)]
    [0.0072, 0.1]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arguments import check_range


def _as_grid(lrs, losses, minimum: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``lrs`` (k,) and ``losses`` (k,) as float arrays, a diverged run's loss (inf or NaN) as ``inf``."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if lrs.ndim != 1 or losses.shape != lrs.shape or len(lrs) < minimum:
        raise ValueError(f"lrs and the final losses must be 1-D of the same length (at least {minimum}), "
                         f"got shapes {lrs.shape} and {losses.shape}.")
    if np.any(np.diff(lrs) <= 0) or np.any(lrs <= 0):
        raise ValueError("lrs must be positive and strictly increasing (a grid from small to large).")
    return lrs, np.where(np.isfinite(losses), losses, np.inf)


@dataclass(frozen=True)
class GoodRange:
    """The best learning rate of a sweep and the learning rates nearly as good.

    ``lrs`` (k,) ascending and ``final_losses`` (k,) (``inf``/NaN for a run that diverged);
    ``good`` (k,) marks the contiguous block of learning rates around the best whose final loss
    is at most ``factor`` × the best; ``low``/``high`` are its ends.
    """

    lrs: np.ndarray
    final_losses: np.ndarray
    factor: float
    best_lr: float
    best_loss: float
    good: np.ndarray
    low: float
    high: float

    @property
    def width_decades(self) -> float:
        """log10(high / low): how many factors of ten the good range spans on the grid."""
        return math.log10(self.high / self.low)

    def contains(self, lr: float) -> bool:
        """Whether ``lr`` lies within [low, high]."""
        return bool(self.low * (1 - 1e-9) <= lr <= self.high * (1 + 1e-9))


def good_range(lrs, final_losses, factor: float) -> GoodRange:
    """The best learning rate of a sweep and the contiguous range whose final loss is ≤ ``factor`` × the best.

    Example:
        >>> r = good_range([1e-3, 1e-2, 1e-1, 1.0], [0.9, 0.2, 0.3, float("inf")], factor=2.0)
        >>> r.best_lr, r.low, r.high, round(r.width_decades, 1)
        (0.01, 0.01, 0.1, 1.0)
    """
    lrs, final = _as_grid(lrs, final_losses)
    factor = check_range(factor, "factor", 1, hint="the good range's losses are at most factor x the best")
    if not np.any(np.isfinite(final)):
        raise ValueError("every run diverged: there is no best learning rate on this grid; try smaller ones.")
    best = int(np.argmin(final))
    ok = final <= factor * final[best]
    lo = hi = best
    while lo > 0 and ok[lo - 1]:
        lo -= 1
    while hi < len(lrs) - 1 and ok[hi + 1]:
        hi += 1
    good = np.zeros(len(lrs), dtype=bool)
    good[lo:hi + 1] = True
    return GoodRange(lrs=lrs, final_losses=final, factor=float(factor), best_lr=float(lrs[best]),
                     best_loss=float(final[best]), good=good, low=float(lrs[lo]), high=float(lrs[hi]))


def good_region(lrs, values, margin: float = 0.05) -> tuple[float, float]:
    """The span of learning rates where a grid search's final loss is within ``margin`` of its best.

    ``lrs`` (k,) ascending grid, ``values`` (k,) the final (validation) loss of each, lower is
    better and positive. The region is the connected span around the best grid point where the
    curve through the grid points, drawn straight in log lr, stays at or below
    ``(1 + margin) * best``: its ends are where that curve crosses the threshold, or the grid's
    ends. Assumes the loss changes smoothly between neighbouring grid points (the grid cannot see
    anything narrower than its step).

    Example:
        >>> low, high = good_region([1e-4, 1e-3, 1e-2], [2.2, 2.0, 2.3], margin=0.05)  # threshold 2.1
        >>> f"{low:.3g} {high:.3g}"     # half-way (in log lr) to 1e-4, a third of the way to 1e-2
        '0.000316 0.00215'
    """
    lrs, values = _as_grid(lrs, values, minimum=2)
    margin = check_range(margin, "margin", 0, hint="it is a fraction: 0.05 = within 5 %")
    best = int(np.argmin(values))
    threshold = (1.0 + margin) * values[best]
    log = np.log(lrs)

    def edge(step: int) -> float:
        i = best
        while 0 <= i + step < len(lrs) and values[i + step] <= threshold:
            i += step
        j = i + step
        if not 0 <= j < len(lrs):
            return float(lrs[i])
        if not np.isfinite(values[j]):
            return float(lrs[i])
        fraction = (threshold - values[i]) / (values[j] - values[i])
        return float(np.exp(log[i] + fraction * (log[j] - log[i])))

    return edge(-1), edge(+1)


__all__ = ["GoodRange", "good_range", "good_region"]
