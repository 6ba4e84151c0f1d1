"""Checks for lesson 04, momentum and adaptive learning rates.

Both exercises write an optimizer's ``update`` (a subclass of
:class:`course_utils.optimizers.CourseOptimizer`); the check runs it beside its ``torch.optim``
twin for a few hundred steps on a quadratic and on a minibatch network, with the learning rate
lowered by a scheduler on the way, and asks the two trajectories to agree to 1e-6 (relative to
how far the parameters moved). When they do not, the check runs the usual mistakes the same way
and names the one the answer behaves like.
"""
from __future__ import annotations

import torch

from .. import optimizers
from ..optimizers import CourseOptimizer
from ._core import expect, exercise

RTOL = 1e-6       # largest relative gap allowed between the answer's and torch's trajectories
NUM_STEPS = 200   # steps per case


def _cases_momentum(hidden: bool) -> list[dict]:
    if hidden:
        return [dict(problem="quadratic", seed=7, lr=0.03, momentum=0.7, lr_milestones=(60, 140), gamma=0.3),
                dict(problem="mlp", seed=8, lr=0.02, momentum=0.95, lr_milestones=(90,), gamma=0.5)]
    return [dict(problem="quadratic", seed=1, lr=0.02, momentum=0.9, lr_milestones=(100,), gamma=0.5),
            dict(problem="mlp", seed=2, lr=0.05, momentum=0.9, lr_milestones=(120,), gamma=0.2)]


def _cases_adam(hidden: bool) -> list[dict]:
    if hidden:
        return [dict(problem="quadratic", seed=7, lr=0.03, betas=(0.8, 0.99), eps=1e-8, lr_milestones=(80,)),
                dict(problem="mlp", seed=8, lr=0.005, betas=(0.95, 0.9), eps=1e-6, lr_milestones=(50, 150)),
                dict(problem="mlp", seed=9, lr=0.02, betas=(0.7, 0.999), eps=3e-3, lr_milestones=())]
    return [dict(problem="quadratic", seed=1, lr=0.05, betas=(0.9, 0.999), eps=1e-8, lr_milestones=(100,)),
            dict(problem="mlp", seed=2, lr=0.01, betas=(0.9, 0.999), eps=1e-8, lr_milestones=(120,)),
            dict(problem="mlp", seed=3, lr=0.01, betas=(0.9, 0.999), eps=1e-3, lr_milestones=())]


def _describe(case: dict) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in case.items() if k not in ("problem", "seed", "lr_milestones", "gamma"))
    change = (f", the learning rate multiplied by {case.get('gamma', 0.5)} at steps {list(case['lr_milestones'])}"
              if case["lr_milestones"] else "")
    return f"on the {case['problem']} problem with {settings}{change}"


# ---------------------------------------------------------------------------- the usual mistakes, run to name them

class _NoMomentum(CourseOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def update(self, p, grad, state, group):
        p.sub_(group["lr"] * grad)


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


MOMENTUM_MISTAKES = {
    _NoMomentum: "the steps are plain gradient descent: the momentum buffer is not used, or not kept. Keep it in "
                 "state['momentum_buffer'] (state is self.state[p], which survives between steps), update it with "
                 "b = momentum * b + grad, and step with p -= lr * b.",
    _LrInsideBuffer: "the momentum buffer is on the wrong side of the learning rate: you add lr * grad to the buffer "
                     "and subtract the buffer. That gives the same steps as long as lr is constant, but when a "
                     "scheduler lowers lr the old gradients in the buffer keep their old, larger lr. torch's buffer "
                     "sums plain gradients, b = momentum * b + grad, and lr multiplies it when it is used: "
                     "p -= lr * b.",
    _AveragedBuffer: "the buffer averages the gradients, b = momentum * b + (1 - momentum) * grad: that shrinks every "
                     "step by (1 - momentum). torch's heavy-ball buffer sums them, b = momentum * b + grad (which is "
                     "why the step on a constant slope grows to lr * grad / (1 - momentum)).",
}
MOMENTUM_HINT = ("Heavy-ball momentum as torch.optim.SGD has it: on the first step b = grad (a copy: grad.clone()), "
                 "afterwards b = momentum * b + grad, kept in state['momentum_buffer']; then p -= lr * b, with "
                 "lr = group['lr'] and momentum = group['momentum'] read afresh every step. Usual mistakes: lr inside "
                 "the buffer, (1 - momentum) in front of grad, a buffer that is not kept between steps.")


class _NoBiasCorrection(CourseOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    def _moments(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        m = state.setdefault("exp_avg", torch.zeros_like(p))
        v = state.setdefault("exp_avg_sq", torch.zeros_like(p))
        m.mul_(beta1).add_((1 - beta1) * grad)
        v.mul_(beta2).add_((1 - beta2) * grad * grad)
        return m, v, beta1 ** state["step"], beta2 ** state["step"]

    def update(self, p, grad, state, group):
        m, v, _, _ = self._moments(p, grad, state, group)
        p.sub_(group["lr"] * m / (v.sqrt() + group["eps"]))


class _EpsInsideSqrt(_NoBiasCorrection):
    def update(self, p, grad, state, group):
        m, v, b1, b2 = self._moments(p, grad, state, group)
        p.sub_(group["lr"] * (m / (1 - b1)) / (v / (1 - b2) + group["eps"]).sqrt())


class _OnlyFirstMomentCorrected(_NoBiasCorrection):
    def update(self, p, grad, state, group):
        m, v, b1, _ = self._moments(p, grad, state, group)
        p.sub_(group["lr"] * (m / (1 - b1)) / (v.sqrt() + group["eps"]))


class _SwappedBetas(_NoBiasCorrection):
    def update(self, p, grad, state, group):
        beta1, beta2 = group["betas"]
        _Adam.update(self, p, grad, state, dict(group, betas=(beta2, beta1)))


class _Adam(_NoBiasCorrection):
    def update(self, p, grad, state, group):
        m, v, b1, b2 = self._moments(p, grad, state, group)
        p.sub_(group["lr"] * (m / (1 - b1)) / ((v / (1 - b2)).sqrt() + group["eps"]))


ADAM_MISTAKES = {
    _NoBiasCorrection: "the bias correction is missing. m and v start at zero, so early on they are too small by the "
                       "factors (1 - beta1^t) and (1 - beta2^t); divide them by those (t = state['step'], 1 on the "
                       "first step): m_hat = m / (1 - beta1 ** t), v_hat = v / (1 - beta2 ** t).",
    _OnlyFirstMomentCorrected: "only m is bias-corrected: v needs its own correction, v_hat = v / (1 - beta2 ** t).",
    _EpsInsideSqrt: "eps is inside the square root: torch.optim.Adam divides by sqrt(v_hat) + eps, not by "
                    "sqrt(v_hat + eps) (the two differ when eps is not tiny next to v_hat, as in one of the cases).",
    _SwappedBetas: "beta1 and beta2 are swapped: beta1 (0.9) averages the gradient, m = beta1 * m + (1 - beta1) * grad; "
                   "beta2 (0.999) averages its square, v = beta2 * v + (1 - beta2) * grad * grad.",
}
ADAM_HINT = ("Adam as torch.optim.Adam has it: m = beta1 * m + (1 - beta1) * grad and v = beta2 * v + "
             "(1 - beta2) * grad * grad, kept in state (start both at zeros); m_hat = m / (1 - beta1 ** t) and "
             "v_hat = v / (1 - beta2 ** t) with t = state['step']; p -= lr * m_hat / (sqrt(v_hat) + eps), with "
             "lr, betas and eps read from group every step. Usual mistakes: no bias correction, eps inside the "
             "square root, betas swapped or hard-coded.")


def _check_optimizer(answer, reference, cases, mistakes: dict, hint: str, what: str) -> None:
    expect(isinstance(answer, type) and issubclass(answer, torch.optim.Optimizer),
           f"pass the class itself (not an instance), a subclass of optimizers.CourseOptimizer; got {answer!r}.")
    for case in cases:
        case = dict(case)
        problem, seed = case.pop("problem"), case.pop("seed")
        run = dict(seed=seed, **case)
        ours = optimizers.trajectory(answer, problem, NUM_STEPS, **run)
        theirs = optimizers.trajectory(reference, problem, NUM_STEPS, **run)
        gaps = optimizers.relative_gaps(ours, theirs)
        if float(gaps.max()) <= RTOL:
            continue
        first = int(torch.nonzero(gaps > RTOL)[0, 0]) + 1
        where = (f"{what} {_describe(dict(problem=problem, **case))}: after step {first} your parameters differ from "
                 f"torch.optim.{reference.__name__}'s by {float(gaps[first - 1]):.2g} (relative).")
        if torch.allclose(ours[1] - ours[0], theirs[0] - theirs[1], rtol=1e-6, atol=0):
            expect(False, f"{where} Your first step goes uphill, the opposite way: subtract it from p (p.sub_(...)).")
        for mistake, mistake_hint in mistakes.items():
            if float(optimizers.relative_gaps(ours, optimizers.trajectory(mistake, problem, NUM_STEPS, **run)).max()) <= RTOL:
                expect(False, f"{where} It behaves as if {mistake_hint}")
        expect(False, f"{where} {hint}")


@exercise("04.1", "momentum_sgd", points=2)
def momentum_sgd(answer, *, hidden: bool = False) -> None:
    """Check a heavy-ball optimizer class ``answer(params, lr, momentum)`` against ``torch.optim.SGD``."""
    _check_optimizer(answer, torch.optim.SGD, _cases_momentum(hidden), MOMENTUM_MISTAKES, MOMENTUM_HINT,
                     "heavy-ball momentum")


@exercise("04.2", "adam", points=2)
def adam(answer, *, hidden: bool = False) -> None:
    """Check an Adam class ``answer(params, lr, betas, eps)`` against ``torch.optim.Adam``."""
    _check_optimizer(answer, torch.optim.Adam, _cases_adam(hidden), ADAM_MISTAKES, ADAM_HINT, "Adam")
