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


# ----------------------------------------------------------------------------- learning-rate schedules (lesson 05)

def plot_lr_trace(trace: Sequence[float], *, ax=None, label: str | None = None, logy: bool = False,
                  steps_per_epoch: int | None = None, **line_kwargs):
    """One learning-rate schedule: ``trace`` (T,) the lr of steps 0..T-1 (e.g. ``schedules.lr_trace``).

    ``steps_per_epoch`` adds faint vertical lines at epoch boundaries. Returns the axes.
    """
    ax = _axes(ax, figsize=(5.5, 3.2))
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
                   steps_per_epoch: int | None = None, sharey: bool = True):
    """Every schedule of ``traces`` (name -> (T,) lr per step) on its own small panel of one figure.

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
    return axes


def plot_schedule_comparison(rows: Sequence[Mapping], *, value: str = "mean", spread: str = "spread",
                             baseline: float | None = None, xlabel: str = "final loss", logx: bool = False,
                             ax=None, title: str | None = None):
    """Horizontal bars of ``row[value]`` with error bars ``row[spread]``, one per ``row["label"]``.

    ``baseline`` draws a dashed vertical line (e.g. the best constant lr's value). Returns the axes.
    """
    ax = _axes(ax, figsize=(6, 0.4 * len(rows) + 1.2))
    labels = [str(r["label"]) for r in rows]
    values = np.array([r[value] for r in rows], dtype=float)
    errors = np.array([r.get(spread, 0.0) for r in rows], dtype=float)
    positions = np.arange(len(rows))[::-1]
    ax.barh(positions, values, xerr=errors, color="C0", alpha=0.7, capsize=3)
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    if baseline is not None:
        ax.axvline(baseline, color="C3", ls="--", lw=1)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return ax
