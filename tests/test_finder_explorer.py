"""Lesson 06's explorer: its pure compute function, its widget, its numbers panel and its static figure."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import grid_search, lr_finder, plotting, widgets  # noqa: E402


def cached_sweep(seed=0, num_steps=120):
    """A range-test-like sweep run to the end: a noisy fall around 1e-3, a blow-up past 0.1."""
    rng = np.random.default_rng(seed)
    lrs = lr_finder.sweep_lrs(1e-6, 10.0, num_steps)
    x = np.log10(lrs)
    losses = 2.3 - 0.5 * (1 + np.tanh((x + 3) * 1.5)) + 6 * np.clip(x + 1, 0, None) ** 2 + rng.normal(0, 0.08, num_steps)
    return lr_finder.Sweep(lrs=lrs, losses=losses, smoothed=lr_finder.smooth_losses(losses, 0.98), beta=0.98,
                           diverge_factor=math.inf, stop_reason="end", start_lr=1e-6, end_lr=10.0,
                           num_steps_requested=num_steps)


GOOD = (3e-4, 3e-3)


def spiky_sweep():
    """A sweep whose loss doubles for one step early on: a tight threshold stops it there."""
    sweep = cached_sweep()
    losses = sweep.losses.copy()
    losses[8] *= 3
    return lr_finder.Sweep(lrs=sweep.lrs, losses=losses, smoothed=losses, beta=0.0, diverge_factor=math.inf,
                           stop_reason="end", start_lr=1e-6, end_lr=10.0, num_steps_requested=len(losses))


def test_explore_is_the_resmoothed_sweep_and_its_suggestions():
    sweep = cached_sweep()
    state = widgets.explore_finder(sweep, 0.9, 4.0, good_region=GOOD)
    cut = sweep.resmooth(beta=0.9, diverge_factor=4.0)
    assert state.sweep.num_steps == cut.num_steps < sweep.num_steps and state.sweep.stop_reason == "diverged"
    assert np.array_equal(state.sweep.smoothed, cut.smoothed)
    assert state.suggestions == lr_finder.suggest(cut)
    assert state.inside == {k: GOOD[0] <= v <= GOOD[1] for k, v in state.suggestions.items()}


def test_more_smoothing_moves_the_stop_and_the_minimum_to_larger_lrs():
    # the moving average lags: the smoothed curve turns up later, so the rules read it later
    sweep = cached_sweep()
    light, heavy = (widgets.explore_finder(sweep, beta, 4.0) for beta in (0.5, 0.98))
    assert heavy.sweep.stop_lr > light.sweep.stop_lr
    assert heavy.suggestions["minimum/10"] > light.suggestions["minimum/10"]


def test_a_hair_trigger_leaves_too_few_points_and_says_so():
    state = widgets.explore_finder(spiky_sweep(), 0.0, 1.5)
    assert state.sweep.num_steps == 9
    assert state.problem and all(math.isnan(v) for v in state.suggestions.values())
    assert "no suggestions" in widgets.describe_finder(state)


def test_numbers_panel_is_a_function_of_the_state():
    state = widgets.explore_finder(cached_sweep(), 0.9, 4.0, good_region=GOOD)
    text = widgets.describe_finder(state)
    assert "β = 0.90" in text and "stop at 4 × best" in text
    for name, lr in state.suggestions.items():
        assert f"{name}: {lr:.2e}" in text
    assert text.count("inside") == sum(state.inside.values())


def test_sliders_drive_the_update_and_the_picture_follows():
    explorer = widgets.FinderExplorer(cached_sweep(), good_region=GOOD)
    box = explorer.widget
    assert len(box.children) == 3
    descriptions = [c.description for c in explorer.controls.values()]
    assert len(set(descriptions)) == len(descriptions)
    first_png = explorer.image.value
    explorer.beta_slider.value = 0.5
    assert explorer.state.beta == pytest.approx(0.5)
    explorer.factor_slider.value = 2.0
    assert explorer.state.diverge_factor == pytest.approx(2.0)
    assert explorer.numbers.value == widgets.describe_finder(explorer.state)
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n" and explorer.image.value != first_png
    xs, ys = explorer._smooth.get_data()
    assert np.array_equal(xs, explorer.state.sweep.lrs) and np.array_equal(ys, explorer.state.sweep.smoothed)
    for name, lr in explorer.state.suggestions.items():
        assert explorer._marks[name].get_xdata()[0] == lr
    spiky = widgets.FinderExplorer(spiky_sweep())
    spiky.update(0.0, 1.5)  # no suggestions: the marks disappear instead of breaking the figure
    assert all(len(m.get_xdata()) == 0 for m in spiky._marks.values())
    plt.close("all")


def test_static_grid_has_one_panel_per_setting_with_its_suggestions():
    axes = widgets.plot_finder_grid(cached_sweep(), betas=(0.0, 0.98), diverge_factors=(4.0,), good_region=GOOD)
    assert axes.shape == (1, 2)
    assert all("stop at 4 × best" in ax.get_title() for ax in axes.ravel())
    state = widgets.explore_finder(cached_sweep(), 0.98, 4.0)
    dots = {tuple(line.get_xdata()) for line in axes[0, 1].lines if line.get_marker() == "o"}
    assert {(lr,) for lr in state.suggestions.values()} <= dots
    plt.close("all")


def test_plot_range_test_draws_the_sweep_it_is_given():
    sweep = cached_sweep().resmooth(diverge_factor=4.0)
    ax = plotting.plot_range_test(sweep, suggestions=lr_finder.suggest(sweep), good_region=GOOD)
    smoothed = [line for line in ax.lines if line.get_linewidth() == 1.8][0]
    assert np.array_equal(smoothed.get_xdata(), sweep.lrs) and np.array_equal(smoothed.get_ydata(), sweep.smoothed)
    for rule, lr in lr_finder.suggest(sweep).items():
        dot = [line for line in ax.lines if line.get_label().startswith(rule)][0]
        assert dot.get_xdata()[0] == lr
        assert dot.get_ydata()[0] == pytest.approx(np.interp(np.log(lr), np.log(sweep.lrs), sweep.smoothed))
    bottom, top = ax.get_ylim()   # the descent fills the frame; the blow-up at the end may leave it
    assert bottom < sweep.smoothed.min() and sweep.smoothed[0] < top < sweep.smoothed[0] + 2 * (sweep.smoothed[0] - bottom)
    plt.close("all")


def test_plot_grid_search_shades_the_good_lrs():
    lrs = np.logspace(-5, -2, 7)
    losses = np.array([2.3, 2.2, 2.1, 2.0, 2.05, 2.2, 2.31])
    region = grid_search.good_region(lrs, losses, margin=0.05)
    ax = plotting.plot_grid_search(lrs, losses, good_region=region, threshold=2.1)
    span = ax.patches[0]
    assert span.get_x() == pytest.approx(region[0]) and span.get_x() + span.get_width() == pytest.approx(region[1])
    filled = ax.lines[0]
    assert filled.get_xdata().tolist() == lrs[(lrs >= region[0]) & (lrs <= region[1])].tolist()
    plt.close("all")
