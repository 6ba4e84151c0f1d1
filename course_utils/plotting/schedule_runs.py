"""Runs under a schedule (lesson 05): the lr a run used beside its loss, schedules tuned on a grid, warmup.

Each function draws data computed elsewhere (:mod:`course_utils.schedule_runs`, a training loop)
and returns its axes.

Example:
    >>> axes = plot_call_order([0.1] * 4, {"right order": ([0.1] * 4, [1.0, 0.5])}, best_loss=0.2)
    >>> axes[0].get_title()
    'the lr each step actually used'
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .frame import finish, new_axes


def _row(n: int, figsize, axes=None):
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=figsize, layout="constrained")
    return np.atleast_1d(axes)


def plot_call_order(intended: Sequence[float], runs: Mapping[str, tuple], *, best_loss: float, axes=None):
    """Left: the lr of every step, ``intended`` (thick, grey) and each run's; right: each run's loss on all the
    data after every epoch minus ``best_loss``. ``runs``: ``{label: (lr of every step, loss after every epoch)}``."""
    ax_lr, ax_loss = _row(2, (12, 4), axes)
    ax_lr.plot(intended, color="k", lw=3, alpha=0.3, label="intended (lr_trace)")
    for style, (label, (lrs, losses)) in zip(("-", "--", ":", "-."), runs.items()):
        ax_lr.plot(lrs, ls=style, lw=1.5, label=f"run: {label}")
        ax_loss.semilogy(np.arange(1, len(losses) + 1), np.asarray(losses) - best_loss, "o" + style, ms=4,
                         label=label)
    ax_lr.set_yscale("log")
    finish(ax_lr, "step", "learning rate", "the lr each step actually used")
    finish(ax_loss, "epoch", "loss − lowest possible", "loss on all the data after each epoch")
    return ax_lr, ax_loss


def plot_tuning_curves(grid, tune_mean: Mapping[str, Sequence[float]], *, baseline: str = "constant", ax=None,
                       title: str | None = None):
    """Each schedule's mean final excess loss across the lr ``grid`` (log-log); ``baseline`` drawn thick and black."""
    ax = new_axes(ax, figsize=(7, 4.6))
    for name, values in tune_mean.items():
        base = name == baseline
        ax.loglog(grid, values, "o-", ms=3, lw=2.5 if base else 1, color="k" if base else None, label=name)
    ax.set_ylim(top=1.0)
    return finish(ax, "peak learning rate", "final loss − lowest possible (tuning seeds)", title, ncol=2,
                  grid="both")


def plot_schedule_tuning(grid, tune_mean: Mapping[str, Sequence[float]], rows: Sequence[Mapping], *,
                         title: str | None = None, axes=None):
    """Left: :func:`plot_tuning_curves`; right: each schedule at its best peak on fresh seeds (``rows`` as
    :func:`~course_utils.plotting.plot_schedule_comparison` takes them, the constant first, as the baseline)."""
    from .spread import plot_schedule_comparison

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 4.6), gridspec_kw={"width_ratios": [1.2, 1]}, layout="constrained")
    ax_grid, ax_bar = axes
    plot_tuning_curves(grid, tune_mean, ax=ax_grid, title=title)
    plot_schedule_comparison(rows, baseline=rows[0]["mean"], logx=True, ax=ax_bar,
                             xlabel="final loss − lowest possible (fresh seeds, mean ± std)",
                             title="at each schedule's best peak (dashed: best constant)")
    return ax_grid, ax_bar


def plot_plateau_runs(runs: Mapping[str, object], *, seed_index: int = 0, axes=None):
    """One seed of each regression run in ``runs`` (``{label: RegressionRuns}``, one setting each): its lr at every
    step (left) and its loss on all the data minus the lowest possible (right). A label starting with ``none`` is
    drawn first, wide and grey, so that a run that never cuts, lying on it, stays visible."""
    ax_lr, ax_loss = _row(2, (12, 3.8), axes)
    for label, r in sorted(runs.items(), key=lambda item: not item[0].startswith("none")):
        style = dict(color="0.6", lw=4) if label.startswith("none") else {}
        ax_lr.semilogy(r.lr[0, seed_index], label=label, **style)
        ax_loss.semilogy(r.steps, r.excess[0, seed_index], label=label, **style)
    finish(ax_lr, "step", "learning rate", "ReduceLROnPlateau: the lr of one run")
    finish(ax_loss, "step", "loss − lowest possible", "its loss on all the data")
    return ax_lr, ax_loss


def plot_cnn_runs(runs: Mapping[str, Sequence], *, baseline: str, axes=None):
    """Validation accuracy per epoch (mean over seeds) of each entry of ``runs`` (``{name: [CnnRun, ...]}``) and
    the lr every step of its first seed used; ``baseline`` drawn thick and black."""
    ax_acc, ax_lr = _row(2, (12.5, 4), axes)
    for name, group in runs.items():
        acc = np.mean([r.history.val_acc for r in group], axis=0)
        style = dict(color="k", lw=2.5) if name == baseline else {}
        (line,) = ax_acc.plot(np.arange(1, len(acc) + 1), acc, "-o", ms=3, label=name, **style)
        ax_lr.plot(group[0].history.step_lr, color=line.get_color(), label=name, lw=style.get("lw", 1.5))
    ax_lr.set_yscale("log")
    finish(ax_acc, "epoch", "validation accuracy (mean of seeds)", "small CNN, Adam")
    finish(ax_lr, "step", "learning rate", "the lr each step used (History.step_lr)")
    return ax_acc, ax_lr


def plot_warmup_runs(runs: Mapping[str, object], *, reference: str | None = None, axes=None):
    """Validation accuracy per epoch and the running mean of the minibatch loss of each CNN run in ``runs``
    (``{label: CnnRun}``); ``reference`` dashed black; dotted lines at chance (10 %) and ln 10."""
    ax_acc, ax_loss = _row(2, (12, 4), axes)
    for label, r in runs.items():
        h = r.history
        style = dict(color="k", ls="--") if label == reference else dict(ls="-")
        ax_acc.plot(np.arange(1, len(h.val_acc) + 1), h.val_acc, marker="o", ms=3, label=label, **style)
        window = max(2, h.steps_per_epoch // 4)
        smooth = np.convolve(h.step_loss, np.ones(window) / window, mode="valid")
        ax_loss.plot(np.arange(window - 1, len(h.step_loss)), smooth, label=label, **style)
    ax_acc.axhline(0.1, color="grey", ls=":", lw=1)
    ax_loss.axhline(math.log(10), color="grey", ls=":", lw=1)
    ax_loss.set_ylim(1.0, 3.0)
    finish(ax_acc, "epoch", "validation accuracy", "plain CNN, Adam: warmup against none")
    finish(ax_loss, "step", "minibatch loss (running mean)", "dotted: ln 10, the loss of a dead network")
    return ax_acc, ax_loss


def plot_warmup_first_steps(replays: Mapping[str, Sequence[Mapping]], *, axes=None):
    """Per step of each replay (``{label: rows of schedule_runs.adam_first_steps}``): Adam's step over the lr on
    the hidden layer, the minibatch loss, and the share of dead hidden units."""
    axes = _row(3, (14, 3.6), axes)
    for label, rows in replays.items():
        for ax, key in zip(axes, ("step_over_lr", "loss", "dead")):
            ax.plot([r[key] for r in rows], "o-", ms=3, label=label)
    axes[1].set_yscale("log")
    axes[2].set_ylim(-0.02, 1.02)
    finish(axes[0], "step", "median |step| / lr", "Adam's step / lr, hidden layer (live weights)")
    finish(axes[1], "step", "minibatch loss", "minibatch loss")
    finish(axes[2], "step", "share of dead hidden units", "dead hidden units")
    return axes


def plot_fault_runs(runs: Mapping[str, Mapping], *, title: str | None = None, axes=None):
    """Runs to diagnose: for each ``{name: {"lr": [...], "loss": [...]}}`` a column with the lr of every step
    (top) and the loss (bottom, log scale; a diverged run's line stops where its loss stopped being finite), under ``title``."""
    if axes is None:
        _, axes = plt.subplots(2, len(runs), figsize=(3.1 * len(runs), 5.2), sharex="col", layout="constrained")
    axes = np.asarray(axes).reshape(2, len(runs))
    for (name, run), ax_lr, ax_loss in zip(runs.items(), axes[0], axes[1]):
        loss = np.asarray(run["loss"], dtype=float)
        ax_lr.semilogy(run["lr"], color="C0", label="lr")
        ax_loss.semilogy(np.where(np.isfinite(loss), loss, np.nan), color="C1", label="loss")
        finish(ax_lr, "", "learning rate", f"run {name}")
        finish(ax_loss, "step", "training loss")
    if title:
        axes[0, 0].figure.suptitle(title)
    return axes
