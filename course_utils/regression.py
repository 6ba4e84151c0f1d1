"""Lesson 03's least-squares problem: its exact noise-floor theory, and many minibatch runs on it at once.

On the mean squared error ``L(θ) = mean_j (x̃_jᵀθ − y_j)²`` with θ = (w, b) and x̃_j = (x_j, 1),
minibatch SGD with a constant learning rate does not converge to the minimum θ*: it settles into a
stationary jitter around it, and the mean excess loss of that jitter, E[L(θ)] − L(θ*), is the
**noise floor**. Everything about it follows from the data (lesson 03 derives it):

* the Hessian ``H = (2/n) X̃ᵀX̃`` (the loss is exactly quadratic in θ);
* the covariance ``Σ = (4/n) Σ_j e_j² x̃_j x̃_jᵀ`` of one sample's gradient ``2 e_j x̃_j`` at θ*,
  where ``e_j = x̃_jᵀθ* − y_j`` are the residuals (their mean is zero: the normal equations);
* the batch size B (rows drawn with replacement, as ``torch.randint`` does).

To first order in the learning rate the floor is ``lr · tr(Σ) / (4B)``. Keeping every order, the
second moment M = E[(θ − θ*)(θ − θ*)ᵀ] of the stationary jitter solves the linear equation

    lr (HM + MH) − lr² (1 − 1/B) HMH − (lr²/B) K(M) = (lr²/B) Σ,
    K(M) = (4/n) Σ_j (x̃_jᵀ M x̃_j) x̃_j x̃_jᵀ,

(one SGD step leaves M unchanged), and the floor is ``½ tr(HM)``. The same step map tells where
SGD stops being stable: its largest learning rate is below full-batch gradient descent's
``2/λ_max(H)``, the smaller the batch the lower.

:func:`run` measures all this: many minibatch runs of linear models on the problem at once (any
optimizer of :mod:`course_utils.optimizers`, one learning rate or schedule per setting, several
seeds), returned as one :class:`RegressionRuns`. Lessons 03, 04 and 05 and the schedule explorer
run on it.

Example:
    >>> from course_utils.synthetic import make_linear_regression
    >>> data = make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)
    >>> problem = least_squares(data.X, data.y)
    >>> problem.hessian.shape, round(problem.best_loss, 3)
    ((4, 4), 0.244)
    >>> floor = problem.noise_floor(lr=0.01, batch_size=8)
    >>> bool(0.95 < floor / problem.noise_floor_first_order(lr=0.01, batch_size=8) < 1.05)
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from . import runtime
from .arguments import check_int, check_lr, check_range
from .descent import BLOWUP
from .optimizers import optimizer_class
from .schedules import lr_trace
from .sweeps import as_hyperparameters, broadcast_settings

STARTS = ("zeros", "uniform")


def _check_batch_size(batch_size) -> float:
    return check_range(batch_size, "batch_size", 1, hint="rows per minibatch")


def _as_float64(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, on any device
        a = a.detach().cpu().double().numpy()
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return a


# ----------------------------------------------------------------------------- the problem and its theory

@dataclass(frozen=True)
class LeastSquares:
    """The mean-squared-error problem of a linear model with bias, and its noise-floor theory.

    ``inputs`` (n, p): the rows x̃_j = (x_j, 1); ``targets`` (n,); ``solution`` (p,): θ* = (w*, b*);
    ``best_loss``: L(θ*); ``hessian`` (p, p): H = (2/n) X̃ᵀX̃; ``gradient_noise`` (p, p): the
    covariance Σ of one sample's gradient at θ*. Build it with :func:`least_squares`.
    """

    inputs: np.ndarray
    targets: np.ndarray
    solution: np.ndarray
    best_loss: float
    hessian: np.ndarray
    gradient_noise: np.ndarray
    _sample_kernel: np.ndarray = field(repr=False)   # K as a (p², p²) matrix acting on vec(M)
    _operator_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def num_samples(self) -> int:
        return self.inputs.shape[0]

    @property
    def num_params(self) -> int:
        return self.inputs.shape[1]

    @property
    def lambda_min(self) -> float:
        return float(np.linalg.eigvalsh(self.hessian)[0])

    @property
    def lambda_max(self) -> float:
        return float(np.linalg.eigvalsh(self.hessian)[-1])

    @property
    def max_stable_lr(self) -> float:
        """Full-batch gradient descent converges iff lr < 2 / λ_max(H) (lesson 02's wall)."""
        return 2.0 / self.lambda_max

    def loss(self, theta) -> np.ndarray:
        """L(θ) for ``theta`` of shape (..., p)."""
        residuals = np.asarray(theta, dtype=float) @ self.inputs.T - self.targets
        return np.mean(residuals**2, axis=-1)

    def grad(self, theta) -> np.ndarray:
        """The full-batch gradient ∇L(θ) = H (θ − θ*) for ``theta`` of shape (..., p)."""
        return (np.asarray(theta, dtype=float) - self.solution) @ self.hessian.T

    def descend_to(self, excess: float, lr: float = 0.05) -> np.ndarray:
        """The first point of full-batch gradient descent from θ = 0 (step ``lr``) whose excess loss
        L(θ) − L(θ*) is at most ``excess``: a point on the way down, where lesson 09 measures the noise.

        ``lr`` must be below 2 / λ_max (else the descent never arrives: a ``ValueError`` says so).
        """
        lr = check_lr(lr)
        if lr >= self.max_stable_lr:
            raise ValueError(f"lr={lr} is at or beyond this problem's wall 2/λ_max = {self.max_stable_lr:.4g}: "
                             "gradient descent would never arrive; choose a smaller lr")
        theta = np.zeros(self.num_params)
        while self.loss(theta) - self.best_loss > excess:
            theta = theta - lr * self.grad(theta)
        return theta

    def noise_floor_first_order(self, lr: float, batch_size: float) -> float:
        """The floor to first order in ``lr``: lr · tr(Σ) / (4 · batch_size)."""
        lr, batch_size = check_lr(lr), _check_batch_size(batch_size)
        return lr * float(np.trace(self.gradient_noise)) / (4.0 * batch_size)

    def _operators(self, batch_size: float):
        """The step map of the second moment, M ↦ M − lr·drift(M) + lr²·curvature(M), on symmetric M.

        Returned as (m, m) matrices in an orthonormal basis of the symmetric p×p matrices
        (m = p(p+1)/2), with that basis as a (p², m) matrix: vec(M) = basis @ coordinates; and the
        stability limit (see :meth:`sgd_max_stable_lr`). Cached per batch size.
        """
        if batch_size in self._operator_cache:
            return self._operator_cache[batch_size]
        H, p = self.hessian, self.num_params
        eye = np.eye(p)
        basis = []
        for i in range(p):
            for j in range(i, p):
                unit = np.zeros((p, p))
                unit[i, j] = unit[j, i] = 1.0 if i == j else math.sqrt(0.5)
                basis.append(unit.reshape(-1))
        basis = np.array(basis).T
        drift = np.kron(H, eye) + np.kron(eye, H)                       # vec(HM + MH)
        curvature = (1 - 1 / batch_size) * np.kron(H, H) + self._sample_kernel / batch_size
        drift, curvature = basis.T @ drift @ basis, basis.T @ curvature @ basis
        chol = np.linalg.cholesky(curvature)
        half = np.linalg.solve(chol, np.linalg.solve(chol, drift).T)      # C⁻¹ drift C⁻ᵀ, C Cᵀ = curvature
        limit = float(np.linalg.eigvalsh(0.5 * (half + half.T))[0])
        self._operator_cache[batch_size] = drift, curvature, basis, limit
        return drift, curvature, basis, limit

    def stationary_moment(self, lr: float, batch_size: float) -> np.ndarray:
        """The second moment M (p, p) of θ − θ* that one SGD step leaves unchanged; NaN past the stability limit."""
        lr, batch_size = check_lr(lr), _check_batch_size(batch_size)
        if lr >= self.sgd_max_stable_lr(batch_size):
            return np.full((self.num_params,) * 2, np.nan)
        drift, curvature, basis, _ = self._operators(batch_size)
        rhs = lr**2 / batch_size * (basis.T @ self.gradient_noise.reshape(-1))
        moment = basis @ np.linalg.solve(lr * drift - lr**2 * curvature, rhs)
        return moment.reshape(self.num_params, self.num_params)

    def noise_floor(self, lr: float, batch_size: float) -> float:
        """The stationary mean excess loss ½ tr(H M) of SGD at ``lr`` and ``batch_size``, all orders in lr.

        ``math.inf`` at and past :meth:`sgd_max_stable_lr`, where no stationary jitter exists.
        """
        moment = self.stationary_moment(lr, batch_size)
        if np.isnan(moment).any():
            return math.inf
        return 0.5 * float(np.sum(self.hessian * moment))

    def relative_spread(self) -> float:
        """std / mean of the excess loss in the stationary jitter, to first order in lr (the same for every lr).

        To first order the jitter is Gaussian with covariance S solving HS + SH ∝ Σ, and the excess
        ½ δᵀHδ then has mean ½ tr(HS) and variance ½ tr((HS)²).
        """
        lambdas, V = np.linalg.eigh(self.hessian)
        noise = V.T @ self.gradient_noise @ V
        S = noise / (lambdas[:, None] + lambdas[None, :])               # HS + SH = Σ in H's eigenbasis
        HS = lambdas[:, None] * S
        return math.sqrt(0.5 * np.trace(HS @ HS)) / (0.5 * np.trace(HS))

    def sgd_max_stable_lr(self, batch_size: float) -> float:
        """The largest learning rate at which SGD with ``batch_size`` rows still has a stationary jitter.

        The step map of the second moment, I − lr·drift + lr²·curvature, maps positive
        semi-definite matrices to positive semi-definite ones, so its spectral radius first reaches
        1 through the eigenvalue +1: where drift·v = lr·curvature·v. That is a symmetric-definite
        eigenproblem; its smallest eigenvalue is the limit, below the full-batch
        :attr:`max_stable_lr` for every finite batch size.
        """
        return self._operators(_check_batch_size(batch_size))[3]


def least_squares(X, y) -> LeastSquares:
    """The least-squares problem of inputs ``X`` (n, d) and targets ``y`` (n,) (arrays or tensors), in float64.

    Example:
        >>> problem = least_squares([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
        >>> problem.solution.round(6).tolist(), round(problem.best_loss, 12)
        ([2.0, 1.0], 0.0)
    """
    X = _as_float64(X, "X")
    y = _as_float64(y, "y")
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must have shape (n, d) and y shape (n,) with the same n; got {X.shape} and {y.shape}.")
    n = X.shape[0]
    inputs = np.hstack([X, np.ones((n, 1))])
    if np.linalg.matrix_rank(inputs) < inputs.shape[1]:
        raise ValueError("the inputs (with a column of ones for the bias) are linearly dependent: "
                         "the least-squares solution is not unique; use more samples or fewer features.")
    solution = np.linalg.lstsq(inputs, y, rcond=None)[0]
    residuals = inputs @ solution - y
    hessian = 2.0 / n * inputs.T @ inputs
    gradient_noise = 4.0 / n * (inputs * residuals[:, None] ** 2).T @ inputs
    outer = np.einsum("ji,jk->jik", inputs, inputs).reshape(n, -1)   # row j: vec(x̃_j x̃_jᵀ)
    return LeastSquares(inputs=inputs, targets=y, solution=solution, best_loss=float(np.mean(residuals**2)),
                        hessian=hessian, gradient_noise=gradient_noise, _sample_kernel=4.0 / n * outer.T @ outer)


# ----------------------------------------------------------------------------- many runs at once

@dataclass(frozen=True)
class RegressionRuns:
    """Minibatch runs of a linear model on a least-squares problem: one per (setting, seed).

    ``steps`` (E,): the steps after which the loss on all the data was measured (0 = the start;
    the last step always); ``losses`` (k, S, E): that loss (mean squared error) of every run, ``inf``
    where it was not finite; ``lr`` (k, S, T): the learning rate each step of each run used;
    ``diverged`` (k, S): whether a run's loss turned non-finite or a weight passed
    :data:`course_utils.descent.BLOWUP`; ``best_loss``: L(θ*), the lowest any run can reach;
    ``settings``: the optimizer's hyperparameters, each a (k,) array; ``seeds`` (S,).
    """

    steps: np.ndarray
    losses: np.ndarray
    lr: np.ndarray
    diverged: np.ndarray
    best_loss: float
    settings: dict
    seeds: tuple

    @property
    def excess(self) -> np.ndarray:
        """(k, S, E) the loss above the lowest possible: the noise floor once a run has settled."""
        return self.losses - self.best_loss

    def final_loss(self, last_fraction: float | None = None) -> np.ndarray:
        """(k, S) the loss after the last step, or its mean over the last ``last_fraction`` of the measurements."""
        if last_fraction is None:
            return self.losses[..., -1]
        check_range(last_fraction, "last_fraction", 0, 1, include_low=False)
        n = max(1, int(round(last_fraction * self.losses.shape[-1])))
        return self.losses[..., -n:].mean(axis=-1)

    def final_excess(self, last_fraction: float | None = None) -> np.ndarray:
        """(k, S) :meth:`final_loss` minus the lowest possible loss."""
        return self.final_loss(last_fraction) - self.best_loss


def _draws(seed: int, num_features: int, num_samples: int, num_steps: int, batch_size: int, uniform: bool):
    """What ``seed`` fixes in a run: the start (``None`` unless ``uniform``) and every step's minibatch rows.

    From ``torch.Generator().manual_seed(seed)``, in this order: the weights (d,) and the bias,
    uniform in ±1/√d (``torch.nn.Linear``'s range), when ``uniform``; then the rows (num_steps,
    batch_size), drawn with replacement. The same numbers on every machine.
    """
    gen = torch.Generator().manual_seed(int(seed))
    start = None
    if uniform:
        bound = 1 / math.sqrt(num_features)
        w = (2 * torch.rand(num_features, generator=gen, dtype=torch.float64) - 1) * bound
        b = (2 * torch.rand((), generator=gen, dtype=torch.float64) - 1) * bound
        start = torch.cat([w, b[None]])
    return start, torch.randint(0, num_samples, (num_steps, batch_size), generator=gen)


def _start(start, num_params: int) -> torch.Tensor | str:
    if isinstance(start, str):
        if start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)} or a pair (weight, bias), got {start!r}.")
        return start
    try:
        weight, bias = start
        theta = np.append(_as_float64(weight, "weight").reshape(-1), float(bias))
    except (TypeError, ValueError):
        raise ValueError(f"start must be one of {', '.join(STARTS)} or a pair (weight (d,), bias), "
                         f"got {start!r}.") from None
    if theta.shape != (num_params,):
        raise ValueError(f"the start's weight must have {num_params - 1} entries, got {theta.size - 1}.")
    return torch.as_tensor(theta)


def _lr_schedule(lr, num_steps: int, scheduler, k: int) -> tuple[np.ndarray | None, bool]:
    """The per-step learning rates (k, T) of a 2-D ``lr`` or a sampled scheduler, and whether it is a plateau."""
    if scheduler is None:
        return (lr if lr.ndim == 2 else None), False
    if lr.ndim == 2:
        raise ValueError("give either per-step learning rates (a 2-D lr) or a scheduler, not both.")
    probe = scheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0))
    if isinstance(probe, torch.optim.lr_scheduler.ReduceLROnPlateau):
        return None, True
    lrs = np.broadcast_to(lr, (k,))
    return np.stack([lr_trace(scheduler, num_steps, lr=float(value)) for value in lrs]), False


def run(problem, num_steps: int, batch_size: int, *, lr, optimizer="SGD", seeds: Sequence[int] = (0,),
        start="zeros", scheduler: Callable | None = None, eval_every: int | None = None,
        **hyperparameters) -> RegressionRuns:
    """Train linear models x ↦ x·w + b on ``problem`` with minibatches: one run per (setting, seed), all at once.

    A setting is one value of each of the optimizer's hyperparameters; each may be a number or k
    values (one per setting, as in :func:`course_utils.sweeps.broadcast_settings`). A seed fixes
    everything random about a run, its start (with ``start="uniform"``) and its minibatches of
    ``batch_size`` rows drawn with replacement, and every setting sees the same ones: settings are
    compared on the same data. The k·S runs are the rows of one (k·S, d+1) parameter that one
    optimizer step updates; each row's gradient is its own minibatch's, ``(2/B) X̃_bᵀ(X̃_b θ − y_b)``,
    written in closed form (autograd's numbers, tested, at a fraction of the cost), in float64.

    Args:
        problem: a :class:`LeastSquares`, or data with ``X`` (n, d) and ``y`` (n,) (e.g.
            :func:`course_utils.synthetic.make_linear_regression`) to build it from.
        lr: a number, k numbers (one per setting), or a (k, T) array: each setting's learning rate
            at every step (e.g. rows of :func:`course_utils.schedules.lr_trace`).
        optimizer: a name of :data:`course_utils.optimizers.OPTIMIZERS` or an optimizer class.
        seeds: one run per seed for every setting.
        start: ``"zeros"``, ``"uniform"`` (``torch.nn.Linear``'s range, drawn from the seed) or a
            pair ``(weight (d,), bias)`` shared by every run.
        scheduler: ``scheduler(optimizer)`` -> a ``torch.optim.lr_scheduler`` scheduler, stepped
            after every step from each setting's ``lr``; a ``ReduceLROnPlateau`` is stepped at every
            measurement instead, with each run's own loss, so each run gets its own learning rates.
        eval_every: measure the loss on all the data every this many steps (default T // 50).
        **hyperparameters: the optimizer's other arguments (``momentum=0.9``, ``betas=...``).

    Example:
        >>> from course_utils.synthetic import make_linear_regression
        >>> data = make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)
        >>> runs = run(data, 100, 8, lr=[0.01, 0.05], seeds=(0, 1, 2), eval_every=50)
        >>> runs.steps.tolist(), runs.losses.shape, bool(np.all(runs.losses[1, :, -1] < runs.losses[0, :, -1]))
        ([0, 50, 100], (2, 3, 3), True)
    """
    if not isinstance(problem, LeastSquares):
        if not (hasattr(problem, "X") and hasattr(problem, "y")):
            raise ValueError("problem must be a regression.LeastSquares (regression.least_squares(X, y)) or data "
                             f"with X and y, got {type(problem).__name__}.")
        problem = least_squares(problem.X, problem.y)
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    eval_every = check_int(max(1, num_steps // 50) if eval_every is None else eval_every, "eval_every", minimum=1)
    seeds = tuple(check_int(seed, "seed") for seed in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed.")
    cls = optimizer_class(optimizer)
    lr = np.asarray(lr, dtype=float)
    if lr.ndim == 2:
        if lr.shape[1] != num_steps:
            raise ValueError(f"a 2-D lr gives each setting's learning rate at every step, shape (settings, "
                             f"{num_steps}); got shape {lr.shape}.")
        for value in np.unique(lr):
            check_range(value, "lr", 0, hint="a 2-D lr holds each setting's learning rate at every step")
        k, settings = broadcast_settings(lr=lr[:, 0], **hyperparameters)   # the optimizer starts at step 0's
    elif lr.ndim <= 1:
        for value in np.unique(lr):
            check_lr(value)
        k, settings = broadcast_settings(lr=lr, **hyperparameters)
    else:
        raise ValueError(f"lr must be a number, one per setting, or (settings, steps); got shape {lr.shape}.")
    per_step, plateau = _lr_schedule(lr, num_steps, scheduler, k)
    S, (n, p) = len(seeds), problem.inputs.shape
    X, y = torch.as_tensor(problem.inputs), torch.as_tensor(problem.targets)
    start = _start(start, p)
    uniform = isinstance(start, str) and start == "uniform"
    draws = [_draws(seed, p - 1, n, num_steps, batch_size, uniform) for seed in seeds]
    rows = torch.stack([r for _, r in draws], dim=1)                          # (T, S, B)
    theta0 = (torch.stack([s for s, _ in draws]) if uniform else
              torch.zeros(S, p, dtype=torch.float64) if isinstance(start, str) else start.expand(S, p))
    # Row s·k + j is run (setting j, seed s): a seed's k runs are one (k, p) block that its minibatch multiplies.
    W = theta0.repeat_interleave(k, dim=0)                                    # (S·k, p)
    opt = cls([W], **as_hyperparameters(settings, tiles=S))
    group = opt.param_groups[0]
    used = np.empty((S * k, num_steps))
    if per_step is not None:
        used[:] = np.tile(per_step, (S, 1))
        per_step = torch.as_tensor(used)
    if plateau:
        watchers = []
        for value in np.tile(np.broadcast_to(lr, (k,)), S):
            watched = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=float(value))
            watchers.append((watched, scheduler(watched)))
    solution, half_hessian = torch.as_tensor(problem.solution), torch.as_tensor(problem.hessian) / 2

    def full_loss():  # the loss is exactly quadratic: L(θ) = L(θ*) + ½ (θ − θ*)ᵀ H (θ − θ*), cheaper than all n rows
        delta = W - solution
        loss = problem.best_loss + ((delta @ half_hessian) * delta).sum(dim=1).numpy()
        return np.where(np.isfinite(loss), loss, np.inf)

    def lr_now():
        return group["lr"][:, 0].numpy() if torch.is_tensor(group["lr"]) else group["lr"]

    measured_at, losses = [0], [full_loss()]
    diverged = ~np.isfinite(losses[0])
    last = 0                                                                  # the lr of steps last.. is lr_now()
    with runtime.torch_threads(1), torch.no_grad():
        for t in range(num_steps):
            if per_step is not None:
                group["lr"] = per_step[:, t:t + 1]
            xb, yb = X[rows[t]], y[rows[t]]                                   # (S, B, p), (S, B)
            residual = torch.bmm(W.view(S, k, p), xb.transpose(1, 2)) - yb[:, None, :]            # (S, k, B)
            W.grad = (2.0 / batch_size) * torch.bmm(residual, xb).view(S * k, p)
            opt.step()
            if (t + 1) % eval_every == 0 or t + 1 == num_steps:
                if per_step is None:
                    used[:, last:t + 1] = np.reshape(lr_now(), (-1, 1))
                    last = t + 1
                loss = full_loss()
                measured_at.append(t + 1)
                losses.append(loss)
                diverged |= ~np.isfinite(loss) | ~(W.abs().amax(dim=1).numpy() <= BLOWUP)
                if plateau:
                    for (watched, sched), value in zip(watchers, loss):
                        sched.step(float(value))
                    group["lr"] = torch.tensor([[w.param_groups[0]["lr"]] for w, _ in watchers], dtype=torch.float64)

    def by_run(a):  # (S·k, ...) -> (k, S, ...)
        return np.swapaxes(np.reshape(a, (S, k) + np.shape(a)[1:]), 0, 1)

    return RegressionRuns(steps=np.array(measured_at), losses=by_run(np.stack(losses, axis=-1)), lr=by_run(used),
                          diverged=by_run(diverged), best_loss=problem.best_loss, settings=settings, seeds=seeds)


__all__ = ["LeastSquares", "least_squares", "RegressionRuns", "run", "STARTS"]
