"""Loss surfaces with known answers: quadratic bowls f(w) = ½ wᵀAw and their eigen-facts.

On a bowl, gradient descent multiplies the component of w along each eigenvector of A by
``1 - lr * λ`` per step, so everything about the learning rate can be computed exactly:
the largest stable learning rate ``2 / λ_max``, the best fixed one ``2 / (λ_min + λ_max)``
and its rate ``(κ - 1) / (κ + 1)``.

Example:
    >>> bowl = make_bowl(lambdas=(1.0, 10.0), angle_deg=30)
    >>> round(bowl.max_stable_lr, 3), round(bowl.best_lr, 4)
    (0.2, 0.1818)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _as_spd_matrix(A) -> np.ndarray:
    A = np.array(A, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ValueError("A contains NaN or infinity; give a finite matrix.")
    if not np.allclose(A, A.T, rtol=1e-10, atol=1e-12):
        raise ValueError("A must be symmetric (a quadratic's Hessian is); use (A + A.T) / 2.")
    if np.linalg.eigvalsh(A).min() <= 0:
        raise ValueError("A must be positive definite (all eigenvalues > 0) for the bowl to have one minimum.")
    return A


@dataclass(frozen=True)
class Quadratic:
    """The bowl f(w) = ½ wᵀAw with symmetric positive-definite ``A`` (n×n); minimum at w = 0."""

    A: np.ndarray
    eigenvalues: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        A = _as_spd_matrix(self.A)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "eigenvalues", np.linalg.eigvalsh(A))

    @property
    def dim(self) -> int:
        return self.A.shape[0]

    def value(self, w) -> np.ndarray:
        """f(w) for ``w`` of shape (..., n); returns shape (...)."""
        w = np.asarray(w, dtype=float)
        return 0.5 * np.einsum("...i,ij,...j->...", w, self.A, w)

    def grad(self, w) -> np.ndarray:
        """∇f(w) = A w for ``w`` of shape (..., n)."""
        return np.asarray(w, dtype=float) @ self.A.T

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        """κ = λ_max / λ_min."""
        return self.lambda_max / self.lambda_min

    @property
    def max_stable_lr(self) -> float:
        """GD converges from every start iff lr < 2 / λ_max."""
        return 2.0 / self.lambda_max

    @property
    def best_lr(self) -> float:
        """The fixed lr with the smallest worst-case factor: 2 / (λ_min + λ_max)."""
        return 2.0 / (self.lambda_min + self.lambda_max)

    @property
    def best_rate(self) -> float:
        """The factor per step at ``best_lr``: (κ - 1) / (κ + 1)."""
        kappa = self.condition_number
        return (kappa - 1.0) / (kappa + 1.0)

    def factors(self, lr: float) -> np.ndarray:
        """Per-eigendirection factor 1 - lr λ (ascending λ)."""
        return 1.0 - lr * self.eigenvalues

    def rate(self, lr: float) -> float:
        """Worst-case factor per step, max |1 - lr λ|: below 1 means convergence."""
        return float(np.max(np.abs(self.factors(lr))))


def make_bowl(lambdas=(1.0, 10.0), angle_deg: float = 0.0) -> Quadratic:
    """A 2D bowl with eigenvalues ``lambdas`` whose axes are rotated by ``angle_deg`` degrees.

    Example:
        >>> make_bowl((1.0, 4.0)).condition_number
        4.0
    """
    lambdas = np.asarray(lambdas, dtype=float)
    if lambdas.shape != (2,) or np.any(lambdas <= 0) or not np.all(np.isfinite(lambdas)):
        raise ValueError(f"lambdas must be two positive numbers, got {lambdas.tolist()}.")
    t = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    A = rotation @ np.diag(lambdas) @ rotation.T
    return Quadratic(0.5 * (A + A.T))


