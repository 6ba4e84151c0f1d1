"""How a network's initial weights and per-layer learning rates change with its width: SP and μP.

A **parametrization** is a rule that says, for a network of a given width, how large each layer's
initial weights are and how large each layer's learning rate is, relative to one base learning rate
``lr``. Two are compared in lesson 09, for Adam and a multilayer perceptron whose hidden layers have
``width`` units:

* **SP**, the standard parametrization (what ``nn.Linear`` and ``torch.optim.Adam(model.parameters(),
  lr)`` give): every weight drawn uniformly within ±1/√fan_in, every layer stepping with ``lr``;
* **μP**, the maximal update parametrization (Yang et al. 2022, "Tensor Programs V"), written so that it
  *equals* SP at a ``base_width`` and changes with the width multiplier ``m = width / base_width``:

  ========  ==================  ===============================  ===========
  layer     fan-in              initial weights (× SP's)         Adam lr
  ========  ==================  ===============================  ===========
  input     the data's (fixed)  1                                lr
  hidden    width               1                                lr / m
  output    width               1 / √m                           lr / m
  ========  ==================  ===============================  ===========

  Every bias keeps the base width's initial scale (±1/√fan_in *of the base model*) and steps with ``lr``.

Why: an Adam step moves every weight by about ``lr``, and the gradient of a weight matrix is lined up
with its input, so a step changes each output unit by about ``lr × fan_in``; a layer whose fan-in
grows with the width needs ``lr / m`` to keep that change the same at every width. The output layer's
initial weights must shrink faster than SP's, because once the hidden features move, they move in
the direction of the output weights' own gradient, and ``width`` such aligned terms add up.

The ``mup`` package (``pip install mup``; Microsoft's implementation of the paper) writes the same
network in another, equivalent form: its ``MuReadout`` output layer stores weights √m times SP's and
divides what it computes by m, and ``MuAdam`` divides the lr of hidden matrices by m. For Adam the
two forms compute the same function at every step (an Adam step does not depend on the gradient's
scale); :func:`compare_with_mup` checks it, per parameter and step by step.

Example:
    >>> SP.weight("hidden", 4.0), MUP.weight("hidden", 4.0), MUP.weight("output", 4.0)
    ((1.0, 1.0), (1.0, 0.25), (0.5, 0.25))
    >>> MUP.bias_init("hidden", 4.0), SP.bias_init("hidden", 4.0)
    (2.0, 1.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

LAYER_KINDS = ("input", "hidden", "output")


def _check_kind(kind: str) -> str:
    if kind not in LAYER_KINDS:
        raise ValueError(f"layer kind must be one of {', '.join(LAYER_KINDS)}, got {kind!r}.")
    return kind


def _check_width_mult(width_mult) -> float:
    try:
        m = float(width_mult)
    except (TypeError, ValueError):
        raise ValueError(f"width_mult must be a number (width / base_width), got {width_mult!r}.") from None
    if not (math.isfinite(m) and m > 0):
        raise ValueError(f"width_mult must be a positive number (width / base_width), got {width_mult!r}.")
    return m


def standard_scaling(kind: str, width_mult: float) -> tuple[float, float]:
    """SP: ``(init multiplier, lr multiplier)`` of a layer's weights, both 1 at every width."""
    _check_kind(kind)
    _check_width_mult(width_mult)
    return 1.0, 1.0


def mup_scaling(kind: str, width_mult: float) -> tuple[float, float]:
    """μP for Adam: ``(init multiplier, lr multiplier)`` of a layer's weights, relative to SP at the same width.

    ``kind`` is ``"input"`` (fan-in fixed by the data), ``"hidden"`` or ``"output"`` (fan-in = width);
    ``width_mult`` is width / base width. (Lesson 09's exercise 09.3 asks for this function.)

    Example:
        >>> mup_scaling("input", 8.0), mup_scaling("hidden", 8.0), mup_scaling("output", 1.0)
        ((1.0, 1.0), (1.0, 0.125), (1.0, 1.0))
    """
    _check_kind(kind)
    m = _check_width_mult(width_mult)
    if kind == "input":
        return 1.0, 1.0
    if kind == "hidden":
        return 1.0, 1.0 / m
    return 1.0 / math.sqrt(m), 1.0 / m


@dataclass(frozen=True)
class Parametrization:
    """A parametrization: ``scaling(kind, width_mult) -> (init multiplier, lr multiplier)`` of each
    layer's weights, and whether biases keep the base width's initial scale (μP) or take
    ``nn.Linear``'s ±1/√fan_in at every width (SP)."""

    name: str
    scaling: Callable
    biases_keep_base_scale: bool

    def weight(self, kind: str, width_mult: float) -> tuple[float, float]:
        """``(init multiplier, lr multiplier)`` of the weights of a layer of ``kind``, checked to be positive numbers."""
        _check_kind(kind)
        m = _check_width_mult(width_mult)
        try:
            init, lr = self.scaling(kind, m)
            init, lr = float(init), float(lr)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{self.name}: scaling({kind!r}, {m:g}) must return two numbers "
                             f"(init multiplier, lr multiplier); {err}") from None
        if not (math.isfinite(init) and init > 0 and math.isfinite(lr) and lr > 0):
            raise ValueError(f"{self.name}: scaling({kind!r}, {m:g}) gave ({init}, {lr}); both must be positive.")
        return init, lr

    def bias_init(self, kind: str, width_mult: float) -> float:
        """The multiplier of ``nn.Linear``'s bias bound ±1/√fan_in: √m where the fan-in grows with the
        width and biases keep the base width's scale, else 1."""
        _check_kind(kind)
        m = _check_width_mult(width_mult)
        return math.sqrt(m) if self.biases_keep_base_scale and kind != "input" else 1.0

    def with_scaling(self, scaling: Callable, name: str | None = None) -> "Parametrization":
        """The same parametrization with another ``scaling`` function (e.g. the learner's own μP)."""
        return Parametrization(name or self.name, scaling, self.biases_keep_base_scale)


SP = Parametrization("SP", standard_scaling, biases_keep_base_scale=False)
MUP = Parametrization("μP", mup_scaling, biases_keep_base_scale=True)


def layer_kinds(depth: int) -> list[str]:
    """The kinds of the ``depth + 1`` weight layers of an MLP with ``depth`` hidden layers.

    Example:
        >>> layer_kinds(2)
        ['input', 'hidden', 'output']
    """
    if int(depth) != depth or depth < 1:
        raise ValueError(f"depth (hidden layers) must be a positive integer, got {depth!r}.")
    return ["input"] + ["hidden"] * (int(depth) - 1) + ["output"]


def table(parametrization: Parametrization, width_mult: float, depth: int = 2) -> list[dict]:
    """One row per weight layer: kind, init multiplier, lr multiplier and bias init multiplier.

    Example:
        >>> [(r["kind"], r["lr"]) for r in table(MUP, 2.0)]
        [('input', 1.0), ('hidden', 0.5), ('output', 0.5)]
    """
    rows = []
    for kind in layer_kinds(depth):
        init, lr = parametrization.weight(kind, width_mult)
        rows.append({"kind": kind, "init": init, "lr": lr, "bias_init": parametrization.bias_init(kind, width_mult)})
    return rows
