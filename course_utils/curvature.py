"""Curvature of a network's loss: Hessian-vector products, the sharpness, and the threshold it meets.

The **sharpness** of a loss at weights θ is the largest eigenvalue λ_max of its Hessian H(θ).
On a bowl f(w) = ½ wᵀAw it is λ_max(A), and gradient descent is stable iff lr < 2/λ_max
(lesson 02). On a network H has millions of rows and is never formed: one Hessian-vector
product Hv costs about two gradients (double backpropagation: differentiate g(θ)·v, where
g = ∇L, once more), and :func:`~course_utils.eigen.top_eigenvalue` finds λ_max from a few
dozen of them.

* :class:`HessianOperator` -- v ↦ Hv for the mean loss of a model over a batch or a data
  set (in chunks, for memory).
* :func:`sharpness` -- that operator and the top eigenvalue together on a model, leaving the
  model, its buffers and the random generators exactly as they were (:func:`preserved_state`).
* :func:`adam_preconditioner`, :func:`preconditioned_sharpness` -- for Adam the quantity
  that meets a threshold is λ_max(P⁻¹H), P Adam's diagonal preconditioner (Cohen et al. 2022).
* :func:`stability_threshold` -- which quantity must stay below which number for a given
  optimizer: 2/lr (GD), (2+2β)/lr (heavy-ball momentum), (2+2β1)/((1-β1)·lr) (Adam).

The sharpness recorded while a network trains, and full-batch gradient descent at the edge of
stability, are in :mod:`course_utils.edge_of_stability`.

Example:
    >>> torch.manual_seed(0); model = nn.Linear(2, 1, bias=False)     # doctest: +ELLIPSIS
    <...>
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 3.0]]); y = torch.zeros(2, 1)
    >>> round(sharpness(model, nn.functional.mse_loss, (x, y), tol=1e-8).value, 4)   # H = diag(1, 9)
    9.0
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
from torch import nn

from .arguments import check_int, check_positive
from .eigen import EigenEstimate, top_eigenvalue
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
        size = x.shape[0] if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)
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
    if lr is None:
        raise ValueError("lr must be a positive number: pass the learning rate (or the optimizer, whose lr is read).")
    lr = check_positive(lr, "lr")
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

