"""Checks for lesson 04, momentum and adaptive learning rates.

04.2 is a prediction: the largest stable learning rate of heavy-ball momentum on a bowl, read off the
bowl's matrix and the momentum coefficient (judged against the eigenvalues, computed where the grade
is decided). :func:`yours_or_ours` lets the lesson run a learner's optimizer once its check passes.

04.1 and 04.3 write an optimizer's ``update`` (a subclass of
:class:`course_utils.optimizers.CourseOptimizer`). The learner's process runs the class for 200
steps on a quadratic and on a minibatch network (:func:`optimizers.trajectory`, with the learning
rate lowered by a scheduler on the way) and returns the parameters at some of the steps; the
judge runs its ``torch.optim`` twin on the same problem and asks the two trajectories to agree to
1e-6 (relative to how far the parameters moved). When they do not, it runs the usual mistakes the
same way and names the one the answer behaves like.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import optimizers
from ..optimizers import CourseOptimizer
from ._core import Check, CheckFailed, as_array, expect, register
from .lesson02 import LrOfMatrix, matrices

RTOL = 1e-6       # largest relative gap allowed between the answer's and torch's trajectories
NUM_STEPS = 200   # steps per case
ROWS = list(range(11)) + list(range(20, NUM_STEPS + 1, 10))   # the steps whose parameters are compared


def _describe(case: dict) -> str:
    settings = ", ".join(f"{k}={_short(case[k])}" for k in ("lr", "momentum", "betas", "eps") if k in case)
    change = (f", the learning rate multiplied by {_short(case['gamma'])} at steps {list(case['lr_milestones'])}"
              if case["lr_milestones"] else "")
    return f"on the {case['problem']} problem with {settings}{change}"


def _short(value):
    return [_short(v) for v in value] if isinstance(value, (list, tuple)) else float(f"{value:.4g}")


def _hyperparameters(case: dict) -> dict:
    out = {k: case[k] for k in ("lr", "momentum", "eps") if k in case}
    if "betas" in case:
        out["betas"] = tuple(case["betas"])
    return out


def _trajectory(optimizer, case: dict) -> torch.Tensor:
    """The parameters after each step in ``ROWS`` of ``optimizer`` (a class) run on ``case``."""
    path = optimizers.trajectory(optimizer, case["problem"], NUM_STEPS, seed=case["seed"],
                                 lr_milestones=tuple(case["lr_milestones"]), gamma=case["gamma"],
                                 **_hyperparameters(case))
    return path[ROWS]


def _drawn_run(rng: np.random.Generator, problem: str, **hyperparameters) -> dict:
    """A hidden run: a problem's seed, one or two drops of the learning rate by a factor 0.1 to 0.7."""
    milestones = rng.choice(np.arange(30, NUM_STEPS - 10), size=int(rng.integers(1, 3)), replace=False)
    return dict(problem=problem, seed=int(rng.integers(2 ** 31)), **hyperparameters,
                lr_milestones=sorted(int(m) for m in milestones), gamma=round(float(rng.uniform(0.1, 0.7)), 3))


class _OptimizerCheck(Check):
    """An optimizer class judged by its trajectory beside ``reference``'s; subclasses name the mistakes."""

    kind = "implement"
    reference: type = torch.optim.Optimizer
    what = ""
    general = ""        # the message when the answer matches no known mistake
    not_finite = ""     # the message when the parameters stop being finite numbers

    mistakes: dict = {}  # message -> an optimizer class that makes that mistake

    def respond(self, answer, case):
        if not (isinstance(answer, type) and issubclass(answer, torch.optim.Optimizer)):
            raise CheckFailed("pass the class itself (not an instance), a subclass of optimizers.CourseOptimizer; "
                              f"got {type(answer).__name__}.")
        return _trajectory(answer, case)

    def judge(self, case, value):
        theirs = _trajectory(self.reference, case)
        ours = as_array(value, f"the trajectory of your {self.what}")
        expect(ours.shape == tuple(theirs.shape), "the trajectory has the wrong shape: the optimizer must update "
                                                  "every parameter it is given, in place.")
        ours = torch.as_tensor(ours, dtype=theirs.dtype)
        gaps = optimizers.relative_gaps(ours, theirs)
        if float(gaps.max()) <= RTOL:
            return
        bad = int(torch.nonzero(gaps > RTOL)[0, 0]) + 1
        where = f"{self.what} {_describe(case)}: after step {ROWS[bad]} your parameters differ from torch.optim's."
        if torch.allclose(ours[1] - ours[0], theirs[0] - theirs[1], rtol=1e-6, atol=0):
            expect(False, f"{where} Your first step goes uphill, the opposite way: the step is subtracted from p.")
        for message, mistake in self.mistakes.items():
            if float(optimizers.relative_gaps(ours, _trajectory(mistake, case)).max()) <= RTOL:
                expect(False, f"{where} It behaves as if {message}")
        finite = torch.isfinite(ours).all(dim=1)
        if not bool(finite.all()):
            expect(False, f"{self.what} {_describe(case)}: after step {ROWS[int(torch.nonzero(~finite)[0, 0])]} your "
                          f"parameters are no longer finite numbers. {self.not_finite}")
        expect(False, f"{where} {self.general}")


# ---------------------------------------------------------------------------- heavy-ball momentum and its mistakes

class _NoMomentum(CourseOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def update(self, p, grad, state, group):
        p.sub_(group["lr"] * grad)


class _Momentum(_NoMomentum):
    """Heavy ball with the momentum coefficient ``momentum(group)``."""

    def momentum(self, group):
        return group["momentum"]

    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(self.momentum(group)).add_(grad)
        p.sub_(self.lr(state, group) * buf)

    def lr(self, state, group):
        return group["lr"]


class _LrInsideBuffer(_NoMomentum):
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(group["lr"] * grad)
        p.sub_(buf)


class _AveragedBuffer(_NoMomentum):
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_((1 - group["momentum"]) * grad)
        p.sub_(group["lr"] * buf)


class _LrReadOnce(_Momentum):
    def lr(self, state, group):
        return state.setdefault("first_lr", group["lr"])


class _MomentumHardCoded(_Momentum):
    def momentum(self, group):
        return 0.9


class MomentumSgd(_OptimizerCheck):
    id, name, points, answer = "04.1", "momentum_sgd", 2, "MomentumSGD"
    reference = torch.optim.SGD
    what = "heavy-ball momentum"
    general = ("Re-read 'Heavy-ball momentum' in lesson 04: what the buffer holds, what happens to it on the "
               "first step and on every later one, and where the learning rate comes in.")
    not_finite = "The steps grew without bound: compare how your buffer grows with the lesson's description."
    hints = (
        "The buffer is the optimizer's memory: it must survive from one step to the next, so keep it in "
        "state (self.state[p], which update receives), under state['momentum_buffer'].",
        "The buffer collects plain gradients (each older one weighed down by momentum once per step); the "
        "learning rate is applied when the buffer is used to move p, not when a gradient enters the buffer.",
        "On the first step the buffer is a copy of the gradient (grad.clone()). On later steps, decay the "
        "buffer by momentum and add the new gradient; then move p against the buffer, scaled by the current "
        "group['lr']. Read lr and momentum from group every step.",
    )

    def cases(self, variant):
        if not variant.hidden:
            return [dict(problem="quadratic", seed=1, lr=0.02, momentum=0.9, lr_milestones=[100], gamma=0.5),
                    dict(problem="mlp", seed=2, lr=0.05, momentum=0.9, lr_milestones=[120], gamma=0.2)]
        rng = variant.rng(self.id, "runs")
        out = []
        for problem in ("quadratic", "mlp", "mlp"):
            momentum = float(rng.uniform(0.5, 0.97))
            lr = float(rng.uniform(0.005, 0.4) * (1 - momentum))   # the steady-slope step lr/(1-momentum) <= 0.4
            out.append(_drawn_run(rng, problem, lr=round(lr, 5), momentum=round(momentum, 4)))
        return out

    mistakes = {
        "the buffer were not used, or not kept between steps: the steps are plain gradient descent. The "
        "buffer must live in state, which survives from one step to the next.": _NoMomentum,
        "the learning rate went into the buffer with each gradient. That gives the same steps while lr is "
        "constant, but once a scheduler lowers lr, old gradients in the buffer keep their old, larger lr. "
        "The buffer should hold plain gradients; the learning rate scales the buffer when it is used.":
            _LrInsideBuffer,
        "the buffer were an average of the gradients, as Adam's m is, each new gradient shrunk before it "
        "enters. The heavy-ball buffer is a decaying sum, which is why a steady slope makes the steps grow.":
            _AveragedBuffer,
        "the learning rate were read once, on the first step: when the scheduler lowers group['lr'] your "
        "steps do not follow. Read it from group every step.": _LrReadOnce,
        "the momentum were fixed instead of read from group['momentum']: the optimizer must use the "
        "momentum it is given.": _MomentumHardCoded,
    }


# ---------------------------------------------------------------------------- Adam and its mistakes

class _Adam(CourseOptimizer):
    """Adam written out, with one switch per usual mistake (the subclasses below)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    def betas(self, group):
        return group["betas"]

    def corrections(self, t, beta1, beta2):
        return 1 - beta1 ** t, 1 - beta2 ** t

    def denominator(self, v_hat, eps):
        return v_hat.sqrt() + eps

    def update(self, p, grad, state, group):
        beta1, beta2 = self.betas(group)
        m = state.setdefault("exp_avg", torch.zeros_like(p))
        v = state.setdefault("exp_avg_sq", torch.zeros_like(p))
        m.mul_(beta1).add_((1 - beta1) * grad)
        v.mul_(beta2).add_((1 - beta2) * grad * grad)
        c1, c2 = self.corrections(state["step"], beta1, beta2)
        p.sub_(group["lr"] * (m / c1) / self.denominator(v / c2, self.eps(group)))

    def eps(self, group):
        return group["eps"]


class _NoBiasCorrection(_Adam):
    def corrections(self, t, beta1, beta2):
        return 1.0, 1.0


class _OnlyFirstMomentCorrected(_Adam):
    def corrections(self, t, beta1, beta2):
        return 1 - beta1 ** t, 1.0


class _EpsInsideSqrt(_Adam):
    def denominator(self, v_hat, eps):
        return (v_hat + eps).sqrt()


class _SwappedBetas(_Adam):
    def betas(self, group):
        return tuple(reversed(group["betas"]))


class _BetasHardCoded(_Adam):
    def betas(self, group):
        return 0.9, 0.999


class _EpsHardCoded(_Adam):
    def eps(self, group):
        return 1e-8


class Adam(_OptimizerCheck):
    id, name, points, answer = "04.3", "adam", 2, "MyAdam"
    reference = torch.optim.Adam
    what = "Adam"
    general = ("Re-read 'Adaptive methods: a step size per coordinate' in lesson 04: the two running averages, "
               "their bias correction, and where eps goes in the step.")
    not_finite = ("Look for a division by zero: on the first step state['step'] is already 1, so the bias "
                  "correction never divides by zero when it counts steps the way CourseOptimizer does.")
    hints = (
        "Adam keeps two running averages per parameter, in state['exp_avg'] (of the gradient) and "
        "state['exp_avg_sq'] (of its square), both starting at zero and kept between steps.",
        "Because both averages start at zero, they are too small during the first steps; the bias correction "
        "undoes that, for each average with its own beta, using the step count t = state['step'] (1 on the "
        "first step).",
        "The step divides the corrected first average by the square root of the corrected second one, with eps "
        "added outside the square root, as torch.optim.Adam does; read lr, betas and eps from group every step.",
    )

    def cases(self, variant):
        if not variant.hidden:
            return [dict(problem="quadratic", seed=1, lr=0.05, betas=[0.9, 0.999], eps=1e-8, lr_milestones=[100],
                         gamma=0.5),
                    dict(problem="mlp", seed=2, lr=0.01, betas=[0.9, 0.999], eps=1e-8, lr_milestones=[120],
                         gamma=0.5),
                    dict(problem="mlp", seed=3, lr=0.01, betas=[0.9, 0.999], eps=1e-3, lr_milestones=[], gamma=0.5)]
        rng = variant.rng(self.id, "runs")
        return [_drawn_run(rng, problem, lr=round(float(np.exp(rng.uniform(math.log(2e-3), math.log(3e-2)))), 5),
                           # beta2 >= 0.95: with a shorter memory, Adam near the quadratic's minimum amplifies
                           # rounding (torch's and a right answer's trajectories part by 1e-5 in 200 steps)
                           betas=[round(float(rng.uniform(0.7, 0.95)), 4), round(float(rng.uniform(0.95, 0.9995)), 5)],
                           eps=float(f"{10 ** rng.uniform(*log_eps):.3g}"))
                for problem, log_eps in (("quadratic", (-9, -6)), ("mlp", (-9, -6)), ("mlp", (-3.5, -2)))]

    mistakes = {
        "the bias correction were missing: both averages start at zero, so during the first steps they are "
        "too small, and each needs its own correction by the step count.": _NoBiasCorrection,
        "only the first average were bias-corrected: the second one (of the squared gradient) needs its own "
        "correction, with beta2.": _OnlyFirstMomentCorrected,
        "eps were inside the square root. torch.optim.Adam adds it outside, to the square root of the "
        "corrected second average (the two differ when eps is not tiny next to it).": _EpsInsideSqrt,
        "beta1 and beta2 were swapped: beta1 belongs to the average of the gradient, beta2 to the average of "
        "its square.": _SwappedBetas,
        "the betas were fixed instead of read from group['betas']: the optimizer must use the betas it is "
        "given.": _BetasHardCoded,
        "eps were fixed instead of read from group['eps']: the optimizer must use the eps it is given.":
            _EpsHardCoded,
    }


# ---------------------------------------------------------------------------- the heavy-ball wall, predicted

class HeavyBallMaxLr(LrOfMatrix):
    id, name, points, answer = "04.2", "heavy_ball_max_lr", 1, "heavy_ball_max_lr"
    kind = "predict"
    general = ("Re-read 'Momentum on the bowl' in lesson 04: along each eigen-direction the coordinate follows a "
               "two-term recurrence, and the run is stable while both roots of its polynomial lie inside the unit "
               "circle, for every eigenvalue of A.")
    hints = (
        "Work one eigen-direction of A at a time (np.linalg.eigvalsh(A) gives the eigenvalues). As the learning "
        "rate grows, which direction's recurrence is the first to stop shrinking?",
        "For a fixed momentum, follow the roots of the direction's polynomial as the learning rate grows: they "
        "leave the unit circle through z = -1 (the steps flip sign each time and grow). Put z = -1 into the "
        "polynomial and find the learning rate at which it becomes 0.",
        "With momentum = 0 your answer must be gradient descent's wall from lesson 02; with momentum > 0 the "
        "wall lies further out. Return that learning rate for the steepest direction.",
    )

    def cases(self, variant):
        mats = matrices(variant, self.id)
        if not variant.hidden:
            betas = [0.9, 0.5, 0.0]
        else:
            rng = variant.rng(self.id, "betas")
            betas = [round(float(b), 4) for b in rng.uniform(0.05, 0.99, size=len(mats))]
        return [{"A": A.tolist(), "momentum": beta} for A, beta in zip(mats, betas)]

    def arguments(self, case):
        return (case["momentum"],)

    def expected(self, lambdas, beta):
        return (2 + 2 * beta) / lambdas[-1]

    def mistakes(self, A, lambdas, beta):
        lam_min, lam_max = float(lambdas[0]), float(lambdas[-1])
        out = {
            "the diagonal of A holds its eigenvalues only when A is diagonal; these matrices are rotated.":
                (2 + 2 * beta) / float(np.diag(A).max()),
            "the flattest direction is not the one that breaks first: the steepest one does.": (2 + 2 * beta) / lam_min,
        }
        if beta > 0:
            out.update({
                "that is plain gradient descent's wall: momentum moves it. Put z = -1 into the polynomial with "
                "the momentum term in it.": 2 / lam_max,
                "dividing by (1 - momentum) is the effective step on a steady slope, not the stability wall: the "
                "wall comes from the recurrence's roots.": 2 / ((1 - beta) * lam_max),
                "that is where the roots stop being real (the overshooting starts), not where they leave the unit "
                "circle.": (1 + math.sqrt(beta)) ** 2 / lam_max,
            })
        return out


def yours_or_ours(check: Check, answer, course):
    """``(answer, "yours")`` when ``answer`` passes ``check`` (visible variant, checked quietly here), else
    ``(course, "the course's")``: the lesson runs a learner's optimizer once it is right, its own otherwise."""
    try:
        status, _ = check.grade(answer)
    except Exception:  # noqa: BLE001 - a stub or a broken answer: the lesson goes on with its own
        status = "failed"
    return (answer, "yours") if status == "passed" else (course, "the course's")


momentum_sgd = register(MomentumSgd())
heavy_ball_max_lr = register(HeavyBallMaxLr())
adam = register(Adam())
