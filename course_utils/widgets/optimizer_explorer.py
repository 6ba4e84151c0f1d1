"""Lesson 04's explorer: an optimizer, its learning rate and its β's on the bowl of lessons 01-02.

A dropdown picks the optimizer (SGD with heavy-ball momentum, Adam, RMSprop, Adagrad), a
log-scale slider the learning rate, a slider β (SGD's momentum, Adam's β1) and a selection slider
β2 (Adam's β2, RMSprop's α). The picture shows the trajectory on the bowl's contours and the loss
against the step; the numbers panel gives the steps to 10⁻⁶ of the starting loss and, for SGD,
the heavy-ball theory (stable iff lr·λ_max < 2 + 2β; effective step lr/(1 − β)).

What is drawn is computed by a pure function, :func:`explore_optimizer`, from the course's own
optimizers (:mod:`course_utils.optimizers`, run by :func:`course_utils.sweeps.run_on_surface`);
:class:`OptimizerExplorer` only moves lines (its plumbing is
:class:`~course_utils.widgets.figure_widget.FigureWidget`).

Example (in a notebook):
    >>> from course_utils import widgets
    >>> widgets.OptimizerExplorer()             # doctest: +SKIP
    >>> widgets.plot_optimizer_grid()           # the static version   # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import surfaces, sweeps
from ..arguments import check_beta, check_lr
from .bowl_view import W0, draw_path, explorer_bowl
from .figure_widget import FigureWidget, show_log_losses

METHODS = ("SGD", "Adam", "RMSprop", "Adagrad")
BETA2_CHOICES = (0.9, 0.99, 0.999, 0.9999)   # the β2 slider's stops (Adam's β2, RMSprop's α)
TOL = 1e-6                                   # "arrived": the loss is 10⁻⁶ of its start


def hyperparameters(optimizer: str, lr: float, beta: float, beta2: float) -> dict:
    """The constructor arguments the explorer gives ``optimizer`` for its sliders' values.

    Example:
        >>> hyperparameters("Adam", 0.1, 0.9, 0.999)
        {'lr': 0.1, 'betas': (0.9, 0.999)}
    """
    if optimizer not in METHODS:
        raise ValueError(f"optimizer must be one of {', '.join(METHODS)}, got {optimizer!r}.")
    lr, beta, beta2 = check_lr(lr), check_beta(beta), check_beta(beta2, "beta2")
    return {"SGD": dict(lr=lr, momentum=float(beta)), "Adam": dict(lr=lr, betas=(float(beta), float(beta2))),
            "RMSprop": dict(lr=lr, alpha=float(beta2)), "Adagrad": dict(lr=lr)}[optimizer]


@dataclass(frozen=True)
class OptimizerState:
    """Everything the explorer shows for one setting: plain data.

    ``points`` (k+1, 2) the iterates; ``losses`` (k+1,) f at them (``inf`` once diverged);
    ``steps`` the first step with f ≤ 10⁻⁶ f(w0) (``math.inf`` if not within the run);
    ``lr_lambda_max`` = lr·λ_max and ``stability_limit`` = 2 + 2β (heavy-ball theory, SGD only);
    ``effective_lr`` = lr/(1 − β) (SGD only); ``bowl`` the surface the contours are drawn from.
    """

    optimizer: str
    lr: float
    beta: float
    beta2: float
    settings: dict
    points: np.ndarray
    losses: np.ndarray
    steps: float
    diverged: bool
    lr_lambda_max: float
    stability_limit: float | None
    effective_lr: float | None
    bowl: surfaces.Quadratic


def explore_optimizer(optimizer: str = "SGD", lr: float = 0.1, beta: float = 0.0, beta2: float = 0.999, *,
                      num_steps: int = 100) -> OptimizerState:
    """Run ``optimizer`` for ``num_steps`` on the explorer's bowl from lesson 02's start; return what is drawn.

    Example:
        >>> state = explore_optimizer("SGD", lr=0.2, beta=0.5)
        >>> state.lr_lambda_max, state.stability_limit, state.effective_lr, state.diverged
        (2.0, 3.0, 0.4, False)
    """
    settings = hyperparameters(optimizer, lr, beta, beta2)
    bowl = explorer_bowl()           # lessons 01-02's bowl, κ = 10
    runs = sweeps.run_on_surface(bowl, W0, optimizer, num_steps, **settings)
    losses = runs.losses[0]
    arrived = np.flatnonzero(losses <= TOL * losses[0])
    is_sgd = optimizer == "SGD"
    return OptimizerState(
        optimizer=optimizer, lr=float(lr), beta=float(beta), beta2=float(beta2), settings=settings,
        points=runs.points[0][np.isfinite(losses)], losses=losses, steps=float(arrived[0]) if arrived.size else math.inf,
        diverged=bool(runs.diverged[0]), lr_lambda_max=float(lr) * bowl.lambda_max,
        stability_limit=2 + 2 * float(beta) if is_sgd else None,
        effective_lr=float(lr) / (1 - float(beta)) if is_sgd else None, bowl=bowl)


def describe_optimizer(state: OptimizerState) -> str:
    """The numbers panel of the explorer, as a short HTML string."""
    used = {"SGD": f"momentum β = {state.beta:.2f}", "Adam": f"β1 = {state.beta:.2f}, β2 = {state.beta2:g}",
            "RMSprop": f"α = {state.beta2:g} (the β2 slider)", "Adagrad": "no β (both sliders unused)"}[state.optimizer]
    outcome = _ending(state, "<b style='color:#c00'>diverged</b>: the loss grew without bound",
                      f"loss at 10⁻⁶ of its start after <b>{state.steps:.0f}</b> steps",
                      f"loss after {len(state.losses) - 1} steps: {state.losses[-1] / state.losses[0]:.2g} of its "
                      "start (not yet 10⁻⁶)")
    lines = [f"{state.optimizer}, lr = {state.lr:.4g}, {used}", outcome]
    if state.stability_limit is not None:
        verdict = "stable" if state.lr_lambda_max < state.stability_limit else "unstable"
        lines.append(f"heavy-ball theory: lr·λ_max = {state.lr_lambda_max:.3g} vs 2 + 2β = {state.stability_limit:.3g}: "
                     f"{verdict}; on a constant slope the step tends to lr/(1 − β) = {state.effective_lr:.3g} "
                     f"× the gradient")
    else:
        first = {"Adam": f"first step lr = {state.lr:.3g} per coordinate (bias-corrected m̂/√v̂ = ±1), then about lr",
                 "RMSprop": f"first step lr/√(1 − α) = {state.lr / math.sqrt(1 - state.beta2):.3g} per coordinate "
                            "(RMSprop has no bias correction), then about lr · g/rms(g)",
                 "Adagrad": f"first step lr = {state.lr:.3g} per coordinate, then shrinking as squared gradients "
                            "add up"}[state.optimizer]
        lines.append(f"{first}, whatever the gradient's scale")
    return "<br>".join(lines)


def _ending(state: OptimizerState, diverged: str, arrived: str, not_yet: str) -> str:
    """The text for how the run ended: it diverged, it arrived at 10⁻⁶ of the start, or not yet."""
    return diverged if state.diverged else arrived if math.isfinite(state.steps) else not_yet


def _title(state: OptimizerState) -> str:
    beta = {"SGD": f", β={state.beta:g}", "Adam": f", β1={state.beta:g}"}.get(state.optimizer, "")
    result = _ending(state, "diverges", f"{state.steps:.0f} steps", f">{len(state.losses) - 1} steps")
    return f"{state.optimizer} lr={state.lr:.3g}{beta}: {result}"


class OptimizerExplorer(FigureWidget):
    """The lesson-04 explorer: optimizer, lr (log scale), β and β2; a figure and the numbers.

    ``explorer.widget`` is the ipywidgets box; ``explorer.update(optimizer, lr, beta, beta2)``
    redraws (the controls call it) and returns the :class:`OptimizerState` it drew.
    """

    def __init__(self, optimizer: str = "SGD", lr: float = 0.1, beta: float = 0.5, beta2: float = 0.999, *,
                 num_steps: int = 100, dpi: int = 80):
        if beta2 not in BETA2_CHOICES:
            raise ValueError(f"beta2 must be one of the slider's stops {BETA2_CHOICES}, got {beta2!r}.")
        super().__init__(figsize=(9.5, 4.0), dpi=dpi)
        self.num_steps = int(num_steps)
        self.ax_path, self.ax_loss = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
        state = explore_optimizer(optimizer, lr, beta, beta2, num_steps=self.num_steps)
        _, self._path = draw_path(self.ax_path, state.bowl, state.points)
        self.ax_path.set_xlabel("$w_1$")
        self.ax_path.set_ylabel("$w_2$")
        (self._loss,) = self.ax_loss.semilogy(np.arange(len(state.losses)), state.losses, "-", color="C3")
        self.ax_loss.axhline(TOL * state.losses[0], color="0.5", ls=":", lw=1)
        self.ax_loss.set_xlim(0, self.num_steps)
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("loss f(w)")
        self.ax_loss.grid(True, alpha=0.3)
        self.ax_path.set_title(_title(state), fontsize=10)   # before tight_layout, so the title keeps its room
        self.fig.tight_layout()
        self.update(optimizer, lr, beta, beta2)

    @property
    def widget(self):
        """The ipywidgets box; its four controls wrap onto a second row where the page is narrow."""
        box = super().widget
        box.children[0].layout.flex_flow = "row wrap"
        return box

    def make_controls(self) -> dict:
        import ipywidgets as w

        s = self.state
        return {
            "optimizer": w.Dropdown(options=list(METHODS), value=s.optimizer, description="optimizer"),
            "lr": w.FloatLogSlider(value=s.lr, base=10, min=-3, max=0.5, step=0.02, description="lr",
                                   readout_format=".3g", continuous_update=False),
            "beta": w.FloatSlider(value=s.beta, min=0.0, max=0.99, step=0.01, description="β (momentum, β1)",
                                  readout_format=".2f", continuous_update=False,
                                  style={"description_width": "initial"}),
            "beta2": w.SelectionSlider(options=list(BETA2_CHOICES), value=s.beta2, description="β2 (Adam), α",
                                       continuous_update=False, style={"description_width": "initial"}),
        }

    def update(self, optimizer: str, lr: float, beta: float, beta2: float) -> OptimizerState:
        """Recompute for the new settings, move the lines, and refresh the picture and numbers if shown."""
        state = explore_optimizer(optimizer, lr, beta, beta2, num_steps=self.num_steps)
        self._path.set_data(*state.points.T)
        show_log_losses(self._loss, self.ax_loss, state.losses, low=1e-30, high=1e30)
        self.ax_path.set_title(_title(state), fontsize=10)
        self.state = state
        self.refresh()
        return state

    def describe(self, state: OptimizerState) -> str:
        return describe_optimizer(state)


GRID_CASES = (("SGD", 0.0), ("SGD", 0.9), ("Adam", 0.9))   # (optimizer, β) per row of the static grid


def plot_optimizer_grid(lrs=(0.01, 0.1, 0.3), cases=GRID_CASES, *, beta2: float = 0.999, num_steps: int = 100,
                        axes=None):
    """The explorer's static version: one panel (contours + trajectory) per (optimizer and β, lr).

    Rows are ``cases`` ((optimizer, β) pairs), columns ``lrs``; each title gives the steps to
    10⁻⁶ of the starting loss, or that it diverges. Returns the (len(cases), len(lrs)) axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(len(cases), len(lrs), figsize=(2.9 * len(lrs), 2.9 * len(cases)), squeeze=False)
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92, wspace=0.1, hspace=0.25)
    axes = np.asarray(axes).reshape(len(cases), len(lrs))
    for row, (optimizer, beta) in zip(axes, cases):
        for ax, lr in zip(row, lrs):
            state = explore_optimizer(optimizer, lr, beta, beta2, num_steps=num_steps)
            draw_path(ax, state.bowl, state.points)
            ax.set_title(_title(state), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    return axes
