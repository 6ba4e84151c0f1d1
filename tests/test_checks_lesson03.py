"""Checks 03.2 (predict_floor) and 03.3 (diagnose_sgd_run): right answers pass the visible and hidden variants
judged apart, each recognised mistake fails with its message, memorised answers fail hidden variants, stubs
count as not attempted, and no failure message shows the expected value. (03.1 is tested with lesson 02's
checks in test_checks_lesson02_03.py.)"""
import numpy as np
import pytest
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks
from course_utils.checks import hidden_variant, lesson03


def good_predict_floor(lr, batch_size, hessian, gradient_noise):
    return lr * np.trace(gradient_noise) / (4 * batch_size)


def good_diagnose_run(losses):
    losses = np.asarray(losses, dtype=float)
    if not np.isfinite(losses[-1]) or losses[-1] > losses[0]:
        return "diverging"
    quarter = max(1, len(losses) // 4)
    last, before = losses[-quarter:].mean(), losses[-2 * quarter:-quarter].mean()
    return "still descending" if last < 0.95 * before else "at its floor"


@pytest.fixture(scope="module")
def diagnosis_cases():
    """The cases of 03.3 (real SGD runs, a few seconds each set): visible and both secrets."""
    return {variant: lesson03.diagnose_sgd_run.cases(variant)
            for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1]))}


def test_correct_answers_pass_in_the_notebook(capsys):
    checks.predict_floor(good_predict_floor)
    checks.diagnose_sgd_run(good_diagnose_run)
    assert capsys.readouterr().out.splitlines() == ["[check 03.2] predict_floor: PASSED",
                                                    "[check 03.3] diagnose_sgd_run: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
def test_correct_answers_pass_hidden_variants_judged_apart(secret):
    variant = hidden_variant(secret)
    assert judged_apart(checks.predict_floor, good_predict_floor, variant) == ("passed", "")
    assert judged_apart(checks.diagnose_sgd_run, good_diagnose_run, variant) == ("passed", "")


def test_hidden_cases_are_drawn_from_the_secret():
    assert drawn_from_the_secret(checks.predict_floor)
    assert drawn_from_the_secret(checks.diagnose_sgd_run)


def test_the_floor_formula_is_the_regression_modules():
    # the judge's formula is the first-order floor the lesson derives, as regression computes it from data
    case = checks.predict_floor.cases(checks.VISIBLE)[0]
    problem = lesson03._lesson_problem()
    assert np.isclose(good_predict_floor(case["lr"], case["batch_size"], None, np.array(case["gradient_noise"])),
                      problem.noise_floor_first_order(case["lr"], case["batch_size"]))


@pytest.mark.parametrize("wrong, message", [
    (lambda lr, b, H, S: lr * np.trace(S) / (2 * b), "factor of 2"),
    (lambda lr, b, H, S: lr * np.trace(S) / b, "factor of 4"),
    (lambda lr, b, H, S: lr * np.trace(S) / 4, "does not depend on the batch size"),
    (lambda lr, b, H, S: lr * np.trace(S) * b / 4, "grows with the batch size"),
    (lambda lr, b, H, S: lr ** 2 * np.trace(S) / (4 * b), "lr squared"),
    (lambda lr, b, H, S: lr * np.trace(H) / (4 * b), "curvature where the gradient noise belongs"),
    (lambda lr, b, H, S: lr * np.trace(S) / (3 * b), "is not right"),
    (lambda lr, b, H, S: None, "returned None"),
])
def test_each_floor_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 03.2\] predict_floor: FAILED") as err:
        checks.predict_floor(wrong)
    assert message in str(err.value)
    status, graded = judged_apart(checks.predict_floor, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


@pytest.mark.parametrize("wrong, message", [
    (lambda losses: "at its floor", "does not fit this run"),
    (lambda losses: "diverging" if losses[-1] > losses[0] else "at its floor", "has stopped falling"),   # never descending
    (lambda losses: "converged", "return one of"),
    (lambda losses: None, "returned None"),
    (lambda losses: 2, "return one of"),
])
def test_each_diagnosis_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 03.3\] diagnose_sgd_run: FAILED") as err:
        checks.diagnose_sgd_run(wrong)
    assert message in str(err.value)


def test_the_cases_are_the_diagnosis_they_are_drawn_for(diagnosis_cases):
    # each kind's runs look like it: a diverging run ends above its start, the others below, and a run on its
    # floor changes little over its last half while a descending one still falls
    for cases in diagnosis_cases.values():
        for case in cases:
            kind = lesson03.regime(lesson03._diagnosis_problem(case["problem"]), case["lr"], case["num_steps"])
            losses = np.asarray(case["losses"])
            assert good_diagnose_run(losses) == kind, (kind, case["lr"])
            if kind == "diverging":
                assert losses[-1] > 100 * losses[0]


def test_memorised_answers_pass_visible_and_fail_hidden(diagnosis_cases):
    floors = {(c["lr"], c["batch_size"]): good_predict_floor(c["lr"], c["batch_size"], None, np.array(c["gradient_noise"]))
              for c in checks.predict_floor.cases(checks.VISIBLE)}
    memorised_floor = lambda lr, b, H, S: floors.get((lr, b), 0.01)  # noqa: E731
    assert judged_apart(checks.predict_floor, memorised_floor, checks.VISIBLE) == ("passed", "")
    visible = {c["losses"][-1]: good_diagnose_run(c["losses"]) for c in diagnosis_cases[checks.VISIBLE]}
    memorised_runs = lambda losses: visible.get(losses[-1], "at its floor")  # noqa: E731
    assert judged_apart(checks.diagnose_sgd_run, memorised_runs, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.predict_floor, memorised_floor, hidden_variant(secret))[0] == "failed"
        assert judged_apart(checks.diagnose_sgd_run, memorised_runs, hidden_variant(secret))[0] == "failed"
    hidden = [diagnosis_cases[hidden_variant(s)] for s in SECRETS]
    kinds = [[good_diagnose_run(c["losses"]) for c in cases] for cases in hidden]
    # a constant answer passes only a variant whose runs are all of that kind; the hidden variants mix all three
    assert all(len(set(k)) == 3 for k in kinds)


def test_not_attempted_and_crashes():
    def stub(*args):
        raise NotImplementedError

    for check in (checks.predict_floor, checks.diagnose_sgd_run):
        with pytest.raises(NotImplementedError):
            check(stub)
        assert judged_apart(check, stub, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.predict_floor, lambda lr, b, H, S: np.linalg.inv(np.zeros((2, 2))), checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised LinAlgError")
    status, message = judged_apart(checks.diagnose_sgd_run, lambda losses: losses[10 ** 6], checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised IndexError")


def test_failure_messages_never_show_the_expected_value(diagnosis_cases):
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.predict_floor.cases(variant):
            want = good_predict_floor(case["lr"], case["batch_size"], None, np.array(case["gradient_noise"]))
            for wrong in (2 * want, want / 3, 0.0):
                status, message = verdict_of(checks.predict_floor, case, wrong)
                assert status == "failed"
                assert not shown(message, [want, np.trace(case["gradient_noise"])],
                                 besides=[case["lr"], case["batch_size"], wrong]), message
                assert "trace(" not in message and "/ (4" not in message
    for cases in diagnosis_cases.values():
        for case in cases:
            right = good_diagnose_run(case["losses"])
            for wrong in set(lesson03.DIAGNOSES) - {right}:
                status, message = verdict_of(checks.diagnose_sgd_run, case, wrong)
                assert status == "failed" and repr(right) not in message, message
