"""The course's μP checked against the ``mup`` package (Microsoft's implementation of "Tensor Programs V").

:mod:`course_utils.parametrization` writes μP as initial-weight and learning-rate multipliers per
layer. ``mup`` writes the output layer differently: ``MuReadout`` stores weights √m times
``nn.Linear``'s and divides its input by m (``m = width / base width``), and ``MuAdam`` divides the
learning rate of every weight matrix whose two dimensions grow with the width by m. The *effective*
output weights (stored ÷ m) then start and step exactly as the course's.

:func:`compare_with_mup` builds the same MLP both ways and reports, per parameter, the effective
initial scale and Adam learning rate of each, and how far apart the two networks' outputs are after
training both from the same weights on the same minibatches. ``mup`` is a test dependency (``pip
install mup``; the course's ``test`` extra has it), imported only here.

Example:
    >>> result = compare_with_mup(width=64, base_width=16, num_steps=5)     # doctest: +SKIP
    >>> result.max_lr_ratio_gap, result.max_init_ratio_gap < 1e-12       # doctest: +SKIP
    (0.0, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import model_stack, runtime
from . import optimizers as _optimizers
from .parametrization import MUP, Parametrization


def mup_version() -> str | None:
    """The installed ``mup``'s version, or ``None`` when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mup")
    except PackageNotFoundError:
        return None


def _import_mup():
    try:
        import mup
    except ImportError:
        raise ImportError("the mup package is not installed: `pip install mup` (it is in the course's test extra) "
                          "to compare the course's μP with it.") from None
    return mup


def mup_mlp(num_inputs: int, width: int, num_outputs: int, *, depth: int = 2, base_width: int,
            rescale: bool = True) -> nn.Sequential:
    """An ``nn.Sequential`` ReLU MLP in ``mup``'s μP: ``nn.Linear`` layers, a ``MuReadout`` output layer,
    base shapes set from the same network at ``base_width`` (and at twice it, to tell which dimensions
    grow). ``rescale=False`` leaves PyTorch's initial weights as they were drawn (``mup`` then only
    records the shapes)."""
    mup = _import_mup()

    def build(n):
        layers, fan_in = [], num_inputs
        for _ in range(depth):
            layers += [nn.Linear(fan_in, n), nn.ReLU()]
            fan_in = n
        return nn.Sequential(*layers, mup.MuReadout(fan_in, num_outputs))

    model = build(width)
    mup.set_base_shapes(model, build(base_width), delta=build(2 * base_width), rescale_params=rescale)
    return model


@dataclass(frozen=True)
class MupComparison:
    """Per parameter (``names``): the bound of the uniform draw of its effective initial values and its
    effective Adam learning rate, in the course's μP (``ours_*``) and in ``mup``'s (``theirs_*``);
    ``output_gaps`` (steps,): the largest difference between the two networks' outputs after each step,
    relative to the outputs' size."""

    names: list
    ours_bound: list
    theirs_bound: list
    ours_lr: list
    theirs_lr: list
    output_gaps: list
    width: int
    base_width: int

    @property
    def max_lr_ratio_gap(self) -> float:
        """max |our lr / their lr − 1| over the parameters (0 when the rules agree)."""
        return max(abs(a / b - 1) for a, b in zip(self.ours_lr, self.theirs_lr))

    @property
    def max_init_ratio_gap(self) -> float:
        """max |our bound / their bound − 1| over the parameters (0 when the rules agree)."""
        return max(abs(a / b - 1) for a, b in zip(self.ours_bound, self.theirs_bound))

    @property
    def max_output_gap(self) -> float:
        return max(self.output_gaps)


def _readout_multiplier(module: nn.Module) -> float:
    """What ``MuReadout`` multiplies its input by (1 for a plain ``nn.Linear``)."""
    return module.output_mult / module.width_mult() if hasattr(module, "width_mult") else 1.0


def _their_effective(num_inputs, width, num_outputs, depth, base_width, lr, eps, seed):
    """``mup``'s network, its optimizer, and per parameter: name, effective initial bound, effective lr.

    The bound: ``nn.Linear`` draws within ±1/√fan_in; ``mup`` then rescales some tensors. Drawing the
    network twice from the same seed, with and without that rescaling, gives each tensor's factor
    exactly; the readout's weights count divided by what ``MuReadout`` divides its input by.
    """
    mup = _import_mup()
    torch.manual_seed(seed)
    raw = mup_mlp(num_inputs, width, num_outputs, depth=depth, base_width=base_width, rescale=False)
    torch.manual_seed(seed)
    model = mup_mlp(num_inputs, width, num_outputs, depth=depth, base_width=base_width).double()
    optimizer = mup.MuAdam(model.parameters(), lr=lr, eps=eps)
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    names, bounds, lrs = [], [], []
    raw_linears = [m for m in raw if isinstance(m, nn.Linear)]
    for k, (module, raw_module) in enumerate(zip((m for m in model if isinstance(m, nn.Linear)), raw_linears)):
        for kind in ("weight", "bias"):
            p, q = getattr(module, kind), getattr(raw_module, kind)
            factor = float((p.detach() / q.detach().double()).median())
            multiplier = _readout_multiplier(module) if kind == "weight" else 1.0   # MuReadout leaves its bias alone
            names.append(f"layer {k + 1} {kind}")
            bounds.append(factor * multiplier / math.sqrt(module.in_features))
            lrs.append(lr_of[id(p)] * multiplier)
    return model, optimizer, names, bounds, lrs


def compare_with_mup(*, num_inputs: int = 48, width: int = 256, base_width: int = 32, num_outputs: int = 10,
                     depth: int = 2, lr: float = 1e-3, eps: float = 1e-8, num_steps: int = 20, batch_size: int = 64,
                     seed: int = 0, parametrization: Parametrization = MUP, num_threads: int | None = 1) -> MupComparison:
    """The course's μP (``parametrization``, e.g. with the learner's scaling) against ``mup``'s, on random data.

    Both networks are trained in float64 with Adam (``lr``, ``eps``): ``mup``'s with ``mup.MuAdam``
    (``torch.optim.Adam`` underneath), the course's as an :class:`~course_utils.model_stack.MLPStack`
    of one network with :class:`course_utils.optimizers.Adam`, both starting from ``mup``'s initial weights.
    """
    with runtime.torch_threads(num_threads):
        return _compare(num_inputs, width, base_width, num_outputs, depth, lr, eps, num_steps, batch_size, seed,
                        parametrization)


def _compare(num_inputs, width, base_width, num_outputs, depth, lr, eps, num_steps, batch_size, seed,
             parametrization) -> MupComparison:
    theirs, their_opt, names, their_bound, their_lr = _their_effective(num_inputs, width, num_outputs, depth,
                                                                        base_width, lr, eps, seed)
    ours = model_stack.MLPStack(num_inputs, width, num_outputs, seeds=[seed], num_lrs=1, depth=depth,
                                parametrization=parametrization, base_width=base_width).double()
    our_bound, our_lr = [], []
    for w, kind, mult in zip(ours.weights, ours.kinds, ours.lr_multipliers):
        init, _ = parametrization.weight(kind, width / base_width)
        bias = parametrization.bias_init(kind, width / base_width)
        our_bound += [init / math.sqrt(w.shape[-2]), bias / math.sqrt(w.shape[-2])]
        our_lr += [lr * mult, lr]
    linears = [m for m in theirs if isinstance(m, nn.Linear)]
    with torch.no_grad():   # start the course's network from mup's weights
        for w, b, module in zip(ours.weights, ours.biases, linears):
            w.copy_((module.weight * _readout_multiplier(module)).T[None, None])
            b.copy_(module.bias[None, None, None])
    our_opt = _optimizers.Adam(ours.param_groups(torch.full((1, 1, 1, 1), lr, dtype=torch.float64)), eps=eps)

    generator = torch.Generator().manual_seed(seed + 1)
    X = torch.randn(512, num_inputs, generator=generator, dtype=torch.float64)
    y = torch.randint(0, num_outputs, (512,), generator=generator)
    probe = X[:128]
    gaps = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,), generator=generator)
        their_opt.zero_grad()
        F.cross_entropy(theirs(X[idx]), y[idx]).backward()
        their_opt.step()
        our_opt.zero_grad()
        model_stack.per_network_loss(ours(X[idx][None]), y[idx][None]).sum().backward()
        our_opt.step()
        with torch.no_grad():
            a, b = ours(probe)[0, 0], theirs(probe)
            gaps.append(float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)))
    return MupComparison(names=names, ours_bound=our_bound, theirs_bound=their_bound, ours_lr=our_lr,
                         theirs_lr=their_lr, output_gaps=gaps, width=width, base_width=base_width)


def rows(result: MupComparison) -> list[dict]:
    """The comparison as one dict per parameter, for a table."""
    return [{"parameter": n, "init bound (ours)": a, "init bound (mup)": b, "lr (ours)": c, "lr (mup)": d}
            for n, a, b, c, d in zip(result.names, result.ours_bound, result.theirs_bound, result.ours_lr,
                                     result.theirs_lr)]


__all__ = ["mup_version", "mup_mlp", "compare_with_mup", "MupComparison", "rows"]
