"""Lesson 04's explorer: its pure compute function, its numbers panel, its controls and its static figure."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import sweeps, widgets  # noqa: E402


def test_sgd_state_carries_the_heavy_ball_theory():
    state = widgets.explore_optimizer("SGD", lr=0.2, beta=0.5)
    assert (state.lr_lambda_max, state.stability_limit, state.effective_lr) == (2.0, 3.0, 0.4)
    assert state.settings == {"lr": 0.2, "momentum": 0.5}
    assert state.points.shape == (101, 2) and state.losses.shape == (101,)
    assert not state.diverged and math.isfinite(state.steps)
    assert state.losses[int(state.steps)] <= 1e-6 * state.losses[0] < state.losses[int(state.steps) - 1]


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_sgd_diverges_exactly_past_the_theory_wall(beta):
    wall = (2 + 2 * beta) / widgets.explorer_bowl().lambda_max
    below = widgets.explore_optimizer("SGD", lr=0.97 * wall, beta=beta, num_steps=400)
    above = widgets.explore_optimizer("SGD", lr=1.03 * wall, beta=beta, num_steps=400)
    assert not below.diverged and below.losses[-1] < below.losses[0]
    assert above.diverged
    assert "unstable" in widgets.describe_optimizer(above) and "diverged" in widgets.describe_optimizer(above)
    assert "stable" in widgets.describe_optimizer(below)


def test_adam_state_and_panel():
    state = widgets.explore_optimizer("Adam", lr=0.1, beta=0.8, beta2=0.99)
    assert state.settings == {"lr": 0.1, "betas": (0.8, 0.99)}
    assert state.stability_limit is None and state.effective_lr is None
    assert np.abs(state.points[1] - state.points[0]) == pytest.approx([0.1, 0.1], rel=1e-6)   # first step: lr
    panel = widgets.describe_optimizer(state)
    assert "Adam, lr = 0.1, β1 = 0.80, β2 = 0.99" in panel and "first step lr = 0.1" in panel


def test_rmsprop_panel_gives_its_first_step():
    state = widgets.explore_optimizer("RMSprop", lr=0.01, beta2=0.99)
    step = np.abs(state.points[1] - state.points[0])
    assert step == pytest.approx([0.1, 0.1], rel=1e-5)       # lr / sqrt(1 - alpha): no bias correction
    assert "lr/√(1 − α) = 0.1" in widgets.describe_optimizer(state)


def test_state_is_the_course_optimizer_run():
    state = widgets.explore_optimizer("Adagrad", lr=0.3, num_steps=20)
    runs = sweeps.run_on_surface(widgets.explorer_bowl(), widgets.W0, "Adagrad", 20, lr=0.3)
    assert np.array_equal(state.points, runs.points[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="Adamax"), "optimizer must be one of"),
    (dict(lr=0.0), "lr must be a positive"),
    (dict(beta=1.0), "beta must be a number in"),
    (dict(beta2=-0.1), "beta2 must be a number in"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.explore_optimizer(**kwargs)


def test_explorer_refuses_a_beta2_its_slider_cannot_show():
    with pytest.raises(ValueError, match="slider's stops"):
        widgets.OptimizerExplorer(beta2=0.95)


def test_controls_drive_the_update_and_the_panel_is_describe_of_the_state():
    explorer = widgets.OptimizerExplorer()
    box = explorer.widget
    assert len(box.children) == 3
    descriptions = [c.description for c in explorer.controls.values()]
    assert len(set(descriptions)) == len(descriptions) == 4
    for name, value in [("optimizer", "Adam"), ("lr", 0.05), ("beta", 0.7), ("beta2", 0.99)]:
        explorer.controls[name].value = value
        assert explorer.numbers.value == widgets.describe_optimizer(explorer.state)
        assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    state = explorer.state
    assert (state.optimizer, state.beta, state.beta2) == ("Adam", 0.7, 0.99)
    assert state.lr == pytest.approx(0.05)
    assert np.array_equal(np.column_stack(explorer._path.get_data()), state.points)
    plt.close("all")


def _closed_curves(ax):
    curves = [np.column_stack(line.get_data()) for line in ax.lines]
    return [c for c in curves if len(c) > 3 and np.allclose(c[0], c[-1])]


def test_contours_are_level_sets_of_the_explorers_bowl():
    bowl = widgets.explorer_bowl()
    explorer = widgets.OptimizerExplorer()
    axes = widgets.plot_optimizer_grid(lrs=(0.1,), cases=(("Adam", 0.9),))
    for ax in (explorer.ax_path, axes[0, 0]):
        curves = _closed_curves(ax)
        assert len(curves) >= len(widgets.LEVELS)
        for curve in curves:
            values = bowl.value(curve)
            assert np.ptp(values) <= 1e-9 * values.mean()
    plt.close("all")


def test_static_grid_has_one_titled_panel_per_setting():
    axes = widgets.plot_optimizer_grid(lrs=(0.01, 0.3), cases=(("SGD", 0.0), ("Adam", 0.9)))
    assert axes.shape == (2, 2)
    titles = [ax.get_title() for ax in axes.ravel()]
    assert titles[1].endswith("diverges")                # SGD at 0.3 > 2/λ_max
    assert titles[0].startswith("SGD lr=0.01, β=0") and titles[2].startswith("Adam lr=0.01, β1=0.9")
    plt.close("all")


def test_both_explorers_draw_on_lessons_01_02_bowl():
    from course_utils import surfaces

    lessons = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    assert np.array_equal(widgets.explore_optimizer("SGD", 0.1).bowl.A, lessons.A)
    assert np.array_equal(widgets.explore(0.1, kappa=10.0).bowl.A, lessons.A)
