"""Sharpness watched while a network trains, and full-batch gradient descent at the edge of stability.

* :class:`SharpnessMonitor` -- records the sharpness (or, for Adam, the preconditioned
  sharpness) every k optimizer steps from a step hook, warm-started from the previous
  eigenvector, without disturbing the run: a monitored run is bit for bit the run without one.
  It works with :func:`~course_utils.training.fit` and with any hand-written loop.
* :func:`full_batch_gd` -- gradient descent on the loss over a whole (small) data set, with a
  monitor attached; returns a :class:`FullBatchRun`. On :func:`square_loss` the sharpness of
  such a run rises until it reaches 2/lr and then hovers there (Cohen et al. 2021, "Gradient
  descent on neural networks typically occurs at the edge of stability").

The measurements themselves (Hessian-vector products, the sharpness, the thresholds) are in
:mod:`course_utils.curvature`.

Example:
    >>> torch.manual_seed(0); model = nn.Linear(4, 3)    # doctest: +ELLIPSIS
    <...>
    >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    >>> run = full_batch_gd(model, square_loss, x, y, lr=0.1, num_steps=20, every=10, progress=False)
    >>> len(run.loss), run.trace.step, run.trace.value[0] < 2 / run.lr      # below the edge 2/lr
    (20, [0, 10], True)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import runtime
from .arguments import check_int, check_positive
from .curvature import preconditioned_sharpness, sharpness
from .eigen import EigenEstimate


# ----------------------------------------------------------------------------- sharpness during training

@dataclass
class SharpnessTrace:
    """Sharpness recorded during a run, as plain lists: the optimizer step it was measured
    before (``step``), the estimate (``value``), the power-iteration products it took and
    whether it converged."""

    step: list = field(default_factory=list)
    value: list = field(default_factory=list)
    num_iterations: list = field(default_factory=list)
    converged: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.step)


class SharpnessMonitor:
    """Record the sharpness (or, for Adam, the preconditioned sharpness) every ``every`` optimizer steps.

    Attach it to the optimizer (:meth:`attach`, a step pre-hook, so it also works inside
    ``training.fit``) or call :meth:`record` yourself. Each measurement is taken at the weights
    the coming step starts from, warm-started from the previous eigenvector, and leaves the
    model, its buffers, the random generators, the gradients and the optimizer untouched: a run
    with a monitor is bit for bit the run without one.

    Args:
        model, loss_fn, data, chunk_size: as for :func:`~course_utils.curvature.sharpness` (``data``: the fixed batch or
            data set whose loss's curvature is measured).
        every: measure before steps 0, every, 2·every, ...
        preconditioned: measure λ_max(P⁻¹H) with the attached Adam optimizer's P instead.
        tol, max_iterations, seed, method: eigenvalue settings (see :func:`~course_utils.eigen.top_eigenvalue`).

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(3, 1)     # doctest: +ELLIPSIS
        <...>
        >>> x, y = torch.randn(16, 3), torch.randn(16, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> monitor = SharpnessMonitor(model, nn.functional.mse_loss, (x, y), every=5).attach(opt)
        >>> for _ in range(10):
        ...     opt.zero_grad(); nn.functional.mse_loss(model(x), y).backward(); opt.step()
        >>> monitor.trace.step
        [0, 5]
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, data, *, every: int = 10, chunk_size: int | None = None,
                 preconditioned: bool = False, tol: float = 1e-3, max_iterations: int = 100, seed: int = 0,
                 method: str = "power"):
        self.model, self.loss_fn, self.data, self.chunk_size = model, loss_fn, data, chunk_size
        self.every = check_int(every, "every", minimum=1, hint="(steps between measurements)")
        self.preconditioned = bool(preconditioned)
        self.tol, self.max_iterations, self.seed, self.method = tol, max_iterations, seed, method
        self.trace = SharpnessTrace()
        self.optimizer = None
        self._step, self._vector, self._handle = 0, None, None

    def attach(self, optimizer: torch.optim.Optimizer) -> "SharpnessMonitor":
        """Measure from ``optimizer``'s step pre-hook; returns the monitor (:meth:`detach` removes the hook)."""
        self.detach()
        self.optimizer = optimizer
        self._handle = optimizer.register_step_pre_hook(lambda opt, args, kwargs: self._before_step())
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _before_step(self):
        # Adam has no preconditioner before its first step: preconditioned records start at step `every`.
        started = not self.preconditioned or bool(self.optimizer.state)
        if self._step % self.every == 0 and started:
            self.record(self._step)
        self._step += 1

    def record(self, step: int) -> EigenEstimate:
        """Measure now and append the result to :attr:`trace` under ``step``."""
        kwargs = dict(chunk_size=self.chunk_size, tol=self.tol, max_iterations=self.max_iterations,
                      seed=self.seed, v0=self._vector, method=self.method)
        if self.preconditioned:
            if self.optimizer is None:
                raise ValueError("preconditioned=True reads Adam's preconditioner: attach the monitor to the Adam optimizer.")
            estimate = preconditioned_sharpness(self.model, self.loss_fn, self.data, self.optimizer, **kwargs)
        else:
            estimate = sharpness(self.model, self.loss_fn, self.data, **kwargs)
        self._vector = estimate.vector
        self.trace.step.append(int(step))
        self.trace.value.append(estimate.value)
        self.trace.num_iterations.append(estimate.num_iterations)
        self.trace.converged.append(estimate.converged)
        return estimate


# ----------------------------------------------------------------------------- full-batch gradient descent, watched

def square_loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """½ ‖outputs − one_hot(y)‖² summed over the classes, averaged over the rows.

    The loss Cohen et al. (2021) use for most edge-of-stability experiments: unlike cross-entropy
    it does not flatten out as the fit improves, so the sharpness keeps rising.
    ``outputs``: (N, C) scores; ``y``: (N,) class indices.
    """
    if outputs.ndim != 2 or y.shape != outputs.shape[:1]:
        raise ValueError(f"outputs must be (N, C) and y (N,), got {tuple(outputs.shape)} and {tuple(y.shape)}.")
    target = nn.functional.one_hot(y.long(), outputs.shape[1]).to(outputs.dtype)
    return 0.5 * ((outputs - target) ** 2).sum(dim=1).mean()


@dataclass
class FullBatchRun:
    """One run of :func:`full_batch_gd` on a network: the full-batch loss before every step, the
    sharpness every ``every`` steps (``trace``), whether the loss turned non-finite, the time taken.

    (Not :class:`course_utils.descent.GDRun`, which holds the iterates of GD on a 2D surface.)
    """

    lr: float
    loss: list = field(default_factory=list)
    trace: SharpnessTrace = field(default_factory=SharpnessTrace)
    diverged: bool = False
    wall_time: float = 0.0


def full_batch_gd(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor, lr: float,
                  num_steps: int, *, every: int = 10, tol: float = 1e-3, max_iterations: int = 100,
                  method: str = "power", progress: bool = True, desc: str | None = None) -> FullBatchRun:
    """Gradient descent on the loss over all of ``(x, y)`` (no minibatches), with the sharpness
    recorded before steps 0, every, 2·every, ... by a :class:`SharpnessMonitor` (warm-started;
    ``tol``, ``max_iterations``, ``method`` as for :func:`~course_utils.eigen.top_eigenvalue`).

    Stops early, with ``diverged=True``, if the loss turns non-finite.

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(4, 3)    # doctest: +ELLIPSIS
        <...>
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> run = full_batch_gd(model, square_loss, x, y, lr=0.1, num_steps=20, every=10, progress=False)
        >>> len(run.loss), run.trace.step
        (20, [0, 10])
    """
    lr = check_positive(lr, "lr")
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = SharpnessMonitor(model, loss_fn, (x, y), every=every, tol=tol, max_iterations=max_iterations,
                               method=method)
    monitor.attach(optimizer)
    run = FullBatchRun(lr=lr, trace=monitor.trace)
    start = time.perf_counter()
    bar = runtime.progress(range(num_steps), desc=desc or f"GD lr={lr:g}", unit="step",
                           disable=not (progress and runtime.progress_enabled()))
    try:
        for _ in bar:
            loss = loss_fn(model(x), y)
            run.loss.append(loss.item())
            if not math.isfinite(run.loss[-1]):
                run.diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        monitor.detach()
        bar.close()
    run.wall_time = time.perf_counter() - start
    return run


# ----------------------------------------------------------------------------- the lesson's network, and reading a run

def tanh_mlp(seed: int, num_inputs: int = 3072, width: int = 100, num_classes: int = 10, device=None) -> nn.Sequential:
    """The fully connected network of Cohen et al.'s edge-of-stability experiments: two hidden layers of
    ``width`` tanh units, initialised right after seeding with ``seed`` (the same seed, the same weights).

    Example:
        >>> a, b = tanh_mlp(0, num_inputs=8, width=4), tanh_mlp(0, num_inputs=8, width=4)
        >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        True
    """
    runtime.seed_everything(seed)
    model = nn.Sequential(nn.Linear(num_inputs, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                          nn.Linear(width, num_classes))
    return model.to(device) if device is not None else model


@dataclass(frozen=True)
class EdgeSummary:
    """What a :class:`FullBatchRun` did against its edge 2/lr, as plain numbers.

    ``start``/``peak``: the first and the largest sharpness measured; ``late_mean``, ``late_min``,
    ``late_max``: over the measurements of the run's second half, and ``late_ratio`` the same min and
    max as multiples of 2/lr; ``reached``: the first measured step at or above 2/lr (None: never);
    ``below_until``: the last measured step before that (the whole run if never); ``settled``: the
    first measured step within 20 % above 2/lr; ``rises``: steps at which the loss rose,
    ``first_rise`` the first of them; ``first_step_change``: loss after the first step minus before;
    ``loss_ratio``: final loss / first loss.
    """

    lr: float
    edge: float
    start: float
    peak: float
    late_mean: float
    late_min: float
    late_max: float
    late_ratio: tuple
    reached: int | None
    below_until: int
    settled: int | None
    rises: int
    first_rise: int | None
    first_step_change: float
    loss_ratio: float
    products: int
    converged: bool


def summarize(run: FullBatchRun) -> EdgeSummary:
    """Read a :class:`FullBatchRun` against its edge 2/lr (see :class:`EdgeSummary`).

    Example:
        >>> run = FullBatchRun(lr=0.5, loss=[1.0, 0.8, 0.9, 0.5])
        >>> run.trace.step[:], run.trace.value[:] = [0, 2], [3.0, 4.2]
        >>> run.trace.num_iterations[:], run.trace.converged[:] = [5, 3], [True, True]
        >>> s = summarize(run)
        >>> s.edge, s.reached, s.below_until, s.rises, s.first_rise, s.late_mean
        (4.0, 2, 0, 1, 1, 4.2)
    """
    if len(run.trace) == 0 or len(run.loss) < 2:
        raise ValueError("summarize needs a run with at least one sharpness measurement and two steps.")
    steps = [int(s) for s in run.trace.step]
    values = [float(v) for v in run.trace.value]
    num_steps = len(run.loss)
    edge = 2.0 / run.lr
    late = [v for s, v in zip(steps, values) if s >= num_steps // 2] or values[-1:]
    at_edge = [k for k, v in enumerate(values) if v >= edge]
    if not at_edge:
        reached, below_until = None, num_steps
    else:
        reached, below_until = steps[at_edge[0]], (steps[at_edge[0] - 1] if at_edge[0] > 0 else 0)
    near = [s for s, v in zip(steps, values) if v <= 1.2 * edge]
    rises = [k for k in range(num_steps - 1) if run.loss[k + 1] > run.loss[k]]
    return EdgeSummary(lr=run.lr, edge=edge, start=values[0], peak=max(values), late_mean=sum(late) / len(late),
                       late_min=min(late), late_max=max(late), late_ratio=(min(late) / edge, max(late) / edge),
                       reached=reached, below_until=below_until, settled=near[0] if near else None,
                       rises=len(rises), first_rise=rises[0] if rises else None,
                       first_step_change=run.loss[1] - run.loss[0], loss_ratio=run.loss[-1] / run.loss[0],
                       products=sum(run.trace.num_iterations), converged=all(run.trace.converged))


def regimes(below: EdgeSummary, near: EdgeSummary, above: EdgeSummary, *, predicted_lr: float,
            edge_mean: tuple = (0.95, 1.3), edge_band: tuple = (0.85, 1.4)) -> dict:
    """The three regimes of the edge-of-stability experiment, read off three runs, as ``{sentence: holds}``.

    ``below``: a run well below its edge (progressive sharpening, the loss falls at every step while
    the sharpness is below 2/lr); ``near``: one that starts just below it and climbs to it; ``above``:
    one whose first step is unstable (``predicted_lr``, the bowl's largest stable lr at the start,
    lies between ``near`` and ``above``). "At the edge" means the second half's mean sharpness lies
    within ``edge_mean`` times 2/lr and each of its measurements within ``edge_band`` times 2/lr.
    A lesson backs its prose with each sentence (``LessonClaims.expect``).

    Example:
        >>> run = lambda lr, values, loss: summarize(FullBatchRun(lr=lr, loss=loss,
        ...     trace=SharpnessTrace(list(range(0, 10 * len(values), 10)), values, [1] * len(values), [True] * len(values))))
        >>> r = regimes(run(0.01, [90, 100, 110, 120], [1.0] + [0.9 - 0.01 * k for k in range(39)]),
        ...             run(0.02, [90, 99, 101, 100], [1 - 0.02 * k for k in range(12)] + [0.4, 0.45] * 14),
        ...             run(0.05, [90, 45, 42, 44], [1.0, 1.1] + [0.4, 0.3] * 19), predicted_lr=0.022)
        >>> all(r.values())
        True
    """
    lo, hi = edge_mean
    band_lo, band_hi = edge_band
    at_edge = [lo <= s.late_mean / s.edge <= hi and band_lo <= s.late_ratio[0] and s.late_ratio[1] <= band_hi
               for s in (near, above)]
    return {
        f"lr {above.lr:g} starts above the bowl's wall at initialisation, {below.lr:g} and {near.lr:g} below it":
            below.lr < near.lr < predicted_lr < above.lr,
        f"lr {above.lr:g}: the first step raises the loss; lr {below.lr:g} and {near.lr:g}: it lowers it":
            above.first_step_change > 0 > max(below.first_step_change, near.first_step_change),
        f"lr {below.lr:g}: the sharpness rises by at least 5 % (progressive sharpening)": below.peak > 1.05 * below.start,
        f"lr {below.lr:g} and {near.lr:g}: the loss falls at every step while the sharpness is below 2/lr":
            all(s.first_rise is None or s.first_rise >= s.below_until for s in (below, near)),
        f"lr {near.lr:g}: the sharpness rises from below 2/lr to at least 95 % of it": near.start < near.edge <= near.peak / 0.95,
        f"lr {near.lr:g} and {above.lr:g}: the second half's mean sharpness is {lo:g} to {hi:g} times 2/lr, every "
        f"measurement in it {band_lo:g} to {band_hi:g} times": all(at_edge),
        f"lr {near.lr:g} and {above.lr:g}: the loss rises at some steps, yet ends below half its start":
            all(s.rises > 0 and s.loss_ratio < 0.5 for s in (near, above)),
        "every sharpness measurement of the three runs converged": all(s.converged for s in (below, near, above)),
    }
