"""Lesson 03's measurements of the noise floor: a training loop recorded in chunks, and what its curves say.

A loop such as the learner's ``train_sgd(model, X, y, lr, num_steps, batch_size)`` keeps no state
between calls for plain SGD, so calling it in chunks of ``eval_every`` steps and measuring the
loss on all the data in between (:func:`record_chunks`) gives its learning curve without changing
it. The curves, one per run or a (..., E) array of many runs (``regression.RegressionRuns.excess``),
are then read by :func:`steps_to` (how fast a run gets going) and :func:`floor_stats` (where it
settles and how much it jitters there).

Example:
    >>> import numpy as np
    >>> steps = np.array([0, 10, 20, 30, 40])
    >>> excess = np.array([[4.0, 1.0, 0.5, 0.6, 0.4], [4.0, 3.0, 2.0, 1.0, 0.9]])
    >>> steps_to(steps, excess, 1.0).tolist()
    [10.0, 30.0]
    >>> floor_stats(steps, excess)["floor"].round(2).tolist()
    [0.5, 1.3]
"""
from __future__ import annotations

import numpy as np
import torch

from .arguments import check_int, check_range


def _full_loss(model, X, y) -> float:
    with torch.no_grad():
        return float(((model(X).squeeze(-1) - y) ** 2).mean())


def record_chunks(train, X, y, lr: float, num_steps: int, batch_size: int, eval_every: int, seed: int):
    """Train a fresh ``nn.Linear`` (initialised and batched from ``seed``) with ``train`` in chunks.

    ``train(model, X, y, lr, num_steps, batch_size)`` must train ``model`` in place and return its
    minibatch losses (lesson 03's exercise 03.1). Returns ``(curve, minibatch)``: the loss on all
    the data at the start and after every chunk of ``eval_every`` steps ((num_steps // eval_every + 1,)),
    and every minibatch loss it returned.
    """
    num_steps, eval_every = check_int(num_steps, "num_steps", minimum=1), check_int(eval_every, "eval_every", minimum=1)
    torch.manual_seed(seed)
    model = torch.nn.Linear(X.shape[1], 1)
    curve, minibatch = [_full_loss(model, X, y)], []
    for _ in range(num_steps // eval_every):
        minibatch += list(train(model, X, y, lr, eval_every, batch_size))
        curve.append(_full_loss(model, X, y))
    return np.array(curve), np.array(minibatch, dtype=float)


def steps_to(steps, excess, target: float) -> np.ndarray:
    """The first measured step at which each curve of ``excess`` (..., E) is at or below ``target``; inf if never."""
    steps, excess = np.asarray(steps, dtype=float), np.asarray(excess, dtype=float)
    below = excess <= target
    first = np.argmax(below, axis=-1)
    return np.where(below.any(axis=-1), steps[first], np.inf)


def floor_stats(steps, excess, settled_fraction: float = 0.5) -> dict:
    """Where each curve of ``excess`` (..., E) settles: over the measurements in the last
    ``settled_fraction`` of the steps, ``floor`` (the mean), ``spread`` (the std) and
    ``relative`` (spread / floor), each of shape (...)."""
    check_range(settled_fraction, "settled_fraction", 0, 1, include_low=False)
    steps, excess = np.asarray(steps, dtype=float), np.asarray(excess, dtype=float)
    settled = excess[..., steps >= steps[-1] * (1 - settled_fraction)]
    floor, spread = settled.mean(axis=-1), settled.std(axis=-1)
    return {"floor": floor, "spread": spread, "relative": spread / floor}
