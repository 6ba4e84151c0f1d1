"""Learning-rate schedules (lesson 05): sampled from PyTorch's schedulers, written as formulas, measured.

* :func:`lr_trace` and :func:`sample_scheduler` read the learning rate a ``torch.optim.lr_scheduler``
  scheduler gives at every step, **without training**: they drive it with a throwaway optimizer
  (one dummy parameter per group), so the caller's optimizer and scheduler are never touched.
* :func:`warmup_cosine_lr` and :func:`warmup_linear_lr` are the two most used modern schedules as
  pure functions of the step; :func:`warmup_cosine` and :func:`warmup_linear` build the same
  schedules from PyTorch's own pieces (``LinearLR`` then ``CosineAnnealingLR`` or ``LinearLR``,
  joined by ``SequentialLR``). The tests check that both give the same numbers.
* :func:`make_schedule` holds the course's recipes (step, exponential, cosine, one-cycle, ...),
  each relative to the optimizer's learning rate, so one name and one peak lr define a schedule.
* :func:`run_regression` measures schedules on lesson 03's regression problem: many SGD runs
  (learning rates x seeds) at once, each with its own learning rate per step.

Plots of these arrays are in :mod:`course_utils.plotting` (``plot_schedules``, ``plot_lr_trace``).

Example:
    >>> import torch
    >>> trace = lr_trace(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), 6, lr=1.0)
    >>> trace.tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

# The warnings PyTorch gives about the call order. A sampler only reads learning rates: it steps the
# scheduler without ever calling optimizer.step() (which would cost more than the scheduler itself),
# so those two warnings, and nothing else, are silenced while it samples.
_ORDER_WARNINGS = (r"Seems like `optimizer.step\(\)` has been overridden", r"Detected call of `lr_scheduler.step\(\)`")


# ----------------------------------------------------------------------------- sampling

def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _throwaway_optimizer(lrs: Sequence[float], groups: Sequence[dict] | None = None):
    """An SGD optimizer over one dummy parameter per group: it never changes anything that matters."""
    import torch

    if groups is None:
        groups = [{"lr": float(lr)} for lr in lrs]
    params = [{**{k: v for k, v in g.items() if k != "params"}, "params": [torch.zeros(1, requires_grad=True)]}
              for g in groups]
    return torch.optim.SGD(params, lr=float(groups[0]["lr"]))


def _is_plateau(scheduler) -> bool:
    import torch

    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def _drive(scheduler, optimizer, num_steps: int, every: int, metrics) -> np.ndarray:
    """Record every group's lr at each step, calling scheduler.step() after every ``every`` steps."""
    plateau = _is_plateau(scheduler)
    num_scheduler_steps = (num_steps - 1) // every  # none is needed after the last step
    if plateau:
        if metrics is None:
            raise ValueError("ReduceLROnPlateau reads a loss at every scheduler step: pass metrics=[loss, ...] "
                             f"(one value per scheduler step, {num_scheduler_steps} here).")
        metrics = np.asarray(metrics, dtype=float).ravel()
        if len(metrics) < num_scheduler_steps:
            raise ValueError(f"metrics has {len(metrics)} values but the scheduler steps {num_scheduler_steps} "
                             f"times in {num_steps} steps (every {every}); pass one loss per scheduler step.")
    elif metrics is not None:
        raise ValueError(f"metrics is only read by ReduceLROnPlateau, not by {type(scheduler).__name__}.")
    trace = np.empty((num_steps, len(optimizer.param_groups)))
    done = 0
    with warnings.catch_warnings():
        for pattern in _ORDER_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        for t in range(num_steps):
            trace[t] = [float(g["lr"]) for g in optimizer.param_groups]
            # (no step after the last recorded value: OneCycleLR refuses to step past its total_steps)
            if (t + 1) % every == 0 and t + 1 < num_steps:
                if plateau:
                    scheduler.step(metrics[done])
                else:
                    scheduler.step()
                done += 1
    return trace


def lr_trace(make_scheduler: Callable, num_steps: int, lr=1.0, *, every: int = 1, metrics=None) -> np.ndarray:
    """The learning rate a scheduler gives at each of ``num_steps`` optimizer steps, without training.

    Args:
        make_scheduler: ``make_scheduler(optimizer) -> scheduler``, e.g.
            ``lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)``; it is given a
            throwaway optimizer whose learning rate is ``lr``.
        num_steps: optimizer steps to sample.
        lr: the optimizer's learning rate (the schedule's base or peak); a sequence gives one
            parameter group per value.
        every: call ``scheduler.step()`` after every ``every`` optimizer steps (e.g. the steps per
            epoch for a per-epoch schedule); 1 = after every step.
        metrics: for ``ReduceLROnPlateau`` only, the loss passed at each scheduler step.

    Returns:
        (num_steps,) array: the lr used by step 0, 1, ...; (num_steps, groups) when ``lr`` is a sequence.

    Example:
        >>> import torch
        >>> lr_trace(lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5), 3, lr=0.1).round(4).tolist()
        [0.1, 0.05, 0.025]
        >>> lr_trace(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1), 4, lr=1.0, every=2).tolist()
        [1.0, 1.0, 0.1, 0.1]
    """
    num_steps = _positive_int(num_steps, "num_steps")
    every = _positive_int(every, "every")
    lrs = [lr] if np.ndim(lr) == 0 else list(lr)
    if not lrs or any(not (math.isfinite(float(v)) and float(v) >= 0) for v in lrs):
        raise ValueError(f"lr must be a non-negative number (or a sequence of them, one per group), got {lr!r}.")
    optimizer = _throwaway_optimizer(lrs)
    scheduler = make_scheduler(optimizer)
    if getattr(scheduler, "optimizer", None) is not optimizer:
        raise ValueError("make_scheduler must build its scheduler on the optimizer it is given, "
                         "e.g. lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10).")
    trace = _drive(scheduler, optimizer, num_steps, every, metrics)
    return trace[:, 0] if np.ndim(lr) == 0 else trace


def sample_scheduler(scheduler, num_steps: int, *, every: int = 1, metrics=None) -> np.ndarray:
    """The learning rates an existing scheduler will give over the next ``num_steps`` steps.

    The scheduler is copied onto a throwaway optimizer with the same param-group settings and
    sampled there: the caller's scheduler, optimizer and model are left exactly as they were.
    Returns (num_steps,) for one parameter group, else (num_steps, groups).

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=1.0)
        >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
        >>> sample_scheduler(sched, 5).tolist(), opt.param_groups[0]["lr"], sched.last_epoch
        ([1.0, 1.0, 0.1, 0.1, 0.010000000000000002], 1.0, 0)
    """
    num_steps = _positive_int(num_steps, "num_steps")
    every = _positive_int(every, "every")
    optimizer = getattr(scheduler, "optimizer", None)
    if optimizer is None:
        raise ValueError(f"expected a torch.optim.lr_scheduler scheduler, got {type(scheduler).__name__}.")
    throwaway = _throwaway_optimizer(None, optimizer.param_groups)
    # Copy the scheduler (and any schedulers it holds), but with the throwaway in place of the optimizer.
    twin = copy.deepcopy(scheduler, {id(optimizer): throwaway})
    trace = _drive(twin, throwaway, num_steps, every, metrics)
    return trace[:, 0] if trace.shape[1] == 1 else trace


# ----------------------------------------------------------------------------- warmup + decay, two ways

def _check_warmup_args(peak_lr, warmup_steps, total_steps, start_factor, final_lr):
    if not (math.isfinite(peak_lr) and peak_lr > 0):
        raise ValueError(f"peak_lr must be a positive number, got {peak_lr!r}.")
    if int(warmup_steps) != warmup_steps or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be a non-negative integer, got {warmup_steps!r}.")
    if int(total_steps) != total_steps or total_steps <= warmup_steps:
        raise ValueError(f"total_steps must be an integer larger than warmup_steps ({warmup_steps}), got {total_steps!r}.")
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must be in (0, 1] (the warmup starts at start_factor * peak_lr), got {start_factor!r}.")
    if not 0 <= final_lr <= peak_lr:
        raise ValueError(f"final_lr must be between 0 and peak_lr ({peak_lr}), got {final_lr!r}.")


def _warmup_then(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr, decay):
    _check_warmup_args(peak_lr, warmup_steps, total_steps, start_factor, final_lr)
    step = np.asarray(step, dtype=float)
    if np.any(step < 0):
        raise ValueError("step must be non-negative.")
    warm = peak_lr * (start_factor + (1 - start_factor) * step / max(warmup_steps, 1))
    progress = np.clip((step - warmup_steps) / (total_steps - warmup_steps), 0.0, 1.0)
    lr = np.where(step < warmup_steps, warm, final_lr + (peak_lr - final_lr) * decay(progress))
    return float(lr) if lr.ndim == 0 else lr


def warmup_cosine_lr(step, peak_lr: float, warmup_steps: int, total_steps: int, *, start_factor: float = 0.01,
                     final_lr: float = 0.0):
    """Linear warmup from ``start_factor * peak_lr`` to ``peak_lr``, then a half cosine down to ``final_lr``.

    Step t (0-based) of ``total_steps``: for t < W = ``warmup_steps`` the lr is
    ``peak_lr * (start_factor + (1 - start_factor) * t / W)``; from t = W it is
    ``final_lr + (peak_lr - final_lr) * (1 + cos(pi * (t - W) / (total_steps - W))) / 2``, reaching
    ``final_lr`` at t = ``total_steps`` (and staying there). ``step`` may be an int or an array.

    Example:
        >>> [round(warmup_cosine_lr(t, 1.0, warmup_steps=2, total_steps=6, start_factor=0.5), 3) for t in range(7)]
        [0.5, 0.75, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    return _warmup_then(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr,
                        lambda p: (1 + np.cos(np.pi * p)) / 2)


def warmup_linear_lr(step, peak_lr: float, warmup_steps: int, total_steps: int, *, start_factor: float = 0.01,
                     final_lr: float = 0.0):
    """Linear warmup as in :func:`warmup_cosine_lr`, then a straight line from ``peak_lr`` to ``final_lr``.

    Example:
        >>> [round(warmup_linear_lr(t, 1.0, warmup_steps=2, total_steps=6, start_factor=0.5), 3) for t in range(7)]
        [0.5, 0.75, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    return _warmup_then(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr, lambda p: 1 - p)


def _peak(optimizer) -> float:
    lrs = {float(g["lr"]) for g in optimizer.param_groups}
    if len(lrs) != 1:
        raise ValueError(f"these schedules use one peak lr for every param group; the optimizer has {sorted(lrs)}.")
    return lrs.pop()


def _join_warmup(optimizer, warmup_steps: int, start_factor: float, decay):
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    if warmup_steps == 0:
        return decay
    warmup = LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)
    return SequentialLR(optimizer, schedulers=[warmup, decay], milestones=[warmup_steps])


def warmup_cosine(optimizer, warmup_steps: int, total_steps: int, *, start_factor: float = 0.01,
                  final_lr: float = 0.0):
    """:func:`warmup_cosine_lr` built from PyTorch's schedulers, stepped once per optimizer step.

    ``LinearLR(start_factor -> 1, total_iters=warmup_steps)`` then
    ``CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min=final_lr)``, joined by
    ``SequentialLR`` at ``warmup_steps``. The peak is the optimizer's lr.

    Example:
        >>> import torch
        >>> trace = lr_trace(lambda opt: warmup_cosine(opt, 2, 6, start_factor=0.5), 6, lr=1.0)
        >>> bool(np.allclose(trace, warmup_cosine_lr(np.arange(6), 1.0, 2, 6, start_factor=0.5)))
        True
    """
    from torch.optim.lr_scheduler import CosineAnnealingLR

    peak = _peak(optimizer)
    _check_warmup_args(peak, warmup_steps, total_steps, start_factor, final_lr)
    cosine = CosineAnnealingLR(optimizer, T_max=int(total_steps) - int(warmup_steps), eta_min=final_lr)
    return _join_warmup(optimizer, int(warmup_steps), start_factor, cosine)


def warmup_linear(optimizer, warmup_steps: int, total_steps: int, *, start_factor: float = 0.01,
                  final_lr: float = 0.0):
    """:func:`warmup_linear_lr` from PyTorch's schedulers: ``LinearLR`` up, then ``LinearLR`` down.

    Example:
        >>> trace = lr_trace(lambda opt: warmup_linear(opt, 2, 6, start_factor=0.5), 6, lr=1.0)
        >>> trace.round(3).tolist()
        [0.5, 0.75, 1.0, 0.75, 0.5, 0.25]
    """
    from torch.optim.lr_scheduler import LinearLR

    peak = _peak(optimizer)
    _check_warmup_args(peak, warmup_steps, total_steps, start_factor, final_lr)
    down = LinearLR(optimizer, start_factor=1.0, end_factor=final_lr / peak,
                    total_iters=int(total_steps) - int(warmup_steps))
    return _join_warmup(optimizer, int(warmup_steps), start_factor, down)


# ----------------------------------------------------------------------------- the course's recipes

SCHEDULES = ("constant", "step", "multistep", "exponential", "cosine", "linear", "warmup_cosine",
             "warmup_linear", "onecycle", "cyclic")


def make_schedule(name: str, optimizer, num_steps: int, *, warmup_steps: int = 0, final_factor: float = 0.01):
    """One of the course's schedule recipes on ``optimizer``, for ``num_steps`` scheduler steps.

    Every recipe starts from (or peaks at) the optimizer's lr and, where it decays, ends at
    ``final_factor`` times it, so the recipes differ only by their shape:

    * ``constant``: ``ConstantLR(factor=1)``, the lr never changes;
    * ``step``: ``StepLR`` with three equal drops (at 1/4, 1/2, 3/4 of the steps);
    * ``multistep``: ``MultiStepLR`` with two equal drops at 1/2 and 3/4 (the classic "divide by 10"
      when ``final_factor`` is 0.01);
    * ``exponential``: ``ExponentialLR``, the same factor every step;
    * ``cosine``: ``CosineAnnealingLR`` down to ``final_factor * lr``;
    * ``linear``: ``LinearLR`` from 1 down to ``final_factor``;
    * ``warmup_cosine``, ``warmup_linear``: :func:`warmup_cosine`, :func:`warmup_linear` with
      ``warmup_steps`` (linear warmup from 1 % of the lr);
    * ``onecycle``: ``OneCycleLR`` up from lr/25 to lr over ``warmup_steps`` (default 30 % of the
      steps), then cosine down to ``final_factor * lr``; momentum is not cycled;
    * ``cyclic``: ``CyclicLR`` ``triangular2`` between ``final_factor * lr`` and lr, four cycles,
      each half as high as the one before.

    Example:
        >>> lr_trace(lambda opt: make_schedule("multistep", opt, 8), 8, lr=1.0).round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    from torch.optim import lr_scheduler as S

    num_steps = _positive_int(num_steps, "num_steps")
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}.")
    if not 0 < final_factor <= 1:
        raise ValueError(f"final_factor must be in (0, 1] (the end lr as a fraction of the peak), got {final_factor!r}.")
    if int(warmup_steps) != warmup_steps or not 0 <= warmup_steps < num_steps:
        raise ValueError(f"warmup_steps must be an integer from 0 to num_steps - 1 ({num_steps - 1}), got {warmup_steps!r}.")
    peak = _peak(optimizer)
    if name == "constant":
        return S.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if name == "step":
        return S.StepLR(optimizer, step_size=max(1, num_steps // 4), gamma=final_factor ** (1 / 3))
    if name == "multistep":
        return S.MultiStepLR(optimizer, milestones=[num_steps // 2, (3 * num_steps) // 4], gamma=final_factor ** 0.5)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=final_factor ** (1 / num_steps))
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=num_steps, eta_min=final_factor * peak)
    if name == "linear":
        return S.LinearLR(optimizer, start_factor=1.0, end_factor=final_factor, total_iters=num_steps)
    if name == "warmup_cosine":
        return warmup_cosine(optimizer, int(warmup_steps), num_steps, final_lr=final_factor * peak)
    if name == "warmup_linear":
        return warmup_linear(optimizer, int(warmup_steps), num_steps, final_lr=final_factor * peak)
    if name == "onecycle":
        pct_start = warmup_steps / num_steps if warmup_steps else 0.3
        return S.OneCycleLR(optimizer, max_lr=peak, total_steps=num_steps, pct_start=pct_start, div_factor=25.0,
                            final_div_factor=1 / (25.0 * final_factor), cycle_momentum=False)
    # cyclic
    return S.CyclicLR(optimizer, base_lr=final_factor * peak, max_lr=peak, step_size_up=max(1, num_steps // 8),
                      mode="triangular2", cycle_momentum=False)


# ----------------------------------------------------------------------------- lesson 03's regression, many runs at once

@dataclass(frozen=True)
class RegressionRuns:
    """SGD runs on a regression problem: one per (schedule, seed), measured every few steps.

    ``lr`` (L, S, T): the learning rate each run used at each step; ``eval_steps`` (E,): the steps
    after which the loss on all the data was measured (0 = before training); ``excess`` (L, S, E):
    that loss minus the least-squares loss (the lowest possible); ``seeds`` (S,).
    """

    lr: np.ndarray
    eval_steps: np.ndarray
    excess: np.ndarray
    seeds: tuple

    @property
    def final(self) -> np.ndarray:
        """(L, S): the excess loss after the last step."""
        return self.excess[..., -1]


def least_squares_loss(X, y) -> float:
    """The lowest mean squared error any ``x·w + b`` reaches on (X (n, d), y (n,)), computed in float64."""
    X = np.asarray(X, dtype=np.float64)
    X1 = np.concatenate([X, np.ones((len(X), 1))], axis=1)
    y = np.asarray(y, dtype=np.float64)
    solution = np.linalg.lstsq(X1, y, rcond=None)[0]
    return float(np.mean((X1 @ solution - y) ** 2))


def seeded_start(num_features: int, num_samples: int, num_steps: int, batch_size: int, seed: int):
    """What ``seed`` fixes in a regression run: initial weights (d,), bias, and every step's minibatch rows.

    The weights and bias are uniform in ±1/sqrt(d) (the range ``torch.nn.Linear`` draws from);
    the rows are (num_steps, batch_size) indices into the data. All come from
    ``torch.Generator().manual_seed(seed)``, so they are the same on every machine.

    Example:
        >>> w, b, rows = seeded_start(3, 100, num_steps=5, batch_size=4, seed=0)
        >>> w.shape, rows.shape, bool(abs(b) <= 1 / 3 ** 0.5)
        ((3,), (5, 4), True)
    """
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    bound = 1 / math.sqrt(num_features)
    w = (2 * torch.rand(num_features, generator=gen, dtype=torch.float64) - 1) * bound
    b = (2 * torch.rand((), generator=gen, dtype=torch.float64) - 1) * bound
    rows = torch.randint(0, num_samples, (num_steps, batch_size), generator=gen)
    return w.numpy(), float(b), rows.numpy()


def run_regression(data, lr_per_step, *, seeds: Sequence[int] = (0,), batch_size: int = 8,
                   eval_every: int | None = None, make_plateau: Callable | None = None) -> RegressionRuns:
    """Minibatch SGD on lesson 03's regression, for L learning-rate schedules x S seeds at once.

    Every run is plain SGD on the mean squared error of ``x·w + b``, step t using
    ``lr_per_step[l, t]``: ``w <- w - lr * (2/B) X_bᵀ r``, ``b <- b - lr * (2/B) Σ r`` on a minibatch
    of ``batch_size`` random rows (the gradient of lesson 03). Seed s fixes the initial weights
    and the minibatches, the same for every schedule, so schedules are compared on the same data.
    The update is written out in NumPy (not ``torch.optim.SGD``) only so that all L x S runs take a
    few array operations per step; the tests check it against ``torch.optim.SGD`` with a scheduler.

    Args:
        data: a :class:`~course_utils.synthetic.RegressionData` (``X`` (n, d), ``y`` (n,)).
        lr_per_step: (L, T) or (T,) learning rates, e.g. rows of :func:`lr_trace`.
        seeds: one run per seed for every schedule.
        eval_every: measure the loss on all the data every this many steps (default T // 50).
        make_plateau: ``make_plateau(optimizer) -> ReduceLROnPlateau``: each run then starts at
            ``lr_per_step[l, 0]`` (which must be constant) and its own plateau scheduler lowers it,
            reading that run's loss on all the data at every evaluation.

    Example:
        >>> from course_utils.synthetic import make_linear_regression
        >>> data = make_linear_regression(200, 3, noise_std=0.3, seed=0)
        >>> runs = run_regression(data, np.full((2, 100), [[0.05], [0.01]]), seeds=(0, 1), eval_every=50)
        >>> runs.excess.shape, runs.eval_steps.tolist()
        ((2, 2, 3), [0, 50, 100])
    """
    lrs = np.atleast_2d(np.asarray(lr_per_step, dtype=float))
    if lrs.ndim != 2 or not np.all(np.isfinite(lrs)) or np.any(lrs < 0):
        raise ValueError("lr_per_step must be a (T,) or (L, T) array of non-negative learning rates.")
    num_schedules, num_steps = lrs.shape
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    batch_size = _positive_int(batch_size, "batch_size")
    eval_every = _positive_int(eval_every or max(1, num_steps // 50), "eval_every")
    X = np.asarray(data.X, dtype=np.float64)
    y = np.asarray(data.y, dtype=np.float64)
    n, d = X.shape
    best = least_squares_loss(X, y)

    starts = [seeded_start(d, n, num_steps, batch_size, seed) for seed in seeds]
    w = np.array([[w0 for w0, _, _ in starts]] * num_schedules)                    # (L, S, d)
    b = np.array([[b0 for _, b0, _ in starts]] * num_schedules, dtype=np.float64)  # (L, S)
    rows = np.stack([r for _, _, r in starts], axis=1)                             # (T, S, B)
    lr_used = np.empty((num_schedules, len(seeds), num_steps))

    plateaus = None
    current = np.repeat(lrs[:, :1], len(seeds), axis=1)  # (L, S): the lr of each run, with plateaus
    if make_plateau is not None:
        if not np.all(lrs == lrs[:, :1]):
            raise ValueError("with make_plateau, each row of lr_per_step must be constant (its starting lr).")
        plateaus = []
        for lr in current.ravel():
            opt = _throwaway_optimizer([lr])
            plateaus.append((opt, make_plateau(opt)))

    def full_loss():
        residual = w @ X.T + b[..., None] - y      # (L, S, n)
        return np.mean(residual ** 2, axis=-1)     # (L, S)

    eval_steps, excess = [0], [full_loss() - best]
    with np.errstate(over="ignore", invalid="ignore"):  # a too-large lr may overflow: its loss becomes inf/nan
        for t in range(num_steps):
            step_lr = current if plateaus is not None else lrs[:, t:t + 1]
            lr_used[..., t] = step_lr
            xb, yb = X[rows[t]], y[rows[t]]                                    # (S, B, d), (S, B)
            residual = np.einsum("lsd,sbd->lsb", w, xb) + b[..., None] - yb    # (L, S, B)
            w -= (step_lr * (2 / batch_size))[..., None] * np.einsum("lsb,sbd->lsd", residual, xb)
            b -= step_lr * (2 / batch_size) * residual.sum(-1)
            if (t + 1) % eval_every == 0 or t + 1 == num_steps:
                loss = full_loss()
                eval_steps.append(t + 1)
                excess.append(loss - best)
                if plateaus is not None:
                    for (opt, sched), value in zip(plateaus, loss.ravel()):
                        sched.step(float(value))
                    current = np.array([opt.param_groups[0]["lr"] for opt, _ in plateaus]).reshape(current.shape)
    return RegressionRuns(lr=lr_used, eval_steps=np.asarray(eval_steps), excess=np.stack(excess, axis=-1),
                          seeds=seeds)


__all__ = ["lr_trace", "sample_scheduler", "warmup_cosine_lr", "warmup_linear_lr", "warmup_cosine", "warmup_linear",
           "SCHEDULES", "make_schedule", "RegressionRuns", "least_squares_loss", "seeded_start",
           "run_regression"]
