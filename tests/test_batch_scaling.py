import math

import numpy as np
import pytest
import torch

from course_utils import batch_scaling, critical_batch, lr_optimum, regression, synthetic


def test_refined_best_lr_finds_the_vertex_between_grid_points():
    lrs = np.geomspace(1e-3, 1.0, 7)
    true = 0.037
    losses = (np.log(lrs) - np.log(true)) ** 2 + 1.0
    best, edge = lr_optimum.refined_best_lr(lrs, losses)
    assert best == pytest.approx(true, rel=1e-9) and not edge
    assert lr_optimum.refined_best_lr(lrs, losses[::-1] * 0 + np.arange(7))[1]       # lowest at the first point
    with_inf = losses.copy()
    with_inf[-2:] = np.inf
    assert lr_optimum.refined_best_lr(lrs, with_inf)[0] == pytest.approx(true, rel=1e-9)
    with pytest.raises(ValueError, match="every run of the sweep diverged"):
        lr_optimum.refined_best_lr(lrs, np.full(7, np.inf))
    with pytest.raises(ValueError, match="increasing"):
        lr_optimum.refined_best_lr(lrs[::-1], losses)


def test_exponent_and_drift_of_a_power_law():
    sizes = np.array([32, 64, 128, 256])
    noise = np.array([[1.0, 1.1, 0.9], [1.0, 0.9, 1.1], [1.05, 1.0, 0.95], [1.0, 1.0, 1.0]])
    best = 0.01 * (sizes[:, None] / 32.0) ** 0.5 * noise
    iv = lr_optimum.exponent(sizes, best)
    assert iv.seeds == 3 and iv.low < 0.5 < iv.high
    exact = 0.01 * (sizes[:, None] / 32.0) ** -1.0 * np.ones((1, 3))
    assert lr_optimum.drift_decades(sizes, exact).estimate == pytest.approx(-math.log10(8))


def test_predictions_of_the_rules():
    assert batch_scaling.predict_lr(0.1, 32, 256, "linear") == pytest.approx(0.8)
    assert batch_scaling.predict_lr(1e-3, 256, 64, "sqrt") == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="rule must be one of"):
        batch_scaling.predict_lr(0.1, 32, 64, "cubic")


def test_saturation_fit_recovers_the_knee_and_doubling_factors():
    B = np.array([16, 32, 64, 128, 256, 512, 1024])
    best = np.stack([batch_scaling.saturation_curve(B, 1.2, 150.0), batch_scaling.saturation_curve(B, 0.8, 60.0)], 1)
    lr_max, knee = batch_scaling.saturation_fit(B, best)
    assert lr_max == pytest.approx([1.2, 0.8], rel=1e-2) and knee == pytest.approx([150.0, 60.0], rel=1e-2)
    factors = batch_scaling.doubling_factors(B, best)
    assert factors.shape == (6, 2) and np.all(np.diff(factors[:, 0]) < 0) and factors[0, 0] < 2


def test_sweep_batch_sizes_trains_every_size_for_the_same_examples():
    X, y = torch.randn(256, 5), torch.randint(0, 3, (256,))
    sweep = batch_scaling.sweep_batch_sizes(X, y, batch_sizes=[8, 32], lrs=[0.01, 0.1, 1.0], optimizer="SGD",
                                            num_examples=512, seeds=[0, 1], width=8)
    assert sweep.final_loss.shape == (2, 2, 3)
    assert [r.steps[-1] * r.batch_size for r in sweep.runs] == [512, 512]
    with pytest.raises(ValueError, match="increasing"):
        batch_scaling.sweep_batch_sizes(X, y, batch_sizes=[32, 8], lrs=[0.1], optimizer="SGD", num_examples=512,
                                        seeds=[0], width=8)


def test_steps_model_fit_and_crossings():
    B = np.array([1, 4, 16, 64, 256])
    assert critical_batch.fit_steps(B, critical_batch.steps_model(B, 3.0, 40.0)) == pytest.approx((3.0, 40.0))
    assert critical_batch.examples_model([40], 3.0, 40.0) == pytest.approx([240.0])   # twice E_min at B = B_crit
    got = critical_batch.first_crossing([0, 1, 2, 3], [[4.0, 3.0, 1.0, 0.5], [0.1, 0.1, 0.1, 0.1]], 2.0)
    assert got.tolist() == [1.5, 0.0]
    with pytest.raises(ValueError, match="never reach"):
        critical_batch.fit_steps(B, [1, 2, np.inf, 4, 5])


def test_regression_steps_counts_sgd_steps_and_stops_early_only_for_losers():
    data = synthetic.make_linear_regression(200, 3, noise_std=0.5, seed=0)
    problem = regression.least_squares(data.X, data.y)
    small = critical_batch.regression_steps(problem, batch_size=2, lrs=[0.01, 0.05, 0.2, 5.0], target=0.1,
                                            num_runs=6, max_steps=3000, seed=0)
    large = critical_batch.regression_steps(problem, batch_size=200, lrs=[0.01, 0.05, 0.2, 0.4], target=0.1,
                                            num_runs=6, max_steps=3000, seed=0)
    assert np.all(np.isinf(small.steps[-1]))               # lr 5 diverges
    lr, steps, se = small.best
    assert np.all(np.isfinite(small.steps[small.lrs == lr])) and se < steps
    assert large.best[1] < small.best[1]                    # a larger batch needs fewer steps here
    # full-batch gradient descent (B = n draws nearly the whole set) at lr 0.2 needs about this many steps
    theta, k = np.zeros(4), 0
    while problem.loss(theta) - problem.best_loss > 0.1:
        theta, k = theta - 0.2 * problem.grad(theta), k + 1
    one_lr = critical_batch.regression_steps(problem, batch_size=200, lrs=[0.2], target=0.1, num_runs=6,
                                             max_steps=3000, seed=1)
    assert abs(one_lr.mean_steps[0] - k) <= 2
    assert not critical_batch._no_lr_can_win(np.array([[3.0, 5.0], [np.inf, np.inf]]),
                                             np.array([[True, True], [False, False]]), step=2)
    assert critical_batch._no_lr_can_win(np.array([[3.0, 5.0], [np.inf, np.inf]]),
                                         np.array([[True, True], [False, False]]), step=4)


def test_descend_to_stops_at_the_first_point_below_the_target():
    data = synthetic.make_linear_regression(200, 3, noise_std=0.5, seed=0)
    problem = regression.least_squares(data.X, data.y)
    theta = problem.descend_to(0.1, lr=0.05)
    assert problem.loss(theta) - problem.best_loss <= 0.1
    # the point one gradient-descent step before it (theta = back - lr H (back - solution)) is still above
    back = np.linalg.solve(np.eye(4) - 0.05 * problem.hessian, theta - 0.05 * problem.hessian @ problem.solution)
    assert problem.loss(back) - problem.best_loss > 0.1
    with pytest.raises(ValueError, match="wall"):
        problem.descend_to(0.1, lr=1.01 * problem.max_stable_lr)


def test_steps_saved_is_the_log_ratio_of_steps_at_each_best_lr():
    def result(steps_by_lr):
        steps = np.asarray(steps_by_lr, dtype=float)
        return critical_batch.RegressionSteps(lrs=np.array([0.1, 0.2]), steps=steps, batch_size=1, target=0.1,
                                              max_steps=100)
    small = result([[40, 44, 36], [20, 22, 18]])      # best lr 0.2: 20, 22, 18 steps
    large = result([[10, 11, 9], [np.inf, 12, 8]])    # best lr 0.1: 10, 11, 9
    saved = critical_batch.steps_saved(small, large)
    assert saved.estimate == pytest.approx(math.log(2)) and saved.seeds == 3


def test_which_rule_and_describe_drift_read_the_interval_as_a_whole():
    from course_utils import stats, width_transfer
    assert "linear rule than" in lr_optimum.which_rule(stats.mean([0.9, 1.0, 1.1]))
    assert "square-root rule than" in lr_optimum.which_rule(stats.mean([0.45, 0.5, 0.55]))
    assert "between" in lr_optimum.which_rule(stats.mean([0.5, 1.0, 0.75]))
    assert "too few" in lr_optimum.which_rule(stats.mean([0.9, 1.1]))
    assert "stays within" in width_transfer.describe_drift(stats.mean([0.05, -0.05, 0.0]))
    assert "more than a factor" in width_transfer.describe_drift(stats.mean([-0.9, -0.8, -1.0]))
    assert "cannot tell" in width_transfer.describe_drift(stats.mean([-0.6, 0.0, -0.3]))


def test_lesson09_figures_draw_the_numbers_they_are_given():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from course_utils import scaling_plots

    ax = scaling_plots.plot_lr_by_batch([1, 4, 16], {"target 0.1": [0.1, 0.3, 0.5]}, reference=(0.7, "1/λ_max"))
    assert ax.lines[0].get_ydata().tolist() == [0.1, 0.3, 0.5] and ax.lines[1].get_ydata()[0] == 0.7
    ax = scaling_plots.plot_noise_scale_path([2.0, 1.0], [10.0, 20.0], estimated=[11.0, 19.0], target=1.5)
    assert ax.lines[1].get_ydata().tolist() == [11.0, 19.0] and ax.lines[2].get_xdata()[0] == 1.5
    images = np.random.default_rng(0).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    small = images.reshape(3, 4, 8, 4, 8, 3).mean(axis=(2, 4)).transpose(0, 3, 1, 2)
    fig = scaling_plots.plot_downsampled(images, small, [0, 1, 2], ["a", "b", "c"], count=3)
    assert [a.get_title() for a in fig.axes[:3]] == ["a", "b", "c"] and "4x4" in fig._suptitle.get_text()
    plt.close("all")
