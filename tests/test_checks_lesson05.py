"""Checks of lesson 05: right answers pass (visible and hidden inputs), each usual mistake fails with a hint,
and answers hard-coded for the visible inputs fail the hidden ones."""
import math

import pytest

from course_utils import checks, schedules
from course_utils.checks import lesson05


# ----------------------------------------------------------------------------- 05.1 warmup + cosine

def right_lr(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr):
    if step < warmup_steps:
        return peak_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return final_lr + (peak_lr - final_lr) * (1 + math.cos(math.pi * progress)) / 2


def library_lr(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr):
    return schedules.warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, start_factor=start_factor,
                                      final_lr=final_lr)


@pytest.mark.parametrize("hidden", [False, True])
def test_right_warmup_cosine_passes(hidden, capsys):
    checks.warmup_cosine_lr(right_lr, hidden=hidden)
    checks.warmup_cosine_lr(library_lr, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == ["[check 05.1] warmup_cosine_lr: PASSED"] * 2


def _wrong_period(step, peak, w, total, s, final):       # cosine over all the steps
    if step < w:
        return right_lr(step, peak, w, total, s, final)
    return final + (peak - final) * (1 + math.cos(math.pi * step / total)) / 2


def _warmup_from_zero(step, peak, w, total, s, final):
    return peak * step / w if step < w else right_lr(step, peak, w, total, s, final)


def _warmup_one_short(step, peak, w, total, s, final):   # reaches the peak one step early
    if step < w:
        return peak * (s + (1 - s) * step / max(w - 1, 1))
    return right_lr(step, peak, w, total, s, final)


def _no_final(step, peak, w, total, s, final):
    return right_lr(step, peak, w, total, s, 0.0)


@pytest.mark.parametrize("wrong, hint", [
    (_wrong_period, "remaining total_steps - warmup_steps"),
    (_warmup_from_zero, "start_factor * peak_lr"),
    (_warmup_one_short, "reaching peak_lr at step == warmup_steps"),
    (_no_final, "ends at final_lr"),
    (lambda *args: None, "returned None"),
    (lambda step, *args: [0.1, 0.2], "one number"),
])
def test_wrong_warmup_cosine_fails_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 05\.1\] warmup_cosine_lr: FAILED") as info:
        checks.warmup_cosine_lr(wrong)
    assert hint in str(info.value)


def test_hard_coded_warmup_cosine_fails_the_hidden_variant():
    table = {(case, step): float(lesson05.warmup_cosine_reference(*case)[step])
             for case in lesson05._WARMUP_CASES for step in range(case[2])}

    def memorised(step, *setting):
        return table[(setting, step)]

    checks.warmup_cosine_lr(memorised)
    with pytest.raises(AssertionError, match="FAILED"):
        checks.warmup_cosine_lr(memorised, hidden=True)


def test_not_implemented_passes_through():
    def todo(*args):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.warmup_cosine_lr(todo)
    with pytest.raises(NotImplementedError):
        checks.plateau_reductions(todo)


# ----------------------------------------------------------------------------- 05.2 plateau reductions

def rule(losses, patience, threshold, *, against="best", cut_at=1, reset=True, first_epoch=0):
    """ReduceLROnPlateau's rule, written out, with switches for the usual mistakes."""
    best, bad, cuts = math.inf, 0, []
    for epoch, loss in enumerate(losses):
        better = loss < best * (1 - threshold)
        best = loss if (better or against == "previous") else best
        bad = 0 if better else bad + 1
        if bad >= patience + cut_at:
            cuts.append(epoch + first_epoch)
            bad = 0 if reset else bad
    return cuts


def right_reductions(losses, patience, threshold):
    return rule(losses, patience, threshold)


def _against_previous(losses, patience, threshold):
    return rule(losses, patience, threshold, against="previous")


def _one_early(losses, patience, threshold):   # >= patience instead of > patience (kept >= 1 for patience 0)
    return rule(losses, max(patience, 1), threshold, cut_at=0)


def _no_reset(losses, patience, threshold):
    return rule(losses, patience, threshold, reset=False)


def _no_threshold(losses, patience, threshold):
    return rule(losses, patience, 0.0)


def _one_based(losses, patience, threshold):
    return rule(losses, patience, threshold, first_epoch=1)


@pytest.mark.parametrize("hidden", [False, True])
def test_right_reductions_pass(hidden, capsys):
    checks.plateau_reductions(right_reductions, hidden=hidden)
    assert capsys.readouterr().out == "[check 05.2] plateau_reductions: PASSED\n"


@pytest.mark.parametrize("wrong, hint", [
    (_against_previous, "lowest loss so far"),
    (_one_early, "one epoch early"),
    (_no_reset, "starts again from 0"),
    (_no_threshold, "best * (1 - threshold)"),
    (_one_based, "one epoch late"),
    (lambda losses, p, t: None, "returned None"),
    (lambda losses, p, t: "7, 12", "list of integer epochs"),
])
def test_wrong_reductions_fail_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 05\.2\] plateau_reductions: FAILED") as info:
        checks.plateau_reductions(wrong)
    assert hint in str(info.value)


def test_hard_coded_reductions_fail_the_hidden_variant():
    answers = {tuple(losses): lesson05.plateau_reference(losses, p, t) for losses, p, t in lesson05._PLATEAU_CASES}

    def memorised(losses, patience, threshold):
        return answers.get(tuple(losses), [])

    checks.plateau_reductions(memorised)
    with pytest.raises(AssertionError, match="FAILED"):
        checks.plateau_reductions(memorised, hidden=True)


def test_the_reference_is_pytorch_and_agrees_with_the_hand_written_rule():
    for losses, patience, threshold in lesson05._PLATEAU_CASES + lesson05._PLATEAU_HIDDEN:
        assert lesson05.plateau_reference(losses, patience, threshold) == right_reductions(losses, patience, threshold)


def test_registry_knows_lesson_05():
    assert checks.REGISTRY["05.1"].name == "warmup_cosine_lr" and checks.REGISTRY["05.1"].points == 2
    assert checks.REGISTRY["05.2"].name == "plateau_reductions" and checks.REGISTRY["05.2"].lesson == "05"
