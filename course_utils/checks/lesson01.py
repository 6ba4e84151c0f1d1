"""Checks for lesson 01, gradient descent on a bowl: one step, a run, the loss factor per step
(predicted), and which learning rate a run had (diagnosed from its path and loss)."""
from __future__ import annotations

import math

import numpy as np

from ..surfaces import make_bowl
from ._core import Check, Variant, as_array, as_number, expect, expect_close, register


def _bowl_matrix(variant: Variant, exercise_id: str) -> np.ndarray:
    """The visible bowl of the lesson, or one drawn for a hidden variant."""
    if not variant.hidden:
        return make_bowl((1.0, 10.0), angle_deg=30.0).A
    rng = variant.rng(exercise_id, "bowl")
    return make_bowl((rng.uniform(0.5, 2.0), rng.uniform(5.0, 12.0)), angle_deg=rng.uniform(-80, 80)).A


class GdStep(Check):
    id, name, points, kind = "01.1", "gd_step", 1, "implement"
    hints = (
        "The gradient points uphill; a step of gradient descent goes the other way.",
        "The learning rate scales how far the step goes: twice the lr, twice the step.",
        "Build a new array from w, grad and lr in one expression; `w -= ...` would change the caller's array.",
    )

    def cases(self, variant):
        A = _bowl_matrix(variant, self.id)
        if variant.hidden:
            rng = variant.rng(self.id, "cases")
            starts = rng.uniform(-2.5, 2.5, size=(2, 2))
            lrs = rng.uniform(0.005, 0.3, size=3)
        else:
            starts, lrs = np.array([[1.0, 1.0], [0.3, -2.0]]), (0.01, 0.15, 0.3)
        return [{"w": list(map(float, w)), "grad": (A @ w).tolist(), "lr": float(lr)} for w in starts for lr in lrs]

    def respond(self, gd_step, case):
        w, grad = np.array(case["w"]), np.array(case["grad"])
        step = gd_step(w, grad, case["lr"])
        return {"step": step, "w_after": w}

    def judge(self, case, value):
        w, grad, lr = np.array(case["w"]), np.array(case["grad"]), case["lr"]
        what = f"gd_step(w, grad, lr={lr:.3g})"
        expect(isinstance(value, dict), "gd_step's answer could not be read.")
        expect(np.array_equal(as_array(value.get("w_after"), "w after the call"), w),
               "gd_step changed w in place: return a new array and leave the caller's w as it was.")
        step = as_array(value.get("step"), what)
        if step.shape == w.shape and np.allclose(step, w + lr * grad, rtol=1e-6):
            expect(False, f"{what} moves uphill: a step of gradient descent goes against the gradient.")
        if step.shape == w.shape and np.allclose(step, w - grad, rtol=1e-6):
            expect(False, f"{what} does not depend on the learning rate: lr sets how long the step is.")
        expect_close(step, w - lr * grad, what=what,
                     hint="Re-read the update rule at the top of the lesson: the new point from the old one, "
                          "the gradient there and the learning rate.")


class RunGd(Check):
    id, name, points, kind = "01.2", "run_gd", 2, "implement"
    hints = (
        "Keep a list of points: it starts with w0, and each step appends one new point.",
        "Each new point is gd_step applied to the last point, with the gradient at the last point.",
        "num_steps steps give num_steps + 1 points (the start counts); np.array(points) stacks them into rows.",
    )

    def cases(self, variant):
        A = _bowl_matrix(variant, self.id)
        if variant.hidden:
            rng = variant.rng(self.id, "cases")
            w0 = rng.uniform(-2.5, 2.5, size=2)
            lam = np.linalg.eigvalsh(A)[-1]
            runs = [(f * 2 / lam, int(n)) for f, n in zip(rng.uniform([0.1, 0.8, 1.02], [0.5, 0.98, 1.2]),
                                                          rng.integers(4, 15, size=3))]
        else:
            w0, runs = np.array([2.0, 1.0]), [(0.05, 7), (0.18, 12), (0.21, 5)]
        return [{"A": A.tolist(), "w0": w0.tolist(), "lr": float(lr), "num_steps": n} for lr, n in runs]

    def respond(self, run_gd, case):
        A = np.array(case["A"])
        return run_gd(lambda w: A @ w, np.array(case["w0"]), case["lr"], case["num_steps"])

    def judge(self, case, value):
        A, lr, n = np.array(case["A"]), case["lr"], case["num_steps"]
        want = [np.array(case["w0"])]
        for _ in range(n):
            want.append(want[-1] - lr * A @ want[-1])
        want = np.array(want)
        what = f"run_gd(grad, w0, lr={lr:.3g}, num_steps={n})"
        got = as_array(value, what)
        if got.shape == (n, 2) and np.allclose(got, want[1:], rtol=1e-6):
            expect(False, f"{what} leaves out the start: row 0 should be w0 itself, then one row per step.")
        expect(got.shape == (n + 1, 2),
               f"{what} returned shape {got.shape}: it should hold the start plus one row per step, two "
               "coordinates each.")
        expect(np.allclose(got[0], want[0]), f"{what}: row 0 should be the start w0.")
        expect_close(got, want, what=what,
                     hint="Each row should be one step of gradient descent from the row before it, with the "
                          "gradient taken at that row.")


class LossFactor(Check):
    id, name, points, kind = "01.3", "loss_factor", 1, "predict"
    hints = (
        "Start from one direction: along an axis of curvature λ one step multiplies the coordinate by 1 - lr·λ. "
        "The loss along that axis is ½·λ·(coordinate)²: by what is it multiplied per step?",
        "Each direction's part of the loss shrinks by its own factor. After many steps, which direction's part is "
        "still there, and so sets how fast the whole loss falls?",
        "A factor can be negative (the step overshoots the valley floor): squaring makes its sign irrelevant. The "
        "answer is one number per (lr, lambdas), the factor of the direction whose part of the loss shrinks slowest.",
    )

    def cases(self, variant):
        if not variant.hidden:
            sets = [((1.0, 10.0), (0.01, 0.14, 0.19, 0.22)), ((0.5, 3.0), (0.1, 0.6, 0.7)),
                    ((2.0, 5.0, 8.0), (0.05, 0.2, 0.3))]
        else:
            rng = variant.rng(self.id, "cases")
            sets = []
            for size in (2, 3, 4):
                top = math.exp(rng.uniform(math.log(0.2), math.log(20.0)))
                kappa = math.exp(rng.uniform(math.log(2.0), math.log(50.0)))
                lambdas = np.sort(np.r_[top / kappa, top, rng.uniform(top / kappa, top, size - 2)])
                limit, best = 2 / top, 2 / (top + top / kappa)
                fractions = [rng.uniform(0.02, 0.4) * best / limit,   # the gentle direction is the slowest
                             rng.uniform(best / limit + 0.3 * (1 - best / limit), 0.99),   # the steep one is
                             rng.uniform(1.02, 1.3),                  # the steep one grows
                             rng.uniform(0.05, 1.2)]
                sets.append((tuple(float(v) for v in lambdas), tuple(float(f * limit) for f in fractions)))
        return [{"lr": float(lr), "lambdas": list(lambdas)} for lambdas, lrs in sets for lr in lrs]

    def respond(self, loss_factor, case):
        lambdas = np.array(case["lambdas"])
        return {"factor": loss_factor(case["lr"], lambdas), "lambdas_after": lambdas}

    def judge(self, case, value):
        lr, lambdas = case["lr"], np.array(case["lambdas"])
        what = f"loss_factor(lr={lr:.3g}, lambdas of {len(lambdas)} curvatures)"
        expect(isinstance(value, dict), "loss_factor's answer could not be read.")
        expect(np.array_equal(as_array(value.get("lambdas_after"), "lambdas after the call"), lambdas),
               "loss_factor changed lambdas in place: leave the caller's array as it was.")
        got = as_number(value.get("factor"), what)
        factors = 1 - lr * lambdas
        expect_close(got, np.max(factors**2), what=what, rtol=1e-9,
                     hint="Re-read 'Why: one factor per direction': each direction's part of the loss has its own "
                          "factor per step, and one of them is what is left late in a run.",
                     mistakes={
                         "that is the factor of a coordinate; the loss is quadratic in the coordinates.":
                             np.max(np.abs(factors)),
                         "a negative factor shrinks the coordinate too (it only flips its sign): its size is what "
                         "counts, not its sign.": np.max(factors),
                         "that is the gentlest direction alone; what is left late in a run is the direction whose "
                         "part of the loss shrinks slowest, and that need not be the gentlest.": factors[0]**2,
                         "that is the steepest direction alone; what is left late in a run is the direction whose "
                         "part of the loss shrinks slowest, and that need not be the steepest.": factors[-1]**2,
                         "the fastest-shrinking direction is gone after a few steps: late in a run the slowest one "
                         "is what is left.": np.min(factors**2),
                         "late in a run the directions do not share the loss evenly: one of them is all that is "
                         "left.": np.mean(factors**2),
                     })


DIAGNOSES = ("small", "moderate", "large", "too large")
# The learning rate of each kind of run, as a fraction of the bowl's limit 2/λ_max (lesson 01's four runs
# are 0.05, 0.7, 0.95 and 1.1 of it); the bands leave wide gaps, so each kind looks like itself.
_BANDS = {"small": (0.02, 0.06), "moderate": (0.55, 0.8), "large": (0.94, 0.985), "too large": (1.04, 1.2)}


# Two runs in every set whose loss curves cross over: a large run at the fast end of its band on a rounder
# bowl loses loss faster per step (about 0.77 a step late on) than a moderate run at the slow end of its band
# on a flatter one (about 0.83), so no rule that reads the loss alone can sort both right.
_OVERLAP = (("large", (0.94, 0.945), (8.0, 8.5)), ("moderate", (0.55, 0.56), (11.5, 12.0)))


def _mystery_run(rng: np.random.Generator, kind: str, band=None, kappas=(8.0, 12.0)) -> dict:
    """One run of GD on a bowl drawn from ``rng`` (κ in ``kappas``, any tilt and scale) with an lr of ``kind``
    (a fraction of 2/λ_max drawn from ``band``, default the kind's own band)."""
    top = math.exp(rng.uniform(math.log(0.5), math.log(20.0)))
    bowl = make_bowl((top / math.exp(rng.uniform(*np.log(kappas))), top),
                     angle_deg=rng.uniform(0.0, 180.0))
    lambdas, axes = np.linalg.eigh(bowl.A)
    angle = math.radians(rng.uniform(25.0, 65.0)) * rng.choice([-1, 1])   # from the gentle axis: both matter
    w = axes @ np.array([math.cos(angle), math.sin(angle)]) * rng.choice([-1, 1])
    w *= math.sqrt(math.exp(rng.uniform(0.0, math.log(50.0))) / bowl.value(w))   # a starting loss of 1 to 50
    lr = rng.uniform(*(band or _BANDS[kind])) * 2 / lambdas[-1]
    points = [w]
    for _ in range(int(rng.integers(40, 61))):
        points.append(points[-1] - lr * bowl.A @ points[-1])
    points = np.array(points)
    return {"points": points.tolist(), "losses": bowl.value(points).tolist()}


def _kind_of(points: np.ndarray) -> str:
    """What kind of run ``points`` is, read off the run itself: one GD step is the linear map M = I - lr A, so
    M is fitted from the first steps and lr λ_max = 1 - (its smallest eigenvalue) places the lr against the limit."""
    before, after = points[:12][:-1], points[:12][1:]
    M = np.linalg.lstsq(before, after, rcond=None)[0].T
    fraction = (1 - np.linalg.eigvalsh(0.5 * (M + M.T))[0]) / 2     # lr / (2 / λ_max)
    return "small" if fraction < 0.3 else "moderate" if fraction < 0.9 else "large" if fraction < 1 else "too large"


class DiagnoseRun(Check):
    id, name, points, kind = "01.4", "diagnose_run", 2, "diagnose"
    hints = (
        "Start with what the loss alone tells: does it end above where it started? How much does it fall per "
        "step late in the run (the factor per step this lesson measured)?",
        "Two kinds fall slowly, for opposite reasons: one crawls along the gentle axis, the other crosses the valley "
        "on every step. Their loss curves look alike; their paths do not.",
        "In a zigzag each step points roughly opposite to the one before: with steps = np.diff(points, axis=0), "
        "the dot product of two consecutive steps is negative. Look at the last few steps, when only the slowest "
        "direction is left.",
        "In these runs, late in the run, a moderate learning rate's loss falls by 15 % or more per step, and a small "
        "one's by less than 10 %.",
    )

    def cases(self, variant):
        rng = variant.rng(self.id, "runs")
        kinds = [*rng.permutation(DIAGNOSES), *rng.permutation(DIAGNOSES)]
        runs = [_mystery_run(rng, str(kind)) for kind in kinds]
        runs += [_mystery_run(rng, kind, band, kappas) for kind, band, kappas in _OVERLAP]
        return [{"run": chr(ord("A") + i), **run} for i, run in enumerate(runs)]

    def runs(self, count: int = 4) -> dict:
        """The first ``count`` runs the notebook's check uses, by letter: ``{"A": (points, losses), ...}``."""
        return {c["run"]: (np.array(c["points"]), np.array(c["losses"])) for c in self.cases(Variant())[:count]}

    def respond(self, diagnose_run, case):
        return diagnose_run(np.array(case["points"]), np.array(case["losses"]))

    def judge(self, case, value):
        points = np.array(case["points"])
        run = f"run {case['run']}"
        expect(isinstance(value, str) and value in DIAGNOSES,
               f"diagnose_run should return one of {', '.join(repr(d) for d in DIAGNOSES)} (as text), got {value!r}.")
        truth = _kind_of(points)
        if value == truth:
            return
        losses = np.array(case["losses"])
        grows = losses[-1] > losses[0]
        said = f"{run} is not {value!r}"
        if value == "too large":
            expect(False, f"{said}: a too-large learning rate makes the loss grow; look at its loss at the end.")
        if grows:
            expect(False, f"{said}: look at its loss at the end against its start.")
        if value == "large":
            expect(False, f"{said}: with a large learning rate each step crosses the valley floor, reversing the "
                          "step before it, to the end of the run; look at the direction of its last steps.")
        if value == "moderate" and truth == "large":
            expect(False, f"{said}: its loss may fall about as fast as a moderate run's, but look at the direction of "
                          "its last steps.")
        if value == "moderate" and truth == "small":
            expect(False, f"{said}: compare how much its loss falls per step late in the run with the moderate "
                          "run of this lesson.")
        if value == "small" and truth == "large":
            expect(False, f"{said}: it falls slowly, but a small learning rate never makes a step reverse the one "
                          "before; look at the direction of consecutive steps.")
        expect(False, f"{said}: compare how much its loss falls per step late in the run, and whether its last "
                      "steps reverse each other.")


gd_step = register(GdStep())
run_gd = register(RunGd())
loss_factor = register(LossFactor())
diagnose_run = register(DiagnoseRun())
