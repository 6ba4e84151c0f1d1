"""Checks for lesson 01, gradient descent on a bowl."""
from __future__ import annotations

import numpy as np

from ..surfaces import make_bowl
from ._core import expect, expect_close, exercise


def _bowl(hidden: bool):
    # The hidden variant uses another bowl and start, so hard-coding the visible answer fails.
    return make_bowl((2.0, 7.0), angle_deg=-20.0) if hidden else make_bowl((1.0, 10.0), angle_deg=30.0)


@exercise("01.1", "gd_step", points=1)
def gd_step(gd_step_fn, *, hidden: bool = False) -> None:
    """Check ``gd_step(w, grad, lr)`` returns w - lr * grad without changing ``w`` in place."""
    bowl = _bowl(hidden)
    starts = [np.array([1.5, -0.5]), np.array([-2.0, 1.0])] if hidden else [np.array([1.0, 1.0]), np.array([0.3, -2.0])]
    for w in starts:
        for lr in (0.01, 0.15, 0.3):
            w_before = w.copy()
            g = bowl.grad(w)
            got = gd_step_fn(w, g, lr)
            expect(np.array_equal(w, w_before),
                   "gd_step changed w in place; return a new array (w - lr * grad) instead.")
            expect_close(got, w - lr * g, what=f"gd_step(w, grad, lr={lr})",
                         hint="One step moves against the gradient, scaled by the learning rate: w - lr * grad.")


@exercise("01.2", "run_gd", points=2)
def run_gd(run_gd_fn, *, hidden: bool = False) -> None:
    """Check ``run_gd(grad, w0, lr, num_steps)`` returns all num_steps + 1 iterates as an array."""
    bowl = _bowl(hidden)
    w0 = np.array([-1.0, 2.0]) if hidden else np.array([2.0, 1.0])
    for lr, num_steps in ((0.05, 7), (0.18, 12), (0.21, 5)):
        got = run_gd_fn(bowl.grad, w0.copy(), lr, num_steps)
        want = [w0]
        for _ in range(num_steps):
            want.append(want[-1] - lr * bowl.grad(want[-1]))
        expect(got is not None, "run_gd returned None: return the array of iterates.")
        shape = np.shape(got)
        expect(shape == (num_steps + 1, 2),
               f"run_gd(..., num_steps={num_steps}) should return shape ({num_steps + 1}, 2): "
               f"the start w0 plus one row per step; got shape {shape}.")
        expect_close(got, np.array(want), what=f"run_gd(grad, w0, lr={lr}, num_steps={num_steps})",
                     hint="Row 0 is w0; row k+1 is row k minus lr times the gradient at row k.")
