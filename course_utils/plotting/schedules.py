"""Learning-rate schedules: the lr of every step, one schedule or a grid of small panels (lesson 05).

The traces come from :func:`course_utils.schedules.lr_trace` (a schedule's lr without training).

Example:
    >>> ax = plot_lr_trace([0.1] * 5 + [0.01] * 5, steps_per_epoch=5)
    >>> ax.get_lines()[0].get_ydata()[4:6].tolist()
    [0.1, 0.01]
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .frame import new_axes


def plot_lr_trace(trace: Sequence[float], *, ax=None, label: str | None = None, logy: bool = False,
                  steps_per_epoch: int | None = None, **line_kwargs):
    """One learning-rate schedule: ``trace`` (T,) the lr of steps 0..T-1 (e.g. ``schedules.lr_trace``).

    ``steps_per_epoch`` adds faint vertical lines at epoch boundaries. Returns the axes.
    """
    ax = new_axes(ax, figsize=(5.5, 3.2))
    trace = np.asarray(trace, dtype=float)
    if trace.ndim != 1:
        raise ValueError(f"trace must be one lr per step, shape (T,), got {trace.shape}.")
    ax.plot(np.arange(len(trace)), trace, label=label, **line_kwargs)
    if steps_per_epoch:
        for boundary in range(steps_per_epoch, len(trace), steps_per_epoch):
            ax.axvline(boundary, color="0.85", lw=0.6, zorder=0)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    return ax


def plot_schedules(traces: Mapping[str, Sequence[float]], *, axes=None, ncols: int = 4, logy: bool = False,
                   steps_per_epoch: int | None = None, sharey: bool = True, title: str | None = None):
    """Every schedule of ``traces`` (name -> (T,) lr per step) on its own small panel of one figure,
    under ``title`` (the figure's suptitle) when given.

    Returns the axes as a 2D array (unused panels are hidden).
    """
    names = list(traces)
    if not names:
        raise ValueError("traces is empty: pass {name: lr per step}.")
    nrows = -(-len(names) // ncols)
    if axes is None:
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.5 * nrows), sharex=True, sharey=sharey,
                                 squeeze=False)
        # fixed margins: a layout engine redraws log axes several times (seconds on a laptop)
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.1, top=0.86, wspace=0.12 if sharey else 0.3, hspace=0.35)
    axes = np.asarray(axes).reshape(-1, ncols) if np.ndim(axes) else np.array([[axes]])
    flat = axes.ravel()
    if len(flat) < len(names):
        raise ValueError(f"{len(names)} schedules need {len(names)} axes, got {len(flat)}.")
    for ax, name in zip(flat, names):
        plot_lr_trace(traces[name], ax=ax, logy=logy, steps_per_epoch=steps_per_epoch, color="C0")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
    for ax in flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("learning rate")
    if title:
        flat[0].figure.suptitle(title)
    return axes
