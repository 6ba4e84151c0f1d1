import numpy as np
import pytest

from course_utils import checks, descent


def good_step(w, grad, lr):
    return w - lr * grad


def good_run(grad_fn, w0, lr, num_steps):
    return descent.run_gd(grad_fn, w0, lr, num_steps).points


@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answers_pass(capsys, hidden):
    checks.gd_step(good_step, hidden=hidden)
    checks.run_gd(good_run, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == [
        "[check 01.1] gd_step: PASSED",
        "[check 01.2] run_gd: PASSED",
    ]


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, g, lr: w + lr * g, "against the gradient"),
    (lambda w, g, lr: None, "forget `return`"),
    (lambda w, g, lr: (w - lr * g)[:1], "shape"),
])
def test_wrong_step_fails_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 01.1\] gd_step: FAILED") as err:
        checks.gd_step(wrong)
    assert hint in str(err.value)


def test_in_place_step_is_caught():
    def in_place(w, g, lr):
        w -= lr * g
        return w

    with pytest.raises(AssertionError, match="in place"):
        checks.gd_step(in_place)


def test_run_gd_without_the_start_point_fails():
    with pytest.raises(AssertionError, match=r"shape \(8, 2\)"):
        checks.run_gd(lambda g, w0, lr, n: good_run(g, w0, lr, n)[1:])


def test_run_gd_with_an_off_by_one_fails():
    with pytest.raises(AssertionError, match="run_gd: FAILED"):
        checks.run_gd(lambda g, w0, lr, n: good_run(g, w0, lr, n + 1)[:n + 1] * 1.01)


def test_a_hard_coded_answer_fails_the_hidden_variant():
    recorded = {}

    def recording(grad_fn, w0, lr, num_steps):
        key = (lr, num_steps)
        recorded.setdefault(key, good_run(grad_fn, w0, lr, num_steps))
        return recorded[key]

    checks.run_gd(recording)
    with pytest.raises(AssertionError):
        checks.run_gd(recording, hidden=True)


def test_unattempted_exercise_passes_not_implemented_through():
    def stub(w, grad, lr):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.gd_step(stub)


def test_crash_in_learner_code_becomes_a_failed_check():
    with pytest.raises(AssertionError, match="your code raised ZeroDivisionError"):
        checks.gd_step(lambda w, g, lr: 1 / 0)


def test_registry_knows_every_exercise():
    assert checks.REGISTRY["01.1"].points == 1
    assert checks.REGISTRY["01.2"].name == "run_gd"
    assert all(check.lesson == exercise_id[:2] for exercise_id, check in checks.REGISTRY.items())
