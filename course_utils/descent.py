"""Plain gradient descent w ← w − lr ∇f(w) on a surface: trajectories and steps to tolerance.

These are the course's reference versions; lessons have learners write the update themselves.
Divergence is a result, not a crash: a run that blows up stops early and says so.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> run = run_gd(make_bowl((1.0, 10.0)).grad, w0=[1.0, 1.0], lr=0.25, num_steps=100)
    >>> run.diverged, run.points.shape[1]
    (True, 2)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .arguments import check_int, check_lr, check_tol

# |w| beyond this counts as diverged: on a bowl the loss is ~1e16 times its start by then. The one
# threshold of the course's runs (here, in course_utils.sweeps and in course_utils.regression).
BLOWUP = 1e8


@dataclass(frozen=True)
class GDTrajectory:
    """One run of GD on a surface: ``points`` (k+1, n) are w_0..w_k; k < num_steps when it diverged.

    (Not :class:`course_utils.curvature.GDRun`, which is full-batch GD on a network with its sharpness.)
    """

    lr: float
    points: np.ndarray
    diverged: bool

    @property
    def num_steps(self) -> int:
        return len(self.points) - 1


def run_gd(grad: Callable[[np.ndarray], np.ndarray], w0, lr: float, num_steps: int,
           *, blowup: float = BLOWUP) -> GDTrajectory:
    """Run ``num_steps`` of GD from ``w0`` (shape (n,)) and return every iterate.

    Stops early, with ``diverged=True``, once |w| exceeds ``blowup`` or turns non-finite,
    so a too-large learning rate never overflows or warns.
    """
    lr = check_lr(lr)
    num_steps = check_int(num_steps, "num_steps")
    w = np.array(w0, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"w0 must be a vector of shape (n,), got shape {w.shape}.")
    points = [w.copy()]
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(num_steps)):
            w = w - lr * np.asarray(grad(w), dtype=float)
            points.append(w.copy())
            if not np.all(np.isfinite(w)) or np.linalg.norm(w) > blowup:
                diverged = True
                break
    return GDTrajectory(lr=lr, points=np.array(points), diverged=diverged)


def steps_to_tolerance(surface, w0, lr: float, tol: float = 1e-6, max_steps: int = 10_000) -> float:
    """Steps of GD until f(w) ≤ tol · f(w0); ``math.inf`` if it diverges or needs more than ``max_steps``.

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> steps_to_tolerance(make_bowl((1.0, 1.0)), [1.0, 0.0], lr=1.0)
        1
    """
    lr, tol = check_lr(lr), check_tol(tol)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    w = np.array(w0, dtype=float)
    target = tol * float(surface.value(w))
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, int(max_steps) + 1):
            w = w - lr * surface.grad(w)
            loss = float(surface.value(w))
            if loss <= target:
                return step
            if not math.isfinite(loss) or np.linalg.norm(w) > BLOWUP:
                return math.inf
    return math.inf


@dataclass(frozen=True)
class LRSweep:
    """Steps to tolerance for many learning rates from one start (all arrays of shape (k,)).

    ``steps[i]`` is ``math.inf`` where run i did not reach the tolerance within ``max_steps``;
    ``diverged[i]`` says whether it blew up or ended above where it started.
    """

    lrs: np.ndarray
    steps: np.ndarray
    diverged: np.ndarray
    tol: float
    max_steps: int

    @property
    def best_lr(self) -> float:
        """The learning rate that needed the fewest steps (the smallest one on a tie)."""
        if not np.any(np.isfinite(self.steps)):
            raise ValueError("no learning rate reached the tolerance; widen the grid or raise max_steps.")
        return float(self.lrs[int(np.argmin(self.steps))])

    @property
    def first_diverging_lr(self) -> float:
        """The smallest learning rate whose run diverged (``math.inf`` if none did)."""
        hits = np.flatnonzero(self.diverged)
        return float(self.lrs[hits[0]]) if hits.size else math.inf


def _count_steps(surface, w: np.ndarray, lrs: np.ndarray, tol: float, max_steps: int):
    """GD from each row of ``w`` (k, n) with its own lr ``lrs[i]``, all at once: (steps, diverged), each (k,)."""
    start = surface.value(w)
    steps = np.full(len(lrs), math.inf)
    diverged = np.zeros(len(lrs), dtype=bool)
    active = np.ones(len(lrs), dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, int(max_steps) + 1):
            w[active] -= lrs[active, None] * surface.grad(w[active])
            loss = surface.value(w)
            done = active & (loss <= tol * start)
            steps[done] = step
            blown = active & ~done & (~np.isfinite(loss) | (np.linalg.norm(w, axis=1) > BLOWUP))
            diverged |= blown
            active &= ~(done | blown)
            if not active.any():
                break
        diverged |= active & ~(surface.value(w) <= start)  # never converged and ended above the start
    return steps, diverged


def sweep_lr(surface, w0, lrs, tol: float = 1e-6, max_steps: int = 10_000) -> LRSweep:
    """Run GD from ``w0`` (shape (n,)) with every learning rate in ``lrs`` at once (vectorised).

    Counts, for each learning rate, the steps until f(w) ≤ tol · f(w0) (as
    :func:`steps_to_tolerance` does for one) and whether the run diverged.

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> sweep = sweep_lr(make_bowl((1.0, 10.0)), [1.0, 1.0], lrs=[0.05, 0.18, 0.25])
        >>> sweep.steps.tolist(), sweep.diverged.tolist()
        ([112.0, 32.0, inf], [False, False, True])
    """
    lrs = np.array([check_lr(lr) for lr in np.atleast_1d(lrs)], dtype=float)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    tol = check_tol(tol)
    w0 = np.array(w0, dtype=float)
    if w0.ndim != 1:
        raise ValueError(f"w0 must be a vector of shape (n,), got shape {w0.shape}.")
    steps, diverged = _count_steps(surface, np.tile(w0, (len(lrs), 1)), lrs, tol, max_steps)
    return LRSweep(lrs=lrs, steps=steps, diverged=diverged, tol=float(tol), max_steps=int(max_steps))


def _as_starts(starts) -> np.ndarray:
    starts = np.array(starts, dtype=float)
    if starts.ndim != 2 or len(starts) == 0 or not np.all(np.isfinite(starts)):
        raise ValueError(f"starts must be finite points of shape (k, n), one per row; got shape {starts.shape}.")
    return starts


def steps_from_starts(surface, starts, lr: float, tol: float = 1e-6, max_steps: int = 10_000) -> np.ndarray:
    """Steps of GD with one ``lr`` from each row of ``starts`` (k, n) until f(w) ≤ tol · f(start), all at once.

    Returns shape (k,): ``math.inf`` where a run diverged or needed more than ``max_steps``.

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> steps_from_starts(make_bowl((1.0, 10.0)), [[1.0, 0.0], [0.0, 1.0]], lr=0.1).tolist()
        [66.0, 1.0]
    """
    lr, tol = check_lr(lr), check_tol(tol)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    starts = _as_starts(starts)
    return _count_steps(surface, starts.copy(), np.full(len(starts), lr), tol, max_steps)[0]


def run_gd_many(grad: Callable[[np.ndarray], np.ndarray], starts, lr: float, num_steps: int) -> np.ndarray:
    """Every iterate of GD with one ``lr`` from each row of ``starts`` (k, n), all at once: shape (num_steps + 1, k, n).

    ``grad`` takes points of shape (k, n). No run stops early: a diverging one grows (to ``inf``
    at worst, without warnings), so keep ``num_steps`` short where the lr may be too large.

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> run_gd_many(make_bowl((1.0, 10.0)).grad, [[1.0, 1.0], [2.0, 0.0]], lr=0.1, num_steps=1)[-1].tolist()
        [[0.9, 0.0], [1.8, 0.0]]
    """
    lr = check_lr(lr)
    num_steps = check_int(num_steps, "num_steps")
    w = _as_starts(starts)
    points = [w]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_steps):
            w = w - lr * np.asarray(grad(w), dtype=float)
            points.append(w)
    return np.array(points)
