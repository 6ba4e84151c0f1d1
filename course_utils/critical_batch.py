"""Steps to a target loss against the batch size, and the model S = S_min (1 + B_crit / B) (McCandlish et al. 2018).

Tune the learning rate at every batch size B and count the steps S a run needs to reach a target
loss, and the examples E = B·S it reads on the way. McCandlish et al. found (and derived for a
quadratic with gradient noise) that the two trade off as

    (S / S_min − 1) (E / E_min − 1) = 1,   i.e.   S = S_min (1 + B_crit / B),   E = E_min (1 + B / B_crit),

with the **critical batch size** B_crit = E_min / S_min. Far below B_crit, doubling the batch halves
the steps (and costs no extra examples); far above, it saves almost no steps (and doubles the
examples). They predict B_crit ≈ B_noise, the gradient noise scale near the target
(:mod:`course_utils.noise_scale`).

* :func:`regression_steps` -- steps to a target excess loss on lesson 03's regression, for many
  learning rates and independent runs at once (plain SGD, closed-form gradients, float64);
* :func:`first_crossing` -- the (interpolated) step at which measured loss curves reach a target;
* :func:`fit_steps` / :func:`steps_model` -- the model fitted to measured steps.

Example:
    >>> import numpy as np
    >>> B = np.array([1, 4, 16, 64, 256])
    >>> s_min, b_crit = fit_steps(B, steps_model(B, 10.0, 50.0))
    >>> round(s_min, 6), round(b_crit, 6)
    (10.0, 50.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import stats
from .arguments import check_int
from .runtime import torch_threads


def steps_model(batch_sizes, s_min: float, b_crit: float) -> np.ndarray:
    """S = S_min (1 + B_crit / B) at ``batch_sizes``."""
    return s_min * (1.0 + b_crit / np.asarray(batch_sizes, dtype=float))


def examples_model(batch_sizes, s_min: float, b_crit: float) -> np.ndarray:
    """E = B · S = E_min (1 + B / B_crit) with E_min = S_min · B_crit."""
    B = np.asarray(batch_sizes, dtype=float)
    return B * steps_model(B, s_min, b_crit)


def fit_steps(batch_sizes, steps) -> tuple[float, float]:
    """``(S_min, B_crit)`` of S = S_min + S_min·B_crit / B fitted to measured ``steps`` (one per batch size).

    S is a straight line in 1/B; each point is weighted by 1/S, so that every batch size counts by
    its *relative* error (a run of 1000 steps is not a hundred times more important than one of 10).
    """
    B = np.asarray(batch_sizes, dtype=float)
    S = np.asarray(steps, dtype=float)
    if B.shape != S.shape or B.ndim != 1 or len(B) < 2:
        raise ValueError(f"batch_sizes and steps must be 1-D of the same length (at least 2); got {B.shape}, {S.shape}.")
    if not (np.all(np.isfinite(S)) and np.all(S > 0)):
        raise ValueError("every batch size needs a finite, positive number of steps (did a run never reach the target?).")
    design = np.stack([np.ones_like(B), 1.0 / B], axis=1) / S[:, None]
    (a, c), *_ = np.linalg.lstsq(design, np.ones_like(S), rcond=None)
    if a <= 0:
        return math.nan, math.nan
    return float(a), float(c / a)


def first_crossing(steps, losses, target: float) -> np.ndarray:
    """The step at which each curve first reaches ``target``, interpolating linearly between measurements.

    ``steps`` (m,) increasing; ``losses`` (..., m). Curves that never reach it give ``inf``.

    Example:
        >>> first_crossing([0, 10, 20], [[3.0, 2.0, 1.0], [3.0, 2.5, 2.2]], 1.5).tolist()
        [15.0, inf]
    """
    steps = np.asarray(steps, dtype=float)
    losses = np.asarray(losses, dtype=float)
    below = np.where(np.isfinite(losses), losses, np.inf) <= target
    flat_below = below.reshape(-1, len(steps))
    flat = losses.reshape(-1, len(steps))
    out = np.full(len(flat), math.inf)
    for r, (row, hit) in enumerate(zip(flat, flat_below)):
        if not hit.any():
            continue
        k = int(np.argmax(hit))
        if k == 0:
            out[r] = steps[0]
            continue
        y0, y1 = row[k - 1], row[k]
        t = (y0 - target) / (y0 - y1) if y0 != y1 else 1.0
        out[r] = steps[k - 1] + t * (steps[k] - steps[k - 1])
    return out.reshape(losses.shape[:-1])


@dataclass(frozen=True)
class RegressionSteps:
    """Steps to the target per learning rate and run: ``steps`` (L, R) (``inf``: never within
    ``max_steps``, or diverged), ``lrs`` (L,), ``batch_size``, ``target`` (an excess loss)."""

    lrs: np.ndarray
    steps: np.ndarray
    batch_size: int
    target: float
    max_steps: int

    @property
    def mean_steps(self) -> np.ndarray:
        """(L,) mean over runs (``inf`` if any run of that lr did not arrive)."""
        return self.steps.mean(axis=1)

    @property
    def best(self) -> tuple[float, float, float]:
        """``(best lr, its mean steps, the standard error of that mean)``."""
        i = int(np.argmin(self.mean_steps))
        runs = self.steps[i]
        se = float(runs.std(ddof=1) / math.sqrt(len(runs))) if np.all(np.isfinite(runs)) and len(runs) > 1 else math.inf
        return float(self.lrs[i]), float(self.mean_steps[i]), se


def regression_steps(problem, *, batch_size: int, lrs, target: float, num_runs: int, max_steps: int,
                     seed: int = 0, theta0=None, num_threads: int | None = 1) -> RegressionSteps:
    """Plain SGD on the least-squares ``problem`` (:class:`course_utils.regression.LeastSquares`) from
    ``theta0`` (default 0), ``num_runs`` independent runs for each learning rate, all at once, until
    the excess loss L(θ) − L(θ*) is at most ``target``.

    Each run draws its own minibatches of ``batch_size`` rows with replacement (one generator seeded
    with ``seed``); the gradient is (2/B) X̃_Bᵀ(X̃_B θ − y_B), and the excess loss is ½ δᵀHδ exactly
    (δ = θ − θ*), so checking it every step costs little. A run whose excess loss passes 1e12 counts
    as diverged.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    num_runs = check_int(num_runs, "num_runs", minimum=1)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or not np.all(lrs > 0):
        raise ValueError("lrs must be a 1-D array of positive learning rates.")
    if not target > 0:
        raise ValueError(f"target is an excess loss above the least-squares minimum; it must be positive, got {target}.")
    X = torch.as_tensor(problem.inputs, dtype=torch.float64)
    y = torch.as_tensor(problem.targets, dtype=torch.float64)
    H = torch.as_tensor(problem.hessian, dtype=torch.float64)
    solution = torch.as_tensor(problem.solution, dtype=torch.float64)
    L, R, p = len(lrs), num_runs, X.shape[1]
    theta = torch.zeros(L * R, p, dtype=torch.float64)          # row l·R + r: run r of lrs[l]
    if theta0 is not None:
        theta += torch.as_tensor(np.asarray(theta0, dtype=float), dtype=torch.float64)
    lr = torch.as_tensor(np.repeat(lrs, R), dtype=torch.float64)[:, None]
    generator = torch.Generator().manual_seed(int(seed))
    steps = np.full((L, R), math.inf)
    done = np.zeros((L, R), dtype=bool)               # arrived, diverged, or given up on
    with torch_threads(num_threads):
        _run(X, y, H, solution, theta, lr, generator, steps, done, batch_size, target, max_steps, R)
    return RegressionSteps(lrs=lrs, steps=steps, batch_size=batch_size, target=float(target), max_steps=max_steps)


def _run(X, y, H, solution, theta, lr, generator, steps, done, batch_size, target, max_steps, R) -> None:
    """The SGD loop of :func:`regression_steps`; fills ``steps`` and ``done`` (L, R) in place."""
    for step in range(1, max_steps + 1):
        live = np.flatnonzero(~done.reshape(-1))
        idx = torch.randint(0, len(X), (len(live), batch_size), generator=generator)
        rows = X[idx]                                                            # (live runs, B, p)
        current = theta[live]
        residual = (rows @ current[:, :, None]).squeeze(-1) - y[idx]             # (live runs, B)
        grad = (2.0 / batch_size) * (residual[:, None, :] @ rows).squeeze(1)     # (live runs, p)
        current = current - lr[live] * grad
        theta[live] = current
        delta = current - solution
        excess = (0.5 * ((delta @ H) * delta).sum(dim=1)).numpy()
        arrived, blown = excess <= target, ~(excess < 1e12)
        flat_steps, flat_done = steps.reshape(-1), done.reshape(-1)
        flat_steps[live[arrived]] = step
        flat_done[live[arrived | blown]] = True
        done[np.unique(live[blown] // R)] = True       # a learning rate with a diverged run cannot win
        if _no_lr_can_win(steps, done, step):
            break


def _no_lr_can_win(steps: np.ndarray, done: np.ndarray, step: int) -> bool:
    """Whether every learning rate with runs still going must end with a larger mean than the best finished one.

    A run still going after ``step`` needs more than ``step`` steps, so its learning rate's mean is
    at least (steps of its arrived runs + (step + 1) × runs still going) / runs.
    """
    finished = np.all(done, axis=1)
    complete = finished & np.all(np.isfinite(steps), axis=1)
    if not complete.any():
        return bool(np.all(done))
    best = steps[complete].mean(axis=1).min()
    going = ~finished & np.all(np.isfinite(steps) | ~done, axis=1)   # still running, none diverged or given up
    bound = (np.where(done, steps, 0.0).sum(axis=1) + (step + 1) * (~done).sum(axis=1)) / steps.shape[1]
    return bool(np.all(bound[going] >= best))


def steps_saved(smaller: RegressionSteps, larger: RegressionSteps) -> stats.Interval:
    """log(steps at the smaller batch / steps at the larger), each at its own best lr, with its interval:
    log 2 means the larger batch halves the steps. The runs of the two batch sizes are independent and
    equally many; differencing them run k against run k gives the variance of a difference of two
    independent means (var_a + var_b), which is what the interval needs."""
    def log_steps(result: RegressionSteps) -> np.ndarray:
        return np.log(result.steps[int(np.argmin(result.mean_steps))])
    return stats.paired_difference(log_steps(smaller), log_steps(larger))
