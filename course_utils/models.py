"""The CNNs of lessons 07 and 08: a plain 3-block network and the same with BatchNorm.

Each block is a 3x3 convolution, (BatchNorm,) 2x2 max-pooling and ReLU; 32 -> 16 -> 8 -> 4
pixels, then a 256-unit hidden layer and 10 outputs (logits). The plain version is the classic
teaching network: no normalisation anywhere, so how large a learning rate it survives is set
by its raw weights alone.

Example:
    >>> import torch
    >>> model = make_cnn(batchnorm=False)
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

import torch
from torch import nn

from . import runtime
from .arguments import check_int
from .training import default_channels_last

CHANNELS = (32, 64, 128)  # output channels of the three blocks
HIDDEN = 256              # units of the fully connected hidden layer


def conv_block(in_channels: int, out_channels: int, batchnorm: bool) -> nn.Sequential:
    """3x3 conv (padding 1), optional BatchNorm, 2x2 max-pool, ReLU: halves height and width.

    The ReLU comes after the pooling: max and ReLU commute (the largest of four values, clipped at
    0, is the largest of the four clipped values), so the block computes exactly what "ReLU, then
    pool" computes, gradients and dead units included, while the ReLU and its backward pass touch a
    quarter of the values (lesson 07's training epoch 4-6 % faster on a 2-core CPU:
    ``python tools/profile_lesson07.py --only block_order``).
    """
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=not batchnorm)]
    if batchnorm:  # BN's own shift replaces the convolution's bias
        layers.append(nn.BatchNorm2d(out_channels))
    layers += [nn.MaxPool2d(2), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def make_cnn(batchnorm: bool = False, num_classes: int = 10, channels=CHANNELS, hidden: int = HIDDEN) -> nn.Sequential:
    """The course's CNN for (N, 3, 32, 32) images; ``batchnorm=True`` adds BatchNorm after each convolution.

    Weights use PyTorch's default initialisation, drawn from the global RNG: seed it first
    (``runtime.seed_everything``) for repeatable weights.

    Example:
        >>> sum(p.numel() for p in make_cnn().parameters())
        620362
    """
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    blocks, in_channels = [], 3
    for out_channels in channels:
        blocks.append(conv_block(in_channels, out_channels, batchnorm))
        in_channels = out_channels
    side = 32 // 2 ** len(channels)
    return nn.Sequential(
        *blocks,
        nn.Flatten(),
        nn.Linear(in_channels * side * side, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def fresh_cnn(seed: int, device=None, *, batchnorm: bool = False, channels_last: bool | None = None) -> nn.Sequential:
    """:func:`make_cnn` with its initial weights drawn right after seeding with ``seed``, on ``device``.

    The same seed gives the same network whatever ran before (the global generators are seeded
    here, see :func:`~course_utils.runtime.seed_everything`). The model is moved to ``device``
    (default: the CPU) in the memory format :func:`~course_utils.training.fit` trains it in
    (``channels_last``, default :func:`~course_utils.training.default_channels_last`), so a
    loop other than ``fit`` (a range test, a curvature measurement) sees the same network.

    Example:
        >>> a, b = fresh_cnn(3), fresh_cnn(3)
        >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        True
    """
    runtime.seed_everything(seed)
    model = make_cnn(batchnorm=batchnorm)
    device = torch.device(device) if device is not None else torch.device("cpu")
    channels_last = default_channels_last(device) if channels_last is None else bool(channels_last)
    return model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)


@torch.no_grad()
def dead_fraction(model: nn.Module, x: torch.Tensor) -> list[float]:
    """For each ReLU of ``model``, the fraction of its units (channels or features) that output 0
    for every image of the batch ``x`` (N, 3, 32, 32): "dead" units that pass no signal or gradient.

    Example:
        >>> len(dead_fraction(make_cnn(), torch.randn(4, 3, 32, 32)))
        4
    """
    fractions, hooks = [], []

    def record(module, inputs, output):
        alive = (output > 0).flatten(2).any(-1) if output.ndim == 4 else (output > 0)  # (N, units)
        fractions.append(1.0 - alive.any(0).float().mean().item())

    for module in model.modules():
        if isinstance(module, nn.ReLU):
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return fractions


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The convolution and linear layers of ``model`` in order, named ``conv1, conv2, ..., fc1, fc2, ...``.

    Example:
        >>> [name for name, _ in weight_layers(make_cnn())]
        ['conv1', 'conv2', 'conv3', 'fc1', 'fc2']
    """
    layers, counts = [], {"conv": 0, "fc": 0}
    for module in model.modules():
        kind = "conv" if isinstance(module, nn.modules.conv._ConvNd) else "fc" if isinstance(module, nn.Linear) else None
        if kind:
            counts[kind] += 1
            layers.append((f"{kind}{counts[kind]}", module))
    return layers


def relu_names(model: nn.Module) -> list[str]:
    """For each ReLU of ``model`` (in the order :func:`dead_fraction` reports them), the weight layer it follows.

    Example:
        >>> relu_names(make_cnn())
        ['conv1', 'conv2', 'conv3', 'fc1']
    """
    names, last = [], "input"
    by_module = {id(module): name for name, module in weight_layers(model)}
    for module in model.modules():
        last = by_module.get(id(module), last)
        if isinstance(module, nn.ReLU):
            names.append(last)
    return names


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` contains any BatchNorm layer."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


__all__ = ["make_cnn", "fresh_cnn", "conv_block", "dead_fraction", "weight_layers", "relu_names", "count_parameters",
           "has_batchnorm", "CHANNELS", "HIDDEN"]
