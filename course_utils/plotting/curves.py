"""Values against the step: loss curves (one line per run) and the sharpness beside its stability threshold;
measured points beside the lines of a theory, against any x.

Example:
    >>> ax = plot_curves({"lr 0.1": [1.0, 0.5, 0.25], "lr 0.01": [1.0, 0.9, 0.8]})
    >>> [line.get_label() for line in ax.get_lines()]
    ['lr 0.1', 'lr 0.01']
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .frame import finish, new_axes


def plot_curves(curves: Mapping[str, Sequence[float]], *, xlabel: str = "step", ylabel: str = "loss",
                logy: bool = True, logx: bool = False, ax=None, title: str | None = None):
    """One line per entry of ``curves`` (label -> values against their index)."""
    ax = new_axes(ax, figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    return finish(ax, xlabel, ylabel, title)


def plot_sharpness(runs: Mapping[str, tuple], thresholds: Mapping[str, float] | None = None, *,
                   threshold_name: str = "2/η", ax=None, title: str | None = None):
    """Sharpness against step for each run (label -> ``(steps, values)``), with each run's
    stability threshold (label -> value) as a dashed line in the same colour.

    Example:
        >>> ax = plot_sharpness({"lr 0.02": ([0, 10, 20], [90.0, 99.0, 101.0])}, {"lr 0.02": 100.0})  # doctest: +SKIP
    """
    ax = new_axes(ax, figsize=(6.5, 4))
    for label, (steps, values) in runs.items():
        (line,) = ax.plot(np.asarray(steps), np.asarray(values, dtype=float), marker="o", markersize=2.5,
                          linewidth=1.2, label=f"{label}: sharpness")
        if thresholds and label in thresholds:
            ax.axhline(thresholds[label], color=line.get_color(), linestyle="--", linewidth=1.2,
                       label=f"{label}: {threshold_name} = {thresholds[label]:.4g}")
    return finish(ax, "step", "sharpness λ_max", title)


def plot_against(x, points: Mapping[str, Sequence[float]], lines: Mapping[str, Sequence[float]] | None = None, *,
                 xlabel: str, ylabel: str, logx: bool = False, logy: bool = False, ax=None, title: str | None = None):
    """Measured ``points`` (label -> values at ``x``) as markers and ``lines`` (label -> values at ``x``,
    e.g. a theory or a fit) as lines, against the same ``x``.

    Example:
        >>> ax = plot_against([1, 2, 4], {"measured": [1.1, 2.0, 4.1]}, {"theory": [1, 2, 4]}, xlabel="κ",
        ...                   ylabel="steps", logx=True)
        >>> [line.get_label() for line in ax.get_lines()]
        ['measured', 'theory']
    """
    ax = new_axes(ax, figsize=(6, 4.2))
    x = np.asarray(x, dtype=float)
    for (label, values), marker in zip(points.items(), "osD^v"):
        ax.plot(x, np.asarray(values, dtype=float), marker, ms=6, label=label)
    for (label, values), style in zip((lines or {}).items(), ("-", "--", ":", "-.")):
        ax.plot(x, np.asarray(values, dtype=float), style, lw=1.5, label=label)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    return finish(ax, xlabel, ylabel, title, grid="both" if (logx or logy) else "major")
