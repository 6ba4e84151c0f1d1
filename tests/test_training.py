"""fit(...) -> History: contents, train-eval accuracy, divergence, schedulers, repeatability; autocast; the lr
comparison; summaries with standard errors; the reference file."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import data, models, reference, training


def _toy(n=48, seed=0):
    """A tiny separable problem: 10 classes of 8-pixel images (fits any model that reads (N, 3, 32, 32))."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.randn(n, 3, 32, 32, generator=g) * 0.1 + y[:, None, None, None].float() / 10
    return x, y


def _batches(x, y, batch_size=8):
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def _small_cnn(seed=0):
    torch.manual_seed(seed)
    return models.make_cnn(channels=(4, 8, 8), hidden=16)


def test_history_holds_per_step_and_per_epoch_data():
    x, y = _toy()
    train, val = _batches(x, y), _batches(x[:16], y[:16])
    model = _small_cnn()
    h = training.fit(model, train, val, torch.optim.Adam(model.parameters(), lr=1e-3), num_epochs=3,
                     progress=False, label="toy")
    assert (h.num_steps, h.num_epochs, h.steps_per_epoch) == (18, 3, 6)
    assert len(h.step_lr) == 18 and set(h.step_lr) == {1e-3} and h.lr == 1e-3
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time"):
        assert len(getattr(h, key)) == 3, key
    assert all(0 <= a <= 1 for a in h.train_acc + h.val_acc)
    assert all(isinstance(v, float) and math.isfinite(v) for v in h.step_loss)
    assert h.train_loss[0] == pytest.approx(np.mean(h.step_loss[:6]))
    assert not h.diverged and h.diverged_step is None and h.wall_time >= sum(h.epoch_time) * 0.99
    assert h.label == "toy"
    assert h.train_eval_acc == [] and h.val_size == 16 and h.train_eval_size == 0  # no train_eval_data given
    # Plain data: JSON and back.
    again = training.History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again == h


def test_histories_written_before_train_eval_existed_still_load():
    old = {"label": "adam lr=1e-3", "lr": 1e-3, "train_acc": [0.4], "val_acc": [0.45], "train_loss": [1.6]}
    h = training.History.from_dict(old)
    assert h.train_eval_acc == [] and h.val_size == 0 and math.isnan(training.generalization_gap(h))


def test_val_numbers_match_evaluate():
    x, y = _toy()
    model = _small_cnn()
    h = training.fit(model, _batches(x, y), _batches(x, y, 20), torch.optim.SGD(model.parameters(), lr=0.05),
                     num_epochs=1, progress=False)
    loss, acc = training.evaluate(model, _batches(x, y, 20))
    assert h.val_loss[-1] == pytest.approx(loss, rel=1e-5) and h.val_acc[-1] == pytest.approx(acc)


def test_train_eval_accuracy_is_measured_like_validation_on_the_given_training_images():
    x, y = _toy()
    model = _small_cnn()
    train, clean = _batches(x, y), _batches(x[:24], y[:24], 12)
    h = training.fit(model, train, clean, torch.optim.Adam(model.parameters(), lr=1e-3), num_epochs=2,
                     progress=False, train_eval_data=clean)
    # The same images through train_eval_data and val_data give the same numbers: same mode, no augmentation.
    assert h.train_eval_acc == h.val_acc and h.train_eval_loss == h.val_loss
    assert (h.train_eval_size, h.val_size) == (24, 24)
    loss, acc = training.evaluate(model, clean)
    assert h.train_eval_acc[-1] == pytest.approx(acc) and h.train_eval_loss[-1] == pytest.approx(loss, rel=1e-5)
    assert training.generalization_gap(h) == 0.0
    assert h.val_se() == pytest.approx(training.accuracy_se(h.val_acc[-1], 24))


def test_train_eval_accuracy_is_in_eval_mode():
    # Dropout is on in train mode: evaluating in eval mode gives the deterministic, full-network answer.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.9), nn.Linear(3 * 32 * 32, 10))
    x, y = _toy(16)
    h = training.fit(model, _batches(x, y), None, torch.optim.SGD(model.parameters(), lr=1e-9), 1,
                     progress=False, train_eval_data=_batches(x, y))
    model.eval()
    with torch.no_grad():
        want = (model(x).argmax(1) == y).float().mean().item()
    assert h.train_eval_acc[-1] == pytest.approx(want)


def test_accuracy_se_is_the_binomial_standard_error():
    assert training.accuracy_se(0.5, 100) == pytest.approx(0.05)
    assert training.accuracy_se(0.0, 100) == 0.0 and math.isnan(training.accuracy_se(0.5, 0))
    rng = np.random.default_rng(0)  # the spread of measured accuracies of a 60 % classifier on 400 images
    measured = rng.binomial(400, 0.6, size=20000) / 400
    assert np.std(measured) == pytest.approx(training.accuracy_se(0.6, 400), rel=0.02)


def test_autocast_is_fp32_on_the_cpu_and_refuses_unknown_settings():
    assert training.autocast_dtype("cpu", "auto") is None and training.autocast_dtype("cuda", False) is None
    with training.autocast("cpu", True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with pytest.raises(ValueError, match="amp must be"):
        training.autocast_dtype("cuda", "half")


def test_the_benchmark_uses_the_trainers_public_autocast():
    import inspect

    from course_utils import benchmark

    source = inspect.getsource(benchmark)
    assert "training import autocast, autocast_dtype" in source and "_autocast" not in source


def test_a_huge_lr_diverges_cleanly_and_records_where():
    x, y = _toy()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    h = training.fit(model, _batches(x * 100, y), _batches(x, y), torch.optim.SGD(model.parameters(), lr=1e35),
                     num_epochs=5, progress=False)
    assert h.diverged and h.diverged_step is not None
    assert h.diverged_step == h.num_steps - 1 < 5 * 6
    assert not math.isfinite(h.step_loss[-1]) and all(math.isfinite(v) for v in h.step_loss[:-1])
    assert len(h.step_lr) == h.num_steps
    assert json.loads(json.dumps(h.to_dict()))["step_loss"][-1] is None  # valid JSON, no NaN literal
    # The weights are those before the non-finite step: finite on the CPU.
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_scheduler_steps_per_step_or_per_epoch_as_asked():
    x, y = _toy(32)
    for interval, expected in (("step", [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125]),
                               ("epoch", [1.0] * 4 + [0.5] * 4)):
        model = _small_cnn()
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        h = training.fit(model, _batches(x, y), None, opt, num_epochs=2, scheduler=sched,
                         scheduler_interval=interval, progress=False)
        assert h.step_lr == pytest.approx(expected), interval
    with pytest.raises(ValueError, match="scheduler_interval"):
        training.fit(model, _batches(x, y), None, opt, 1, scheduler=sched, progress=False)


def test_reduce_on_plateau_reads_the_validation_loss():
    x, y = _toy(16)
    model = _small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)  # nothing moves: a plateau
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=0)
    h = training.fit(model, _batches(x, y), _batches(x, y), opt, 3, scheduler=sched,
                     scheduler_interval="epoch", progress=False)
    assert h.step_lr[0] == pytest.approx(1e-6) and h.step_lr[-1] == pytest.approx(1e-7)


def test_fit_is_repeatable_on_the_cpu_with_seeds():
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 64)

    def run():
        model = _small_cnn(seed=1)
        loader = data.DeviceLoader(images, labels, batch_size=16, seed=7)
        return training.fit(model, loader, None, torch.optim.Adam(model.parameters(), lr=1e-3), 2, progress=False)

    a, b = run(), run()
    assert a.step_loss == b.step_loss and a.train_acc == b.train_acc


def test_fit_rejects_bad_arguments():
    model = _small_cnn()
    with pytest.raises(ValueError, match="num_epochs"):
        training.fit(model, [], None, torch.optim.SGD(model.parameters(), lr=0.1), -1)


def _arrays(num_train=80, num_test=20, num_val=16, seed=0):
    rng = np.random.default_rng(seed)
    arrays = data.CifarArrays(rng.integers(0, 256, (num_train, 32, 32, 3), dtype=np.uint8),
                              rng.integers(0, 10, num_train),
                              rng.integers(0, 256, (num_test, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, num_test))
    return arrays.split_validation(num_val) if num_val else arrays


def test_compare_lrs_shares_init_data_order_and_budget():
    arrays = _arrays()
    settings = training.Experiment(lrs=(1e-3, 1e-3, 1e-4), num_epochs=2, batch_size=16, train_eval_size=24)
    result = training.compare_lrs(arrays, settings, device="cpu", progress=False)
    assert isinstance(result, training.Comparison) and list(result) == [1e-3, 1e-4]  # a repeated lr is one run
    assert set(result.models) == {1e-3, 1e-4} and result.probes == {}  # no probe unless asked
    again = training.compare_lrs(arrays, training.Experiment(lrs=(1e-3,), num_epochs=2, batch_size=16,
                                                             train_eval_size=24), device="cpu", progress=False)
    assert again[1e-3].step_loss == result[1e-3].step_loss  # same init and order whatever ran before
    assert result[1e-4].step_loss[0] == result[1e-3].step_loss[0]  # the first loss is before any update
    assert {h.num_steps for h in result.values()} == {8}  # 64 training images after the split: 2 epochs of 4
    for h in result.values():  # curves on the held-out validation images, training accuracy on 24 clean ones
        assert (h.val_size, h.train_eval_size, len(h.train_eval_acc)) == (16, 24, 2)
    model = result.models[1e-4]  # the trained model gives the history's last validation accuracy
    val = data.DeviceLoader(arrays.x_val, arrays.y_val, 500, train=False)
    assert training.evaluate(model, val)[1] == pytest.approx(result[1e-4].val_acc[-1])
    assert "lr 1e-3, 1e-4" in repr(result)


def test_compare_lrs_needs_a_validation_set_and_says_where_the_models_went():
    with pytest.raises(ValueError, match="split_validation"):
        training.compare_lrs(_arrays(num_val=0), training.Experiment(num_epochs=1), device="cpu", progress=False)
    with pytest.raises(TypeError, match="comparison.models"):
        training.compare_lrs(_arrays(), training.Experiment(num_epochs=1), return_models=True)


def test_compare_lrs_probes_each_run_when_asked():
    settings = training.Experiment(lrs=(1e-2, 1e-4), num_epochs=1, batch_size=16, probe_every=2, probe_images=8)
    result = training.compare_lrs(_arrays(), settings, device="cpu", progress=False)
    for lr, record in result.probes.items():
        assert record.ratio_steps == [0, 2] and record.dead_steps == [0, 2, 4]
        assert record.dead["conv1"][0] == result.probes[1e-2].dead["conv1"][0]  # same initial network
    # Adam moves each weight by about lr per step: the ratio scales with lr.
    big, small = (np.mean(result.probes[lr].update_ratio["fc1"]) for lr in (1e-2, 1e-4))
    assert 30 < big / small < 300


def test_experiment_rejects_bad_settings():
    for bad, match in [(dict(lrs=(-1e-3,)), "lrs"), (dict(lrs=()), "lrs"), (dict(optimizer="lbfgs"), "optimizer"),
                       (dict(batch_size=0), "batch_size"), (dict(probe_every=-1), "probe_every"),
                       (dict(train_eval_size=0), "train_eval_size")]:
        with pytest.raises(ValueError, match=match):
            training.Experiment(**bad)


def test_summary_gap_and_noise():
    h = training.History(lr=1e-3, step_loss=[2.0, 1.9, 1.8, 1.7], train_loss=[1.5], train_acc=[0.55],
                         train_eval_acc=[0.8], val_loss=[1.6], val_acc=[0.6], steps_per_epoch=4,
                         val_size=1000, train_eval_size=500)
    assert training.generalization_gap(h) == pytest.approx(0.2)  # on the eval-mode training accuracy
    assert training.loss_noise(h) == pytest.approx(0.0, abs=1e-12)  # a steady fall is trend, not noise
    h2 = training.History(lr=1e-2, step_loss=[2.0, 1.0, 2.0, 2.0, 1.0], train_acc=[0.5], val_acc=[0.4, 0.5],
                          train_eval_acc=[0.5, 0.5], train_loss=[1.6], val_loss=[1.6], steps_per_epoch=5,
                          val_size=100, train_eval_size=100)
    assert training.loss_noise(h2) > 0
    rows = training.summarize({1e-3: h, 1e-2: h2})
    assert rows[0]["best_val_acc"] == 0.6 and rows[1]["gap"] == 0.0 and rows[1]["best_epoch"] == 2
    assert rows[0]["final_train_acc"] == 0.8 and rows[0]["batch_acc"] == 0.55
    assert rows[0]["val_se"] == pytest.approx(math.sqrt(0.6 * 0.4 / 1000))
    assert rows[1]["gap_se"] == pytest.approx(math.hypot(0.05, 0.05))
    table = training.format_summary(rows)
    assert "1e-3" in table and "60.0 ± 1.5%" in table and "+20.0 ± 2.4" in table and "50.0 ± 5.0% ( 2)" in table
    assert math.isnan(training.generalization_gap(training.History(train_acc=[0.5], val_acc=[0.4])))


def test_summary_spread_over_seeds():
    def run(acc):
        return {1e-3: training.History(val_acc=[acc], train_eval_acc=[acc], val_size=100, train_eval_size=100)}

    seeds = [run(0.50), run(0.54), run(0.58)]
    assert training.final_over_seeds(seeds)[1e-3].tolist() == [0.50, 0.54, 0.58]
    row = training.summarize(seeds[0], seeds=seeds)[0]
    assert row["num_seeds"] == 3 and row["seed_mean_val_acc"] == pytest.approx(0.54)
    assert row["seed_sd_val_acc"] == pytest.approx(0.04)
    assert "val acc over 3 seeds" in training.format_summary([row]) and "54.0 ± 4.0%" in training.format_summary([row])
    with pytest.raises(ValueError, match="same learning rates"):
        training.final_over_seeds([run(0.5), {1e-4: run(0.5)[1e-3]}])


def test_reference_writes_small_json_and_loads_back(tmp_path, monkeypatch, capsys):
    arrays = _arrays(num_train=40, num_test=10, num_val=0)
    monkeypatch.setattr(reference, "load_cifar", lambda mode: arrays)
    monkeypatch.setattr(reference, "EXPERIMENTS", {"adam": training.Experiment(lrs=(1e-3, 1e-5), batch_size=16)})
    monkeypatch.setattr(reference, "EXTRA_SEEDS", {"adam": (1,)})
    out = tmp_path / "ref.json"
    assert reference.main(["--mode", "fast", "--num-epochs", "1", "--out", str(out)]) == 0
    assert "test accuracy of the run validation picked" in capsys.readouterr().out
    raw = json.loads(out.read_text())
    assert raw["mode"] == "fast" and "torch" in raw["versions"] and raw["device"].startswith("cpu")
    assert (raw["num_train"], raw["num_val"], raw["num_test"]) == (32, 8, 10)  # a fifth held out for validation
    experiment = raw["experiments"]["adam"]
    assert set(experiment["seeds"]) == {"0", "1"} and set(experiment["seeds"]["1"]) == {"0.001", "1e-05"}
    assert experiment["probes"]["0.001"]["ratio_steps"] == [0, 1]  # two steps per epoch, a record each
    assert raw["test"]["lr"] in (1e-3, 1e-5) and 0 <= raw["test"]["test_acc"] <= 1
    loaded = reference.load_reference(out)
    h = loaded["experiments"]["adam"]["histories"][1e-3]
    assert isinstance(h, training.History) and h.num_epochs == 1 and len(h.train_eval_acc) == 1
    assert reference.load_reference(tmp_path / "missing.json") is None
    with pytest.raises(SystemExit):  # a small run may not overwrite the lesson's reference file
        reference.main(["--mode", "fast"])


def test_dead_fraction_counts_units_that_never_fire():
    model = _small_cnn()
    x, _ = _toy(8)
    alive = models.dead_fraction(model, x)
    assert len(alive) == 4 and all(0 <= f < 1 for f in alive)
    with torch.no_grad():  # push every first-layer pre-activation below zero
        model[0][0].weight.zero_()
        model[0][0].bias.fill_(-1.0)
    assert models.dead_fraction(model, x)[0] == 1.0
    assert model.training  # the mode is restored


def test_lr_label_writes_powers_of_ten_the_course_way():
    assert [training.lr_label(v) for v in (1e-2, 1e-3, 1e-5, 3e-4, 0.1)] == ["1e-2", "1e-3", "1e-5", "3e-4", "0.1"]


def test_fit_takes_inputs_that_are_not_images():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    batches = [(torch.randn(4, 5), torch.randint(0, 3, (4,))) for _ in range(3)]
    h = training.fit(model, batches, batches, torch.optim.SGD(model.parameters(), lr=0.1), 2, progress=False)
    assert h.num_steps == 6 and len(h.val_acc) == 2
