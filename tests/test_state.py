"""preserved_state: a block that trains, draws random numbers and flips flags leaves nothing behind."""
import random

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.state import preserved_state


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def _train(model, optimizer, steps=3):
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model(torch.randn(8, 3)).pow(2).mean().backward()
        optimizer.step()


def test_everything_a_training_block_changes_comes_back():
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    _train(model, optimizer, 1)                     # Adam now has moments to restore
    model.eval()
    moments = optimizer.state[model[0].weight]["exp_avg"]   # a tensor the caller holds
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    held = moments.clone()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    with preserved_state(model, optimizer, weights=True):
        _train(model, optimizer)
        optimizer.param_groups[0]["lr"] = 5.0
        optimizer.param_groups[0]["extra"] = 1
        random.random(), np.random.rand(), torch.rand(3)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert not model.training and not model[1].training
    assert optimizer.param_groups[0]["lr"] == 0.1 and "extra" not in optimizer.param_groups[0]
    assert optimizer.state[model[0].weight]["exp_avg"] is moments and torch.equal(moments, held)
    assert random.getstate() == state[0] and np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])


def test_without_weights_only_flags_buffers_and_generators_come_back():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weight = model[0].weight.detach().clone()
    running = model[1].running_mean.clone()
    with preserved_state(model):
        _train(model, optimizer)
    assert torch.equal(model[1].running_mean, running)
    assert not torch.equal(model[0].weight, weight)          # the weights were not asked for


def test_state_a_fresh_optimizer_gains_in_the_block_is_removed_and_errors_still_restore():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    weight = model[0].weight.detach().clone()
    with pytest.raises(RuntimeError, match="boom"):
        with preserved_state(model, optimizer, weights=True):
            _train(model, optimizer)
            raise RuntimeError("boom")
    assert len(optimizer.state) == 0 and torch.equal(model[0].weight, weight)
    assert all(p.grad is None for p in model.parameters())
