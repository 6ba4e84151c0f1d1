import math

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import model_stack, optimizers, parametrization, runtime


def _data(n=256, d=6, classes=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randint(0, classes, (n,), generator=gen)


def test_every_network_of_a_stack_trains_as_it_would_alone():
    X, y = _data()
    lrs = [0.01, 0.1]
    together = model_stack.train_stack(model_stack.MLPStack(6, 16, 3, seeds=[3, 5], num_lrs=2), X, y, lrs, "Adam",
                                       batch_size=16, num_steps=30, warmup_steps=5)
    for s, seed in enumerate([3, 5]):
        for l, lr in enumerate(lrs):
            alone = model_stack.train_stack(model_stack.MLPStack(6, 16, 3, seeds=[seed], num_lrs=1), X, y, [lr],
                                            "Adam", batch_size=16, num_steps=30, warmup_steps=5)
            assert alone.final_loss[0, 0] == pytest.approx(together.final_loss[s, l], rel=1e-5)
            np.testing.assert_allclose(alone.eval_loss[0, 0], together.eval_loss[s, l], rtol=1e-5)


def test_networks_of_a_seed_start_alike_and_seeds_differ():
    stack = model_stack.MLPStack(6, 16, 3, seeds=[0, 1], num_lrs=3)
    w = stack.weights[1]
    assert torch.equal(w[0, 0], w[0, 2]) and not torch.equal(w[0, 0], w[1, 0])
    again = model_stack.MLPStack(6, 16, 3, seeds=[1], num_lrs=1)
    assert torch.equal(again.weights[1][0, 0], w[1, 0])   # a seed's network does not depend on the other seeds


def test_initial_weights_follow_the_parametrization():
    width, base = 64, 16
    for p in (parametrization.SP, parametrization.MUP):
        stack = model_stack.MLPStack(10, width, 4, seeds=[0], num_lrs=1, parametrization=p, base_width=base)
        for w, b, kind in zip((w.detach() for w in stack.weights), (b.detach() for b in stack.biases), stack.kinds):
            init, _ = p.weight(kind, width / base)
            bound = 1 / math.sqrt(w.shape[-2])
            assert float(w.abs().max()) <= init * bound * (1 + 1e-6)
            assert float(w.abs().max()) > 0.9 * init * bound          # many uniform draws come close to the bound
            assert float(b.abs().max()) <= p.bias_init(kind, width / base) * bound * (1 + 1e-6)
        assert stack.lr_multipliers == [p.weight(k, width / base)[1] for k in stack.kinds]


def test_forward_and_steps_match_nn_linear_and_torch_adam():
    X, y = _data()
    stack = model_stack.MLPStack(6, 16, 3, seeds=[0], num_lrs=1).double()
    reference = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    with torch.no_grad():
        for w, b, layer in zip(stack.weights, stack.biases, [m for m in reference if isinstance(m, nn.Linear)]):
            layer.weight.copy_(w[0, 0].T)
            layer.bias.copy_(b[0, 0, 0])
    ours = optimizers.Adam(stack.param_groups(torch.full((1, 1, 1, 1), 0.01, dtype=torch.float64)))
    theirs = torch.optim.Adam(reference.parameters(), lr=0.01)
    Xd = X.double()
    for step in range(10):
        batch = slice(16 * step, 16 * step + 16)
        ours.zero_grad()
        model_stack.per_network_loss(stack(Xd[batch][None]), y[batch][None]).sum().backward()
        ours.step()
        theirs.zero_grad()
        nn.functional.cross_entropy(reference(Xd[batch]), y[batch]).backward()
        theirs.step()
    torch.testing.assert_close(stack(Xd)[0, 0], reference(Xd), rtol=1e-10, atol=1e-12)


def test_warmup_scales_the_first_steps():
    X, y = _data()
    start = [p.detach().clone() for p in model_stack.MLPStack(6, 16, 3, seeds=[0], num_lrs=1).parameters()]

    def moved(warmup):
        stack = model_stack.MLPStack(6, 16, 3, seeds=[0], num_lrs=1)
        model_stack.train_stack(stack, X, y, [1e-4], "SGD", batch_size=32, num_steps=4, warmup_steps=warmup)
        return sum(float((p.detach() - q).norm()) for p, q in zip(stack.parameters(), start))

    # the lr of steps 1-4 is 1/4, 2/4, 3/4, 4/4 of the full one: 2.5 full steps instead of 4 (nearly linear at a tiny lr)
    assert moved(4) / moved(0) == pytest.approx(2.5 / 4, rel=0.02)


def test_a_diverging_network_is_stopped_and_the_others_train_on():
    X, y = _data()
    runs = model_stack.train_stack(model_stack.MLPStack(6, 16, 3, seeds=[0], num_lrs=2), X, y, [0.05, 1e6], "SGD",
                                   batch_size=16, num_steps=20, eval_every=5)
    assert runs.diverged.tolist() == [[False, True]]
    assert math.isfinite(runs.final_loss[0, 0]) and runs.final_loss[0, 1] == math.inf
    assert runs.final_loss[0, 0] < runs.eval_loss[0, 0, 0]
    assert runs.steps.tolist() == [0, 5, 10, 15, 20] and runs.examples[-1] == 320


def test_bad_arguments_get_clear_errors():
    X, y = _data()
    stack = model_stack.MLPStack(6, 16, 3, seeds=[0], num_lrs=2)
    with pytest.raises(ValueError, match="2 positive learning rates"):
        model_stack.train_stack(stack, X, y, [0.1], "SGD", batch_size=8, num_steps=2)
    with pytest.raises(ValueError, match="unknown optimizer"):
        model_stack.train_stack(stack, X, y, [0.1, 0.2], "Lion", batch_size=8, num_steps=2)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 6\)"):
        model_stack.train_stack(stack, X[:, :5], y, [0.1, 0.2], "SGD", batch_size=8, num_steps=2)
    with pytest.raises(ValueError, match="seeds must list"):
        model_stack.MLPStack(6, 16, 3, seeds=[], num_lrs=1)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        model_stack.MLPStack(6, 0, 3, seeds=[0], num_lrs=1)


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with runtime.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        with runtime.torch_threads(0):
            pass
