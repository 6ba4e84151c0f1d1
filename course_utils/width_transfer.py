"""Does the best learning rate of a narrow network work for a wide one? Sweeps over widths and lrs.

:func:`sweep_widths` trains the same MLP at several widths, for every seed and learning rate of a log
grid, under one :class:`~course_utils.parametrization.Parametrization`, with the same number of steps
and the same minibatches of a seed at every width. :func:`transfer_part` turns the drift of the best
learning rate (:func:`course_utils.lr_optimum.drift_decades`) into a part of a claim.

Example:
    >>> import torch
    >>> from course_utils import parametrization
    >>> X, y = torch.randn(128, 6), torch.randint(0, 3, (128,))
    >>> sweep = sweep_widths(X, y, widths=[8, 16], lrs=[1e-3, 1e-2, 1e-1], parametrization=parametrization.MUP,
    ...                      seeds=[0], batch_size=16, num_steps=5)
    >>> sweep.final_loss.shape
    (2, 1, 3)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import claims, model_stack, stats
from .arguments import check_int
from .parametrization import Parametrization


@dataclass(frozen=True)
class WidthSweep:
    """Losses over widths, seeds and lrs: ``final_loss`` (nW, S, L) on all the training data after
    ``num_steps`` (``inf`` where a run diverged); ``name`` is the parametrization's."""

    name: str
    widths: np.ndarray
    base_width: int
    lrs: np.ndarray
    seeds: np.ndarray
    final_loss: np.ndarray
    num_steps: int
    batch_size: int
    wall_time: float


def sweep_widths(X, y, *, widths, lrs, parametrization: Parametrization, seeds, batch_size: int, num_steps: int,
                 base_width: int | None = None, depth: int = 2, optimizer: str = "Adam", num_threads: int | None = 1,
                 progress=None) -> WidthSweep:
    """Train MLPs of every width × seed × lr (Adam by default) for ``num_steps`` steps of ``batch_size``.

    ``base_width`` (default: the smallest width) is where the parametrization equals the standard one.
    The networks train on ``X``'s device. ``progress`` wraps the loop over widths.
    """
    widths = np.array([check_int(w, "width", minimum=1) for w in widths])
    if np.any(np.diff(widths) <= 0):
        raise ValueError("widths must be increasing.")
    base_width = int(widths[0]) if base_width is None else check_int(base_width, "base_width", minimum=1)
    lrs = np.asarray(lrs, dtype=float)
    losses, wall = [], 0.0
    for width in (progress(widths) if progress else widths):
        stack = model_stack.MLPStack(X.shape[1], int(width), int(y.max()) + 1, seeds=seeds, num_lrs=len(lrs),
                                     depth=depth, parametrization=parametrization, base_width=base_width).to(X.device)
        runs = model_stack.train_stack(stack, X, y, lrs, optimizer, batch_size=batch_size, num_steps=num_steps,
                                       eval_X=X[:256], eval_y=y[:256], eval_every=num_steps, num_threads=num_threads)
        losses.append(runs.final_loss)
        wall += runs.wall_time
    return WidthSweep(name=parametrization.name, widths=widths, base_width=base_width, lrs=lrs,
                      seeds=np.asarray(list(seeds)), final_loss=np.stack(losses), num_steps=int(num_steps),
                      batch_size=int(batch_size), wall_time=wall)


def transfer_part(name: str, drift: stats.Interval, *, max_decades: float = 0.3) -> claims.Part:
    """A part that holds when the best lr's drift lies within ±``max_decades`` (0.3: a factor of 2).

    Decided by :func:`course_utils.stats.decide` at both ends: holds when the drift's interval lies
    wholly inside the band, fails when it lies wholly beyond one end, cannot tell otherwise (or with
    fewer than 3 seeds).

    Example:
        >>> transfer_part("SP", stats.mean([-0.9, -0.8, -1.0])).outcome
        'fails'
        >>> transfer_part("μP", stats.mean([0.05, -0.02, 0.01])).outcome
        'holds'
    """
    text = f"decades the best lr moves from the narrowest to the widest network: {drift}"
    if drift.seeds < stats.MIN_SEEDS:
        text += f"; fewer than {stats.MIN_SEEDS} seeds, so no verdict"
    return claims.Part(name, _stays_within(drift, max_decades), text)


def _stays_within(drift: stats.Interval, max_decades: float) -> bool | None:
    """True when the drift's interval lies wholly inside ±``max_decades``, False when wholly beyond one
    end, None otherwise or with too few seeds (:func:`course_utils.stats.decide` at both ends)."""
    above_low = stats.decide(drift, threshold=-max_decades)
    below_high = stats.decide(drift, threshold=max_decades)
    if above_low == "greater" and below_high == "less":
        return True
    if above_low == "less" or below_high == "greater":
        return False
    return None


def describe_drift(drift: stats.Interval, *, max_decades: float = 0.3) -> str:
    """How far the best lr moves, in words, from its drift in decades (``max_decades`` 0.3: a factor of 2),
    decided by the interval as a whole (too few seeds: says so).

    Example:
        >>> describe_drift(stats.mean([-0.9, -0.8, -1.0]))
        'moves by more than a factor of 2 (-0.90 decades, interval -1.15 to -0.65)'
    """
    d, factor = drift, f"a factor of {10 ** max_decades:.0f}"
    span = f"{d.estimate:+.2f} decades, interval {d.low:+.2f} to {d.high:+.2f}"
    if d.seeds < stats.MIN_SEEDS:
        return f"moves {d.estimate:+.2f} decades (too few seeds to tell)"
    stays = _stays_within(d, max_decades)
    if stays is False:
        return f"moves by more than {factor} ({span})"
    if stays:
        return f"stays within {factor} ({span})"
    return (f"moves {d.estimate:+.2f} decades (interval {d.low:+.2f} to {d.high:+.2f}: cannot tell whether by more "
            f"than {factor})")
