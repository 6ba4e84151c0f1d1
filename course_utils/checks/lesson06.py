"""Checks for lesson 06, finding a good learning rate.

The inputs are made-up loss sequences and sweeps (no training), so the checks are instant and
exact. Each known mistake is recognised and named.
"""
from __future__ import annotations

import numpy as np

from .. import lr_finder
from ._core import Check, as_array, as_number, expect, expect_close, register


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

LN10 = float(np.log(10.0))   # the cross-entropy of a dead ten-class network: it predicts every class alike


def _curve(lrs, seed, centre, width, noise=0.01):
    """A smoothed range-test curve on cross-entropy: it falls around ``centre`` (in lr), bottoms out and
    turns up; then the network blows up (a spike) and dies, the loss decaying back to ln 10."""
    rng = np.random.default_rng(seed)
    x = np.log(lrs / centre) / width
    curve = 2.2 - 0.7 * np.tanh(x) + 0.5 * np.clip(x - 1.5, 0, None) ** 2
    spike = np.flatnonzero(x > 2.2)
    if spike.size:
        after = np.arange(len(lrs) - spike[0])
        curve[spike[0]:] = LN10 + 3.0 * np.exp(-after / 3.0)
    return curve + rng.normal(0, noise, len(lrs))


def _steepest(lrs, smoothed) -> float:
    """The library's rule on the sweep up to its lowest point (nothing skipped at either end)."""
    sweep = lr_finder.Sweep(lrs=lrs, losses=smoothed, smoothed=smoothed, beta=0.0, diverge_factor=np.inf,
                            stop_reason="end", start_lr=float(lrs[0]), end_lr=float(lrs[-1]),
                            num_steps_requested=len(lrs))
    return lr_finder.suggest_steepest(sweep, skip_start=0, skip_end=0)


def _steepest_central(lrs, smoothed) -> float:
    """The same, with the slope at the lowest point taken from both sides (np.gradient on the whole sweep)."""
    lowest = int(np.argmin(smoothed))
    slope = np.gradient(smoothed, np.log(lrs))[:lowest + 1]
    return float(lrs[int(np.argmin(slope))])


def _wrong_steepests(lrs, smoothed) -> dict:
    """message -> the lr that usual mistake returns."""
    log = np.log(lrs)
    upto = int(np.argmin(smoothed)) + 1
    lrs_, s_, log_ = lrs[:upto], smoothed[:upto], log[:upto]
    per_log_lr = ("the slope is per unit of log lr (the plot's x axis is logarithmic): the coordinates of the "
                  "slope are the log of the learning rates.")
    return {   # on a linear sweep the first two give the same lr: the first message, which says why, wins
        per_log_lr + " The step index is evenly spaced in log lr only on an exponential sweep, and this one is "
                     "linear.": lrs_[np.argmin(np.gradient(s_))],
        per_log_lr: lrs_[np.argmin(np.gradient(s_, lrs_))],
        "the rule read the sweep past its lowest point, where the network has blown up: there the loss falls "
        "from the spike back to a dead network's level, which is not training. Read only up to the lowest "
        "smoothed loss.": lrs[np.argmin(np.gradient(smoothed, log))],
        "steepest *descent* is the most negative slope, not the largest.": lrs_[np.argmax(np.gradient(s_, log_))],
        "the slope between points i and i + 1 belongs half a step off; take the slope at each point (central "
        "differences, as np.gradient does).": lrs_[np.argmin(np.diff(s_) / np.diff(log_))],
        "that is the lr of the lowest loss; the rule wants where the loss falls fastest.": lrs_[-1],
    }


def _kind(lrs) -> str:
    return "exponential" if np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0])) else "linear"


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _draw_sweep(rng, mode: str) -> np.ndarray:
    if mode == "exp":
        return lr_finder.sweep_lrs(10 ** rng.uniform(-7, -4), 10 ** rng.uniform(-0.5, 1), int(rng.integers(60, 121)))
    return lr_finder.sweep_lrs(rng.uniform(0.005, 0.05), rng.uniform(0.5, 3.0), int(rng.integers(50, 91)),
                               mode="linear")


class SteepestLr(Check):
    id, name, points, kind = "06.2", "steepest_lr", 1, "implement"
    hints = (
        "Two steps: first keep only the part of the sweep up to (and including) its lowest smoothed loss; "
        "then find where, on that part, the curve falls fastest: the most negative slope.",
        "Slope per unit of what? The curve is plotted against log lr, and the sweep multiplies the lr by a "
        "constant factor per step, so the slope is per unit of log lr, on linear sweeps too.",
        "np.gradient(values, coordinates) gives the slope at every point (central differences); the coordinates "
        "are np.log of the learning rates. np.argmin gives the index of the lowest value: of the smoothed loss "
        "for the cut, of the slope for the answer. Return the learning rate at that index, not the index.",
    )

    def cases(self, variant):
        if not variant.hidden:
            a = lr_finder.sweep_lrs(1e-6, 10.0, 120)
            b = lr_finder.sweep_lrs(0.01, 1.0, 100, mode="linear")
            pairs = [(a, _curve(a, 11, 1e-3, 1.2)), (b, _curve(b, 12, 0.15, 0.3))]
        else:
            rng = variant.rng(self.id, "sweeps")
            while True:   # draw until every usual mistake gives a wrong lr on at least one sweep
                pairs = []
                for mode in ("exp", "linear", "exp"):
                    lrs = _draw_sweep(rng, mode)
                    width = rng.uniform(0.3, 1.2) if mode == "exp" else rng.uniform(0.2, 0.5)
                    low, high = np.log(lrs[0]) + 2.5 * width, np.log(lrs[-1]) - 3.5 * width
                    if high <= low:
                        continue
                    pairs.append((lrs, _curve(lrs, int(rng.integers(2 ** 31)), np.exp(rng.uniform(low, high)), width)))
                if len(pairs) == 3 and all(
                        any(not np.isclose(_wrong_steepests(lrs, s)[m], _steepest(lrs, s), rtol=1e-9)
                            and not np.isclose(_wrong_steepests(lrs, s)[m], _steepest_central(lrs, s), rtol=1e-9)
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
        what = f"steepest_lr on {_a(_kind(lrs))} sweep of {len(lrs)} steps"
        if got.is_integer() and 0 <= got < len(lrs) and not np.any(np.isclose(got, lrs, rtol=1e-9)):
            expect(False, f"{what} returned {got:g}, which looks like an index: return lrs[index], the learning "
                          "rate.")
        if np.isclose(got, _steepest_central(lrs, smoothed), rtol=1e-9, atol=0.0):
            return   # the slope at the lowest point taken from both sides: as good
        expect_close(got, _steepest(lrs, smoothed), what=what, rtol=1e-9, atol=0.0,
                     mistakes=_wrong_steepests(lrs, smoothed),
                     hint="Re-read exercise 06.2's text: which part of the sweep, which slope, per unit of what, "
                          "and which extreme of it.")


# --------------------------------------------------------------------------------------- 06.3 predict the rise

def first_rise(lam: float, lrs) -> float:
    """The first lr of the sweep above 2/lam: where a full-batch range test on f(w) = lam w^2 / 2 first sees
    its loss go up (one step multiplies the loss by (1 - lr lam)^2)."""
    lrs = np.asarray(lrs, dtype=float)
    return float(lrs[lrs > 2.0 / lam][0])


def _wrong_rises(lam: float, lrs) -> dict:
    lrs = np.asarray(lrs, dtype=float)
    wall = 2.0 / lam
    below = lrs[lrs < wall]
    return {
        "that is the wall itself, which the sweep does not step on: the test only runs the learning rates of "
        "its sweep.": wall,
        "that is where the factor 1 - lr·λ changes sign (the step starts to overshoot), but overshooting is not "
        "yet growing: the loss is multiplied by the square of the factor.": lrs[lrs > 1.0 / lam][0],
        "that is the last learning rate at which the loss still falls: the question is the first at which it "
        "rises.": below[-1] if below.size else np.nan,
    }


def _sweep_avoiding(rng, wall: float) -> np.ndarray:
    """A sweep that brackets ``wall`` well inside, with no point within 0.1 % of it."""
    while True:
        mode = "exp" if rng.random() < 0.6 else "linear"
        if mode == "exp":
            lrs = lr_finder.sweep_lrs(wall / 10 ** rng.uniform(1.5, 4), wall * 10 ** rng.uniform(0.5, 2),
                                      int(rng.integers(40, 241)))
        else:
            lrs = lr_finder.sweep_lrs(wall * rng.uniform(0.01, 0.3), wall * rng.uniform(1.5, 4),
                                      int(rng.integers(20, 121)), mode="linear")
        if np.min(np.abs(lrs / wall - 1)) > 1e-3:
            return lrs


class FirstRiseLr(Check):
    id, name, points, kind = "06.3", "first_rise_lr", 1, "predict"
    hints = (
        "One direction, full batch: each step multiplies w by the same factor, 1 - lr·λ (lesson 02). By what "
        "does it multiply the loss ½·λ·w²?",
        "The loss goes up when that factor, squared, is larger than 1. For positive learning rates, that "
        "happens above one value of lr: lesson 02's limit.",
        "The test only runs the learning rates in lrs, one per step: return the first of them that is above that "
        "limit (a value of lrs, not the limit itself). Boolean indexing, lrs[lrs > x], keeps the entries above x.",
    )

    def cases(self, variant):
        if not variant.hidden:
            sets = [(10.0, lr_finder.sweep_lrs(1e-3, 10.0, 200)), (2.5, lr_finder.sweep_lrs(1e-2, 10.0, 50)),
                    (0.3, lr_finder.sweep_lrs(0.5, 20.0, 40, mode="linear"))]
        else:
            rng = variant.rng(self.id, "bowls")
            sets = []
            for _ in range(4):
                lam = float(np.exp(rng.uniform(np.log(0.05), np.log(500.0))))
                sets.append((lam, _sweep_avoiding(rng, 2.0 / lam)))
        return [{"lam": round(float(lam), 6), "lrs": lrs.tolist()} for lam, lrs in sets]

    def respond(self, first_rise_lr, case):
        lrs = np.array(case["lrs"])
        return {"lr": first_rise_lr(case["lam"], lrs), "lrs_after": lrs}

    def judge(self, case, value):
        lam, lrs = case["lam"], np.array(case["lrs"])
        expect(isinstance(value, dict), "first_rise_lr's answer could not be read.")
        expect(_unchanged(value, "lrs_after", lrs), "first_rise_lr changed the lrs it was given; work on a copy.")
        expect(value.get("lr") is not None, "first_rise_lr returned None: return a learning rate of the sweep.")
        what = f"first_rise_lr(lam={lam:g}, {_a(_kind(lrs))} sweep of {len(lrs)} steps)"
        got = as_number(value["lr"], what)
        if got.is_integer() and 0 <= got < len(lrs) and not np.any(np.isclose(got, lrs, rtol=1e-9)):
            expect(False, f"{what} returned {got:g}, which looks like an index: return lrs[index], the learning "
                          "rate.")
        expect_close(got, first_rise(lam, lrs), what=what, rtol=1e-9, atol=0.0, mistakes=_wrong_rises(lam, lrs),
                     hint="Work out by what factor one step multiplies the loss along one direction, when that "
                          "factor is above 1, and which learning rate of the sweep is the first where it is "
                          "(hints: checks.hint('06.3')).")


smooth_losses = register(SmoothLosses())
steepest_lr = register(SteepestLr())
first_rise_lr = register(FirstRiseLr())
