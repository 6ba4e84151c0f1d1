"""The largest eigenvalue of a symmetric matrix known only through its products ``v ↦ Hv``.

A network's Hessian has millions of rows and is never formed; what can be computed is one
product Hv at a time (:class:`~course_utils.curvature.HessianOperator`). :func:`top_eigenvalue`
finds λ_max from a few dozen of them, by **power iteration** (multiply a unit vector by H again
and again; the Rayleigh quotient vᵀHv converges to the eigenvalue of largest magnitude) or by
**Lanczos** (keep every product, orthogonalised, and take the top eigenvalue of H restricted to
the space they span). It stops when the estimate's relative change falls below ``tol``, or after
``max_iterations``, and returns an :class:`EigenEstimate` that says how far it converged.
Nothing here knows about networks: any symmetric ``matvec`` will do.

Example:
    >>> from course_utils.surfaces import make_bowl
    >>> A = torch.tensor(make_bowl((1.0, 10.0), angle_deg=30).A)
    >>> estimate = top_eigenvalue(lambda v: A @ v, dim=2, tol=1e-10, seed=0, dtype=A.dtype)
    >>> round(estimate.value, 6), estimate.converged
    (10.0, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from .arguments import check_int, check_positive


@dataclass(frozen=True)
class EigenEstimate:
    """The top eigenvalue found by :func:`top_eigenvalue`, and how far the iteration converged.

    ``value``: the estimate (the Rayleigh quotient vᵀHv of the last unit vector v);
    ``vector``: that v, flat; ``num_iterations``: matrix-vector products used;
    ``rel_change``: |λ_k − λ_{k−1}| / |λ_k| at the last iteration (the stopping criterion);
    ``residual``: ‖Hv − λv‖ / |λ| (for a symmetric H some eigenvalue lies within
    ``residual·|value|`` of ``value``); ``converged``: ``rel_change <= tol`` was reached before
    ``max_iterations``; ``history``: the estimate after each iteration.
    """

    value: float
    vector: torch.Tensor = field(repr=False)
    num_iterations: int
    rel_change: float
    residual: float
    converged: bool
    tol: float
    max_iterations: int
    history: tuple = field(default=(), repr=False)

    def __str__(self) -> str:
        state = (f"converged: relative change {self.rel_change:.1e} <= tol {self.tol:g}" if self.converged
                 else f"NOT converged: stopped at max_iterations={self.max_iterations}, "
                      f"relative change {self.rel_change:.1e} > tol {self.tol:g}")
        return f"λ_max ≈ {self.value:.6g} after {self.num_iterations} iterations ({state}; residual {self.residual:.1e})"


def random_unit_vector(dim: int, seed: int = 0, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """A random unit vector of shape (dim,), drawn from its own generator (the global RNG is not touched)."""
    generator = torch.Generator().manual_seed(int(seed))
    v = torch.randn(int(dim), generator=generator, dtype=torch.float64)
    return (v / v.norm()).to(dtype=dtype, device=device)


def _product(matvec, v: torch.Tensor) -> torch.Tensor:
    w = matvec(v)
    if not torch.all(torch.isfinite(w)):
        raise ValueError("the matrix-vector product returned NaN or infinity; check the model and the loss.")
    return w


def _power(matvec, v, tol, max_iterations):
    history, value, rel_change = [], math.nan, math.inf
    residual, converged = math.inf, False
    for k in range(1, max_iterations + 1):
        w = _product(matvec, v)
        new = float(torch.dot(v.double().flatten(), w.double().flatten()))
        residual = float((w - new * v).norm()) / max(abs(new), 1e-300)
        rel_change = abs(new - value) / max(abs(new), 1e-300) if k > 1 else math.inf
        value = new
        history.append(value)
        norm = w.norm()
        if k > 1 and rel_change <= tol:
            converged = True
            break
        if float(norm) == 0.0:  # v is in the null space: every eigenvalue it sees is 0
            converged, rel_change = True, 0.0
            break
        v = w / norm
    return value, v, k, rel_change, residual, converged, history


def _lanczos(matvec, v, tol, max_iterations):
    """Lanczos with full reorthogonalisation: the top Ritz value of the Krylov space built so far."""
    basis, alphas, betas = [v], [], []
    history, value, rel_change, residual, converged = [], math.nan, math.inf, math.inf, False
    ritz = v
    for k in range(1, max_iterations + 1):
        q = basis[-1]
        w = _product(matvec, q)
        alphas.append(float(torch.dot(q.double(), w.double())))
        Q = torch.stack(basis, dim=1)
        for _ in range(2):  # twice is enough to keep the basis orthogonal in floating point
            w = w - Q @ (Q.T @ w)
        beta = float(w.norm())
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if k > 1:
            off = torch.tensor(betas, dtype=torch.float64)
            T += torch.diag(off, 1) + torch.diag(off, -1)
        thetas, S = torch.linalg.eigh(T)
        new, s = float(thetas[-1]), S[:, -1]
        rel_change = abs(new - value) / max(abs(new), 1e-300) if k > 1 else math.inf
        residual = beta * abs(float(s[-1])) / max(abs(new), 1e-300)  # = ‖H y − θ y‖ / |θ| for the Ritz vector y
        value = new
        history.append(value)
        ritz = Q @ s.to(Q.dtype)
        if (k > 1 and rel_change <= tol) or beta <= 1e-12 * max(abs(a) for a in alphas) or k == w.numel():
            converged = True  # converged, or the Krylov space is invariant (then the Ritz value is exact)
            rel_change = rel_change if math.isfinite(rel_change) else 0.0
            break
        betas.append(beta)
        basis.append(w / beta)
    return value, ritz / ritz.norm(), k, rel_change, residual, converged, history


def top_eigenvalue(matvec: Callable[[torch.Tensor], torch.Tensor], dim: int | None = None, *,
                   tol: float = 1e-3, max_iterations: int = 100, seed: int = 0, v0: torch.Tensor | None = None,
                   method: str = "power", dtype=torch.float32, device=None) -> EigenEstimate:
    """The largest eigenvalue of a symmetric matrix given only as ``matvec(v) = H v``.

    ``method="power"`` (power iteration): each iteration multiplies a unit vector by H and takes
    the Rayleigh quotient λ = vᵀHv. Power iteration finds the eigenvalue of largest *magnitude*;
    if that is negative, it runs again on H − λI, whose largest eigenvalue is λ_max − λ, so the
    result is always the largest (algebraic) eigenvalue. It needs many iterations when the top
    eigenvalues crowd together (its error shrinks like (λ_2/λ_1)^(2k)).

    ``method="lanczos"``: the same products span a Krylov space; Lanczos keeps all of them
    (orthogonalised) and takes the largest eigenvalue of H restricted to that space, which
    converges much faster when the top eigenvalues crowd (memory: one vector per iteration).

    Either stops when the estimate changes by at most ``tol`` relative to itself from one
    iteration to the next, or after ``max_iterations`` (then ``converged`` is False: report it).

    Args:
        matvec: v (dim,) ↦ H v (dim,), H symmetric.
        dim: the size of v (not needed with ``v0``).
        tol: relative change of the estimate at which to stop.
        max_iterations: the most products per run.
        seed: seeds the random start (its own generator; the same seed gives the same result).
        v0: a start vector instead (e.g. the previous estimate's ``vector``: a warm start).
        method: ``"power"`` or ``"lanczos"``.

    Example:
        >>> H = torch.diag(torch.tensor([3.0, -5.0, 1.0]))
        >>> e = top_eigenvalue(lambda v: H @ v, dim=3, tol=1e-8, max_iterations=500)
        >>> round(e.value, 4), e.converged
        (3.0, True)
    """
    tol = check_positive(tol, "tol", hint="it is a relative change, e.g. 1e-3")
    max_iterations = check_int(max_iterations, "max_iterations", minimum=2)
    if v0 is None:
        if dim is None:
            raise ValueError("give dim (a positive integer, the size of v) or a start vector v0.")
        v = random_unit_vector(check_int(dim, "dim", minimum=1, hint="(the size of v)"), seed, dtype=dtype,
                               device=device)
    else:
        v = v0.detach().reshape(-1).clone()
        if not torch.all(torch.isfinite(v)) or float(v.norm()) == 0.0:
            raise ValueError("v0 must be a finite, non-zero vector.")
        v = v / v.norm()
    if method == "lanczos":
        value, vector, k, rel_change, residual, converged, history = _lanczos(matvec, v, tol, max_iterations)
        return EigenEstimate(value=float(value), vector=vector, num_iterations=k, rel_change=float(rel_change),
                             residual=float(residual), converged=bool(converged), tol=float(tol),
                             max_iterations=max_iterations, history=tuple(history))
    if method != "power":
        raise ValueError(f"method must be 'power' or 'lanczos', got {method!r}.")
    value, vector, k, rel_change, residual, converged, history = _power(matvec, v, tol, max_iterations)
    if value < 0:  # the dominant eigenvalue is negative: shift it to 0 and look again
        shift = value
        start = random_unit_vector(vector.numel(), seed + 1, dtype=vector.dtype, device=vector.device)
        shifted = _power(lambda u: matvec(u) - shift * u, start, tol, max_iterations)
        top, vector, k2, rel_change, res2, converged2, history2 = shifted
        value = top + shift
        k, history = k + k2, history + [h + shift for h in history2]
        converged = converged2
        residual = res2 * abs(top) / max(abs(value), 1e-300)
    return EigenEstimate(value=float(value), vector=vector, num_iterations=k, rel_change=float(rel_change),
                         residual=float(residual), converged=bool(converged), tol=float(tol),
                         max_iterations=max_iterations, history=tuple(history))
