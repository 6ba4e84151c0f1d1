"""Lesson 06's explorer: how the range test's smoothing and stopping settings move its suggestions.

One cached range test (run once, to the end, without the divergence stop) is smoothed again and
cut again for every position of two sliders: the smoothing factor ``beta`` and the divergence
threshold ``diverge_factor``. The raw losses do not depend on either, so this is exactly what a new
range test with those settings would have returned, without training again
(:meth:`~course_utils.lr_finder.Sweep.resmooth`). Each rule's suggestion moves with them; the
grid search's good region stays put.

What is drawn is computed by a pure function, :func:`explore_finder`, so it can be tested without
a browser; :class:`FinderExplorer` only moves lines (its widget plumbing is
:class:`~course_utils.widgets.figure_widget.FigureWidget`).

Example (in a notebook, with ``sweep`` from ``lr_finder.range_test(..., diverge_factor=math.inf)``):
    >>> from course_utils import widgets
    >>> widgets.FinderExplorer(sweep, good_region=(3e-4, 3e-3))          # doctest: +SKIP
    >>> widgets.plot_finder_grid(sweep, good_region=(3e-4, 3e-3))        # the static version   # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import lr_finder, plotting
from .figure_widget import FigureWidget

BETAS = (0.0, 0.9, 0.98)   # the static figure's columns: no smoothing, light, fastai's
DIVERGE_FACTORS = (2.0, 4.0)  # its rows: a hair trigger, fastai's


@dataclass(frozen=True)
class FinderState:
    """Everything the explorer shows for one (beta, diverge_factor): plain data.

    ``sweep``: the cached sweep smoothed with ``beta`` and cut where a range test with
    ``diverge_factor`` would have stopped. ``suggestions``: ``{rule: lr}``, NaN for a rule that has
    too few points to read (``problem`` then says why). ``inside``: ``{rule: bool}`` whether each
    suggestion lies in ``good_region`` (``None`` when no region is given).
    """

    beta: float
    diverge_factor: float
    sweep: lr_finder.Sweep
    suggestions: dict
    inside: dict | None
    good_region: tuple | None
    problem: str | None


def explore_finder(sweep: lr_finder.Sweep, beta: float, diverge_factor: float, *, good_region=None,
                   skip_start: int = lr_finder.SKIP_START, skip_end: int = lr_finder.SKIP_END) -> FinderState:
    """Smooth and cut ``sweep`` with ``beta`` and ``diverge_factor``, and read every rule's suggestion.

    Example:
        >>> import numpy as np
        >>> from course_utils import lr_finder
        >>> lrs = lr_finder.sweep_lrs(1e-5, 1.0, 80)
        >>> losses = 2.3 - np.tanh(np.log(lrs / 1e-3)) + 8 * (lrs > 0.1)
        >>> sweep = lr_finder.Sweep(lrs, losses, losses, 0.0, np.inf, "end", 1e-5, 1.0, 80)
        >>> state = explore_finder(sweep, beta=0.5, diverge_factor=4.0, good_region=(3e-4, 3e-3))
        >>> state.sweep.stop_reason, sorted(state.suggestions), state.inside["minimum/10"]
        ('diverged', ['minimum/10', 'steepest', 'valley'], False)
    """
    cut = sweep.resmooth(beta=beta, diverge_factor=diverge_factor)
    problem = None
    try:
        suggestions = lr_finder.suggest(cut, skip_start=skip_start, skip_end=skip_end)
    except ValueError as err:
        suggestions, problem = {name: math.nan for name in lr_finder.RULES}, str(err)
    inside = None
    if good_region is not None:
        low, high = good_region
        inside = {name: bool(low <= lr <= high) for name, lr in suggestions.items()}
    return FinderState(beta=cut.beta, diverge_factor=cut.diverge_factor, sweep=cut, suggestions=suggestions,
                       inside=inside, good_region=None if good_region is None else tuple(good_region),
                       problem=problem)


def describe_finder(state: FinderState) -> str:
    """The numbers panel of the explorer, as a short HTML string."""
    sweep = state.sweep
    if sweep.stop_reason == "end":
        stop = f"ran to the end (lr {sweep.stop_lr:.2e}) without passing {state.diverge_factor:g} × its best"
    else:
        stop = f"stopped after {sweep.num_steps} steps at lr {sweep.stop_lr:.2e} ({sweep.stop_reason})"
    lines = [f"β = {state.beta:.2f} (averages over about {1 / (1 - state.beta):.0f} steps), "
             f"stop at {state.diverge_factor:g} × best: {stop}"]
    if state.problem:
        lines.append(f"<b>no suggestions</b>: only {sweep.num_steps} steps before the stop, too few to read")
    else:
        for name, lr in state.suggestions.items():
            where = ""
            if state.inside is not None:
                where = (" <b style='color:green'>inside</b>" if state.inside[name]
                         else " <b style='color:#c00'>outside</b>") + " the good region"
            lines.append(f"{name}: {lr:.2e}{where}")
    return "<br>".join(lines)


def _title(beta: float, diverge_factor: float) -> str:
    return f"β = {beta:.2f}, stop at {diverge_factor:g} × best"


class FinderExplorer(FigureWidget):
    """The lesson-06 explorer: sliders for the smoothing ``beta`` and the ``diverge_factor`` over one cached sweep.

    ``explorer.widget`` is the ipywidgets box to display; ``explorer.update(beta, diverge_factor)``
    redraws (the sliders call it) and returns the :class:`FinderState` it drew. Pass a sweep run to
    the end (``diverge_factor=math.inf``) so every threshold can be tried.
    """

    def __init__(self, sweep: lr_finder.Sweep, *, beta: float = 0.98, diverge_factor: float = 4.0,
                 good_region=None, dpi: int = 80):
        super().__init__(figsize=(8.0, 4.2), dpi=dpi)
        self.full, self.good_region = sweep, good_region
        self.ax = self.fig.subplots()
        lrs, raw = np.asarray(sweep.lrs), np.asarray(sweep.losses)
        if good_region is not None:
            self.ax.axvspan(*good_region, color="0.85", zorder=0, label="grid's good region")
        self.ax.plot(lrs, raw, color="C0", alpha=0.3, linewidth=0.8, label="minibatch loss")
        (self._smooth,) = self.ax.plot([], [], color="C0", linewidth=1.8, label="smoothed")
        (self._stop,) = self.ax.plot([], [], "x", color="k", markersize=9, label="stop")
        self._marks = {name: self.ax.plot([], [], "o", color=plotting.RULE_COLORS[name], markersize=8, label=name)[0]
                       for name in lr_finder.RULES}
        self._lines = {name: self.ax.axvline(lrs[0], color=plotting.RULE_COLORS[name], linestyle="--", linewidth=1)
                       for name in lr_finder.RULES}
        finite = raw[np.isfinite(raw)]
        low = finite.min()
        self.ax.set_ylim(low - 0.05 * abs(low), min(finite.max(), raw[0] + 3 * (raw[0] - low) + 0.5))
        self.ax.set_xlim(lrs[0], lrs[-1])
        self.ax.set_xscale("log")
        self.ax.set_xlabel("learning rate (log scale)")
        self.ax.set_ylabel("training loss")
        self.ax.grid(True, alpha=0.3)
        self.ax.legend(fontsize="small", loc="upper left")
        self.ax.set_title(_title(beta, diverge_factor), fontsize=10)   # before tight_layout, so the title keeps its room
        self.fig.tight_layout()
        self.update(beta, diverge_factor)

    def make_controls(self) -> dict:
        import ipywidgets as w

        self.beta_slider = w.FloatSlider(value=self.state.beta, min=0.0, max=0.99, step=0.01,
                                         description="smoothing β", readout_format=".2f", continuous_update=False,
                                         style={"description_width": "initial"})
        self.factor_slider = w.FloatSlider(value=self.state.diverge_factor, min=1.5, max=10.0, step=0.5,
                                           description="stop at × best", readout_format=".1f",
                                           continuous_update=False, style={"description_width": "initial"})
        return {"beta": self.beta_slider, "diverge_factor": self.factor_slider}

    def update(self, beta: float, diverge_factor: float) -> FinderState:
        """Re-smooth and re-cut the cached sweep, move the lines, and refresh the picture and numbers if shown."""
        state = explore_finder(self.full, beta, diverge_factor, good_region=self.good_region)
        sweep = state.sweep
        self._smooth.set_data(sweep.lrs, sweep.smoothed)
        if sweep.stopped_early:
            self._stop.set_data([sweep.lrs[-1]], [sweep.smoothed[-1]])
        else:
            self._stop.set_data([], [])
        for name, lr in state.suggestions.items():
            if math.isfinite(lr):
                self._marks[name].set_data([lr], [plotting.point_on_curve(sweep.lrs, sweep.smoothed, lr)])
                self._lines[name].set_xdata([lr, lr])
            else:  # too few points to read: the rule shows nothing
                self._marks[name].set_data([], [])
                self._lines[name].set_xdata([np.nan, np.nan])
        self.ax.set_title(_title(state.beta, state.diverge_factor), fontsize=10)
        self.state = state
        self.refresh()
        return state

    def describe(self, state: FinderState) -> str:
        return describe_finder(state)


def plot_finder_grid(sweep: lr_finder.Sweep, *, betas=BETAS, diverge_factors=DIVERGE_FACTORS, good_region=None,
                     axes=None, title: str | None = None):
    """The explorer's static version: one panel per (diverge_factor, beta), each with the suggestions marked.

    Rows are ``diverge_factors``, columns ``betas``; ``title`` is the figure's title. Returns the (rows,
    columns) array of axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(len(diverge_factors), len(betas), figsize=(4.2 * len(betas), 3.3 * len(diverge_factors)),
                                 squeeze=False, sharex=True)
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.1, top=0.9, wspace=0.2, hspace=0.35)
    axes = np.asarray(axes).reshape(len(diverge_factors), len(betas))
    for row, factor in zip(axes, diverge_factors):
        for ax, beta in zip(row, betas):
            state = explore_finder(sweep, beta, factor, good_region=good_region)
            suggestions = {} if state.problem else state.suggestions
            plotting.plot_range_test(state.sweep, suggestions=suggestions, good_region=good_region, ax=ax)
            ax.set_title(f"β = {beta:g}, stop at {factor:g} × best" + (": too short to read" if state.problem else ""),
                         fontsize=9)
            ax.legend().set_visible(False)
    axes[0, 0].legend(fontsize="x-small", loc="lower left")
    if title:
        axes[0, 0].figure.suptitle(title)
    return axes
