"""Reading a grid search (course_utils.grid_search): the good range of lesson 04, the good region of lesson 06."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import grid_search, plotting  # noqa: E402


def test_good_range_is_the_contiguous_block_around_the_best():
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]
    r = grid_search.good_range(lrs, [0.5, 0.21, 0.2, 0.3, 0.21, np.nan], factor=1.1)
    assert (r.best_lr, r.low, r.high) == (1e-2, 1e-3, 1e-2)          # 1.0 is good too, but not next to the best
    assert r.good.tolist() == [False, True, True, False, False, False]
    assert r.width_decades == pytest.approx(1.0)
    assert r.contains(1e-3) and not r.contains(1.0) and not r.contains(1e-4)
    assert math.isinf(r.final_losses[-1])


@pytest.mark.parametrize("lrs, losses, factor, match", [
    ([1e-3, 1e-2], [np.inf, np.nan], 2.0, "every run diverged"),
    ([1e-2, 1e-3], [1.0, 2.0], 2.0, "increasing"),
    ([1e-3, 1e-2], [1.0], 2.0, "same length"),
    ([1e-3, 1e-2], [1.0, 2.0], 0.5, "factor"),
])
def test_good_range_refuses_what_it_cannot_judge(lrs, losses, factor, match):
    with pytest.raises(ValueError, match=match):
        grid_search.good_range(lrs, losses, factor)


def test_lr_sweep_plot_marks_best_good_range_and_divergence():
    r = grid_search.good_range([1e-3, 1e-2, 1e-1, 1.0], [0.5, 0.2, 0.21, np.inf], factor=1.1)
    ax = plotting.plot_lr_sweeps({"SGD": r})
    curve, crosses, good, star = ax.lines
    assert curve.get_xdata().tolist() == [1e-3, 1e-2, 1e-1] and crosses.get_xdata().tolist() == [1.0]
    assert good.get_xdata().tolist() == [1e-2, 1e-1] and star.get_xdata().tolist() == [1e-2]
    plt.close("all")


def test_good_region_is_where_the_grid_curve_stays_within_the_margin():
    lrs = np.logspace(-5, -2, 7)
    losses = np.array([2.30, 2.29, 2.25, 2.09, 2.03, 2.09, 2.31])
    low, high = grid_search.good_region(lrs, losses, margin=0.05)
    threshold = 1.05 * 2.03
    # the ends are the threshold crossings of the straight (in log lr) segments around the best
    for end, (i, j) in ((low, (2, 3)), (high, (5, 6))):
        assert np.interp(np.log(end), np.log(lrs[[i, j]]), losses[[i, j]]) == pytest.approx(threshold)
    assert lrs[2] < low < lrs[3] and lrs[5] < high < lrs[6]
    assert grid_search.good_region(lrs, losses, margin=0.0) == pytest.approx((lrs[4], lrs[4]))
    assert grid_search.good_region(lrs, losses, margin=1.0) == (lrs[0], lrs[-1])
    with_nan = losses.copy()
    with_nan[6] = np.nan                                # a diverged run bounds the region at its neighbour
    assert grid_search.good_region(lrs, with_nan, margin=0.05)[1] == lrs[5]


def test_good_region_rejects_bad_grids():
    with pytest.raises(ValueError, match="increasing"):
        grid_search.good_region([1e-3, 1e-4], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        grid_search.good_region([1e-3, 1e-2], [1.0])


def test_the_two_readings_agree_on_the_grid_points():
    """good_region with margin m reaches at least the grid points good_range finds with factor 1 + m, and
    never past the first grid point outside them."""
    rng = np.random.default_rng(0)
    lrs = np.logspace(-5, 0, 11)
    for _ in range(50):
        losses = np.exp(rng.normal(size=11)) + 1.0
        losses[rng.random(11) < 0.1] = np.inf
        if not np.isfinite(losses).any():
            continue
        r = grid_search.good_range(lrs, losses, factor=1.2)
        low, high = grid_search.good_region(lrs, losses, margin=0.2)
        assert low <= r.low * (1 + 1e-12) and high >= r.high * (1 - 1e-12)
        inside = np.flatnonzero(r.good)
        outer_low = lrs[inside[0] - 1] if inside[0] > 0 else lrs[0]
        outer_high = lrs[inside[-1] + 1] if inside[-1] < len(lrs) - 1 else lrs[-1]
        assert outer_low <= low and high <= outer_high
