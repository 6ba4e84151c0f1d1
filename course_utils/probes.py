"""Looking inside a network while it trains: update-to-weight ratios and dead ReLU units.

A :class:`TrainingProbe` attaches to an optimizer through torch's own step hooks
(``register_step_pre_hook``/``register_step_post_hook``), so it works with :func:`~course_utils.training.fit`
and with any hand-written loop, and costs nothing between its records. Every ``every`` steps it
records, for each weight layer, the **update-to-weight ratio** of that step,
‖w_after − w_before‖ / ‖w_before‖ (a rule of thumb from Stanford's CS231n notes: around 1e-3
is healthy, far below means the learning rate is too small, far above too large), and, given a
batch of images, the fraction of **dead units** of each ReLU (units that output 0 for every
image) just before that step. The first record (step 0) is the network at initialisation.

Example:
    >>> import torch
    >>> from course_utils.models import make_cnn
    >>> _ = torch.manual_seed(0); model = make_cnn(channels=(4, 8, 8), hidden=16)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> probe = TrainingProbe(model, optimizer, every=2, images=torch.randn(8, 3, 32, 32))
    >>> for _ in range(3):
    ...     optimizer.zero_grad(); model(torch.randn(4, 3, 32, 32)).sum().backward(); optimizer.step()
    >>> record = probe.finish()
    >>> record.ratio_steps, record.dead_steps, record.layers
    ([0, 2], [0, 2, 3], ['conv1', 'conv2', 'conv3', 'fc1', 'fc2'])
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .arguments import check_int
from .models import dead_fraction, relu_names, weight_layers

CS231N_RATIO = 1e-3  # the update-to-weight ratio CS231n's notes call healthy ("somewhere around 1e-3")


@dataclass
class ProbeRecord:
    """What a :class:`TrainingProbe` saw, as plain lists (JSON-ready).

    ``ratio_steps[i]`` is the optimizer step (0-based) whose update gave ``update_ratio[layer][i]``;
    ``dead_steps[j]`` the number of steps taken before ``dead[relu][j]`` was measured (0: at
    initialisation; the last one: after training). Layers are named as :func:`~course_utils.models.weight_layers`
    names them; ``dead`` is keyed by the layer each ReLU follows.
    """

    every: int = 0
    layers: list = field(default_factory=list)
    ratio_steps: list = field(default_factory=list)
    update_ratio: dict = field(default_factory=dict)
    dead_steps: list = field(default_factory=list)
    dead: dict = field(default_factory=dict)

    def median_ratio(self, start_step: int = 0, layers=None, end_step: int | None = None) -> float:
        """Median update-to-weight ratio over ``layers`` (default all) and the records from ``start_step`` on
        (up to and including ``end_step`` when given: to compare runs over the same steps).

        Example:
            >>> record = ProbeRecord(layers=["a"], ratio_steps=[0, 5, 10], update_ratio={"a": [0.5, 2e-3, 1e-3]})
            >>> record.median_ratio(5), record.median_ratio(0, end_step=5)
            (0.0015, 0.251)
        """
        keep = [i for i, step in enumerate(self.ratio_steps)
                if step >= start_step and (end_step is None or step <= end_step)]
        values = [self.update_ratio[name][i] for name in (layers or self.layers) for i in keep]
        return float(np.median(values)) if values else math.nan

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProbeRecord":
        return cls(**d)


class TrainingProbe:
    """Record update-to-weight ratios (and dead units, given ``images``) every ``every`` optimizer steps.

    Args:
        model: the network the optimizer trains (its conv and linear weights are probed).
        optimizer: a ``torch.optim.Optimizer`` over ``model``'s parameters.
        every: optimizer steps between records (the first record is step 0).
        images: optional (N, 3, H, W) batch on the model's device for counting dead units;
            ``None`` skips them.

    Call :meth:`finish` after training: it measures the dead units once more, removes the hooks
    and returns the :class:`ProbeRecord`. Records stay on the device until then (no host sync
    during training).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, every: int, images=None):
        self.model, self.every, self.images = model, check_int(every, "every", minimum=1), images
        self.layers = weight_layers(model)
        if not self.layers:
            raise ValueError("the model has no convolution or linear layer to probe.")
        self._relus = relu_names(model) if images is not None else []
        self._count, self._before = 0, None
        self._ratio_steps, self._ratios, self._dead_steps, self._dead = [], [], [], []
        self._handles = [optimizer.register_step_pre_hook(self._pre_step),
                         optimizer.register_step_post_hook(self._post_step)]

    @torch.no_grad()
    def _pre_step(self, optimizer, args, kwargs) -> None:
        if self._count % self.every == 0:
            self._before = [module.weight.detach().clone() for _, module in self.layers]
            if self.images is not None:
                self._dead_steps.append(self._count)
                self._dead.append(dead_fraction(self.model, self.images))

    @torch.no_grad()
    def _post_step(self, optimizer, args, kwargs) -> None:
        if self._before is not None:
            ratios = [(module.weight.detach() - before).norm() / before.norm()
                      for (_, module), before in zip(self.layers, self._before)]
            self._ratios.append(torch.stack(ratios))
            self._ratio_steps.append(self._count)
            self._before = None
        self._count += 1

    def remove(self) -> None:
        """Detach from the optimizer (no more records)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def finish(self) -> ProbeRecord:
        """Measure the dead units after the last step, detach, and return everything recorded."""
        if self.images is not None and self._handles and (not self._dead_steps or self._dead_steps[-1] != self._count):
            self._dead_steps.append(self._count)
            self._dead.append(dead_fraction(self.model, self.images))
        self.remove()
        names = [name for name, _ in self.layers]
        ratios = torch.stack(self._ratios).cpu().tolist() if self._ratios else []
        return ProbeRecord(
            every=self.every, layers=names, ratio_steps=list(self._ratio_steps),
            update_ratio={name: [row[i] for row in ratios] for i, name in enumerate(names)},
            dead_steps=list(self._dead_steps),
            dead={name: [row[i] for row in self._dead] for i, name in enumerate(self._relus)})
