"""Weights on a surface: contour lines of a 2D loss and the path an optimizer takes over them (lessons 01, 02, 04),
several paths side by side, and runs shown by their path and their loss.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> ax = plot_contours(make_bowl((1.0, 10.0), 30).value, xlim=(-2, 2), ylim=(-2, 2), resolution=50)
    >>> ax = plot_trajectory([[1.5, 1.0], [0.5, -0.2], [0.1, 0.05]], ax=ax, label="GD")
    >>> len(ax.get_lines())
    2
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .frame import new_axes


def plot_contours(f: Callable[[np.ndarray], np.ndarray], *, xlim=(-2.0, 2.0), ylim=(-2.0, 2.0),
                  levels: int | Sequence[float] = 20, log_levels: bool = True, resolution: int = 200,
                  ax=None, title: str | None = None):
    """Contour lines of a 2D function ``f`` taking points of shape (..., 2).

    ``log_levels`` spaces the contour levels geometrically, so both the floor of a bowl and its
    steep walls get lines.
    """
    ax = new_axes(ax)
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = np.asarray(f(np.stack([X, Y], axis=-1)), dtype=float)
    if isinstance(levels, int) and log_levels:
        low = max(np.percentile(Z, 0.5), Z.max() * 1e-6) if Z.min() <= 0 else Z.min()
        low = max(low, 1e-12)
        levels = np.geomspace(low, Z.max(), levels) if Z.max() > low else levels
    ax.contour(X, Y, Z, levels=levels, cmap="viridis", linewidths=0.8, alpha=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_trajectory(points: np.ndarray, *, label: str | None = None, color=None, ax=None,
                    marker: str = "o", markersize: float = 3.0):
    """A path of iterates ``points`` (k, 2) over a contour plot; the start is marked with a square."""
    ax = new_axes(ax)
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (k, 2), got {points.shape}.")
    (line,) = ax.plot(points[:, 0], points[:, 1], marker=marker, markersize=markersize,
                      linewidth=1.2, label=label, color=color)
    ax.plot(points[0, 0], points[0, 1], "s", color=line.get_color(), markersize=6)
    return ax


def plot_paths(f: Callable[[np.ndarray], np.ndarray], paths: Mapping[str, np.ndarray], *, xlim=(-2.0, 2.0),
               ylim=(-2.0, 2.0), axes=None, title: str | None = None, **contour_options):
    """One panel per path (label -> iterates (k, 2)): the contour lines of ``f`` and the path over them.

    ``contour_options`` (``levels``, ``log_levels``) go to :func:`plot_contours`.

    Each panel is titled with its label; ``title`` goes above them all. Returns the array of axes.

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> axes = plot_paths(make_bowl((1.0, 10.0)).value, {"a": [[1.0, 1.0], [0.5, 0.0]], "b": [[1.0, 1.0]]},
        ...                   title="two runs")
        >>> [ax.get_title() for ax in axes]
        ['a', 'b']
    """
    if axes is None:
        fig, axes = plt.subplots(1, len(paths), figsize=(4 * len(paths), 4.2), squeeze=False)
        axes = axes[0]
    axes = np.ravel(axes)
    for ax, (label, points) in zip(axes, paths.items()):
        plot_contours(f, xlim=xlim, ylim=ylim, ax=ax, title=label, **contour_options)
        plot_trajectory(points, ax=ax, color="C3", label="path (square: start)")
        ax.legend(fontsize="small", loc="lower right")
    if title:
        axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def plot_runs(runs: Mapping[str, tuple], *, axes=None, title: str | None = None):
    """Runs known only by what they did (label -> ``(points, losses)``): one column per run, its path on
    top (points (k+1, 2), the start a square) and its loss against the step below (log scale).

    Returns the (2, number of runs) array of axes.

    Example:
        >>> axes = plot_runs({"A": ([[1.0, 1.0], [0.5, 0.4], [0.2, 0.1]], [2.0, 0.4, 0.05])})
        >>> axes.shape, axes[1, 0].get_yscale()
        ((2, 1), 'log')
    """
    if axes is None:
        fig, axes = plt.subplots(2, len(runs), figsize=(3.6 * len(runs), 6.4), squeeze=False)
    axes = np.asarray(axes).reshape(2, len(runs))
    for (top, bottom), (label, (points, losses)) in zip(axes.T, runs.items()):
        plot_trajectory(points, ax=top, color="C0", label="path (square: start)")
        top.set_aspect("equal", adjustable="datalim")
        top.set_title(f"run {label}: path")
        top.set_xlabel("$w_1$")
        top.set_ylabel("$w_2$")
        top.legend(fontsize="small")
        bottom.semilogy(np.arange(len(losses)), np.asarray(losses, dtype=float), "o-", color="C0", ms=2,
                        label="loss")
        bottom.set_title(f"run {label}: loss")
        bottom.set_xlabel("step")
        bottom.set_ylabel("loss")
        bottom.grid(True, alpha=0.3)
        bottom.legend(fontsize="small")
    if title:
        axes[0, 0].figure.suptitle(title)
    axes[0, 0].figure.tight_layout()
    return axes
