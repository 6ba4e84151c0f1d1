"""Checks 06.1 (bias-corrected smoothing), 06.2 (steepest-slope rule) and 06.3 (predict where a bowl's range test
turns up): right answers pass the visible variant
and hidden ones judged apart, each usual mistake fails with its own message, answers fitted to the visible inputs
fail the hidden ones, and no message shows the expected values."""
import math

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
    upto = int(np.argmin(smoothed)) + 1
    slope = np.gradient(smoothed[:upto], np.log(lrs[:upto]))
    return lrs[np.argmin(slope)]


def good_steepest_central(lrs, smoothed):   # the slope on the whole sweep, read up to the lowest point: as good
    slope = np.gradient(smoothed, np.log(lrs))
    return lrs[np.argmin(slope[:int(np.argmin(smoothed)) + 1])]


def good_rise(lam, lrs):
    return lrs[lrs > 2 / lam][0]


def _upto(lrs, s):
    upto = int(np.argmin(s)) + 1
    return lrs[:upto], s[:upto]


def test_correct_answers_pass_in_the_notebook(capsys):
    checks.smooth_losses(good_smooth)
    checks.steepest_lr(good_steepest)
    checks.smooth_losses(lambda losses, beta: torch.tensor(good_smooth(losses, beta)))
    checks.steepest_lr(good_steepest_central)
    checks.first_rise_lr(good_rise)
    assert capsys.readouterr().out.splitlines() == [
        "[check 06.1] smooth_losses: PASSED", "[check 06.2] steepest_lr: PASSED", "[check 06.1] smooth_losses: PASSED",
        "[check 06.2] steepest_lr: PASSED", "[check 06.3] first_rise_lr: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
def test_correct_answers_pass_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.smooth_losses, good_smooth, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.steepest_lr, good_steepest, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.steepest_lr, good_steepest_central, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.first_rise_lr, good_rise, hidden_variant(secret)) == ("passed", "")


def test_hidden_inputs_depend_on_the_secret_and_keep_the_edge_cases():
    for check in (checks.smooth_losses, checks.steepest_lr, checks.first_rise_lr):
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
    (lambda lrs, s: (lambda l, v: l[np.argmin(np.gradient(v, l))])(*_upto(lrs, s)), "log of the learning rates"),
    (lambda lrs, s: (lambda l, v: l[np.argmin(np.gradient(v))])(*_upto(lrs, s)), "log of the learning rates"),
    (lambda lrs, s: lrs[np.argmin(np.gradient(s, np.log(lrs)))], "past its lowest point"),
    (lambda lrs, s: (lambda l, v: l[np.argmax(np.gradient(v, np.log(l)))])(*_upto(lrs, s)), "most negative slope"),
    (lambda lrs, s: (lambda l, v: l[np.argmin(np.diff(v) / np.diff(np.log(l)))])(*_upto(lrs, s)), "half a step off"),
    (lambda lrs, s: lrs[np.argmin(s)], "lowest loss"),
    (lambda lrs, s: int(np.argmin(np.gradient(_upto(lrs, s)[1], np.log(_upto(lrs, s)[0])))), "looks like an index"),
    (lambda lrs, s: good_steepest(lrs, s) * 1.5, "which part of the sweep"),
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

    for check in (checks.smooth_losses, checks.steepest_lr, checks.first_rise_lr):
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
        assert np.argmin(smoothed) < len(lrs) - 5      # a blow-up and a dead network after the lowest point
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
                    assert not shown(message, [want], besides=[len(lrs), got]), message
                    assert "np.gradient(smoothed, np.log(lrs))" not in message and "argmin(" not in message
        for case in checks.first_rise_lr.cases(variant):
            lrs = np.array(case["lrs"])
            want = good_rise(case["lam"], lrs)
            for wrong, _ in RISE_MISTAKES[:4]:
                got = wrong(case["lam"], lrs)
                status, message = verdict_of(checks.first_rise_lr, case, {"lr": got, "lrs_after": case["lrs"]})
                assert status == "failed"
                assert not shown(message, [want], besides=[case["lam"], len(lrs), got]), message
                assert "2 / lam" not in message and "2/λ" not in message and "lrs > " not in message


RISE_MISTAKES = [
    (lambda lam, lrs: 2 / lam, "does not step on"),
    (lambda lam, lrs: lrs[lrs > 1 / lam][0], "square of the factor"),
    (lambda lam, lrs: lrs[lrs < 2 / lam][-1], "still falls"),
    (lambda lam, lrs: int(np.flatnonzero(lrs > 2 / lam)[0]), "looks like an index"),
    (lambda lam, lrs: lrs[lrs > 2 / lam][1], "first_rise_lr(lam="),
    (lambda lam, lrs: None, "returned None"),
    (lambda lam, lrs: lrs[lrs > 2 / lam], "one number"),
]


@pytest.mark.parametrize("wrong, message", RISE_MISTAKES)
def test_each_usual_rise_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError) as err:
        checks.first_rise_lr(wrong)
    assert str(err.value).startswith("[check 06.3] first_rise_lr: FAILED") and message in str(err.value)
    for secret in SECRETS:
        status, graded = judged_apart(checks.first_rise_lr, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded


def test_rise_answers_that_change_the_sweep_or_are_memorised_fail():
    def sorts_in_place(lam, lrs):
        lrs[:] = lrs[::-1]
        return good_rise(lam, lrs[::-1].copy())

    with pytest.raises(AssertionError, match="changed the lrs"):
        checks.first_rise_lr(sorts_in_place)
    answers = {c["lam"]: good_rise(c["lam"], np.array(c["lrs"])) for c in checks.first_rise_lr.cases(checks.VISIBLE)}

    def memorised(lam, lrs):
        return answers.get(lam, lrs[0])

    assert judged_apart(checks.first_rise_lr, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.first_rise_lr, memorised, hidden_variant(secret))[0] == "failed"


def test_the_rise_predicted_is_what_a_range_test_on_a_line_measures():
    from course_utils import bowl_model, lr_finder

    for case in checks.first_rise_lr.cases(hidden_variant(SECRETS[0]))[:2] + checks.first_rise_lr.cases(checks.VISIBLE)[:1]:
        lrs = np.array(case["lrs"])
        model = bowl_model.BowlModel([[case["lam"]]], (1.5,)).to(torch.float64)
        sweep = lr_finder.range_test(model, torch.optim.SGD(model.parameters(), lr=0.1), model.loader(),
                                     loss_fn=bowl_model.bowl_loss, start_lr=lrs[0], end_lr=lrs[-1],
                                     num_steps=len(lrs), mode=lesson06._kind(lrs)[:3].replace("lin", "linear"),
                                     beta=0.0, diverge_factor=math.inf, progress=False)
        rises = np.flatnonzero(np.diff(sweep.losses) > 0)
        assert sweep.lrs[rises[0]] == pytest.approx(good_rise(case["lam"], lrs), rel=1e-9)
