"""Figures of the course. Every function draws data it is given onto ``ax`` (a new one when
``None``) and returns the axes; nothing here computes results, prints or shows.

One module per kind of figure; every public function is importable from here, so
``from course_utils import plotting; plotting.plot_curves(...)`` is the way to call them:

* :mod:`.landscapes` -- contour lines of a 2D loss and an optimizer's path over them;
* :mod:`.curves` -- values against the step: loss curves, the sharpness beside its threshold;
* :mod:`.histories` -- training runs (``History`` objects) and probe records;
* :mod:`.schedules` -- learning-rate schedules;
* :mod:`.lr_search` -- which learning rates work: sweeps, range tests, grid searches, stability regions;
* :mod:`.spread` -- one final number per setting with its spread over seeds;
* :mod:`.cifar` -- lesson 07's CNN on CIFAR-10: example images, runs side by side, chance levels drawn;
* :mod:`.frame` -- what they share: new axes, the finishing labels, legend and grid, a run's legend label.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> ax = plot_contours(make_bowl((1.0, 10.0), 30).value, xlim=(-2, 2), ylim=(-2, 2))  # doctest: +SKIP
"""
from .cifar import (plot_class_examples, plot_epoch_comparison, plot_lr_curves, plot_probe_panels,
                    plot_step_losses_at_chance)
from .curves import plot_curves, plot_sharpness
from .histories import plot_dead_units, plot_histories, plot_step_losses, plot_train_val, plot_update_ratios
from .landscapes import plot_contours, plot_trajectory
from .lr_search import (RULE_COLORS, plot_grid_search, plot_lr_sweeps, plot_range_test, plot_stability_region,
                        plot_suggestion_spread, point_on_curve)
from .schedules import plot_lr_trace, plot_schedules
from .spread import plot_schedule_comparison, plot_seed_spread

__all__ = [
    "plot_contours", "plot_trajectory",
    "plot_curves", "plot_sharpness",
    "plot_histories", "plot_step_losses", "plot_train_val", "plot_update_ratios", "plot_dead_units",
    "plot_lr_trace", "plot_schedules",
    "RULE_COLORS", "point_on_curve", "plot_range_test", "plot_grid_search", "plot_suggestion_spread",
    "plot_lr_sweeps", "plot_stability_region",
    "plot_seed_spread", "plot_schedule_comparison",
    "plot_class_examples", "plot_lr_curves", "plot_probe_panels", "plot_step_losses_at_chance", "plot_epoch_comparison",
]
