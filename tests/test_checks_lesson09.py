import math
import re

import numpy as np
import pytest

from course_utils import batch_scaling, checks, noise_scale, parametrization
from course_utils.checks import hidden_variant

SECRETS = [b"grader-secret-1", b"another secret"]


def good_predict(lr, batch_size, new_batch_size, optimizer):
    return batch_scaling.predict_lr(lr, batch_size, new_batch_size, {"SGD": "linear", "Adam": "sqrt"}[optimizer])


def good_noise(sq_norm_small, sq_norm_big, batch_small, batch_big):
    s = noise_scale.estimate(sq_norm_small, sq_norm_big, batch_small, batch_big)
    return s.grad_sq, s.trace, s.b_simple


GOOD = [(checks.predict_lr, good_predict), (checks.noise_scale_estimate, good_noise),
        (checks.mup_scaling, parametrization.mup_scaling)]


def test_correct_answers_pass_in_the_notebook(capsys):
    for check, answer in GOOD:
        check(answer)
    assert capsys.readouterr().out.splitlines() == [
        "[check 09.1] predict_lr: PASSED", "[check 09.2] noise_scale_estimate: PASSED", "[check 09.3] mup_scaling: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("check, answer", GOOD, ids=lambda x: getattr(x, "name", ""))
def test_correct_answers_pass_hidden_variants_judged_apart(secret, check, answer):
    variant = hidden_variant(secret)
    cases = check.cases(variant)
    responses = check.respond_all(answer, cases)
    assert check.verdict(cases, responses) == ("passed", "")


@pytest.mark.parametrize("check", [c for c, _ in GOOD], ids=lambda c: c.name)
def test_hidden_variants_depend_on_the_secret_only(check):
    a, b = (check.cases(hidden_variant(s)) for s in SECRETS)
    assert a != b
    assert a == check.cases(hidden_variant(SECRETS[0]))
    assert check.cases(checks.VISIBLE) != a


def _fails(check, answer, message, variants=(checks.VISIBLE, hidden_variant(b"s"))):
    with pytest.raises(AssertionError, match=rf"\[check {check.id}\] {check.name}: FAILED") as err:
        check(answer)
    assert message in str(err.value)
    for variant in variants:
        status, graded = check.grade(answer, variant)
        assert status == "failed", (variant, graded)


RULE = {"SGD": 1.0, "Adam": 0.5}


@pytest.mark.parametrize("wrong, message", [
    (lambda lr, b, nb, opt: lr * (nb / b) ** (1.5 - RULE[opt]), "the other optimizer's rule"),
    (lambda lr, b, nb, opt: lr * (b / nb) ** RULE[opt], "the wrong way"),
    (lambda lr, b, nb, opt: lr, "leaves the learning rate as it was"),
    (lambda lr, b, nb, opt: lr * (nb / b), "the other optimizer's rule"),           # one rule for both
    (lambda lr, b, nb, opt: lr * (nb / b) ** 2 if opt == "SGD" else lr * (nb / b) ** 0.5, "is not right"),
    (lambda lr, b, nb, opt: lr + (nb - b) * 1e-3, "is not right"),
    (lambda lr, b, nb, opt: None, "forget `return`"),
    (lambda lr, b, nb, opt: [lr, lr], "one number"),
])
def test_wrong_predictions_fail_with_a_message_naming_the_concept(wrong, message):
    _fails(checks.predict_lr, wrong, message)


def _noise_variant(change):
    def answer(small, big, b_small, b_big):
        g, t, b = good_noise(small, big, b_small, b_big)
        return change(g, t, b, small, big, b_small, b_big)
    return answer


@pytest.mark.parametrize("wrong, message", [
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (B_, t, t / B_)), "still holds some noise"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, bs * s, bs * s / g)), "treats one batch's squared norm"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, (s - B_) / (bs - bb), b)), "straight line in 1/B"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, -t, -b)), "sign flipped"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, t, g / t)), "upside down"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, t, b * 2)), "b_simple is not right"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g * 1.1, t, b)), "grad_sq and trace is not right"),
    (_noise_variant(lambda g, t, b, s, B_, bs, bb: (g, t)), "three numbers"),
])
def test_wrong_noise_estimators_fail_with_a_message_naming_the_concept(wrong, message):
    _fails(checks.noise_scale_estimate, wrong, message)


def _mup_variant(**override):
    def answer(kind, m):
        init, lr = parametrization.mup_scaling(kind, m)
        return override.get(kind, lambda i, l, m: (i, l))(init, lr, m)
    return answer


@pytest.mark.parametrize("wrong, message", [
    (parametrization.standard_scaling, "standard parametrization"),
    (_mup_variant(hidden=lambda i, l, m: (i, 1 / math.sqrt(m))), "square root of the width"),
    (_mup_variant(hidden=lambda i, l, m: (i, m), output=lambda i, l, m: (i, m)), "larger learning rate"),
    (_mup_variant(input=lambda i, l, m: (i, 1 / m)), "input layer's fan-in"),
    (_mup_variant(output=lambda i, l, m: (1.0, l)), "initial output weights"),
    (_mup_variant(output=lambda i, l, m: (1 / m, l)), "too much"),
    (_mup_variant(hidden=lambda i, l, m: (1 / math.sqrt(m), l)), "hidden layers' initial weights"),
    (_mup_variant(output=lambda i, l, m: (i, 1.0)), "standard parametrization"),
    (lambda kind, m: 1.0, "two numbers"),
])
def test_wrong_mup_scalings_fail_with_a_message_naming_the_concept(wrong, message):
    _fails(checks.mup_scaling, wrong, message)


def test_a_memorised_answer_fails_the_hidden_variant():
    for check, answer in GOOD:
        recorded = {}
        cases = check.cases(checks.VISIBLE)
        for case in cases:
            recorded[tuple(sorted(case.items()))] = check.respond(answer, case)

        def memorised(*args, _recorded=recorded, _cases=cases, _check=check):
            for case in _cases:
                if list(case.values()) == list(args):
                    return _recorded[tuple(sorted(case.items()))]
            return 1.0

        assert check.grade(memorised)[0] == "passed"
        assert check.grade(memorised, hidden_variant(b"s"))[0] == "failed"


def test_unattempted_exercises_pass_not_implemented_through():
    def stub(*args):
        raise NotImplementedError

    for check, _ in GOOD:
        with pytest.raises(NotImplementedError):
            check(stub)
        assert check.grade(stub)[0] == "not attempted"


def test_crash_in_learner_code_becomes_a_failed_check():
    for check, _ in GOOD:
        with pytest.raises(AssertionError, match="your code raised ZeroDivisionError"):
            check(lambda *args: 1 / 0)
        assert check.grade(lambda *args: 1 / 0) == ("failed", "your code raised ZeroDivisionError: division by zero")


def _numbers(message):
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", message)]


def test_failure_messages_never_show_the_expected_answer():
    wrong = {checks.predict_lr: lambda *a: 12345.0, checks.noise_scale_estimate: lambda *a: (1e-9, 1e-9, 1e-9),
             checks.mup_scaling: lambda *a: (7.0, 7.0)}
    for variant in (checks.VISIBLE, hidden_variant(b"s")):
        for check, answer in GOOD:
            for case in check.cases(variant):
                want = np.atleast_1d(np.asarray(check.respond(answer, case), dtype=float))
                status, message = check.verdict([case], [{"status": "ok", "value": check.respond(wrong[check], case)}])
                assert status == "failed"
                inputs = [float(v) for v in case.values() if isinstance(v, (int, float))]
                shown = [x for x in _numbers(message) if not any(math.isclose(x, v, rel_tol=1e-2) for v in inputs)]
                assert not any(math.isclose(x, y, rel_tol=1e-2) for x in shown for y in want if y not in (0.0, 1.0)), \
                    message
                assert "sqrt" not in message and "**" not in message and "/ m" not in message


def test_hints_come_one_at_a_time_and_registry_knows_the_lesson():
    for exercise_id in ("09.1", "09.2", "09.3"):
        check = checks.REGISTRY[exercise_id]
        assert checks.hint(exercise_id, level=1).startswith(f"Hint 1 of {len(check.hints)} for exercise {exercise_id}")
        assert 2 <= len(check.hints) <= 4
    assert [checks.REGISTRY[i].kind for i in ("09.1", "09.2", "09.3")] == ["predict", "implement", "implement"]
