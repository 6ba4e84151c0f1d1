"""The learning-rate range test, and the rules that read a learning rate off its curve (lesson 06).

The range test (Smith, "Cyclical learning rates for training neural networks", 2015/2017; made
popular by fastai) trains for one short run while the learning rate grows step by step from tiny
to huge, and records the minibatch loss of every step. The loss first barely moves (steps too
small), then falls (steps useful), then turns up and blows up (steps too large). Because each
minibatch loss is noisy, the curve is smoothed with a bias-corrected exponential moving average,
and the run stops once the smoothed loss exceeds ``diverge_factor`` times its best value so far.

:func:`range_test` runs it and returns a :class:`Sweep` (plain arrays; the caller's model,
optimizer and global random generators are left as they were). Reading a learning rate off the
curve is a separate step, one pure function per rule, each with its assumptions in its docstring:

* :func:`suggest_steepest` -- where the smoothed loss falls fastest per unit of log lr;
* :func:`suggest_minimum`  -- the lr of the lowest smoothed loss, divided by 10;
* :func:`suggest_valley`   -- fastai's "valley": about half-way down the longest descent.

Beside it: the grid search it is judged against (:mod:`course_utils.grid_search`), a bowl with a
known answer to run it on (:mod:`course_utils.bowl_model`), and torch-lr-finder run with the same
settings (:mod:`course_utils.torch_lr_finder_adapter`).

Example:
    >>> import torch
    >>> torch.manual_seed(0)                                        # doctest: +ELLIPSIS
    <...>
    >>> model = torch.nn.Linear(10, 3)
    >>> batches = [(torch.randn(32, 10), torch.randint(0, 3, (32,))) for _ in range(4)]
    >>> sweep = range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), batches,
    ...                    start_lr=1e-4, end_lr=10.0, num_steps=60, progress=False)
    >>> sweep.num_steps <= 60, float(sweep.lrs[0])
    (True, 0.0001)
    >>> sorted(suggest(sweep))
    ['minimum/10', 'steepest', 'valley']
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from . import runtime
from .arguments import check_beta, check_int, check_lr, check_range
from .state import preserved_state

SWEEP_MODES = ("exp", "linear")
STOP_REASONS = ("end", "diverged", "non-finite")


# ----------------------------------------------------------------------------- the schedule and the smoothing

def sweep_lrs(start_lr: float, end_lr: float, num_steps: int, mode: str = "exp") -> np.ndarray:
    """The learning rate of each step of a range test, shape (num_steps,), from ``start_lr`` to ``end_lr`` inclusive.

    ``mode="exp"`` multiplies the lr by the same factor every step (evenly spaced in log lr, the
    usual choice: every decade gets the same number of steps); ``"linear"`` adds the same amount.

    Example:
        >>> sweep_lrs(1e-3, 1e-1, 5).round(6).tolist()
        [0.001, 0.003162, 0.01, 0.031623, 0.1]
    """
    start_lr, end_lr = check_lr(start_lr, "start_lr"), check_lr(end_lr, "end_lr")
    num_steps = check_int(num_steps, "num_steps", minimum=2)
    if not end_lr > start_lr:
        raise ValueError(f"end_lr must be larger than start_lr (the sweep goes up), got start_lr={start_lr:g}, "
                         f"end_lr={end_lr:g}.")
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, num_steps)
    if mode == "linear":
        return np.linspace(start_lr, end_lr, num_steps)
    raise ValueError(f"mode must be one of {SWEEP_MODES}, got {mode!r}.")


def _check_smoothing(beta: float) -> float:
    return check_beta(beta, hint="it is the smoothing factor: 0 means no smoothing, 0.98 is fastai's choice")


class MovingAverage:
    """Exponential moving average of a stream of numbers, bias-corrected by default.

    ``update(x)`` returns the smoothed value after ``x``. The running average
    ``avg_t = beta * avg_(t-1) + (1 - beta) * x_t`` starts at 0, which pulls the early values
    towards 0; dividing by ``1 - beta**t`` (t = 1, 2, ... values seen) removes that pull exactly, so
    the first smoothed value is the first loss itself and a constant stream stays constant.
    With ``debias=False`` the average instead starts at the first value (torch-lr-finder's
    convention), which over-weights the first value for the first ~1/(1-beta) steps.
    """

    def __init__(self, beta: float, debias: bool = True):
        self.beta, self.debias = _check_smoothing(beta), bool(debias)
        self.avg, self.count = 0.0, 0

    def update(self, x: float) -> float:
        x = float(x)
        self.count += 1
        if self.debias:
            self.avg = self.beta * self.avg + (1.0 - self.beta) * x
            return self.avg / (1.0 - self.beta ** self.count)
        self.avg = x if self.count == 1 else self.beta * self.avg + (1.0 - self.beta) * x
        return self.avg


def smooth_losses(losses, beta: float, *, debias: bool = True) -> np.ndarray:
    """The losses (n,) smoothed by a bias-corrected exponential moving average (see :class:`MovingAverage`).

    Example:
        >>> smooth_losses([2.0, 2.0, 2.0], beta=0.9).tolist()   # a constant stays constant
        [2.0, 2.0, 2.0]
        >>> smooth_losses([1.0, 3.0], beta=0.5).round(4).tolist()   # (0.25*1 + 0.5*3) / (1 - 0.25)
        [1.0, 2.3333]
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1:
        raise ValueError(f"losses must be a 1-D sequence, got shape {losses.shape}.")
    average = MovingAverage(beta, debias=debias)
    return np.array([average.update(x) for x in losses], dtype=float)


def _check_factor(diverge_factor: float) -> float:
    return check_range(diverge_factor, "diverge_factor", 1, include_low=False, allow_inf=True,
                       hint="stop once the smoothed loss exceeds that many times its best: fastai uses 4, "
                            "torch-lr-finder 5, math.inf never stops")


def stop_index(smoothed, diverge_factor: float, losses=None) -> int | None:
    """Index of the step at which a range test stops, or ``None`` if it runs to the end.

    It stops at the first step whose smoothed loss exceeds ``diverge_factor`` times the lowest
    smoothed loss so far, or (if the raw ``losses`` are given) whose raw loss is not finite. That
    step is kept in the sweep: it is the evidence of the blow-up. Assumes positive losses (such as
    cross-entropy or a squared error), so that "4 times the best" means "much worse".

    Example:
        >>> stop_index([3.0, 2.0, 1.0, 2.5, 5.0], diverge_factor=4)
        4
    """
    factor = _check_factor(diverge_factor)
    smoothed = np.asarray(smoothed, dtype=float)
    raw = np.asarray(losses, dtype=float) if losses is not None else smoothed
    best = math.inf
    for i, (s, x) in enumerate(zip(smoothed, raw)):
        if not (math.isfinite(x) and math.isfinite(s)):
            return i
        best = min(best, s)
        if s > factor * best:
            return i
    return None


# ----------------------------------------------------------------------------- the sweep as data

@dataclass(frozen=True, eq=False)
class Sweep:
    """What a range test recorded, as plain arrays.

    ``lrs`` (n,): the learning rate of each step. ``losses`` (n,): the minibatch loss of each step,
    computed before that step's update (so it shows the effect of the steps before it).
    ``smoothed`` (n,): ``losses`` smoothed with ``beta`` (bias-corrected unless ``debias`` is False).
    ``stop_reason``: ``"end"`` (reached ``end_lr``), ``"diverged"`` (the smoothed loss passed
    ``diverge_factor`` times its best; the last entry is that step) or ``"non-finite"`` (a loss
    was NaN or infinite; the last entry is that loss). ``start_lr``, ``end_lr``, ``num_steps``
    and ``mode`` are the settings the sweep was asked for (``num_steps`` requested, not run).
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    beta: float
    diverge_factor: float
    stop_reason: str
    start_lr: float
    end_lr: float
    num_steps_requested: int
    mode: str = "exp"
    debias: bool = True

    @property
    def num_steps(self) -> int:
        """Steps the sweep ran (fewer than requested when it stopped early)."""
        return len(self.lrs)

    @property
    def stopped_early(self) -> bool:
        return self.stop_reason != "end"

    @property
    def best_index(self) -> int:
        """Index of the lowest smoothed loss."""
        return int(np.nanargmin(np.where(np.isfinite(self.smoothed), self.smoothed, np.nan)))

    @property
    def stop_lr(self) -> float:
        """The learning rate of the last step (where it blew up, if it stopped early)."""
        return float(self.lrs[-1])

    def resmooth(self, beta: float | None = None, diverge_factor: float | None = None,
                 debias: bool | None = None) -> "Sweep":
        """The sweep as :func:`range_test` would have returned it with other smoothing or stopping settings.

        The raw losses do not depend on either setting, so smoothing them again and cutting at the
        new stop is exactly the shorter run (a larger ``diverge_factor`` cannot see past where this
        sweep already stopped). This is what the lesson's sliders do, without training again.
        """
        beta = self.beta if beta is None else _check_smoothing(beta)
        factor = self.diverge_factor if diverge_factor is None else _check_factor(diverge_factor)
        debias = self.debias if debias is None else bool(debias)
        smoothed = smooth_losses(self.losses, beta, debias=debias)
        stop = stop_index(smoothed, factor, self.losses)
        if stop is None:
            n, reason = len(self.losses), self.stop_reason
        else:
            n = stop + 1
            reason = "diverged" if np.isfinite(self.losses[stop]) and np.isfinite(smoothed[stop]) else "non-finite"
        return replace(self, lrs=self.lrs[:n].copy(), losses=self.losses[:n].copy(), smoothed=smoothed[:n],
                       beta=beta, diverge_factor=factor, stop_reason=reason, debias=debias)


# ----------------------------------------------------------------------------- leaving the caller's state alone

def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    raise ValueError("the model has no parameters, so there is nothing for a range test to train.")


def _cycle(loader):
    """The batches of ``loader``, epoch after epoch (a fresh ``iter`` each time, as a training loop would)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("train_loader gave no batches. Pass a loader that can be iterated again and again "
                             "(a DataLoader, a DeviceLoader or a list of (x, y) batches), not a one-shot iterator.")


def _to(value, device):
    return value.to(device, non_blocking=True) if hasattr(value, "to") else value


# ----------------------------------------------------------------------------- the range test

def range_test(model: nn.Module, optimizer: torch.optim.Optimizer, train_loader, *, loss_fn=None,
               start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, mode: str = "exp",
               beta: float = 0.98, diverge_factor: float = 4.0, progress: bool = True,
               desc: str = "range test") -> Sweep:
    """Train ``model`` for up to ``num_steps`` steps with the lr growing from ``start_lr`` to ``end_lr``; return the :class:`Sweep`.

    Args:
        model: the network, on the device it should train on (batches are moved there).
        optimizer: any ``torch.optim.Optimizer`` over ``model``'s parameters, torch's or the
            course's own: the test only sets ``lr`` in every parameter group and calls
            ``zero_grad``/``step``. Its other settings (momentum, betas, weight decay) are used as they are.
        train_loader: re-iterable ``(x, y, ...)`` batches (``DataLoader``, ``DeviceLoader``, a
            list); started again from the top when it runs out before ``num_steps``.
        loss_fn: ``loss_fn(model(x), y)`` -> scalar tensor; default cross-entropy.
        start_lr, end_lr, num_steps, mode: the schedule, see :func:`sweep_lrs`.
        beta: smoothing factor of the bias-corrected moving average (0 = none; fastai's 0.98
            averages over about the last 50 steps).
        diverge_factor: stop once the smoothed loss exceeds this many times its best so far
            (fastai 4, torch-lr-finder 5; ``math.inf`` runs to ``end_lr`` unless a loss turns
            NaN or infinite, which always stops the test).
        progress: a progress bar (also off when ``COURSE_PROGRESS=0``).

    Each step: forward on the next batch, record the loss, ``zero_grad``, ``backward``, ``step``
    with this step's lr (the model is in training mode throughout).

    Afterwards the caller finds everything as it was: parameter values, their ``.grad``, buffers
    (BatchNorm statistics, non-persistent ones too), every module's train/eval flag, the optimizer's
    per-parameter state (``optimizer.state``, values restored in place) and its hyperparameters
    (``param_groups``: lr, momentum, ...), and the global random generators of
    Python, NumPy and torch (the CPU's and the model's CUDA device's), so code after a range test
    draws the same numbers as without it. What does move on is the loader's own state: a
    ``DeviceLoader`` (or a ``DataLoader`` with its own ``generator=``) continues its sequence, so
    pass a freshly made loader for a repeatable sweep. A ``DataLoader`` that shuffles from the
    global generator gives the same order in every range test, since that generator is restored.
    """
    lrs = sweep_lrs(start_lr, end_lr, num_steps, mode)
    beta, factor = _check_smoothing(beta), _check_factor(diverge_factor)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer (torch's or a subclass), got {type(optimizer).__name__}.")
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = _model_device(model)
    losses, smoothed = [], []
    average, best, reason = MovingAverage(beta), math.inf, "end"
    bar = runtime.progress(total=len(lrs), desc=desc, unit="step", disable=not (progress and runtime.progress_enabled()))
    with preserved_state(model, optimizer, weights=True):
        try:
            model.train()
            batches = _cycle(train_loader)
            for lr in lrs:
                for group in optimizer.param_groups:
                    group["lr"] = float(lr)
                x, y = next(batches)[:2]
                loss = loss_fn(model(_to(x, device)), _to(y, device))
                value = float(loss.item())
                losses.append(value)
                smoothed.append(average.update(value))
                bar.update(1)
                if not (math.isfinite(value) and math.isfinite(smoothed[-1])):
                    reason = "non-finite"
                    break
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                best = min(best, smoothed[-1])
                if smoothed[-1] > factor * best:
                    reason = "diverged"
                    break
        finally:
            bar.close()
    n = len(losses)
    return Sweep(lrs=lrs[:n].copy(), losses=np.array(losses, dtype=float), smoothed=np.array(smoothed, dtype=float),
                 beta=beta, diverge_factor=factor, stop_reason=reason, start_lr=float(lrs[0]),
                 end_lr=float(lrs[-1]), num_steps_requested=len(lrs), mode=mode, debias=True)


# ----------------------------------------------------------------------------- suggestion rules

SKIP_START = 10  # points dropped at the start (the smoothed loss is still settling), as fastai and torch-lr-finder
SKIP_END = 5     # points dropped at the end (the blow-up itself), as fastai and torch-lr-finder


def trimmed(sweep: Sweep, skip_start: int = SKIP_START, skip_end: int = SKIP_END, *,
            upto_minimum: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The part of the sweep the rules read: ``(lrs, smoothed)`` without the first ``skip_start``
    and the last ``skip_end`` points, cut before any non-finite smoothed loss and, with
    ``upto_minimum`` (the default), after the lowest smoothed loss.

    Why stop at the minimum: on cross-entropy a range test often does not stop by itself. Past the
    minimum the lr is too large, the loss spikes and the network dies, its loss returning to the
    chance level (ln 10 = 2.30 for ten classes), which is never 4 or 5 times the best, so the
    divergence stop does not fire and the sweep runs on. The smoothed loss then *falls* from its
    spike back to the chance level, and a rule that reads that part (the steepest slope, the
    longest descent) reads the wreck of the network, not its training. Everything a rule should
    read lies before the minimum. ``upto_minimum=False`` reads the whole sweep, as fastai and
    torch-lr-finder do.

    Example:
        >>> s = Sweep(lrs=np.geomspace(1e-4, 1.0, 8), losses=np.zeros(8), beta=0.0, diverge_factor=4.0,
        ...           smoothed=np.array([2.3, 2.2, 1.9, 1.5, 1.4, 9.0, 4.0, 2.3]), stop_reason="end",
        ...           start_lr=1e-4, end_lr=1.0, num_steps_requested=8)
        >>> len(trimmed(s, 0, 0)[0]), len(trimmed(s, 0, 0, upto_minimum=False)[0])
        (5, 8)
    """
    skip_start, skip_end = check_int(skip_start, "skip_start"), check_int(skip_end, "skip_end")
    lrs, smoothed = np.asarray(sweep.lrs, dtype=float), np.asarray(sweep.smoothed, dtype=float)
    bad = np.flatnonzero(~np.isfinite(smoothed))
    if bad.size:
        lrs, smoothed = lrs[:bad[0]], smoothed[:bad[0]]
    lrs, smoothed = lrs[skip_start:len(lrs) - skip_end], smoothed[skip_start:len(smoothed) - skip_end]
    if upto_minimum and len(smoothed):
        lowest = int(np.argmin(smoothed))
        lrs, smoothed = lrs[:lowest + 1], smoothed[:lowest + 1]
    if len(lrs) < 3:
        raise ValueError(f"the sweep has {sweep.num_steps} steps; after dropping {skip_start} at the start and {skip_end} "
                         f"at the end{' and all after the lowest smoothed loss' if upto_minimum else ''} only "
                         f"{len(lrs)} are left, and a rule needs at least 3. Run more steps, start lower, or use a "
                         "larger diverge_factor.")
    return lrs, smoothed


def suggest_steepest(sweep: Sweep, *, skip_start: int = SKIP_START, skip_end: int = SKIP_END,
                     upto_minimum: bool = True) -> float:
    """The lr at which the smoothed loss falls fastest per unit of log lr (Smith's "steepest descent" reading).

    The slope is ``np.gradient(smoothed, log(lrs))`` (central differences, one-sided at the ends);
    the rule returns the lr of its most negative value. On an exponential sweep log lr is evenly
    spaced, so this is the same point as torch-lr-finder's ``np.gradient(losses).argmin()``.

    Assumes: the loss falls fastest where the lr is large enough to make real progress but not yet
    unstable, so training at that lr makes fast progress. It reads the *noisiest* feature of the
    curve (a derivative of a noisy signal), so it moves with the smoothing and the run; and the
    smoothing's lag (about ``beta/(1-beta)`` steps) moves it to larger lrs. Read past the lowest
    smoothed loss (``upto_minimum=False``), it finds the fall from a blow-up's spike back to the
    chance level of a dead network just as readily (see :func:`trimmed`).
    """
    lrs, smoothed = trimmed(sweep, skip_start, skip_end, upto_minimum=upto_minimum)
    slope = np.gradient(smoothed, np.log(lrs))
    return float(lrs[int(np.argmin(slope))])


def suggest_minimum(sweep: Sweep, *, skip_start: int = SKIP_START, skip_end: int = SKIP_END,
                    divide_by: float = 10.0, upto_minimum: bool = True) -> float:
    """The lr of the lowest smoothed loss, divided by ``divide_by`` (fastai's "minimum": one tenth of it).

    Assumes: the loss stops falling where the lr has become too large for this network (near the
    edge of stability), so a lr a factor 10 below is safely stable and still within a decade of
    the fastest one. The minimum of a smoothed curve is a robust feature (it needs no derivative),
    but the smoothing's lag moves it to larger lrs, and the factor 10 is a convention, not a result.
    """
    divide_by = check_range(divide_by, "divide_by", 1)
    lrs, smoothed = trimmed(sweep, skip_start, skip_end, upto_minimum=upto_minimum)
    return float(lrs[int(np.argmin(smoothed))] / divide_by)


def longest_descent(values) -> tuple[int, int]:
    """``(end, length)`` of the longest strictly decreasing subsequence of ``values`` (n,).

    The subsequence need not be contiguous: a descent interrupted by upward bumps (noise) still
    counts. ``end`` is its last index (the first such index if several descents are as long).

    Example:
        >>> longest_descent([5.0, 4.0, 4.5, 3.0, 3.5, 2.0, 6.0])    # 5, 4, 3, 2
        (5, 4)
    """
    values = np.asarray(values, dtype=float)
    lengths = np.ones(len(values), dtype=int)
    for i in range(1, len(values)):
        higher = values[:i] > values[i]
        if higher.any():
            lengths[i] = lengths[:i][higher].max() + 1
    end = int(np.argmax(lengths))
    return end, int(lengths[end])


def suggest_valley(sweep: Sweep, *, skip_start: int = SKIP_START, skip_end: int = SKIP_END,
                   upto_minimum: bool = True) -> float:
    """fastai's "valley" (its default since fastai 2.4): about half-way down the longest descent of the smoothed loss.

    Finds the longest strictly decreasing subsequence of the smoothed loss (:func:`longest_descent`),
    of length L ending at index e, takes fastai's start estimate s = e - L and returns the lr at
    index s + floor(L/3) + floor(L/6), i.e. about half-way along it.

    Assumes: the useful range of lrs is one long valley that the loss descends (with bumps) before
    it turns up, and its middle is a safe, fast choice: past the early flat part, well before the
    bottom where the lr becomes too large. A curve with two descents separated by a plateau
    confuses it, and so does the fall from a blow-up's spike if it is read (``upto_minimum=False``).
    """
    lrs, smoothed = trimmed(sweep, skip_start, skip_end, upto_minimum=upto_minimum)
    end, length = longest_descent(smoothed)
    start = end - length
    index = min(max(start + int(length / 3) + int(length / 6), 0), len(lrs) - 1)
    return float(lrs[index])


RULES = {"steepest": suggest_steepest, "minimum/10": suggest_minimum, "valley": suggest_valley}


def suggest(sweep: Sweep, rules=None, **kwargs) -> dict[str, float]:
    """Every rule's suggestion for ``sweep``: ``{rule name: lr}`` (``kwargs`` go to each rule, e.g. ``skip_start``)."""
    rules = RULES if rules is None else rules
    return {name: rule(sweep, **kwargs) for name, rule in rules.items()}


__all__ = ["range_test", "Sweep", "sweep_lrs", "smooth_losses", "MovingAverage", "stop_index", "trimmed",
           "suggest_steepest", "suggest_minimum", "suggest_valley", "longest_descent", "suggest", "RULES",
           "SWEEP_MODES", "SKIP_START", "SKIP_END"]
