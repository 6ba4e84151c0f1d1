"""Checks of lesson 07: right answers pass the visible variant and hidden ones judged apart, each recognised
mistake fails with its message, memorised answers fail the hidden variant, and no message shows the answer."""
import math

import numpy as np
import pytest
from check_support import SECRETS, drawn_from_the_secret, judged_apart, shown, verdict_of

from course_utils import checks
from course_utils.checks import hidden_variant, lesson07
from course_utils.summaries import generalization_gap as reference_gap


def run(case):
    """The History the check builds from a 07.1 case."""
    return lesson07._history(case["lr"], case["train_eval_acc"], case["val_acc"])


def right_gap(history):
    return history.train_eval_acc[-1] - history.val_acc[-1]


def right_best(histories):
    ok = {lr: max(h.val_acc) for lr, h in histories.items() if not h.diverged}
    return max(ok, key=ok.get)


def test_right_answers_pass_in_the_notebook(capsys):
    checks.generalization_gap(right_gap)
    checks.generalization_gap(reference_gap)
    checks.pick_best_lr(right_best)
    out = capsys.readouterr().out.splitlines()
    assert out == ["[check 07.1] generalization_gap: PASSED"] * 2 + ["[check 07.2] pick_best_lr: PASSED"]


@pytest.mark.parametrize("secret", SECRETS)
def test_right_answers_pass_hidden_variants_judged_apart(secret):
    for check, answer in ((checks.generalization_gap, right_gap), (checks.generalization_gap, reference_gap),
                          (checks.pick_best_lr, right_best)):
        assert judged_apart(check, answer, hidden_variant(secret)) == ("passed", "")


def test_hidden_histories_depend_on_the_secret_and_hold_the_traps():
    for check in (checks.generalization_gap, checks.pick_best_lr):
        assert drawn_from_the_secret(check), check.name
    for secret in SECRETS:
        for case in checks.pick_best_lr.cases(hidden_variant(secret)):
            runs = case["runs"]
            best = max(max(r["val_acc"]) for r in runs if not r["diverged"])
            assert any(r["diverged"] and max(r["val_acc"]) > best for r in runs)   # the diverged run was ahead
            winner = [r for r in runs if max(r["val_acc"]) == best][0]
            assert any(not r["diverged"] and r["val_acc"][-1] > winner["val_acc"][-1] for r in runs)
            assert all(0 < a < 1 for r in runs for a in r["val_acc"] + r["train_acc"])


GAP_MISTAKES = [
    (lambda h: h.val_acc[-1] - h.train_eval_acc[-1], "the other way round"),
    (lambda h: max(h.train_eval_acc) - max(h.val_acc), "each curve's best epoch"),
    (lambda h: h.train_eval_acc[0] - h.val_acc[0], "first epoch's gap"),
    (lambda h: float(np.mean(np.subtract(h.train_eval_acc, h.val_acc))), "averages over the epochs"),
    (lambda h: 100 * (h.train_eval_acc[-1] - h.val_acc[-1]), "fractions between 0 and 1"),
    (lambda h: h.train_acc[-1] - h.val_acc[-1], "running mean over each epoch's augmented minibatches"),
    (lambda h: (h.train_eval_acc[-1] - h.val_acc[-1]) / 2, "Re-read exercise 07.1"),
    (lambda h: [t - v for t, v in zip(h.train_eval_acc, h.val_acc)], "not a list"),
    (lambda h: None, "return a number"),
    (lambda h: h, "should return numbers"),
]


@pytest.mark.parametrize("wrong, message", GAP_MISTAKES)
def test_each_gap_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 07.1\] generalization_gap: FAILED") as info:
        checks.generalization_gap(wrong)
    assert message in str(info.value)
    status, graded = judged_apart(checks.generalization_gap, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


PICK_MISTAKES = [
    (lambda hs: max(hs, key=lambda lr: max(hs[lr].val_acc)), "that run diverged"),
    (lambda hs: max((lr for lr in hs if not hs[lr].diverged), key=lambda lr: hs[lr].val_acc[-1]), "last epochs"),
    (lambda hs: max((lr for lr in hs if not hs[lr].diverged), key=lambda lr: max(hs[lr].train_eval_acc)),
     "training accuracies"),
    (lambda hs: max(max(h.val_acc) for h in hs.values() if not h.diverged), "that is an accuracy"),
    (lambda hs: 0.5 * right_best(hs), "which runs are candidates"),
    (lambda hs: None, "returned None"),
    (lambda hs: hs, "should return numbers"),
    (lambda hs: str(right_best(hs)), "should return a learning rate"),
]


@pytest.mark.parametrize("wrong, message", PICK_MISTAKES)
def test_each_pick_mistake_fails_with_its_message(wrong, message):
    failures = 0
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1])):
        status, graded = judged_apart(checks.pick_best_lr, wrong, variant)
        assert status == "failed" or variant is checks.VISIBLE, (variant, graded)   # hidden variants hold every trap
        if status == "failed":
            assert message in graded
            failures += 1
    assert failures >= 2


def test_memorised_answers_pass_visible_and_fail_hidden():
    assert judged_apart(checks.pick_best_lr, lambda hs: 1e-3, checks.VISIBLE) == ("passed", "")
    gaps = {tuple(c["val_acc"]): right_gap(run(c)) for c in checks.generalization_gap.cases(checks.VISIBLE)}
    memorised_gap = lambda h: gaps.get(tuple(h.val_acc), 0.0)  # noqa: E731
    assert judged_apart(checks.generalization_gap, memorised_gap, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.pick_best_lr, lambda hs: 1e-3, hidden_variant(secret))[0] == "failed"
        assert judged_apart(checks.generalization_gap, memorised_gap, hidden_variant(secret))[0] == "failed"


def test_not_attempted_and_crash():
    def todo(history):
        raise NotImplementedError

    for check in (checks.generalization_gap, checks.pick_best_lr):
        with pytest.raises(NotImplementedError):
            check(todo)
        assert judged_apart(check, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
    status, message = judged_apart(checks.generalization_gap, lambda h: h.test_acc[-1], checks.VISIBLE)
    assert status == "failed" and message.startswith("your code raised AttributeError")


def test_failure_messages_never_show_the_answer():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.generalization_gap.cases(variant):
            want = right_gap(run(case))
            for wrong in (want + 0.5, -want, want * 100 if want else 0.3):
                status, message = verdict_of(checks.generalization_gap, case, wrong)
                assert status == "failed" and not shown(message, [want], besides=[len(case["val_acc"])]), message
                assert "train_eval_acc[-1] - " not in message
        for case in checks.pick_best_lr.cases(variant):
            want = right_best({r["lr"]: lesson07._history(**r) for r in case["runs"]})
            wrong = min(r["lr"] for r in case["runs"] if r["lr"] != want)
            status, message = verdict_of(checks.pick_best_lr, case, wrong)
            assert status == "failed" and "you picked" not in message and "max(" not in message
            listed = [r["lr"] for r in case["runs"]]   # the message lists the runs' lrs, in the given order
            assert not shown(message.replace(", ".join(f"{lr:g}" for lr in listed), ""), [want]), message


def test_registry_knows_lesson_07():
    assert checks.REGISTRY["07.1"].name == "generalization_gap"
    assert checks.REGISTRY["07.3"].kind == "predict" and checks.REGISTRY["07.4"].kind == "diagnose"
    assert checks.REGISTRY["07.2"].points == 2 and checks.REGISTRY["07.2"].lesson == "07"
    assert math.isnan(reference_gap(type("H", (), {"train_eval_acc": [], "val_acc": []})()))


# --------------------------------------------------------------------------------------- 07.3 Adam's first step

def right_ratio(lr, num_weights, weight_norm):
    return lr * math.sqrt(num_weights) / weight_norm


RATIO_MISTAKES = [
    (lambda lr, n, norm: lr * n / norm, "right triangle"),
    (lambda lr, n, norm: lr / norm, "the step moves all the weights"),
    (lambda lr, n, norm: lr * math.sqrt(n), "divides it by the length of the weights"),
    (lambda lr, n, norm: lr, "compares the whole layer's step"),
    (lambda lr, n, norm: norm / (lr * math.sqrt(n)), "the other way round"),
    (lambda lr, n, norm: 2 * right_ratio(lr, n, norm), "Re-read the section on the update-to-weight ratio"),
    (lambda lr, n, norm: None, "return a number"),
]


@pytest.mark.parametrize("wrong, message", RATIO_MISTAKES)
def test_each_ratio_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 07.3\] first_step_ratio: FAILED") as info:
        checks.first_step_ratio(wrong)
    assert message in str(info.value)
    status, graded = judged_apart(checks.first_step_ratio, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


def test_first_step_ratio_is_what_adam_does():
    """The prediction the check accepts is what torch's Adam does on its first step when every weight has a gradient."""
    torch = pytest.importorskip("torch")
    layer = torch.nn.Linear(30, 20, bias=False)
    before = layer.weight.detach().clone()
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    layer(torch.randn(8, 30)).pow(2).sum().backward()
    opt.step()
    measured = ((layer.weight.detach() - before).norm() / before.norm()).item()
    assert measured == pytest.approx(right_ratio(1e-3, 600, before.norm().item()), rel=1e-4)


# --------------------------------------------------------------------------------------- 07.4 diagnosing a run

def right_diagnose(step_loss, num_classes):
    loss = np.asarray(step_loss, dtype=float)
    chance, last = math.log(num_classes), loss[-len(loss) // 4:]
    frozen = abs(last.mean() - chance) < 0.03 * chance and np.std(np.diff(last)) < 0.02
    if last.mean() > 2 * chance or frozen:
        return "too large"
    return "too small" if last.mean() > 0.75 * chance else "about right"


def by_level(step_loss, num_classes):   # reads the level alone: a run that barely moves looks dead
    loss = np.asarray(step_loss, dtype=float)
    chance, end = math.log(num_classes), loss[-len(loss) // 4:].mean()
    if end > 2 * chance or abs(end - chance) < 0.03 * chance:
        return "too large"
    return "too small" if end > 0.75 * chance else "about right"


def by_last_step(step_loss, num_classes):   # one step for the end of the run
    chance, end = math.log(num_classes), step_loss[-1]
    if end > 2 * chance or abs(end - chance) < 0.03 * chance:
        return "too large"
    return "too small" if end > 0.75 * chance else "about right"


def by_noise(step_loss, num_classes):
    """Another sensible rule: frozen (tiny noise) or blown up is too large; a loss that fell by less than a quarter
    of its start is too small."""
    loss = np.asarray(step_loss, dtype=float)
    last = loss[-len(loss) // 4:]
    if last.mean() > loss[0] * 2 or np.std(np.diff(last)) < 0.015:
        return "too large"
    return "too small" if last.mean() > loss[0] * 0.74 else "about right"


@pytest.mark.parametrize("secret", SECRETS)
def test_diagnose_right_answers_pass_hidden_variants_judged_apart(secret):
    for answer in (right_diagnose, by_noise):
        assert judged_apart(checks.diagnose, answer, hidden_variant(secret)) == ("passed", ""), answer.__name__
    assert judged_apart(checks.first_step_ratio, right_ratio, hidden_variant(secret)) == ("passed", "")


def test_diagnose_curves_are_drawn_from_the_secret_and_unambiguous():
    assert drawn_from_the_secret(checks.diagnose) and drawn_from_the_secret(checks.first_step_ratio)
    rng = np.random.default_rng(0)
    for i in range(800):
        cause, k = lesson07.CAUSES[i % 3], int(rng.choice([5, 10, 20, 100]))
        curve = lesson07._curve(rng, cause, k, int(rng.integers(150, 320)), barely=cause == "too small" and i % 2 == 1)
        assert lesson07._cause_of(curve, k) == cause == right_diagnose(curve, k) == by_noise(curve, k)
    for secret in SECRETS:   # every hidden variant holds every cause
        causes = {lesson07._cause_of(c["step_loss"], c["num_classes"]) for c in checks.diagnose.cases(hidden_variant(secret))}
        assert causes == set(lesson07.CAUSES)


def test_every_set_of_curves_holds_a_run_that_barely_moves_and_rules_that_skip_the_noise_fail_on_it():
    from course_utils.checks import lesson07 as check07

    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0]), hidden_variant(SECRETS[1])):
        barely = [c for c in checks.diagnose.cases(variant) if check07._cause_of(c["step_loss"], c["num_classes"])
                  == "too small" and by_level(c["step_loss"], c["num_classes"]) == "too large"]
        assert len(barely) >= 1
    for rule in (by_level, by_last_step):
        with pytest.raises(AssertionError, match="Compare the noise"):
            checks.diagnose(rule)


DIAGNOSE_MISTAKES = [
    (lambda loss, k: "too small" if abs(np.mean(loss[-20:]) - math.log(k)) < 0.1 else right_diagnose(loss, k),
     "is not a run that learns slowly"),
    (lambda loss, k: "about right" if right_diagnose(loss, k) == "too small" else right_diagnose(loss, k),
     "compare how far the loss fell"),
    (lambda loss, k: "too small" if right_diagnose(loss, k) == "about right" else right_diagnose(loss, k),
     "does not fit this curve's level, trend and noise"),
    (lambda loss, k: "diverged", "is not one of"),
    (lambda loss, k: 1, "(a string)"),
]


@pytest.mark.parametrize("wrong, message", DIAGNOSE_MISTAKES)
def test_each_diagnose_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 07.4\] diagnose: FAILED") as info:
        checks.diagnose(wrong)
    assert message in str(info.value)
    status, graded = judged_apart(checks.diagnose, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


def test_new_checks_memorised_not_attempted_crash_and_silent_about_answers():
    visible = checks.diagnose.cases(checks.VISIBLE)
    answers = {tuple(c["step_loss"][:5]): right_diagnose(c["step_loss"], c["num_classes"]) for c in visible}
    memorised = lambda loss, k: answers.get(tuple(loss[:5]), "about right")  # noqa: E731
    assert judged_apart(checks.diagnose, memorised, checks.VISIBLE) == ("passed", "")
    ratios = {(c["lr"], c["num_weights"]): right_ratio(**c) for c in checks.first_step_ratio.cases(checks.VISIBLE)}
    memorised_ratio = lambda lr, n, norm: ratios.get((lr, n), 1e-3)  # noqa: E731
    for secret in SECRETS:
        assert judged_apart(checks.diagnose, memorised, hidden_variant(secret))[0] == "failed"
        assert judged_apart(checks.first_step_ratio, memorised_ratio, hidden_variant(secret))[0] == "failed"

    def todo(*args):
        raise NotImplementedError

    for check in (checks.first_step_ratio, checks.diagnose):
        with pytest.raises(NotImplementedError):
            check(todo)
        assert judged_apart(check, todo, hidden_variant(SECRETS[0]))[0] == "not attempted"
        status, message = judged_apart(check, lambda *a: 1 / 0, checks.VISIBLE)
        assert status == "failed" and message.startswith("your code raised ZeroDivisionError")
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.first_step_ratio.cases(variant):
            want = right_ratio(**case)
            for wrong in (want * 1.5, want / 3, -want):
                status, message = verdict_of(checks.first_step_ratio, case, wrong)
                assert status == "failed" and not shown(message, [want], besides=[case["num_weights"]]), message
                assert "sqrt" not in message
        for case in checks.diagnose.cases(variant):
            want = right_diagnose(case["step_loss"], case["num_classes"])
            for wrong in set(lesson07.CAUSES) - {want}:
                status, message = verdict_of(checks.diagnose, case, wrong)
                assert status == "failed" and want not in message, message
