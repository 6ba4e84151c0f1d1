"""Lesson 05's experiments (course_utils.schedule_runs), its diagnosis curves (run_faults) and figures
(plotting.schedule_runs): tuned comparisons pair their seeds, the plateau protocol reports the runs it
scored, per-image correctness matches the history, and each figure draws the data it is given."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import plotting, regression, run_faults, schedule_runs, schedules, synthetic  # noqa: E402
from course_utils.data import CifarArrays  # noqa: E402


@pytest.fixture(scope="module")
def problem():
    return synthetic.make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)


def test_tuned_finals_picks_the_best_peak_on_tuning_seeds_and_scores_fresh_ones(problem):
    grid = [0.08, 0.02, 0.005]
    tuned = schedule_runs.tuned_finals(problem, ("constant", "cosine"), grid, 300, 8, (0, 1), (10, 11, 12))
    for name in ("constant", "cosine"):
        assert tuned.best_lr[name] == grid[int(np.argmin(tuned.tune_mean[name]))]
        # the fresh-seed score is exactly a run of that schedule at that peak on those seeds
        lrs = tuned.best_lr[name] * schedules.lr_trace(schedule_runs.recipe(name, 300), 300, lr=1.0)
        again = regression.run(problem, 300, 8, lr=lrs[None], seeds=(10, 11, 12), start="uniform")
        np.testing.assert_allclose(tuned.test_final[name], again.final_excess()[0])


def test_tuned_plateau_reports_cuts_and_a_diverged_start_never_wins(problem):
    plateau = schedule_runs.tuned_plateau(problem, (0.1, 0.5), [50.0, 0.05, 0.01], 300, 8, (0, 1), (10, 11))
    assert set(plateau.test_final) == {"factor 0.1", "factor 0.5"}
    assert all(lr != 50.0 for lr in plateau.best_lr.values())          # lr 50 diverges on this problem
    runs = plateau.test_runs["factor 0.5"]
    assert schedule_runs.cuts_per_run(runs) == np.mean((np.diff(runs.lr[0], axis=-1) < 0).sum(-1))


def _tiny_cifar(n_train=96, n_val=32):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)   # noqa: E731
    labels = lambda n: rng.integers(0, 10, n).astype(np.uint8)                # noqa: E731
    return CifarArrays(images(n_train), labels(n_train), images(8), labels(8), name="tiny").split_validation(n_val)


def test_train_cnn_scores_every_validation_image_and_matches_the_history():
    from course_utils import data

    arrays = _tiny_cifar()
    val = data.DeviceLoader(arrays.x_val, arrays.y_val, 16, train=False)
    run = schedule_runs.train_cnn(arrays, val, lr=1e-3, seed=0, num_epochs=1, batch_size=16,
                                  model_kwargs=dict(channels=(4, 4, 4), hidden=8),
                                  make_scheduler=schedule_runs.recipe("cosine", 4), interval="step")
    assert run.correct.shape == (32,) and set(np.unique(run.correct)) <= {0.0, 1.0}
    assert run.correct.mean() == pytest.approx(run.val_acc)
    assert schedule_runs.correct_matrix([run, run]).shape == (2, 32)


def test_adam_first_steps_moves_live_weights_by_the_lr():
    from course_utils import data, models

    arrays = _tiny_cifar()
    torch.manual_seed(0)
    initial = models.make_cnn().state_dict()
    probe = next(iter(data.DeviceLoader(arrays.x_val, arrays.y_val, 8, train=False)))[0]
    rows = schedule_runs.adam_first_steps(initial, arrays, lr=1e-2, warmup_steps=0, num_steps=2, probe=probe,
                                          batch_size=16)
    assert rows[0]["lr"] == 1e-2 and rows[0]["at_lr"] > 0.9 and rows[0]["step_over_lr"] == pytest.approx(1, rel=0.02)
    warm = schedule_runs.adam_first_steps(initial, arrays, lr=1e-2, warmup_steps=4, num_steps=2, probe=probe,
                                          batch_size=16)
    assert warm[0]["lr"] == pytest.approx(1e-4) and warm[1]["lr"] > warm[0]["lr"]


def test_fault_runs_are_seeded_and_shaped_like_their_cause():
    assert run_faults.fault_run(7) == run_faults.fault_run(7)
    seen = {}
    for seed in range(1, 200):
        run = run_faults.fault_run(seed)
        lr, loss = np.array(run["lr"]), np.array(run["loss"])
        assert len(lr) == len(loss) and len(lr) % run["steps_per_epoch"] == 0 and np.all(np.isfinite(loss))
        seen[run["cause"]] = (lr, loss, run["steps_per_epoch"])
    assert set(seen) == set(run_faults.CAUSES)
    lr, loss, spe = seen["stepped per batch"]
    assert lr[spe] == pytest.approx(lr[0] / 100)                    # both drops inside the first epoch
    lr, loss, spe = seen["needs warmup"]
    assert loss[-1] == pytest.approx(np.log(10), rel=0.1) and loss.max() > 4
    seeds = run_faults.seeds_covering(np.random.default_rng(0), extra=2)
    assert len(seeds) == 7 and {run_faults.fault_run(s)["cause"] for s in seeds} == set(run_faults.CAUSES)


def test_the_figures_draw_the_data_they_are_given(problem):
    intended = [0.1] * 5 + [0.01] * 5
    axes = plotting.plot_call_order(intended, {"right order": (intended, [1.0, 0.6])}, best_loss=0.5)
    np.testing.assert_allclose(axes[0].get_lines()[1].get_ydata(), intended)
    np.testing.assert_allclose(axes[1].get_lines()[0].get_ydata(), [0.5, 0.1])
    runs = {c: run_faults.fault_run(s) for c, s in zip("AB", (1, 2))}
    grid = plotting.plot_fault_runs(runs)
    assert grid.shape == (2, 2) and grid[0, 1].get_title() == "run B"
    np.testing.assert_allclose(grid[1, 0].get_lines()[0].get_ydata(), runs["A"]["loss"])
    plateau = schedule_runs.tuned_plateau(problem, (0.5,), [0.05], 100, 8, (0,), (1,))
    ax_lr, _ = plotting.plot_plateau_runs({"none": plateau.test_runs["factor 0.5"], **plateau.test_runs})
    assert [line.get_label() for line in ax_lr.get_lines()] == ["none", "factor 0.5"]
    plt.close("all")
