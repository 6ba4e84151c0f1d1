"""Figures of the course. Every function draws data it is given onto ``ax`` (a new one when
``None``) and returns the axes; nothing here computes results, prints or shows.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> ax = plot_contours(make_bowl((1.0, 10.0), 30).value, xlim=(-2, 2), ylim=(-2, 2))  # doctest: +SKIP
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax=None, figsize=(5.5, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_contours(f: Callable[[np.ndarray], np.ndarray], *, xlim=(-2.0, 2.0), ylim=(-2.0, 2.0),
                  levels: int | Sequence[float] = 20, log_levels: bool = True, resolution: int = 200,
                  ax=None):
    """Contour lines of a 2D function ``f`` taking points of shape (..., 2).

    ``log_levels`` spaces the contour levels geometrically, so both the floor of a bowl and its
    steep walls get lines.
    """
    ax = _axes(ax)
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
    return ax


def plot_trajectory(points: np.ndarray, *, label: str | None = None, color=None, ax=None,
                    marker: str = "o", markersize: float = 3.0):
    """A path of iterates ``points`` (k, 2) over a contour plot; the start is marked with a square."""
    ax = _axes(ax)
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (k, 2), got {points.shape}.")
    (line,) = ax.plot(points[:, 0], points[:, 1], marker=marker, markersize=markersize,
                      linewidth=1.2, label=label, color=color)
    ax.plot(points[0, 0], points[0, 1], "s", color=line.get_color(), markersize=6)
    return ax


def plot_curves(curves: Mapping[str, Sequence[float]], *, xlabel: str = "step", ylabel: str = "loss",
                logy: bool = True, logx: bool = False, ax=None, title: str | None = None):
    """One line per entry of ``curves`` (label -> values against their index)."""
    ax = _axes(ax, figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=label)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def _run_label(key) -> str:
    if isinstance(key, (int, float)):
        from .training import lr_label
        return f"lr {lr_label(key)}"
    return str(key)


def plot_histories(histories: Mapping, metric: str, *, ax=None, reference: Mapping | None = None,
                   title: str | None = None):
    """Per-epoch ``metric`` (e.g. ``"val_acc"``) of each ``History`` in ``histories`` (lr -> History).

    ``reference`` (same shape) is drawn dashed in the same colours, e.g. a full-scale run.
    """
    ax = _axes(ax, figsize=(5, 3.6))
    for key, history in histories.items():
        values = np.asarray(getattr(history, metric), dtype=float)
        (line,) = ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=_run_label(key))
        if reference and key in reference:
            ref = np.asarray(getattr(reference[key], metric), dtype=float)
            ax.plot(np.arange(1, len(ref) + 1), ref, linestyle="--", color=line.get_color(),
                    label=f"{_run_label(key)} (reference)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or metric.replace("_", " "))
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_step_losses(histories: Mapping, *, window: int = 20, ax=None, title: str | None = None):
    """Per-step minibatch loss of each History (faint) with its ``window``-step running mean (solid)."""
    ax = _axes(ax, figsize=(6, 3.6))
    for key, history in histories.items():
        loss = np.asarray(history.step_loss, dtype=float)
        (line,) = ax.plot(loss, alpha=0.25, linewidth=0.8)
        if len(loss) >= window:
            smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(window - 1, len(loss)), smooth, color=line.get_color(), label=_run_label(key))
    ax.set_xlabel("step")
    ax.set_ylabel("minibatch loss")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_stability_region(lrs, betas, stable, *, boundary=None, ax=None, title: str | None = None):
    """Which cells of a (learning rate, momentum) grid converged: ``stable`` (len(lrs), len(betas)) booleans.

    ``boundary`` is an optional theory curve ``(lr_values, beta_values)`` drawn over the cells
    (e.g. lr·λ_max = 2 + 2β, computed from the same bowl the runs used).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    ax = _axes(ax, figsize=(6, 4.5))
    stable = np.asarray(stable, dtype=bool)
    colors = ["#f2b8b5", "#b9e0b9"]   # diverged, converged
    ax.pcolormesh(np.asarray(lrs, dtype=float), np.asarray(betas, dtype=float), stable.T.astype(float),
                  shading="nearest", cmap=ListedColormap(colors), vmin=0, vmax=1)
    handles = [Patch(color=colors[1], label="measured: converged"), Patch(color=colors[0], label="measured: diverged")]
    if boundary is not None:
        (line,) = ax.plot(*boundary, color="k", lw=2, label="theory boundary")
        handles.append(line)
    ax.set_xlabel("learning rate η")
    ax.set_ylabel("momentum β")
    ax.legend(handles=handles, fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    return ax


def plot_lr_sweeps(ranges: Mapping, *, ax=None, title: str | None = None, ylabel: str = "final loss",
                   logy: bool = True):
    """Final loss against learning rate for each entry of ``ranges`` (label -> a ``sweeps.GoodRange``).

    Each curve's good range is drawn as a thick segment under it and its best learning rate as a
    star; runs that diverged (infinite final loss) are marked with an x at the top of the axes.
    """
    ax = _axes(ax, figsize=(6, 4.2))
    finite = np.concatenate([r.final_losses[np.isfinite(r.final_losses)] for r in ranges.values()])
    top = finite.max() * (3 if logy else 1.1)
    for label, r in ranges.items():
        ok = np.isfinite(r.final_losses)
        (line,) = ax.plot(r.lrs[ok], r.final_losses[ok], "o-", ms=3, lw=1.2, label=label)
        color = line.get_color()
        ax.plot(r.lrs[~ok], np.full((~ok).sum(), top), "x", color=color)
        ax.plot(r.lrs[r.good], r.final_losses[r.good], "-", color=color, lw=5, alpha=0.35, solid_capstyle="round")
        ax.plot([r.best_lr], [r.best_loss], "*", color=color, ms=12, mec="k", mew=0.5)
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    return ax
