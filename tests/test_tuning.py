"""course_utils.tuning: sweeps read per seed (spread of the best lr, width of the good range, excess at an lr)."""
import math

import numpy as np
import pytest

from course_utils import grid_search, tuning

LRS = [1e-4, 1e-3, 1e-2, 1e-1]


def sweep(losses):
    return grid_search.good_range(LRS, losses, factor=1.1)


def test_spread_width_and_excess_follow_the_final_losses():
    a = sweep([0.9, 0.5, 0.2, 0.21])          # best 1e-2, good 1e-2..1e-1
    b = sweep([0.2, 0.3, 0.9, math.inf])      # best 1e-4, good 1e-4 only, 1e-1 diverged
    assert tuning.best_lr_spread([a, b]) == pytest.approx(2.0)
    assert tuning.mean_width([a, b]) == pytest.approx(0.5)
    assert tuning.excess_at(a, 1e-3) == pytest.approx(math.log10(0.5 / 0.2))
    assert tuning.excess_at(a, 1e-2) == 0.0
    assert tuning.excess_at(b, 1e-1) == tuning.CAP_DECADES          # diverged counts as the cap
    assert tuning.worst_excess(a) == pytest.approx(math.log10(0.9 / 0.2))


def test_an_lr_off_the_grid_is_refused():
    with pytest.raises(ValueError, match="not on the sweep's grid"):
        tuning.excess_at(sweep([0.9, 0.5, 0.2, 0.21]), 3e-3)


def test_per_seed_repeats_a_deterministic_sweep_and_checks_the_count():
    a = sweep([0.9, 0.5, 0.2, 0.21])
    assert tuning.per_seed([a], 3) == [a, a, a]
    assert tuning.per_seed([a, a], 2) == [a, a]
    with pytest.raises(ValueError, match="one per seed"):
        tuning.per_seed([a, a], 3)


def test_table_shows_every_problem_and_optimizer():
    ranges = {("bowl", "SGD"): [sweep([0.9, 0.5, 0.2, math.inf])], ("bowl", "Adam"): [sweep([0.9, 0.2, 0.2, 0.3])]}
    html = tuning.table(ranges, ["bowl"], ["SGD", "Adam"], 1e-3, lambda lr: f"{lr:g}")
    assert html.count("<tr>") == 3 and "diverged" in html and "1 of 1" in html and "0 of 1" in html
    assert np.isclose(float(html.split("<td>")[-1].split("<")[0]), 0.9 / 0.2, rtol=1e-2)
