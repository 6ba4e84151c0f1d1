"""Lesson 04's figures (course_utils.plotting.optimizer_runs) against their maths: contours are level sets of the
bowl drawn under the paths, theory lines are computed from the runs' own settings, paths are the ones given."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from course_utils import grid_search, optimizers, plotting, surfaces, sweeps  # noqa: E402


def teardown_function():
    plt.close("all")


def test_bowl_paths_draw_level_sets_of_the_bowl_and_the_given_paths():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    path = sweeps.run_on_surface(bowl, [-1.8, 1.2], "SGD", 20, lr=0.1).points[0]
    ax = plotting.plot_bowl_paths(bowl, {"GD": path}, levels=[0.5, 2.0])
    contours, drawn = ax.get_lines()[:2], ax.get_lines()[2]
    for line, level in zip(contours, (0.5, 2.0)):
        assert np.allclose(bowl.value(line.get_xydata()), level)
    assert np.allclose(drawn.get_xydata(), path)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GD"]


def test_momentum_step_theory_lines_come_from_the_runs_settings():
    lr, g, betas = 0.01, 2.0, (0.0, 0.9)
    runs = sweeps.run_on_surface(surfaces.Slope(g), [0.0], optimizers.SGD, 50, lr=lr, momentum=np.array(betas))
    sizes = -np.diff(runs.points[:, :, 0], axis=1)
    ax = plotting.plot_momentum_steps(dict(zip(betas, sizes)), lr, g)
    lines = ax.get_lines()          # per beta: measured, theory (dotted), limit (dashed)
    for k, beta in enumerate(betas):
        measured, theory, limit = lines[3 * k: 3 * k + 3]
        t = measured.get_xdata()
        assert np.allclose(theory.get_ydata(), lr * g * (1 - beta ** t) / (1 - beta))
        assert np.allclose(theory.get_ydata(), measured.get_ydata(), rtol=1e-9)
        assert np.allclose(limit.get_ydata(), lr * g / (1 - beta))


def test_steps_against_kappa_draws_each_theory_in_its_series_colour():
    kappas = [10.0, 100.0]
    ax = plotting.plot_steps_against_kappa(kappas, {"GD": [30, 300]}, {"theory": lambda k: 3 * k})
    points, line = ax.get_lines()
    assert points.get_color() == line.get_color()
    assert np.allclose(line.get_ydata(), 3 * line.get_xdata())


def test_first_steps_are_divided_by_the_lr_and_sweep_panels_share_one_legend():
    scales = np.array([1e-2, 1.0, 1e2])
    first = np.array([[1e-3, 2e-3], [0.1, 0.2], [10.0, 20.0]])
    ax = plotting.plot_first_steps(scales, {"SGD": first}, 0.1, marks={"wall": 4.0})
    assert np.allclose(ax.get_lines()[0].get_ydata(), first[:, 0] / 0.1)
    r = grid_search.good_range([1e-3, 1e-2, 1e-1], [0.5, 0.2, np.inf], factor=1.1)
    axes = plotting.plot_sweep_panels({"a": {"SGD": r}, "b": {"SGD": r}}, ylabels={"a": "loss", "b": "loss"},
                                      zoom=["b"], mark_lr=1e-2)
    assert axes.flat[0].get_legend() is not None and axes.flat[1].get_legend() is None
    assert axes.flat[1].get_ylim() == (0.9 * 0.2, 2.5 * 0.2)
