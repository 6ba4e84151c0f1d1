"""Many runs at once (course_utils.sweeps): each row is the run it stands for, and the figures drawn from them."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import descent, optimizers, plotting, surfaces, sweeps  # noqa: E402

BOWL = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
W0 = [-1.8, 1.2]


def test_each_row_is_the_run_it_stands_for():
    lrs, betas = [0.05, 0.1, 0.2], [0.0, 0.5, 0.9]
    batched = sweeps.run_on_surface(BOWL, W0, "SGD", 40, lr=lrs, momentum=betas)
    for i, (lr, beta) in enumerate(zip(lrs, betas)):
        alone = sweeps.run_on_surface(BOWL, W0, optimizers.SGD, 40, lr=lr, momentum=beta)
        assert np.allclose(batched.points[i], alone.points[0], rtol=1e-13, atol=1e-15)
    assert batched.settings["momentum"].tolist() == betas and batched.settings["lr"].tolist() == lrs


def test_plain_sgd_on_a_surface_is_lesson_01s_gradient_descent():
    for lr in (0.05, 0.19, 0.25):
        ours = sweeps.run_on_surface(BOWL, W0, "SGD", 30, lr=lr)
        gd = descent.run_gd(BOWL.grad, W0, lr, 30)
        assert ours.diverged[0] == gd.diverged
        k = len(gd.points)
        assert np.allclose(ours.points[0, :k], gd.points, rtol=1e-12, atol=1e-14)


def test_rows_match_torch_adam_on_a_surface():
    """The rows of a batched Adam run equal separate torch.optim.Adam runs on the same bowl."""
    lrs = [0.01, 0.1]
    batched = sweeps.run_on_surface(BOWL, W0, "Adam", 50, lr=lrs, betas=(0.9, [0.99, 0.999]))
    for i, (lr, beta2) in enumerate(zip(lrs, [0.99, 0.999])):
        w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w], lr=lr, betas=(0.9, beta2))
        for step in range(50):
            w.grad = torch.from_numpy(BOWL.grad(w.detach().numpy()))
            opt.step()
        assert np.allclose(batched.points[i, -1], w.detach().numpy(), rtol=1e-12)


def test_steps_to_tolerance_agrees_with_lesson_02s_sweep():
    lrs = np.geomspace(0.01, 0.25, 15)
    ours = sweeps.steps_to_tolerance(BOWL, W0, "SGD", tol=1e-6, max_steps=3000, lr=lrs)
    theirs = descent.sweep_lr(BOWL, W0, lrs, tol=1e-6, max_steps=3000)
    assert ours.steps.tolist() == theirs.steps.tolist()
    assert ours.diverged[lrs > 0.2].all() and not ours.diverged[lrs < 0.2].any()
    first = sweeps.steps_to_tolerance(BOWL, W0, "SGD", tol=1e-6, max_steps=3000, first_only=True, lr=lrs)
    assert np.nanmin(first.steps) == theirs.steps.min()
    assert np.isfinite(first.steps).sum() == 1   # it stopped as soon as one arrived


def test_loss_scale_is_a_learning_rate_for_sgd_and_nothing_for_adam():
    scaled = sweeps.run_on_surface(BOWL, W0, "SGD", 30, loss_scale=[1.0, 4.0], lr=0.01)
    plain = sweeps.run_on_surface(BOWL, W0, "SGD", 30, lr=0.04)
    assert np.allclose(scaled.points[1], plain.points[0], rtol=1e-12)
    assert scaled.losses[1, 0] == pytest.approx(4 * scaled.losses[0, 0])
    adam = sweeps.run_on_surface(BOWL, W0, "Adam", 30, loss_scale=[1e-3, 1.0, 1e3], lr=0.05)
    assert np.abs(adam.points - adam.points[1]).max() < 1e-5    # eps/(s|g|) at s = 1e-3 is about 1e-6
    tiny = sweeps.run_on_surface(BOWL, W0, "Adam", 1, loss_scale=1e-12, lr=0.05)
    assert np.abs(tiny.points[0, 1] - W0).max() < 0.01 * 0.05       # eps: the step is no longer lr


def test_divergence_is_recorded_not_raised():
    runs = sweeps.run_on_surface(BOWL, W0, "SGD", 200, lr=[0.1, 0.3])
    assert runs.diverged.tolist() == [False, True]
    assert math.isinf(runs.losses[1, -1]) and np.isfinite(runs.losses[0]).all()
    assert runs.final_loss[0] < 1e-10 and math.isinf(runs.final_loss[1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=[0.1, 0.2], momentum=[0.1, 0.2, 0.3]), "same length"),
    (dict(lr=[[0.1]]), "1D array"),
    (dict(lr=-0.1), "lr must be a finite number >= 0"),
    (dict(lr=0.1, loss_scale=0.0), "loss_scale"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweeps.run_on_surface(BOWL, W0, "SGD", 5, **kwargs)


def test_unknown_optimizer_names_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'Adamax'"):
        sweeps.run_on_surface(BOWL, W0, "Adamax", 5, lr=0.1)


def test_stability_region_plot_draws_the_cells_and_the_boundary_it_was_given():
    lrs, betas = np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.5])
    stable = np.array([[True, True], [False, True], [False, False]])
    boundary = ((2 + 2 * betas) / 10, betas)
    ax = plotting.plot_stability_region(lrs, betas, stable, boundary=boundary)
    (mesh,) = ax.collections
    assert mesh.get_array().reshape(2, 3).T.astype(bool).tolist() == stable.tolist()
    (line,) = ax.lines
    assert np.allclose(np.column_stack(line.get_data()), np.column_stack(boundary))
    plt.close("all")
