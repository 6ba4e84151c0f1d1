"""Lesson 02's bowl f(w) = ½ wᵀAw as a torch module, so torch's tools (the range test) can run on it.

On the bowl the answer is known: plain gradient descent blows up once lr > 2/λ_max (lesson 02),
so a range test run on it can be checked against that wall (lesson 06).

Example:
    >>> from course_utils import lr_finder, surfaces
    >>> bowl = surfaces.make_bowl((1.0, 10.0))
    >>> model = BowlModel(bowl.A, w0=[1.0, 1.0])
    >>> sweep = lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), BowlModel.loader(),
    ...                              loss_fn=bowl_loss, start_lr=1e-3, end_lr=1.0, num_steps=60, beta=0.0,
    ...                              progress=False)
    >>> sweep.stop_reason, bool(sweep.stop_lr > bowl.max_stable_lr)
    ('diverged', True)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class BowlModel(nn.Module):
    """The bowl f(w) = ½ wᵀAw as a torch module: ``forward`` ignores its input and returns f(w).

    Lets the range test run full-batch gradient descent on a quadratic, where the answer is known:
    plain GD blows up once lr > 2/λ_max (lesson 02). Use it with ``loss_fn=bowl_loss`` and a loader
    of one dummy batch (:meth:`loader`).

    Example:
        >>> from course_utils.surfaces import make_bowl
        >>> bowl = make_bowl((1.0, 10.0))
        >>> model = BowlModel(bowl.A, w0=[1.0, 1.0])
        >>> float(model(None)), float(bowl.value([1.0, 1.0]))
        (5.5, 5.5)
    """

    def __init__(self, A, w0):
        super().__init__()
        A = torch.as_tensor(np.asarray(A, dtype=float))
        w0 = torch.as_tensor(np.asarray(w0, dtype=float))
        if A.ndim != 2 or A.shape[0] != A.shape[1] or w0.shape != (A.shape[0],):
            raise ValueError(f"A must be (n, n) and w0 (n,), got {tuple(A.shape)} and {tuple(w0.shape)}.")
        self.register_buffer("A", A)
        self.w = nn.Parameter(w0.clone())

    def forward(self, x=None):
        return 0.5 * self.w @ self.A @ self.w

    @staticmethod
    def loader():
        """One dummy full batch: every step of the range test then sees the exact loss and gradient."""
        return [(torch.zeros(1), torch.zeros(1))]


def bowl_loss(output, target):
    """The loss of a :class:`BowlModel`: its output already is f(w), so the target is ignored."""
    return output


def range_test(A, w0, *, start_lr: float = 1e-3, end_lr: float = 10.0, num_steps: int = 200,
               diverge_factor: float = 4.0, mode: str = "exp"):
    """A full-batch range test of plain gradient descent on the bowl ``A`` (n, n) from ``w0`` (n,), in float64.

    No minibatch noise, so no smoothing (``beta=0``): each recorded loss is f(w) exactly, before that
    step's update. Returns the :class:`~course_utils.lr_finder.Sweep`.

    Example:
        >>> sweep = range_test([[10.0]], [1.0], start_lr=0.01, end_lr=1.0, num_steps=30)
        >>> bool(sweep.stop_lr > 2 / 10)
        True
    """
    from . import lr_finder

    model = BowlModel(A, w0)
    return lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=start_lr), model.loader(),
                                loss_fn=bowl_loss, start_lr=start_lr, end_lr=end_lr, num_steps=num_steps, mode=mode,
                                beta=0.0, diverge_factor=diverge_factor, progress=False)


__all__ = ["BowlModel", "bowl_loss", "range_test"]
