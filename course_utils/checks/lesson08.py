"""Checks for lesson 08, curvature and the edge of stability.

The inputs are small: tiny networks whose full Hessian ``torch.autograd.functional.hessian``
gives exactly, and symmetric matrices with known eigenvalues hidden behind a
matrix-vector function, so every check is instant and exact.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from ._core import CheckFailed, as_array, expect, expect_close, exercise

# ----------------------------------------------------------------------------- 08.1 Hessian-vector products


def _network_case(seed: int, sizes, activation, loss: str):
    """A tiny float64 network, data and loss; returns (build_loss, params, full Hessian as a flat matrix)."""
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    model = nn.Sequential(*layers[:-1]).double()
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(9, sizes[0], generator=g, dtype=torch.float64)
    if loss == "cross_entropy":
        y = torch.randint(0, sizes[-1], (9,), generator=g)
        loss_fn = nn.functional.cross_entropy
    else:
        y = torch.randn(9, sizes[-1], generator=g, dtype=torch.float64)
        loss_fn = lambda out, t: 0.5 * ((out - t) ** 2).sum(1).mean()
    params = list(model.parameters())
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in params]

    def loss_of_flat(flat):
        pieces = torch.split(flat, [math.prod(s) for s in shapes])
        return loss_fn(functional_call(model, {n: q.view(s) for n, q, s in zip(names, pieces, shapes)}, (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    hessian = torch.autograd.functional.hessian(loss_of_flat, theta)
    return (lambda: loss_fn(model(x), y)), params, hessian


def _bowl_case(A):
    w = torch.tensor([0.7, -1.3][: A.shape[0]] + [0.5] * (A.shape[0] - 2), dtype=torch.float64, requires_grad=True)
    A = torch.as_tensor(A, dtype=torch.float64)
    return (lambda: 0.5 * w @ A @ w), [w], A


def _hvp_cases(hidden: bool):
    from ..surfaces import make_bowl

    if hidden:
        return [("a bowl", *_bowl_case(make_bowl((0.3, 7.0), angle_deg=-40.0).A)),
                ("a 2-5-4 tanh network with squared loss", *_network_case(11, (2, 5, 4), nn.Tanh, "squared")),
                ("a 4-3-3-2 softplus network with cross-entropy", *_network_case(12, (4, 3, 3, 2), nn.Softplus,
                                                                                  "cross_entropy"))]
    return [("lesson 02's bowl", *_bowl_case(make_bowl((1.0, 10.0), angle_deg=30.0).A)),
            ("a 3-4-2 tanh network with cross-entropy", *_network_case(1, (3, 4, 2), nn.Tanh, "cross_entropy"))]


@exercise("08.1", "hessian_vector_product", points=2)
def hessian_vector_product(hvp_fn, *, hidden: bool = False) -> None:
    """Check ``hessian_vector_product(loss, params, vector)`` returns H·vector (a list like ``params``)."""
    for what, build_loss, params, hessian in _hvp_cases(hidden):
        g = torch.Generator().manual_seed(len(what))
        for trial in range(2):
            vector = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
            before = [p.detach().clone() for p in params]
            try:
                got = hvp_fn(build_loss(), params, vector)
            except RuntimeError as err:
                if "does not require grad" in str(err) or "backward through the graph a second time" in str(err):
                    raise CheckFailed(
                        f"on {what} torch said: {str(err).splitlines()[0]} The gradient must itself be "
                        "differentiable: torch.autograd.grad(loss, params, create_graph=True), then differentiate "
                        "the dot product of that gradient with the vector.") from None
                raise
            expect(all(torch.equal(p.detach(), b) for p, b in zip(params, before)),
                   "hessian_vector_product changed the parameters; it should only read them.")
            expect(got is not None, "hessian_vector_product returned None: return the list of tensors H·v.")
            got = list(got) if isinstance(got, (list, tuple)) else [got]
            expect(len(got) == len(params),
                   f"on {what}: return one tensor per parameter ({len(params)}), got {len(got)}.")
            flat = torch.cat([torch.as_tensor(t).detach().reshape(-1).double() for t in got])
            want = hessian @ torch.cat([v.reshape(-1) for v in vector])
            expect_close(flat, want, what=f"hessian_vector_product on {what}", rtol=1e-6, atol=1e-9,
                         hint="Differentiate twice: grads = torch.autograd.grad(loss, params, create_graph=True); "
                              "dot = sum((g * v).sum() for g, v in zip(grads, vector)); "
                              "return torch.autograd.grad(dot, params). Returning the gradient, or gradient times "
                              "vector entry by entry, is not H·v.")


# ----------------------------------------------------------------------------- 08.2 power iteration


def _symmetric(seed: int, eigenvalues, *, orthogonal_to_ones_top: bool = False) -> np.ndarray:
    """A symmetric matrix with the given eigenvalues (the largest first) and random axes.

    With ``orthogonal_to_ones_top`` the top eigenvector is orthogonal to the all-ones vector, so a
    power iteration started from ones heads for the second eigenvalue instead.
    """
    n = len(eigenvalues)
    m = np.random.default_rng(seed).normal(size=(n, n))
    if orthogonal_to_ones_top:
        ones = np.ones(n) / np.sqrt(n)
        m[:, 0] -= ones * (ones @ m[:, 0])
    q, _ = np.linalg.qr(m)  # q[:, 0] is m[:, 0] normalised: the top eigenvector
    A = q @ np.diag(np.asarray(eigenvalues, dtype=float)) @ q.T
    return 0.5 * (A + A.T)


def _power_cases(hidden: bool):
    """(description, matrix, λ_max) triples; the traps: a large and a tiny scale (overflow/underflow
    without normalising), a small eigengap (too few iterations), a top eigenvector orthogonal to ones."""
    if hidden:
        specs = [("5x5, eigenvalues up to 3.7", 21, [3.7, 1.2, 0.9, 0.3, 0.1], False),
                 ("40x40, λ_max 3e5, eigengap 8 %", 22, [3e5, 2.76e5] + list(np.linspace(1, 2e5, 38)), False),
                 ("12x12, λ_max 0.004", 23, [0.004, 0.002] + list(np.linspace(1e-4, 1e-3, 10)), False),
                 ("30x30, eigengap 2 %", 24, [6.0, 5.88] + list(np.linspace(0.1, 4.0, 28)), False),
                 ("8x8, top direction orthogonal to ones", 25, [4.0, 2.5, 1.0, 0.8, 0.5, 0.4, 0.2, 0.1], True)]
    else:
        specs = [("3x3", 1, [5.0, 2.0, 1.0], False),
                 ("20x20, λ_max 1e5, eigengap 10 %", 2, [1e5, 9e4] + list(np.linspace(1, 5e4, 18)), False),
                 ("10x10, λ_max 0.01", 3, [0.01, 0.004] + list(np.linspace(1e-4, 2e-3, 8)), False),
                 ("25x25, eigengap 3 %", 4, [10.0, 9.7] + list(np.linspace(0.5, 8.0, 23)), False),
                 ("6x6, top direction orthogonal to ones", 5, [3.0, 2.0, 1.5, 1.0, 0.5, 0.2], True)]
    return [(what, _symmetric(seed, ev, orthogonal_to_ones_top=trap), max(ev)) for what, seed, ev, trap in specs]


@exercise("08.2", "power_iteration", points=2)
def power_iteration(power_iteration_fn, *, hidden: bool = False) -> None:
    """Check ``power_iteration(hvp, dim)`` returns λ_max of the symmetric matrix behind ``hvp``."""
    for what, A, lam_max in _power_cases(hidden):
        matrix = torch.tensor(A)
        calls = [0]

        def hvp(v):
            calls[0] += 1
            v = torch.as_tensor(v, dtype=torch.float64)
            if v.shape != (matrix.shape[0],):
                raise CheckFailed(f"hvp takes a vector of shape ({matrix.shape[0]},), got {tuple(v.shape)}.")
            return matrix @ v

        got = power_iteration_fn(hvp, matrix.shape[0])
        expect(got is not None, "power_iteration returned None: return the estimate of λ_max (a number).")
        value = as_array(got, "power_iteration(hvp, dim)")
        expect(value.size == 1, f"power_iteration should return one number, got an array of shape {value.shape}.")
        value = float(value.reshape(()))
        expect(math.isfinite(value),
               f"on a {what} matrix power_iteration returned {value}: normalise v after every product "
               "(v = w / w.norm()), or it overflows (large λ) or underflows (small λ).")
        expect(math.isclose(value, lam_max, rel_tol=1e-3),
               f"on a {what} matrix power_iteration returned {value:.6g}, but λ_max is {lam_max:.6g}. "
               "Start from a random vector (a fixed one such as all ones can be orthogonal to the top "
               "direction), normalise after each product, estimate λ by the Rayleigh quotient v·(Hv), and keep "
               "iterating until it changes by less than tol relative to itself (a small eigengap needs "
               "hundreds of iterations).")


# ----------------------------------------------------------------------------- 08.3 largest stable learning rate


def _lr_cases(hidden: bool):
    if hidden:
        return [(250.0, 0.0), (3.5, 0.5), (48.0, 0.95), (0.8, 0.0), (1200.0, 0.9)]
    return [(100.0, 0.0), (20.0, 0.9), (1.5, 0.0), (400.0, 0.5)]


@exercise("08.3", "largest_stable_lr", points=1)
def largest_stable_lr(largest_stable_lr_fn, *, hidden: bool = False) -> None:
    """Check ``largest_stable_lr(sharpness, momentum)`` returns (2 + 2·momentum) / sharpness."""
    for sharp, momentum in _lr_cases(hidden):
        got = largest_stable_lr_fn(sharp, momentum)
        expect(got is not None, "largest_stable_lr returned None: return the learning rate (a number).")
        value = as_array(got, "largest_stable_lr")
        expect(value.size == 1, f"largest_stable_lr should return one number, got shape {value.shape}.")
        expect_close(value.reshape(()), (2 + 2 * momentum) / sharp,
                     what=f"largest_stable_lr({sharp:g}, momentum={momentum:g})", rtol=1e-9,
                     hint="Without momentum, GD on a bowl is stable iff lr < 2/λ_max. Heavy-ball momentum β "
                          "(lesson 04) moves the wall to lr·λ_max < 2 + 2β, so lr < (2 + 2β)/λ_max, "
                          "not 2/((1 − β)·λ_max).")
