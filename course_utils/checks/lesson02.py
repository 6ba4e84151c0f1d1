"""Checks for lesson 02, stability and the best learning rate.

Both exercises read a learning rate off a symmetric positive-definite matrix ``A``. The inputs are
matrices with random axes (never diagonal, so their diagonal is not their eigenvalues); the
expected learning rate comes from the eigenvalues, computed where the grade is decided.
"""
from __future__ import annotations

import numpy as np

from ..surfaces import Quadratic, make_bowl
from ._core import Check, Variant, as_array, expect, expect_close, register


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

    kind = "implement"
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
               "step, and stability needs every one of them to shrink its coordinate.")
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
    general = ("Re-read the points on speed and on the best fixed learning rate in 'One direction at a time' in "
               "lesson 02: the slowest direction decides, and only two of A's eigenvalues matter.")
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


max_stable_lr = register(MaxStableLr())
best_lr = register(BestLr())
