"""How sure is a comparison? Intervals for differences between runs, and the one decision rule.

Every lesson that compares runs goes through this module, so every verdict in the course rests
on the same statistics:

* **paired**: two conditions are compared on the same seeds (same initial weights and batches)
  and, for accuracies, on the same evaluation examples, so what they share cancels;
* **both sources of noise**: which seeds were run *and* which examples were scored. Runs scored
  on the same 1,000 validation images are not independent: more seeds do not shrink the part of
  the uncertainty that comes from those images;
* **one rule** (:func:`decide`): a difference is resolved when its 95 % interval excludes 0 and
  at least :data:`MIN_SEEDS` seeds were run; otherwise the measurement cannot tell.

Three shapes of data, three intervals:

* per-example scores, shape ``(seeds, examples)`` (e.g. 1 where an image was classified right):
  :func:`paired_difference` / :func:`mean` with a two-way bootstrap that resamples seeds and
  examples together (the "pigeonhole" bootstrap);
* one number per seed, shape ``(seeds,)`` (a final loss): a Student-t interval over seeds;
* a count of seeds (``k`` of ``n`` runs died): :func:`proportion`, a Wilson interval.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = (rng.random((3, 1000)) < 0.55).astype(float)     # 3 seeds x 1000 images, about 55 % right
    >>> b = (rng.random((3, 1000)) < 0.45).astype(float)     # about 45 % right
    >>> d = paired_difference(a, b)
    >>> decide(d)
    'greater'
    >>> decide(paired_difference(a[:1], b[:1]))               # one seed: the rule needs at least 3
    'unresolved'
    >>> print(proportion(5, 6))
    5 of 6 (83 %; 95 % interval 44 % to 97 %)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95        # the confidence level of every interval the course prints
MIN_SEEDS = 3       # the fewest seeds on which a difference between runs gets a verdict
NUM_RESAMPLES = 4000
DECISIONS = ("greater", "less", "unresolved")


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval: ``estimate`` in ``[low, high]`` at ``level``.

    ``seeds`` and ``examples`` say how much data stands behind it (``examples`` is ``None`` for
    one number per seed); ``method`` names the interval; ``scale`` and ``unit`` only change how it
    prints (e.g. ``scale=100, unit=" points"`` for accuracies as fractions).
    """

    estimate: float
    low: float
    high: float
    level: float
    seeds: int
    examples: int | None
    method: str
    scale: float = 1.0
    unit: str = ""

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside the interval."""
        return not (self.low <= value <= self.high)

    def scaled(self, scale: float, unit: str = "") -> "Interval":
        """The same interval, printed multiplied by ``scale`` with ``unit`` (e.g. 100, " points")."""
        return Interval(self.estimate, self.low, self.high, self.level, self.seeds, self.examples, self.method,
                        scale, unit)

    def __str__(self) -> str:
        s = self.scale
        digits = _digits(self.half_width * s)
        data = f"{self.seeds} seed{'s' if self.seeds != 1 else ''}"
        if self.examples is not None:
            data += f" x {self.examples} examples"
        return (f"{self.estimate * s:+.{digits}f}{self.unit} "
                f"[{self.low * s:+.{digits}f}, {self.high * s:+.{digits}f}] "
                f"({100 * self.level:.0f} %, {data})")


def _digits(width: float) -> int:
    """Decimals that show an interval of half-width ``width`` to about two significant figures."""
    if not math.isfinite(width) or width <= 0:
        return 3
    return int(min(6, max(0, 1 - math.floor(math.log10(width)))))


def _as_scores(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None] if arr.size else arr.reshape(0, 0)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty array of shape (seeds,) or (seeds, examples), got shape "
                         f"{np.shape(values)}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values: a diverged run has no score; compare what it "
                         "reached (e.g. its accuracy) or count it with proportion().")
    return arr


def _check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0.5 <= level < 1):
        raise ValueError(f"level must be a probability between 0.5 and 1 (e.g. 0.95), got {level!r}.")
    return float(level)


def mean(values, *, level: float = LEVEL, seed: int = 0, num_resamples: int = NUM_RESAMPLES) -> Interval:
    """The mean of ``values`` with its interval.

    ``values`` has shape ``(seeds, examples)`` (per-example scores of each seed's run, all scored
    on the same examples: a two-way bootstrap over seeds and examples) or ``(seeds,)`` (one number
    per seed: a Student-t interval over seeds; with one seed the interval is infinite).

    Example:
        >>> iv = mean([0.50, 0.53, 0.47])
        >>> round(iv.estimate, 2), iv.low < 0.45, iv.high > 0.55
        (0.5, True, True)
    """
    level = _check_level(level)
    one_per_seed = np.ndim(values) == 1
    scores = _as_scores(values, "values")
    if one_per_seed:
        return _t_interval(scores[:, 0], level)
    return _two_way_bootstrap(scores, level, seed, num_resamples)


def paired_difference(a, b, *, level: float = LEVEL, seed: int = 0, num_resamples: int = NUM_RESAMPLES) -> Interval:
    """The mean of ``a - b`` with its interval, ``a`` and ``b`` paired entry by entry.

    Both have shape ``(seeds, examples)`` (row ``s`` of both from runs with seed ``s``, column
    ``i`` the same evaluation example) or ``(seeds,)`` (one number per seed). The intervals are
    those of :func:`mean` applied to the differences, so what the two runs share (the seed's
    initial weights and batches, the example's difficulty) cancels.

    Example:
        >>> d = paired_difference([0.31, 0.35, 0.30], [0.25, 0.30, 0.27])
        >>> decide(d)
        'greater'
    """
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must be paired entry by entry (same seeds, same examples): shapes "
                         f"{a_arr.shape} and {b_arr.shape} differ.")
    return mean(a_arr - b_arr, level=level, seed=seed, num_resamples=num_resamples)


def ratio_of_means(a, b, *, level: float = LEVEL, seed: int = 0, num_resamples: int = NUM_RESAMPLES) -> Interval:
    """``mean(a) / mean(b)`` over paired seeds, with a bootstrap interval over seeds (shape ``(seeds,)``).

    For quantities compared by factor (a final loss 2.4x lower): the interval is that of the
    ratio, resampling the seeds as pairs.

    Example:
        >>> r = ratio_of_means([1.0, 1.1, 0.9, 1.0], [2.0, 2.3, 1.9, 2.1])
        >>> round(r.estimate, 2), r.excludes(1.0)
        (0.48, True)
    """
    level = _check_level(level)
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape or a_arr.ndim != 1 or a_arr.size == 0:
        raise ValueError(f"a and b must be 1-D arrays of one value per seed, paired by seed; got shapes "
                         f"{a_arr.shape} and {b_arr.shape}.")
    if not (np.all(np.isfinite(a_arr)) and np.all(np.isfinite(b_arr)) and np.all(b_arr != 0)):
        raise ValueError("ratio_of_means needs finite values and a denominator that is never 0.")
    estimate = float(a_arr.mean() / b_arr.mean())
    n = a_arr.size
    if n == 1:
        return Interval(estimate, -math.inf, math.inf, level, 1, None, "ratio, bootstrap over seeds")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=num_resamples)
    ratios = (weights @ a_arr) / (weights @ b_arr)
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high), level, n, None, "ratio, bootstrap over seeds")


def proportion(k: int, n: int, *, level: float = LEVEL) -> "Proportion":
    """``k`` of ``n`` (e.g. runs that died) with its Wilson interval.

    Example:
        >>> p = proportion(0, 3)
        >>> p.estimate, round(p.high, 2)
        (0.0, 0.56)
    """
    level = _check_level(level)
    if not (isinstance(k, (int, np.integer)) and isinstance(n, (int, np.integer)) and 0 <= k <= n and n > 0):
        raise ValueError(f"proportion needs whole numbers 0 <= k <= n with n > 0, got k={k!r}, n={n!r}.")
    z = _normal_quantile((1 + level) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Proportion(int(k), int(n), p, max(0.0, centre - half), min(1.0, centre + half), level)


@dataclass(frozen=True)
class Proportion:
    """``k`` of ``n`` with a Wilson interval ``[low, high]`` at ``level``."""

    k: int
    n: int
    estimate: float
    low: float
    high: float
    level: float

    def __str__(self) -> str:
        return (f"{self.k} of {self.n} ({100 * self.estimate:.0f} %; {100 * self.level:.0f} % interval "
                f"{100 * self.low:.0f} % to {100 * self.high:.0f} %)")


def decide(interval: Interval, *, min_seeds: int = MIN_SEEDS, threshold: float = 0.0) -> str:
    """The course's one decision rule for a difference: ``'greater'``, ``'less'`` or ``'unresolved'``.

    ``'greater'`` when the whole interval lies above ``threshold`` (default 0), ``'less'`` when
    it lies below, and ``'unresolved'`` when it contains it **or** fewer than ``min_seeds`` seeds
    stand behind it (a single run's interval knows nothing of how another seed would go).
    Pass ``min_seeds=1`` only for a measurement with no seed in it (a deterministic run scored
    on random examples).

    Example:
        >>> decide(Interval(0.02, 0.01, 0.03, 0.95, 3, 1000, "two-way bootstrap"))
        'greater'
        >>> decide(Interval(0.02, -0.01, 0.05, 0.95, 3, 1000, "two-way bootstrap"))
        'unresolved'
    """
    if interval.seeds < min_seeds:
        return "unresolved"
    if interval.low > threshold:
        return "greater"
    if interval.high < threshold:
        return "less"
    return "unresolved"


# ----------------------------------------------------------------------------------------- intervals

def _two_way_bootstrap(scores: np.ndarray, level: float, seed: int, num_resamples: int) -> Interval:
    """Resample seeds (rows) and examples (columns) independently, with replacement; percentile interval.

    A resample's mean is ``w_s @ scores @ w_e / (S * E)`` with multinomial counts ``w_s`` over
    seeds and ``w_e`` over examples, so no resampled matrix is ever built. With one seed only the
    examples are resampled: the interval then says nothing about other seeds (see :func:`decide`).
    """
    num_seeds, num_examples = scores.shape
    rng = np.random.default_rng(seed)
    seed_w = rng.multinomial(num_seeds, np.full(num_seeds, 1 / num_seeds), size=num_resamples).astype(float)
    example_w = rng.multinomial(num_examples, np.full(num_examples, 1 / num_examples),
                                size=num_resamples).astype(float)
    means = np.einsum("rs,se,re->r", seed_w, scores, example_w) / (num_seeds * num_examples)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    method = "bootstrap over seeds and examples" if num_seeds > 1 else "bootstrap over examples (one seed)"
    return Interval(float(scores.mean()), float(low), float(high), level, num_seeds, num_examples, method)


def _t_interval(values: np.ndarray, level: float) -> Interval:
    n = values.size
    centre = float(values.mean())
    if n == 1:
        return Interval(centre, -math.inf, math.inf, level, 1, None, "t interval over seeds")
    half = t_quantile((1 + level) / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return Interval(centre, centre - half, centre + half, level, n, None, "t interval over seeds")


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on its CDF).

    Example:
        >>> round(t_quantile(0.975, 2), 3), round(t_quantile(0.975, 1000), 3)
        (4.303, 1.962)
    """
    if not (0 < p < 1) or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}.")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if _t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _t_cdf(t: float, df: int) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2, 0.5, x)
    return 1 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) by its continued fraction (Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * result / a


def _normal_quantile(p: float) -> float:
    """The standard normal's ``p`` quantile (bisection on ``erf``)."""
    low, high = -40.0, 40.0
    for _ in range(200):
        mid = (low + high) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            low = mid
        else:
            high = mid
    return (low + high) / 2
