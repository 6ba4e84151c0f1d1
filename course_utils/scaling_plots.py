"""Figures of lesson 09: sweeps over the batch size and the width, the noise scale, steps to a target.

Each function takes data computed elsewhere (:mod:`~course_utils.batch_scaling`,
:mod:`~course_utils.critical_batch`, :mod:`~course_utils.noise_scale`, :mod:`~course_utils.lr_optimum`)
and an optional ``ax``, draws, and returns the axes. Theory curves are drawn from the numbers they
are given, so a test can check that what is drawn is what was computed.

Example:
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_loss_against_lr([1e-3, 1e-2, 1e-1], {"B = 32": np.array([[1.0, 0.5, 0.8]])})
    >>> len(ax.lines)
    1
"""
from __future__ import annotations

import numpy as np


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def _geomean(a, axis=0):
    return np.exp(np.mean(np.log(np.asarray(a, dtype=float)), axis=axis))


def plot_loss_against_lr(lrs, losses: dict, *, ax=None, best: dict | None = None, title: str = "",
                         ylabel: str = "training loss after the budget"):
    """One curve per entry of ``losses`` ({label: (S, L) losses over seeds}): the mean over seeds against lr.

    ``best`` ({label: (S,) best lrs}) marks each curve's best lr (geometric mean over seeds) with a dot.
    Diverged runs (``inf``) leave a gap.
    """
    ax = _axes(ax)
    colours = _colours(len(losses))
    for colour, (label, values) in zip(colours, losses.items()):
        values = np.asarray(values, dtype=float)
        mean = np.where(np.all(np.isfinite(values), axis=0), values.mean(axis=0), np.nan)
        ax.plot(lrs, mean, "o-", ms=3, lw=1.2, color=colour, label=label)
        if best is not None and label in best:
            at = _geomean(best[label])
            ax.plot([at], [np.interp(np.log(at), np.log(lrs), np.nan_to_num(mean, nan=np.nanmax(mean)))], "o",
                    ms=7, mfc="none", color=colour)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel=ylabel, title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2)
    return ax


def plot_best_lr(sizes, best, *, ax=None, label: str = "measured", colour=None, lines: dict | None = None,
                 xlabel: str = "batch size B", title: str = ""):
    """The best lr against a size on log-log axes: every seed a small dot, their geometric mean a line.

    ``best`` is (sizes, S); ``lines`` ({label: (sizes,) values}) adds reference curves in the same colour
    (a rule's prediction, a fitted model: dashed, dotted, ...), drawn at exactly the values given.
    """
    ax = _axes(ax)
    sizes = np.asarray(sizes, dtype=float)
    best = np.asarray(best, dtype=float)
    line, = ax.plot(sizes, _geomean(best, axis=1), "o-", lw=2, color=colour, label=label)
    for column in best.T:
        ax.plot(sizes, column, ".", ms=4, alpha=0.5, color=line.get_color())
    for (name, values), style in zip((lines or {}).items(), ("--", ":", "-.", (0, (5, 1)))):
        ax.plot(sizes, values, linestyle=style, lw=1.3, color=line.get_color(), label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel="best learning rate", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small")
    return ax


def plot_steps_to_target(batch_sizes, steps, *, model=None, model_label: str = "", errors=None, ax=None,
                         title: str = "", examples: bool = False, extra: dict | None = None):
    """Steps (or, with ``examples``, examples B·S) to the target against B, with a model curve.

    ``steps`` (nB,) measured; ``errors`` (nB,) their standard errors (error bars); ``model`` (nB,)
    the model's steps at the same batch sizes; ``extra`` ({label: (nB,) steps}) more model curves.
    """
    ax = _axes(ax)
    B = np.asarray(batch_sizes, dtype=float)
    factor = B if examples else np.ones_like(B)
    y = np.asarray(steps, dtype=float) * factor
    yerr = None if errors is None else np.asarray(errors, dtype=float) * factor
    ax.errorbar(B, y, yerr=yerr, fmt="o", ms=5, capsize=3, label="measured (best lr at each B)")
    for (label, values), style in zip(([(model_label, model)] if model is not None else []) + list((extra or {}).items()),
                                      ("-", "--", ":")):
        ax.plot(B, np.asarray(values, dtype=float) * factor, linestyle=style, lw=1.3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="batch size B", ylabel="examples to the target" if examples else "steps to the target", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small")
    return ax


def plot_noise_scale_path(loss, b_simple, *, ax=None, label: str = "", title: str = "", xlabel: str = "loss",
                          log_loss: bool = False):
    """B_simple against the loss along a run, training going from left to right (the loss axis is reversed);
    ``log_loss`` puts the loss on a log scale (for losses spanning decades)."""
    ax = _axes(ax)
    ax.plot(loss, b_simple, "o-", ms=4, label=label or None)
    if log_loss:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set(xlabel=xlabel, ylabel="gradient noise scale B_simple", title=title)
    ax.grid(True, which="both", alpha=0.3)
    if label:
        ax.legend(fontsize="x-small")
    return ax


def _colours(n: int):
    import matplotlib.pyplot as plt

    return plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(n, 1)))
