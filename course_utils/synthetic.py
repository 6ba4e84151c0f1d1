"""Seeded synthetic data: a linear-regression problem whose true answer is known (lesson 03).

y = X @ true_w + true_b + noise, with X standard normal (num_samples, num_features) and noise
normal with standard deviation ``noise_std``. The same seed gives the same tensors on every CPU.

Example:
    >>> data = make_linear_regression(num_samples=100, num_features=3, noise_std=0.1, seed=0)
    >>> tuple(data.X.shape), tuple(data.y.shape), tuple(data.true_w.shape)
    ((100, 3), (100,), (3,))
"""
from __future__ import annotations

from typing import NamedTuple

from .arguments import check_int, check_range


class RegressionData(NamedTuple):
    """A regression problem: inputs ``X`` (n, d), targets ``y`` (n,), and the true ``true_w`` (d,), ``true_b`` ()."""

    X: "torch.Tensor"
    y: "torch.Tensor"
    true_w: "torch.Tensor"
    true_b: "torch.Tensor"
    noise_std: float


def make_linear_regression(num_samples: int, num_features: int, noise_std: float, seed: int,
                           dtype=None) -> RegressionData:
    """Generate ``y = X @ true_w + true_b + noise`` with a torch generator seeded by ``seed``.

    ``true_w`` has entries drawn uniformly from [-2, 2], ``true_b`` from [-1, 1]. Returns CPU
    tensors of ``dtype`` (default ``torch.float32``); move them with ``.to(device)``.

    Example:
        >>> a = make_linear_regression(50, 2, noise_std=0.5, seed=1)
        >>> b = make_linear_regression(50, 2, noise_std=0.5, seed=1)
        >>> bool((a.X == b.X).all() and (a.y == b.y).all())
        True
    """
    import torch

    num_samples = check_int(num_samples, "num_samples", minimum=1)
    num_features = check_int(num_features, "num_features", minimum=1)
    noise_std = check_range(noise_std, "noise_std", 0, hint="a standard deviation")
    seed = check_int(seed, "seed")
    dtype = dtype or torch.float32
    # Drawn in float64 from one generator in a fixed order, then cast: the same numbers everywhere.
    gen = torch.Generator().manual_seed(int(seed))
    true_w = 4.0 * torch.rand(num_features, generator=gen, dtype=torch.float64) - 2.0
    true_b = 2.0 * torch.rand((), generator=gen, dtype=torch.float64) - 1.0
    X = torch.randn(num_samples, num_features, generator=gen, dtype=torch.float64)
    noise = noise_std * torch.randn(num_samples, generator=gen, dtype=torch.float64)
    y = X @ true_w + true_b + noise
    return RegressionData(X=X.to(dtype), y=y.to(dtype), true_w=true_w.to(dtype), true_b=true_b.to(dtype),
                          noise_std=noise_std)
