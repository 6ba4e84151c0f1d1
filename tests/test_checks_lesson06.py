"""Checks 06.1 (bias-corrected smoothing) and 06.2 (steepest-slope rule): right answers pass,
each usual mistake fails with its own hint, and answers fitted to the visible inputs fail the hidden ones."""
import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import lesson06


def good_smooth(losses, beta):
    out, avg = [], 0.0
    for t, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** t))
    return out


def good_steepest(lrs, smoothed):
    slope = np.gradient(smoothed, np.log(lrs))
    return lrs[np.argmin(slope)]


@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answers_pass(capsys, hidden):
    checks.smooth_losses(good_smooth, hidden=hidden)
    checks.steepest_lr(good_steepest, hidden=hidden)
    checks.smooth_losses(lambda losses, beta: torch.tensor(good_smooth(losses, beta)), hidden=hidden)
    assert capsys.readouterr().out.splitlines() == [
        "[check 06.1] smooth_losses: PASSED", "[check 06.2] steepest_lr: PASSED", "[check 06.1] smooth_losses: PASSED"]


def no_correction(losses, beta):
    out, avg = [], 0.0
    for loss in losses:
        avg = beta * avg + (1 - beta) * loss
        out.append(avg)
    return out


def start_at_first(losses, beta):
    out = []
    for loss in losses:
        out.append(loss if not out else beta * out[-1] + (1 - beta) * loss)
    return out


def swapped(losses, beta):
    out, avg = [], 0.0
    for t, loss in enumerate(losses, start=1):
        avg = (1 - beta) * avg + beta * loss
        out.append(avg / (1 - (1 - beta) ** t))
    return out


def fed_back(losses, beta):
    out, value = [], 0.0
    for t, loss in enumerate(losses, start=1):
        value = (beta * value + (1 - beta) * loss) / (1 - beta ** t)
        out.append(value)
    return out


def off_by_one(losses, beta):
    out, avg = [], 0.0
    for t, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (t + 1)))
    return out


def in_place(losses, beta):
    losses[:] = good_smooth(losses, beta)
    return losses


@pytest.mark.parametrize("wrong, hint", [
    (no_correction, "no bias correction"),
    (start_at_first, "torch-lr-finder's convention"),
    (swapped, "beta weighs the old average"),
    (fed_back, "divide only the value you return"),
    (off_by_one, "1 - beta**1"),
    (lambda losses, beta: None, "returned None"),
    (lambda losses, beta: good_smooth(losses, beta)[:-1], "one per loss"),
    (in_place, "changed the losses"),
    (lambda losses, beta: np.convolve(losses, np.ones(5) / 5, mode="same"), "avg = beta * avg"),
])
def test_each_usual_smoothing_mistake_fails_with_its_hint(wrong, hint):
    with pytest.raises(AssertionError) as err:
        checks.smooth_losses(wrong)
    message = str(err.value)
    assert message.startswith("[check 06.1] smooth_losses: FAILED") and hint in message


def test_a_smoothing_fitted_to_the_visible_inputs_fails_the_hidden_ones():
    table = {}
    for losses, beta in lesson06._smoothing_cases(False):
        table[(len(losses), beta)] = good_smooth(losses, beta)

    def memorised(losses, beta):
        return table.get((len(losses), beta), list(losses))

    checks.smooth_losses(memorised)
    with pytest.raises(AssertionError, match="06.1"):
        checks.smooth_losses(memorised, hidden=True)


@pytest.mark.parametrize("wrong, hint", [
    (lambda lrs, s: lrs[np.argmin(np.gradient(s, lrs))], "np.log(lrs) as the coordinates"),
    (lambda lrs, s: lrs[np.argmin(np.gradient(s))], "np.log(lrs) as the coordinates"),
    (lambda lrs, s: lrs[np.argmax(np.gradient(s, np.log(lrs)))], "argmin, not argmax"),
    (lambda lrs, s: lrs[np.argmin(np.diff(s) / np.diff(np.log(lrs)))], "half a step off"),
    (lambda lrs, s: lrs[np.argmin(s)], "lowest loss"),
    (lambda lrs, s: int(np.argmin(np.gradient(s, np.log(lrs)))), "looks like an index"),
    (lambda lrs, s: None, "returned None"),
    (lambda lrs, s: np.gradient(s, np.log(lrs)), "one learning rate"),
])
def test_each_usual_steepest_mistake_fails_with_its_hint(wrong, hint):
    with pytest.raises(AssertionError) as err:
        checks.steepest_lr(wrong)
    message = str(err.value)
    assert message.startswith("[check 06.2] steepest_lr: FAILED") and hint in message


def test_a_steepest_fitted_to_the_visible_inputs_fails_the_hidden_ones():
    answers = {len(lrs): good_steepest(lrs, s) for lrs, s in lesson06._steepest_cases(False)}

    def memorised(lrs, smoothed):
        return answers.get(len(lrs), lrs[0])

    checks.steepest_lr(memorised)
    with pytest.raises(AssertionError, match="06.2"):
        checks.steepest_lr(memorised, hidden=True)


def test_the_visible_inputs_tell_the_usual_mistakes_apart():
    # every mistake gives a different answer from the right one on at least one visible input,
    # so the hints above are reachable without the hidden inputs
    for lrs, smoothed in lesson06._steepest_cases(False):
        assert good_steepest(lrs, smoothed) == lesson06._steepest(lrs, smoothed)
    for hint in lesson06._wrong_steepests(*lesson06._steepest_cases(False)[0]):
        assert any(not np.isclose(lesson06._wrong_steepests(lrs, s)[hint], good_steepest(lrs, s))
                   for lrs, s in lesson06._steepest_cases(False)), hint
    for hint in lesson06._wrong_smoothings(*lesson06._smoothing_cases(False)[0]):
        assert all(not np.allclose(lesson06._wrong_smoothings(losses, beta)[hint], good_smooth(losses, beta))
                   for losses, beta in lesson06._smoothing_cases(False)[:2]), hint
