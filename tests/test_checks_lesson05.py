"""Checks of lesson 05: right answers pass the visible variant and hidden ones judged apart, each usual mistake
fails with its message, answers memorised from the visible inputs fail the hidden ones, and no message shows
the expected schedule or cuts."""
import math

import numpy as np
import pytest
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks, run_faults, schedules
from course_utils.checks import hidden_variant, lesson05

# ----------------------------------------------------------------------------- 05.1 warmup + cosine


def right_lr(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr):
    if step < warmup_steps:
        return peak_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return final_lr + (peak_lr - final_lr) * (1 + math.cos(math.pi * progress)) / 2


def library_lr(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr):
    return schedules.warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, start_factor=start_factor,
                                      final_lr=final_lr)


def test_right_answers_pass_in_the_notebook(capsys):
    checks.warmup_cosine_lr(right_lr)
    checks.warmup_cosine_lr(library_lr)
    checks.plateau_reductions(right_reductions)
    assert capsys.readouterr().out.splitlines() == ["[check 05.1] warmup_cosine_lr: PASSED"] * 2 + [
        "[check 05.2] plateau_reductions: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
def test_right_answers_pass_hidden_variants_judged_apart(secret):
    for check, answer in ((checks.warmup_cosine_lr, right_lr), (checks.warmup_cosine_lr, library_lr),
                          (checks.plateau_reductions, right_reductions)):
        assert judged_apart(check, answer, hidden_variant(secret)) == ("passed", "")


def test_hidden_settings_depend_on_the_secret_and_cover_the_edges():
    for check in (checks.warmup_cosine_lr, checks.plateau_reductions):
        assert drawn_from_the_secret(check), check.name
    for secret in SECRETS:
        cases = checks.warmup_cosine_lr.cases(hidden_variant(secret))
        assert any(c["warmup_steps"] == 0 for c in cases) and any(c["final_lr"] > 0 < c["warmup_steps"] for c in cases)
        assert any(c["total_steps"] - c["warmup_steps"] <= 3 for c in cases)   # a cosine of very few steps


def _wrong_period(step, peak, w, total, s, final):       # cosine over all the steps
    if step < w:
        return right_lr(step, peak, w, total, s, final)
    return final + (peak - final) * (1 + math.cos(math.pi * step / total)) / 2


def _clock_from_zero(step, peak, w, total, s, final):    # the cosine's progress counted from step 0
    if step < w:
        return right_lr(step, peak, w, total, s, final)
    return final + (peak - final) * (1 + math.cos(math.pi * min(step / (total - w), 1.0))) / 2


def _warmup_from_zero(step, peak, w, total, s, final):
    return peak * step / w if step < w else right_lr(step, peak, w, total, s, final)


def _warmup_one_short(step, peak, w, total, s, final):   # reaches the peak one step early
    if step < w:
        return peak * (s + (1 - s) * step / max(w - 1, 1))
    return right_lr(step, peak, w, total, s, final)


def _no_final(step, peak, w, total, s, final):
    return right_lr(step, peak, w, total, s, 0.0)


def _linear_decay(step, peak, w, total, s, final):       # a mistake the check does not know: the general message
    return schedules.warmup_linear_lr(step, peak, w, total, start_factor=s, final_lr=final)


WARMUP_MISTAKES = [
    (_wrong_period, "span only the steps that remain"),
    (_clock_from_zero, "clock starts at step 0"),
    (_warmup_from_zero, "warmup starts from zero"),
    (_warmup_one_short, "one step early"),
    (_no_final, "ends at 0 rather than at final_lr"),
    (_linear_decay, "After the warmup, check the cosine"),
    (lambda *args: None, "returned None at step 0"),
    (lambda step, *setting: [right_lr(step, *setting)] * 2, "one number for one step"),
]


@pytest.mark.parametrize("wrong, message", WARMUP_MISTAKES)
def test_each_warmup_cosine_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 05\.1\] warmup_cosine_lr: FAILED") as info:
        checks.warmup_cosine_lr(wrong)
    assert message in str(info.value)
    status, graded = judged_apart(checks.warmup_cosine_lr, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


def test_a_memorised_schedule_passes_visible_and_fails_hidden():
    table = {(tuple(c.values()), step): right_lr(step, *c.values())
             for c in checks.warmup_cosine_lr.cases(checks.VISIBLE) for step in range(c["total_steps"])}

    def memorised(step, *setting):
        return table.get((setting, step), 0.01)

    assert judged_apart(checks.warmup_cosine_lr, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.warmup_cosine_lr, memorised, hidden_variant(secret))[0] == "failed"


def test_not_attempted_and_crash():
    def todo(*args):
        raise NotImplementedError

    for check in (checks.warmup_cosine_lr, checks.plateau_reductions):
        with pytest.raises(NotImplementedError):
            check(todo)
        assert judged_apart(check, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
    def crashes_without_warmup(step, peak, w, total, s, final):
        return right_lr(step, peak, w, total, s, final) if w else peak / w

    status, message = checks.warmup_cosine_lr.grade(crashes_without_warmup)
    assert status == "failed" and message.startswith("your code raised ZeroDivisionError")


def test_schedule_messages_never_show_the_expected_lrs():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.warmup_cosine_lr.cases(variant):
            want = lesson05.warmup_cosine_reference(*case.values())
            for wrong, _ in WARMUP_MISTAKES[:6]:
                got = [wrong(step, *case.values()) for step in range(case["total_steps"])]
                status, message = verdict_of(checks.warmup_cosine_lr, case, got)
                if np.allclose(got, want, rtol=1e-6, atol=1e-12):
                    continue
                assert status == "failed"
                assert not shown(message, want, besides=list(case.values()) + list(range(case["total_steps"]))), message
                assert "cos(" not in message and "pi *" not in message and "step / warmup" not in message


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


PLATEAU_MISTAKES = [
    (_against_previous, "best loss so far"),
    (_one_early, "one epoch early"),
    (_no_reset, "starts again from 0"),
    (_no_threshold, "what threshold means"),
    (_one_based, "one epoch late"),
    (lambda losses, p, t: [0], "Re-read the rule"),
    (lambda losses, p, t: None, "returned None"),
    (lambda losses, p, t: "7, 12", "list of integer epochs"),
    (lambda losses, p, t: [1.5], "list of integer epochs"),
]


@pytest.mark.parametrize("wrong, message", PLATEAU_MISTAKES)
def test_each_plateau_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 05\.2\] plateau_reductions: FAILED") as info:
        checks.plateau_reductions(wrong)
    assert message in str(info.value)
    for secret in SECRETS:   # hidden variants are drawn so that every usual mistake shows on one of their cases
        status, graded = judged_apart(checks.plateau_reductions, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded


def test_memorised_reductions_pass_visible_and_fail_hidden():
    answers = {tuple(c["losses"]): right_reductions(**c) for c in checks.plateau_reductions.cases(checks.VISIBLE)}

    def memorised(losses, patience, threshold):
        return answers.get(tuple(losses), [])

    assert judged_apart(checks.plateau_reductions, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.plateau_reductions, memorised, hidden_variant(secret))[0] == "failed"


def test_plateau_messages_never_show_the_expected_cuts():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.plateau_reductions.cases(variant):
            want = right_reductions(**case)
            for wrong in ([999], [], *(w(**case) for w, _ in PLATEAU_MISTAKES[:5])):
                if wrong == want:
                    continue
                status, message = verdict_of(checks.plateau_reductions, case, wrong)
                assert status == "failed" and str(want) not in message.replace(str(case["losses"]), "")
                assert not shown(message, want, besides=[*case["losses"], case["patience"], case["threshold"],
                                                         *wrong, 0, 1]), message


def test_the_reference_is_pytorch_and_agrees_with_the_hand_written_rule():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1])):
        for case in checks.plateau_reductions.cases(variant):
            assert lesson05.plateau_reference(**case) == right_reductions(**case) == lesson05._plateau_rule(**case)


def test_registry_and_hints():
    assert checks.REGISTRY["05.1"].name == "warmup_cosine_lr" and checks.REGISTRY["05.1"].points == 2
    assert checks.REGISTRY["05.2"].name == "plateau_reductions" and checks.REGISTRY["05.2"].lesson == "05"
    for check in (checks.warmup_cosine_lr, checks.plateau_reductions):
        assert 2 <= len(check.hints) <= 4
        assert all("cos(" not in h and "best * (1 - threshold)" not in h for h in check.hints)


# ----------------------------------------------------------------------------- 05.3 diagnose a run

def right_diagnosis(lrs, losses, steps_per_epoch):
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    if losses[-1] > 10 * losses[0]:
        return "too large"
    lowered = np.flatnonzero(lrs < lrs[0])
    if lowered.size:
        return "stepped per batch" if lowered[0] < steps_per_epoch else "cut too early"
    return "needs warmup" if losses.max() > 1.5 * losses[0] else "too small"


def _swap(truth_from, answer):
    """A diagnosis that gets every run right except those of cause ``truth_from``, which it calls ``answer``."""
    def diagnose(lrs, losses, steps_per_epoch):
        right = right_diagnosis(lrs, losses, steps_per_epoch)
        return answer if right == truth_from else right
    return diagnose


DIAGNOSIS_MISTAKES = [
    (_swap("stepped per batch", "too small"), "its lr during the first epoch"),      # read the loss only
    (_swap("stepped per batch", "cut too early"), "before the first epoch ended"),  # the drop's time not in epochs
    (_swap("cut too early", "stepped per batch"), "within the first epoch"),
    (_swap("needs warmup", "too large"), "where this run's loss ends"),             # a jump read as divergence
    (_swap("too small", "needs warmup"), "ever jump above"),
    (_swap("too large", "too small"), "read the run's lr trace and its loss again"),  # a mistake without its message
    (lambda lrs, losses, spe: "diverged", "one of the five causes"),
    (lambda lrs, losses, spe: None, "returned None"),
    (lambda lrs, losses, spe: 3, "one of the five causes"),
]


def test_the_diagnosis_passes_visible_and_hidden_variants_judged_apart(capsys):
    checks.diagnose_schedule_run(right_diagnosis)
    assert capsys.readouterr().out.strip() == "[check 05.3] diagnose_schedule_run: PASSED"
    for secret in SECRETS:
        assert judged_apart(checks.diagnose_schedule_run, right_diagnosis, hidden_variant(secret)) == ("passed", "")
    assert drawn_from_the_secret(checks.diagnose_schedule_run)


def test_every_cause_is_asked_and_the_generated_runs_are_told_apart_by_their_curves():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1])):
        cases = checks.diagnose_schedule_run.cases(variant)
        causes = [run_faults.fault_run(c["seed"])["cause"] for c in cases]
        assert set(causes) == set(run_faults.CAUSES)
        assert all("cause" not in c for c in cases)                 # the learner's process is not told the answer
    for seed in range(1, 400):                                     # the five shapes are distinct on every draw
        run = run_faults.fault_run(seed)
        assert right_diagnosis(run["lr"], run["loss"], run["steps_per_epoch"]) == run["cause"], seed


@pytest.mark.parametrize("wrong, message", DIAGNOSIS_MISTAKES)
def test_each_diagnosis_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 05\.3\] diagnose_schedule_run: FAILED") as info:
        checks.diagnose_schedule_run(wrong)
    assert message in str(info.value)
    for secret in SECRETS:
        status, graded = judged_apart(checks.diagnose_schedule_run, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded


def test_a_memorised_diagnosis_passes_visible_and_fails_hidden():
    answers = {tuple(c["loss"][:5]): run_faults.fault_run(c["seed"])["cause"]
               for c in checks.diagnose_schedule_run.cases(checks.VISIBLE)}

    def memorised(lrs, losses, steps_per_epoch):
        return answers.get(tuple(losses[:5]), "too small")

    assert judged_apart(checks.diagnose_schedule_run, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.diagnose_schedule_run, memorised, hidden_variant(secret))[0] == "failed"


def test_diagnosis_not_attempted_crash_and_no_cause_named_in_a_message():
    def stub(lrs, losses, steps_per_epoch):
        raise NotImplementedError

    def crash(lrs, losses, steps_per_epoch):
        return losses[10**6]

    assert judged_apart(checks.diagnose_schedule_run, stub, checks.VISIBLE)[0] == "not attempted"
    status, message = judged_apart(checks.diagnose_schedule_run, crash, checks.VISIBLE)
    assert status == "failed" and "IndexError" in message
    for case in checks.diagnose_schedule_run.cases(hidden_variant(SECRETS[0])):
        truth = run_faults.fault_run(case["seed"])["cause"]
        for wrong in run_faults.CAUSES:
            if wrong == truth:
                continue
            status, message = verdict_of(checks.diagnose_schedule_run, case, wrong)
            assert status == "failed" and repr(truth) not in message and f'"{truth}"' not in message
            assert truth not in message.replace(repr(wrong), ""), message


def test_diagnosis_registry_and_hints():
    check = checks.REGISTRY["05.3"]
    assert check.name == "diagnose_schedule_run" and check.answer == "diagnose" and check.kind == "diagnose" and check.lesson == "05"
    assert 2 <= len(check.hints) <= 4
    assert all(cause not in hint for hint in check.hints for cause in run_faults.CAUSES)
