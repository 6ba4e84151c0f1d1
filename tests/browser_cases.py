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


CASES = [
    WidgetCase(
        name="02_lr_explorer",
        notebook="02_stability_and_the_best_learning_rate.ipynb",
        widget="LRExplorer",
        sliders={"lr": ("lr", LOG10), "κ": ("kappa", LOG10)},
        panel=lambda values: widgets.describe(widgets.explore(**values)),
        picture=_lr_explorer_png,
    ),
]
