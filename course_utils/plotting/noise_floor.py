"""Lesson 03's figures of the noise floor: loss curves settling on their floors, the floor against
the learning rate or the batch size beside its theory, and a fixed budget's constants against a decay.

Example:
    >>> ax = plot_floor_theory([0.01, 0.1], {"first order": [0.001, 0.01]}, {"measured": ([0.01], [0.0011])},
    ...                        xlabel="learning rate η")
    >>> [line.get_label() for line in ax.get_lines()]
    ['first order', 'measured']
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .frame import finish, new_axes

FLOOR_LABEL = "noise floor (mean excess loss)"
EXCESS_LABEL = "loss − lowest possible loss"


def plot_floor_curves(steps, curves: Mapping[str, Sequence[float]], *, zoom_steps: int, title: str = ""):
    """Excess loss against step, one line per run (label -> values at ``steps``): the first
    ``zoom_steps`` steps on the left, all of them on the right. Returns both axes."""
    fig, (ax_start, ax_all) = plt.subplots(1, 2, figsize=(13, 4.5))
    for label, values in curves.items():
        ax_start.semilogy(steps, values, "o-", ms=2, lw=1, label=label)
        ax_all.semilogy(steps, values, lw=0.8, label=label)
    ax_start.set_xlim(0, zoom_steps)
    finish(ax_start, "step", EXCESS_LABEL, f"the first {zoom_steps} steps")
    finish(ax_all, "step", EXCESS_LABEL, f"all {int(steps[-1])} steps")
    if title:
        fig.suptitle(title)
    return ax_start, ax_all


def plot_floor_theory(x, theory: Mapping[str, Sequence[float]], measured: Mapping[str, tuple], *, xlabel: str,
                      wall: tuple | None = None, ax=None, title: str | None = None):
    """The floor against ``x`` (learning rates or batch sizes), log-log: each theory curve
    (label -> values at ``x``) as a line, each measurement (label -> ``(xs, floors)``) as markers,
    and optionally a stability wall ``(value, label)`` as a dotted vertical line."""
    ax = new_axes(ax, figsize=(7.5, 4.5))
    for (label, values), style in zip(theory.items(), ("--", "-", "-.", ":")):
        ax.loglog(x, values, style, label=label)
    for (label, (xs, floors)), marker in zip(measured.items(), ("o", "s", "^", "D")):
        ax.loglog(xs, floors, marker, mfc="none" if marker != "o" else None, label=label)
    if wall is not None:
        ax.axvline(wall[0], ls=":", color="0.3", label=wall[1])
    return finish(ax, xlabel, FLOOR_LABEL, title, grid="both")


def plot_fixed_budget(grid_lrs, grid_means, grid_errors, reference: tuple, curves: Mapping[str, tuple], *,
                      budget: int, trace: tuple | None = None, title: str = ""):
    """A fixed budget, two panels. Left: the final excess loss of each constant learning rate of a
    grid with its error bar, and ``reference = (value, label)`` (e.g. a decaying schedule) as a
    line. Right: mean excess loss against step of each run (label -> ``(steps, values)``), and
    ``trace = (steps, values, label)`` dotted (e.g. the floor of the schedule's current lr)."""
    fig, (ax_grid, ax_curve) = plt.subplots(1, 2, figsize=(13, 4.5))
    ax_grid.errorbar(grid_lrs, grid_means, yerr=grid_errors, fmt="o-", ms=4, label="constant lr (mean, 95 % interval)")
    ax_grid.axhline(reference[0], color="C2", label=reference[1])
    ax_grid.set_xscale("log")
    ax_grid.set_yscale("log")
    finish(ax_grid, "constant learning rate", f"excess loss after {budget} steps", "constant learning rates",
           grid="both")
    for label, (steps, values) in curves.items():
        ax_curve.semilogy(steps, values, label=label)
    if trace is not None:
        ax_curve.semilogy(np.asarray(trace[0]), trace[1], ":", color="0.3", label=trace[2])
    finish(ax_curve, "step", "mean excess loss", "mean excess loss against step")
    if title:
        fig.suptitle(title)
    return ax_grid, ax_curve


def plot_runs_apart(runs: Mapping[str, Sequence[float]], *, xlabel: str, ylabel: str, title: str = ""):
    """One small panel per run (label -> values against their index), each with its own log scale,
    so that runs of very different sizes can each be read. Returns the axes."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.3 * len(runs), 3.2), squeeze=False)
    for ax, (label, values) in zip(axes[0], runs.items()):
        ax.semilogy(np.arange(len(values)), np.asarray(values, dtype=float), label=label)
        finish(ax, xlabel, ylabel if ax is axes[0][0] else "", label)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes[0]
