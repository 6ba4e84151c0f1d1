"""Lesson 05's explorer: choose a schedule and its parameters, see its lr and what it does to a run.

A dropdown picks one of :data:`course_utils.schedules.SCHEDULES`; sliders set the peak learning
rate, the warmup steps and the final lr as a fraction of the peak. The left panel is the lr
against step, sampled from the PyTorch scheduler the recipe builds
(:func:`~course_utils.schedules.make_schedule`); the right panel is the excess loss of a short
SGD run on lesson 03's regression problem with that schedule (mean over a few seeds), beside the
best constant learning rate for the same number of steps. A run takes a fraction of a second and
each result is cached, so moving back to a setting is instant.

What is drawn is computed by a pure function, :func:`explore_schedule`; :class:`ScheduleExplorer`
only moves lines (its plumbing is :class:`~course_utils.widgets.figure_widget.FigureWidget`), and
:func:`plot_schedule_grid` is the static version for viewers without a kernel.

Example (in a notebook):
    >>> from course_utils import widgets
    >>> widgets.ScheduleExplorer()                      # doctest: +SKIP
    >>> widgets.plot_schedule_grid()                    # the static version   # doctest: +SKIP
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .. import regression, schedules, synthetic
from ..arguments import check_lr
from .figure_widget import FigureWidget

NUM_STEPS = 1000                                     # steps of every explorer run
SEEDS = (0, 1, 2, 3)                                 # each setting is run once per seed; the mean is drawn
PROBLEM = dict(num_samples=1000, num_features=10, noise_std=0.5, seed=0)   # lesson 03's regression
BATCH_SIZE = 8                                       # lesson 03's minibatch size
BASELINE_LRS = tuple(0.16 * 2.0 ** -np.arange(10))   # the grid the best constant lr is chosen from
USES_WARMUP = ("warmup_cosine", "warmup_linear", "onecycle")
CLASSES = {"constant": "ConstantLR", "step": "StepLR", "multistep": "MultiStepLR", "exponential": "ExponentialLR",
           "cosine": "CosineAnnealingLR", "linear": "LinearLR",
           "warmup_cosine": "SequentialLR(LinearLR, CosineAnnealingLR)",
           "warmup_linear": "SequentialLR(LinearLR, LinearLR)", "onecycle": "OneCycleLR", "cyclic": "CyclicLR"}


@dataclass(frozen=True)
class ScheduleState:
    """Everything the explorer shows for one setting: plain data.

    ``lr`` (T,) the lr of each step; ``eval_steps`` (E,) where the loss was measured; ``excess``
    (S, E) loss on all the data minus the least-squares loss, per seed; ``baseline_lr`` and
    ``baseline_excess`` (S, E) the same for the best constant lr of :data:`BASELINE_LRS`.
    """

    name: str
    peak_lr: float
    warmup_steps: int
    final_factor: float
    num_steps: int
    lr: np.ndarray
    eval_steps: np.ndarray
    excess: np.ndarray
    baseline_lr: float
    baseline_excess: np.ndarray

    @property
    def final(self) -> float:
        """Mean over seeds of the excess loss after the last step (inf or nan if a run diverged)."""
        return float(np.mean(self.excess[:, -1]))

    @property
    def baseline_final(self) -> float:
        return float(np.mean(self.baseline_excess[:, -1]))

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.final)


@functools.lru_cache(maxsize=1)
def regression_problem() -> regression.LeastSquares:
    """Lesson 03's regression problem (1,000 samples, 10 features, noise 0.5), made once."""
    data = synthetic.make_linear_regression(**PROBLEM)
    return regression.least_squares(data.X, data.y)


@functools.lru_cache(maxsize=8)
def best_constant(num_steps: int = NUM_STEPS, seeds: tuple = SEEDS) -> tuple[float, np.ndarray, np.ndarray]:
    """The constant lr of :data:`BASELINE_LRS` with the lowest mean final excess loss after ``num_steps``.

    Returns ``(lr, eval_steps (E,), excess (S, E))``.
    """
    lrs = np.asarray(BASELINE_LRS)
    runs = regression.run(regression_problem(), num_steps, BATCH_SIZE, lr=lrs, seeds=seeds, start="uniform")
    final = runs.final_excess().mean(1)
    best = int(np.argmin(np.where(np.isfinite(final), final, np.inf)))
    return float(lrs[best]), runs.steps, runs.excess[best]


@functools.lru_cache(maxsize=256)
def _explore(name, peak_lr, warmup_steps, final_factor, num_steps, seeds):
    def make(optimizer):
        return schedules.make_schedule(name, optimizer, num_steps, warmup_steps=warmup_steps,
                                       final_factor=final_factor)

    trace = schedules.lr_trace(make, num_steps, lr=peak_lr)
    runs = regression.run(regression_problem(), num_steps, BATCH_SIZE, lr=trace[None], seeds=seeds, start="uniform")
    base_lr, _, base_excess = best_constant(num_steps, seeds)
    return ScheduleState(name=name, peak_lr=peak_lr, warmup_steps=warmup_steps, final_factor=final_factor,
                         num_steps=num_steps, lr=trace, eval_steps=runs.steps, excess=runs.excess[0],
                         baseline_lr=base_lr, baseline_excess=base_excess)


def explore_schedule(name: str, peak_lr: float, *, warmup_steps: int = 0, final_factor: float = 0.01,
                     num_steps: int = NUM_STEPS, seeds=SEEDS) -> ScheduleState:
    """Sample the schedule ``name`` at ``peak_lr`` and run it on lesson 03's regression (cached).

    ``warmup_steps`` is used by the warmup recipes and one-cycle, ``final_factor`` (end lr / peak)
    by every decaying recipe (see :func:`~course_utils.schedules.make_schedule`).

    Example:
        >>> state = explore_schedule("cosine", 0.01, num_steps=200, seeds=(0,))
        >>> state.lr.shape, float(state.lr[0]), bool(state.final < state.excess[0, 0])
        ((200,), 0.01, True)
    """
    peak_lr = check_lr(peak_lr, "peak_lr")
    if name not in schedules.SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(schedules.SCHEDULES)}.")
    return _explore(name, peak_lr, int(warmup_steps), float(final_factor), int(num_steps), tuple(seeds))


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "diverged"


def describe(state: ScheduleState) -> str:
    """The numbers panel of the explorer, as a short HTML string."""
    used = []
    if state.name in USES_WARMUP:
        used.append(f"warmup {state.warmup_steps} steps" if state.warmup_steps or state.name != "onecycle"
                    else "warmup 30 % of the steps (one-cycle's default)")
    if state.name != "constant":
        used.append(f"final lr {_fmt(state.final_factor * state.peak_lr)} (final/peak {state.final_factor:.3g})")
    unused = [p for p, applies in (("warmup", state.name in USES_WARMUP), ("final/peak", state.name != "constant"))
              if not applies]
    settings = "; ".join(used) if used else "the same lr at every step"
    ignored = f" (ignored here: {', '.join(unused)})" if unused else ""
    if state.diverged:
        verdict = "<b style='color:#c00'>the run diverged</b>: the peak lr is too large for this problem"
    else:
        ratio = state.baseline_final / state.final
        better = ratio > 1
        word = "lower (better)" if better else "higher (worse)"
        colour = "green" if better else "#c00"
        verdict = (f"<b style='color:{colour}'>{ratio if better else 1 / ratio:.2f}x {word}</b> than the best constant lr "
                   f"{state.baseline_lr:.3g} ({_fmt(state.baseline_final)})")
    return (
        f"<b>{state.name}</b> = {CLASSES[state.name]}: peak lr {state.peak_lr:.3g}; {settings}{ignored}<br>"
        f"excess loss after {state.num_steps} steps (mean of {state.excess.shape[0]} seeds): "
        f"{_fmt(state.final)}, {verdict}"
    )


def _loss_curve(excess: np.ndarray) -> np.ndarray:
    """Mean over seeds, kept inside the plot when a run diverges."""
    with np.errstate(invalid="ignore", over="ignore"):
        curve = np.mean(excess, axis=0)
    return np.clip(np.nan_to_num(curve, nan=1e6, posinf=1e6), 1e-7, 1e6)


def _draw(ax_lr, ax_loss, state: ScheduleState, colour="C0"):
    """Draw ``state`` on the two axes; return the artists the explorer moves."""
    ax_lr.set_yscale("log")
    ax_loss.set_yscale("log")
    ax_lr.set_ylim(1e-6, 1.0)   # _limits() fits them to the state; a flat lr line must not start with no range
    (lr_line,) = ax_lr.plot(np.arange(state.num_steps), state.lr, color=colour)
    base_lr = ax_lr.axhline(state.baseline_lr, color="0.4", ls="--", lw=1)
    (loss_line,) = ax_loss.plot(state.eval_steps, _loss_curve(state.excess), color=colour, label="schedule")
    (base_loss,) = ax_loss.plot(state.eval_steps, _loss_curve(state.baseline_excess), color="0.4", ls="--",
                                label="best constant lr")
    for ax in (ax_lr, ax_loss):
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    ax_lr.set_ylabel("learning rate")
    ax_loss.set_ylabel("loss − lowest possible")
    return lr_line, base_lr, loss_line, base_loss


def _limits(ax_lr, ax_loss, state: ScheduleState):
    lr_low = min(state.lr.min(), state.baseline_lr)
    ax_lr.set_ylim(lr_low / 2, max(state.lr.max(), state.baseline_lr) * 2)
    curves = np.concatenate([_loss_curve(state.excess), _loss_curve(state.baseline_excess)])
    ax_loss.set_ylim(curves.min() / 2, curves.max() * 2)


class ScheduleExplorer(FigureWidget):
    """The lesson-05 explorer: a schedule dropdown, sliders for peak lr, warmup and final/peak.

    ``explorer.widget`` is the ipywidgets box to display; ``explorer.update(...)`` redraws (the
    controls call it) and returns the :class:`ScheduleState` it drew.
    """

    def __init__(self, name: str = "cosine", peak_lr: float = 0.01, warmup_steps: int = 0,
                 final_factor: float = 0.01, *, num_steps: int = NUM_STEPS, seeds=SEEDS, dpi: int = 80):
        super().__init__(figsize=(9.5, 3.6), dpi=dpi)
        self.num_steps, self.seeds = int(num_steps), tuple(seeds)
        self.ax_lr, self.ax_loss = self.fig.subplots(1, 2)
        state = explore_schedule(name, peak_lr, warmup_steps=warmup_steps, final_factor=final_factor,
                                 num_steps=self.num_steps, seeds=self.seeds)
        self._lr, self._base_lr, self._loss, self._base_loss = _draw(self.ax_lr, self.ax_loss, state)
        self.ax_loss.legend(fontsize="small", loc="upper right")
        self.ax_lr.set_title("learning rate (dashed: best constant)", fontsize=10)
        self.fig.tight_layout()
        self.update(name, peak_lr, warmup_steps, final_factor)

    def make_controls(self) -> dict:
        import ipywidgets as w

        s = self.state
        # full labels, and room for four controls on two rows of a narrow notebook (ipywidgets 7 and 8)
        look = dict(style={"description_width": "initial"}, layout=w.Layout(width="360px"))
        self.schedule_menu = w.Dropdown(options=list(schedules.SCHEDULES), value=s.name, description="schedule",
                                        **look)
        self.peak_slider = w.FloatLogSlider(value=s.peak_lr, base=10, min=-3.5, max=math.log10(0.16), step=0.05,
                                            description="peak lr", readout_format=".3g", continuous_update=False,
                                            **look)
        self.warmup_slider = w.IntSlider(value=s.warmup_steps, min=0, max=self.num_steps // 2, step=10,
                                         description="warmup steps", continuous_update=False, **look)
        self.final_slider = w.FloatLogSlider(value=s.final_factor, base=10, min=-3, max=0, step=0.1,
                                             description="final/peak", readout_format=".3g", continuous_update=False,
                                             **look)
        return {"name": self.schedule_menu, "peak_lr": self.peak_slider, "warmup_steps": self.warmup_slider,
                "final_factor": self.final_slider}

    @property
    def widget(self):
        """The ipywidgets box (see :class:`FigureWidget`), its row of controls allowed to wrap."""
        box = super().widget
        box.children[0].layout.flex_flow = "row wrap"
        return box

    def update(self, name: str, peak_lr: float, warmup_steps: int = 0, final_factor: float = 0.01) -> ScheduleState:
        """Recompute for the new setting, move the lines, and refresh the picture and numbers if shown."""
        state = explore_schedule(name, peak_lr, warmup_steps=warmup_steps, final_factor=final_factor,
                                 num_steps=self.num_steps, seeds=self.seeds)
        self._lr.set_data(np.arange(state.num_steps), state.lr)
        self._base_lr.set_ydata([state.baseline_lr, state.baseline_lr])
        self._loss.set_data(state.eval_steps, _loss_curve(state.excess))
        self._base_loss.set_data(state.eval_steps, _loss_curve(state.baseline_excess))
        _limits(self.ax_lr, self.ax_loss, state)
        title = f"excess loss: {_fmt(state.final)}; best constant: {_fmt(state.baseline_final)}"
        self.ax_loss.set_title(title, fontsize=10)
        self.state = state
        self.refresh()
        return state

    def describe(self, state: ScheduleState) -> str:
        return describe(state)


def plot_schedule_grid(names=("constant", "multistep", "cosine", "onecycle"), peak_lr: float = 0.01, *,
                       warmup_steps: int = 0, final_factor: float = 0.01, num_steps: int = NUM_STEPS,
                       seeds=SEEDS, axes=None):
    """The explorer's static version: one column per schedule, lr on top, the run's excess loss below.

    Returns the (2, len(names)) array of axes; each loss panel's title gives the final excess loss
    against the best constant lr's.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(2, len(names), figsize=(3.2 * len(names), 5.2), squeeze=False, sharex=True)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.09, top=0.87, wspace=0.4, hspace=0.3)
    axes = np.asarray(axes).reshape(2, len(names))
    for column, name in zip(axes.T, names):
        state = explore_schedule(name, peak_lr, warmup_steps=warmup_steps, final_factor=final_factor,
                                 num_steps=num_steps, seeds=seeds)
        _draw(column[0], column[1], state)
        _limits(column[0], column[1], state)
        column[0].set_title(f"{name}, peak lr {peak_lr:.3g}", fontsize=10)
        column[1].set_title(f"{_fmt(state.final)} vs {_fmt(state.baseline_final)} constant", fontsize=9)
        column[0].set_xlabel("")
    return axes
