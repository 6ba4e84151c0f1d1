"""Curvature of a loss: Hessian-vector products, the top eigenvalue, and sharpness during training.

The **sharpness** of a loss at weights θ is the largest eigenvalue λ_max of its Hessian H(θ).
On a bowl f(w) = ½ wᵀAw it is λ_max(A), and gradient descent is stable iff lr < 2/λ_max
(lesson 02). On a network H has millions of rows and is never formed: one Hessian-vector
product Hv costs about two gradients (double backpropagation: differentiate g(θ)·v, where
g = ∇L, once more), and **power iteration** finds λ_max from a few dozen of them.

* :class:`HessianOperator` -- v ↦ Hv for the mean loss of a model over a batch or a data
  set (in chunks, for memory).
* :func:`top_eigenvalue` -- power iteration on any symmetric matvec, stopped when the
  estimate's relative change falls below ``tol`` (or after ``max_iterations``, reported);
  returns an :class:`EigenEstimate` that says how far it converged.
* :func:`sharpness` -- both together on a model, leaving the model, its buffers and the
  random generators exactly as they were.
* :func:`adam_preconditioner`, :func:`preconditioned_sharpness` -- for Adam the quantity
  that meets a threshold is λ_max(P⁻¹H), P Adam's diagonal preconditioner (Cohen et al. 2022).
* :func:`stability_threshold` -- which quantity must stay below which number for a given
  optimizer: 2/lr (GD), (2+2β)/lr (heavy-ball momentum), (2+2β1)/((1-β1)·lr) (Adam).
* :class:`SharpnessMonitor` -- records the sharpness every k optimizer steps from a step
  hook, without disturbing the run.

Example:
    >>> import torch
    >>> from course_utils.surfaces import make_bowl
    >>> A = torch.tensor(make_bowl((1.0, 10.0), angle_deg=30).A)
    >>> estimate = top_eigenvalue(lambda v: A @ v, dim=2, tol=1e-10, seed=0, dtype=A.dtype)
    >>> round(estimate.value, 6), estimate.converged
    (10.0, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .state import preserved_state

# ----------------------------------------------------------------------------- flat vectors

def flatten(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors (e.g. one per parameter) into one flat vector of shape (sum of numel,)."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vector: torch.Tensor, like: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Split a flat ``vector`` into tensors shaped like ``like`` (the inverse of :func:`flatten`)."""
    sizes = [t.numel() for t in like]
    if vector.ndim != 1 or vector.numel() != sum(sizes):
        raise ValueError(f"vector must be flat with {sum(sizes)} entries (one per parameter), "
                         f"got shape {tuple(vector.shape)}.")
    return [piece.view_as(t) for piece, t in zip(torch.split(vector, sizes), like)]


def _params(model: nn.Module, params=None) -> list[torch.Tensor]:
    params = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not params:
        raise ValueError("the model has no trainable parameters (requires_grad=True): nothing to differentiate.")
    return params


# ----------------------------------------------------------------------------- Hessian-vector products

def _batches(data, chunk_size):
    """``data`` as a list of (x, y) pairs: one tensor pair cut into chunks, or a given sequence of pairs."""
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}.")
        if x.shape[0] == 0:
            raise ValueError("the data is empty: give at least one example.")
        size = x.shape[0] if chunk_size is None else int(chunk_size)
        if size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
        return [(x[i:i + size], y[i:i + size]) for i in range(0, x.shape[0], size)]
    batches = list(data)
    if not batches or not all(isinstance(b, (tuple, list)) and len(b) == 2 for b in batches):
        raise ValueError("data must be a pair of tensors (x, y) or a non-empty sequence of (x, y) batches.")
    return [(b[0], b[1]) for b in batches]


class HessianOperator:
    """v ↦ H v, H the Hessian (w.r.t. ``params``) of the mean of ``loss_fn(model(x), y)`` over ``data``.

    Args:
        model: the network; its weights are read, never changed.
        loss_fn: ``loss_fn(outputs, y)`` returning the **mean** loss over the rows it is given
            (e.g. ``torch.nn.functional.cross_entropy``).
        data: a pair of tensors ``(x, y)`` (cut into ``chunk_size`` rows for memory), or a
            sequence of ``(x, y)`` batches; each chunk is weighted by its share of the rows, so
            H is the Hessian of the loss over all of them.
        chunk_size: rows per chunk when ``data`` is one pair (default: all at once).
        params: the tensors to differentiate (default: every trainable parameter of ``model``).
        cache: keep the gradient's graph between calls while the weights do not change (each
            product then costs one backward pass instead of a forward and two backward passes;
            memory: the graph of every chunk). The weights are watched through their version
            counters, so an optimizer step invalidates the cache. Default: cache when the data
            is one chunk (chunks are asked for to save memory).

    In train mode a forward pass updates BatchNorm's running statistics: use :func:`sharpness`,
    which puts them back, or :func:`preserved_state`.

    Calling the operator with a flat vector of shape (``dim``,) returns Hv of the same shape.
    ``num_calls`` counts the products computed.

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(3, 1)     # doctest: +ELLIPSIS
        <...>
        >>> x, y = torch.randn(20, 3), torch.randn(20, 1)
        >>> H = HessianOperator(model, nn.functional.mse_loss, (x, y))
        >>> H.dim, H(torch.ones(H.dim)).shape
        (4, torch.Size([4]))
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, data, *, chunk_size: int | None = None,
                 params=None, cache: bool | None = None):
        batches = _batches(data, chunk_size)
        total = sum(int(x.shape[0]) for x, _ in batches)
        device = _params(model, params)[0].device

        def chunk_loss(x, y, weight):  # this chunk's share of the mean loss over all rows
            return lambda: loss_fn(model(x.to(device)), y.to(device)) * weight

        losses = [chunk_loss(x, y, int(x.shape[0]) / total) for x, y in batches]
        self._setup(losses, _params(model, params), len(batches) == 1 if cache is None else cache)

    @classmethod
    def from_closure(cls, closure: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], *,
                     cache: bool = True) -> "HessianOperator":
        """v ↦ H v for the Hessian of ``closure()`` (a scalar computed from ``params``) w.r.t. ``params``.

        Example (lesson 02's bowl, f(w) = ½ wᵀAw, whose Hessian is A):
            >>> from course_utils.surfaces import make_bowl
            >>> A = torch.tensor(make_bowl((1.0, 10.0), angle_deg=30).A)
            >>> w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
            >>> H = HessianOperator.from_closure(lambda: 0.5 * w @ A @ w, [w])
            >>> bool(torch.allclose(H(torch.tensor([1.0, 0.0], dtype=torch.float64)), A[:, 0]))
            True
        """
        params = list(params)
        if not params or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
            raise ValueError("params must be a non-empty list of tensors with requires_grad=True.")
        operator = cls.__new__(cls)
        operator._setup([closure], params, cache)
        return operator

    def _setup(self, losses, params, cache):
        self.params, self._losses = params, losses
        self.dim = sum(p.numel() for p in params)
        self.cache = bool(cache)
        self.num_calls = 0
        self._graphs, self._versions = None, None

    def _chunk_gradient(self, loss_of_chunk):
        """The gradient of one chunk's loss, with its graph (so it can be differentiated again)."""
        loss = loss_of_chunk()
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError("the loss must be one number (a 0-dimensional tensor): a loss_fn returns the mean "
                             f"loss over the rows it is given; got {type(loss).__name__} "
                             f"{tuple(getattr(loss, 'shape', ()))}.")
        return torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)

    def _graphs_now(self):
        """Every chunk's gradient graph, rebuilt only when a weight changed since the last call."""
        versions = tuple(p._version for p in self.params)  # bumped by every in-place change, e.g. optimizer.step()
        if self._graphs is None or versions != self._versions:
            self._graphs = [self._chunk_gradient(loss) for loss in self._losses]
            self._versions = versions
        return self._graphs

    def __call__(self, vector: torch.Tensor) -> torch.Tensor:
        if vector.shape != (self.dim,):
            raise ValueError(f"vector must have shape ({self.dim},) (one entry per parameter), got {tuple(vector.shape)}.")
        pieces = unflatten(vector.to(self.params[0]), self.params)
        total = torch.zeros(self.dim, dtype=self.params[0].dtype, device=self.params[0].device)
        if self.cache:
            gradients = self._graphs_now()
        else:  # one chunk's graph at a time: memory of one chunk
            gradients = (self._chunk_gradient(loss) for loss in self._losses)
        for grads in gradients:
            # d/dθ (g(θ) · v) = H v: the second backward pass through the gradient's graph
            dot = sum((g * v).sum() for g, v in zip(grads, pieces) if g is not None)
            if not isinstance(dot, torch.Tensor) or not dot.requires_grad:  # the loss is linear in params: H = 0
                continue
            hv = torch.autograd.grad(dot, self.params, retain_graph=self.cache, allow_unused=True)
            total += flatten(h if h is not None else torch.zeros_like(p) for h, p in zip(hv, self.params))
        self.num_calls += 1
        return total

    def clear(self) -> None:
        """Drop the cached graphs (frees their memory)."""
        self._graphs, self._versions = None, None


# ----------------------------------------------------------------------------- the top eigenvalue

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


def _power(matvec, v, tol, max_iterations):
    history, value, rel_change = [], math.nan, math.inf
    residual, converged = math.inf, False
    for k in range(1, max_iterations + 1):
        w = matvec(v)
        if not torch.all(torch.isfinite(w)):
            raise ValueError("the matrix-vector product returned NaN or infinity; check the model and the loss.")
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
        w = matvec(q)
        if not torch.all(torch.isfinite(w)):
            raise ValueError("the matrix-vector product returned NaN or infinity; check the model and the loss.")
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
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number (a relative change, e.g. 1e-3), got {tol!r}.")
    if int(max_iterations) != max_iterations or max_iterations < 2:
        raise ValueError(f"max_iterations must be an integer >= 2, got {max_iterations!r}.")
    if v0 is None:
        if dim is None or int(dim) != dim or dim < 1:
            raise ValueError(f"give dim (a positive integer, the size of v) or a start vector v0; got dim={dim!r}.")
        v = random_unit_vector(int(dim), seed, dtype=dtype, device=device)
    else:
        v = v0.detach().reshape(-1).clone()
        if not torch.all(torch.isfinite(v)) or float(v.norm()) == 0.0:
            raise ValueError("v0 must be a finite, non-zero vector.")
        v = v / v.norm()
    max_iterations = int(max_iterations)
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


def sharpness(model: nn.Module, loss_fn: Callable, data, *, chunk_size: int | None = None, tol: float = 1e-3,
              max_iterations: int = 100, seed: int = 0, v0: torch.Tensor | None = None,
              method: str = "power") -> EigenEstimate:
    """The sharpness λ_max of the Hessian of the mean ``loss_fn`` of ``model`` over ``data``.

    ``data`` is a pair of tensors ``(x, y)`` or a sequence of ``(x, y)`` batches (see
    :class:`HessianOperator`). The model's weights, buffers, train/eval flags, the global random
    generators and any ``.grad`` are left exactly as they were.

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(2, 1, bias=False)     # doctest: +ELLIPSIS
        <...>
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 3.0]]); y = torch.zeros(2, 1)
        >>> # mse over 2 rows: L = (w1² + 9 w2²)/2, so H = diag(1, 9)
        >>> round(sharpness(model, nn.functional.mse_loss, (x, y), tol=1e-8).value, 4)
        9.0
    """
    with preserved_state(model):
        operator = HessianOperator(model, loss_fn, data, chunk_size=chunk_size)
        p = operator.params[0]
        return top_eigenvalue(operator, operator.dim, tol=tol, max_iterations=max_iterations, seed=seed, v0=v0,
                              method=method, dtype=p.dtype, device=p.device)


# ----------------------------------------------------------------------------- Adam: preconditioned sharpness

def adam_preconditioner(optimizer: torch.optim.Optimizer, params=None) -> torch.Tensor:
    """Adam's diagonal preconditioner P as one flat vector over ``params`` (default: every parameter the optimizer holds).

    ``torch.optim.Adam`` moves each weight by lr · m / ((1 − β1^t)(√(v/(1 − β2^t)) + eps)), i.e.
    lr · P⁻¹ m with P = (1 − β1^t) · (√v̂ + eps), v̂ = v/(1 − β2^t) the bias-corrected second
    moment (Cohen et al. 2022, "Adaptive gradient methods at the edge of stability"). Needs at
    least one step taken (before it, Adam has no preconditioner).
    """
    group_of = {p: g for g in optimizer.param_groups for p in g["params"]}
    params = [p for g in optimizer.param_groups for p in g["params"]] if params is None else list(params)
    pieces = []
    for p in params:
        group = group_of.get(p)
        if group is None:
            raise ValueError("a parameter is not in this optimizer's param_groups; pass the optimizer that trains the model.")
        if "betas" not in group or group.get("amsgrad") or group.get("maximize"):
            raise ValueError("adam_preconditioner reads torch.optim.Adam's state (betas, exp_avg_sq) without amsgrad/maximize; "
                             f"{type(optimizer).__name__} is not supported.")
        state = optimizer.state.get(p, {})
        if "exp_avg_sq" not in state:
            raise ValueError("Adam has not taken a step yet, so it has no preconditioner: measure after at least one step.")
        beta1, beta2 = group["betas"]
        t = float(state["step"])
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** t)
        pieces.append((1 - beta1 ** t) * (v_hat.sqrt() + group["eps"]))
    return flatten(pieces).detach()


def preconditioned_sharpness(model: nn.Module, loss_fn: Callable, data, optimizer: torch.optim.Optimizer, *,
                             chunk_size: int | None = None, tol: float = 1e-3, max_iterations: int = 100,
                             seed: int = 0, v0: torch.Tensor | None = None, method: str = "power") -> EigenEstimate:
    """λ_max(P⁻¹H) for Adam's current preconditioner P (see :func:`adam_preconditioner`).

    P⁻¹H is not symmetric but has the eigenvalues of the symmetric P^(-1/2) H P^(-1/2), on which
    the power iteration runs. For Adam this, not the raw sharpness, is what meets the threshold
    (2 + 2β1)/((1 − β1)·lr) (:func:`stability_threshold`).
    """
    with preserved_state(model):
        operator = HessianOperator(model, loss_fn, data, chunk_size=chunk_size)
        p_inv_sqrt = adam_preconditioner(optimizer, operator.params).rsqrt()
        p = operator.params[0]
        return top_eigenvalue(lambda v: p_inv_sqrt * operator(p_inv_sqrt * v), operator.dim, tol=tol,
                              max_iterations=max_iterations, seed=seed, v0=v0, method=method, dtype=p.dtype,
                              device=p.device)


# ----------------------------------------------------------------------------- which threshold applies

@dataclass(frozen=True)
class StabilityThreshold:
    """Which curvature ``quantity`` must stay below ``value`` for ``optimizer`` to be stable on a quadratic.

    ``quantity`` is ``"sharpness"`` (λ_max of H) or ``"preconditioned sharpness"`` (λ_max of P⁻¹H);
    ``formula`` says where ``value`` comes from.
    """

    optimizer: str
    lr: float
    quantity: str
    value: float
    formula: str

    def __str__(self) -> str:
        return f"{self.optimizer} at lr {self.lr:g}: {self.quantity} < {self.formula} = {self.value:.4g}"


def stability_threshold(optimizer: torch.optim.Optimizer | str, lr: float | None = None, *,
                        momentum: float | None = None, beta1: float | None = None) -> StabilityThreshold:
    """The stability threshold that applies to an optimizer (an instance, or ``"gd"``/``"sgd"``/``"adam"``).

    * SGD/GD without momentum: sharpness < 2/lr;
    * SGD with heavy-ball momentum β (torch's, dampening 0, not Nesterov): sharpness < (2 + 2β)/lr;
    * Adam with β1: preconditioned sharpness λ_max(P⁻¹H) < (2 + 2β1)/((1 − β1)·lr), 38/lr at β1 = 0.9
      (Cohen et al. 2022).

    On a quadratic these are exact (full batch); on a network full-batch training hovers there
    (the edge of stability). Other optimizers raise a ``ValueError`` rather than get a wrong number.

    Example:
        >>> print(stability_threshold("adam", 1e-3, beta1=0.9))
        Adam at lr 0.001: preconditioned sharpness < (2 + 2β1)/((1 − β1)·lr) = 3.8e+04
        >>> round(stability_threshold("sgd", 0.1, momentum=0.9).value, 6)
        38.0
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        group = optimizer.param_groups[0]
        lr = float(group["lr"]) if lr is None else lr
        if isinstance(optimizer, torch.optim.SGD):
            if group.get("nesterov") or group.get("dampening", 0) != 0:
                raise ValueError("stability_threshold knows heavy-ball momentum only (nesterov=False, dampening=0).")
            name, momentum = "sgd", float(group.get("momentum", 0.0))
        elif type(optimizer) is torch.optim.Adam:
            name, beta1 = "adam", float(group["betas"][0])
        else:
            raise ValueError(f"no stability threshold is known here for {type(optimizer).__name__}; "
                             "use torch.optim.SGD (with or without momentum) or torch.optim.Adam.")
    else:
        name = str(optimizer).lower()
    if lr is None or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    if name in ("gd", "sgd"):
        beta = float(momentum or 0.0)
        if not 0 <= beta < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}.")
        label = "GD" if name == "gd" else "SGD"
        if beta == 0:
            return StabilityThreshold(label, float(lr), "sharpness", 2.0 / lr, "2/lr")
        return StabilityThreshold(f"{label} + momentum {beta:g}", float(lr), "sharpness", (2 + 2 * beta) / lr,
                                  "(2 + 2β)/lr")
    if name == "adam":
        b1 = 0.9 if beta1 is None else float(beta1)
        if not 0 <= b1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}.")
        return StabilityThreshold("Adam", float(lr), "preconditioned sharpness", (2 + 2 * b1) / ((1 - b1) * lr),
                                  "(2 + 2β1)/((1 − β1)·lr)")
    raise ValueError(f"optimizer must be 'gd', 'sgd', 'adam' or a torch.optim.SGD/Adam instance, got {optimizer!r}.")


# ----------------------------------------------------------------------------- sharpness during training

@dataclass
class SharpnessTrace:
    """Sharpness recorded during a run, as plain lists: the optimizer step it was measured
    before (``step``), the estimate (``value``), the power-iteration products it took and
    whether it converged."""

    step: list = field(default_factory=list)
    value: list = field(default_factory=list)
    num_iterations: list = field(default_factory=list)
    converged: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.step)


class SharpnessMonitor:
    """Record the sharpness (or, for Adam, the preconditioned sharpness) every ``every`` optimizer steps.

    Attach it to the optimizer (:meth:`attach`, a step pre-hook, so it also works inside
    ``training.fit``) or call :meth:`record` yourself. Each measurement is taken at the weights
    the coming step starts from, warm-started from the previous eigenvector, and leaves the
    model, its buffers, the random generators, the gradients and the optimizer untouched: a run
    with a monitor is bit for bit the run without one.

    Args:
        model, loss_fn, data, chunk_size: as for :func:`sharpness` (``data``: the fixed batch or
            data set whose loss's curvature is measured).
        every: measure before steps 0, every, 2·every, ...
        preconditioned: measure λ_max(P⁻¹H) with the attached Adam optimizer's P instead.
        tol, max_iterations, seed, method: eigenvalue settings (see :func:`top_eigenvalue`).

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(3, 1)     # doctest: +ELLIPSIS
        <...>
        >>> x, y = torch.randn(16, 3), torch.randn(16, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> monitor = SharpnessMonitor(model, nn.functional.mse_loss, (x, y), every=5).attach(opt)
        >>> for _ in range(10):
        ...     opt.zero_grad(); nn.functional.mse_loss(model(x), y).backward(); opt.step()
        >>> monitor.trace.step
        [0, 5]
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, data, *, every: int = 10, chunk_size: int | None = None,
                 preconditioned: bool = False, tol: float = 1e-3, max_iterations: int = 100, seed: int = 0,
                 method: str = "power"):
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer (steps between measurements), got {every!r}.")
        self.model, self.loss_fn, self.data, self.chunk_size = model, loss_fn, data, chunk_size
        self.every, self.preconditioned = int(every), bool(preconditioned)
        self.tol, self.max_iterations, self.seed, self.method = tol, max_iterations, seed, method
        self.trace = SharpnessTrace()
        self.optimizer = None
        self._step, self._vector, self._handle = 0, None, None

    def attach(self, optimizer: torch.optim.Optimizer) -> "SharpnessMonitor":
        """Measure from ``optimizer``'s step pre-hook; returns the monitor (:meth:`detach` removes the hook)."""
        self.detach()
        self.optimizer = optimizer
        self._handle = optimizer.register_step_pre_hook(lambda opt, args, kwargs: self._before_step())
        return self

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _before_step(self):
        # Adam has no preconditioner before its first step: preconditioned records start at step `every`.
        started = not self.preconditioned or bool(self.optimizer.state)
        if self._step % self.every == 0 and started:
            self.record(self._step)
        self._step += 1

    def record(self, step: int) -> EigenEstimate:
        """Measure now and append the result to :attr:`trace` under ``step``."""
        kwargs = dict(chunk_size=self.chunk_size, tol=self.tol, max_iterations=self.max_iterations,
                      seed=self.seed, v0=self._vector, method=self.method)
        if self.preconditioned:
            if self.optimizer is None:
                raise ValueError("preconditioned=True reads Adam's preconditioner: attach the monitor to the Adam optimizer.")
            estimate = preconditioned_sharpness(self.model, self.loss_fn, self.data, self.optimizer, **kwargs)
        else:
            estimate = sharpness(self.model, self.loss_fn, self.data, **kwargs)
        self._vector = estimate.vector
        self.trace.step.append(int(step))
        self.trace.value.append(estimate.value)
        self.trace.num_iterations.append(estimate.num_iterations)
        self.trace.converged.append(estimate.converged)
        return estimate


# ----------------------------------------------------------------------------- full-batch gradient descent, watched

def square_loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """½ ‖outputs − one_hot(y)‖² summed over the classes, averaged over the rows.

    The loss Cohen et al. (2021) use for most edge-of-stability experiments: unlike cross-entropy
    it does not flatten out as the fit improves, so the sharpness keeps rising.
    ``outputs``: (N, C) scores; ``y``: (N,) class indices.
    """
    if outputs.ndim != 2 or y.shape != outputs.shape[:1]:
        raise ValueError(f"outputs must be (N, C) and y (N,), got {tuple(outputs.shape)} and {tuple(y.shape)}.")
    target = nn.functional.one_hot(y.long(), outputs.shape[1]).to(outputs.dtype)
    return 0.5 * ((outputs - target) ** 2).sum(dim=1).mean()


@dataclass
class GDRun:
    """One full-batch gradient-descent run: the loss before every step and the sharpness every ``every`` steps."""

    lr: float
    loss: list = field(default_factory=list)
    trace: SharpnessTrace = field(default_factory=SharpnessTrace)
    diverged: bool = False
    wall_time: float = 0.0


def full_batch_gd(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor, lr: float,
                  num_steps: int, *, every: int = 10, tol: float = 1e-3, max_iterations: int = 100,
                  method: str = "power", progress: bool = True, desc: str | None = None) -> GDRun:
    """Gradient descent on the loss over all of ``(x, y)`` (no minibatches), with the sharpness
    recorded before steps 0, every, 2·every, ... by a :class:`SharpnessMonitor` (warm-started;
    ``tol``, ``max_iterations``, ``method`` as for :func:`top_eigenvalue`).

    Stops early, with ``diverged=True``, if the loss turns non-finite.

    Example:
        >>> torch.manual_seed(0); model = nn.Linear(4, 3)    # doctest: +ELLIPSIS
        <...>
        >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        >>> run = full_batch_gd(model, square_loss, x, y, lr=0.1, num_steps=20, every=10, progress=False)
        >>> len(run.loss), run.trace.step
        (20, [0, 10])
    """
    import time

    from . import runtime

    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}.")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    monitor = SharpnessMonitor(model, loss_fn, (x, y), every=every, tol=tol, max_iterations=max_iterations,
                               method=method)
    monitor.attach(optimizer)
    run = GDRun(lr=float(lr), trace=monitor.trace)
    start = time.perf_counter()
    bar = runtime.progress(range(int(num_steps)), desc=desc or f"GD lr={lr:g}", unit="step",
                           disable=not (progress and runtime.progress_enabled()))
    try:
        for _ in bar:
            loss = loss_fn(model(x), y)
            run.loss.append(loss.item())
            if not math.isfinite(run.loss[-1]):
                run.diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        monitor.detach()
        bar.close()
    run.wall_time = time.perf_counter() - start
    return run
