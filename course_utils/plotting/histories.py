"""Training runs: per-epoch metrics and per-step losses of :class:`~course_utils.training.History` objects,
training beside validation, and what a :class:`~course_utils.probes.TrainingProbe` recorded (lessons 07, 08).

Each function takes a mapping ``key -> History`` (e.g. a :class:`~course_utils.lr_comparison.Comparison`,
keyed by learning rate: the legend then reads ``lr 1e-3``) or a probe record.

Example:
    >>> from course_utils.training import History
    >>> ax = plot_histories({1e-3: History(val_acc=[0.3, 0.4])}, "val_acc")
    >>> ax.get_lines()[0].get_label()
    'lr 1e-3'
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from .frame import finish, new_axes, run_label


def plot_histories(histories: Mapping, metric: str, *, ax=None, reference: Mapping | None = None,
                   title: str | None = None):
    """Per-epoch ``metric`` (e.g. ``"val_acc"``) of each ``History`` in ``histories`` (lr -> History).

    ``reference`` (same shape) is drawn dashed in the same colours, e.g. a full-scale run.
    """
    ax = new_axes(ax, figsize=(5, 3.6))
    for key, history in histories.items():
        values = np.asarray(getattr(history, metric), dtype=float)
        (line,) = ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=run_label(key))
        if reference and key in reference:
            ref = np.asarray(getattr(reference[key], metric), dtype=float)
            ax.plot(np.arange(1, len(ref) + 1), ref, linestyle="--", color=line.get_color(),
                    label=f"{run_label(key)} (reference)")
    return finish(ax, "epoch", metric.replace("_", " "), title or metric.replace("_", " "))


def plot_step_losses(histories: Mapping, *, window: int = 20, ax=None, title: str | None = None):
    """Per-step minibatch loss of each History (faint) with its ``window``-step running mean (solid)."""
    ax = new_axes(ax, figsize=(6, 3.6))
    for key, history in histories.items():
        loss = np.asarray(history.step_loss, dtype=float)
        (line,) = ax.plot(loss, alpha=0.25, linewidth=0.8)
        if len(loss) >= window:
            smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
            ax.plot(np.arange(window - 1, len(loss)), smooth, color=line.get_color(), label=run_label(key))
    return finish(ax, "step", "minibatch loss", title)


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
    ax = new_axes(ax, figsize=(5.5, 3.8))
    for key, history in histories.items():
        val = np.asarray(getattr(history, f"val_{metric}"), dtype=float)
        train = np.asarray(getattr(history, f"train_eval_{metric}"), dtype=float)
        (line,) = ax.plot(np.arange(1, len(val) + 1), val, marker="o", markersize=3,
                          label=f"{run_label(key)} validation")
        ax.plot(np.arange(1, len(train) + 1), train, linestyle="--", marker=".", color=line.get_color(),
                label=f"{run_label(key)} training")
        if metric == "acc" and se_band:
            for values, size in ((val, history.val_size), (train, history.train_eval_size)):
                if size and len(values):
                    se = np.sqrt(np.clip(values * (1 - values), 0, None) / size)
                    ax.fill_between(np.arange(1, len(values) + 1), values - se, values + se,
                                    color=line.get_color(), alpha=0.15, linewidth=0)
        if reference and key in reference:
            ref = np.asarray(getattr(reference[key], f"val_{metric}"), dtype=float)
            ax.plot(np.arange(1, len(ref) + 1), ref, linestyle=":", color=line.get_color(),
                    label=f"{run_label(key)} validation (reference)")
    name = "accuracy" if metric == "acc" else "loss"
    return finish(ax, "epoch", name, title or f"training (dashed) and validation (solid) {name}", legend_size="x-small",
                  ncol=2)


def plot_update_ratios(record, *, steps_per_epoch: int | None = None, rule: float | None = 1e-3, ax=None,
                       title: str | None = None):
    """Per-layer update-to-weight ratio ‖Δw‖/‖w‖ of a probe record (log scale), with a rule-of-thumb line.

    ``record`` has ``ratio_steps`` and ``update_ratio`` (layer -> values), as a
    :class:`~course_utils.probes.ProbeRecord`. With ``steps_per_epoch`` the x axis is in epochs.
    ``rule`` draws CS231n's "about 1e-3" as a horizontal line (``None``: no line). A ratio of
    exactly 0 (a step too small to change any float32 weight) has no place on a log scale: it is
    left out, so the line stops there.
    """
    ax = new_axes(ax, figsize=(5, 3.6))
    x = np.asarray(record.ratio_steps, dtype=float)
    if steps_per_epoch:
        x = x / steps_per_epoch
    for name, values in record.update_ratio.items():
        values = np.asarray(values, dtype=float)
        ax.plot(x, np.where(values > 0, values, np.nan), marker=".", markersize=3, linewidth=1, label=name)
    if rule:
        ax.axhline(rule, color="black", linestyle=":", linewidth=1.2, label=f"{rule:g} (CS231n)")
    ax.set_yscale("log")
    return finish(ax, "epoch" if steps_per_epoch else "step", "update / weight  ‖Δw‖/‖w‖", title, legend_size="x-small")


def plot_dead_units(record, *, steps_per_epoch: int | None = None, ax=None, title: str | None = None):
    """Fraction of dead units (silent for every probe image) after each ReLU, over training.

    ``record`` has ``dead_steps`` and ``dead`` (layer -> fractions), as a
    :class:`~course_utils.probes.ProbeRecord`; the first point is the network at initialisation.
    """
    ax = new_axes(ax, figsize=(5, 3.6))
    x = np.asarray(record.dead_steps, dtype=float)
    if steps_per_epoch:
        x = x / steps_per_epoch
    for name, values in record.dead.items():
        ax.plot(x, 100 * np.asarray(values, dtype=float), marker=".", markersize=4, linewidth=1,
                label=f"after {name}")
    ax.set_ylim(-3, 103)
    return finish(ax, "epoch" if steps_per_epoch else "step", "dead units (%)", title, legend_size="x-small")
