"""Checks 04.1 (heavy-ball momentum), 04.2 (heavy ball's wall, predicted) and 04.3 (Adam): right answers pass the
visible variant and hidden ones judged apart, each usual mistake fails with its message, answers fitted to the
visible settings fail the hidden ones, and no message gives the update rule or the expected value away."""
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks, optimizers, plain
from course_utils.checks import hidden_variant, lesson04

# pieces of the update rules that no message or hint may show
FORMULAS = ["momentum * b", "b = ", "lr * b", "lr * grad", "p -= ", "m / (1 -", "beta1 **", "beta2 **", "sqrt(v_hat)",
            "(1 - beta1) * grad", "grad * grad", "1 - momentum", "m_hat", "v_hat"]
SOLUTIONS = Path(__file__).resolve().parents[1] / "notebooks" / "solutions" / "04_momentum_and_adaptive_methods.ipynb"


def _notebook_solution(exercise_id: str, name: str):
    """The class the instructor notebook defines in its solution cell for ``exercise_id``."""
    nb = nbformat.read(SOLUTIONS, as_version=4)
    (cell,) = [c for c in nb.cells if c.get("metadata", {}).get("course", {}) == {"exercise": exercise_id,
                                                                                   "role": "solution"}]
    namespace = {"optimizers": optimizers, "torch": torch, "np": np}
    exec(cell.source, namespace)
    return namespace[name]


MomentumSGD = _notebook_solution("04.1", "MomentumSGD")
MyAdam = _notebook_solution("04.3", "MyAdam")
heavy_ball_max_lr = _notebook_solution("04.2", "heavy_ball_max_lr")


class ZeroStartMomentum(MomentumSGD):   # also right: a zero buffer plus the first gradient is that gradient
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(group["momentum"]).add_(grad)
        p.add_(buf, alpha=-group["lr"])


def test_right_answers_pass_in_the_notebook(capsys):
    checks.momentum_sgd(MomentumSGD)
    checks.adam(MyAdam)
    checks.momentum_sgd(ZeroStartMomentum)   # written differently, also right
    checks.adam(optimizers.Adam)
    assert capsys.readouterr().out.splitlines() == ["[check 04.1] momentum_sgd: PASSED",
                                                    "[check 04.3] adam: PASSED"] * 2


@pytest.mark.parametrize("secret", SECRETS)
def test_right_answers_pass_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.momentum_sgd, MomentumSGD, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.adam, MyAdam, hidden_variant(secret)) == ("passed", "")


def test_hidden_settings_depend_on_the_secret_and_cover_both_problems():
    for check in (checks.momentum_sgd, checks.adam):
        assert drawn_from_the_secret(check)
        visible, first, other = (check.cases(v) for v in (checks.VISIBLE, *map(hidden_variant, SECRETS)))
        assert not any(h == v for h in first + other for v in visible)
        assert {c["problem"] for c in first} == set(optimizers.PROBLEMS)
        assert all(c["lr_milestones"] for c in first)   # the scheduler lowers lr in every hidden run


def test_responses_are_small():
    for check, answer in ((checks.momentum_sgd, MomentumSGD), (checks.adam, MyAdam)):
        cases = check.cases(hidden_variant(SECRETS[0]))
        assert len(plain.dumps(check.respond_all(answer, cases))) < 300_000


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


class HardCodedMomentum(MomentumSGD):   # right for the visible momentum (0.9) only
    def update(self, p, grad, state, group):
        MomentumSGD.update(self, p, grad, state, dict(group, momentum=0.9))


class Exploding(MomentumSGD):           # the buffer grows fiftyfold every step
    def update(self, p, grad, state, group):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(50.0).add_(grad)
        p.sub_(group["lr"] * buf)


MOMENTUM_MISTAKES = [
    (BufferNotKept, "plain gradient descent"),
    (LrInsideBuffer, "learning rate went into the buffer"),
    (AveragedBuffer, "an average of the gradients"),
    (Uphill, "uphill"),
    (LrFrozenAtStart, "read once"),
    (Exploding, "no longer finite"),
]


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


class HardCodedEps(MyAdam):
    def update(self, p, grad, state, group):
        MyAdam.update(self, p, grad, state, dict(group, eps=1e-8))


ADAM_MISTAKES = [
    (NoBiasCorrection, "bias correction were missing"),
    (lesson04._OnlyFirstMomentCorrected, "only the first average"),
    (EpsInsideSqrt, "eps were inside the square root"),
    (lesson04._SwappedBetas, "beta1 and beta2 were swapped"),
    (StepFromZero, "division by zero"),
    (HardCodedEps, "eps were fixed"),
]


def _each(mistakes_of):
    return [(check, wrong, message) for check, mistakes in mistakes_of for wrong, message in mistakes]


@pytest.mark.parametrize("check, wrong, message", _each([(checks.momentum_sgd, MOMENTUM_MISTAKES),
                                                         (checks.adam, ADAM_MISTAKES)]))
def test_usual_mistakes_fail_with_their_message(check, wrong, message):
    with pytest.raises(AssertionError, match=rf"\[check {check.id}\] {check.name}: FAILED") as err:
        check(wrong)
    assert message in str(err.value) and not any(f in str(err.value) for f in FORMULAS)


@pytest.mark.slow
@pytest.mark.parametrize("check, wrong, message", _each([(checks.momentum_sgd, MOMENTUM_MISTAKES),
                                                         (checks.adam, ADAM_MISTAKES)]))
def test_usual_mistakes_fail_hidden_variants_with_their_message(check, wrong, message):
    status, graded = judged_apart(check, wrong, hidden_variant(SECRETS[1]))
    assert status == "failed" and message in graded and not any(f in graded for f in FORMULAS)


@pytest.mark.parametrize("check, memorised, message", [
    (checks.momentum_sgd, HardCodedMomentum, "momentum were fixed"),
    (checks.adam, HardCodedBetas, "betas were fixed"),
])
def test_answers_fitted_to_the_visible_settings_pass_visible_and_fail_hidden(check, memorised, message):
    assert judged_apart(check, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        status, graded = judged_apart(check, memorised, hidden_variant(secret))
        assert status == "failed" and message in graded and not any(f in graded for f in FORMULAS)


def test_an_instance_instead_of_the_class_gets_a_message():
    with pytest.raises(AssertionError, match="pass the class itself"):
        checks.momentum_sgd(MomentumSGD([torch.zeros(2, requires_grad=True)]))
    status, message = checks.adam.grade(MyAdam([torch.zeros(2, requires_grad=True)]))
    assert status == "failed" and "pass the class itself" in message


class Stub(optimizers.CourseOptimizer):
    def __init__(self, params, lr=1e-3, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def update(self, p, grad, state, group):
        raise NotImplementedError


class Crashing(Stub):
    def update(self, p, grad, state, group):
        p.sub_(torch.ones(7, dtype=p.dtype))    # a shape that does not fit


def test_not_attempted_and_crash():
    with pytest.raises(NotImplementedError):
        checks.momentum_sgd(Stub)
    assert judged_apart(checks.momentum_sgd, Stub, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.momentum_sgd, Crashing, checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised RuntimeError")


def test_messages_and_hints_never_give_the_update_rule_away():
    # the mistakes' messages are tested above; here an answer off by 1 % everywhere, and the hints
    for check in (checks.momentum_sgd, checks.adam):
        for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
            case = check.cases(variant)[0]
            theirs = lesson04._trajectory(check.reference, case)
            status, message = verdict_of(check, case, (theirs * 1.01).tolist())
            assert status == "failed" and not any(f in message for f in FORMULAS), message
            settings = [x for v in case.values() if not isinstance(v, str) for x in np.ravel(v)]
            assert not shown(message, theirs[1:].numpy(), besides=lesson04.ROWS + settings), message
        for hint in check.hints:
            assert not any(f in hint for f in FORMULAS), hint


# ---------------------------------------------------------------------------- 04.2: heavy ball's wall, predicted

WALL_MISTAKES = [
    (lambda A, momentum: 2 / np.linalg.eigvalsh(A).max(), "gradient descent's wall"),
    (lambda A, momentum: 2 / ((1 - momentum) * np.linalg.eigvalsh(A).max()), "effective step"),
    (lambda A, momentum: (2 + 2 * momentum) / np.linalg.eigvalsh(A).min(), "flattest direction"),
    (lambda A, momentum: (2 + 2 * momentum) / np.diag(A).max(), "diagonal of A"),
    (lambda A, momentum: (1 + np.sqrt(momentum)) ** 2 / np.linalg.eigvalsh(A).max(), "stop being real"),
]


def test_the_wall_prediction_passes_visible_and_hidden_variants():
    checks.heavy_ball_max_lr(heavy_ball_max_lr)
    for secret in SECRETS:
        assert judged_apart(checks.heavy_ball_max_lr, heavy_ball_max_lr, hidden_variant(secret)) == ("passed", "")
    assert drawn_from_the_secret(checks.heavy_ball_max_lr)
    assert checks.heavy_ball_max_lr.kind == "predict"


@pytest.mark.parametrize("wrong, message", WALL_MISTAKES)
def test_wall_mistakes_fail_with_their_message_and_never_show_the_value(wrong, message):
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
        status, graded = judged_apart(checks.heavy_ball_max_lr, wrong, variant)
        assert status == "failed" and message in graded, graded
        for case in checks.heavy_ball_max_lr.cases(variant):
            A = np.array(case["A"])
            assert not shown(graded, [(2 + 2 * case["momentum"]) / np.linalg.eigvalsh(A).max()],
                             besides=[case["momentum"]]), graded


def test_a_memorised_wall_fails_the_hidden_variant():
    visible = {case["momentum"]: heavy_ball_max_lr(np.array(case["A"]), case["momentum"])
               for case in checks.heavy_ball_max_lr.cases(checks.VISIBLE)}

    def memorised(A, momentum):
        return visible.get(momentum, 0.38)

    assert judged_apart(checks.heavy_ball_max_lr, memorised, checks.VISIBLE) == ("passed", "")
    assert judged_apart(checks.heavy_ball_max_lr, memorised, hidden_variant(SECRETS[0]))[0] == "failed"


def test_the_wall_stub_crash_and_in_place_change():
    def stub(A, momentum):
        raise NotImplementedError

    def crash(A, momentum):
        return A[5, 5]

    def in_place(A, momentum):
        A *= 2
        return (2 + 2 * momentum) / np.linalg.eigvalsh(A / 2).max()

    with pytest.raises(NotImplementedError):
        checks.heavy_ball_max_lr(stub)
    assert judged_apart(checks.heavy_ball_max_lr, stub, checks.VISIBLE)[0] == "not attempted"
    status, message = judged_apart(checks.heavy_ball_max_lr, crash, checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised IndexError")
    status, message = judged_apart(checks.heavy_ball_max_lr, in_place, checks.VISIBLE)
    assert status == "failed" and "changed A in place" in message
    for hint in checks.heavy_ball_max_lr.hints:
        assert "2 + 2" not in hint and "(1 + momentum)" not in hint, hint


def test_the_lesson_runs_a_passing_optimizer_and_its_own_otherwise():
    assert checks.yours_or_ours(checks.momentum_sgd, MomentumSGD, optimizers.SGD) == (MomentumSGD, "yours")
    assert checks.yours_or_ours(checks.momentum_sgd, AveragedBuffer, optimizers.SGD) == (optimizers.SGD, "the course's")
    assert checks.yours_or_ours(checks.adam, Stub, optimizers.Adam) == (optimizers.Adam, "the course's")
    assert checks.yours_or_ours(checks.adam, MyAdam, optimizers.Adam) == (MyAdam, "yours")
