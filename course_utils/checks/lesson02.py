"""Checks for lesson 02, stability and the best learning rate."""
from __future__ import annotations

import numpy as np

from ..surfaces import Quadratic, make_bowl
from ._core import as_array, expect, expect_close, exercise


def _random_spd(seed: int, dim: int, kappa: float) -> np.ndarray:
    """A symmetric positive-definite dim×dim matrix with random axes and condition number ``kappa``."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    lambdas = np.geomspace(1.0, kappa, dim) * rng.uniform(0.5, 3.0)
    A = q @ np.diag(lambdas) @ q.T
    return 0.5 * (A + A.T)


def matrices(hidden: bool = False) -> list[np.ndarray]:
    """The (non-diagonal) matrices the lesson-02 checks use; ``hidden`` gives others."""
    if hidden:
        return [make_bowl((0.5, 12.0), angle_deg=-55.0).A, _random_spd(11, 2, 7.0), _random_spd(12, 3, 40.0),
                _random_spd(13, 5, 3.0)]
    return [make_bowl((1.0, 10.0), angle_deg=30.0).A, _random_spd(1, 2, 4.0), _random_spd(2, 3, 25.0)]


def _check_lr_function(fn, expected_of, hidden: bool, what: str, hint: str) -> None:
    for A in matrices(hidden):
        A_before = A.copy()
        got = fn(A)
        expect(np.array_equal(A, A_before), f"{what} changed A in place; work on a copy.")
        expect(got is not None, f"{what} returned None: did you forget `return`?")
        value = as_array(got, what)
        expect(value.size == 1, f"{what} should return one number, got an array of shape {value.shape}.")
        expect_close(value.reshape(()), expected_of(Quadratic(A)), what=f"{what} for a {A.shape[0]}×{A.shape[0]} A",
                     hint=hint, rtol=1e-6)


@exercise("02.1", "max_stable_lr", points=1)
def max_stable_lr(max_stable_lr_fn, *, hidden: bool = False) -> None:
    """Check ``max_stable_lr(A)`` returns 2 / λ_max(A) for symmetric positive-definite matrices."""
    _check_lr_function(
        max_stable_lr_fn, lambda q: q.max_stable_lr, hidden, "max_stable_lr(A)",
        "GD is stable iff |1 - lr·λ| < 1 for every eigenvalue λ of A (np.linalg.eigvalsh), so lr < 2 / λ_max. "
        "The diagonal of A is not its eigenvalues unless A is diagonal.")


@exercise("02.2", "best_lr", points=1)
def best_lr(best_lr_fn, *, hidden: bool = False) -> None:
    """Check ``best_lr(A)`` returns 2 / (λ_min + λ_max) for symmetric positive-definite matrices."""
    _check_lr_function(
        best_lr_fn, lambda q: q.best_lr, hidden, "best_lr(A)",
        "The worst factor max(|1 - lr·λ_min|, |1 - lr·λ_max|) is smallest where the two are equal: "
        "1 - lr·λ_min = lr·λ_max - 1, so lr = 2 / (λ_min + λ_max).")
