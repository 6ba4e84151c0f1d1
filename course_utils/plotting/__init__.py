"""Figures of the course. Every function draws data it is given onto ``ax`` (a new one when
``None``) and returns the axes; nothing here computes results, prints or shows.

One module per kind of figure; every public function is importable from here, so
``from course_utils import plotting; plotting.plot_curves(...)`` is the way to call them:

* :mod:`.landscapes` -- contour lines of a 2D loss and an optimizer's path over them, several side by side;
  runs shown by path and loss;
* :mod:`.curves` -- values against the step: loss curves, the sharpness beside its threshold; measured
  points beside a theory's lines;
* :mod:`.histories` -- training runs (``History`` objects) and probe records;
* :mod:`.schedules` -- learning-rate schedules;
* :mod:`.lr_search` -- which learning rates work: steps to tolerance on a bowl, sweeps, range tests, grid
  searches, stability regions;
* :mod:`.noise_floor` -- lesson 03's noise floor: curves settling, the floor beside its theory, a fixed budget; runs drawn apart;
* :mod:`.schedule_runs` -- runs under a schedule: the lr each step used beside the loss, tuning, warmup;
* :mod:`.spread` -- one final number per setting with its spread over seeds;
* :mod:`.optimizer_runs` -- optimizers compared on small problems: paths, steps, first steps, sweeps side by side;
* :mod:`.cifar` -- lesson 07's CNN on CIFAR-10: example images, runs side by side, chance levels drawn;
* :mod:`.frame` -- what they share: new axes, the finishing labels, legend and grid, a run's legend label.
* :mod:`.style` -- the course's colour cycle (colour-blind safe), set by ``runtime.setup``.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> ax = plot_contours(make_bowl((1.0, 10.0), 30).value, xlim=(-2, 2), ylim=(-2, 2))  # doctest: +SKIP
"""
from .cifar import (plot_class_examples, plot_epoch_comparison, plot_lr_curves, plot_probe_panels,
                    plot_step_losses_at_chance)
from .curves import plot_against, plot_curves, plot_sharpness
from .histories import plot_dead_units, plot_histories, plot_step_losses, plot_train_val, plot_update_ratios
from .landscapes import plot_contours, plot_paths, plot_runs, plot_trajectory
from .lr_search import (RULE_COLORS, plot_bowl_range_test, plot_grid_search, plot_lr_sweeps, plot_range_test,
                        plot_range_tests, plot_stability_region, plot_steps_to_tolerance, plot_suggestion_spread,
                        point_on_curve)
from .noise_floor import plot_fixed_budget, plot_floor_curves, plot_floor_theory, plot_runs_apart
from .optimizer_runs import (plot_bowl_paths, plot_first_steps, plot_momentum_steps, plot_relative_losses,
                             plot_steps_against_kappa, plot_sweep_panels)
from .schedule_runs import (plot_call_order, plot_cnn_runs, plot_fault_runs, plot_plateau_runs,
                            plot_schedule_tuning, plot_tuning_curves, plot_warmup_first_steps, plot_warmup_runs)
from .schedules import plot_lr_trace, plot_schedules
from .spread import plot_schedule_comparison, plot_seed_spread
from . import style  # noqa: E402 - the course's colour cycle (style.apply, style.context)

__all__ = [
    "plot_contours", "plot_trajectory", "plot_paths", "plot_runs",
    "plot_curves", "plot_sharpness", "plot_against",
    "plot_histories", "plot_step_losses", "plot_train_val", "plot_update_ratios", "plot_dead_units",
    "plot_lr_trace", "plot_schedules",
    "plot_call_order", "plot_tuning_curves", "plot_schedule_tuning", "plot_plateau_runs", "plot_cnn_runs",
    "plot_warmup_runs", "plot_warmup_first_steps", "plot_fault_runs",
    "RULE_COLORS", "point_on_curve", "plot_range_test", "plot_grid_search", "plot_suggestion_spread",
    "plot_lr_sweeps", "plot_stability_region", "plot_bowl_range_test", "plot_range_tests", "plot_steps_to_tolerance",
    "plot_seed_spread", "plot_schedule_comparison",
    "plot_floor_curves", "plot_floor_theory", "plot_fixed_budget", "plot_runs_apart",
    "plot_bowl_paths", "plot_relative_losses", "plot_momentum_steps", "plot_steps_against_kappa", "plot_first_steps",
    "plot_sweep_panels",
    "plot_class_examples", "plot_lr_curves", "plot_probe_panels", "plot_step_losses_at_chance", "plot_epoch_comparison",
]
