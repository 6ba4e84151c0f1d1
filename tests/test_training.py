"""fit(...) -> History: contents, train-eval accuracy, divergence, schedulers, repeatability; autocast."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import data, models, summaries, training


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
    assert h.train_eval_acc == [] and h.val_size == 0 and math.isnan(summaries.generalization_gap(h))


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
    assert summaries.generalization_gap(h) == 0.0
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


def test_fresh_cnn_is_the_seeded_cnn_in_the_training_memory_format():
    a = models.fresh_cnn(3)
    torch.rand(5)  # whatever ran in between
    b, other = models.fresh_cnn(3), models.fresh_cnn(4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0][0].weight, other[0][0].weight)
    torch.manual_seed(3)
    assert torch.equal(a[0][0].weight, models.make_cnn()[0][0].weight)  # make_cnn right after seeding
    conv = a[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) == training.default_channels_last("cpu")
    assert models.fresh_cnn(3, channels_last=False)[0][0].weight.is_contiguous()
    assert models.has_batchnorm(models.fresh_cnn(0, "cpu", batchnorm=True))


def test_lr_label_writes_powers_of_ten_the_course_way():
    assert [training.lr_label(v) for v in (1e-2, 1e-3, 1e-5, 3e-4, 0.1)] == ["1e-2", "1e-3", "1e-5", "3e-4", "0.1"]


def test_fit_takes_inputs_that_are_not_images():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    batches = [(torch.randn(4, 5), torch.randint(0, 3, (4,))) for _ in range(3)]
    h = training.fit(model, batches, batches, torch.optim.SGD(model.parameters(), lr=0.1), 2, progress=False)
    assert h.num_steps == 6 and len(h.val_acc) == 2
