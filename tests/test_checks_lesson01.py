import re

import numpy as np
import pytest

from course_utils import checks, descent
from course_utils.checks import hidden_variant

SECRETS = [b"grader-secret-1", b"another secret"]


def good_step(w, grad, lr):
    return w - lr * grad


def good_run(grad_fn, w0, lr, num_steps):
    return descent.run_gd(grad_fn, w0, lr, num_steps).points


def test_correct_answers_pass_in_the_notebook(capsys):
    checks.gd_step(good_step)
    checks.run_gd(good_run)
    assert capsys.readouterr().out.splitlines() == [
        "[check 01.1] gd_step: PASSED",
        "[check 01.2] run_gd: PASSED",
    ]


@pytest.mark.parametrize("secret", SECRETS)
def test_correct_answers_pass_hidden_variants_judged_apart(secret):
    # the grader's way: cases and judge on one side, respond on the other, plain data between them
    for check, answer in ((checks.gd_step, good_step), (checks.run_gd, good_run)):
        variant = hidden_variant(secret)
        cases = check.cases(variant)
        responses = check.respond_all(answer, cases)
        assert check.verdict(cases, responses) == ("passed", "")


def test_hidden_variants_depend_on_the_secret_only():
    a, b = (checks.run_gd.cases(hidden_variant(s)) for s in SECRETS)
    assert a != b
    assert a == checks.run_gd.cases(hidden_variant(SECRETS[0]))
    assert checks.run_gd.cases(checks.VISIBLE) != a


@pytest.mark.parametrize("wrong, message", [
    (lambda w, g, lr: w + lr * g, "uphill"),
    (lambda w, g, lr: w - g, "does not depend on the learning rate"),
    (lambda w, g, lr: w - 2 * lr * g, "not right"),
    (lambda w, g, lr: None, "forget `return`"),
    (lambda w, g, lr: (w - lr * g)[:1], "shape"),
    (lambda w, g, lr: "w - lr * grad", "should be numbers"),
    (lambda w, g, lr: object(), "should return numbers"),
])
def test_wrong_step_fails_with_a_message_naming_the_concept(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 01.1\] gd_step: FAILED") as err:
        checks.gd_step(wrong)
    assert message in str(err.value)
    status, graded = checks.gd_step.grade(wrong, hidden_variant(b"s"))
    assert status == "failed" and (message in graded or "should" in graded)


def test_failure_messages_never_show_the_expected_answer():
    for variant in (checks.VISIBLE, hidden_variant(b"s")):
        for case in checks.gd_step.cases(variant):
            status, message = checks.gd_step.verdict([case], [{"status": "ok", "value": {
                "step": [0.0, 0.0], "w_after": case["w"]}}])
            want = np.array(case["w"]) - case["lr"] * np.array(case["grad"])
            assert status == "failed"
            shown = [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", message)]
            assert not any(np.isclose(x, y, rtol=1e-2) for x in shown for y in want if y != case["lr"]), message
            assert "lr * grad" not in message


def test_in_place_step_is_caught():
    def in_place(w, g, lr):
        w -= lr * g
        return w

    with pytest.raises(AssertionError, match="in place"):
        checks.gd_step(in_place)


def test_run_gd_without_the_start_point_fails():
    with pytest.raises(AssertionError, match="leaves out the start"):
        checks.run_gd(lambda g, w0, lr, n: good_run(g, w0, lr, n)[1:])


def test_run_gd_with_a_wrong_step_fails():
    with pytest.raises(AssertionError, match="run_gd: FAILED"):
        checks.run_gd(lambda g, w0, lr, n: good_run(g, w0, lr, n + 1)[:n + 1] * 1.01)


def test_a_hard_coded_answer_fails_the_hidden_variant():
    recorded = {}

    def recording(grad_fn, w0, lr, num_steps):
        recorded.setdefault((lr, num_steps), good_run(grad_fn, w0, lr, num_steps))
        return recorded[(lr, num_steps)]

    checks.run_gd(recording)
    replay = {(c["lr"], c["num_steps"]): r for c, r in zip(checks.run_gd.cases(checks.VISIBLE), recorded.values())}
    memorised = lambda g, w0, lr, n: replay.get((lr, n), np.zeros((n + 1, 2)))  # noqa: E731
    assert checks.run_gd.grade(memorised)[0] == "passed"
    assert checks.run_gd.grade(memorised, hidden_variant(b"s"))[0] == "failed"


def test_unattempted_exercise_passes_not_implemented_through():
    def stub(w, grad, lr):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.gd_step(stub)
    assert checks.gd_step.grade(stub)[0] == "not attempted"


def test_crash_in_learner_code_becomes_a_failed_check():
    with pytest.raises(AssertionError, match="your code raised ZeroDivisionError"):
        checks.gd_step(lambda w, g, lr: 1 / 0)
    assert checks.gd_step.grade(lambda w, g, lr: 1 / 0) == ("failed", "your code raised ZeroDivisionError: "
                                                                    "division by zero")


def test_hints_come_one_at_a_time():
    first = checks.hint("01.2", level=1)
    assert first.startswith("Hint 1 of 3 for exercise 01.2 (run_gd)")
    assert checks.hint("01.2", level=3).endswith("(the last one)")
    with pytest.raises(ValueError, match="hints 1 to 3"):
        checks.hint("01.2", level=4)
    with pytest.raises(ValueError, match="no exercise"):
        checks.hint("77.1")


def test_registry_knows_every_exercise():
    assert checks.REGISTRY["01.1"].points == 1
    assert checks.REGISTRY["01.2"].name == "run_gd"
    assert all(check.lesson == exercise_id[:2] for exercise_id, check in checks.REGISTRY.items())
