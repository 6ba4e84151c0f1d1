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


def _finish(ax, xlabel: str, ylabel: str, title: str | None, legend_size: str = "x-small", ncol: int = 1):
    """Axis labels, optional title, legend and a light grid: the common end of the lesson-07 figures."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=legend_size, ncol=ncol)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_train_val(histories: Mapping, metric: str = "acc", *, ax=None, reference: Mapping | None = None,
                   se_band: bool = True, title: str | None = None):
    """Training (dashed) and validation (solid) ``metric`` of each History in one panel, one colour per run.

    ``metric`` is ``"acc"`` or ``"loss"``: the curves are ``train_eval_<metric>`` (training images
    measured in eval mode, without augmentation) and ``val_<metric>``, so the vertical distance
    between a run's two lines is its generalization gap. For accuracies, ``se_band`` shades ±1
    binomial standard error around each curve (from ``val_size``/``train_eval_size``).
    ``reference`` (lr -> History) adds a full-scale run's validation curve, dotted.
    """
    if metric not in ("acc", "loss"):
        raise ValueError(f"metric must be 'acc' or 'loss', got {metric!r}.")
    ax = _axes(ax, figsize=(5.5, 3.8))
    for key, history in histories.items():
        val = np.asarray(getattr(history, f"val_{metric}"), dtype=float)
        train = np.asarray(getattr(history, f"train_eval_{metric}"), dtype=float)
        (line,) = ax.plot(np.arange(1, len(val) + 1), val, marker="o", markersize=3,
                          label=f"{_run_label(key)} validation")
        ax.plot(np.arange(1, len(train) + 1), train, linestyle="--", marker=".", color=line.get_color(),
                label=f"{_run_label(key)} training")
        if metric == "acc" and se_band:
            for values, size in ((val, history.val_size), (train, history.train_eval_size)):
                if size and len(values):
                    se = np.sqrt(np.clip(values * (1 - values), 0, None) / size)
                    ax.fill_between(np.arange(1, len(values) + 1), values - se, values + se,
                                    color=line.get_color(), alpha=0.15, linewidth=0)
        if reference and key in reference:
            ref = np.asarray(getattr(reference[key], f"val_{metric}"), dtype=float)
            ax.plot(np.arange(1, len(ref) + 1), ref, linestyle=":", color=line.get_color(),
                    label=f"{_run_label(key)} validation (reference)")
    name = "accuracy" if metric == "acc" else "loss"
    return _finish(ax, "epoch", name, title or f"training (dashed) and validation (solid) {name}", ncol=2)


def plot_update_ratios(record, *, steps_per_epoch: int | None = None, rule: float | None = 1e-3, ax=None,
                       title: str | None = None):
    """Per-layer update-to-weight ratio ‖Δw‖/‖w‖ of a probe record (log scale), with a rule-of-thumb line.

    ``record`` has ``ratio_steps`` and ``update_ratio`` (layer -> values), as a
    :class:`~course_utils.probes.ProbeRecord`. With ``steps_per_epoch`` the x axis is in epochs.
    ``rule`` draws CS231n's "about 1e-3" as a horizontal line (``None``: no line). A ratio of
    exactly 0 (a step too small to change any float32 weight) has no place on a log scale: it is
    left out, so the line stops there.
    """
    ax = _axes(ax, figsize=(5, 3.6))
    x = np.asarray(record.ratio_steps, dtype=float)
    if steps_per_epoch:
        x = x / steps_per_epoch
    for name, values in record.update_ratio.items():
        values = np.asarray(values, dtype=float)
        ax.plot(x, np.where(values > 0, values, np.nan), marker=".", markersize=3, linewidth=1, label=name)
    if rule:
        ax.axhline(rule, color="black", linestyle=":", linewidth=1.2, label=f"{rule:g} (CS231n)")
    ax.set_yscale("log")
    return _finish(ax, "epoch" if steps_per_epoch else "step", "update / weight  ‖Δw‖/‖w‖", title)


def plot_dead_units(record, *, steps_per_epoch: int | None = None, ax=None, title: str | None = None):
    """Fraction of dead units (silent for every probe image) after each ReLU, over training.

    ``record`` has ``dead_steps`` and ``dead`` (layer -> fractions), as a
    :class:`~course_utils.probes.ProbeRecord`; the first point is the network at initialisation.
    """
    ax = _axes(ax, figsize=(5, 3.6))
    x = np.asarray(record.dead_steps, dtype=float)
    if steps_per_epoch:
        x = x / steps_per_epoch
    for name, values in record.dead.items():
        ax.plot(x, 100 * np.asarray(values, dtype=float), marker=".", markersize=4, linewidth=1,
                label=f"after {name}")
    ax.set_ylim(-3, 103)
    return _finish(ax, "epoch" if steps_per_epoch else "step", "dead units (%)", title)
