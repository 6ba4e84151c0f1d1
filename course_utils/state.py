"""Leaving a training run as it was: a snapshot of what a measurement may change, put back afterwards.

A measurement made in the middle of training (a range test, the sharpness of the loss) runs the
model, and may train it. :func:`preserved_state` runs such a block and then puts back what it
changed, so the run continues exactly as it would have without it.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    >>> before = model[1].running_mean.clone()
    >>> with preserved_state(model):
    ...     _ = model(torch.randn(8, 3))              # a forward pass in train mode moves the running mean
    >>> torch.equal(model[1].running_mean, before)
    True
"""
from __future__ import annotations

import contextlib
import copy
import random

import numpy as np
import torch
from torch import nn


def _copy(value):
    return value.detach().clone() if torch.is_tensor(value) else copy.deepcopy(value)


class _Snapshot:
    """Copies of what :func:`preserved_state` puts back (see there), taken when it is made."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, weights: bool):
        self.model, self.optimizer = model, optimizer
        self.training = {m: m.training for m in model.modules()}
        with torch.no_grad():
            # named_buffers also lists non-persistent buffers, which state_dict() leaves out
            self.buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
            self.params = {name: (p.detach().clone(), None if p.grad is None else p.grad.detach().clone())
                           for name, p in model.named_parameters()} if weights else None
        if optimizer is not None:
            self.optimizer_state = {p: {k: _copy(v) for k, v in state.items()} for p, state in optimizer.state.items()}
            self.param_groups = [{k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
                                 for group in optimizer.param_groups]
        self.python_rng, self.numpy_rng, self.torch_rng = random.getstate(), np.random.get_state(), torch.get_rng_state()
        self.cuda_rng = (torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized()
                         else None)

    def restore(self) -> None:
        with torch.no_grad():
            for name, b in self.model.named_buffers():
                if name in self.buffers:   # a buffer made inside the block has nothing to go back to
                    b.copy_(self.buffers[name])
            if self.params is not None:
                for name, p in self.model.named_parameters():
                    value, grad = self.params[name]
                    p.copy_(value)
                    p.grad = None if grad is None else grad.clone()
        for m, flag in self.training.items():
            m.training = flag
        if self.optimizer is not None:
            self._restore_optimizer()
        random.setstate(self.python_rng)
        np.random.set_state(self.numpy_rng)
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)

    def _restore_optimizer(self) -> None:
        state = self.optimizer.state
        for p in list(state):
            if p not in self.optimizer_state:   # state the block created (a fresh optimizer stays fresh)
                del state[p]
        for p, saved in self.optimizer_state.items():
            current = state[p]
            for key in [k for k in current if k not in saved]:
                del current[key]
            for key, value in saved.items():
                old = current.get(key)
                if torch.is_tensor(value) and torch.is_tensor(old) and old.shape == value.shape and old.dtype == value.dtype:
                    with torch.no_grad():
                        old.copy_(value)   # in place: a tensor the caller holds (Adam's moments) gets its values back
                else:
                    current[key] = _copy(value)
        for group, saved in zip(self.optimizer.param_groups, self.param_groups):
            for key in [k for k in group if k != "params" and k not in saved]:
                del group[key]
            group.update(copy.deepcopy(saved))


@contextlib.contextmanager
def preserved_state(model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *, weights: bool = False):
    """Run a block, then put back what it changed of ``model`` (and ``optimizer``), even if it raised.

    Always put back: every module's train/eval flag, the model's buffers (BatchNorm's running
    statistics, non-persistent buffers too), and the global random generators of Python, NumPy and
    torch (the CPU's, and every CUDA device's once CUDA is in use), so code after the block draws the
    same numbers as without it. With ``weights=True`` also the parameters' values and their
    ``.grad``; with an ``optimizer`` also its per-parameter state (restored in place, so tensors a
    caller holds get their values back; state made inside the block is removed) and its
    hyperparameters (``param_groups``: lr, momentum, ...). A measurement that only reads the
    weights (a Hessian-vector product) needs neither; one that trains (a range test) needs both.

    Example (a training step inside, undone):
        >>> model = nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> before = model.weight.detach().clone()
        >>> with preserved_state(model, opt, weights=True):
        ...     model(torch.ones(1, 2)).sum().backward(); opt.step()
        >>> torch.equal(model.weight, before), model.weight.grad is None
        (True, True)
    """
    snapshot = _Snapshot(model, optimizer, bool(weights))
    try:
        yield model
    finally:
        snapshot.restore()


__all__ = ["preserved_state"]
