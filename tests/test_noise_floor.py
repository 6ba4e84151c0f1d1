"""Lesson 03's floor measurements (noise_floor), its HTML tables (tables) and its figures (plotting.noise_floor)."""
import matplotlib
import numpy as np
import pytest
import torch
from test_checks_lesson02_03 import good_train_sgd as _train

from course_utils import noise_floor, plotting, synthetic, tables

matplotlib.use("Agg")


def test_recording_in_chunks_is_the_same_run_as_one_call():
    data = synthetic.make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)
    curve, minibatch = noise_floor.record_chunks(_train, data.X, data.y, 0.05, 40, 4, 10, seed=3)
    torch.manual_seed(3)
    model = torch.nn.Linear(3, 1)
    whole = _train(model, data.X, data.y, 0.05, 40, 4)
    with torch.no_grad():
        final = float(((model(data.X).squeeze(-1) - data.y) ** 2).mean())
    assert curve.shape == (5,) and np.allclose(minibatch, whole) and np.isclose(curve[-1], final)


def test_steps_to_and_floor_stats_read_the_curves():
    steps = np.arange(0, 50, 10)
    excess = np.array([[4.0, 1.0, 0.5, 0.6, 0.4], [4.0, 3.0, 3.0, 3.0, 3.0]])
    assert noise_floor.steps_to(steps, excess, 1.0).tolist() == [10.0, np.inf]
    stats = noise_floor.floor_stats(steps, excess)          # the measurements at steps 20, 30, 40
    assert np.allclose(stats["floor"], [0.5, 3.0]) and np.allclose(stats["spread"], [np.std([0.5, 0.6, 0.4]), 0.0])
    with pytest.raises(ValueError, match="settled_fraction"):
        noise_floor.floor_stats(steps, excess, settled_fraction=0)


def test_html_table_escapes_cells_and_rejects_ragged_rows():
    html = tables.html_table(["a<b", "c"], [[1, "<x>"]])
    assert "<th>a&lt;b</th>" in html and "<td>&lt;x&gt;</td>" in html
    with pytest.raises(ValueError, match="one cell per column"):
        tables.html_table(["a", "b"], [[1]])


def test_floor_figures_draw_what_they_are_given_with_titles_and_labels():
    ax = plotting.plot_floor_theory([0.01, 0.1], {"first order": [0.001, 0.01]}, {"measured": ([0.01], [0.0011])},
                                    xlabel="learning rate η", wall=(0.2, "wall"), title="t")
    assert [line.get_label() for line in ax.get_lines()] == ["first order", "measured", "wall"]
    assert ax.get_xscale() == ax.get_yscale() == "log" and ax.get_title() == "t"
    left, right = plotting.plot_floor_curves(np.arange(3) * 5, {"lr 0.1": [1.0, 0.5, 0.4]}, zoom_steps=5, title="s")
    assert left.get_xlim() == (0, 5) and right.get_lines()[0].get_label() == "lr 0.1" and left.get_title()
    grid, curves = plotting.plot_fixed_budget([0.01, 0.1], [0.5, 0.2], [[0.1, 0.1], [0.1, 0.1]], (0.1, "decay"),
                                              {"best": ([0, 5], [1.0, 0.2])}, budget=5, trace=([0, 5], [0.3, 0.1], "floor"))
    assert grid.get_xscale() == "log" and [line.get_label() for line in curves.get_lines()] == ["best", "floor"]


def test_runs_apart_get_one_panel_each_with_its_own_scale():
    axes = plotting.plot_runs_apart({"run A": [1.0, 0.5, 0.4], "run B": [1.0, 1e30, 1e30]}, xlabel="m", ylabel="loss", title="t")
    assert [ax.get_title() for ax in axes] == ["run A", "run B"] and all(ax.get_yscale() == "log" for ax in axes)
    assert axes[0].get_ylim()[1] < 10 < axes[1].get_ylim()[1]
