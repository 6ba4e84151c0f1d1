"""Lesson 02's explorer, with its static figure for viewers without a kernel.

The explorer: a log-scale slider for the learning rate ``lr`` and one for the
condition number ``kappa`` of a 2D bowl redraw GD's trajectory on the contour plot and its loss
curve, and show the numbers (factor per direction, stable or not, steps to tolerance).

What is drawn is computed by a pure function, :func:`explore`, so it can be tested without a
browser; :class:`LRExplorer` only moves lines (its widget plumbing is
:class:`~course_utils.widgets.figure_widget.FigureWidget`).

How fast a redraw is: ``python -m course_utils.widgets`` prints it (a redraw should
take well under half a second on a laptop for the sliders to feel live).

Example (in a notebook):
    >>> from course_utils import widgets
    >>> explorer = widgets.LRExplorer()      # doctest: +SKIP
    >>> explorer.widget                      # doctest: +SKIP
    >>> widgets.plot_explorer_grid()         # the static version   # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import descent, surfaces
from ..arguments import check_lr
from .bowl_view import ANGLE_DEG, LAMBDA_MAX, W0, contours, draw_path, explorer_bowl
from .figure_widget import FigureWidget, show_log_losses


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer shows for one (lr, kappa): plain data.

    ``lambdas`` (2,) ascending curvatures; ``factors`` (2,) the per-direction factors 1 − lr·λ;
    ``points`` (k+1, 2) the GD iterates; ``losses`` (k+1,) f at those iterates; ``steps`` the
    steps until f ≤ tol·f(w0) (``math.inf`` if not reached within ``max_steps``); ``bowl`` the
    surface itself, which the contours are drawn from.
    """

    lr: float
    kappa: float
    lambdas: np.ndarray
    factors: np.ndarray
    rate: float
    stable: bool
    max_stable_lr: float
    best_lr: float
    steps: float
    max_steps: int
    points: np.ndarray
    losses: np.ndarray
    diverged: bool
    bowl: surfaces.Quadratic


def explore(lr: float, kappa: float, *, num_steps: int = 50, tol: float = 1e-6,
            max_steps: int = 2000, w0=W0, lambda_max: float = LAMBDA_MAX,
            angle_deg: float = ANGLE_DEG) -> ExplorerState:
    """Compute what the explorer draws for learning rate ``lr`` on the bowl with condition number ``kappa``.

    Example:
        >>> state = explore(lr=0.1, kappa=10)
        >>> state.factors.round(2).tolist(), state.stable, state.steps
        ([0.9, 0.0], True, 48)
    """
    lr = check_lr(lr)
    bowl = explorer_bowl(kappa, lambda_max, angle_deg)
    run = descent.run_gd(bowl.grad, w0, lr, num_steps)
    return ExplorerState(
        lr=lr, kappa=float(kappa), lambdas=bowl.eigenvalues.copy(), factors=bowl.factors(lr),
        rate=bowl.rate(lr), stable=bool(lr < bowl.max_stable_lr), max_stable_lr=bowl.max_stable_lr,
        best_lr=bowl.best_lr, steps=descent.steps_to_tolerance(bowl, w0, lr, tol=tol, max_steps=max_steps),
        max_steps=int(max_steps), points=run.points, losses=bowl.value(run.points), diverged=run.diverged,
        bowl=bowl,
    )


def describe(state: ExplorerState) -> str:
    """The numbers panel of the explorer, as a short HTML string."""
    f_gentle, f_steep = state.factors
    if state.stable:
        verdict = "<b style='color:green'>stable</b> (lr &lt; 2/λ_max)"
    else:
        verdict = "<b style='color:#c00'>unstable</b> (lr ≥ 2/λ_max): the loss grows"
    if math.isfinite(state.steps):
        steps = f"{state.steps:d}"
    else:
        steps = "never (diverges)" if not state.stable else f"more than {state.max_steps}"
    return (
        f"lr = {state.lr:.4g}, κ = {state.kappa:.3g} (λ = {state.lambdas[0]:.3g}, {state.lambdas[1]:.3g})<br>"
        f"factor per step: gentle 1 − lr·λ_min = {f_gentle:+.3f}, steep 1 − lr·λ_max = {f_steep:+.3f}; "
        f"worst |factor| = {state.rate:.3f}<br>"
        f"{verdict}; 2/λ_max = {state.max_stable_lr:.4g}, best lr η* = {state.best_lr:.4g}<br>"
        f"steps until the loss is 10⁻⁶ of its start: {steps}"
    )


def _panel_title(state: ExplorerState) -> str:
    if not state.stable:
        return f"lr={state.lr:.3g}, κ={state.kappa:.3g}: diverges"
    steps = f"{state.steps:d} steps" if math.isfinite(state.steps) else f">{state.max_steps} steps"
    return f"lr={state.lr:.3g}, κ={state.kappa:.3g}: {steps}"


class LRExplorer(FigureWidget):
    """The lesson-02 explorer: sliders for lr (log scale) and κ, a figure and the numbers.

    ``explorer.widget`` is the ipywidgets box to display; ``explorer.update(lr, kappa)`` redraws
    (the sliders call it) and returns the :class:`ExplorerState` it drew.
    """

    def __init__(self, lr: float = 0.1, kappa: float = 10.0, *, num_steps: int = 50, dpi: int = 80):
        super().__init__(figsize=(9.5, 4.0), dpi=dpi)
        self.num_steps = int(num_steps)
        self.ax_path, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        state = explore(lr, kappa, num_steps=self.num_steps)
        self._contours, self._path = draw_path(self.ax_path, state.bowl, state.points)
        self.ax_path.set_xlabel("$w_1$")
        self.ax_path.set_ylabel("$w_2$")
        (self._loss,) = self.ax_loss.semilogy(np.arange(len(state.losses)), state.losses, "o-", color="C3", ms=3)
        self.ax_loss.axhline(1e-6 * state.losses[0], color="0.5", ls=":", lw=1)
        self.ax_loss.set_xlim(0, self.num_steps)
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("loss f(w)")
        self.ax_loss.grid(True, alpha=0.3)
        self.ax_path.set_title(_panel_title(state), fontsize=10)   # before tight_layout, so the title keeps its room
        self.fig.tight_layout()
        self.update(lr, kappa)

    def make_controls(self) -> dict:
        import ipywidgets as w

        self.lr_slider = w.FloatLogSlider(value=self.state.lr, base=10, min=-3, max=0, step=0.02,
                                          description="lr", readout_format=".3g", continuous_update=False)
        self.kappa_slider = w.FloatLogSlider(value=self.state.kappa, base=10, min=0, max=2, step=0.02,
                                             description="κ", readout_format=".3g", continuous_update=False)
        return {"lr": self.lr_slider, "kappa": self.kappa_slider}

    def update(self, lr: float, kappa: float) -> ExplorerState:
        """Recompute for (lr, kappa), move the lines, and refresh the picture and numbers if shown."""
        state = explore(lr, kappa, num_steps=self.num_steps)
        for line, curve in zip(self._contours, contours(state.bowl)):
            line.set_data(*curve.T)
        self._path.set_data(*state.points.T)
        show_log_losses(self._loss, self.ax_loss, state.losses, low=1e-20, high=1e20)
        self.ax_path.set_title(_panel_title(state), fontsize=10)
        self.state = state
        self.refresh()
        return state

    def describe(self, state: ExplorerState) -> str:
        return describe(state)


def plot_explorer_grid(lrs=(0.02, 0.15, 0.21), kappas=(2.0, 10.0, 50.0), *, num_steps: int = 50,
                       axes=None):
    """The explorer's static version: one small panel (contours + trajectory) per (κ, lr).

    Rows are ``kappas``, columns ``lrs``; each title says how many steps it took to reach 10⁻⁶ of the
    starting loss, or that it diverges. Returns the (len(kappas), len(lrs)) array of axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(len(kappas), len(lrs), figsize=(2.7 * len(lrs), 2.8 * len(kappas)),
                                 squeeze=False)
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92, wspace=0.1, hspace=0.25)
    axes = np.asarray(axes).reshape(len(kappas), len(lrs))
    for row, kappa in zip(axes, kappas):
        for ax, lr in zip(row, lrs):
            state = explore(lr, kappa, num_steps=num_steps)
            draw_path(ax, state.bowl, state.points)
            ax.set_title(_panel_title(state), fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    return axes


BENCHMARK_SETTINGS = ((1e-3, 100.0), (0.1, 10.0), (0.25, 10.0), (0.19, 50.0), (0.5, 1.0))


def redraw_timings(repeats: int = 3, settings=BENCHMARK_SETTINGS) -> list[float]:
    """Seconds per :meth:`LRExplorer.update` (compute, redraw and PNG) for each (lr, kappa) in ``settings``.

    The best of ``repeats`` tries each, so other work on the machine inflates it as little as possible.

    Example:
        >>> timings = redraw_timings(repeats=1)   # doctest: +SKIP
    """
    import time

    explorer = LRExplorer()
    explorer.widget   # builds the controls and renders once, as a notebook does
    timings = []
    for lr, kappa in settings:
        best = math.inf
        for _ in range(int(repeats)):
            start = time.perf_counter()
            explorer.update(lr, kappa)
            best = min(best, time.perf_counter() - start)
        timings.append(best)
    return timings

