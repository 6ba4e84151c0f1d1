"""The widgets the browser tests exercise: one :class:`WidgetCase` row per explorer of the course.

``tests/test_browser.py`` runs each case in real JupyterLab; ``tests/test_browser_setup.py``
fails when an explorer of ``course_utils.widgets`` has no row here. How to add one: CONTRIBUTING.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from course_utils import widgets


def LOG10(position: float) -> float:
    """A ``FloatLogSlider(base=10)`` at slider position ``position`` holds ``10 ** position``."""
    return 10.0 ** position


def LINEAR(position: float) -> float:
    """A ``FloatSlider``/``IntSlider`` at position ``position`` holds ``position``."""
    return position


@dataclass(frozen=True)
class WidgetCase:
    """One widget in one notebook, and what the Python side says it must show.

    ``sliders`` maps each slider's ``description`` (its label in the page) to the argument name
    its value is passed as and the function from the slider's position to that value
    (:func:`LOG10` for a log slider, :func:`LINEAR` otherwise). ``panel(values)`` returns the
    numbers panel's HTML for ``values`` ({argument: value}, every slider); ``picture(values)``,
    if given, the PNG bytes the widget's figure must show.
    """

    name: str                                     # screenshot name, e.g. "02_lr_explorer"
    notebook: str                                 # file name in notebooks/solutions/
    widget: str                                   # the explorer class in course_utils.widgets
    sliders: dict
    panel: Callable[[dict], str]
    picture: Callable[[dict], bytes] | None = None


def _lr_explorer_png(values: dict) -> bytes:
    explorer = widgets.LRExplorer(lr=0.1, kappa=10.0)   # as lesson 02 builds it, then moved like the sliders
    explorer.update(**values)
    return explorer.png()


SCHEDULE_EXPLORER = dict(name="warmup_cosine", peak_lr=0.01, warmup_steps=50, final_factor=0.01)  # as lesson 05 builds it


def _schedule_explorer_panel(values: dict) -> str:
    settings = {**SCHEDULE_EXPLORER, **values}
    return widgets.describe_schedule(widgets.explore_schedule(settings.pop("name"), **settings))


def _schedule_explorer_png(values: dict) -> bytes:
    explorer = widgets.ScheduleExplorer(**SCHEDULE_EXPLORER)
    explorer.update(**{**SCHEDULE_EXPLORER, **values})
    return explorer.png()


def _optimizer_explorer_png(values: dict) -> bytes:
    explorer = widgets.OptimizerExplorer(optimizer="Adam", lr=0.1, beta=0.9, beta2=0.999)   # as lesson 04 builds it
    explorer.update(optimizer="Adam", **values)
    return explorer.png()


def BETA2_STOP(position: float) -> float:
    """The β2 ``SelectionSlider`` of lesson 04 at position ``position`` (an index) holds that stop."""
    return widgets.BETA2_CHOICES[int(position)]


CASES = [
    WidgetCase(
        name="02_lr_explorer",
        notebook="02_stability_and_the_best_learning_rate.ipynb",
        widget="LRExplorer",
        sliders={"lr": ("lr", LOG10), "κ": ("kappa", LOG10)},
        panel=lambda values: widgets.describe(widgets.explore(**values)),
        picture=_lr_explorer_png,
    ),
    WidgetCase(
        name="05_schedule_explorer",
        notebook="05_learning_rate_schedules.ipynb",
        widget="ScheduleExplorer",
        sliders={"peak lr": ("peak_lr", LOG10), "warmup steps": ("warmup_steps", LINEAR),
                 "final/peak": ("final_factor", LOG10)},
        panel=_schedule_explorer_panel,
        picture=_schedule_explorer_png,
    ),
    WidgetCase(
        name="04_optimizer_explorer",
        notebook="04_momentum_and_adaptive_methods.ipynb",
        widget="OptimizerExplorer",
        sliders={"lr": ("lr", LOG10), "β (momentum, β1)": ("beta", LINEAR), "β2 (Adam), α": ("beta2", BETA2_STOP)},
        panel=lambda values: widgets.describe_optimizer(widgets.explore_optimizer("Adam", **values)),
        picture=_optimizer_explorer_png,
    ),
]
