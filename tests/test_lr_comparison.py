"""One run per learning rate (course_utils.lr_comparison): the runner shares init, data order and budget;
lesson 07's compare_lrs on it; the reference file built from it."""
import json

import numpy as np
import pytest
import torch

from course_utils import data, lr_comparison, optimizers, reference, training


def test_train_per_lr_shares_initial_weights_and_batches():
    torch.manual_seed(0)
    batches = [(torch.randn(8, 5), torch.randint(0, 3, (8,))) for _ in range(4)]

    def make():
        return torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))

    runs = lr_comparison.train_per_lr(make, "Adam", [1e-3, 1e-2], lambda: list(batches), batches[:1], 2,
                                      progress=False)
    assert isinstance(runs, lr_comparison.Comparison) and list(runs) == [1e-3, 1e-2] and runs.settings is None
    first = [h.step_loss[0] for h in runs.values()]
    assert first[0] == first[1]                                      # same weights, same first batch
    assert runs[1e-3].step_loss[-1] != runs[1e-2].step_loss[-1]
    assert all(h.num_epochs == 2 and len(h.val_loss) == 2 for h in runs.values())
    assert runs[1e-2].label == "Adam lr=1e-2" and repr(runs) == "Comparison(lr 1e-3, 1e-2)"
    threads = torch.get_num_threads()
    again = lr_comparison.train_per_lr(make, optimizers.Adam, [1e-2], lambda: list(batches), None, 2,
                                       progress=False, num_threads=1)
    assert again[1e-2].step_loss == pytest.approx(runs[1e-2].step_loss, rel=1e-6)   # seeded: the same run twice
    assert torch.get_num_threads() == threads                        # the thread setting is restored
    momentum = lr_comparison.train_per_lr(make, torch.optim.SGD, [1e-2], lambda: list(batches), None, 1,
                                          progress=False, momentum=0.9)
    assert momentum.models[1e-2] is not None and momentum[1e-2].label == "SGD lr=1e-2"


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_threads=0), "num_threads"), (dict(lrs=[]), "lrs is empty"), (dict(lrs=[1e-2, -1.0]), "each of lrs"),
    (dict(num_epochs=1.5), "num_epochs"), (dict(probe_every=-1), "probe_every"),
    (dict(optimizer="adam"), "unknown optimizer 'adam'"), (dict(optimizer=0.1), "optimizer must be"),
])
def test_train_per_lr_rejects_bad_arguments(kwargs, match):
    args = dict(make_model=lambda: torch.nn.Linear(2, 2), optimizer=torch.optim.SGD, lrs=[1e-2],
                make_train_loader=list, val_data=None, num_epochs=1, progress=False)
    with pytest.raises(ValueError, match=match):
        lr_comparison.train_per_lr(**{**args, **kwargs})


def _arrays(num_train=80, num_test=20, num_val=16, seed=0):
    rng = np.random.default_rng(seed)
    arrays = data.CifarArrays(rng.integers(0, 256, (num_train, 32, 32, 3), dtype=np.uint8),
                              rng.integers(0, 10, num_train),
                              rng.integers(0, 256, (num_test, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, num_test))
    return arrays.split_validation(num_val) if num_val else arrays


def test_compare_lrs_shares_init_data_order_and_budget():
    arrays = _arrays()
    settings = lr_comparison.Experiment(lrs=(1e-3, 1e-3, 1e-4), num_epochs=2, batch_size=16, train_eval_size=24)
    result = lr_comparison.compare_lrs(arrays, settings, device="cpu", progress=False)
    assert isinstance(result, lr_comparison.Comparison) and list(result) == [1e-3, 1e-4]  # a repeated lr is one run
    assert set(result.models) == {1e-3, 1e-4} and result.probes == {}  # no probe unless asked
    again = lr_comparison.compare_lrs(arrays, lr_comparison.Experiment(lrs=(1e-3,), num_epochs=2, batch_size=16,
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


def test_compare_lrs_needs_a_validation_set():
    with pytest.raises(ValueError, match="split_validation"):
        lr_comparison.compare_lrs(_arrays(num_val=0), lr_comparison.Experiment(num_epochs=1), device="cpu",
                                  progress=False)


def test_compare_lrs_probes_each_run_when_asked():
    settings = lr_comparison.Experiment(lrs=(1e-2, 1e-4), num_epochs=1, batch_size=16, probe_every=2, probe_images=8)
    result = lr_comparison.compare_lrs(_arrays(), settings, device="cpu", progress=False)
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
            lr_comparison.Experiment(**bad)


def test_reference_writes_small_json_and_loads_back(tmp_path, monkeypatch, capsys):
    arrays = _arrays(num_train=40, num_test=10, num_val=0)
    monkeypatch.setattr(reference, "load_cifar", lambda mode: arrays)
    monkeypatch.setattr(reference, "EXPERIMENTS", {"adam": lr_comparison.Experiment(lrs=(1e-3, 1e-5), batch_size=16)})
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


def test_repeat_over_seeds_scores_every_run_image_by_image():
    arrays = _arrays()
    settings = lr_comparison.Experiment(lrs=(1e-3, 1e-4), num_epochs=1, batch_size=16, train_eval_size=24,
                                        probe_every=2, probe_images=8)
    first = lr_comparison.compare_lrs(arrays, settings, device="cpu", progress=False)
    runs = lr_comparison.repeat_over_seeds(arrays, settings, (0, 1), first=first, device="cpu", progress=False)
    assert runs.comparisons[0] is first and runs.comparisons[1].probes == {}   # reused; other seeds unprobed
    assert runs.comparisons[1][1e-3].step_loss[0] != first[1e-3].step_loss[0]  # another seed, another start
    for lr in (1e-3, 1e-4):
        assert runs.val_correct[lr].shape == (2, 16) and runs.train_correct[lr].shape == (2, 24)
        # the per-image scores are the accuracy the history recorded for the final network
        assert runs.val_correct[lr].mean(axis=1).tolist() == pytest.approx([c[lr].val_acc[-1] for c in runs.comparisons])
        assert runs.train_correct[lr].mean(axis=1).tolist() == pytest.approx(
            [c[lr].train_eval_acc[-1] for c in runs.comparisons])
    d = runs.difference(1e-3, 1e-4)
    assert d.seeds == 2 and d.examples == 16 and d.estimate == pytest.approx(
        (runs.val_correct[1e-3] - runs.val_correct[1e-4]).mean())
    assert runs.per_seed(lambda h: h.num_steps)[1e-3].tolist() == [4, 4]
    alone = lr_comparison.repeat_over_seeds(arrays, settings, (3,), device="cpu", progress=False)
    assert set(alone.comparisons[0].probes) == {1e-3, 1e-4}   # without `first`, the first seed is probed
    with pytest.raises(ValueError, match="not among seeds"):
        lr_comparison.repeat_over_seeds(arrays, settings, (1, 2), first=first, device="cpu", progress=False)
    with pytest.raises(ValueError, match="distinct"):
        lr_comparison.repeat_over_seeds(arrays, settings, (1, 1), device="cpu", progress=False)
