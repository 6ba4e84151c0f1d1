"""course_utils.regression: the noise-floor theory against measurement, and every run of the runner against
the same run made one at a time with torch.nn.Linear and torch.optim."""
import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as S

from course_utils import regression, schedules
from course_utils.synthetic import make_linear_regression


@pytest.fixture(scope="module")
def data():
    return make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=7)


@pytest.fixture(scope="module")
def problem(data):
    return regression.least_squares(data.X, data.y)


# ----------------------------------------------------------------------------- the theory

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


def _measured_floor(problem, lr, batch_size, num_steps=600, num_runs=64):
    runs = regression.run(problem, num_steps, batch_size, lr=lr, seeds=range(num_runs), eval_every=2)
    return runs.excess[..., runs.steps >= num_steps // 3].mean(), runs


def test_exact_floor_matches_sgd_where_the_first_order_one_does_not(problem):
    batch_size = 4
    lr = 0.6 * problem.sgd_max_stable_lr(batch_size)
    measured, _ = _measured_floor(problem, lr, batch_size)
    exact = problem.noise_floor(lr, batch_size)
    assert measured == pytest.approx(exact, rel=0.1)
    assert problem.noise_floor_first_order(lr, batch_size) < 0.8 * measured


def test_floor_is_inversely_proportional_to_the_batch_size_to_first_order(problem):
    floors = [problem.noise_floor(1e-3, b) for b in (2, 4, 8, 16)]
    assert np.diff(np.log(floors)) / np.log(2) == pytest.approx([-1, -1, -1], abs=0.02)


def test_sgd_stability_limit_against_measurement(problem):
    limits = [problem.sgd_max_stable_lr(b) for b in (1, 4, 16, 1e9)]
    assert limits[0] < limits[1] < limits[2] < problem.max_stable_lr
    assert limits[3] == pytest.approx(problem.max_stable_lr, rel=1e-6)   # a full batch: lesson 02's wall
    assert problem.noise_floor(1.01 * limits[1], 4) == math.inf
    _, below = _measured_floor(problem, 0.8 * limits[1], 4, num_steps=400, num_runs=16)
    _, above = _measured_floor(problem, 1.3 * limits[1], 4, num_steps=400, num_runs=16)
    assert not below.diverged.any() and below.losses[..., -1].mean() < below.losses[..., 0].mean()
    assert above.losses[..., -1].mean() > 1e3 * above.losses[..., 0].mean()


def test_relative_spread_matches_measurement(problem):
    runs = regression.run(problem, 400, 4, lr=0.05, seeds=range(64), eval_every=20)
    excess = runs.excess[..., runs.steps >= 100]                          # nearly independent samples
    assert excess.std() / excess.mean() == pytest.approx(problem.relative_spread(), rel=0.15)


def test_least_squares_rejects_bad_data(problem):
    with pytest.raises(ValueError, match="shape"):
        regression.least_squares(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="linearly dependent"):
        regression.least_squares(np.ones((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="batch_size"):
        problem.noise_floor(0.01, 0.5)
    with pytest.raises(ValueError, match="lr"):
        problem.noise_floor_first_order(0.0, 4)


# ----------------------------------------------------------------------------- the runs, one at a time in torch

def _one_run(data, seed, num_steps, batch_size, make_optimizer, *, start="zeros", make_scheduler=None,
             plateau=False, eval_every=1):
    """One run, written as a learner would: torch.nn.Linear, a torch.optim optimizer and scheduler, autograd.

    The seed's generator draws, in this order, the start (with start="uniform") and the minibatch rows:
    the convention regression.run documents.
    """
    X, y = data.X.double(), data.y.double()
    n, d = X.shape
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(d, 1).double()
    with torch.no_grad():
        if start == "uniform":
            bound = 1 / math.sqrt(d)
            model.weight.copy_(((2 * torch.rand(d, generator=gen, dtype=torch.float64) - 1) * bound)[None])
            model.bias.copy_(((2 * torch.rand((), generator=gen, dtype=torch.float64) - 1) * bound)[None])
        elif start == "zeros":
            model.weight.zero_(), model.bias.zero_()
        else:
            model.weight.copy_(torch.as_tensor(start[0], dtype=torch.float64)[None]), model.bias.fill_(start[1])
    rows = torch.randint(0, n, (num_steps, batch_size), generator=gen)
    optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer) if make_scheduler else None

    def full():
        with torch.no_grad():
            return ((model(X).squeeze(-1) - y) ** 2).mean().item()

    losses, lrs = [full()], []
    for t in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        ((model(X[rows[t]]).squeeze(-1) - y[rows[t]]) ** 2).mean().backward()
        optimizer.step()
        if scheduler is not None and not plateau:
            scheduler.step()
        if (t + 1) % eval_every == 0 or t + 1 == num_steps:
            losses.append(full())
            if plateau:
                scheduler.step(losses[-1])
    return np.array(losses), np.array(lrs)


def test_every_run_is_torch_sgd_with_its_seeds_start_and_minibatches(data):
    T = 60
    runs = regression.run(data, T, 5, lr=[0.02, 0.07], seeds=(3, 11), start="uniform", eval_every=1)
    assert runs.losses.shape == (2, 2, T + 1) and runs.lr.shape == (2, 2, T) and runs.steps.tolist() == list(range(T + 1))
    for i, lr in enumerate((0.02, 0.07)):
        for j, seed in enumerate((3, 11)):
            want, _ = _one_run(data, seed, T, 5, lambda p, lr=lr: torch.optim.SGD(p, lr=lr), start="uniform")
            assert np.allclose(runs.losses[i, j], want, rtol=1e-10, atol=0)
            assert np.all(runs.lr[i, j] == lr)
    assert runs.settings["lr"].tolist() == [0.02, 0.07] and runs.seeds == (3, 11)


def test_per_step_lrs_and_schedulers_are_the_learners_scheduler(data):
    T, every = 200, 20
    make = lambda o: schedules.make_schedule("onecycle", o, T)  # noqa: E731
    traces = np.stack([schedules.lr_trace(make, T, lr=lr) for lr in (0.05, 0.01)])
    per_step = regression.run(data, T, 8, lr=traces, seeds=(0, 7), start="uniform", eval_every=every)
    stepped = regression.run(data, T, 8, lr=[0.05, 0.01], seeds=(0, 7), start="uniform", eval_every=every,
                             scheduler=make)
    assert per_step.steps.tolist() == list(range(0, T + 1, every))
    for i, lr in enumerate((0.05, 0.01)):
        for j, seed in enumerate((0, 7)):
            want, lrs = _one_run(data, seed, T, 8, lambda p, lr=lr: torch.optim.SGD(p, lr=lr), start="uniform",
                                 make_scheduler=make, eval_every=every)
            for runs in (per_step, stepped):
                assert np.allclose(runs.losses[i, j], want, rtol=1e-10, atol=0)
                assert np.allclose(runs.lr[i, j], lrs, rtol=1e-12)


def test_a_plateau_scheduler_watches_each_runs_own_loss(data):
    T, every = 300, 10
    make = lambda o: S.ReduceLROnPlateau(o, factor=0.3, patience=1)  # noqa: E731
    runs = regression.run(data, T, 8, lr=0.1, seeds=(1, 2), start="uniform", eval_every=every, scheduler=make)
    for j, seed in enumerate((1, 2)):
        want, lrs = _one_run(data, seed, T, 8, lambda p: torch.optim.SGD(p, lr=0.1), start="uniform",
                             make_scheduler=make, plateau=True, eval_every=every)
        assert np.allclose(runs.losses[0, j], want, rtol=1e-10, atol=0)
        assert np.allclose(runs.lr[0, j], lrs, rtol=1e-12)
    assert runs.lr[0, 0, -1] < 0.1 and not np.array_equal(runs.lr[0, 0], runs.lr[0, 1])  # each run cut on its own


def test_any_optimizer_with_per_setting_hyperparameters_from_a_given_start(data):
    start = (np.array([0.5, -1.0, 2.0]), 0.25)
    runs = regression.run(data, 120, 16, optimizer="Adam", lr=[0.01, 0.05], betas=(0.9, [0.99, 0.9]), seeds=(5,),
                          start=start, eval_every=40)
    for i, (lr, beta2) in enumerate([(0.01, 0.99), (0.05, 0.9)]):
        want, _ = _one_run(data, 5, 120, 16, lambda p: torch.optim.Adam(p, lr=lr, betas=(0.9, beta2)), start=start,
                           eval_every=40)
        assert np.allclose(runs.losses[i, 0], want, rtol=1e-10, atol=0)
    assert runs.steps.tolist() == [0, 40, 80, 120]
    assert runs.final_loss(0.5)[:, 0] == pytest.approx(runs.losses[:, 0, -2:].mean(1))
    assert runs.final_excess()[:, 0] == pytest.approx(runs.losses[:, 0, -1] - runs.best_loss)
    momentum = regression.run(data, 50, 16, lr=0.02, momentum=[0.0, 0.9], seeds=(5,), eval_every=50)
    want, _ = _one_run(data, 5, 50, 16, lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9), eval_every=50)
    assert np.allclose(momentum.losses[1, 0], want, rtol=1e-10, atol=0)


def test_same_seed_same_data_whatever_the_setting(data):
    a = regression.run(data, 50, 8, lr=0.05, seeds=(4,), start="uniform", eval_every=10)
    b = regression.run(data, 50, 8, lr=[0.01, 0.05, 0.1], seeds=(4, 5), start="uniform", eval_every=10)
    assert np.allclose(a.losses[0, 0], b.losses[1, 0], rtol=1e-13, atol=0)
    assert np.all(b.losses[:, 0, 0] == b.losses[0, 0, 0]) and b.losses[0, 1, 0] != b.losses[0, 0, 0]


def test_divergence_is_recorded_not_raised(data):
    runs = regression.run(data, 200, 10, lr=[0.01, 10.0], seeds=(0, 1))
    assert runs.diverged.tolist() == [[False, False], [True, True]]
    assert np.isinf(runs.final_loss()[1]).all() and np.isfinite(runs.final_loss()[0]).all()


def test_runs_on_one_thread_and_gives_the_others_back(data):
    threads = torch.get_num_threads()
    regression.run(data, 5, 4, lr=0.1)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), "lr must be a positive"), (dict(lr=np.array([[0.1, -0.1]])), "lr must be a finite number >= 0"),
    (dict(lr=np.full((1, 3), 0.1)), r"shape \(settings, 2\)"), (dict(seeds=()), "seeds"),
    (dict(batch_size=0), "batch_size"), (dict(num_steps=2.5), "num_steps"), (dict(eval_every=0), "eval_every"),
    (dict(start="ones"), "start must be one of zeros, uniform"), (dict(start=([1.0], 0.0)), "3 entries"),
    (dict(optimizer="adam"), "did you mean 'Adam'"), (dict(lr=[0.1, 0.2], momentum=[0.1, 0.2, 0.3]), "same length"),
    (dict(lr=np.full((1, 2), 0.1), scheduler=lambda o: S.StepLR(o, 1)), "not both"),
])
def test_bad_input_gets_a_clear_error(data, kwargs, match):
    args = dict(num_steps=2, batch_size=4, lr=0.1) | kwargs
    with pytest.raises(ValueError, match=match):
        regression.run(data, **args)
    with pytest.raises(ValueError, match="LeastSquares"):
        regression.run(np.zeros((3, 2)), 2, 4, lr=0.1)
