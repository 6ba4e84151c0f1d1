"""TrainingProbe: update-to-weight ratios equal their definition; dead units at init and after training."""
import json

import pytest
import torch

from course_utils import models, training
from course_utils.probes import CS231N_RATIO, ProbeRecord, TrainingProbe


def _net(seed=0):
    torch.manual_seed(seed)
    return models.make_cnn(channels=(4, 8, 8), hidden=16)


def _batches(n=6, batch_size=8, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch_size, 3, 32, 32, generator=g), torch.randint(0, 10, (batch_size,), generator=g))
            for _ in range(n)]


def test_update_ratio_is_lr_times_gradient_norm_over_weight_norm_for_plain_sgd():
    model, lr = _net(), 0.05
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    probe = TrainingProbe(model, optimizer, every=2)
    layers = models.weight_layers(model)
    expected = {}
    for step, (x, y) in enumerate(_batches()):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        if step % 2 == 0:  # plain SGD moves w by -lr * grad, so the ratio is known before the step
            expected[step] = [(lr * m.weight.grad.norm() / m.weight.norm()).item() for _, m in layers]
        optimizer.step()
    record = probe.finish()
    assert record.ratio_steps == [0, 2, 4] and record.layers == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    for i, step in enumerate(record.ratio_steps):
        got = [record.update_ratio[name][i] for name in record.layers]
        assert got == pytest.approx(expected[step], rel=1e-4)
    assert record.dead == {} and record.dead_steps == []  # no images, no dead-unit counts


def test_dead_units_are_counted_at_initialisation_and_after_training():
    model, images = _net(), torch.randn(16, 3, 32, 32)
    at_init = models.dead_fraction(model, images)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    probe = TrainingProbe(model, optimizer, every=4, images=images)
    training.fit(model, _batches(), None, optimizer, num_epochs=1, progress=False, channels_last=False)
    after = models.dead_fraction(model, images)
    record = probe.finish()
    assert record.dead_steps == [0, 4, 6]
    assert list(record.dead) == ["conv1", "conv2", "conv3", "fc1"]
    assert [record.dead[name][0] for name in record.dead] == at_init
    assert [record.dead[name][-1] for name in record.dead] == after
    again = probe.finish()  # detached: nothing more is recorded
    assert again == record
    assert ProbeRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_probe_does_not_change_training():
    def run(with_probe):
        model = _net()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        probe = TrainingProbe(model, optimizer, every=1, images=torch.randn(8, 3, 32, 32)) if with_probe else None
        h = training.fit(model, _batches(), None, optimizer, num_epochs=2, progress=False)
        return h.step_loss, probe

    plain, _ = run(False)
    probed, probe = run(True)
    assert probed == plain
    assert probe.finish().ratio_steps == list(range(12))


def test_probe_rejects_bad_arguments():
    model = _net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        TrainingProbe(model, optimizer, every=0)
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        TrainingProbe(torch.nn.Sequential(torch.nn.ReLU()), optimizer, every=1)
    assert CS231N_RATIO == 1e-3
