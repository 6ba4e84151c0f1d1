"""Optimizers compared on small problems (lesson 04): paths on a bowl's contours, losses against the step,
the momentum step on a steady slope, steps against the condition number, Adam's and SGD's first step
against the loss scale, and learning-rate sweeps side by side.

Every theory line is computed here from the same numbers the runs used (the learning rate, the
momentum, the gradient), never typed in.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> ax = plot_bowl_paths(make_bowl((1.0, 10.0), 30), {"GD": [[-1.8, 1.2], [-0.5, 0.3], [0.0, 0.1]]})
    >>> ax.get_title(), len(ax.get_legend().get_texts())
    ('', 1)
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .frame import finish, new_axes
from .landscapes import plot_trajectory
from .lr_search import plot_lr_sweeps

LEVELS = np.geomspace(0.02, 40, 12)   # loss levels of the contours drawn under a path on a 2D bowl


def plot_bowl_paths(bowl, paths: Mapping[str, np.ndarray], *, styles: Mapping[str, dict] | None = None, ax=None,
                    levels=LEVELS, lim: float = 2.5, title: str | None = None):
    """Paths ``label -> points (k, 2)`` over level curves of ``bowl`` (exact level sets of its loss).

    A path with an entry in ``styles`` is drawn as a line with those matplotlib arguments; the others
    as :func:`~course_utils.plotting.plot_trajectory` (dots, the start marked).
    """
    ax = new_axes(ax, figsize=(5.5, 5))
    for level in levels:
        ax.plot(*bowl.level_curve(level).T, color="0.75", lw=0.7)
    for label, points in paths.items():
        if styles and label in styles:
            ax.plot(*np.asarray(points).T, label=label, **styles[label])
        else:
            plot_trajectory(points, ax=ax, label=label, markersize=2)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="$w_1$", ylabel="$w_2$")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="x-small", loc="lower right")
    return ax


def plot_relative_losses(losses: Mapping[str, Sequence[float]], *, tol: float | None = None, ax=None,
                         title: str = "loss against step"):
    """Each run's loss divided by its starting loss, on a log scale, with the tolerance ``tol`` dotted."""
    ax = new_axes(ax, figsize=(6.5, 4.5))
    for label, loss in losses.items():
        loss = np.asarray(loss, dtype=float)
        ax.semilogy(loss / loss[0], label=label)
    if tol is not None:
        ax.axhline(tol, color="0.5", ls=":", lw=1)
    return finish(ax, "step", "loss / starting loss", title)


def plot_momentum_steps(step_sizes: Mapping[float, Sequence[float]], lr: float, g: float, *, ax=None):
    """The size of each step of heavy ball on a steady slope of gradient ``g`` (``momentum -> sizes``), with
    its theory ``lr·g·(1 − β^t)/(1 − β)`` dotted and the limit ``lr·g/(1 − β)`` dashed."""
    ax = new_axes(ax, figsize=(8, 4.2))
    for beta, sizes in step_sizes.items():
        t = np.arange(1, len(sizes) + 1)
        (line,) = ax.semilogy(t, sizes, label=f"β = {beta:g}")
        ax.semilogy(t, lr * g * (1 - beta ** t) / (1 - beta), ":", color="k", lw=1)
        ax.axhline(lr * g / (1 - beta), color=line.get_color(), ls="--", lw=0.8)
    return finish(ax, "step t", "size of step t", "dashed: η g/(1 − β); dotted: η g (1 − β^t)/(1 − β)", grid="both")


def plot_steps_against_kappa(kappas: Sequence[float], measured: Mapping[str, Sequence[float]],
                             theory: Mapping[str, Callable[[float], float]], *, ax=None, title: str | None = None):
    """Measured steps against the condition number (markers, one series per label of ``measured``) and
    the theory of each (``label -> function of kappa``) as a line in the same colour, log-log."""
    ax = new_axes(ax, figsize=(7.5, 4.8))
    fine = np.geomspace(min(kappas), max(kappas), 50)
    for (label, steps), (theory_label, steps_of), marker in zip(measured.items(), theory.items(), "osd^"):
        (points,) = ax.loglog(kappas, steps, marker, label=label)
        ax.loglog(fine, [steps_of(k) for k in fine], color=points.get_color(), lw=1, label=theory_label)
    return finish(ax, "condition number κ", "steps to 1e-6 of the starting loss", title, grid="both")


def plot_first_steps(scales: Sequence[float], first: Mapping[str, np.ndarray], lr: float, *,
                     theory: Mapping[str, np.ndarray] | None = None, marks: Mapping[str, float] | None = None,
                     ax=None, title: str | None = None):
    """Each coordinate's first step divided by ``lr`` against the loss scale: ``first`` maps an optimizer to
    its steps (len(scales), n); ``theory`` (same shapes) is drawn as lines in the optimizer's colour and
    ``marks`` (label -> scale) as dotted vertical lines."""
    ax = new_axes(ax, figsize=(6.5, 4.8))
    for k, (name, steps) in enumerate(first.items()):
        color = f"C{k}"
        for c, style in zip(range(np.shape(steps)[1]), "osd^"):
            ax.loglog(scales, np.asarray(steps)[:, c] / lr, style, color=color, ms=4, mfc=None if k else "none",
                      label=f"{name}, coordinate {c + 1}")
            if theory and name in theory:
                ax.loglog(scales, np.asarray(theory[name])[:, c] / lr, "-", color=color, lw=0.8)
    for k, (label, where) in enumerate((marks or {}).items()):
        ax.axvline(where, color=f"C{k}", ls=":", lw=1, label=label)
    ax.set_ylim(1e-9, 1e9)
    finish(ax, "loss scale s", "first step / lr", title, legend_size="x-small")
    ax.get_legend().set_loc("upper left")
    return ax


def plot_sweep_panels(panels: Mapping[str, Mapping], *, ylabels: Mapping[str, str], mark_lr: float | None = None,
                      zoom: Sequence[str] = (), suptitle: str | None = None, ncols: int = 2):
    """One :func:`~course_utils.plotting.plot_lr_sweeps` panel per entry of ``panels`` (title -> optimizer ->
    ``GoodRange``), log y except for the titles in ``zoom`` (drawn from 0.9 to 2.5 times the best loss);
    ``mark_lr`` dotted in every panel; one legend, in the first. Returns the axes array."""
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.5 * nrows), squeeze=False)
    lrs = np.concatenate([r.lrs for ranges in panels.values() for r in ranges.values()])
    for k, (ax, (title, ranges)) in enumerate(zip(axes.flat, panels.items())):
        plot_lr_sweeps(ranges, ax=ax, title=title, ylabel=ylabels[title], logy=title not in zoom)
        if mark_lr is not None:
            ax.axvline(mark_lr, color="0.4", ls=":", lw=1)
        ax.set_xlim(0.5 * lrs.min(), 2 * lrs.max())
        if title in zoom:
            best = min(r.best_loss for r in ranges.values())
            ax.set_ylim(0.9 * best, 2.5 * best)
        if k:
            ax.get_legend().remove()
    axes.flat[0].legend(fontsize="small", loc="lower left")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return axes


__all__ = ["plot_bowl_paths", "plot_relative_losses", "plot_momentum_steps", "plot_steps_against_kappa",
           "plot_first_steps", "plot_sweep_panels"]
