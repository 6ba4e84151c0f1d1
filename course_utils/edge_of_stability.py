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
