"""The widgets the browser tests exercise: one :class:`WidgetCase` row per explorer of the course.

``tests/test_browser.py`` runs each case in real JupyterLab, on a small notebook that holds only
the explorer (:func:`explorer_notebook`: the lesson's own explorer cell, after a set-up cell that
defines what it needs), so no lesson is executed again for the browser. ``tests/test_browser_setup.py``
fails when an explorer of ``course_utils.widgets`` has no row here, when a lesson's explorer cell
cannot be found, and when an explorer notebook does not run. How to add one: CONTRIBUTING.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from course_utils import widgets
from course_utils.plotting import style

SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


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

    An explorer built on data that only the notebook computes (a cached sweep, a trained network)
    gives ``panel_in_kernel`` (and optionally ``picture_in_kernel``) instead: a Python expression
    evaluated in that notebook's own kernel after Run All, with ``values`` bound to the same dict,
    that returns the HTML (the PNG bytes). It must compute the answer afresh from the notebook's
    variables and the library's pure functions, not ask the widget what it shows.

    ``setup`` is code that defines, cheaply, every name the lesson's explorer cell uses besides
    ``widgets`` (lesson 06's explorer needs a range test and a grid's good region: a small one is
    computed there); it runs before that cell in the explorer notebook.
    """

    name: str                                     # screenshot name, e.g. "02_lr_explorer"
    notebook: str                                 # file name in notebooks/solutions/
    widget: str                                   # the explorer class in course_utils.widgets
    sliders: dict
    panel: Callable[[dict], str] | None = None
    picture: Callable[[dict], bytes] | None = None
    panel_in_kernel: str | None = None
    picture_in_kernel: str | None = None
    setup: str = ""

    def __post_init__(self):
        if (self.panel is None) == (self.panel_in_kernel is None):
            raise ValueError(f"{self.name}: give exactly one of panel (computed here) and panel_in_kernel "
                             "(an expression evaluated in the notebook's kernel).")
        if self.picture is not None and self.picture_in_kernel is not None:
            raise ValueError(f"{self.name}: give at most one of picture and picture_in_kernel.")


# The pictures are drawn here in the course's style, as the kernel draws them after runtime.setup.

def _lr_explorer_png(values: dict) -> bytes:
    with style.context():
        explorer = widgets.LRExplorer(lr=0.1, kappa=10.0)   # as lesson 02 builds it, then moved like the sliders
        explorer.update(**values)
        return explorer.png()


SCHEDULE_EXPLORER = dict(name="warmup_cosine", peak_lr=0.01, warmup_steps=50, final_factor=0.01)  # as lesson 05 builds it


def _schedule_explorer_panel(values: dict) -> str:
    settings = {**SCHEDULE_EXPLORER, **values}
    return widgets.describe_schedule(widgets.explore_schedule(settings.pop("name"), **settings))


def _schedule_explorer_png(values: dict) -> bytes:
    with style.context():
        explorer = widgets.ScheduleExplorer(**SCHEDULE_EXPLORER)
        explorer.update(**{**SCHEDULE_EXPLORER, **values})
        return explorer.png()


def _optimizer_explorer_png(values: dict) -> bytes:
    with style.context():
        explorer = widgets.OptimizerExplorer(optimizer="Adam", lr=0.1, beta=0.9, beta2=0.999)   # as lesson 04 builds it
        explorer.update(optimizer="Adam", **values)
        return explorer.png()


def BETA2_STOP(position: float) -> float:
    """The β2 ``SelectionSlider`` of lesson 04 at position ``position`` (an index) holds that stop."""
    return widgets.BETA2_CHOICES[int(position)]


FINDER_SETUP = """\
import math

import numpy as np
import torch

from course_utils import grid_search, lr_finder

# Lesson 06 in miniature: a grid search (its good region) and a range test run to the end without a
# stop (`cached`), with Adam on a small MLP and synthetic 4-class data (labels from a random teacher)
# instead of the CNN on CIFAR-10: a second, not minutes.
generator = torch.Generator().manual_seed(0)
x = torch.randn(2048, 20, generator=generator)
y = (x @ torch.randn(20, 4, generator=generator)).argmax(dim=1)
batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x), 32)]

def fresh_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))

def final_loss(lr, epochs=2):
    model = fresh_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in batches:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(x), y).item()

grid_lrs = np.logspace(-4, 0, 9)
low, high = grid_search.good_region(grid_lrs, [final_loss(lr) for lr in grid_lrs])
model = fresh_mlp()
cached = lr_finder.range_test(model, torch.optim.Adam(model.parameters()), batches, start_lr=1e-6, end_lr=10.0,
                              num_steps=150, diverge_factor=math.inf, progress=False)
"""

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
    WidgetCase(
        name="06_finder_explorer",
        notebook="06_finding_a_good_learning_rate.ipynb",
        widget="FinderExplorer",
        sliders={"smoothing β": ("beta", LINEAR), "stop at × best": ("diverge_factor", LINEAR)},
        setup=FINDER_SETUP,
        # the notebook's cached sweep and the grid's good region, re-smoothed and re-cut by the library
        panel_in_kernel="widgets.describe_finder(widgets.explore_finder(cached, values['beta'], "
                        "values['diverge_factor'], good_region=(low, high)))",
        picture_in_kernel="widgets.FinderExplorer(cached, beta=values['beta'], diverge_factor=values['diverge_factor'], "
                          "good_region=(low, high)).png()",
    ),
]


# ---------------------------------------------------------------------------------------------
# The explorer notebooks: the lesson's explorer cell alone, so the browser never runs a lesson again.

RUNTIME_CELL = "from course_utils import runtime, widgets\n\nrt = runtime.setup(seed=0)\nprint(rt)"


def explorer_cell(case: WidgetCase) -> str:
    """The source of the one code cell of the case's lesson that builds its explorer (``widgets.<widget>(``)."""
    nb = nbformat.read(SOLUTIONS / case.notebook, as_version=4)
    builds = re.compile(rf"\bwidgets\.{case.widget}\(")
    found = [c.source for c in nb.cells if c.cell_type == "code" and builds.search(c.source)]
    if len(found) != 1:
        raise LookupError(f"{case.notebook}: expected one code cell that calls widgets.{case.widget}(...), found "
                          f"{len(found)}; the browser test runs that cell (see tests/browser_cases.py)")
    return found[0]


def explorer_notebook(case: WidgetCase) -> nbformat.NotebookNode:
    """A notebook that holds only the case's explorer: the run mode, the case's ``setup``, the lesson's cell."""
    cells = [nbformat.v4.new_markdown_cell(f"# {case.name}\n\nThe explorer cell of `notebooks/solutions/"
                                           f"{case.notebook}`, alone (written by tests/browser_cases.py)."),
             nbformat.v4.new_code_cell(RUNTIME_CELL)]
    if case.setup:
        cells.append(nbformat.v4.new_code_cell(case.setup.rstrip("\n")))
    cells.append(nbformat.v4.new_code_cell(explorer_cell(case)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
