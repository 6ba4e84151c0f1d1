"""Many small MLPs trained at once: one tensor per layer, one matrix product per layer for all of them.

A learning-rate sweep over seeds trains ``S × L`` networks that differ only by their seed (their
initial weights and their minibatches: ``S`` of them) and their learning rate (``L``). Here they are
one :class:`MLPStack`: layer ``i``'s weight has shape ``(S, L, fan_in, fan_out)``, a minibatch has
shape ``(S, B, inputs)`` (one per seed, shared by that seed's ``L`` networks), and ``torch.matmul``
broadcasts one over the other. The loss is the sum of the networks' own mean losses, so each
network's gradient is its own, and an optimizer of :mod:`course_utils.optimizers` (torch.optim twins
that take a tensor ``lr``) steps each network with its own learning rate: ``lr`` of shape
``(S, L, 1, 1)`` times the layer's multiplier from its :mod:`~course_utils.parametrization`.

:func:`train_stack` trains a stack on classification data with minibatches drawn with replacement
(each seed from its own generator), and returns a :class:`StackRuns`: losses on a fixed evaluation
set during training, and the loss on all the training data at the end, per network.

One large matrix product per layer replaces ``S × L`` small ones, and the Python overhead of a step is
paid once: ``python -m course_utils.model_stack`` trained 24 networks (48-64-64-10, Adam, 100 steps of 64)
in 0.74 s as one stack and in 2.33 s one at a time with ``nn.Sequential`` and ``torch.optim.Adam`` (3.1x),
on one thread of two cores that other work kept busy (load about 4).

Example:
    >>> import torch
    >>> X, y = torch.randn(64, 5), torch.randint(0, 3, (64,))
    >>> stack = MLPStack(5, 16, 3, seeds=[0, 1], num_lrs=4)
    >>> stack(X[:8].expand(2, 8, 5)).shape        # (seeds, lrs, batch, classes)
    torch.Size([2, 4, 8, 3])
    >>> runs = train_stack(stack, X, y, lrs=[1e-3, 1e-2, 1e-1, 1.0], optimizer="SGD", batch_size=8, num_steps=20)
    >>> runs.final_loss.shape, runs.eval_loss.shape
    ((2, 4), (2, 4, 21))
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import optimizers as _optimizers
from . import runtime
from .arguments import check_int
from .parametrization import SP, Parametrization, layer_kinds


class MLPStack(nn.Module):
    """``len(seeds) × num_lrs`` ReLU networks ``inputs → width → … → width → outputs`` (``depth`` hidden layers).

    The networks of seed ``s`` all start from the same weights, drawn from a generator seeded with
    ``seeds[s]``: ``nn.Linear``'s uniform ±1/√fan_in, times the ``parametrization``'s initial
    multiplier for the layer at ``width_mult = width / base_width`` (biases likewise, see
    :meth:`~course_utils.parametrization.Parametrization.bias_init`). ``base_width`` defaults to ``width``.
    """

    def __init__(self, num_inputs: int, width: int, num_outputs: int, *, seeds, num_lrs: int, depth: int = 2,
                 parametrization: Parametrization = SP, base_width: int | None = None):
        super().__init__()
        self.num_inputs = check_int(num_inputs, "num_inputs", minimum=1)
        self.width = check_int(width, "width", minimum=1)
        self.num_outputs = check_int(num_outputs, "num_outputs", minimum=1)
        self.num_lrs = check_int(num_lrs, "num_lrs", minimum=1)
        self.seeds = [check_int(s, "seed") for s in seeds]
        if not self.seeds:
            raise ValueError("seeds must list at least one seed.")
        self.base_width = check_int(base_width if base_width is not None else width, "base_width", minimum=1)
        self.parametrization = parametrization
        self.kinds = layer_kinds(depth)
        width_mult = self.width / self.base_width
        sizes = [self.num_inputs] + [self.width] * depth + [self.num_outputs]
        self.lr_multipliers = []
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for kind, fan_in, fan_out in zip(self.kinds, sizes[:-1], sizes[1:]):
            init, lr = parametrization.weight(kind, width_mult)
            bound = 1.0 / math.sqrt(fan_in)
            w, b = [], []
            for seed in self.seeds:  # the same layer of every seed's network, drawn in a fixed order
                gen = torch.Generator().manual_seed(1_000_003 * seed + len(self.weights) + 1)
                w.append(init * bound * (2 * torch.rand(fan_in, fan_out, generator=gen) - 1))
                b.append(parametrization.bias_init(kind, width_mult) * bound * (2 * torch.rand(fan_out, generator=gen) - 1))
            S, L = len(self.seeds), self.num_lrs
            self.weights.append(nn.Parameter(torch.stack(w)[:, None].expand(S, L, fan_in, fan_out).clone()))
            self.biases.append(nn.Parameter(torch.stack(b)[:, None, None].expand(S, L, 1, fan_out).clone()))
            self.lr_multipliers.append(lr)

    @property
    def shape(self) -> tuple[int, int]:
        """(seeds, lrs): how the networks are laid out."""
        return len(self.seeds), self.num_lrs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(S, L, B, outputs)`` of every network for inputs ``x`` of shape ``(S, B, inputs)`` (one
        minibatch per seed) or ``(B, inputs)`` (the same inputs for all)."""
        h = x[:, None] if x.ndim == 3 else x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b
            if i < last:
                h = torch.relu(h)
        return h

    def param_groups(self, lrs: torch.Tensor) -> list[dict]:
        """One optimizer group per tensor, with a per-network lr ``lrs`` (S, L, 1, 1) times the layer's multiplier."""
        groups = []
        for w, b, mult in zip(self.weights, self.biases, self.lr_multipliers):
            groups.append({"params": [w], "lr": lrs * mult})
            groups.append({"params": [b], "lr": lrs.clone()})
        return groups

    def network(self, seed_index: int, lr_index: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The weights and biases ``[(W (fan_in, fan_out), b (fan_out,)), ...]`` of one network (copies)."""
        return [(w[seed_index, lr_index].detach().clone(), b[seed_index, lr_index, 0].detach().clone())
                for w, b in zip(self.weights, self.biases)]


def per_network_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each network: logits (S, L, B, C), targets (S, B) or (B,) -> (S, L)."""
    S, L, B, C = logits.shape
    targets = targets.expand(S, B) if targets.ndim == 1 else targets
    flat = targets[:, None].expand(S, L, B).reshape(-1)
    return F.cross_entropy(logits.reshape(-1, C), flat, reduction="none").reshape(S, L, B).mean(-1)


@torch.no_grad()
def evaluate(stack: MLPStack, X: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """(S, L) mean cross-entropy of every network on all of ``X``, ``y`` (in chunks of rows)."""
    total = torch.zeros(stack.shape, device=X.device)
    for start in range(0, len(X), chunk):
        xs, ys = X[start:start + chunk], y[start:start + chunk]
        total += per_network_loss(stack(xs), ys) * len(xs)
    return total / len(X)


@dataclass(frozen=True)
class StackRuns:
    """What :func:`train_stack` measured, per network (seed index, lr index).

    ``lrs`` (L,); ``seeds`` (S,); ``steps`` (m,): the steps after which ``eval_loss`` (S, L, m) was
    measured (0: at initialisation), on the fixed evaluation set; ``final_loss`` (S, L): the loss on
    all the training data after the last step (``inf`` for a network that diverged); ``diverged``
    (S, L); ``batch_size``; ``wall_time`` (s).
    """

    lrs: np.ndarray
    seeds: np.ndarray
    steps: np.ndarray
    eval_loss: np.ndarray
    final_loss: np.ndarray
    diverged: np.ndarray
    batch_size: int
    wall_time: float

    @property
    def examples(self) -> np.ndarray:
        """(m,) training examples seen at each measurement (steps × batch size)."""
        return self.steps * self.batch_size


def train_stack(stack: MLPStack, X: torch.Tensor, y: torch.Tensor, lrs, optimizer: str = "SGD", *, batch_size: int,
                num_steps: int, eval_X: torch.Tensor | None = None, eval_y: torch.Tensor | None = None,
                eval_every: int | None = None, warmup_steps: int = 0, batch_seed: int = 0,
                num_threads: int | None = 1, progress=None) -> StackRuns:
    """Train every network of ``stack`` for ``num_steps`` minibatch steps, network (s, l) with learning rate ``lrs[l]``.

    Args:
        X, y: training inputs (N, inputs) (float) and class labels (N,) (int).
        lrs: L learning rates (the stack's ``num_lrs``), the base lr of each column of networks.
        optimizer: a name of :data:`course_utils.optimizers.OPTIMIZERS` (``"SGD"``, ``"Adam"``, ...).
        batch_size: examples per step; seed ``s`` draws its minibatches with replacement from a
            generator seeded with its seed (and ``batch_seed``: give each call of a run trained in
            pieces its own), so every lr of a seed sees the same minibatches.
        eval_X, eval_y: the fixed evaluation set (default: the first 1000 training examples).
        eval_every: steps between evaluations (default: about 40 evaluations in all).
        warmup_steps: the learning rates rise linearly over the first ``warmup_steps`` steps (step t
            uses ``lr × t / warmup_steps``), then stay. Written out here because torch's schedulers set
            a tensor ``lr`` to one number for all networks.
        progress: a callable wrapping the step range (e.g. ``runtime.progress``), or ``None``.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    lrs = np.asarray(lrs, dtype=float)
    S, L = stack.shape
    if lrs.shape != (L,) or not np.all(np.isfinite(lrs) & (lrs > 0)):
        raise ValueError(f"lrs must be {L} positive learning rates (one per column of the stack), got {lrs!r}.")
    if X.ndim != 2 or X.shape[1] != stack.num_inputs or y.shape != (len(X),):
        raise ValueError(f"X must have shape (N, {stack.num_inputs}) and y shape (N,); got {tuple(X.shape)} and "
                         f"{tuple(y.shape)}.")
    if optimizer not in _optimizers.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(_optimizers.OPTIMIZERS)}.")
    eval_X = X[:1000] if eval_X is None else eval_X
    eval_y = y[:1000] if eval_y is None else eval_y
    eval_every = max(1, num_steps // 40) if eval_every is None else check_int(eval_every, "eval_every", minimum=1)
    warmup_steps = check_int(warmup_steps, "warmup_steps")
    device, dtype = stack.weights[0].device, stack.weights[0].dtype
    lr_tensor = torch.as_tensor(lrs, dtype=dtype, device=device).reshape(1, L, 1, 1).expand(S, L, 1, 1).clone()
    opt = _optimizers.OPTIMIZERS[optimizer](stack.param_groups(lr_tensor))
    base_lrs = [group["lr"].clone() for group in opt.param_groups]
    generators = [torch.Generator().manual_seed(10_007 * seed + 7_919 * check_int(batch_seed, "batch_seed") + 1)
                  for seed in stack.seeds]
    diverged = torch.zeros(S, L, dtype=torch.bool, device=device)
    steps, losses = [0], [evaluate(stack, eval_X, eval_y)]
    start = time.perf_counter()
    step_range = range(1, num_steps + 1)
    with runtime.torch_threads(num_threads):
        for step in (progress(step_range) if progress else step_range):
            if step <= warmup_steps + 1:
                factor = min(1.0, step / warmup_steps) if warmup_steps else 1.0
                for group, base in zip(opt.param_groups, base_lrs):
                    group["lr"] = base * factor * (~diverged)[..., None, None]
            idx = torch.stack([torch.randint(0, len(X), (batch_size,), generator=g) for g in generators]).to(X.device)
            loss = per_network_loss(stack(X[idx]), y[idx])
            opt.zero_grad(set_to_none=False)
            loss.sum().backward()
            opt.step()
            if step % eval_every == 0 or step == num_steps:
                current = evaluate(stack, eval_X, eval_y)
                _stop_diverged(stack, opt, diverged, ~torch.isfinite(current))
                steps.append(step)
                losses.append(current)
        final = evaluate(stack, X, y)
    final[diverged] = math.inf
    eval_loss = torch.stack(losses, dim=-1)
    eval_loss[diverged[..., None].expand_as(eval_loss) & ~torch.isfinite(eval_loss)] = math.inf
    return StackRuns(lrs=lrs, seeds=np.array(stack.seeds), steps=np.array(steps), eval_loss=eval_loss.cpu().numpy(),
                     final_loss=final.cpu().numpy().astype(float), diverged=diverged.cpu().numpy(), batch_size=batch_size,
                     wall_time=time.perf_counter() - start)


@torch.no_grad()
def _stop_diverged(stack: MLPStack, opt: torch.optim.Optimizer, diverged: torch.Tensor, blown: torch.Tensor) -> None:
    """Mark networks whose loss is no longer finite, zero their weights, state and lr (so no NaN spreads)."""
    new = blown & ~diverged
    if not new.any():
        return
    diverged |= new
    mask = new[..., None, None]
    for group in opt.param_groups:
        group["lr"] = torch.where(mask, torch.zeros_like(group["lr"]), group["lr"])
        for p in group["params"]:
            p.masked_fill_(mask, 0.0)
            for value in opt.state[p].values():
                if torch.is_tensor(value) and value.shape == p.shape:
                    value.masked_fill_(mask, 0.0)


def _benchmark(num_steps: int = 100) -> None:
    """``python -m course_utils.model_stack``: a stack of 24 networks against the same 24 trained one at a time
    the usual way (``nn.Sequential`` and ``torch.optim.Adam``), with one and with two threads."""
    X, y = torch.randn(5000, 48), torch.randint(0, 10, (5000,))
    lrs, seeds, batch_size = np.geomspace(1e-3, 1e-1, 8), [0, 1, 2], 64
    for threads in (1, 2):
        stacked = train_stack(MLPStack(48, 64, 10, seeds=seeds, num_lrs=len(lrs)), X, y, lrs, "Adam",
                              batch_size=batch_size, num_steps=num_steps, eval_every=num_steps, num_threads=threads)
        start = time.perf_counter()
        with runtime.torch_threads(threads):
            for seed in seeds:
                for lr in lrs:
                    torch.manual_seed(seed)
                    net = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
                    opt = torch.optim.Adam(net.parameters(), lr=float(lr))
                    gen = torch.Generator().manual_seed(seed)
                    for _ in range(num_steps):
                        idx = torch.randint(0, len(X), (batch_size,), generator=gen)
                        opt.zero_grad()
                        F.cross_entropy(net(X[idx]), y[idx]).backward()
                        opt.step()
        alone = time.perf_counter() - start
        print(f"{threads} thread(s): {len(seeds) * len(lrs)} networks (48-64-64-10, Adam, batch {batch_size}, "
              f"{num_steps} steps): stacked {stacked.wall_time:.2f} s, one at a time with torch.optim.Adam "
              f"{alone:.2f} s ({alone / stacked.wall_time:.1f}x)")


if __name__ == "__main__":
    _benchmark()
