"""Per-example scores of a trained network: what :mod:`course_utils.stats` pairs across runs.

Two runs scored on the same validation images are compared image by image
(``stats.paired_difference`` on arrays of shape ``(seeds, examples)``), so the scores must come
in the same order for every run: the loader's order, which an un-shuffled loader keeps.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0); model = torch.nn.Linear(4, 3)
    >>> batches = [(torch.randn(5, 4), torch.randint(0, 3, (5,))), (torch.randn(2, 4), torch.randint(0, 3, (2,)))]
    >>> right = correct(model, batches); right.shape, set(right.tolist()) <= {0.0, 1.0}
    ((7,), True)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .training import autocast


@torch.no_grad()
def correct(model: nn.Module, loader, device=None, amp="auto") -> np.ndarray:
    """1.0 where ``model`` (in eval mode) classifies an example of ``loader`` right, else 0.0, in the loader's order.

    ``loader`` yields ``(x, y)`` batches; ``device`` defaults to where the model's parameters are.
    Scored as :func:`~course_utils.training.evaluate` scores (``amp``: the same mixed precision on a
    GPU), so the mean is the accuracy ``fit`` recorded. The model's train/eval mode is put back afterwards.
    """
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        scores = []
        for x, y in loader:
            with autocast(device, amp):
                logits = model(x.to(device))
            scores.append((logits.argmax(1) == y.to(device)).float().cpu())
    finally:
        model.train(was_training)
    if not scores:
        raise ValueError("correct got an empty loader: give the validation batches (x, y).")
    return torch.cat(scores).numpy()
