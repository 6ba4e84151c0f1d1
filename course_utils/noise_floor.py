"""The noise floor of minibatch SGD on least squares: its theory from the data, and many runs at once.

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .arguments import check_lr

BLOWUP = 1e12  # a full-data loss above this counts as diverged


def _check_batch_size(batch_size) -> float:
    try:
        batch_size = float(batch_size)
    except (TypeError, ValueError):
        raise ValueError(f"batch_size must be a number of rows, got {batch_size!r}.") from None
    if not (math.isfinite(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be at least 1 (rows per minibatch), got {batch_size}.")
    return batch_size


def _as_float64(a, name: str) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, on any device
        a = a.detach().cpu().double().numpy()
    a = np.asarray(a, dtype=float)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity.")
    return a


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


@dataclass(frozen=True)
class SGDRuns:
    """Full-data losses of several independent SGD runs of a linear model.

    ``steps`` (k,): the step numbers the losses were taken at (0 is the start); ``losses``
    (k, num_runs): the mean squared error on all the data there; ``lrs`` (num_steps,): the
    learning rate each step used; ``diverged`` (num_runs,): whether a run's loss passed
    ``BLOWUP`` or turned non-finite.
    """

    steps: np.ndarray
    losses: np.ndarray
    lrs: np.ndarray
    diverged: np.ndarray


def run_sgd(X, y, lr: float, num_steps: int, batch_size: int, *, num_runs: int = 1, weight=None, bias=None,
            seed: int = 0, scheduler: Callable | None = None, eval_every: int = 1) -> SGDRuns:
    """Train ``num_runs`` copies of the linear model x ↦ x·w + b at once with ``torch.optim.SGD``.

    All copies start from ``weight`` (d,) and ``bias`` (scalar) (zeros by default); each draws its
    own minibatches of ``batch_size`` rows (with replacement) from one generator seeded with
    ``seed``, so the copies are independent runs and the whole call is reproducible. The loss
    summed over copies has, for each copy's parameters, exactly that copy's minibatch gradient, so
    one ``optimizer.step()`` is one SGD step of every run. The gradients are written into ``.grad``
    in closed form, ``(2/B) Σ_k x_k (x_k·w + b − y_k)``, the same numbers autograd gives (tested), at
    a fraction of the cost. ``scheduler(optimizer)`` may return a
    ``torch.optim.lr_scheduler`` object; it is stepped after every step. Returns the full-data
    loss of every run every ``eval_every`` steps.

    Example:
        >>> from course_utils.synthetic import make_linear_regression
        >>> data = make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)
        >>> runs = run_sgd(data.X, data.y, lr=0.05, num_steps=100, batch_size=8, num_runs=4, eval_every=50)
        >>> runs.steps.tolist(), runs.losses.shape, bool(runs.losses[-1].max() < runs.losses[0].min())
        ([0, 50, 100], (3, 4), True)
    """
    import torch

    lr = check_lr(lr)
    for name, value, least in (("num_steps", num_steps, 0), ("batch_size", batch_size, 1), ("num_runs", num_runs, 1),
                               ("eval_every", eval_every, 1)):
        if isinstance(value, bool) or int(value) != value or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}.")
    X = torch.as_tensor(X)
    y = torch.as_tensor(y, dtype=X.dtype)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must have shape (n, d) and y shape (n,); got {tuple(X.shape)} and {tuple(y.shape)}.")
    n, d = X.shape
    w0 = torch.zeros(d, dtype=X.dtype) if weight is None else torch.as_tensor(weight, dtype=X.dtype).reshape(d)
    b0 = torch.zeros((), dtype=X.dtype) if bias is None else torch.as_tensor(bias, dtype=X.dtype).reshape(())
    W = w0.repeat(num_runs, 1).requires_grad_(True)          # (num_runs, d): one weight row per run
    b = b0.repeat(num_runs).requires_grad_(True)             # (num_runs,)
    optimizer = torch.optim.SGD([W, b], lr=lr)
    schedule = scheduler(optimizer) if scheduler is not None else None
    generator = torch.Generator().manual_seed(int(seed))

    def full_loss():
        with torch.no_grad():
            return ((X @ W.T + b - y[:, None]) ** 2).mean(dim=0).double().numpy()

    steps, losses, lrs = [0], [full_loss()], []
    with _one_thread():
        for step in range(1, int(num_steps) + 1):
            idx = torch.randint(0, n, (num_runs, int(batch_size)), generator=generator)
            lrs.append(optimizer.param_groups[0]["lr"])
            with torch.no_grad():   # each run's minibatch-MSE gradient, in closed form (autograd's, 2-3× faster)
                inputs = X[idx]                                                        # (num_runs, batch_size, d)
                residual = (inputs @ W[:, :, None]).squeeze(-1) + b[:, None] - y[idx]  # (num_runs, batch_size)
                W.grad = (2.0 / batch_size) * (residual[:, None, :] @ inputs).squeeze(1)
                b.grad = (2.0 / batch_size) * residual.sum(dim=1)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            if step % eval_every == 0:
                steps.append(step)
                losses.append(full_loss())
    losses = np.array(losses)
    with np.errstate(invalid="ignore"):
        diverged = np.any(~np.isfinite(losses) | (losses > BLOWUP), axis=0)
    return SGDRuns(steps=np.array(steps), losses=losses, lrs=np.array(lrs), diverged=diverged)


@contextmanager
def _one_thread():
    """Run torch on one thread inside the block: for tensors this small a second thread only adds
    overhead (a (8, 128, 10) gather measured 100× slower with two threads on two busy cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
