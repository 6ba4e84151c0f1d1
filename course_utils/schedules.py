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

Lesson 05 measures them on lesson 03's regression problem with :func:`course_utils.regression.run`
(many runs at once, each with its own learning rate per step).

Plots of these arrays are in :mod:`course_utils.plotting` (``plot_schedules``, ``plot_lr_trace``).

Example:
    >>> import torch
    >>> trace = lr_trace(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), 6, lr=1.0)
    >>> trace.tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
"""
from __future__ import annotations

import copy
import warnings
from typing import Callable, Sequence

import numpy as np

from .arguments import check_int, check_lr, check_range

# The warnings PyTorch gives about the call order. A sampler only reads learning rates: it steps the
# scheduler without ever calling optimizer.step() (which would cost more than the scheduler itself),
# so those two warnings, and nothing else, are silenced while it samples.
_ORDER_WARNINGS = (r"Seems like `optimizer.step\(\)` has been overridden", r"Detected call of `lr_scheduler.step\(\)`")


# ----------------------------------------------------------------------------- sampling

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
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    every = check_int(every, "every", minimum=1)
    lrs = [lr] if np.ndim(lr) == 0 else list(lr)
    if not lrs:
        raise ValueError("lr must be a number, or a sequence of them (one per param group); got an empty sequence.")
    lrs = [check_range(v, "lr", 0, hint="one number, or one per param group") for v in lrs]
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
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    every = check_int(every, "every", minimum=1)
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
    peak_lr = check_lr(peak_lr, "peak_lr")
    warmup_steps = check_int(warmup_steps, "warmup_steps")
    total_steps = check_int(total_steps, "total_steps", minimum=warmup_steps + 1, hint="(more than warmup_steps)")
    start_factor = check_range(start_factor, "start_factor", 0, 1, include_low=False,
                               hint="the warmup starts at start_factor * peak_lr")
    final_lr = check_range(final_lr, "final_lr", 0, peak_lr, hint="it is where the decay ends, at most peak_lr")
    return peak_lr, warmup_steps, total_steps, start_factor, final_lr


def _warmup_then(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr, decay):
    peak_lr, warmup_steps, total_steps, start_factor, final_lr = _check_warmup_args(
        peak_lr, warmup_steps, total_steps, start_factor, final_lr)
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

    num_steps = check_int(num_steps, "num_steps", minimum=1)
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}.")
    final_factor = check_range(final_factor, "final_factor", 0, 1, include_low=False,
                               hint="the end lr as a fraction of the peak")
    warmup_steps = check_int(warmup_steps, "warmup_steps", maximum=num_steps - 1)
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


__all__ = ["lr_trace", "sample_scheduler", "warmup_cosine_lr", "warmup_linear_lr", "warmup_cosine", "warmup_linear",
           "SCHEDULES", "make_schedule"]
