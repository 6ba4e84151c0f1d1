"""Many runs of one optimizer at once: one row per setting of its hyperparameters.

A sweep over learning rates (or momentum coefficients, or loss scales) on a small problem needs
no Python loop over runs. The parameter is one (k, n) tensor whose row i is run i; each
hyperparameter is a number (shared by all runs) or an array of k values (one per run), handed
to the optimizer as a (k, 1) column that broadcasts against the rows. The course's optimizers
(:mod:`course_utils.optimizers`) are written so that works, and the rows never interact: the
loss is a sum over rows, so row i's gradient is run i's own.

* :func:`run_on_surface` -- iterates and losses on a 2D surface (a bowl) for every setting;
* :func:`steps_to_tolerance` -- steps until the loss falls to ``tol`` times its start;
* :func:`run_on_regression` -- minibatch training of linear models on a regression problem;
* :func:`good_range` -- the best learning rate of a sweep and the range of those nearly as good.

Example:
    >>> from course_utils import optimizers, surfaces
    >>> bowl = surfaces.make_bowl((1.0, 10.0))
    >>> runs = run_on_surface(bowl, [1.0, 1.0], optimizers.SGD, num_steps=3, lr=[0.05, 0.1, 0.25])
    >>> runs.points.shape, runs.losses.shape, runs.diverged.tolist()
    ((3, 4, 2), (3, 4), [False, False, False])
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import optimizers as _optimizers

BLOWUP = 1e8   # |w| beyond this counts as diverged (as in course_utils.descent)


def _optimizer_class(optimizer):
    if isinstance(optimizer, str):
        if optimizer not in _optimizers.OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(_optimizers.OPTIMIZERS)}.")
        return _optimizers.OPTIMIZERS[optimizer]
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer
    raise ValueError(f"optimizer must be a torch.optim.Optimizer class or a name, got {optimizer!r}.")


def broadcast_settings(**settings) -> tuple[int, dict]:
    """Broadcast number-or-array settings to a common length k; returns ``(k, {name: (k,) array})``.

    ``betas`` may be a pair of number-or-arrays. Example:
        >>> k, s = broadcast_settings(lr=[0.1, 0.2], momentum=0.9)
        >>> k, s["momentum"].tolist()
        (2, [0.9, 0.9])
    """
    flat = {}
    for name, value in settings.items():
        if name == "betas":
            flat["beta1"], flat["beta2"] = value
        else:
            flat[name] = value
    arrays = {name: np.asarray(value, dtype=float) for name, value in flat.items()
              if not isinstance(value, (bool, np.bool_))}
    for name, value in arrays.items():
        if value.ndim > 1:
            raise ValueError(f"{name} must be a number or a 1D array of per-run values, got shape {value.shape}.")
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    except ValueError:
        lengths = {name: len(a) for name, a in arrays.items() if a.ndim == 1}
        raise ValueError(f"per-run settings must all have the same length, got {lengths}.") from None
    k = int(np.prod(shape)) if shape else 1
    out = {name: np.broadcast_to(a, (k,)).copy() for name, a in arrays.items()}
    out.update({name: bool(v) for name, v in flat.items() if isinstance(v, (bool, np.bool_))})
    return k, out


def _as_hyperparameters(settings: dict, k: int, dtype) -> dict:
    """Per-run (k,) arrays as (k, 1) tensors; settings equal in every run stay plain numbers."""
    hyper = {}
    for name, value in settings.items():
        if isinstance(value, bool):
            hyper[name] = value
        elif np.all(value == value[0]):
            hyper[name] = float(value[0])
        else:
            hyper[name] = torch.as_tensor(value, dtype=dtype).reshape(k, 1)
    if "beta1" in hyper:
        hyper["betas"] = (hyper.pop("beta1"), hyper.pop("beta2"))
    return hyper


def _start(w0, k: int, dtype) -> torch.Tensor:
    w0 = np.asarray(w0, dtype=float)
    if w0.ndim != 1:
        raise ValueError(f"w0 must be a vector of shape (n,), got shape {w0.shape}.")
    return torch.tensor(np.tile(w0, (k, 1)), dtype=dtype, requires_grad=True)


@dataclass(frozen=True)
class SurfaceRuns:
    """k runs of one optimizer on a surface.

    ``points`` (k, T+1, n): the iterates w_0..w_T of each run (``None`` unless kept);
    ``losses`` (k, T+1): the loss optimised (``loss_scale`` × f) at each iterate, ``inf`` from the
    step a run diverged on; ``diverged`` (k,); ``settings``: each hyperparameter as a (k,) array.
    """

    points: np.ndarray | None
    losses: np.ndarray
    diverged: np.ndarray
    settings: dict

    @property
    def final_loss(self) -> np.ndarray:
        """(k,) the loss after the last step, relative to the start (``inf`` for a diverged run)."""
        return self.losses[:, -1] / self.losses[:, 0]


def _surface_optimizer(w0, optimizer, loss_scale, hyperparameters, dtype=torch.float64):
    """The (k, n) parameter of k runs from ``w0``, its optimizer, the (k, 1) loss scales and the (k,) settings."""
    cls = _optimizer_class(optimizer)
    k, settings = broadcast_settings(loss_scale=loss_scale, **hyperparameters)
    scale = settings.pop("loss_scale")[:, None]
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise ValueError("loss_scale must be positive and finite.")
    w = _start(w0, k, dtype)
    opt = cls([w], **_as_hyperparameters(settings, k, dtype))
    settings["loss_scale"] = scale[:, 0]
    return w, opt, scale, settings


def _set_grad(surface, w: torch.Tensor, scale: np.ndarray) -> np.ndarray:
    """Set ``w.grad`` to scale × ∇f row by row; return the loss scale × f of every row."""
    with np.errstate(over="ignore", invalid="ignore"):
        x = w.detach().numpy()
        w.grad = torch.from_numpy(scale * np.asarray(surface.grad(x), dtype=float)).to(w.dtype)
        return scale[:, 0] * np.asarray(surface.value(x), dtype=float)


def _blown(loss: np.ndarray, w: torch.Tensor) -> np.ndarray:
    """(k,) whether each run's loss is non-finite or its |w| beyond ``BLOWUP``."""
    return ~np.isfinite(loss) | ~(w.detach().abs().amax(dim=1).numpy() <= BLOWUP)


def run_on_surface(surface, w0, optimizer, num_steps: int, *, loss_scale=1.0, keep_points: bool = True,
                   **hyperparameters) -> SurfaceRuns:
    """Run ``optimizer`` from ``w0`` (n,) on ``surface`` for ``num_steps``, once per setting.

    Args:
        surface: anything with ``value(w)`` and ``grad(w)`` for ``w`` of shape (k, n), e.g. a
            :class:`~course_utils.surfaces.Quadratic`.
        optimizer: a class of :mod:`course_utils.optimizers` or its name (``"SGD"``, ``"Adam"``...).
        loss_scale: the loss is ``loss_scale * f``: a number, or one per run.
        **hyperparameters: the optimizer's arguments, each a number or k values
            (``betas`` a pair of those).

    Example:
        >>> from course_utils import surfaces
        >>> runs = run_on_surface(surfaces.make_bowl((1.0, 10.0)), [1.0, 1.0], "SGD", 200,
        ...                       lr=0.1, momentum=[0.0, 0.5, 0.99])
        >>> (runs.final_loss < 1e-6).tolist()
        [True, True, False]
    """
    if int(num_steps) != num_steps or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}.")
    w, opt, scale, settings = _surface_optimizer(w0, optimizer, loss_scale, hyperparameters)
    k = w.shape[0]
    losses = np.empty((k, int(num_steps) + 1))
    points = np.empty((k, int(num_steps) + 1, w.shape[1])) if keep_points else None
    diverged = np.zeros(k, dtype=bool)
    for step in range(int(num_steps) + 1):
        loss = _set_grad(surface, w, scale)
        x = w.detach().numpy()
        diverged |= _blown(loss, w)
        losses[:, step] = np.where(diverged, np.inf, loss)
        if keep_points:
            points[:, step] = x
        if step < num_steps:
            opt.step()
    return SurfaceRuns(points=points, losses=losses, diverged=diverged, settings=settings)


@dataclass(frozen=True)
class ToleranceRuns:
    """Steps until the loss ≤ ``tol`` × its start, per run: ``steps`` (k,) (``inf`` if never within
    ``max_steps`` or diverged), ``diverged`` (k,), ``settings`` (each a (k,) array)."""

    steps: np.ndarray
    diverged: np.ndarray
    settings: dict
    tol: float
    max_steps: int


def steps_to_tolerance(surface, w0, optimizer, *, tol: float = 1e-6, max_steps: int = 10_000, loss_scale=1.0,
                       first_only: bool = False, **hyperparameters) -> ToleranceRuns:
    """Steps of ``optimizer`` until f(w) ≤ ``tol`` × f(w0), for every setting at once.

    Stops when every run has arrived or diverged, or after ``max_steps``; with ``first_only``, as
    soon as one run arrives (enough to find the best setting: the others stay ``inf``).

    Example:
        >>> from course_utils import surfaces
        >>> bowl = surfaces.make_bowl((1.0, 10.0))
        >>> steps_to_tolerance(bowl, [1.0, 1.0], "SGD", lr=2 / 11).steps.tolist()   # lesson 02's best lr
        [35.0]
    """
    if not 0 < tol < 1:
        raise ValueError(f"tol must be between 0 and 1 (a fraction of the starting loss), got {tol}.")
    if int(max_steps) != max_steps or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}.")
    w, opt, scale, settings = _surface_optimizer(w0, optimizer, loss_scale, hyperparameters)
    k = w.shape[0]
    start = _set_grad(surface, w, scale)
    steps = np.full(k, math.inf)
    diverged = np.zeros(k, dtype=bool)
    for step in range(1, int(max_steps) + 1):
        opt.step()
        loss = _set_grad(surface, w, scale)
        waiting = np.isinf(steps) & ~diverged
        arrived = waiting & (loss <= tol * start)
        steps[arrived] = step
        diverged |= waiting & ~arrived & _blown(loss, w)
        if np.all(np.isfinite(steps) | diverged) or (first_only and arrived.any()):
            break
    return ToleranceRuns(steps=steps, diverged=diverged, settings=settings, tol=float(tol), max_steps=int(max_steps))


@dataclass(frozen=True)
class RegressionRuns:
    """k minibatch runs on a regression problem: ``steps`` (m,) when the full-data mean squared
    error was measured, ``losses`` (k, m) that error (``inf`` once a run diverged),
    ``diverged`` (k,), ``settings`` (each a (k,) array)."""

    steps: np.ndarray
    losses: np.ndarray
    diverged: np.ndarray
    settings: dict

    def final_loss(self, last_fraction: float = 0.1) -> np.ndarray:
        """(k,) the mean of the measured losses over the last ``last_fraction`` of the run."""
        n = max(1, int(round(last_fraction * self.losses.shape[1])))
        return self.losses[:, -n:].mean(axis=1)


def run_on_regression(data, optimizer, num_steps: int, batch_size: int, *, seed: int = 0, eval_every: int = 10,
                      **hyperparameters) -> RegressionRuns:
    """Train k linear models y ≈ X w + b from zero with minibatch gradients, one per setting.

    ``data`` is a :func:`course_utils.synthetic.make_linear_regression` problem (``data.X`` (N, d),
    ``data.y`` (N,)). Every run sees the same minibatches (drawn from a generator seeded by
    ``seed``), in float64; the loss is the minibatch mean squared error, whose gradient
    (2/B) Xᵀ(Xw − y) is written out rather than left to autograd (one matrix product per step).

    Example:
        >>> from course_utils import synthetic
        >>> data = synthetic.make_linear_regression(200, 3, noise_std=0.1, seed=0)
        >>> runs = run_on_regression(data, "SGD", 300, 16, lr=[1e-3, 0.05])
        >>> bool(runs.losses[1, -1] < 0.1 < runs.losses[0, -1])
        True
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")
    if int(batch_size) != batch_size or not 1 <= batch_size <= len(data.X):
        raise ValueError(f"batch_size must be an integer between 1 and {len(data.X)}, got {batch_size!r}.")
    if int(eval_every) != eval_every or eval_every < 1:
        raise ValueError(f"eval_every must be a positive integer, got {eval_every!r}.")
    cls = _optimizer_class(optimizer)
    k, settings = broadcast_settings(**hyperparameters)
    dtype = torch.float64
    X = torch.cat([data.X.to(dtype), torch.ones(len(data.X), 1, dtype=dtype)], dim=1)   # a column of ones: the bias
    y = data.y.to(dtype)
    W = torch.zeros(k, X.shape[1], dtype=dtype)
    opt = cls([W], **_as_hyperparameters(settings, k, dtype))
    generator = torch.Generator().manual_seed(int(seed))
    measured_at, losses = [], []
    diverged = np.zeros(k, dtype=bool)

    def measure(step):
        with torch.no_grad():
            full = ((X @ W.T - y[:, None]) ** 2).mean(0).numpy()
        diverged[:] |= ~np.isfinite(full)
        measured_at.append(step)
        losses.append(np.where(diverged, np.inf, full))

    measure(0)
    for step in range(1, int(num_steps) + 1):
        idx = torch.randint(0, len(X), (int(batch_size),), generator=generator)
        residual = X[idx] @ W.T - y[idx, None]                     # (batch_size, k): one column per run
        W.grad = (2.0 / len(idx)) * residual.T @ X[idx]            # the minibatch MSE's gradient, row by row
        opt.step()
        if step % eval_every == 0 or step == num_steps:
            measure(step)
    return RegressionRuns(steps=np.array(measured_at), losses=np.array(losses).T, diverged=diverged,
                          settings=settings)


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
    lrs = np.asarray(lrs, dtype=float)
    final = np.asarray(final_losses, dtype=float)
    if lrs.ndim != 1 or final.shape != lrs.shape:
        raise ValueError(f"lrs and final_losses must be 1D of the same length, got {lrs.shape} and {final.shape}.")
    if np.any(np.diff(lrs) <= 0):
        raise ValueError("lrs must be strictly increasing.")
    if not (math.isfinite(factor) and factor >= 1):
        raise ValueError(f"factor must be a number >= 1, got {factor}.")
    final = np.where(np.isfinite(final), final, np.inf)
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

