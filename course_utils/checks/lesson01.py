"""Checks for lesson 01, gradient descent on a bowl."""
from __future__ import annotations

import numpy as np

from ..surfaces import make_bowl
from ._core import Check, Variant, as_array, expect, expect_close, register


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


gd_step = register(GdStep())
run_gd = register(RunGd())
