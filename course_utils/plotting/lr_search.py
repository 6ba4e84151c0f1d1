"""Which learning rates work: steps to a tolerance against lr on a bowl (lesson 02), loss against lr for
sweeps, range tests and grid searches, each with its good region and suggestions marked, and the stable
cells of an (lr, momentum) grid (lessons 04, 06).

Example:
    >>> ax = plot_grid_search([1e-4, 1e-3, 1e-2], [2.1, 1.6, 2.4], good_region=(1e-3, 1e-3))
    >>> ax.get_xscale()
    'log'
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .frame import finish, new_axes

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
    ax = new_axes(ax, figsize=(6.5, 4))
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
    return finish(ax, "learning rate (log scale)", "training loss", title)


def plot_grid_search(lrs: Sequence[float], values: Sequence[float], *, good_region: tuple | None = None,
                     threshold: float | None = None, marks: Mapping[str, float] | None = None, ax=None,
                     ylabel: str = "final validation loss", title: str | None = None):
    """A grid search: one final metric per lr (log x axis), its good region shaded.

    ``good_region`` (``(low, high)`` lr, e.g. from ``grid_search.good_region``) is shaded and the grid
    points inside it filled; ``threshold`` draws the metric's cut-off as a dotted line; ``marks``
    (``{label: lr}``) are dashed vertical lines, e.g. a range test's suggestions.
    """
    ax = new_axes(ax, figsize=(6.5, 4))
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
    return finish(ax, "learning rate (log scale)", ylabel, title, grid="both")


def plot_suggestion_spread(suggestions: Mapping[str, Sequence[float]], *, good_region: tuple | None = None, ax=None,
                           title: str | None = None):
    """Each rule's suggestions over repeated range tests (``{rule: [lr, ...]}``), one row of dots per rule.

    ``good_region`` (``(low, high)`` lr) is shaded, so a dot outside it is a suggestion that missed.
    """
    ax = new_axes(ax, figsize=(6.5, 0.7 * len(suggestions) + 1.4))
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


def plot_range_tests(sweeps: Mapping[str, object], *, stop_factor: float | None = 4.0, ax=None,
                     title: str | None = None):
    """Several range tests (``{label: Sweep}``) on one axes: each smoothed curve, a dot at its lowest point and,
    where a stop at ``stop_factor`` times the best would have fired, an x there (the curve goes on past it).

    Example:
        >>> from course_utils import bowl_model
        >>> s = bowl_model.range_test([[10.0]], [1.0], start_lr=0.01, end_lr=1.0, num_steps=30)
        >>> plot_range_tests({"a": s, "b": s}).get_xscale()
        'log'
    """
    ax = new_axes(ax, figsize=(9, 4.5))
    lows = []
    for k, (label, sweep) in enumerate(sweeps.items()):
        lrs, smooth = np.asarray(sweep.lrs, dtype=float), np.asarray(sweep.smoothed, dtype=float)
        (line,) = ax.plot(lrs, smooth, color=f"C{k % 10}", linewidth=1.2, label=label)
        best = int(np.nanargmin(np.where(np.isfinite(smooth), smooth, np.nan)))
        ax.plot(lrs[best], smooth[best], "o", color=line.get_color(), markersize=6)
        lows.append(smooth[best])
        if stop_factor is not None:
            from .. import lr_finder

            stop = lr_finder.stop_index(smooth, stop_factor, sweep.losses)
            if stop is not None and np.isfinite(smooth[stop]):
                ax.plot(lrs[stop], smooth[stop], "x", color="k", markersize=8)
    ax.plot([], [], "o", color="0.4", label="lowest smoothed loss")
    if stop_factor is not None:
        ax.plot([], [], "x", color="k", label=f"where a stop at {stop_factor:g} x the best fires")
    if lows:
        ax.set_ylim(min(lows) - 0.3, max(lows) + 2.5)
    ax.set_xscale("log")
    return finish(ax, "learning rate (log scale)", "smoothed training loss", title, legend_size="x-small")


def plot_bowl_range_test(sweeps: Mapping[str, object], lambdas: Sequence[float], *, marks: Mapping[str, float] = (),
                         axes=None, title: str | None = None):
    """Range tests on a bowl (``{label: Sweep}``, loss against lr, log-log) beside each direction's factor
    per step ``|1 - lr λ|`` for ``lambdas``; ``marks`` (``{label: lr}``) are vertical lines on both panels,
    e.g. ``2/λ_max``. Returns the two axes.

    Example:
        >>> from course_utils import bowl_model
        >>> s = bowl_model.range_test([[10.0]], [1.0], start_lr=0.01, end_lr=1.0, num_steps=30)
        >>> ax, ax_f = plot_bowl_range_test({"one direction": s}, [10.0], marks={"2/λ": 0.2})
        >>> ax.get_xscale(), ax_f.get_ylabel()
        ('log', 'factor per step |1 − η λ|')
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4))
    ax, ax_f = axes
    styles = (":", "-", "--", "-.")
    for k, (label, sweep) in enumerate(sweeps.items()):
        ax.loglog(sweep.lrs, sweep.losses, color=f"C{k}", alpha=1.0 if k == 0 else 0.7, label=label)
    lo = min(float(np.min(s.lrs)) for s in sweeps.values())
    hi = max(float(np.max(s.lrs)) for s in sweeps.values())
    fine = np.geomspace(lo, hi, 400)
    for lam, name in zip(lambdas, ("λ_min", "λ_max") if len(lambdas) == 2 else [f"λ_{i}" for i in range(len(lambdas))]):
        ax_f.semilogx(fine, np.abs(1 - fine * lam), label=f"|1 − η {name}|, {name} = {lam:g}")
    ax_f.axhline(1, color="k", linewidth=1, label="factor 1: neither grows nor shrinks")
    for k, (label, lr) in enumerate(dict(marks).items()):
        for a in (ax, ax_f):
            a.axvline(lr, color="k", linestyle=styles[k % len(styles)], linewidth=1, label=f"{label} = {lr:.3g}")
    ax_f.set_ylim(0, 3)
    finish(ax, "learning rate", "loss f(w)", title or "range test on the bowl, full batch, β = 0", legend_size="x-small")
    return ax, finish(ax_f, "learning rate", "factor per step |1 − η λ|", "each direction's factor per step",
                      legend_size="x-small")


def plot_lr_sweeps(ranges: Mapping, *, ax=None, title: str | None = None, ylabel: str = "final loss",
                   logy: bool = True):
    """Final loss against learning rate for each entry of ``ranges`` (label -> a ``grid_search.GoodRange``).

    Each curve's good range is drawn as a thick segment under it and its best learning rate as a
    star; runs that diverged (infinite final loss) are marked with an x at the top of the axes.
    """
    ax = new_axes(ax, figsize=(6, 4.2))
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
    return finish(ax, "learning rate", ylabel, title)


def plot_stability_region(lrs, betas, stable, *, boundary=None, ax=None, title: str | None = None):
    """Which cells of a (learning rate, momentum) grid converged: ``stable`` (len(lrs), len(betas)) booleans.

    ``boundary`` is an optional theory curve ``(lr_values, beta_values)`` drawn over the cells
    (e.g. lr·λ_max = 2 + 2β, computed from the same bowl the runs used).
    """
    ax = new_axes(ax, figsize=(6, 4.5))
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


def plot_steps_to_tolerance(sweeps: Mapping, *, theory: Mapping | None = None, marks: Mapping | None = None,
                            ax=None, title: str | None = None, logy: bool = True, xlim=None, ylim=None):
    """Steps to tolerance against the learning rate (log x axis), one colour per sweep.

    ``sweeps`` maps a label to a ``descent.LRSweep``: its converged runs are dots, runs stopped at
    ``max_steps`` (neither arrived nor diverged) open triangles at ``max_steps``, diverged runs
    crosses along the top. ``theory`` maps the same labels to ``(lrs, steps)`` drawn as a line in the
    sweep's colour; ``marks`` maps a label to a learning rate drawn as a dashed vertical line.
    ``xlim``/``ylim`` zoom in (e.g. on the bottom of the U, with ``logy=False``). With several
    sweeps the legend goes beside the axes, off the curves.

    Example:
        >>> from course_utils import descent, surfaces
        >>> sweep = descent.sweep_lr(surfaces.make_bowl((1.0, 10.0)), [1.0, 1.0], [0.05, 0.18, 0.25])
        >>> ax = plot_steps_to_tolerance({"κ = 10": sweep}, marks={"2/λ_max": 0.2})
        >>> [line.get_label() for line in ax.get_lines()][:2]
        ['κ = 10: measured', 'κ = 10: diverged']
    """
    ax = new_axes(ax, figsize=(7, 4.5))
    finite = np.concatenate([s.steps[np.isfinite(s.steps)] for s in sweeps.values()])
    top = 2 * finite.max() if finite.size else 1.0
    for label, sweep in sweeps.items():
        lrs, steps = np.asarray(sweep.lrs), np.asarray(sweep.steps)
        ok, diverged = np.isfinite(steps), np.asarray(sweep.diverged)
        stopped = ~ok & ~diverged
        (dots,) = ax.plot(lrs[ok], steps[ok], "o", ms=3.5, label=f"{label}: measured")
        color = dots.get_color()
        if diverged.any():
            ax.plot(lrs[diverged], np.full(diverged.sum(), top), "x", color=color, label=f"{label}: diverged")
        if stopped.any():
            ax.plot(lrs[stopped], np.full(stopped.sum(), sweep.max_steps), "^", color=color, mfc="none",
                    label=f"{label}: stopped at max_steps = {sweep.max_steps}")
        if theory and label in theory:
            ax.plot(*theory[label], "-", color=color, lw=1.2, alpha=0.8, label=f"{label}: theory")
    for (label, lr), style in zip((marks or {}).items(), ("--", ":", "-.", (0, (5, 1)))):
        ax.axvline(lr, color="0.2", linestyle=style, linewidth=1, label=f"{label} = {lr:.4g}")
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    finish(ax, "learning rate η", f"steps until loss ≤ {next(iter(sweeps.values())).tol:g} × start", title, grid="both")
    if len(sweeps) > 1:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax
