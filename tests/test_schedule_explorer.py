"""The lesson-05 explorer: its pure compute function, its numbers panel, its controls and its static figure."""
import math
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import regression, schedules, widgets  # noqa: E402
from course_utils.widgets import schedule_explorer as se  # noqa: E402

FAST = dict(num_steps=300, seeds=(0, 1))


def test_the_state_is_the_recipe_sampled_and_run():
    state = widgets.explore_schedule("warmup_cosine", 0.02, warmup_steps=30, final_factor=0.1, **FAST)
    want = schedules.lr_trace(lambda opt: schedules.make_schedule("warmup_cosine", opt, 300, warmup_steps=30,
                                                                  final_factor=0.1), 300, lr=0.02)
    assert np.array_equal(state.lr, want)
    runs = regression.run(se.regression_problem(), 300, se.BATCH_SIZE, lr=want[None], seeds=(0, 1), start="uniform")
    assert np.array_equal(state.excess, runs.excess[0]) and np.array_equal(state.eval_steps, runs.steps)
    assert state.final == pytest.approx(runs.final_excess()[0].mean())


def test_the_baseline_is_the_best_constant_of_its_grid():
    lr, steps, excess = se.best_constant(300, (0, 1))
    finals = {g: widgets.explore_schedule("constant", g, **FAST).final for g in se.BASELINE_LRS}
    finite = {g: v for g, v in finals.items() if math.isfinite(v)}
    assert lr == min(finite, key=finite.get)
    assert excess[:, -1].mean() == pytest.approx(finite[lr])


def test_a_constant_schedule_at_the_baseline_lr_ties_with_it():
    lr, _, _ = se.best_constant(300, (0, 1))
    state = widgets.explore_schedule("constant", lr, **FAST)
    assert state.final == pytest.approx(state.baseline_final)
    assert "1.00x" in se.describe(state)


def test_the_panel_says_better_worse_or_diverged():
    good = widgets.explore_schedule("cosine", 0.02, **FAST)
    assert good.final < good.baseline_final and "lower (better)" in se.describe(good)
    bad = widgets.explore_schedule("constant", 0.16, **FAST)
    assert bad.final > bad.baseline_final and "higher (worse)" in se.describe(bad)
    text = se.describe(widgets.explore_schedule("onecycle", 0.01, **FAST))
    assert "OneCycleLR" in text and "30 %" in text and "ignored" not in text
    assert "ignored here: warmup" in se.describe(good)
    assert "ignored here: warmup, final/peak" in se.describe(bad)
    wild = widgets.explore_schedule("constant", 2.0, **FAST)
    assert wild.diverged and "diverged" in se.describe(wild)


@pytest.mark.parametrize("kwargs, match", [(dict(name="nope", peak_lr=0.01), "unknown schedule"),
                                           (dict(name="cosine", peak_lr=-1.0), "peak_lr")])
def test_bad_settings_get_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.explore_schedule(**kwargs)


def test_controls_drive_the_update_and_the_panel_is_the_states():
    explorer = widgets.ScheduleExplorer(**FAST)
    box = explorer.widget
    assert len(box.children) == 3
    descriptions = [c.description for c in explorer.controls.values()]
    assert len(set(descriptions)) == len(descriptions)
    explorer.schedule_menu.value = "multistep"
    assert explorer.state.name == "multistep"
    explorer.peak_slider.value = 0.005
    assert explorer.state.peak_lr == pytest.approx(0.005)
    explorer.final_slider.value = 0.1
    assert explorer.state.final_factor == pytest.approx(0.1)
    explorer.schedule_menu.value = "warmup_linear"
    explorer.warmup_slider.value = 50
    assert explorer.state.warmup_steps == 50 and explorer.state.lr[0] < explorer.state.lr[50]
    assert explorer.numbers.value == se.describe(explorer.state)
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = explorer._lr.get_ydata()
    assert np.array_equal(drawn, explorer.state.lr)
    plt.close("all")


def test_update_redraws_quickly():
    explorer = widgets.ScheduleExplorer()      # the notebook's settings: 1,000 steps, 4 seeds
    explorer.widget
    timings = []
    for args in [("cosine", 0.0123), ("onecycle", 0.02, 100), ("cyclic", 0.003, 0, 0.1), ("step", 0.05)]:
        start = time.process_time()
        explorer.update(*args)
        timings.append(time.process_time() - start)
    assert max(timings) < 1.0, f"redraw took {max(timings):.2f} s of CPU"
    plt.close("all")


def test_static_grid_draws_what_explore_returns():
    axes = widgets.plot_schedule_grid(("constant", "cosine"), peak_lr=0.01, **FAST)
    assert axes.shape == (2, 2)
    state = widgets.explore_schedule("cosine", 0.01, **FAST)
    assert np.array_equal(axes[0, 1].lines[0].get_ydata(), state.lr)
    assert np.allclose(axes[1, 1].lines[0].get_ydata(), se._loss_curve(state.excess))
    assert axes[1, 1].get_title().startswith(f"{state.final:.3g}")
    plt.close("all")
