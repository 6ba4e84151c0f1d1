"""The noise-floor theory of SGD on least squares against measurement, and the many-runs trainer."""
import doctest
import math

import numpy as np
import pytest
import torch

from course_utils import noise_floor
from course_utils.synthetic import make_linear_regression


@pytest.fixture(scope="module")
def data():
    return make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=7)


@pytest.fixture(scope="module")
def problem(data):
    return noise_floor.least_squares(data.X, data.y)


def test_module_examples_run():
    assert doctest.testmod(noise_floor).failed == 0


def test_least_squares_objects(data, problem):
    X = data.X.double().numpy()
    n = X.shape[0]
    X1 = np.hstack([X, np.ones((n, 1))])
    assert problem.hessian == pytest.approx(2 / n * X1.T @ X1)
    assert np.abs(problem.grad(problem.solution)).max() < 1e-10          # the minimum
    assert problem.best_loss == pytest.approx(float(problem.loss(problem.solution)))
    theta, eps = problem.solution + 0.3, 1e-6
    numeric = [(problem.loss(theta + eps * e) - problem.loss(theta - eps * e)) / (2 * eps) for e in np.eye(4)]
    assert problem.grad(theta) == pytest.approx(np.array(numeric), rel=1e-6)
    residuals = X1 @ problem.solution - data.y.double().numpy()
    per_sample = 2 * residuals[:, None] * X1                              # one sample's gradient at θ*
    assert per_sample.mean(axis=0) == pytest.approx(np.zeros(4), abs=1e-10)
    assert problem.gradient_noise == pytest.approx(per_sample.T @ per_sample / n)
    assert problem.max_stable_lr == pytest.approx(2 / np.linalg.eigvalsh(problem.hessian).max())


def test_first_order_floor_is_the_small_lr_limit_of_the_exact_one(problem):
    first = problem.noise_floor_first_order(lr=0.02, batch_size=5)
    assert first == pytest.approx(0.02 * np.trace(problem.gradient_noise) / 20)
    assert problem.noise_floor(1e-5, 5) / problem.noise_floor_first_order(1e-5, 5) == pytest.approx(1, abs=1e-3)
    # higher orders only add: the exact floor grows faster than linearly in lr
    ratios = [problem.noise_floor(lr, 5) / problem.noise_floor_first_order(lr, 5) for lr in (0.01, 0.05, 0.1)]
    assert 1 < ratios[0] < ratios[1] < ratios[2]


def _measured_floor(data, problem, lr, batch_size, num_steps=600, num_runs=64, seed=0):
    runs = noise_floor.run_sgd(data.X.double(), data.y.double(), lr, num_steps, batch_size, num_runs=num_runs,
                               seed=seed, eval_every=2)
    later = runs.steps >= num_steps // 3
    return runs.losses[later].mean() - problem.best_loss, runs


def test_exact_floor_matches_sgd_where_the_first_order_one_does_not(data, problem):
    batch_size = 4
    lr = 0.6 * problem.sgd_max_stable_lr(batch_size)
    measured, _ = _measured_floor(data, problem, lr, batch_size)
    exact = problem.noise_floor(lr, batch_size)
    assert measured == pytest.approx(exact, rel=0.1)
    assert problem.noise_floor_first_order(lr, batch_size) < 0.8 * measured


def test_floor_is_inversely_proportional_to_the_batch_size_to_first_order(problem):
    floors = [problem.noise_floor(1e-3, b) for b in (2, 4, 8, 16)]
    assert np.diff(np.log(floors)) / np.log(2) == pytest.approx([-1, -1, -1], abs=0.02)


def test_sgd_stability_limit_against_measurement(data, problem):
    limits = [problem.sgd_max_stable_lr(b) for b in (1, 4, 16, 1e9)]
    assert limits[0] < limits[1] < limits[2] < problem.max_stable_lr
    assert limits[3] == pytest.approx(problem.max_stable_lr, rel=1e-6)   # a full batch: lesson 02's wall
    assert problem.noise_floor(1.01 * limits[1], 4) == math.inf
    _, below = _measured_floor(data, problem, 0.8 * limits[1], 4, num_steps=400, num_runs=16)
    _, above = _measured_floor(data, problem, 1.3 * limits[1], 4, num_steps=400, num_runs=16)
    assert not below.diverged.any() and below.losses[-1].mean() < below.losses[0].mean()
    assert above.losses[-1].mean() > 1e3 * above.losses[0].mean()


def test_relative_spread_matches_measurement(data, problem):
    lr, batch_size = 0.05, 4
    runs = noise_floor.run_sgd(data.X.double(), data.y.double(), lr, 400, batch_size, num_runs=64, seed=1,
                               eval_every=20)
    excess = runs.losses[runs.steps >= 100] - problem.best_loss          # nearly independent samples
    assert excess.std() / excess.mean() == pytest.approx(problem.relative_spread(), rel=0.15)


def test_run_sgd_is_plain_sgd_on_each_run(data):
    X, y = data.X, data.y
    n, d = X.shape
    lr, batch_size, num_steps, num_runs, seed = 0.07, 5, 30, 3, 11
    weight, bias = torch.linspace(-1, 1, d), torch.tensor(0.5)
    runs = noise_floor.run_sgd(X, y, lr, num_steps, batch_size, num_runs=num_runs, weight=weight, bias=bias,
                               seed=seed)
    generator = torch.Generator().manual_seed(seed)
    indices = [torch.randint(0, n, (num_runs, batch_size), generator=generator) for _ in range(num_steps)]
    for r in range(num_runs):
        model = torch.nn.Linear(d, 1)
        with torch.no_grad():
            model.weight.copy_(weight[None, :])
            model.bias.fill_(float(bias))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        curve = []
        for idx in indices:
            optimizer.zero_grad()
            ((model(X[idx[r]]).squeeze(-1) - y[idx[r]]) ** 2).mean().backward()
            optimizer.step()
            with torch.no_grad():
                curve.append(float(((model(X).squeeze(-1) - y) ** 2).mean()))
        assert runs.losses[1:, r] == pytest.approx(np.array(curve), rel=1e-5)


def test_run_sgd_steps_the_scheduler_and_records_the_lrs(data):
    threads = torch.get_num_threads()
    runs = noise_floor.run_sgd(data.X, data.y, 0.1, 6, 4, num_runs=2, eval_every=3,
                               scheduler=lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5))
    assert runs.lrs == pytest.approx(0.1 * 0.5 ** np.arange(6))
    assert runs.steps.tolist() == [0, 3, 6] and runs.losses.shape == (3, 2)
    assert torch.get_num_threads() == threads   # run_sgd works on one thread and gives the others back


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), "lr"), (dict(batch_size=0), "batch_size"), (dict(num_runs=0), "num_runs"),
    (dict(num_steps=2.5), "num_steps"), (dict(eval_every=0), "eval_every"),
])
def test_run_sgd_rejects_bad_arguments(data, kwargs, match):
    args = dict(lr=0.1, num_steps=5, batch_size=4) | kwargs
    with pytest.raises(ValueError, match=match):
        noise_floor.run_sgd(data.X, data.y, **args)


def test_least_squares_rejects_bad_data(problem):
    with pytest.raises(ValueError, match="shape"):
        noise_floor.least_squares(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="linearly dependent"):
        noise_floor.least_squares(np.ones((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="batch_size"):
        problem.noise_floor(0.01, 0.5)
    with pytest.raises(ValueError, match="lr"):
        problem.noise_floor_first_order(0.0, 4)
