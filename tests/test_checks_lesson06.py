"""Checks 06.1 (bias-corrected smoothing) and 06.2 (steepest-slope rule): right answers pass the visible variant
and hidden ones judged apart, each usual mistake fails with its own message, answers fitted to the visible inputs
fail the hidden ones, and no message shows the expected values."""
import numpy as np
import pytest
import torch
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks
from course_utils.checks import hidden_variant, lesson06


def good_smooth(losses, beta):
    out, avg = [], 0.0
    for t, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** t))
    return out


def good_steepest(lrs, smoothed):
    slope = np.gradient(smoothed, np.log(lrs))
    return lrs[np.argmin(slope)]


def test_correct_answers_pass_in_the_notebook(capsys):
    checks.smooth_losses(good_smooth)
    checks.steepest_lr(good_steepest)
    checks.smooth_losses(lambda losses, beta: torch.tensor(good_smooth(losses, beta)))
    assert capsys.readouterr().out.splitlines() == [
        "[check 06.1] smooth_losses: PASSED", "[check 06.2] steepest_lr: PASSED", "[check 06.1] smooth_losses: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
def test_correct_answers_pass_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.smooth_losses, good_smooth, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.steepest_lr, good_steepest, hidden_variant(secret)) == ("passed", "")


def test_hidden_inputs_depend_on_the_secret_and_keep_the_edge_cases():
    for check in (checks.smooth_losses, checks.steepest_lr):
        assert drawn_from_the_secret(check), check.name
    for secret in SECRETS:
        cases = checks.smooth_losses.cases(hidden_variant(secret))
        assert any(len(c["losses"]) == 1 for c in cases) and any(c["beta"] == 0.0 for c in cases)
        kinds = [lesson06._kind(np.array(c["lrs"])) for c in checks.steepest_lr.cases(hidden_variant(secret))]
        assert set(kinds) == {"exponential", "linear"}


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
        with np.errstate(invalid="ignore"):   # beta = 0: 0 / 0
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


SMOOTHING_MISTAKES = [
    (no_correction, "bias correction is missing"),
    (start_at_first, "torch-lr-finder's convention"),
    (swapped, "the wrong way round"),
    (fed_back, "correct only the value you return"),
    (off_by_one, "one step off"),
    (lambda losses, beta: None, "returned None"),
    (lambda losses, beta: good_smooth(losses, beta)[:-1], "one per loss"),
    (in_place, "changed the losses"),
    (lambda losses, beta: np.convolve(losses, np.ones(5) / 5, mode="same"), "definition in exercise 06.1"),
]


@pytest.mark.parametrize("wrong, message", SMOOTHING_MISTAKES)
def test_each_usual_smoothing_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError) as err:
        checks.smooth_losses(wrong)
    assert str(err.value).startswith("[check 06.1] smooth_losses: FAILED") and message in str(err.value)
    status, graded = judged_apart(checks.smooth_losses, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


def test_a_smoothing_fitted_to_the_visible_inputs_fails_the_hidden_ones():
    table = {(len(c["losses"]), c["beta"]): good_smooth(c["losses"], c["beta"])
             for c in checks.smooth_losses.cases(checks.VISIBLE)}

    def memorised(losses, beta):
        return table.get((len(losses), beta), list(losses))

    assert judged_apart(checks.smooth_losses, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.smooth_losses, memorised, hidden_variant(secret))[0] == "failed"


STEEPEST_MISTAKES = [
    (lambda lrs, s: lrs[np.argmin(np.gradient(s, lrs))], "log of the learning rates as the coordinates"),
    (lambda lrs, s: lrs[np.argmin(np.gradient(s))], "log of the learning rates as the coordinates"),
    (lambda lrs, s: lrs[np.argmax(np.gradient(s, np.log(lrs)))], "most negative slope"),
    (lambda lrs, s: lrs[np.argmin(np.diff(s) / np.diff(np.log(lrs)))], "half a step off"),
    (lambda lrs, s: lrs[np.argmin(s)], "lowest loss"),
    (lambda lrs, s: int(np.argmin(np.gradient(s, np.log(lrs)))), "looks like an index"),
    (lambda lrs, s: lrs[np.argmin(np.gradient(s, np.log(lrs))) + 1], "which slope, per unit of what"),
    (lambda lrs, s: None, "returned None"),
    (lambda lrs, s: np.gradient(s, np.log(lrs)), "one learning rate"),
]


@pytest.mark.parametrize("wrong, message", STEEPEST_MISTAKES)
def test_each_usual_steepest_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError) as err:
        checks.steepest_lr(wrong)
    assert str(err.value).startswith("[check 06.2] steepest_lr: FAILED") and message in str(err.value)
    for secret in SECRETS:   # hidden sweeps are drawn so that every usual mistake shows on one of them
        status, graded = judged_apart(checks.steepest_lr, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded


def test_steepest_lr_that_changes_its_inputs_fails():
    def sorts_in_place(lrs, smoothed):
        smoothed.sort()
        return lrs[0]

    with pytest.raises(AssertionError, match="changed its inputs"):
        checks.steepest_lr(sorts_in_place)


def test_a_steepest_fitted_to_the_visible_inputs_fails_the_hidden_ones():
    answers = {len(c["lrs"]): good_steepest(np.array(c["lrs"]), np.array(c["smoothed"]))
               for c in checks.steepest_lr.cases(checks.VISIBLE)}

    def memorised(lrs, smoothed):
        return answers.get(len(lrs), lrs[0])

    assert judged_apart(checks.steepest_lr, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.steepest_lr, memorised, hidden_variant(secret))[0] == "failed"


def test_not_attempted_and_crash():
    def todo(*args):
        raise NotImplementedError

    for check in (checks.smooth_losses, checks.steepest_lr):
        with pytest.raises(NotImplementedError):
            check(todo)
        assert judged_apart(check, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.smooth_losses, lambda losses, beta: losses[len(losses)], checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised IndexError")


def test_the_visible_inputs_tell_the_usual_mistakes_apart():
    # every mistake gives a different answer from the right one on at least one visible input,
    # so the messages above are reachable without the hidden inputs
    visible = [(np.array(c["lrs"]), np.array(c["smoothed"])) for c in checks.steepest_lr.cases(checks.VISIBLE)]
    for lrs, smoothed in visible:
        assert good_steepest(lrs, smoothed) == lesson06._steepest(lrs, smoothed)
    for message in lesson06._wrong_steepests(*visible[0]):
        assert any(not np.isclose(lesson06._wrong_steepests(lrs, s)[message], good_steepest(lrs, s))
                   for lrs, s in visible), message
    smoothing = [(np.array(c["losses"]), c["beta"]) for c in checks.smooth_losses.cases(checks.VISIBLE)]
    for message in lesson06._wrong_smoothings(*smoothing[0]):
        assert all(not np.allclose(lesson06._wrong_smoothings(losses, beta)[message], good_smooth(losses, beta))
                   for losses, beta in smoothing[:2]), message


def test_failure_messages_never_show_the_expected_values():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.smooth_losses.cases(variant):
            want = good_smooth(case["losses"], case["beta"])
            for wrong, _ in SMOOTHING_MISTAKES[:5] + SMOOTHING_MISTAKES[-1:]:
                got = np.asarray(wrong(np.array(case["losses"]), case["beta"]), dtype=float)
                status, message = verdict_of(checks.smooth_losses, case, {"smoothed": got,
                                                                          "losses_after": case["losses"]})
                if status == "failed":
                    assert not shown(message, want, besides=[*case["losses"], case["beta"], len(want)]), message
                    assert "beta**t" not in message and "1 - beta" not in message.replace("beta and 1 - beta", "")
        for case in checks.steepest_lr.cases(variant):
            lrs, smoothed = np.array(case["lrs"]), np.array(case["smoothed"])
            want = good_steepest(lrs, smoothed)
            for wrong, _ in STEEPEST_MISTAKES[:7]:
                got = wrong(lrs, smoothed)
                status, message = verdict_of(checks.steepest_lr, case, {"lr": got, "lrs_after": case["lrs"],
                                                                        "smoothed_after": case["smoothed"]})
                if got != want:
                    assert status == "failed"
                    assert not shown(message, [want], besides=[lrs[0], lrs[-1], got]), message
                    assert "np.gradient(smoothed, np.log(lrs))" not in message and "argmin(" not in message
