"""The best learning rate of a grid sweep, and how it moves with a size (the batch, the width).

A sweep measures a loss at learning rates on a log grid. :func:`refined_best_lr` reads its best
learning rate *between* grid points: a parabola through the best grid point and its two neighbours,
in log(lr), whose vertex is the estimate (kept within those neighbours). Then:

* :func:`best_lrs` -- the refined best lr of every (size, seed) of a sweep;
* :func:`exponent` -- the slope of log(best lr) against log(size), fitted seed by seed, with a
  Student-t interval over seeds (:func:`course_utils.stats.mean`): 1 for "double the size, double
  the lr", 0.5 for the square-root rule, 0 for "the lr transfers";
* :func:`drift_decades` -- how many factors of ten the best lr moves from the smallest size to the
  largest, seed by seed, with its interval;
* :func:`geomean` -- the mean of learning rates on a log scale (the mean over seeds of a best lr);
* :func:`which_rule` -- which scaling rule an exponent's interval points to, in words.

Example:
    >>> import numpy as np
    >>> lrs = np.geomspace(1e-3, 1e-1, 5)
    >>> round(refined_best_lr(lrs, [2.0, 1.2, 1.0, 1.2, 2.0])[0], 4)     # a symmetric valley: its middle
    0.01
    >>> best = np.array([[0.01, 0.011, 0.009], [0.02, 0.021, 0.019], [0.04, 0.041, 0.038]])   # (sizes, seeds)
    >>> iv = exponent([32, 64, 128], best)
    >>> round(iv.estimate, 2), iv.seeds
    (1.0, 3)
"""
from __future__ import annotations

import math

import numpy as np

from . import stats


def refined_best_lr(lrs, losses) -> tuple[float, bool]:
    """``(best lr, at_edge)``: the vertex of a parabola in log(lr) through the lowest loss and its neighbours.

    ``lrs`` ascending (L,), ``losses`` (L,) (``inf``/NaN for a run that diverged). ``at_edge`` is
    True when the lowest loss sits at either end of the grid: the best lr may then lie outside it,
    and the grid's end is returned.
    """
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if lrs.ndim != 1 or losses.shape != lrs.shape or len(lrs) < 3:
        raise ValueError(f"lrs and losses must be 1-D of the same length (at least 3); got {lrs.shape} and {losses.shape}.")
    if not np.all(np.diff(lrs) > 0) or lrs[0] <= 0:
        raise ValueError("lrs must be positive and strictly increasing.")
    finite = np.where(np.isfinite(losses), losses, np.inf)
    if not np.isfinite(finite).any():
        raise ValueError("every run of the sweep diverged: there is no best learning rate; try smaller ones.")
    i = int(np.argmin(finite))
    if i == 0 or i == len(lrs) - 1:
        return float(lrs[i]), True
    x = np.log(lrs[i - 1:i + 2])
    y = finite[i - 1:i + 2]
    if not np.all(np.isfinite(y)):
        return float(lrs[i]), False
    a, b, _ = np.polyfit(x, y, 2)
    vertex = -b / (2 * a) if a > 0 else x[1]
    return float(math.exp(min(max(vertex, x[0]), x[2]))), False


def best_lrs(lrs, final_loss) -> tuple[np.ndarray, np.ndarray]:
    """The refined best lr of every row: ``final_loss`` (..., L) -> ``(best (...), at_edge (...))``."""
    final_loss = np.asarray(final_loss, dtype=float)
    flat = final_loss.reshape(-1, final_loss.shape[-1])
    out = [refined_best_lr(lrs, row) for row in flat]
    shape = final_loss.shape[:-1]
    return (np.array([b for b, _ in out]).reshape(shape), np.array([e for _, e in out]).reshape(shape))


def slopes(sizes, best) -> np.ndarray:
    """(S,) the least-squares slope of log(best lr) against log(size) for each seed; ``best`` is (sizes, S)."""
    sizes = np.asarray(sizes, dtype=float)
    best = np.asarray(best, dtype=float)
    if best.ndim != 2 or best.shape[0] != len(sizes) or len(sizes) < 2:
        raise ValueError(f"best must have shape (sizes, seeds) with at least 2 sizes; got {best.shape} for "
                         f"{len(sizes)} sizes.")
    if np.any(best <= 0) or not np.all(np.isfinite(best)):
        raise ValueError("best learning rates must be positive and finite.")
    x = np.log(sizes) - np.log(sizes).mean()
    y = np.log(best) - np.log(best).mean(axis=0)
    return (x @ y) / (x @ x)


def exponent(sizes, best) -> stats.Interval:
    """The exponent a of best lr ∝ size^a: the mean over seeds of the per-seed slope, with its t interval."""
    return stats.mean(slopes(sizes, best))


def drift_decades(sizes, best) -> stats.Interval:
    """log10(best lr at the largest size / at the smallest) along the fitted line, per seed, with its interval.

    Reading it off the fitted line rather than the two end points uses every size.

    Example:
        >>> iv = drift_decades([32, 256], [[1e-2, 1e-2, 1e-2], [1e-3, 2e-3, 1e-3]])
        >>> round(iv.estimate, 2)
        -0.9
    """
    sizes = np.asarray(sizes, dtype=float)
    return stats.mean(slopes(sizes, best) * math.log10(sizes.max() / sizes.min()))


def geomean(values, axis=None):
    """The geometric mean of positive ``values`` (learning rates): a float, or an array along ``axis``.

    Example:
        >>> round(geomean([1e-3, 1e-1]), 6)
        0.01
    """
    mean = np.exp(np.mean(np.log(np.asarray(values, dtype=float)), axis=axis))
    return float(mean) if axis is None else mean


def which_rule(interval: stats.Interval, *, linear: float = 1.0, square_root: float = 0.5) -> str:
    """Which rule an exponent's interval points to: the linear rule (1), the square-root rule (0.5), or
    neither, decided against the halfway point 0.75 by the interval as a whole (too few seeds: says so).

    Example:
        >>> which_rule(stats.mean([0.95, 1.0, 1.05]))
        'closer to the linear rule than to the square-root rule'
        >>> which_rule(stats.mean([0.4, 0.5, 0.6]))
        'closer to the square-root rule than to the linear rule'
    """
    halfway = (linear + square_root) / 2
    if interval.seeds < stats.MIN_SEEDS:
        return "too few seeds to tell the rules apart"
    if interval.low > halfway:
        return "closer to the linear rule than to the square-root rule"
    if interval.high < halfway:
        return ("closer to the square-root rule than to the linear rule" if interval.high > square_root / 2
                else "below both rules")
    return f"between the two rules (the interval contains {halfway:g}, halfway)"
