"""Checks for lesson 02, stability and the best learning rate: three predictions the lesson then measures.

02.1 and 02.2 read a learning rate off a symmetric positive-definite matrix ``A``. The inputs are
matrices with random axes (never diagonal, so their diagonal is not their eigenvalues); the
expected learning rate comes from the eigenvalues, computed where the grade is decided. 02.3
predicts the steps the best learning rate needs from the condition number alone.
"""
from __future__ import annotations

import math

import numpy as np

from ..surfaces import Quadratic, make_bowl
from ._core import Check, Variant, as_array, as_number, expect, expect_close, register


def _random_spd(rng: np.random.Generator, dim: int, kappa: float, scale: float | None = None) -> np.ndarray:
    """A symmetric positive-definite dim×dim matrix with random axes and condition number ``kappa``."""
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    lambdas = np.geomspace(1.0, kappa, dim) * (rng.uniform(0.5, 3.0) if scale is None else scale)
    A = q @ np.diag(lambdas) @ q.T
    return 0.5 * (A + A.T)


def matrices(variant: Variant, exercise_id: str) -> list[np.ndarray]:
    """The matrices a lesson-02 check uses: the lesson's bowl and two others when visible; four drawn
    from the secret (2 to 6 dimensions, condition numbers 1.5 to 80, scales 0.05 to 50) when hidden."""
    if not variant.hidden:
        return [make_bowl((1.0, 10.0), angle_deg=30.0).A, _random_spd(np.random.default_rng(1), 2, 4.0),
                _random_spd(np.random.default_rng(2), 3, 25.0)]
    rng = variant.rng(exercise_id, "matrices")
    dims = [2, *rng.integers(2, 7, size=3)]
    return [_random_spd(rng, int(d), float(np.exp(rng.uniform(np.log(1.5), np.log(80.0)))),
                        scale=float(np.exp(rng.uniform(np.log(0.05), np.log(50.0))))) for d in dims]


class LrOfMatrix(Check):
    """A learning rate read off a matrix: ``answer(A)`` for each matrix, judged against the eigenvalues."""

    kind = "predict"
    general = ""   # what to re-read when the answer is wrong in no known way

    def expected(self, lambdas: np.ndarray) -> float:
        raise NotImplementedError

    def mistakes(self, A: np.ndarray, lambdas: np.ndarray) -> dict:
        """message -> what that mistake gives for ``A``."""
        raise NotImplementedError

    def cases(self, variant):
        return [{"A": A.tolist()} for A in matrices(variant, self.id)]

    def arguments(self, case) -> tuple:
        """The answer's arguments after ``A`` (none here; lesson 04's heavy-ball wall adds the momentum)."""
        return ()

    def respond(self, answer, case):
        A = np.array(case["A"])
        lr = answer(A, *self.arguments(case))
        return {"lr": lr, "A_after": A}

    def judge(self, case, value):
        A = np.array(case["A"])
        what = f"{self.name}(A) for a {A.shape[0]}×{A.shape[0]} A"
        expect(isinstance(value, dict), f"{self.name}'s answer could not be read.")
        after = as_array(value.get("A_after"), "A after the call")
        expect(after.shape == A.shape and np.array_equal(after, A),
               f"{self.name} changed A in place; leave the caller's matrix as it was (work on a copy).")
        got = as_array(value.get("lr"), what)
        expect(got.size == 1, f"{what} should return one number (a learning rate), got an array of shape "
                              f"{got.shape}.")
        lambdas = Quadratic(A).eigenvalues
        expect_close(got.reshape(()), self.expected(lambdas, *self.arguments(case)), what=what, hint=self.general,
                     rtol=1e-6, mistakes=self.mistakes(A, lambdas, *self.arguments(case)))


_DIAGONAL = ("that uses the diagonal of A, which holds its eigenvalues only when A is diagonal; these matrices are "
             "rotated. 'One direction at a time' in lesson 02 works in the eigenvectors of A.")


class MaxStableLr(LrOfMatrix):
    id, name, points = "02.1", "max_stable_lr", 1
    general = ("Re-read 'One direction at a time' in lesson 02: each eigen-direction of A has its own factor per "
               "step, and a run converges from every start only if every one of them shrinks its coordinate.")
    hints = (
        "Work in the eigenvectors of A: along each one, a step of gradient descent multiplies the distance to "
        "the minimum by its own factor, which depends on the learning rate and that direction's eigenvalue.",
        "A direction is stable while the size of its factor stays below 1: the factor may be negative (the "
        "step overshoots to the other side) and still shrink. Which eigenvalue makes its factor reach size 1 "
        "first as the learning rate grows?",
        "np.linalg.eigvalsh(A) gives the eigenvalues of a symmetric matrix (the diagonal does not, unless A is "
        "diagonal). Solve 'factor size < 1' for the learning rate, for the eigenvalue that binds first.",
    )

    def expected(self, lambdas):
        return 2.0 / lambdas[-1]

    def mistakes(self, A, lambdas):
        diagonal = np.diag(A)
        return {
            _DIAGONAL: 2.0 / diagonal.max(),
            "that learning rate takes the steepest direction to the minimum in one step; the edge of stability "
            "lies further out, where that direction's factor reaches size 1 (overshooting, it still shrinks).":
                1.0 / lambdas[-1],
            "the flattest direction is not the one that breaks first: the steepest one does.": 2.0 / lambdas[0],
        }


class BestLr(LrOfMatrix):
    id, name, points = "02.2", "best_lr", 1
    general = ("Re-read exercise 02.2's text in lesson 02: the worst factor (the convergence rate) decides the "
               "speed, and only two of A's eigenvalues can give the worst factor.")
    hints = (
        "The worst direction decides the speed: after each step the distance along the slowest-shrinking "
        "eigen-direction is what is left. Which two directions can be the worst?",
        "Raising the learning rate speeds up the flattest direction but, beyond some point, makes the steepest "
        "one overshoot more and more. The best learning rate is where neither can be improved without making "
        "the other worse.",
        "Set the sizes of the two extreme factors (flattest and steepest eigenvalue, from np.linalg.eigvalsh) "
        "equal, one of them positive and the other negative, and solve for the learning rate.",
    )

    def expected(self, lambdas):
        return 2.0 / (lambdas[0] + lambdas[-1])

    def mistakes(self, A, lambdas):
        diagonal = np.diag(A)
        return {
            _DIAGONAL: 2.0 / (diagonal.min() + diagonal.max()),
            "that is the edge of stability (exercise 02.1): there the steepest direction no longer shrinks at all. "
            "The best learning rate balances the flattest and the steepest directions.": 2.0 / lambdas[-1],
            "that learning rate is right for the steepest direction alone (it lands there in one step) and leaves "
            "the flattest direction slow. The best one balances the two extremes.": 1.0 / lambdas[-1],
        }


class StepsAtBest(Check):
    id, name, points, kind = "02.3", "steps_at_best", 1, "predict"
    hints = (
        "At the best learning rate both directions shrink by the same size of factor per step: the rate printed "
        "after exercise 02.2. By what is each direction's part of the loss multiplied per step, and so the whole loss?",
        "After k steps the loss is its start times that loss factor to the power k, whatever the start. Find the "
        "smallest whole k for which this is at most tol times the start (logarithms turn the power into a product).",
        "Both logarithms are of numbers below 1, so both are negative: dividing one by the other gives a positive "
        "number of steps. math.ceil rounds up to the next whole step.",
    )

    def cases(self, variant):
        if not variant.hidden:
            rows = [(10.0, 1e-10), (2.0, 1e-6), (100.0, 1e-8), (30.0, 1e-3), (4.5, 0.05), (1.5, 1e-12)]
        else:
            rng = variant.rng(self.id, "cases")
            rows = []
            while len(rows) < 6:
                low = math.log(1.5 if rows else 1.2)
                kappa = math.exp(rng.uniform(low, math.log(2.5 if not rows else 500.0)))
                tol = 10 ** rng.uniform(-12.0, -1.3)
                exact = _exact_steps(kappa, tol)
                if abs(exact - round(exact)) < 1e-6:    # next to a whole number, where rounding is fragile
                    continue
                if not rows and math.ceil(exact) == math.ceil(kappa * math.log(1 / tol) / 4):
                    continue                             # one case where the large-κ approximation is off
                rows.append((kappa, tol))
        return [{"kappa": float(k), "tol": float(t)} for k, t in rows]

    def respond(self, steps_at_best, case):
        return steps_at_best(case["kappa"], case["tol"])

    def judge(self, case, value):
        kappa, tol = case["kappa"], case["tol"]
        what = f"steps_at_best(kappa={kappa:.4g}, tol={tol:.3g})"
        got = as_number(value, what)
        expect(math.isfinite(got) and got == round(got),
               f"{what} should be a whole number of steps (the first step at which the loss is at most tol times "
               "its start).")
        rate = (kappa - 1) / (kappa + 1)
        want = math.ceil(_exact_steps(kappa, tol))
        expect_close(got, want, what=what, rtol=0, atol=0.5,
                     hint="Re-read what the rate (κ-1)/(κ+1) measures, and how the loss depends on the coordinates.",
                     mistakes={
                         "that is when the distance to the minimum reaches tol of its start; the loss is quadratic "
                         "in the distance.": math.ceil(math.log(tol) / math.log(rate)),
                         "after that many steps the loss is still just above tol times its start: count the first "
                         "step at which it is at or below.": want - 1,
                         "that uses an approximation of the rate's logarithm that holds for large κ only; the "
                         "question asks for the exact count.": math.ceil(kappa * math.log(1 / tol) / 4),
                         "that rate is not the one at the best learning rate: there the gentle and the steep "
                         "direction shrink equally fast.": math.ceil(math.log(tol) / (2 * math.log(1 - 1 / kappa))),
                     })


def _exact_steps(kappa: float, tol: float) -> float:
    """The real k at which ((κ-1)/(κ+1))^(2k) = tol: the loss factor per step at the best lr is the rate squared."""
    return math.log(tol) / (2 * math.log((kappa - 1) / (kappa + 1)))


max_stable_lr = register(MaxStableLr())
best_lr = register(BestLr())
steps_at_best = register(StepsAtBest())
