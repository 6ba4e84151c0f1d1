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

from .lr_optimum import geomean


def _axes(ax):
    from .plotting.frame import new_axes

    return new_axes(ax, figsize=(6, 4))


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
            at = geomean(best[label], axis=0)
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
    line, = ax.plot(sizes, geomean(best, axis=1), "o-", lw=2, color=colour, label=label)
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
                          log_loss: bool = False, estimated=None, estimated_label: str = "your estimator",
                          target: float | None = None):
    """B_simple against the loss along a run, training going from left to right (the loss axis is reversed);
    ``log_loss`` puts the loss on a log scale (for losses spanning decades); ``estimated`` (same length)
    an estimate of B_simple at the same points, drawn dashed; ``target`` a loss marked by a dotted line."""
    ax = _axes(ax)
    ax.plot(loss, b_simple, "o-", ms=4, label=label or None)
    if estimated is not None:
        ax.plot(loss, estimated, "s--", ms=4, label=estimated_label)
    if target is not None:
        ax.axvline(target, color="grey", ls=":", label="the target loss")
    if log_loss:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set(xlabel=xlabel, ylabel="gradient noise scale B_simple", title=title)
    ax.grid(True, which="both", alpha=0.3)
    if label or estimated is not None or target is not None:
        ax.legend(fontsize="x-small")
    return ax


def plot_downsampled(images, small, labels, classes, *, count: int = 8):
    """The first ``count`` images (N, 32, 32, 3 uint8) above what the network sees (``small``: N, 3, h, w
    in 0-255), titled by class; returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, count, figsize=(1.25 * count, 2.8))
    for k in range(count):
        axes[0, k].imshow(images[k])
        axes[1, k].imshow(np.asarray(small[k]).transpose(1, 2, 0).clip(0, 255).astype(np.uint8))
        axes[0, k].set_title(classes[labels[k]], fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"top: the images; bottom: what the network sees ({small.shape[-2]}x{small.shape[-1]} pixels)",
                 fontsize=9)
    return fig


def plot_lr_by_batch(batch_sizes, best_lrs: dict, *, ax=None, reference: tuple[float, str] | None = None,
                     title: str = "the best learning rate for reaching the target"):
    """The best learning rate against the batch size, one line per entry of ``best_lrs`` ({label: (nB,)}),
    log-log; ``reference`` (value, label) a horizontal line (e.g. 1/λ_max)."""
    ax = _axes(ax)
    for label, lrs in best_lrs.items():
        ax.plot(batch_sizes, lrs, "o-", label=label)
    if reference is not None:
        ax.axhline(reference[0], color="grey", ls=":", label=reference[1])
    ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="best learning rate", title=title)
    ax.legend(fontsize="x-small")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def _colours(n: int):
    import matplotlib.pyplot as plt

    return plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(n, 1)))
