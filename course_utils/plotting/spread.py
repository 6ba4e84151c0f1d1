"""One final number per setting, with its spread: bars with error bars, and every seed's value as a dot
(lessons 05, 08), so that a difference can be read against the noise.

Example:
    >>> ax = plot_seed_spread({"constant": [0.40, 0.42], "one-cycle": [0.45, 0.47]})
    >>> [round(float(p.get_height()), 2) for p in ax.patches]
    [0.41, 0.46]
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .frame import new_axes


def plot_seed_spread(results: Mapping[str, Sequence[float]], *, ylabel: str = "validation accuracy",
                     ax=None, title: str | None = None):
    """One column per entry (label -> one value per seed): every seed as a dot, their mean as a bar
    and their min-max range as an error bar, so a difference can be read against the spread."""
    ax = new_axes(ax, figsize=(6.5, 3.8))
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


def plot_schedule_comparison(rows: Sequence[Mapping], *, value: str = "mean", spread: str = "spread",
                             baseline: float | None = None, xlabel: str = "final loss", logx: bool = False,
                             ax=None, title: str | None = None):
    """Horizontal bars of ``row[value]`` with error bars ``row[spread]``, one per ``row["label"]``.

    ``baseline`` draws a dashed vertical line (e.g. the best constant lr's value). Returns the axes.
    """
    ax = new_axes(ax, figsize=(6, 0.4 * len(rows) + 1.2))
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
