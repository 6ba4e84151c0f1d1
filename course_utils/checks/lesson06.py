"""Checks for lesson 06, finding a good learning rate.

The inputs are made-up loss sequences and sweeps (no training), so the checks are instant and
exact. Each known mistake is recognised and named.
"""
from __future__ import annotations

import numpy as np

from .. import lr_finder
from ._core import Check, as_array, expect, expect_close, register


def _noisy_losses(seed: int, n: int) -> np.ndarray:
    """A range-test-like loss sequence: a slow fall, then a rise, with minibatch noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    return 2.3 - 0.8 * t ** 2 + 3.0 * np.clip(t - 0.8, 0, None) ** 2 * 25 + rng.normal(0, 0.15, n)


def _unchanged(value: dict, key: str, given) -> bool:
    after = as_array(value.get(key), f"{key} after the call")
    given = np.asarray(given, dtype=float)
    return after.shape == given.shape and np.array_equal(after, given)


# --------------------------------------------------------------------------------------- 06.1 smoothing

def _running_average(losses, beta, keep, new):
    out, avg = [], 0.0
    for x in losses:
        avg = keep * avg + new * x
        out.append(avg)
    return np.array(out)


def _wrong_smoothings(losses: np.ndarray, beta: float) -> dict:
    """message -> what the usual mistake gives."""
    n = len(losses)
    t = np.arange(1, n + 1)
    raw = _running_average(losses, beta, beta, 1 - beta)
    fed_back, value = np.zeros(n), 0.0
    for i, x in enumerate(losses):
        value = (beta * value + (1 - beta) * x) / (1 - beta ** (i + 1))
        fed_back[i] = value
    with np.errstate(divide="ignore", invalid="ignore"):
        swapped = _running_average(losses, beta, 1 - beta, beta) / (1 - (1 - beta) ** t)
        shifted = raw / (1 - beta ** (t + 1))
    return {
        "the bias correction is missing: the average starts at 0, which pulls its first values towards 0; "
        "exercise 06.1 removes that pull (see the smoothing in 'The learning-rate range test' in lesson 06).": raw,
        "the average starts at the first loss (torch-lr-finder's convention); here it starts at 0 and the bias "
        "correction removes the pull towards 0.": lr_finder.smooth_losses(losses, beta, debias=False),
        "beta and 1 - beta are the wrong way round: beta is the weight kept by the old average.": swapped,
        "the corrected value is fed back into the average: keep the plain running average for the recursion "
        "and correct only the value you return.": fed_back,
        "the bias correction is one step off: t counts the losses seen so far, this one included.": shifted,
    }


class SmoothLosses(Check):
    id, name, points, kind = "06.1", "smooth_losses", 1, "implement"
    hints = (
        "Keep one running number, the average, starting at 0; each loss moves it a little towards that loss, "
        "beta saying how much of the old average is kept.",
        "Starting at 0 makes the first averages too small: after t losses the weights of the average sum to "
        "less than 1. The bias correction divides by that sum (see 'The learning-rate range test' in lesson 06).",
        "Return the corrected value for every loss, but keep updating the uncorrected running average; t is 1 "
        "for the first loss. Build a new list: leave the losses you are given as they are.",
    )

    def cases(self, variant):
        if not variant.hidden:
            cases = [(_noisy_losses(1, 40), 0.9), (_noisy_losses(2, 100), 0.98), (np.array([2.0, 2.0, 2.0, 2.0]), 0.8)]
        else:
            rng = variant.rng(self.id, "losses")

            def noisy(low, high):
                return _noisy_losses(int(rng.integers(2 ** 31)), int(rng.integers(low, high)))

            cases = [(noisy(30, 121), rng.uniform(0.8, 0.99)), (noisy(5, 21), rng.uniform(0.3, 0.7)),
                     (np.array([rng.uniform(0.5, 5.0)]), rng.uniform(0.5, 0.99)), (noisy(10, 41), 0.0),
                     (noisy(150, 251), rng.uniform(0.97, 0.995))]
        return [{"losses": losses.tolist(), "beta": round(float(beta), 4)} for losses, beta in cases]

    def respond(self, smooth_fn, case):
        given = np.array(case["losses"])
        smoothed = smooth_fn(given, case["beta"])
        return {"smoothed": smoothed, "losses_after": given}

    def judge(self, case, value):
        losses, beta = np.array(case["losses"]), case["beta"]
        expect(isinstance(value, dict), "smooth_losses's answer could not be read.")
        expect(_unchanged(value, "losses_after", losses),
               "smooth_losses changed the losses it was given; build a new list.")
        expect(value.get("smoothed") is not None,
               "smooth_losses returned None: return the smoothed losses (one per loss).")
        got = as_array(value["smoothed"], "smooth_losses(losses, beta)").reshape(-1)
        expect(len(got) == len(losses),
               f"smooth_losses returned {len(got)} values for {len(losses)} losses: return one per loss.")
        expect_close(got, lr_finder.smooth_losses(losses, beta),
                     what=f"smooth_losses(losses, beta={beta}) on {len(losses)} losses", rtol=1e-9, atol=1e-12,
                     mistakes=_wrong_smoothings(losses, beta) if len(losses) > 1 else None,
                     hint="Compare your function with the definition in exercise 06.1's text: where the average "
                          "starts, how it moves, and what is divided by what before it is returned.")


# --------------------------------------------------------------------------------------- 06.2 steepest slope

def _curve(lrs, seed, centre, width, noise=0.01):
    """A falling-then-rising smoothed range-test curve around ``centre`` (in lr), with a little noise."""
    rng = np.random.default_rng(seed)
    x = np.log(lrs / centre) / width
    return 2.2 - 0.7 * np.tanh(x) + 0.5 * np.clip(x - 1.5, 0, None) ** 2 + rng.normal(0, noise, len(lrs))


def _steepest(lrs, smoothed) -> float:
    """The library's rule on the whole sweep (nothing skipped at either end)."""
    sweep = lr_finder.Sweep(lrs=lrs, losses=smoothed, smoothed=smoothed, beta=0.0, diverge_factor=np.inf,
                            stop_reason="end", start_lr=float(lrs[0]), end_lr=float(lrs[-1]),
                            num_steps_requested=len(lrs))
    return lr_finder.suggest_steepest(sweep, skip_start=0, skip_end=0)


def _wrong_steepests(lrs, smoothed) -> dict:
    """message -> the lr that usual mistake returns."""
    log = np.log(lrs)
    per_log_lr = ("the slope is per unit of log lr (the plot's x axis is logarithmic): give np.gradient the log "
                  "of the learning rates as the coordinates.")
    return {   # on a linear sweep the first two give the same lr: the first message, which says why, wins
        per_log_lr + " The step index is evenly spaced in log lr only on an exponential sweep, and this one is "
                     "linear.": lrs[np.argmin(np.gradient(smoothed))],
        per_log_lr: lrs[np.argmin(np.gradient(smoothed, lrs))],
        "steepest *descent* is the most negative slope, not the largest.": lrs[np.argmax(np.gradient(smoothed, log))],
        "np.diff gives the slope between points i and i + 1, half a step off; np.gradient's central differences "
        "give the slope at each point.": lrs[np.argmin(np.diff(smoothed) / np.diff(log))],
        "that is the lr of the lowest loss; the rule wants where the loss falls fastest.": lrs[np.argmin(smoothed)],
    }


def _kind(lrs) -> str:
    return "exponential" if np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0])) else "linear"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


class SteepestLr(Check):
    id, name, points, kind = "06.2", "steepest_lr", 1, "implement"
    hints = (
        "You want the learning rate where the smoothed loss falls fastest: the most negative slope of the curve.",
        "Slope per unit of what? The curve is plotted against log lr, and the sweep multiplies the lr by a "
        "constant factor per step, so the slope is per unit of log lr.",
        "np.gradient(values, coordinates) gives the slope at every point (central differences); take the "
        "coordinates to be the log of the learning rates, find the index of the most negative slope, and "
        "return the learning rate at that index (not the index).",
    )

    def cases(self, variant):
        if not variant.hidden:
            a = lr_finder.sweep_lrs(1e-6, 1.0, 90)
            b = lr_finder.sweep_lrs(0.01, 1.0, 70, mode="linear")
            pairs = [(a, _curve(a, 11, 1e-3, 1.2)), (b, _curve(b, 12, 0.1, 0.5))]
        else:
            rng = variant.rng(self.id, "sweeps")
            while True:   # draw until every usual mistake gives a wrong lr on at least one sweep
                pairs = []
                for mode in ("exp", "linear", "exp"):
                    if mode == "exp":
                        start, end = 10 ** rng.uniform(-7, -4), 10 ** rng.uniform(-0.5, 1)
                        lrs = lr_finder.sweep_lrs(start, end, int(rng.integers(40, 101)))
                        centre = np.exp(rng.uniform(np.log(start) + 3, np.log(end) - 3))
                    else:
                        start, end = rng.uniform(0.005, 0.05), rng.uniform(0.5, 3.0)
                        lrs = lr_finder.sweep_lrs(start, end, int(rng.integers(40, 81)), mode="linear")
                        centre = np.exp(rng.uniform(np.log(start * 3), np.log(end / 3)))
                    pairs.append((lrs, _curve(lrs, int(rng.integers(2 ** 31)), centre, rng.uniform(0.4, 1.5))))
                if all(any(not np.isclose(_wrong_steepests(lrs, s)[m], _steepest(lrs, s), rtol=1e-9)
                           for lrs, s in pairs) for m in _wrong_steepests(*pairs[0])):
                    break
        return [{"lrs": lrs.tolist(), "smoothed": smoothed.tolist()} for lrs, smoothed in pairs]

    def respond(self, steepest_fn, case):
        lrs, smoothed = np.array(case["lrs"]), np.array(case["smoothed"])
        lr = steepest_fn(lrs, smoothed)
        return {"lr": lr, "lrs_after": lrs, "smoothed_after": smoothed}

    def judge(self, case, value):
        lrs, smoothed = np.array(case["lrs"]), np.array(case["smoothed"])
        expect(isinstance(value, dict), "steepest_lr's answer could not be read.")
        expect(_unchanged(value, "lrs_after", lrs) and _unchanged(value, "smoothed_after", smoothed),
               "steepest_lr changed its inputs; work on copies.")
        expect(value.get("lr") is not None, "steepest_lr returned None: return the learning rate (a number).")
        got = as_array(value["lr"], "steepest_lr(lrs, smoothed)")
        expect(got.size == 1, f"steepest_lr should return one learning rate, got an array of shape {got.shape}.")
        got = float(got.reshape(()))
        what = f"steepest_lr on {_a(_kind(lrs))} sweep from {lrs[0]:.1e} to {lrs[-1]:.1e}"
        if got.is_integer() and 0 <= got < len(lrs) and not np.any(np.isclose(got, lrs, rtol=1e-9)):
            expect(False, f"{what} returned {got:g}, which looks like an index: return lrs[index], the learning "
                          "rate.")
        expect_close(got, _steepest(lrs, smoothed), what=what, rtol=1e-9, atol=0.0,
                     mistakes=_wrong_steepests(lrs, smoothed),
                     hint="Re-read exercise 06.2's text: which slope, per unit of what, and which extreme of it.")


smooth_losses = register(SmoothLosses())
steepest_lr = register(SteepestLr())
