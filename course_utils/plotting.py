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


# ----------------------------------------------------------------------------- lesson 06: finding a good lr

RULE_COLORS = {"steepest": "C3", "minimum/10": "C2", "valley": "C4"}  # one colour per suggestion rule


def point_on_curve(lrs, values, lr: float) -> float:
    """The curve ``values`` against ``lrs`` read at ``lr`` (linear in log lr; finite points only)."""
    lrs, values = np.asarray(lrs, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    return float(np.interp(np.log(lr), np.log(lrs[ok]), values[ok]))


def plot_range_test(sweep, *, suggestions: Mapping[str, float] | None = None, ax=None, show_raw: bool = True,
                    good_region: tuple | None = None, title: str | None = None, label: str = "smoothed"):
    """A range test (an ``lr_finder.Sweep``): loss against lr on a log axis, each suggestion marked.

    The raw minibatch losses are drawn faint, the smoothed ones solid; ``suggestions``
    (``{rule: lr}``) are dashed vertical lines with a dot on the smoothed curve; ``good_region``
    (``(low, high)`` lr) is shaded; a sweep that stopped early has its last point crossed.
    The y axis frames the descent (from below the lowest smoothed loss to a little above the first),
    so the blow-up at the end, which can be 100 times the start, leaves the top instead of squashing the curve.
    """
    ax = _axes(ax, figsize=(6.5, 4))
    lrs, raw, smooth = (np.asarray(a, dtype=float) for a in (sweep.lrs, sweep.losses, sweep.smoothed))
    if good_region is not None:
        ax.axvspan(*good_region, color="0.85", label="grid's good region", zorder=0)
    if show_raw:
        ax.plot(lrs, raw, color="C0", alpha=0.3, linewidth=0.8, label="minibatch loss")
    (line,) = ax.plot(lrs, smooth, color="C0", linewidth=1.8, label=f"{label} (β = {sweep.beta:g})")
    if sweep.stopped_early and np.isfinite(smooth[-1]):
        ax.plot(lrs[-1], smooth[-1], "x", color="k", markersize=8, label=f"stop ({sweep.stop_reason})")
    for rule, lr in (suggestions or {}).items():
        if lr is None or not np.isfinite(lr):
            continue
        color = RULE_COLORS.get(rule, None)
        ax.axvline(lr, color=color, linestyle="--", linewidth=1)
        ax.plot(lr, point_on_curve(lrs, smooth, lr), "o", color=color, markersize=7, label=f"{rule}: {lr:.1e}")
    finite = smooth[np.isfinite(smooth)]
    if finite.size:  # frame the descent: from below the minimum to a little above the start; a blow-up leaves the top
        low, start = finite.min(), finite[0]
        span = max(start - low, 0.02 * abs(low), 1e-12)
        ax.set_ylim(low - 0.5 * span, max(start, low) + 1.5 * span)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_grid_search(lrs: Sequence[float], values: Sequence[float], *, good_region: tuple | None = None,
                     threshold: float | None = None, marks: Mapping[str, float] | None = None, ax=None,
                     ylabel: str = "final validation loss", title: str | None = None):
    """A grid search: one final metric per lr (log x axis), its good region shaded.

    ``good_region`` (``(low, high)`` lr, e.g. from ``lr_finder.good_region``) is shaded and the grid
    points inside it filled; ``threshold`` draws the metric's cut-off as a dotted line; ``marks``
    (``{label: lr}``) are dashed vertical lines, e.g. a range test's suggestions.
    """
    ax = _axes(ax, figsize=(6.5, 4))
    lrs, values = np.asarray(lrs, dtype=float), np.asarray(values, dtype=float)
    if good_region is not None:
        low, high = good_region
        ax.axvspan(low, high, color="0.85", zorder=0, label="good region")
        inside = (lrs >= low) & (lrs <= high)
        ax.plot(lrs[inside], values[inside], "o", color="C0", zorder=3)
    ax.plot(lrs, values, "o-", color="C0", markerfacecolor="white", label=ylabel, zorder=2)
    if threshold is not None:
        ax.axhline(threshold, color="0.5", linestyle=":", linewidth=1, label="cut-off")
    for label, lr in (marks or {}).items():
        ax.axvline(lr, color=RULE_COLORS.get(label, None), linestyle="--", linewidth=1, label=f"{label}: {lr:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def plot_suggestion_spread(suggestions: Mapping[str, Sequence[float]], *, good_region: tuple | None = None, ax=None,
                           title: str | None = None):
    """Each rule's suggestions over repeated range tests (``{rule: [lr, ...]}``), one row of dots per rule.

    ``good_region`` (``(low, high)`` lr) is shaded, so a dot outside it is a suggestion that missed.
    """
    ax = _axes(ax, figsize=(6.5, 0.7 * len(suggestions) + 1.4))
    if good_region is not None:
        ax.axvspan(*good_region, color="0.85", zorder=0, label="grid's good region")
    for row, (rule, lrs) in enumerate(suggestions.items()):
        lrs = np.asarray(lrs, dtype=float)
        ax.plot(lrs, np.full(len(lrs), row), "o", color=RULE_COLORS.get(rule, f"C{row}"), alpha=0.7, markersize=7)
        if len(lrs):
            ax.plot([lrs.min(), lrs.max()], [row, row], color=RULE_COLORS.get(rule, f"C{row}"), linewidth=1)
    ax.set_yticks(range(len(suggestions)))
    ax.set_yticklabels(list(suggestions))
    ax.set_ylim(-0.6, len(suggestions) - 0.4)
    ax.set_xscale("log")
    ax.set_xlabel("suggested learning rate (log scale)")
    if title:
        ax.set_title(title)
    if good_region is not None:
        ax.legend(fontsize="small", loc="upper left")
    ax.grid(True, axis="x", which="major", alpha=0.3)
    return ax


def plot_sharpness(runs: Mapping[str, tuple], thresholds: Mapping[str, float] | None = None, *,
                   threshold_name: str = "2/η", ax=None, title: str | None = None):
    """Sharpness against step for each run (label -> ``(steps, values)``), with each run's
    stability threshold (label -> value) as a dashed line in the same colour.

    Example:
        >>> ax = plot_sharpness({"lr 0.02": ([0, 10, 20], [90.0, 99.0, 101.0])}, {"lr 0.02": 100.0})  # doctest: +SKIP
    """
    ax = _axes(ax, figsize=(6.5, 4))
    for label, (steps, values) in runs.items():
        (line,) = ax.plot(np.asarray(steps), np.asarray(values, dtype=float), marker="o", markersize=2.5,
                          linewidth=1.2, label=f"{label}: sharpness")
        if thresholds and label in thresholds:
            ax.axhline(thresholds[label], color=line.get_color(), linestyle="--", linewidth=1.2,
                       label=f"{label}: {threshold_name} = {thresholds[label]:.4g}")
    ax.set_xlabel("step")
    ax.set_ylabel("sharpness λ_max")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return ax


def plot_seed_spread(results: Mapping[str, Sequence[float]], *, ylabel: str = "validation accuracy",
                     ax=None, title: str | None = None):
    """One column per entry (label -> one value per seed): every seed as a dot, their mean as a bar
    and their min-max range as an error bar, so a difference can be read against the spread."""
    ax = _axes(ax, figsize=(6.5, 3.8))
    for i, (label, values) in enumerate(results.items()):
        values = np.asarray(values, dtype=float)
        mean = float(np.mean(values))
        ax.bar(i, mean, width=0.6, alpha=0.35, color=f"C{i}")
        ax.errorbar(i, mean, yerr=[[mean - values.min()], [values.max() - mean]], color="k", capsize=5, linewidth=1)
        ax.plot(np.full(len(values), i), values, "o", color=f"C{i}", markersize=5)
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(list(results), fontsize="small")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
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
