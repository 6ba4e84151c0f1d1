"""Checks 04.1 (heavy-ball momentum) and 04.2 (Adam): right answers pass, each usual mistake fails with its hint."""
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils import checks, optimizers
from course_utils.checks import lesson04


SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions" / "04_momentum_and_adaptive_methods.ipynb"


def _notebook_solution(exercise_id: str, name: str):
    """The class the instructor notebook defines in its solution cell for ``exercise_id``."""
    nb = nbformat.read(SOLUTIONS, as_version=4)
    (cell,) = [c for c in nb.cells if c.get("metadata", {}).get("course", {}) == {"exercise": exercise_id,
                                                                                   "role": "solution"}]
    namespace = {"optimizers": optimizers, "torch": torch}
    exec(cell.source, namespace)
    return namespace[name]


MomentumSGD = _notebook_solution("04.1", "MomentumSGD")
MyAdam = _notebook_solution("04.2", "MyAdam")


class ZeroStartMomentum(MomentumSGD):   # also right: a zero buffer plus the first gradient is that gradient
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(grad)
        p.add_(buf, alpha=-group["lr"])


@pytest.mark.parametrize("hidden, momentum, adam", [
    (False, MomentumSGD, MyAdam),                    # the notebook's solutions
    (True, MomentumSGD, MyAdam),
    (False, ZeroStartMomentum, optimizers.Adam),     # written differently, also right
])
def test_right_answers_pass(capsys, hidden, momentum, adam):
    checks.momentum_sgd(momentum, hidden=hidden)
    checks.adam(adam, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == ["[check 04.1] momentum_sgd: PASSED", "[check 04.2] adam: PASSED"]


class BufferNotKept(MomentumSGD):        # a local buffer, reset every step
    def update(self, p, grad, state, group):
        buf = grad.clone()
        p.sub_(group["lr"] * buf)


class LrInsideBuffer(MomentumSGD):
    def update(self, p, grad, state, group):
        if "velocity" not in state:
            state["velocity"] = group["lr"] * grad
        else:
            state["velocity"] = group["momentum"] * state["velocity"] + group["lr"] * grad
        p -= state["velocity"]


class AveragedBuffer(MomentumSGD):      # an exponential moving average, as in Adam's m
    def update(self, p, grad, state, group):
        beta = group["momentum"]
        state["m"] = beta * state.get("m", torch.zeros_like(p)) + (1 - beta) * grad
        p.add_(state["m"], alpha=-group["lr"])


class Uphill(MomentumSGD):
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(grad)
        p.add_(group["lr"] * buf)


class LrFrozenAtStart(MomentumSGD):     # reads lr once: the scheduler's change never arrives
    def update(self, p, grad, state, group):
        lr = state.setdefault("lr", group["lr"])
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(grad)
        p.sub_(lr * buf)


@pytest.mark.parametrize("wrong, hint", [
    (BufferNotKept, "plain gradient descent"),
    (LrInsideBuffer, "wrong side of the learning rate"),
    (AveragedBuffer, "averages the gradients"),
    (Uphill, "uphill"),
    (LrFrozenAtStart, "read afresh every step"),
])
def test_usual_momentum_mistakes_fail_with_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 04.1\] momentum_sgd: FAILED") as err:
        checks.momentum_sgd(wrong)
    assert hint in str(err.value)


class NoBiasCorrection(MyAdam):
    def update(self, p, grad, state, group):
        b1, b2 = group["betas"]
        if state["step"] == 1:
            state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        state["v"] = b2 * state["v"] + (1 - b2) * grad ** 2
        p -= group["lr"] * state["m"] / (torch.sqrt(state["v"]) + group["eps"])


class EpsInsideSqrt(MyAdam):
    def update(self, p, grad, state, group):
        b1, b2 = group["betas"]
        t = state["step"]
        if t == 1:
            state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
        state["m"] = b1 * state["m"] + (1 - b1) * grad
        state["v"] = b2 * state["v"] + (1 - b2) * grad ** 2
        p -= group["lr"] * (state["m"] / (1 - b1 ** t)) / torch.sqrt(state["v"] / (1 - b2 ** t) + group["eps"])


class StepFromZero(MyAdam):             # counts steps from 0: the first bias correction divides by zero
    def update(self, p, grad, state, group):
        state["step"] -= 1
        try:
            MyAdam.update(self, p, grad, state, group)
        finally:
            state["step"] += 1


class HardCodedBetas(MyAdam):           # right for the default betas only
    def update(self, p, grad, state, group):
        MyAdam.update(self, p, grad, state, dict(group, betas=(0.9, 0.999)))


@pytest.mark.parametrize("wrong, hint", [
    (NoBiasCorrection, "bias correction is missing"),
    (lesson04._OnlyFirstMomentCorrected, "only m is bias-corrected"),
    (EpsInsideSqrt, "eps is inside the square root"),
    (lesson04._SwappedBetas, "beta1 and beta2 are swapped"),
    (StepFromZero, "t = state['step']"),
])
def test_usual_adam_mistakes_fail_with_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 04.2\] adam: FAILED") as err:
        checks.adam(wrong)
    assert hint in str(err.value)


def test_hard_coded_betas_pass_the_visible_check_but_not_the_hidden_one():
    checks.adam(HardCodedBetas)
    with pytest.raises(AssertionError, match=r"\[check 04.2\] adam: FAILED"):
        checks.adam(HardCodedBetas, hidden=True)


def test_hard_coded_momentum_passes_the_visible_check_but_not_the_hidden_one():
    class HardCodedMomentum(MomentumSGD):
        def update(self, p, grad, state, group):
            MomentumSGD.update(self, p, grad, state, dict(group, momentum=0.9))

    checks.momentum_sgd(HardCodedMomentum)
    with pytest.raises(AssertionError, match=r"\[check 04.1\] momentum_sgd: FAILED"):
        checks.momentum_sgd(HardCodedMomentum, hidden=True)


def test_hidden_cases_differ_from_the_visible_ones():
    for cases in (lesson04._cases_momentum, lesson04._cases_adam):
        visible, hidden = cases(False), cases(True)
        assert not any(h == v for h in hidden for v in visible)
        assert {c["problem"] for c in hidden} == set(optimizers.PROBLEMS)


def test_an_instance_instead_of_the_class_gets_a_hint():
    with pytest.raises(AssertionError, match="pass the class itself"):
        checks.momentum_sgd(MomentumSGD([torch.zeros(2, requires_grad=True)]))


def test_not_implemented_passes_through_for_the_grader():
    class Stub(optimizers.CourseOptimizer):
        def __init__(self, params, lr=1e-3, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))

        def update(self, p, grad, state, group):
            raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.momentum_sgd(Stub)
