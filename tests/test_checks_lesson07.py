"""Checks of lesson 07: right answers pass (visible and hidden inputs), wrong ones fail with a hint."""
import math

import pytest

from course_utils import checks
from course_utils.summaries import generalization_gap as reference_gap


def right_gap(history):
    return history.train_eval_acc[-1] - history.val_acc[-1]


def right_best(histories):
    ok = {lr: max(h.val_acc) for lr, h in histories.items() if not h.diverged}
    return max(ok, key=ok.get)


@pytest.mark.parametrize("hidden", [False, True])
def test_right_answers_pass(hidden, capsys):
    checks.generalization_gap(right_gap, hidden=hidden)
    checks.generalization_gap(reference_gap, hidden=hidden)
    checks.pick_best_lr(right_best, hidden=hidden)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[check 07.1] generalization_gap: PASSED"] * 2 + ["[check 07.2] pick_best_lr: PASSED"]


@pytest.mark.parametrize("wrong, hint", [
    (lambda h: h.val_acc[-1] - h.train_eval_acc[-1], "train_eval_acc[-1] - history.val_acc[-1]"),  # sign flipped
    (lambda h: max(h.train_eval_acc) - max(h.val_acc), "last epoch"),                    # best, not final
    (lambda h: [t - v for t, v in zip(h.train_eval_acc, h.val_acc)], "not a list"),       # every epoch
    (lambda h: None, "return a number"),
    (lambda h: h.train_acc[-1] - h.val_acc[-1], "running mean over augmented minibatches"),  # the old definition
])
def test_wrong_gaps_fail_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 07.1\] generalization_gap: FAILED") as info:
        checks.generalization_gap(wrong)
    assert hint in str(info.value)


@pytest.mark.parametrize("wrong", [
    lambda hs: max(hs, key=lambda lr: max(hs[lr].val_acc)),                 # ignores divergence
    lambda hs: max((lr for lr in hs if not hs[lr].diverged), key=lambda lr: hs[lr].val_acc[-1]),  # final, not best
    lambda hs: 1e-3,                                                         # hard-coded
])
def test_wrong_picks_fail_on_visible_or_hidden_inputs(wrong):
    failures = 0
    for hidden in (False, True):
        try:
            checks.pick_best_lr(wrong, hidden=hidden)
        except AssertionError as err:
            assert "[check 07.2] pick_best_lr: FAILED" in str(err) and "diverged" in str(err)
            failures += 1
    assert failures >= 1


def test_hard_coded_pick_fails_the_hidden_variant():
    checks.pick_best_lr(lambda hs: 1e-3)  # happens to be right on the visible inputs
    with pytest.raises(AssertionError):
        checks.pick_best_lr(lambda hs: 1e-3, hidden=True)


def test_not_implemented_passes_through():
    def todo(history):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.generalization_gap(todo)


def test_registry_knows_lesson_07():
    assert checks.REGISTRY["07.1"].name == "generalization_gap"
    assert checks.REGISTRY["07.2"].points == 2 and checks.REGISTRY["07.2"].lesson == "07"
    assert math.isnan(reference_gap(type("H", (), {"train_eval_acc": [], "val_acc": []})()))
