import re

import numpy as np
import pytest

from check_support import SECRETS, drawn_from_the_secret, fails_with, judged_apart, shown, verdict_of

from course_utils import checks, descent, surfaces
from course_utils.checks import hidden_variant




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


# ----------------------------------------------------------------------------- 01.3 loss_factor

def good_loss_factor(lr, lambdas):
    return float(np.max((1 - lr * np.asarray(lambdas)) ** 2))


LOSS_FACTOR_MISTAKES = [
    (lambda lr, lam: np.max(np.abs(1 - lr * lam)), "factor of a coordinate"),
    (lambda lr, lam: np.max(1 - lr * lam), "its size is what counts"),
    (lambda lr, lam: (1 - lr * np.min(lam)) ** 2, "gentlest direction alone"),
    (lambda lr, lam: (1 - lr * np.max(lam)) ** 2, "steepest direction alone"),
    (lambda lr, lam: np.min((1 - lr * lam) ** 2), "fastest-shrinking direction"),
    (lambda lr, lam: np.mean((1 - lr * lam) ** 2), "do not share the loss evenly"),
    (lambda lr, lam: (1 - lr * np.max(lam)) ** 2 + 0.01, "not right"),
    (lambda lr, lam: (1 - lr * lam) ** 2, "one number"),
]


@pytest.mark.parametrize("secret", SECRETS)
def test_loss_factor_right_answer_passes_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.loss_factor, good_loss_factor, hidden_variant(secret)) == ("passed", "")
    assert drawn_from_the_secret(checks.loss_factor)


@pytest.mark.parametrize("wrong, message", LOSS_FACTOR_MISTAKES)
def test_each_loss_factor_mistake_fails_with_its_message(wrong, message):
    fails_with(checks.loss_factor, wrong, message, secrets=SECRETS[:1])


def test_hidden_loss_factor_cases_cover_both_directions_and_divergence():
    for secret in SECRETS:
        slowest = set()
        for case in checks.loss_factor.cases(hidden_variant(secret)):
            squared = (1 - case["lr"] * np.array(case["lambdas"])) ** 2
            slowest.add("unstable" if squared.max() > 1 else int(np.argmax(squared) == len(squared) - 1))
        assert slowest == {0, 1, "unstable"}       # the gentlest decides, the steepest decides, it grows


def test_loss_factor_memorised_answer_fails_hidden_and_in_place_change_is_caught():
    answers = {(c["lr"], tuple(c["lambdas"])): good_loss_factor(c["lr"], c["lambdas"])
               for c in checks.loss_factor.cases(checks.VISIBLE)}
    memorised = lambda lr, lam: answers.get((lr, tuple(lam)), 0.5)  # noqa: E731
    assert judged_apart(checks.loss_factor, memorised, checks.VISIBLE) == ("passed", "")
    assert judged_apart(checks.loss_factor, memorised, hidden_variant(SECRETS[0]))[0] == "failed"

    def in_place(lr, lambdas):
        lambdas *= lr
        return float(np.max((1 - lambdas) ** 2))

    with pytest.raises(AssertionError, match="in place"):
        checks.loss_factor(in_place)


def test_loss_factor_not_attempted_crash_and_messages_without_the_answer():
    def stub(lr, lambdas):
        raise NotImplementedError

    assert judged_apart(checks.loss_factor, stub, hidden_variant(SECRETS[0]))[0] == "not attempted"
    assert checks.loss_factor.grade(lambda lr, lam: 1 / 0)[0] == "failed"
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.loss_factor.cases(variant):
            want = good_loss_factor(case["lr"], case["lambdas"])
            for wrong in (0.5 * want, want + 0.3, np.max(np.abs(1 - case["lr"] * np.array(case["lambdas"])))):
                status, message = verdict_of(checks.loss_factor, case, {"factor": wrong,
                                                                         "lambdas_after": case["lambdas"]})
                assert status == "failed"
                assert not shown(message, [want], besides=[case["lr"], *case["lambdas"], wrong]), message
                assert "**" not in message and "max(" not in message


# ----------------------------------------------------------------------------- 01.4 diagnose_run

def good_diagnose(points, losses):
    if losses[-1] > losses[0]:
        return "too large"
    steps = np.diff(points, axis=0)
    if np.dot(steps[-1], steps[-2]) < 0:
        return "large"
    return "moderate" if (losses[-1] / losses[-6]) ** (1 / 5) < 0.9 else "small"


def test_diagnose_cases_are_two_of_each_kind_and_drawn_from_the_secret():
    from course_utils.checks import lesson01

    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1])):
        cases = checks.diagnose_run.cases(variant)
        kinds = [lesson01._kind_of(np.array(c["points"])) for c in cases]
        assert sorted(kinds) == sorted(2 * list(lesson01.DIAGNOSES) + ["large", "moderate"])
        assert sorted(kinds[:4]) == sorted(lesson01.DIAGNOSES)          # the four the notebook shows
        assert [c["run"] for c in cases] == list("ABCDEFGHIJ")
        assert not any(k in str(c) for c in cases for k in ("small", "moderate", "large"))   # no label in a case
    assert drawn_from_the_secret(checks.diagnose_run)
    assert list(checks.diagnose_run.runs()) == list("ABCD")


def test_diagnose_reads_the_kind_off_the_run_itself():
    # the judge's truth comes from the points alone: the lesson's own four runs, on its bowl, come out as named
    from course_utils.checks import lesson01

    bowl = surfaces.make_bowl((1.0, 10.0), angle_deg=30.0)
    for fraction, kind in [(0.05, "small"), (0.7, "moderate"), (0.95, "large"), (1.1, "too large")]:
        run = descent.run_gd(bowl.grad, [-1.8, 1.2], fraction * bowl.max_stable_lr, 50)
        assert lesson01._kind_of(run.points) == kind
        assert good_diagnose(run.points, bowl.value(run.points)) == kind


@pytest.mark.parametrize("secret", SECRETS)
def test_diagnose_right_answer_passes_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.diagnose_run, good_diagnose, hidden_variant(secret)) == ("passed", "")


def _loss_only(points, losses):   # cannot tell a zigzag from a crawl
    if losses[-1] > losses[0]:
        return "too large"
    return "moderate" if (losses[-1] / losses[-6]) ** (1 / 5) < 0.9 else "small"


def _loss_factor_rule(fast, slow):   # the loss alone, with thresholds a learner could tune on the visible runs
    def diagnose(points, losses):
        if losses[-1] > losses[0]:
            return "too large"
        factor = (losses[-1] / losses[-6]) ** (1 / 5)
        return "moderate" if factor < fast else "large" if factor < slow else "small"
    return diagnose


def test_no_rule_that_reads_the_loss_alone_passes_even_the_visible_runs():
    # in every set a large run loses loss faster than a moderate one: no thresholds sort both
    from course_utils.checks import lesson01

    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
        large, moderate = checks.diagnose_run.cases(variant)[-2:]
        factor = {name: (c["losses"][-1] / c["losses"][-6]) ** (1 / 5) for name, c in (("large", large),
                                                                                        ("moderate", moderate))}
        assert factor["large"] < factor["moderate"]
        assert [lesson01._kind_of(np.array(c["points"])) for c in (large, moderate)] == ["large", "moderate"]
    for fast in np.arange(0.70, 0.96, 0.02):
        for slow in np.arange(fast + 0.02, 1.0, 0.02):
            assert judged_apart(checks.diagnose_run, _loss_factor_rule(fast, slow), checks.VISIBLE)[0] == "failed"


DIAGNOSE_MISTAKES = [
    (_loss_only, "look at the direction of"),
    (lambda points, losses: "too large", "makes the loss grow"),
    (lambda points, losses: "too large" if losses[-1] > losses[0] else "large", "not 'large'"),
    (lambda points, losses: "fast", "should return one of"),
    (lambda points, losses: None, "should return one of"),
]


@pytest.mark.parametrize("wrong, message", DIAGNOSE_MISTAKES)
def test_each_diagnose_mistake_fails_with_its_message(wrong, message):
    fails_with(checks.diagnose_run, wrong, message)


def test_diagnose_memorised_answer_fails_hidden_not_attempted_and_crash():
    from course_utils.checks import lesson01

    answers = {c["losses"][0]: lesson01._kind_of(np.array(c["points"])) for c in checks.diagnose_run.cases(checks.VISIBLE)}
    memorised = lambda points, losses: answers.get(losses[0], "small")  # noqa: E731
    assert judged_apart(checks.diagnose_run, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.diagnose_run, memorised, hidden_variant(secret))[0] == "failed"

    def stub(points, losses):
        raise NotImplementedError

    assert judged_apart(checks.diagnose_run, stub, checks.VISIBLE)[0] == "not attempted"
    status, message = checks.diagnose_run.grade(lambda points, losses: points[100])
    assert status == "failed" and message.startswith("your code raised IndexError")


def test_diagnose_messages_never_name_the_right_kind():
    from course_utils.checks import lesson01

    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
        for case in checks.diagnose_run.cases(variant):
            truth = lesson01._kind_of(np.array(case["points"]))
            for wrong in lesson01.DIAGNOSES:
                if wrong == truth:
                    continue
                status, message = verdict_of(checks.diagnose_run, case, wrong)
                assert status == "failed" and f"{truth!r}" not in message, message
