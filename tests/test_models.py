"""The course's CNN: the pool-then-ReLU block computes exactly what the textbook ReLU-then-pool block does."""
import copy

import pytest
import torch
from torch import nn

from course_utils import models


def relu_then_pool(model: nn.Sequential) -> nn.Sequential:
    """The same network (same weights) with each block's ReLU moved back in front of its max-pool."""
    twin = copy.deepcopy(model)
    for block in twin:
        if isinstance(block, nn.Sequential):
            kinds = [type(m) for m in block]
            i = kinds.index(nn.MaxPool2d)
            assert kinds[i + 1] is nn.ReLU, "the course's block pools, then applies the ReLU"
            block[i], block[i + 1] = block[i + 1], block[i]
    return twin


@pytest.mark.parametrize("batchnorm", [False, True])
def test_pool_then_relu_block_is_the_same_function_with_the_same_gradients(batchnorm):
    torch.manual_seed(0)
    ours = models.make_cnn(batchnorm=batchnorm)
    textbook = relu_then_pool(ours)
    x = torch.randn(8, 3, 32, 32)
    y = torch.randint(0, 10, (8,))
    for net in (ours, textbook):
        nn.functional.cross_entropy(net(x), y).backward()
    assert torch.equal(ours(x), textbook(x))
    for p, q in zip(ours.parameters(), textbook.parameters()):
        assert torch.equal(p.grad, q.grad)


def test_dead_units_are_the_same_after_the_pool_as_before_it():
    torch.manual_seed(1)
    ours = models.make_cnn()
    with torch.no_grad():   # kill some channels outright, so that there is something to count
        ours[0][0].bias[:8] = -100.0
        ours[1][0].bias[:5] = -100.0
    x = torch.randn(16, 3, 32, 32)
    dead = models.dead_fraction(ours, x)
    assert dead == models.dead_fraction(relu_then_pool(ours), x)
    assert dead[0] == 8 / 32 and dead[1] >= 5 / 64
