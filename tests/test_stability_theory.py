"""Stability theory of GD on quadratics (surfaces.Quadratic) against numerical runs (descent)."""
import math

import numpy as np
import pytest

from course_utils import descent, surfaces


def random_spd(seed, dim):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    lambdas = np.exp(rng.uniform(np.log(0.1), np.log(20.0), size=dim))
    A = q @ np.diag(lambdas) @ q.T
    return surfaces.Quadratic(0.5 * (A + A.T))


CASES = [(seed, dim) for seed in range(6) for dim in (2, 3, 5)]


def _start(bowl, seed):
    # a start with a component along every eigenvector, the steepest included
    return np.random.default_rng(100 + seed).normal(size=bowl.dim)


@pytest.mark.parametrize("seed, dim", CASES)
def test_gd_converges_just_below_and_diverges_just_above_the_bound(seed, dim):
    bowl = random_spd(seed, dim)
    w0 = _start(bowl, seed)
    below = descent.run_gd(bowl.grad, w0, 0.98 * bowl.max_stable_lr, num_steps=3000)
    above = descent.run_gd(bowl.grad, w0, 1.02 * bowl.max_stable_lr, num_steps=3000)
    assert not below.diverged and bowl.value(below.points[-1]) < bowl.value(w0)
    assert above.diverged


@pytest.mark.parametrize("seed, dim", CASES)
@pytest.mark.parametrize("fraction", [0.3, 0.9, 1.0, 1.5, 1.9])
def test_measured_contraction_per_step_matches_the_worst_factor(seed, dim, fraction):
    bowl = random_spd(seed, dim)
    lr = fraction * bowl.best_lr if fraction <= 1 else fraction * bowl.max_stable_lr / 2
    run = descent.run_gd(bowl.grad, _start(bowl, seed), lr, num_steps=400)
    norms = np.linalg.norm(run.points, axis=1)
    # after the transient the slowest direction dominates: |w| shrinks by max|1 - lr λ| per step;
    # measure before the iterates reach the floating-point floor
    alive = np.flatnonzero(norms > 1e-150 * norms[0])
    k = min(int(alive[-1]), 300)
    j = max(k - 50, k // 2)
    assert k - j >= 5
    measured = (norms[k] / norms[j]) ** (1.0 / (k - j))
    assert measured == pytest.approx(bowl.rate(lr), rel=2e-2)


@pytest.mark.parametrize("seed, dim", CASES)
def test_best_lr_has_the_smallest_worst_factor_and_the_promised_rate(seed, dim):
    bowl = random_spd(seed, dim)
    grid = np.linspace(0.01, 1.99, 4001) * bowl.best_lr
    rates = np.array([bowl.rate(lr) for lr in grid])
    assert abs(grid[np.argmin(rates)] / bowl.best_lr - 1) < 1e-3
    assert bowl.rate(bowl.best_lr) == pytest.approx(bowl.best_rate, rel=1e-12)
    kappa = bowl.condition_number
    assert bowl.best_rate == pytest.approx((kappa - 1) / (kappa + 1))
    assert bowl.rate(bowl.max_stable_lr) == pytest.approx(1.0)


def test_sweep_matches_steps_to_tolerance_one_by_one():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    lrs = np.geomspace(0.005, 0.3, 15)
    sweep = descent.sweep_lr(bowl, [-1.8, 1.2], lrs, tol=1e-6, max_steps=5000)
    one_by_one = [descent.steps_to_tolerance(bowl, [-1.8, 1.2], lr, tol=1e-6, max_steps=5000) for lr in lrs]
    assert sweep.steps.tolist() == [float(s) for s in one_by_one]
    assert sweep.diverged.tolist() == [bool(lr > bowl.max_stable_lr) for lr in lrs]


@pytest.mark.parametrize("kappa", [4.0, 10.0, 30.0])
def test_sweep_on_a_log_grid_finds_best_lr_and_the_wall(kappa):
    bowl = surfaces.make_bowl((10.0 / kappa, 10.0), angle_deg=30.0)
    lrs = np.geomspace(1e-3, 0.5, 60)
    step = np.log(lrs[1] / lrs[0])
    sweep = descent.sweep_lr(bowl, [-1.8, 1.2], lrs, tol=1e-10, max_steps=20_000)
    assert abs(np.log(sweep.best_lr / bowl.best_lr)) <= step
    assert sweep.first_diverging_lr == lrs[lrs > bowl.max_stable_lr][0]


def test_slow_but_stable_is_not_diverged():
    bowl = surfaces.make_bowl((1.0, 10.0))
    sweep = descent.sweep_lr(bowl, [1.0, 1.0], [1e-4, 0.1], tol=1e-6, max_steps=100)
    assert sweep.steps[0] == math.inf and not sweep.diverged[0]
    assert sweep.first_diverging_lr == math.inf


@pytest.mark.parametrize("kwargs, match", [
    (dict(lrs=[0.1, -1.0]), "positive"),
    (dict(lrs=[0.1], tol=2.0), "tol"),
    (dict(lrs=[0.1], max_steps=0), "max_steps"),
])
def test_sweep_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        descent.sweep_lr(surfaces.make_bowl((1.0, 2.0)), [1.0, 1.0], **kwargs)


def test_plateau_surface_gradient_and_hessian_match_finite_differences():
    surface = surfaces.PlateauSurface()
    rng = np.random.default_rng(0)
    h = 1e-6
    for w in rng.uniform(-6, 6, size=(20, 2)):
        numeric = np.array([(surface.value(w + h * e) - surface.value(w - h * e)) / (2 * h) for e in np.eye(2)])
        assert np.allclose(surface.grad(w), numeric, atol=1e-7)
        numeric_h = np.array([(surface.grad(w + h * e) - surface.grad(w - h * e)) / (2 * h) for e in np.eye(2)])
        assert np.allclose(surface.hessian(w), numeric_h, atol=1e-6)
    assert surface.grad(np.zeros((4, 3, 2))).shape == (4, 3, 2)


def test_plateau_surface_tiny_lr_stalls_small_lr_is_trapped_moderate_lr_gets_through():
    surface = surfaces.PlateauSurface()
    runs = {lr: descent.run_gd(surface.grad, surface.start, lr, num_steps=500) for lr in (0.01, 0.1, 2.5)}
    end = {lr: run.points[-1] for lr, run in runs.items()}
    assert np.linalg.norm(end[0.01] - surface.start) < 0.5                   # still on the plateau
    assert np.linalg.norm(end[0.1] - np.array(surface.trap_center)) < 0.2   # in the local minimum
    assert surface.value(end[0.1]) > 0.5
    assert np.linalg.norm(end[2.5]) < 1e-6                                  # at the global minimum
    trap_curvature = np.linalg.eigvalsh(surface.hessian(end[0.1])).min()
    well_curvature = np.linalg.eigvalsh(surface.hessian(np.zeros(2))).max()
    assert 2 / trap_curvature < 2.5 < 2 / well_curvature


def test_plateau_surface_rejects_bad_parameters():
    with pytest.raises(ValueError, match="trap_width"):
        surfaces.PlateauSurface(trap_width=0.0)
    with pytest.raises(ValueError, match="trap_center"):
        surfaces.PlateauSurface(trap_center=(1.0, 2.0, 3.0))


@pytest.mark.parametrize("seed, dim", CASES[::3])
def test_predicted_steps_are_a_tight_lower_bound_of_the_measured_ones(seed, dim):
    bowl = random_spd(seed, dim)
    w0 = _start(bowl, seed)
    lrs = np.geomspace(0.05, 1.2, 40) * bowl.max_stable_lr
    sweep = descent.sweep_lr(bowl, w0, lrs, tol=1e-8, max_steps=50_000)
    predicted = bowl.predicted_steps(lrs, w0, tol=1e-8)
    stable = lrs < bowl.max_stable_lr
    assert np.all(np.isinf(predicted[~stable])) and np.all(np.isfinite(predicted[stable]))
    ok = np.isfinite(sweep.steps)
    ratio = sweep.steps[ok] / np.ceil(predicted[ok])
    assert ratio.min() >= 1 and ratio.max() < 1 + 0.05 + dim / predicted[ok].min()


def test_predicted_steps_are_exact_when_one_direction_holds_the_loss():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    gentle = np.linalg.eigh(bowl.A)[1][:, 0]
    for lr in (0.01, 0.1, 0.19):
        exact = math.log(1e-6) / (2 * math.log(abs(1 - lr * bowl.lambda_min)))
        assert bowl.predicted_steps(lr, gentle, tol=1e-6) == pytest.approx(exact, rel=1e-9)
        assert descent.steps_to_tolerance(bowl, gentle, lr, tol=1e-6, max_steps=10**5) == math.ceil(exact)
    with pytest.raises(ValueError, match="non-zero point"):
        bowl.predicted_steps(0.1, [0.0, 0.0])


def test_many_starts_at_once_are_the_runs_one_by_one():
    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    starts = surfaces.start_directions(7, radius=2.0)
    many = descent.run_gd_many(bowl.grad, starts, 0.19, 30)
    steps = descent.steps_from_starts(bowl, starts, 0.12, tol=1e-8)
    for i, start in enumerate(starts):
        assert np.allclose(many[:, i], descent.run_gd(bowl.grad, start, 0.19, 30).points, rtol=1e-12, atol=1e-15)
        assert steps[i] == descent.steps_to_tolerance(bowl, start, 0.12, tol=1e-8)
    assert np.all(np.isinf(descent.steps_from_starts(bowl, starts, 0.25)))
    with pytest.raises(ValueError, match="one per row"):
        descent.run_gd_many(bowl.grad, [1.0, 2.0], 0.1, 3)


def test_start_directions_cover_half_a_turn_off_the_axes():
    starts = surfaces.start_directions(12, radius=3.0)
    angles = np.degrees(np.arctan2(starts[:, 1], starts[:, 0]))
    assert np.allclose(np.linalg.norm(starts, axis=1), 3.0)
    assert np.allclose(np.diff(angles), 15.0) and angles[0] == pytest.approx(7.5)
    assert np.all(np.abs(starts) > 1e-9)


@pytest.mark.parametrize("angle, kappa", [(0.0, 10.0), (10.0, 10.0), (30.0, 100.0), (75.0, 5.0)])
def test_diagonal_rescaling_is_the_best_per_coordinate_scale_of_a_2d_bowl(angle, kappa):
    A = surfaces.make_bowl((1.0, kappa), angle_deg=angle).A
    rescaled = surfaces.Quadratic(A).diagonally_rescaled()
    assert np.allclose(np.diag(rescaled.A), 1.0)
    scanned = min(np.linalg.cond(np.diag([1.0, r]) @ A @ np.diag([1.0, r])) for r in np.geomspace(1e-2, 1e2, 4001))
    assert rescaled.condition_number <= scanned * (1 + 1e-9)
    assert rescaled.condition_number == pytest.approx(scanned, rel=1e-3)
