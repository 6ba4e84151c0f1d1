"""Many runs of one optimizer at once: one row per setting of its hyperparameters.

A sweep over learning rates (or momentum coefficients, or loss scales) on a small problem needs
no Python loop over runs. The parameter is one (k, n) tensor whose row i is run i; each
hyperparameter is a number (shared by all runs) or an array of k values (one per run), handed
to the optimizer as a (k, 1) column that broadcasts against the rows. The course's optimizers
(:mod:`course_utils.optimizers`) are written so that works, and the rows never interact: the
loss is a sum over rows, so row i's gradient is run i's own.

* :func:`run_on_surface` -- iterates and losses on a 2D surface (a bowl) for every setting;
* :func:`steps_to_tolerance` -- steps until the loss falls to ``tol`` times its start;
* :func:`broadcast_settings`, :func:`as_hyperparameters` -- settings as (k,) arrays, and as the
  optimizer's per-run arguments (also used by :func:`course_utils.regression.run`).

Networks trained at several learning rates from one start: :func:`course_utils.lr_comparison.train_per_lr`.

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

from .arguments import check_int, check_positive, check_tol
from .descent import BLOWUP
from .optimizers import optimizer_class


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


def as_hyperparameters(settings: dict, dtype=torch.float64, *, tiles: int = 1) -> dict:
    """The optimizer's keyword arguments for the settings of :func:`broadcast_settings`, one row per run.

    A setting equal in every run stays a plain number; one that differs becomes a (tiles·k, 1)
    tensor whose rows are the runs: the k values, ``tiles`` times over (e.g. once per seed).
    ``beta1``/``beta2`` are joined back into ``betas``.

    Example:
        >>> hyper = as_hyperparameters(broadcast_settings(lr=[0.1, 0.2], momentum=0.9)[1], tiles=2)
        >>> hyper["lr"].flatten().tolist(), hyper["momentum"]
        ([0.1, 0.2, 0.1, 0.2], 0.9)
    """
    hyper = {}
    for name, value in settings.items():
        if isinstance(value, bool):
            hyper[name] = value
        elif np.all(value == value[0]):
            hyper[name] = float(value[0])
        else:
            hyper[name] = torch.as_tensor(np.tile(value, tiles), dtype=dtype)[:, None]
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
    cls = optimizer_class(optimizer)
    k, settings = broadcast_settings(loss_scale=loss_scale, **hyperparameters)
    scale = settings.pop("loss_scale")[:, None]
    for value in np.unique(scale):
        check_positive(value, "loss_scale", hint="the loss is loss_scale * f")
    w = _start(w0, k, dtype)
    opt = cls([w], **as_hyperparameters(settings, dtype))
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
    num_steps = check_int(num_steps, "num_steps")
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
    tol, max_steps = check_tol(tol), check_int(max_steps, "max_steps", minimum=1)
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
