"""The gradient noise scale: how large a batch can be before a larger one stops helping (McCandlish et al. 2018).

Write ``g_j`` for the gradient of example ``j``'s loss, ``G`` for their mean (the full-data gradient)
and ``Σ`` for their covariance. A minibatch of ``B`` examples drawn with replacement has gradient
``G_B`` with mean ``G`` and covariance ``Σ / B``, so

    E |G_B|² = |G|² + tr(Σ) / B.

The signal ``|G|²`` does not depend on ``B``; the noise ``tr(Σ)/B`` falls like ``1/B``. They are equal at

    B_simple = tr(Σ) / |G|²,

the **gradient noise scale** ("B_simple" in the paper; its ``B_noise = tr(HΣ)/(GᵀHG)`` weights the
directions by the curvature ``H`` and equals ``B_simple`` when ``H`` is a multiple of the identity).
Far below it a step's gradient is mostly noise, and doubling the batch nearly halves the steps
needed; far above it the gradient is already nearly exact, and a larger batch saves few steps.

Three ways to get it, from exact to practical:

* :func:`from_per_example` -- from every example's gradient (``per_example_gradients`` gives them
  for a small network with ``torch.func``);
* :func:`least_squares_noise` -- in closed form on lesson 03's regression, at any parameters;
* :func:`estimate` -- the paper's estimator from the squared norms of minibatch gradients at two
  batch sizes, which needs nothing but ordinary backward passes (lesson 09's exercise 09.2).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> grads = rng.normal(size=(2000, 5)) + 0.2          # 2000 examples' gradients: mean 0.2, variance 1 per coordinate
    >>> exact = from_per_example(grads)
    >>> round(exact.b_simple, 1)                             # tr(Σ) ≈ 5, |G|² ≈ 5 × 0.04
    23.3
    >>> small = minibatch_sq_norms(lambda idx: grads[idx].mean(0), 2000, 4, 4000, seed=1)
    >>> big = minibatch_sq_norms(lambda idx: grads[idx].mean(0), 2000, 256, 400, seed=2)
    >>> bool(abs(estimate(small.mean(), big.mean(), 4, 256).b_simple / exact.b_simple - 1) < 0.25)
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .arguments import check_int


@dataclass(frozen=True)
class NoiseScale:
    """``grad_sq`` = |G|² (the squared length of the full gradient) and ``trace`` = tr(Σ) (the summed
    variance of one example's gradient); ``b_simple`` = trace / grad_sq."""

    grad_sq: float
    trace: float

    @property
    def b_simple(self) -> float:
        """tr(Σ)/|G|²: the batch size at which a minibatch gradient's noise equals its signal."""
        if self.grad_sq <= 0:
            return math.inf
        return self.trace / self.grad_sq

    def expected_sq_norm(self, batch_size) -> np.ndarray:
        """E|G_B|² = |G|² + tr(Σ)/B for minibatches drawn with replacement."""
        return self.grad_sq + self.trace / np.asarray(batch_size, dtype=float)


def from_per_example(grads) -> NoiseScale:
    """|G|² and tr(Σ) from every example's gradient, ``grads`` of shape (n, p) (rows: examples).

    Σ is the covariance over the n examples with divisor n: the noise of drawing examples with
    replacement from exactly these n.

    Example:
        >>> s = from_per_example([[1.0, 0.0], [3.0, 0.0]])
        >>> s.grad_sq, s.trace, s.b_simple
        (4.0, 1.0, 0.25)
    """
    g = _as_matrix(grads, "grads")
    mean = g.mean(axis=0)
    grad_sq = float(mean @ mean)
    trace = float(np.mean(np.sum(g * g, axis=1)) - grad_sq)
    return NoiseScale(grad_sq=grad_sq, trace=max(trace, 0.0))


def least_squares_noise(problem, theta) -> tuple[NoiseScale, float]:
    """The noise scale of lesson 03's regression at parameters ``theta`` (p,), in closed form.

    ``problem`` is a :class:`course_utils.regression.LeastSquares`; example ``j``'s gradient of the
    squared error is ``2 e_j x̃_j`` with residual ``e_j = x̃_jᵀθ − y_j``. Returns the :class:`NoiseScale`
    and the paper's curvature-weighted ``B_noise = tr(HΣ)/(GᵀHG)``.

    Example:
        >>> from course_utils import regression, synthetic
        >>> data = synthetic.make_linear_regression(500, 3, noise_std=0.5, seed=0)
        >>> problem = regression.least_squares(data.X, data.y)
        >>> start, b_noise = least_squares_noise(problem, np.zeros(4))
        >>> start.b_simple < 10 < least_squares_noise(problem, problem.solution + 0.01)[0].b_simple
        True
    """
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (problem.num_params,):
        raise ValueError(f"theta must have shape ({problem.num_params},) (weights, then the bias), got {theta.shape}.")
    residuals = problem.inputs @ theta - problem.targets
    per_example = 2.0 * residuals[:, None] * problem.inputs
    scale = from_per_example(per_example)
    G = per_example.mean(axis=0)
    centred = per_example - G
    sigma = centred.T @ centred / len(per_example)
    curvature = float(G @ problem.hessian @ G)
    b_noise = float(np.sum(problem.hessian * sigma)) / curvature if curvature > 0 else math.inf
    return scale, b_noise


def estimate(sq_norm_small, sq_norm_big, batch_small, batch_big) -> NoiseScale:
    """|G|², tr(Σ) and B_simple from the mean squared norms of minibatch gradients at two batch sizes.

    ``sq_norm_small`` is the average of |G_B|² over minibatches of ``batch_small`` examples, and
    ``sq_norm_big`` over minibatches of ``batch_big``. Since E|G_B|² = |G|² + tr(Σ)/B is a straight
    line in 1/B, two batch sizes determine it: its slope is tr(Σ), its intercept |G|². (Each is an
    unbiased estimate; their ratio, B_simple, is not quite, and is noisy when |G|² is small.)

    Example:
        >>> s = estimate(1.0 + 50 / 8, 1.0 + 50 / 512, 8, 512)    # exact averages for |G|² = 1, tr(Σ) = 50
        >>> round(s.grad_sq, 9), round(s.trace, 9), round(s.b_simple, 6)
        (1.0, 50.0, 50.0)
    """
    small, big = float(np.mean(sq_norm_small)), float(np.mean(sq_norm_big))
    b_small, b_big = float(batch_small), float(batch_big)
    if not (0 < b_small < b_big):
        raise ValueError(f"need 0 < batch_small < batch_big, got {batch_small} and {batch_big}.")
    grad_sq = (b_big * big - b_small * small) / (b_big - b_small)
    trace = (small - big) / (1.0 / b_small - 1.0 / b_big)
    return NoiseScale(grad_sq=grad_sq, trace=trace)


def minibatch_sq_norms(batch_grad: Callable, num_examples: int, batch_size: int, num_draws: int, *,
                       seed: int = 0, num_threads: int | None = 1) -> np.ndarray:
    """|G_B|² of ``num_draws`` minibatches of ``batch_size`` examples drawn with replacement.

    ``batch_grad(idx)`` returns the minibatch gradient (any array or tensor, or a list of them) for the
    example indices ``idx`` (a NumPy integer array). torch runs on ``num_threads`` threads meanwhile
    (see :func:`course_utils.runtime.torch_threads`).
    """
    num_examples = check_int(num_examples, "num_examples", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    num_draws = check_int(num_draws, "num_draws", minimum=1)
    from .runtime import torch_threads

    rng = np.random.default_rng(seed)
    out = np.empty(num_draws)
    with torch_threads(num_threads):
        for k in range(num_draws):
            grad = batch_grad(rng.integers(0, num_examples, size=batch_size))
            out[k] = sum(float((_as_numpy(g) ** 2).sum()) for g in (grad if isinstance(grad, (list, tuple)) else [grad]))
    return out


def least_squares_batch_grad(problem, theta) -> Callable:
    """``batch_grad(idx)`` of the regression at ``theta``: the minibatch gradient (2/B) X̃_Bᵀ(X̃_B θ − y_B)."""
    theta = np.asarray(theta, dtype=float)

    def batch_grad(idx):
        rows = problem.inputs[idx]
        return 2.0 / len(idx) * rows.T @ (rows @ theta - problem.targets[idx])

    return batch_grad


def per_example_gradients(model, loss_fn: Callable, X, y, *, chunk: int = 512, num_threads: int | None = 1):
    """Every example's gradient of ``loss_fn(model(x), y)`` as one (n, p) tensor (``torch.func``: vmap of grad).

    ``p`` counts all of ``model``'s parameters, flattened in ``model.parameters()`` order.
    """
    import torch
    from torch.func import functional_call, grad, vmap

    from .runtime import torch_threads

    params = {name: p.detach() for name, p in model.named_parameters()}

    def one(params, x, target):
        out = functional_call(model, params, (x[None],))
        return loss_fn(out, target[None])

    per = vmap(grad(one), in_dims=(None, 0, 0))
    rows = []
    with torch_threads(num_threads):
        for start in range(0, len(X), chunk):
            g = per(params, X[start:start + chunk], y[start:start + chunk])
            rows.append(torch.cat([g[name].reshape(g[name].shape[0], -1) for name in params], dim=1))
    return torch.cat(rows)


def module_batch_grad(model, loss_fn: Callable, X, y) -> Callable:
    """``batch_grad(idx)`` of a network: the gradient of the mean loss over rows ``idx`` (one backward pass)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]

    def batch_grad(idx):
        idx = torch.as_tensor(idx)
        loss = loss_fn(model(X[idx]), y[idx])
        return [g.detach() for g in torch.autograd.grad(loss, params)]

    return batch_grad


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=float)


def _as_matrix(a, name: str) -> np.ndarray:
    m = _as_numpy(a)
    if m.ndim != 2 or m.shape[0] < 1:
        raise ValueError(f"{name} must have shape (examples, parameters), got shape {m.shape}.")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return m
