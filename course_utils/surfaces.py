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

from .arguments import check_int, check_positive, check_range, check_tol


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

    def predicted_steps(self, lrs, w0, tol: float = 1e-6) -> np.ndarray:
        """Steps of GD from ``w0`` until f ≤ ``tol`` · f(w0), predicted direction by direction; shape of ``lrs``.

        Direction i holds a share s_i of the starting loss, multiplied by (1 - lr λ_i)² per step, so it
        needs k_i = ln(s_i / tol) / (2 ln(1 / |1 - lr λ_i|)) steps; the prediction is the largest k_i
        (``math.inf`` where some |1 - lr λ_i| ≥ 1). It is a lower bound of the measured count, which also
        waits for the sum of the shares, and is exact (before rounding up to whole steps) when one
        direction holds all the loss.

        Example:
            >>> bowl = make_bowl((1.0, 10.0), angle_deg=30)
            >>> float(np.round(bowl.predicted_steps(0.1, [1.0, 1.0], tol=1e-6), 2))
            62.99
        """
        tol = check_tol(tol)
        w0 = np.asarray(w0, dtype=float)
        if w0.shape != (self.dim,) or not np.any(w0):
            raise ValueError(f"w0 must be a non-zero point of shape ({self.dim},), got {w0.tolist()}.")
        lambdas, vectors = np.linalg.eigh(self.A)
        share = 0.5 * lambdas * (vectors.T @ w0) ** 2 / float(self.value(w0))
        factor = np.abs(1 - np.multiply.outer(np.asarray(lrs, dtype=float), lambdas))
        need = np.log(np.maximum(share, tol) / tol)   # 0 for a direction that starts below tol
        with np.errstate(divide="ignore", invalid="ignore"):
            steps = need / (2 * np.log(1 / factor))
        steps = np.where(factor < 1, steps, np.where(share > 0, np.inf, 0.0))
        return steps.max(axis=-1)

    def diagonally_rescaled(self) -> "Quadratic":
        """The same bowl in the coordinates u_i = sqrt(A_ii) w_i, which make every diagonal entry 1.

        This is the best a per-coordinate rescaling can do for a 2D bowl's condition number (it
        equalises the two diagonal entries); rescaling cannot turn a bowl's axes.

        Example:
            >>> round(make_bowl((1.0, 10.0), angle_deg=0).diagonally_rescaled().condition_number, 6)
            1.0
        """
        scale = 1 / np.sqrt(np.diag(self.A))
        return Quadratic(self.A * np.outer(scale, scale))

    def level_curve(self, level: float, num_points: int = 90) -> np.ndarray:
        """The closed curve f(w) = ``level`` of a 2D bowl, as ``num_points`` points of shape (num_points, 2).

        Computed from the bowl's own ``A`` (its eigenvectors are the ellipse's axes, the half-axis
        along eigenvalue λ is sqrt(2·level/λ)), so a drawn contour is exactly a level set.

        Example:
            >>> bowl = make_bowl((1.0, 10.0), angle_deg=30)
            >>> curve = bowl.level_curve(2.0)
            >>> curve.shape, bool(np.allclose(bowl.value(curve), 2.0))
            ((90, 2), True)
        """
        if self.dim != 2:
            raise ValueError(f"level_curve draws 2D bowls; this one has dimension {self.dim}.")
        level = check_positive(level, "level", hint="it is a loss value, and the minimum is 0")
        num_points = check_int(num_points, "num_points", minimum=3)
        lambdas, vectors = np.linalg.eigh(self.A)   # columns of `vectors`: the bowl's axes
        theta = np.linspace(0.0, 2 * np.pi, int(num_points))
        unit = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
        return (unit * np.sqrt(2 * level / lambdas)) @ vectors.T


def start_directions(num: int, radius: float = 1.0) -> np.ndarray:
    """``num`` starts at distance ``radius`` from the origin, at evenly spaced angles over half a turn, (num, 2).

    On a bowl gradient descent from -w is the mirror image of the run from w, and turning the bowl is
    the same as turning the start, so these starts stand for every start at that distance and every
    tilt of the bowl. The angles are offset by half a spacing, so that no start lies on the
    coordinate axes.

    Example:
        >>> start_directions(4).round(3).tolist()
        [[0.924, 0.383], [0.383, 0.924], [-0.383, 0.924], [-0.924, 0.383]]
    """
    num = check_int(num, "num", minimum=1)
    radius = check_positive(radius, "radius")
    angles = (np.arange(num) + 0.5) * np.pi / num
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def make_bowl(lambdas=(1.0, 10.0), angle_deg: float = 0.0) -> Quadratic:
    """A 2D bowl with eigenvalues ``lambdas`` whose axes are rotated by ``angle_deg`` degrees.

    Example:
        >>> make_bowl((1.0, 4.0)).condition_number
        4.0
    """
    if np.shape(lambdas) != (2,):
        raise ValueError(f"lambdas must be two positive numbers (the curvatures), got {lambdas!r}.")
    lambdas = np.array([check_positive(v, "each of lambdas", hint="a curvature") for v in lambdas])
    turn = rotation(angle_deg)
    A = turn @ np.diag(lambdas) @ turn.T
    return Quadratic(0.5 * (A + A.T))


def rotation(angle_deg: float) -> np.ndarray:
    """The 2x2 matrix that turns a point by ``angle_deg`` degrees (counter-clockwise).

    Example:
        >>> rotation(90.0).round(12) @ [1.0, 0.0]
        array([0., 1.])
    """
    t = np.deg2rad(angle_deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def spread_bowl(kappa: float, dim: int = 12, lambda_max: float = 10.0) -> tuple[Quadratic, np.ndarray]:
    """A ``dim``-dimensional diagonal bowl with curvatures log-spaced from ``lambda_max / kappa`` to
    ``lambda_max``, and a start (dim,) holding the same loss (1/2) in every direction.

    Example:
        >>> bowl, start = spread_bowl(100.0, dim=3)
        >>> bowl.condition_number, float(bowl.value(start))
        (100.0, 1.5)
    """
    kappa = check_range(kappa, "kappa", 1, hint="the condition number lambda_max / lambda_min")
    lambdas = np.geomspace(lambda_max / kappa, lambda_max, check_int(dim, "dim", minimum=1))
    return Quadratic(np.diag(lambdas)), 1 / np.sqrt(lambdas)


def steps_for_factor(factor: float, tol: float = 1e-6) -> float:
    """Steps for a loss (the square of a distance that shrinks by ``factor`` per step) to fall to ``tol``
    of its start: ln(1/tol) / (2 ln(1/factor)).

    Example:
        >>> round(steps_for_factor(0.5, tol=1e-6), 2)
        9.97
    """
    return float(np.log(1 / tol) / (2 * np.log(1 / factor)))


@dataclass(frozen=True)
class Slope:
    """f(w) = g·w on one coordinate: the same gradient ``g`` everywhere (``w`` of shape (..., 1)).

    Example:
        >>> Slope(2.0).grad(np.zeros((3, 1))).ravel().tolist()
        [2.0, 2.0, 2.0]
    """

    g: float

    def value(self, w):
        return self.g * np.asarray(w)[..., 0]

    def grad(self, w):
        return np.full(np.shape(w), float(self.g))


@dataclass(frozen=True)
class PlateauSurface:
    """A non-convex 2D surface: a wide well (global minimum 0 at w = 0), a nearly flat plateau
    around it, and a shallow, narrow dip (a local minimum) on the way in.

    f(w) = 1 − exp(−|w|²/(2 s²)) − d · exp(−|w − m|²/(2 t²)) + ½ ε |w|²

    with ``s = well_width``, ``m = trap_center``, ``d = trap_depth``, ``t = trap_width`` and
    ``ε = tilt`` (the slight slope that makes the plateau cross-able at all). The well is wide
    (curvature ≈ 1/s² + ε at the bottom), the trap narrow (curvature ≈ d/t² inside): a learning
    rate between 2/λ_trap and 2/λ_well cannot settle in the trap but does settle in the well.

    Example:
        >>> surface = PlateauSurface()
        >>> float(surface.value([0.0, 0.0])) < 1e-12, float(np.abs(surface.grad([0.0, 0.0])).max()) < 1e-12
        (True, True)
    """

    well_width: float = 1.5
    trap_center: tuple = (3.5, 1.5)
    trap_depth: float = 0.1
    trap_width: float = 0.22
    tilt: float = 0.01
    start: tuple = (5.6, 2.4)  # a point on the plateau whose way down passes the trap

    def __post_init__(self):
        for name in ("well_width", "trap_depth", "trap_width", "tilt"):
            check_positive(getattr(self, name), name)
        for name in ("trap_center", "start"):
            point = np.asarray(getattr(self, name), dtype=float)
            if point.shape != (2,) or not np.all(np.isfinite(point)):
                raise ValueError(f"{name} must be a 2D point (x, y), got {getattr(self, name)!r}.")
            object.__setattr__(self, name, tuple(float(v) for v in point))

    dim = 2

    def _parts(self, w):
        w = np.asarray(w, dtype=float)
        if w.shape[-1:] != (2,):
            raise ValueError(f"w must have shape (..., 2), got {w.shape}.")
        v = w - np.asarray(self.trap_center)
        well = np.exp(-np.sum(w * w, axis=-1) / (2 * self.well_width**2))
        trap = self.trap_depth * np.exp(-np.sum(v * v, axis=-1) / (2 * self.trap_width**2))
        return w, v, well, trap

    def value(self, w) -> np.ndarray:
        """f(w) for ``w`` of shape (..., 2); returns shape (...)."""
        w, _, well, trap = self._parts(w)
        return 1.0 - well - trap + 0.5 * self.tilt * np.sum(w * w, axis=-1)

    def grad(self, w) -> np.ndarray:
        """∇f(w) for ``w`` of shape (..., 2)."""
        w, v, well, trap = self._parts(w)
        return (well[..., None] * w / self.well_width**2 + trap[..., None] * v / self.trap_width**2
                + self.tilt * w)

    def hessian(self, w) -> np.ndarray:
        """The 2×2 Hessian at one point ``w`` (shape (2,)); its eigenvalues are the curvatures there."""
        w, v, well, trap = self._parts(w)
        if w.shape != (2,):
            raise ValueError(f"hessian takes one point of shape (2,), got {w.shape}.")
        s2, t2, eye = self.well_width**2, self.trap_width**2, np.eye(2)
        return (well * (eye / s2 - np.outer(w, w) / s2**2)
                + trap * (eye / t2 - np.outer(v, v) / t2**2) + self.tilt * eye)
