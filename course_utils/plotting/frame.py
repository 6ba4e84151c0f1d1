"""The frame every figure of the course shares: new axes when none are given, labels, legend and grid,
and how a run is named in a legend.

Example:
    >>> ax = new_axes(figsize=(3, 2))
    >>> _ = ax.plot([0, 1], label=run_label(1e-3))
    >>> finish(ax, "step", "loss", title="a title").get_legend().get_texts()[0].get_text()
    'lr 1e-3'
"""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..training import lr_label


def new_axes(ax=None, figsize=(5.5, 4.5)):
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches when ``ax`` is ``None``."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def finish(ax, xlabel: str, ylabel: str, title: str | None = None, *, legend_size: str = "small", ncol: int = 1,
           grid: str = "major"):
    """Axis labels, optional title, legend and a light grid (on ``grid`` ticks: ``"major"`` or ``"both"``):
    the common end of the course's figures. Returns ``ax``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=legend_size, ncol=ncol)
    ax.grid(True, which=grid, alpha=0.3)
    return ax


def run_label(key) -> str:
    """A run's name in a legend: ``lr 1e-3`` for a learning rate (a number), else the key as text."""
    if isinstance(key, (int, float)):
        return f"lr {lr_label(key)}"
    return str(key)
