"""Checks for lesson 06, finding a good learning rate.

The inputs are made-up loss sequences and sweeps (no training), so the checks are instant and
exact. Each known mistake is recognised and gets its own hint.
"""
from __future__ import annotations

import numpy as np

from .. import lr_finder
from ._core import as_array, expect, expect_close, exercise


def _noisy_losses(seed: int, n: int) -> np.ndarray:
    """A range-test-like loss sequence: a slow fall, then a rise, with minibatch noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    return 2.3 - 0.8 * t ** 2 + 3.0 * np.clip(t - 0.8, 0, None) ** 2 * 25 + rng.normal(0, 0.15, n)


def _smoothing_cases(hidden: bool):
    if hidden:
        return [(_noisy_losses(21, 57), 0.95), (_noisy_losses(22, 12), 0.5), (np.array([3.7]), 0.9),
                (_noisy_losses(23, 30), 0.0), (_noisy_losses(24, 200), 0.99)]
    return [(_noisy_losses(1, 40), 0.9), (_noisy_losses(2, 100), 0.98), (np.array([2.0, 2.0, 2.0, 2.0]), 0.8)]


def _wrong_smoothings(losses: np.ndarray, beta: float) -> dict[str, np.ndarray]:
    """What the usual mistakes give, each with its hint."""
    n = len(losses)
    t = np.arange(1, n + 1)
    raw = np.zeros(n)
    avg = 0.0
    for i, x in enumerate(losses):
        avg = beta * avg + (1 - beta) * x
        raw[i] = avg
    swapped = np.zeros(n)
    avg = 0.0
    for i, x in enumerate(losses):
        avg = (1 - beta) * avg + beta * x
        swapped[i] = avg / (1 - (1 - beta) ** (i + 1)) if beta < 1 else avg
    fed_back = np.zeros(n)
    value = 0.0
    for i, x in enumerate(losses):
        value = (beta * value + (1 - beta) * x) / (1 - beta ** (i + 1))
        fed_back[i] = value
    with np.errstate(divide="ignore", invalid="ignore"):
        shifted = raw / (1 - beta ** (t + 1))
    return {
        "no bias correction: divide the running average by 1 - beta**t (t = 1 for the first loss), "
        "otherwise it starts near 0 instead of at the first loss": raw,
        "the average starts at the first loss (torch-lr-finder's convention); here start it at 0 and divide by "
        "1 - beta**t": lr_finder.smooth_losses(losses, beta, debias=False),
        "beta weighs the old average and 1 - beta the new loss, not the other way round": swapped,
        "keep the plain running average for the recursion and divide only the value you return; dividing "
        "the average itself and feeding it back over-corrects": fed_back,
        "t counts the losses seen so far, so the first loss is divided by 1 - beta**1, not 1 - beta**2": shifted,
    }


@exercise("06.1", "smooth_losses", points=1)
def smooth_losses(smooth_fn, *, hidden: bool = False) -> None:
    """Check ``smooth_losses(losses, beta)`` is the bias-corrected exponential moving average."""
    for losses, beta in _smoothing_cases(hidden):
        given = losses.copy()
        got = smooth_fn(given, beta)
        expect(np.array_equal(given, losses), "smooth_losses changed the losses it was given; build a new list.")
        expect(got is not None, "smooth_losses returned None: return the smoothed losses (one per loss).")
        values = as_array(got, "smooth_losses(losses, beta)").reshape(-1)
        expect(len(values) == len(losses),
               f"smooth_losses returned {len(values)} values for {len(losses)} losses: return one per loss.")
        want = lr_finder.smooth_losses(losses, beta)
        if not np.allclose(values, want, rtol=1e-9, atol=1e-12):
            for hint, wrong in _wrong_smoothings(losses, beta).items():
                if len(losses) > 1 and np.allclose(values, wrong, rtol=1e-9, atol=1e-12, equal_nan=True):
                    expect(False, f"with beta={beta}: {hint}.")
        expect_close(values, want, what=f"smooth_losses(losses, beta={beta}) on {len(losses)} losses",
                     rtol=1e-9, atol=1e-12,
                     hint="avg = beta * avg + (1 - beta) * loss, starting from avg = 0, and return "
                          "avg / (1 - beta**t) after the t-th loss.")


def _steepest_cases(hidden: bool):
    """(lrs, smoothed) pairs: noisy falling-then-rising curves on exponential and linear sweeps."""
    def curve(lrs, seed, centre, width):
        rng = np.random.default_rng(seed)
        x = np.log(lrs / centre) / width
        return 2.2 - 0.7 * np.tanh(x) + 0.5 * np.clip(x - 1.5, 0, None) ** 2 + rng.normal(0, 0.01, len(lrs))
    if hidden:
        a = lr_finder.sweep_lrs(1e-7, 3.0, 83)
        b = lr_finder.sweep_lrs(0.02, 2.0, 60, mode="linear")
        c = lr_finder.sweep_lrs(1e-4, 10.0, 35)
        return [(a, curve(a, 31, 2e-4, 1.5)), (b, curve(b, 32, 0.15, 0.6)), (c, curve(c, 33, 0.05, 0.8))]
    a = lr_finder.sweep_lrs(1e-6, 1.0, 90)
    b = lr_finder.sweep_lrs(0.01, 1.0, 70, mode="linear")
    return [(a, curve(a, 11, 1e-3, 1.2)), (b, curve(b, 12, 0.1, 0.5))]


def _steepest(lrs, smoothed):
    sweep = lr_finder.Sweep(lrs=lrs, losses=smoothed, smoothed=smoothed, beta=0.0, diverge_factor=np.inf,
                            stop_reason="end", start_lr=float(lrs[0]), end_lr=float(lrs[-1]),
                            num_steps_requested=len(lrs))
    return lr_finder.suggest_steepest(sweep, skip_start=0, skip_end=0)


def _wrong_steepests(lrs, smoothed) -> dict[str, float]:
    log = np.log(lrs)
    return {
        "the slope is per unit of log lr (the plot's x axis): pass np.log(lrs) as the coordinates to "
        "np.gradient, not the lrs themselves": lrs[np.argmin(np.gradient(smoothed, lrs))],
        "the slope is per unit of log lr: pass np.log(lrs) as the coordinates to np.gradient; the step "
        "index is log lr only on an exponential sweep": lrs[np.argmin(np.gradient(smoothed))],
        "steepest *descent* is the most negative slope: use argmin, not argmax": lrs[np.argmax(np.gradient(smoothed, log))],
        "use np.gradient (central differences: the slope at point i from its two neighbours); np.diff gives "
        "the slope between points i and i + 1, half a step off": lrs[np.argmin(np.diff(smoothed) / np.diff(log))],
        "that is the lr of the lowest loss; the rule wants the fastest fall": lrs[np.argmin(smoothed)],
    }


@exercise("06.2", "steepest_lr", points=1)
def steepest_lr(steepest_fn, *, hidden: bool = False) -> None:
    """Check ``steepest_lr(lrs, smoothed)`` returns the lr where the smoothed loss falls fastest per unit of log lr."""
    for lrs, smoothed in _steepest_cases(hidden):
        lrs_in, smoothed_in = lrs.copy(), smoothed.copy()
        got = steepest_fn(lrs_in, smoothed_in)
        expect(np.array_equal(lrs_in, lrs) and np.array_equal(smoothed_in, smoothed),
               "steepest_lr changed its inputs; work on copies.")
        expect(got is not None, "steepest_lr returned None: return the learning rate (a number).")
        value = as_array(got, "steepest_lr(lrs, smoothed)")
        expect(value.size == 1, f"steepest_lr should return one learning rate, got an array of shape {value.shape}.")
        value = float(value.reshape(()))
        want = _steepest(lrs, smoothed)
        kind = "exponential" if np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0])) else "linear"
        if value.is_integer() and 0 <= value < len(lrs) and not np.any(np.isclose(value, lrs, rtol=1e-9)):
            expect(False, f"you returned {value:g}, which looks like an index: return lrs[index], the learning rate.")
        if not np.isclose(value, want, rtol=1e-9):
            for hint, wrong in _wrong_steepests(lrs, smoothed).items():
                if np.isclose(value, wrong, rtol=1e-9):
                    expect(False, f"on a {kind} sweep from {lrs[0]:.1e} to {lrs[-1]:.1e}: {hint}.")
        expect(np.isclose(value, want, rtol=1e-9),
               f"on a {kind} sweep from {lrs[0]:.1e} to {lrs[-1]:.1e} you returned {value:.4g}, expected "
               f"{want:.4g}: take slope = np.gradient(smoothed, np.log(lrs)) and return lrs[np.argmin(slope)].")
