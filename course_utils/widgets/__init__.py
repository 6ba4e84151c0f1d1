"""Interactive explorers (ipywidgets), each with a static figure for viewers without a kernel.

One module per explorer, each built on :class:`FigureWidget` (the shared plumbing); the explorers of
lessons 02 and 04 draw on one bowl (:mod:`.bowl_view`: ``explorer_bowl``, its contours, a path on them):

* :mod:`.lr_explorer` -- lesson 02: lr and κ on a 2D bowl (``LRExplorer``, ``plot_explorer_grid``).
* :mod:`.optimizer_explorer` -- lesson 04: an optimizer, its lr and β's on the bowl (``OptimizerExplorer``,
  ``plot_optimizer_grid``).
* :mod:`.schedule_explorer` -- lesson 05: a schedule and its parameters on lesson 03's regression
  (``ScheduleExplorer``, ``plot_schedule_grid``).
* :mod:`.finder_explorer` -- lesson 06: a range test's smoothing and stop threshold (``FinderExplorer``,
  ``plot_finder_grid``).

Example (in a notebook):
    >>> from course_utils import widgets
    >>> explorer = widgets.LRExplorer()      # doctest: +SKIP
    >>> explorer                             # doctest: +SKIP
    >>> widgets.plot_explorer_grid()         # the static version   # doctest: +SKIP
"""
from .bowl_view import ANGLE_DEG, LAMBDA_MAX, LEVELS, VIEW, W0, explorer_bowl
from .figure_widget import FigureWidget
from .finder_explorer import FinderExplorer, FinderState, describe_finder, explore_finder, plot_finder_grid
from .lr_explorer import ExplorerState, LRExplorer, describe, explore, plot_explorer_grid
from .optimizer_explorer import (BETA2_CHOICES, OptimizerExplorer, OptimizerState, describe_optimizer,
                                 explore_optimizer, plot_optimizer_grid)
from .schedule_explorer import ScheduleExplorer, ScheduleState, explore_schedule, plot_schedule_grid
from .schedule_explorer import describe as describe_schedule

__all__ = ["FigureWidget", "LRExplorer", "ExplorerState", "explore", "describe", "explorer_bowl",
           "plot_explorer_grid", "LEVELS", "ANGLE_DEG", "LAMBDA_MAX", "VIEW", "W0",
           "OptimizerExplorer", "OptimizerState", "explore_optimizer", "describe_optimizer", "plot_optimizer_grid",
           "BETA2_CHOICES", "ScheduleExplorer", "ScheduleState", "explore_schedule", "describe_schedule",
           "plot_schedule_grid", "FinderExplorer", "FinderState", "explore_finder", "describe_finder",
           "plot_finder_grid"]
