"""Checks for lesson 08, curvature and the edge of stability.

The inputs are small: tiny networks (their weights, data and the vector given as plain numbers)
whose full Hessian ``torch.autograd.functional.hessian`` gives exactly where the grade is decided,
and symmetric matrices with known eigenvalues hidden behind a matrix-vector function, so every
check is instant and exact.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..surfaces import make_bowl
from ._core import Check, CheckFailed, as_array, as_number, expect, expect_close, register

# ----------------------------------------------------------------------------- 08.1 Hessian-vector products

_ACTIVATIONS = {"tanh": torch.tanh, "softplus": torch.nn.functional.softplus, "sigmoid": torch.sigmoid}


def _loss(case: dict, params: list) -> torch.Tensor:
    """The case's loss as a function of its parameters: a bowl ½ wᵀAw, or a small network (weight, bias per
    layer, ``case['activation']`` between layers) on the case's data with a squared or cross-entropy loss."""
    if case["kind"] == "bowl":
        w = params[0]
        return 0.5 * w @ torch.tensor(case["A"], dtype=torch.float64) @ w
    out = torch.tensor(case["x"], dtype=torch.float64)
    layers = list(zip(params[0::2], params[1::2]))
    for i, (weight, bias) in enumerate(layers):
        out = out @ weight.T + bias
        if i < len(layers) - 1:
            out = _ACTIVATIONS[case["activation"]](out)
    if case["loss"] == "cross_entropy":
        return torch.nn.functional.cross_entropy(out, torch.tensor(case["y"]))
    return 0.5 * ((out - torch.tensor(case["y"], dtype=torch.float64)) ** 2).sum(1).mean()


def _parameters(case: dict) -> list:
    return [torch.tensor(p, dtype=torch.float64) for p in case["params"]]


def _network_case(what, sizes, activation, loss, params, x, y) -> dict:
    return dict(what=what, kind="network", sizes=list(sizes), activation=activation, loss=loss,
                params=[p.tolist() for p in params], x=x.tolist(), y=y.tolist())


def _visible_network(seed: int, sizes, activation: str, loss: str, what: str) -> dict:
    """The network lesson 08's check has always used: ``nn.Linear`` layers initialised after ``manual_seed(seed)``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(a, b).double() for a, b in zip(sizes[:-1], sizes[1:])]
    params = [p.detach() for layer in layers for p in (layer.weight, layer.bias)]
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(9, sizes[0], generator=g, dtype=torch.float64)
    y = (torch.randint(0, sizes[-1], (9,), generator=g) if loss == "cross_entropy"
         else torch.randn(9, sizes[-1], generator=g, dtype=torch.float64))
    return _network_case(what, sizes, activation, loss, params, x, y)


def _drawn_network(rng: np.random.Generator) -> dict:
    sizes = [int(rng.integers(2, 5))] + [int(k) for k in rng.integers(3, 7, size=int(rng.integers(1, 3)))] + \
            [int(rng.integers(2, 5))]
    activation = str(rng.choice(sorted(_ACTIVATIONS)))
    loss = str(rng.choice(["cross_entropy", "squared"]))
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, 1.2 / math.sqrt(a), size=(b, a)), rng.normal(0, 0.3, size=b)]
    n = int(rng.integers(6, 13))
    x = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], size=n) if loss == "cross_entropy" else rng.normal(size=(n, sizes[-1]))
    what = f"a {'-'.join(map(str, sizes))} {activation} network with {loss.replace('_', '-')} loss"
    return _network_case(what, sizes, activation, loss, params, x, y)


def _bowl_case(what: str, A: np.ndarray) -> dict:
    w = [0.7, -1.3][: A.shape[0]] + [0.5] * (A.shape[0] - 2)
    return dict(what=what, kind="bowl", A=A.tolist(), params=[w])


def _flat_hessian_and_gradient(case: dict):
    params = _parameters(case)
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def loss_of_flat(flat):
        return _loss(case, [q.view(s) for q, s in zip(torch.split(flat, sizes), shapes)])

    theta = torch.cat([p.reshape(-1) for p in params])
    hessian = torch.autograd.functional.hessian(loss_of_flat, theta)
    gradient = torch.autograd.functional.jacobian(loss_of_flat, theta)
    return hessian, gradient


_GRAPH_ERRORS = ("does not require grad", "backward through the graph a second time")


class HessianVectorProduct(Check):
    id, name, points, kind = "08.1", "hessian_vector_product", 2, "implement"
    hints = (
        "H·v is a derivative of a derivative: the change of the gradient along the direction v. You never "
        "need H itself.",
        "torch.autograd.grad(loss, params) gives the gradient, but by default not one you can differentiate "
        "again: its create_graph argument keeps the graph of that computation.",
        "Reduce the gradient to one number that depends on v (the gradient, parameter by parameter, against "
        "the vector, all summed), then differentiate that number with respect to params once more. Return one "
        "tensor per parameter, shaped like it.",
    )

    def cases(self, variant):
        if not variant.hidden:
            problems = [_bowl_case("lesson 02's bowl", make_bowl((1.0, 10.0), angle_deg=30.0).A),
                        _visible_network(1, (3, 4, 2), "tanh", "cross_entropy",
                                         "a 3-4-2 tanh network with cross-entropy")]
            out = []
            for problem in problems:
                g = torch.Generator().manual_seed(len(problem["what"]))
                shapes = [torch.tensor(p).shape for p in problem["params"]]
                out += [dict(problem, vector=[torch.randn(s, generator=g, dtype=torch.float64).tolist()
                                              for s in shapes]) for _ in range(2)]
            return out
        rng = variant.rng(self.id, "problems")
        bowl = make_bowl((float(rng.uniform(0.2, 2.0)), float(rng.uniform(4.0, 15.0))),
                         angle_deg=float(rng.uniform(-80, 80))).A
        problems = [_bowl_case("a bowl", bowl), _drawn_network(rng), _drawn_network(rng)]
        return [dict(p, vector=[rng.normal(size=np.shape(q)).tolist() for q in p["params"]]) for p in problems]

    def respond(self, hvp_fn, case):
        params = [p.requires_grad_(True) for p in _parameters(case)]
        vector = [torch.tensor(v, dtype=torch.float64) for v in case["vector"]]
        try:
            got = hvp_fn(_loss(case, params), params, vector)
        except RuntimeError as err:
            if any(text in str(err) for text in _GRAPH_ERRORS):
                return {"graph_error": str(err).splitlines()[0][:300]}
            raise
        if torch.is_tensor(got):   # one tensor: right only when there is one parameter
            got = [got]
        return {"hvp": list(got) if isinstance(got, tuple) else got, "params_after": [p.detach() for p in params]}

    def judge(self, case, value):
        what = f"hessian_vector_product on {case['what']}"
        expect(isinstance(value, dict), "hessian_vector_product's answer could not be read.")
        if "graph_error" in value:
            expect(False, f"{what}: torch said \"{value['graph_error']}\". The gradient itself has to be "
                          "differentiable for a second derivative: look at create_graph in torch.autograd.grad.")
        params = case["params"]
        after = value.get("params_after")
        expect(isinstance(after, list) and len(after) == len(params) and all(
            np.array_equal(as_array(a, "a parameter after the call"), np.array(p)) for a, p in zip(after, params)),
            "hessian_vector_product changed the parameters; it should only read them.")
        got = value.get("hvp")
        expect(got is not None, "hessian_vector_product returned None: return the list of tensors H·v.")
        expect(isinstance(got, list) and len(got) == len(params) and not all(isinstance(x, (int, float)) for x in got),
               f"{what}: return one tensor per parameter ({len(params)} of them, shaped like params), as a list.")
        parts = [as_array(t, f"{what}, part {i}") for i, t in enumerate(got)]
        for i, (part, p) in enumerate(zip(parts, params)):
            expect(part.shape == np.shape(p), f"{what}: part {i} has shape {part.shape}; each part of H·v has its "
                                              "parameter's shape.")
        hessian, gradient = _flat_hessian_and_gradient(case)
        vector = torch.cat([torch.tensor(v, dtype=torch.float64).reshape(-1) for v in case["vector"]])
        flat = np.concatenate([part.reshape(-1) for part in parts])
        expect_close(flat, (hessian @ vector).numpy(), what=what, rtol=1e-6, atol=1e-9, mistakes={
            "that is the gradient, a first derivative; H·v is a second derivative, taken along v.": gradient.numpy(),
            "that is the gradient times the vector, entry by entry; H·v mixes all the entries (a second "
            "derivative along v).": (gradient * vector).numpy(),
        }, hint="H·v is the derivative of the gradient along v: see 'Curvature without the matrix' in lesson 08.")


# ----------------------------------------------------------------------------- 08.2 power iteration


def _symmetric(rng: np.random.Generator, eigenvalues, *, orthogonal_to_ones_top: bool = False) -> np.ndarray:
    """A symmetric matrix with the given eigenvalues (the largest first) and random axes.

    With ``orthogonal_to_ones_top`` the top eigenvector is orthogonal to the all-ones vector, so a
    power iteration started from ones heads for the second eigenvalue instead.
    """
    n = len(eigenvalues)
    m = rng.normal(size=(n, n))
    if orthogonal_to_ones_top:
        ones = np.ones(n) / np.sqrt(n)
        m[:, 0] -= ones * (ones @ m[:, 0])
    q, _ = np.linalg.qr(m)  # q[:, 0] is m[:, 0] normalised: the top eigenvector
    A = q @ np.diag(np.asarray(eigenvalues, dtype=float)) @ q.T
    return 0.5 * (A + A.T)


def _spectrum(rng, dim, top, gap, *, below=0.999, crowd=0):
    """``dim`` eigenvalues: ``top``, then ``top * (1 - gap)``, then ``crowd`` within 5 % below that, then the
    rest spread below ``below`` times it."""
    second = top * (1 - gap)
    rest = np.concatenate([rng.uniform(0.95 * second, second, size=crowd),
                           rng.uniform(0.01 * top, below * second, size=dim - 2 - crowd)])
    return [top, second, *np.sort(rest)[::-1]]


class PowerIteration(Check):
    id, name, points, kind = "08.2", "power_iteration", 2, "implement"
    hints = (
        "Multiply a vector by H again and again: the direction with the largest eigenvalue grows fastest and "
        "takes over. The Rayleigh quotient of the current unit vector estimates the eigenvalue.",
        "Keep the vector at unit length after every product, or its length grows (or shrinks) like λ^k and "
        "overflows (or underflows). Start from a random vector: a fixed one can have no part along the top "
        "direction at all.",
        "Stop when the estimate changes by less than tol relative to itself from one iteration to the next "
        "(not after a fixed small number of iterations: when the two top eigenvalues are close it takes "
        "hundreds), and return the estimate as a number.",
    )

    def cases(self, variant):
        if not variant.hidden:
            seeded = np.random.default_rng
            specs = [("a 3x3 matrix", seeded(1), [5.0, 2.0, 1.0], False),
                     ("a 20x20 matrix with a large scale", seeded(2),
                      [1e5, 9e4] + list(np.linspace(1, 5e4, 18)), False),
                     ("a 10x10 matrix with a tiny scale", seeded(3),
                      [0.01, 0.004] + list(np.linspace(1e-4, 2e-3, 8)), False),
                     ("a 25x25 matrix with a small eigengap", seeded(4),
                      [10.0, 9.7] + list(np.linspace(0.5, 8.0, 23)), False),
                     ("a 6x6 matrix whose top direction is orthogonal to ones", seeded(5),
                      [3.0, 2.0, 1.5, 1.0, 0.5, 0.2], True)]
        else:
            rng = variant.rng(self.id, "matrices")
            small, large, tiny, close, trap = (int(rng.integers(lo, hi)) for lo, hi in
                                               ((3, 7), (15, 41), (8, 16), (20, 36), (6, 11)))
            specs = [(f"a {small}x{small} matrix", rng,
                      _spectrum(rng, small, rng.uniform(0.5, 8.0), rng.uniform(0.2, 0.6)), False),
                     (f"a {large}x{large} matrix with a large scale", rng,
                      _spectrum(rng, large, 10 ** rng.uniform(5, 7), rng.uniform(0.04, 0.08)), False),
                     (f"a {tiny}x{tiny} matrix with a tiny scale", rng,
                      _spectrum(rng, tiny, 10 ** rng.uniform(-3.5, -2), rng.uniform(0.3, 0.6)), False),
                     (f"a {close}x{close} matrix with a small eigengap", rng,
                      _spectrum(rng, close, rng.uniform(3.0, 12.0), rng.uniform(0.01, 0.02), crowd=4), False),
                     # the rest well below the second eigenvalue: a start with no part along the top direction
                     # settles on the second before rounding errors let the top one grow back
                     (f"a {trap}x{trap} matrix whose top direction is orthogonal to ones", rng,
                      _spectrum(rng, trap, rng.uniform(1.0, 6.0), rng.uniform(0.15, 0.3), below=0.6), True)]
        return [{"what": what, "A": _symmetric(gen, ev, orthogonal_to_ones_top=t).tolist()}
                for what, gen, ev, t in specs]

    def respond(self, power_iteration_fn, case):
        matrix = torch.tensor(case["A"], dtype=torch.float64)
        calls = [0]

        def hvp(v):
            calls[0] += 1
            v = torch.as_tensor(v, dtype=torch.float64)
            if v.shape != (matrix.shape[0],):
                raise CheckFailed(f"hvp takes a vector of shape (dim,) = ({matrix.shape[0]},), got {tuple(v.shape)}.")
            return matrix @ v

        return {"value": power_iteration_fn(hvp, matrix.shape[0]), "products": calls[0]}

    def judge(self, case, value):
        what = f"power_iteration on {case['what']}"
        expect(isinstance(value, dict), "power_iteration's answer could not be read.")
        expect(value.get("value") is not None, "power_iteration returned None: return the estimate of λ_max "
                                               "(a number).")
        got = as_array(value["value"], what)
        expect(got.size == 1, f"power_iteration should return one number, got an array of shape {got.shape}.")
        got = float(got.reshape(()))
        eigenvalues = np.linalg.eigvalsh(np.array(case["A"]))
        top, second = eigenvalues[-1], eigenvalues[-2]
        if math.isclose(got, top, rel_tol=1e-3):
            return
        products = as_number(value.get("products", 0), "the number of products")
        expect(math.isfinite(got) and got != 0,
               f"{what} returned {got}: keep the vector at unit length after every product, or it overflows "
               "(large eigenvalues) or underflows (small ones).")
        expect(not math.isclose(got, second, rel_tol=1e-4),
               f"{what}: your estimate converged, but to another eigenvalue than the largest: the start vector "
               "had no part along the top direction (a fixed start such as all ones can be orthogonal to it).")
        expect(not (eigenvalues[0] < got < top),
               f"{what}: after {products:g} products your estimate is still on its way up. Stop by the relative "
               "change of the estimate (tol), not after a fixed number of iterations: when the two top "
               "eigenvalues are close, it takes hundreds.")
        expect(False, f"{what} returned {got:.6g}, which is not the largest eigenvalue. The Rayleigh quotient "
                      "v·(Hv) of a unit vector v is the estimate (see 'Power iteration' in lesson 08).")


# ----------------------------------------------------------------------------- 08.3 largest stable learning rate


class LargestStableLr(Check):
    id, name, points, kind = "08.3", "largest_stable_lr", 1, "predict"
    hints = (
        "On a bowl, the sharpness is the largest eigenvalue of the Hessian, and the steepest direction is the "
        "first to become unstable as the learning rate grows (lesson 02).",
        "Momentum changes where that wall is: lesson 04's derivation of heavy-ball momentum's stability, and its "
        "section 'The stability region, measured', say how far it moves.",
        "The wall is a bound on the product lr · sharpness that grows with the momentum; divide it by the "
        "sharpness. With momentum 0 it must give lesson 02's wall.",
    )

    def cases(self, variant):
        if not variant.hidden:
            pairs = [(100.0, 0.0), (20.0, 0.9), (1.5, 0.0), (400.0, 0.5)]
        else:
            rng = variant.rng(self.id, "pairs")
            momenta = [0.0, rng.uniform(0.3, 0.6), rng.uniform(0.85, 0.98), rng.uniform(0.1, 0.9), 0.0]
            pairs = [(float(f"{10 ** rng.uniform(-0.5, 3.5):.4g}"), round(float(m), 3)) for m in momenta]
        return [{"sharpness": s, "momentum": m} for s, m in pairs]

    def respond(self, largest_stable_lr_fn, case):
        return largest_stable_lr_fn(case["sharpness"], case["momentum"])

    def judge(self, case, value):
        sharp, momentum = case["sharpness"], case["momentum"]
        what = f"largest_stable_lr({sharp:g}, momentum={momentum:g})"
        expect(value is not None, "largest_stable_lr returned None: return the learning rate (a number).")
        got = as_array(value, what)
        expect(got.size == 1, f"largest_stable_lr should return one number, got shape {got.shape}.")
        expect_close(got.reshape(()), (2 + 2 * momentum) / sharp, what=what, rtol=1e-9, mistakes={
            "that leaves the momentum out: with heavy-ball momentum the wall moves (lesson 04's stability "
            "region).": 2 / sharp,
            "that learning rate takes the steepest direction to the minimum in one step; the wall "
            "is further out, where the oscillation stops shrinking (lesson 02).": 1 / sharp,
            "that is the steady-slope reasoning (momentum multiplies the step on a constant gradient), which "
            "does not decide stability: the oscillation along the steepest direction does (lesson 04's "
            "stability region).": 2 / ((1 - momentum) * sharp),
            "that is upside down: a sharper bowl allows a smaller learning rate.": (2 + 2 * momentum) * sharp,
        }, hint="Re-read lesson 02's wall and 'The stability region, measured' in lesson 04.")


# ----------------------------------------------------------------------------- 08.4 where the sharpness settles


class EdgeSharpness(Check):
    id, name, points, kind = "08.4", "edge_sharpness", 1, "predict"
    hints = (
        "Ask what a full-batch step does to the sharpness in two situations: when it is above the wall of this "
        "learning rate (exercise 08.3), and when it is below it.",
        "Below the wall the step is stable and training tends to make the loss sharper and sharper; above it the "
        "step overshoots along the steepest direction, and the oscillation throws the weights towards flatter "
        "places. Both push the sharpness the same way: towards the wall.",
        "So the answer is the wall itself, read the other way round: not the largest stable learning rate for a "
        "given sharpness, but the largest sharpness that plain gradient descent at this learning rate can "
        "tolerate.",
    )

    def cases(self, variant):
        if not variant.hidden:
            lrs = [0.01, 0.02, 0.05, 0.2]
        else:
            rng = variant.rng(self.id, "lrs")
            lrs = [float(f"{10 ** rng.uniform(-3.5, 0.0):.3g}") for _ in range(4)]
        return [{"lr": lr} for lr in lrs]

    def respond(self, edge_sharpness_fn, case):
        return edge_sharpness_fn(case["lr"])

    def judge(self, case, value):
        lr = case["lr"]
        what = f"edge_sharpness({lr:g})"
        expect(value is not None, "edge_sharpness returned None: return the sharpness (a number).")
        got = as_array(value, what)
        expect(got.size == 1, f"edge_sharpness should return one number, got shape {got.shape}.")
        expect_close(got.reshape(()), 2.0 / lr, what=what, rtol=1e-9, mistakes={
            "that is upside down: a larger learning rate tolerates less curvature, not more.": 2.0 * lr,
            "that is upside down and halved: the sharpness a run tolerates falls as the learning rate grows.": lr / 2.0,
            "that is the curvature solved in one step; the run tolerates more before the steps stop shrinking "
            "(lesson 02's wall).": 1.0 / lr,
            "that is the wall with heavy-ball momentum; this run is plain gradient descent.": 3.8 / lr,
        }, hint="Think about which way a full-batch step pushes the sharpness above and below the wall of exercise "
                "08.3, read the other way round.")


hessian_vector_product = register(HessianVectorProduct())
power_iteration = register(PowerIteration())
largest_stable_lr = register(LargestStableLr())
edge_sharpness = register(EdgeSharpness())
