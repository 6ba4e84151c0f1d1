import math

import numpy as np
import pytest

from course_utils import descent, surfaces


def test_bowl_eigen_facts():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30)
    assert np.allclose(bowl.eigenvalues, [1.0, 10.0])
    assert bowl.condition_number == pytest.approx(10.0)
    assert bowl.max_stable_lr == pytest.approx(0.2)
    assert bowl.best_lr == pytest.approx(2 / 11)
    assert bowl.best_rate == pytest.approx(9 / 11)
    assert bowl.rate(bowl.best_lr) == pytest.approx(bowl.best_rate)


def test_value_and_grad_match_finite_differences():
    bowl = surfaces.make_bowl((0.5, 3.0), angle_deg=-40)
    w = np.array([0.7, -1.3])
    eps = 1e-6
    numeric = [(bowl.value(w + eps * e) - bowl.value(w - eps * e)) / (2 * eps) for e in np.eye(2)]
    assert np.allclose(bowl.grad(w), numeric, rtol=1e-6)
    grid = np.random.default_rng(0).normal(size=(4, 5, 2))
    assert bowl.value(grid).shape == (4, 5)
    assert bowl.grad(grid).shape == (4, 5, 2)


@pytest.mark.parametrize("A, message", [
    ([[1.0, 2.0], [0.0, 1.0]], "symmetric"),
    ([[1.0, 0.0], [0.0, -1.0]], "positive definite"),
    ([1.0, 2.0], "square"),
    ([[np.nan, 0.0], [0.0, 1.0]], "NaN"),
])
def test_bad_matrices_are_refused_with_a_reason(A, message):
    with pytest.raises(ValueError, match=message):
        surfaces.Quadratic(A)


def test_make_bowl_refuses_non_positive_curvature():
    with pytest.raises(ValueError, match="positive"):
        surfaces.make_bowl((0.0, 1.0))


def test_run_gd_follows_the_update_rule():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30)
    run = descent.run_gd(bowl.grad, [1.0, -1.0], lr=0.05, num_steps=5)
    assert run.points.shape == (6, 2) and not run.diverged
    for k in range(5):
        assert np.allclose(run.points[k + 1], run.points[k] - 0.05 * bowl.A @ run.points[k])


def test_run_gd_stops_on_divergence_without_warnings():
    bowl = surfaces.make_bowl((1.0, 10.0))
    with np.errstate(all="raise"):  # any overflow inside run_gd would raise here
        run = descent.run_gd(bowl.grad, [1.0, 1.0], lr=0.5, num_steps=10_000)
    assert run.diverged
    assert run.num_steps < 10_000
    assert np.all(np.isfinite(run.points))


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf"), "fast"])
def test_bad_learning_rates_are_refused(lr):
    with pytest.raises(ValueError, match="lr must be"):
        descent.run_gd(lambda w: w, [1.0], lr=lr, num_steps=3)


def test_run_gd_refuses_bad_shapes_and_steps():
    with pytest.raises(ValueError, match="vector"):
        descent.run_gd(lambda w: w, [[1.0, 2.0]], lr=0.1, num_steps=3)
    with pytest.raises(ValueError, match="num_steps"):
        descent.run_gd(lambda w: w, [1.0], lr=0.1, num_steps=-1)


def test_steps_to_tolerance():
    bowl = surfaces.make_bowl((1.0, 10.0))
    # along the gentle axis alone the loss shrinks by (1 - lr)^2 per step
    steps = descent.steps_to_tolerance(bowl, [1.0, 0.0], lr=0.1, tol=1e-6)
    assert steps == math.ceil(math.log(1e-6) / (2 * math.log(0.9)))
    assert descent.steps_to_tolerance(bowl, [1.0, 1.0], lr=0.21) == math.inf
    assert descent.steps_to_tolerance(bowl, [1.0, 1.0], lr=1e-6, max_steps=50) == math.inf
