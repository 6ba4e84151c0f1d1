"""The lesson-02 explorer: its pure compute function, its redraw time and its static figure."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import widgets  # noqa: E402


def test_explore_matches_the_theory():
    state = widgets.explore(lr=0.1, kappa=10.0)
    assert state.lambdas.tolist() == pytest.approx([1.0, 10.0])
    assert state.factors.tolist() == pytest.approx([0.9, 0.0], abs=1e-12)
    assert state.stable and not state.diverged
    assert state.max_stable_lr == pytest.approx(0.2) and state.best_lr == pytest.approx(2 / 11)
    assert state.points.shape == (51, 2) and state.losses.shape == (51,)
    assert 0 < state.steps < 100


def test_explore_reports_divergence_and_slowness():
    too_big = widgets.explore(lr=0.25, kappa=10.0)
    assert not too_big.stable and too_big.diverged and too_big.steps == math.inf
    assert too_big.factors[1] == pytest.approx(-1.5)
    tiny = widgets.explore(lr=1e-3, kappa=100.0)
    assert tiny.stable and tiny.steps == math.inf
    assert "more than 2000" in widgets.describe(tiny)
    assert "unstable" in widgets.describe(too_big) and "never" in widgets.describe(too_big)


def test_larger_kappa_needs_more_steps_at_its_best_lr():
    steps = [widgets.explore(lr=widgets.explorer_bowl(k).best_lr, kappa=k).steps for k in (2, 10, 50)]
    assert steps[0] < steps[1] < steps[2]


@pytest.mark.parametrize("kwargs, match", [(dict(lr=-0.1, kappa=10), "lr"), (dict(lr=0.1, kappa=0.5), "kappa")])
def test_explore_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.explore(**kwargs)


def test_update_redraws_picture_and_numbers():
    # how fast a redraw is, is measured by `python -m course_utils.widgets`, not asserted here
    explorer = widgets.LRExplorer()
    box = explorer.widget  # builds the sliders and renders once
    assert len(box.children) == 3
    for lr, kappa in [(1e-3, 100.0), (0.1, 10.0), (0.25, 10.0), (0.19, 50.0), (0.5, 1.0)]:
        before = explorer.image.value
        state = explorer.update(lr, kappa)
        assert state.lr == lr and state.kappa == kappa
        assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n" and explorer.image.value != before
        assert explorer.numbers.value == widgets.describe(state)
    plt.close("all")


def test_redraw_benchmark_reports_its_timings():
    from course_utils.widgets import lr_explorer

    timings = lr_explorer.redraw_timings(repeats=1)
    assert len(timings) == len(lr_explorer.BENCHMARK_SETTINGS) and all(t > 0 for t in timings)
    plt.close("all")


def test_sliders_drive_the_update():
    explorer = widgets.LRExplorer()
    explorer.widget
    explorer.lr_slider.value = 0.05
    assert explorer.state.lr == pytest.approx(0.05)
    explorer.kappa_slider.value = 20.0
    assert explorer.state.kappa == pytest.approx(20.0)
    assert explorer.state.lambdas[0] == pytest.approx(0.5)


def test_static_grid_has_one_titled_panel_per_pair():
    axes = widgets.plot_explorer_grid(lrs=(0.02, 0.15, 0.21), kappas=(2.0, 10.0))
    assert axes.shape == (2, 3)
    titles = [ax.get_title() for ax in axes.ravel()]
    assert titles[2].endswith("diverges") and titles[5].endswith("diverges")
    assert all("steps" in t for t in titles[:2] + titles[3:5])
    assert len(axes[0, 0].lines) >= len(widgets.LEVELS) + 2
    plt.close("all")


def _drawn_curves(ax):
    """The (k, 2) point arrays of every closed line on ``ax`` (contours; trajectories are open)."""
    curves = [np.column_stack(line.get_data()) for line in ax.lines]
    return [c for c in curves if len(c) > 3 and np.allclose(c[0], c[-1])]


def _assert_level_sets(curves, surface):
    assert curves, "no contour was drawn"
    for curve in curves:
        values = surface.value(curve)
        assert np.ptp(values) <= 1e-9 * values.mean(), (
            f"a drawn contour is not a level set: the loss along it runs from {values.min():.3g} to {values.max():.3g}")


@pytest.mark.parametrize("kappa", [1.0, 3.0, 10.0, 100.0])
def test_explorer_contours_are_level_sets_of_its_bowl(kappa):
    explorer = widgets.LRExplorer(lr=0.1, kappa=10.0)
    state = explorer.update(0.05, kappa)   # contours are moved, not redrawn: test the moved ones
    _assert_level_sets(_drawn_curves(explorer.ax_path), state.bowl)
    assert state.bowl.A == pytest.approx(widgets.explorer_bowl(kappa).A)


def test_static_grid_contours_are_level_sets():
    kappas = (2.0, 50.0)
    axes = widgets.plot_explorer_grid(lrs=(0.02, 0.15), kappas=kappas)
    for row, kappa in zip(axes, kappas):
        for ax in row:
            _assert_level_sets(_drawn_curves(ax), widgets.explorer_bowl(kappa))
    plt.close("all")


def test_plot_contours_draws_level_sets_of_its_function():
    from matplotlib.contour import ContourSet

    from course_utils import plotting, surfaces

    for surface, lim in [(surfaces.make_bowl((1.0, 10.0), angle_deg=30.0), 2.5), (surfaces.PlateauSurface(), 6.0)]:
        ax = plotting.plot_contours(surface.value, xlim=(-lim, lim), ylim=(-lim, lim), resolution=300)
        (contour_set,) = [c for c in ax.get_children() if isinstance(c, ContourSet)]
        checked = 0
        for level, path in zip(contour_set.levels, contour_set.get_paths()):
            if len(path.vertices) == 0:
                continue
            values = surface.value(path.vertices)
            # matplotlib interpolates linearly between grid points: a small relative error is expected
            assert np.max(np.abs(values - level)) <= 0.02 * abs(level) + 1e-3, f"level {level:.3g}"
            checked += 1
        assert checked >= 5
        plt.close("all")
