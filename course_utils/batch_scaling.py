"""The best learning rate against the batch size: the sweep, the scaling rules, and where they stop.

Two rules say how to change the learning rate when the batch size B is multiplied by k:

* the **linear scaling rule** (Goyal et al. 2017, for SGD): multiply the learning rate by k, and ramp
  it up over the first epochs (their "gradual warmup": 5 epochs of 90 on ImageNet, where ResNet-50
  kept its small-batch accuracy up to minibatches of 8k images and lost accuracy beyond);
* the **square-root scaling rule** (Malladi et al. 2022, for Adam and RMSprop, from their stochastic
  differential equations): multiply the learning rate by √k (and 1 − β1, 1 − β2 by k, ε by 1/√k).
  McCandlish et al. (2018) measured the best Adam learning rate growing like B^α with α between 0.5
  and 1, depending on the task.

Both rules are small-batch rules: a learning rate cannot grow without bound. On a quadratic with
gradient noise, the step-optimal SGD learning rate is ``lr_max · B / (B + B_noise)`` (McCandlish et al.
2018, with ``B_noise`` the gradient noise scale of :mod:`course_utils.noise_scale`): linear in B far
below ``B_noise``, flat far above. :func:`saturation_fit` fits that curve to measured best learning
rates; its knee ``B_knee`` is where the linear rule predicts twice the lr that is best.

:func:`sweep_batch_sizes` measures: for every batch size, every seed and every learning rate of a
log grid, the loss on all the training data after the same number of training *examples* (the same
number of epochs, as the linear scaling rule is stated), with a short linear warmup.

Example:
    >>> predict_lr(0.1, 32, 256, "linear"), round(predict_lr(1e-3, 32, 128, "sqrt"), 6)
    (0.8, 0.002)
    >>> import numpy as np
    >>> B = np.array([16, 64, 256, 1024])
    >>> lr_max, knee = saturation_fit(B, (0.5 * B / (B + 100.0))[:, None])
    >>> round(float(lr_max[0]), 3), round(float(knee[0]), 1)
    (0.5, 100.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import model_stack
from .arguments import check_int
from .parametrization import SP

RULES = {"linear": 1.0, "sqrt": 0.5}   # the exponent each rule puts on the batch-size ratio


def predict_lr(lr: float, batch_size: float, new_batch_size: float, rule: str) -> float:
    """The learning rate ``rule`` (``"linear"`` or ``"sqrt"``) gives at ``new_batch_size``, from ``lr`` at ``batch_size``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}.")
    if not (lr > 0 and batch_size > 0 and new_batch_size > 0):
        raise ValueError("lr and both batch sizes must be positive.")
    return float(lr * (new_batch_size / batch_size) ** RULES[rule])


@dataclass(frozen=True)
class BatchSweep:
    """One optimizer's losses over batch sizes, seeds and learning rates.

    ``batch_sizes`` (nB,); ``lrs`` (L,); ``seeds`` (S,); ``final_loss`` (nB, S, L): the loss on all the
    training data after ``num_examples`` training examples (``inf`` where a run diverged); ``runs``:
    the :class:`~course_utils.model_stack.StackRuns` of each batch size (curves on the evaluation set).
    """

    optimizer: str
    batch_sizes: np.ndarray
    lrs: np.ndarray
    seeds: np.ndarray
    final_loss: np.ndarray
    runs: tuple
    num_examples: int
    width: int
    warmup: float

    @property
    def wall_time(self) -> float:
        return float(sum(r.wall_time for r in self.runs))


def sweep_batch_sizes(X, y, *, batch_sizes, lrs, optimizer: str, num_examples: int, seeds, width: int, depth: int = 2,
                      warmup: float = 0.05, eval_X=None, eval_y=None, num_threads: int | None = 1,
                      progress=None) -> BatchSweep:
    """Train MLPs of ``width`` with every batch size × seed × lr for ``num_examples`` examples each.

    Batch size B runs ``round(num_examples / B)`` steps, the first ``warmup`` fraction of them a
    linear warmup. Every lr of a seed starts from the same weights and sees the same minibatches
    (:class:`~course_utils.model_stack.MLPStack`). The networks train on ``X``'s device. ``progress``
    wraps the loop over batch sizes.
    """
    batch_sizes = np.array([check_int(b, "batch size", minimum=1) for b in batch_sizes])
    if np.any(np.diff(batch_sizes) <= 0):
        raise ValueError("batch_sizes must be increasing.")
    num_examples = check_int(num_examples, "num_examples", minimum=int(batch_sizes.max()))
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup is a fraction of the steps, between 0 and 1; got {warmup!r}.")
    lrs = np.asarray(lrs, dtype=float)
    runs = []
    for batch_size in (progress(batch_sizes) if progress else batch_sizes):
        num_steps = max(1, int(round(num_examples / batch_size)))
        stack = model_stack.MLPStack(X.shape[1], width, int(y.max()) + 1, seeds=seeds, num_lrs=len(lrs), depth=depth,
                                     parametrization=SP).to(X.device)
        runs.append(model_stack.train_stack(stack, X, y, lrs, optimizer, batch_size=int(batch_size),
                                            num_steps=num_steps, eval_X=eval_X, eval_y=eval_y,
                                            eval_every=max(1, num_steps // 20),
                                            warmup_steps=int(round(warmup * num_steps)), num_threads=num_threads))
    return BatchSweep(optimizer=optimizer, batch_sizes=batch_sizes, lrs=lrs, seeds=np.asarray(list(seeds)),
                      final_loss=np.stack([r.final_loss for r in runs]), runs=tuple(runs),
                      num_examples=num_examples, width=int(width), warmup=float(warmup))


def saturation_fit(batch_sizes, best) -> tuple[np.ndarray, np.ndarray]:
    """Fit best lr = lr_max · B / (B + B_knee) to ``best`` (nB, S), seed by seed, in log(lr).

    Returns ``(lr_max (S,), B_knee (S,))``. For each candidate ``B_knee`` (a fine log grid from a
    hundredth of the smallest batch size to a hundred times the largest) the best ``lr_max`` is a
    mean in log space; the candidate with the smallest squared error in log(lr) wins. A knee at the
    grid's top means the measurement shows no saturation (the rule held throughout).
    """
    B = np.asarray(batch_sizes, dtype=float)
    best = np.asarray(best, dtype=float)
    if best.ndim != 2 or best.shape[0] != len(B) or len(B) < 3:
        raise ValueError(f"best must have shape (batch sizes, seeds) with at least 3 batch sizes; got {best.shape}.")
    knees = np.geomspace(B.min() / 100, B.max() * 100, 2001)
    shape = np.log(B[None, :] / (B[None, :] + knees[:, None]))          # (knees, nB)
    lr_max, knee = [], []
    for column in np.log(best).T:
        log_lr_max = (column[None, :] - shape).mean(axis=1)             # (knees,)
        error = ((column[None, :] - shape - log_lr_max[:, None]) ** 2).sum(axis=1)
        k = int(np.argmin(error))
        lr_max.append(math.exp(log_lr_max[k]))
        knee.append(knees[k])
    return np.array(lr_max), np.array(knee)


def saturation_curve(batch_sizes, lr_max: float, knee: float) -> np.ndarray:
    """lr_max · B / (B + B_knee) at ``batch_sizes``."""
    B = np.asarray(batch_sizes, dtype=float)
    return lr_max * B / (B + knee)


def doubling_factors(batch_sizes, best) -> np.ndarray:
    """(nB − 1, S): by how much the best lr grows per doubling of B between consecutive batch sizes."""
    B = np.asarray(batch_sizes, dtype=float)
    best = np.asarray(best, dtype=float)
    steps = np.log2(B[1:] / B[:-1])[:, None]
    return (best[1:] / best[:-1]) ** (1.0 / steps)
