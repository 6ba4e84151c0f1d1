"""Checks 02.1 (max_stable_lr), 02.2 (best_lr), 02.3 (steps_at_best) and 03.1 (train_sgd): right answers pass the visible variant and
hidden ones judged apart, each recognised mistake fails with its message, memorised answers fail the hidden
variant, and no message shows the expected answer."""
import math

import numpy as np
import pytest
import torch
from check_support import SECRETS, drawn_from_the_secret, fails_with, judged_apart, shown, verdict_of

from course_utils import checks
from course_utils.checks import hidden_variant, lesson02, lesson03


def good_max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh(A).max()


def good_best_lr(A):
    lambdas = np.linalg.eigvalsh(A)
    return 2.0 / (lambdas.min() + lambdas.max())


def good_train_sgd(model, X, y, lr, num_steps, batch_size, keep=lambda loss: loss.item()):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,))
        optimizer.zero_grad()
        loss = ((model(X[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(keep(loss))
    return losses


def test_correct_answers_pass_in_the_notebook(capsys):
    checks.max_stable_lr(good_max_stable_lr)
    checks.best_lr(good_best_lr)
    checks.train_sgd(good_train_sgd)
    checks.max_stable_lr(lambda A: torch.tensor(good_max_stable_lr(A)))   # a tensor is a number too
    assert capsys.readouterr().out.splitlines() == [
        "[check 02.1] max_stable_lr: PASSED",
        "[check 02.2] best_lr: PASSED",
        "[check 03.1] train_sgd: PASSED",
        "[check 02.1] max_stable_lr: PASSED",
    ]


@pytest.mark.parametrize("secret", SECRETS)
def test_correct_answers_pass_hidden_variants_judged_apart(secret):
    for check, answer in ((checks.max_stable_lr, good_max_stable_lr), (checks.best_lr, good_best_lr),
                          (checks.train_sgd, good_train_sgd)):
        assert judged_apart(check, answer, hidden_variant(secret)) == ("passed", ""), check.name


def test_hidden_matrices_depend_on_the_secret_and_are_not_diagonal():
    visible = lesson02.matrices(checks.VISIBLE, "02.1")
    first, again, other = (lesson02.matrices(hidden_variant(s), "02.1") for s in (SECRETS[0], SECRETS[0], SECRETS[1]))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    for A in visible + first + other:
        assert np.abs(A - np.diag(np.diag(A))).max() > 1e-3
    for hidden in (first, other):
        assert not any(A.shape == B.shape and np.allclose(A, B) for A in hidden for B in visible)
    assert not any(A.shape == B.shape and np.allclose(A, B) for A in first for B in other)
    assert checks.best_lr.cases(hidden_variant(SECRETS[0])) != checks.max_stable_lr.cases(hidden_variant(SECRETS[0]))


MAX_STABLE_MISTAKES = [
    (lambda A: 2.0 / np.diag(A).max(), "diagonal of A"),
    (lambda A: 1.0 / np.linalg.eigvalsh(A).max(), "in one step"),
    (lambda A: 2.0 / np.linalg.eigvalsh(A).min(), "flattest direction"),
    (lambda A: 2.0 / np.linalg.eigvalsh(A).mean(), "One direction at a time"),
    (lambda A: None, "forget `return`"),
    (lambda A: 2.0 / np.linalg.eigvalsh(A), "one number"),
    (lambda A: "2 / lambda", "should be numbers"),
]
BEST_MISTAKES = [
    (lambda A: 2.0 / (np.diag(A).min() + np.diag(A).max()), "diagonal of A"),
    (lambda A: 2.0 / np.linalg.eigvalsh(A).max(), "edge of stability"),
    (lambda A: 1.0 / np.linalg.eigvalsh(A).max(), "steepest direction alone"),
    (lambda A: 1.0 / np.linalg.eigvalsh(A).mean(), "only two of A's eigenvalues"),
]


@pytest.mark.parametrize("check, wrong, message", [(checks.max_stable_lr, w, m) for w, m in MAX_STABLE_MISTAKES]
                         + [(checks.best_lr, w, m) for w, m in BEST_MISTAKES])
def test_each_mistake_fails_with_its_message(check, wrong, message):
    with pytest.raises(AssertionError, match=rf"\[check {check.id}\] {check.name}: FAILED") as err:
        check(wrong)
    assert message in str(err.value)
    status, graded = judged_apart(check, wrong, hidden_variant(SECRETS[0]))
    assert status == "failed" and message in graded


def test_changing_A_in_place_is_caught():
    def in_place(A):
        A *= 2
        return 4.0 / np.linalg.eigvalsh(A).max()

    with pytest.raises(AssertionError, match="in place"):
        checks.max_stable_lr(in_place)


def test_a_memorised_answer_passes_visible_and_fails_hidden():
    answers = {np.asarray(c["A"]).tobytes(): good_best_lr(np.asarray(c["A"]))
               for c in checks.best_lr.cases(checks.VISIBLE)}
    memorised = lambda A: answers.get(np.asarray(A).tobytes(), 0.1)  # noqa: E731
    assert judged_apart(checks.best_lr, memorised, checks.VISIBLE) == ("passed", "")
    for secret in SECRETS:
        assert judged_apart(checks.best_lr, memorised, hidden_variant(secret))[0] == "failed"


def test_not_attempted_and_crashes():
    def stub(A):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.max_stable_lr(stub)
    assert judged_apart(checks.max_stable_lr, stub, hidden_variant(SECRETS[0]))[0] == "not attempted"
    with pytest.raises(AssertionError, match="your code raised LinAlgError"):
        checks.best_lr(lambda A: np.linalg.inv(np.zeros((2, 2))))
    status, message = judged_apart(checks.best_lr, lambda A: 1 / 0, checks.VISIBLE)
    assert (status, message) == ("failed", "your code raised ZeroDivisionError: division by zero")


def test_failure_messages_never_show_the_expected_answer():
    for check, good in ((checks.max_stable_lr, good_max_stable_lr), (checks.best_lr, good_best_lr)):
        for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
            for case in check.cases(variant):
                A = np.array(case["A"])
                want = good(A)
                lambdas = np.linalg.eigvalsh(A)
                for wrong in [0.5 * want, 2 / np.diag(A).max(), 1 / lambdas.max(), 2 / lambdas.max(), 2 / lambdas]:
                    if np.allclose(wrong, want):
                        continue
                    status, message = verdict_of(check, case, {"lr": wrong, "A_after": case["A"]})
                    assert status == "failed"
                    expected = [want, *lambdas] if variant.hidden else [want]   # the visible bowl has λ = 1
                    assert not shown(message, expected, besides=[A.shape[0], *np.ravel(wrong)]), message
                    assert "λ_max" not in message and "λ_min" not in message and "eigvalsh" not in message


def good_steps_at_best(kappa, tol):
    rate = (kappa - 1) / (kappa + 1)
    return math.ceil(math.log(tol) / (2 * math.log(rate)))


def test_steps_at_best_is_what_gradient_descent_measures_at_the_best_lr():
    # the prediction is exact: at the best lr both factors have the same size, so from any start the loss
    # is multiplied by the rate squared every step
    from course_utils import descent, surfaces

    for case in checks.steps_at_best.cases(checks.VISIBLE) + checks.steps_at_best.cases(hidden_variant(SECRETS[0])):
        bowl = surfaces.make_bowl((1.0, case["kappa"]), angle_deg=30.0)
        for start in surfaces.start_directions(3):
            measured = descent.steps_to_tolerance(bowl, start, bowl.best_lr, tol=case["tol"], max_steps=100_000)
            assert measured == good_steps_at_best(case["kappa"], case["tol"])


@pytest.mark.parametrize("secret", SECRETS)
def test_steps_at_best_right_answer_passes_hidden_variants_judged_apart(secret):
    assert judged_apart(checks.steps_at_best, good_steps_at_best, hidden_variant(secret)) == ("passed", "")
    assert judged_apart(checks.steps_at_best, lambda k, t: float(good_steps_at_best(k, t)),
                        hidden_variant(secret)) == ("passed", "")
    assert drawn_from_the_secret(checks.steps_at_best)


def _rate(kappa):
    return (kappa - 1) / (kappa + 1)


STEPS_MISTAKES = [
    (lambda k, t: math.ceil(math.log(t) / math.log(_rate(k))), "quadratic in the distance"),
    (lambda k, t: good_steps_at_best(k, t) - 1, "count the first step"),
    (lambda k, t: math.ceil(k * math.log(1 / t) / 4), "approximation"),
    (lambda k, t: math.ceil(math.log(t) / (2 * math.log(1 - 1 / k))), "not the one at the best learning rate"),
    (lambda k, t: math.log(t) / (2 * math.log(_rate(k))), "whole number"),
    (lambda k, t: 3 * good_steps_at_best(k, t) + 1, "not right"),
]


@pytest.mark.parametrize("wrong, message", STEPS_MISTAKES)
def test_each_steps_at_best_mistake_fails_with_its_message(wrong, message):
    fails_with(checks.steps_at_best, wrong, message, secrets=SECRETS[1:])


def test_steps_at_best_memorised_not_attempted_crash_and_messages_without_the_answer():
    answers = {(c["kappa"], c["tol"]): good_steps_at_best(c["kappa"], c["tol"])
               for c in checks.steps_at_best.cases(checks.VISIBLE)}
    memorised = lambda k, t: answers.get((k, t), 100)  # noqa: E731
    assert judged_apart(checks.steps_at_best, memorised, checks.VISIBLE) == ("passed", "")
    assert judged_apart(checks.steps_at_best, memorised, hidden_variant(SECRETS[0]))[0] == "failed"

    def stub(kappa, tol):
        raise NotImplementedError

    assert judged_apart(checks.steps_at_best, stub, hidden_variant(SECRETS[0]))[0] == "not attempted"
    assert checks.steps_at_best.grade(lambda k, t: math.log(-t))[0] == "failed"
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[1])):
        for case in checks.steps_at_best.cases(variant):
            want = good_steps_at_best(case["kappa"], case["tol"])
            for wrong in (want + 7, 2 * want, want - 1, max(want // 2, 1) + 0.5):
                status, message = verdict_of(checks.steps_at_best, case, wrong)
                assert status == "failed"
                assert not shown(message, [want], besides=[case["kappa"], case["tol"], wrong]), message


# ----------------------------------------------------------------------------- 03.1

def _no_zero_grad(model, X, y, lr, num_steps, batch_size):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,))
        loss = ((model(X[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _no_step(model, X, y, lr, num_steps, batch_size):
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,))
        loss = ((model(X[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
    return losses


def _new_model(model, X, y, lr, num_steps, batch_size):
    return good_train_sgd(torch.nn.Linear(X.shape[1], 1), X, y, lr, num_steps, batch_size)


def _too_few_steps(model, X, y, lr, num_steps, batch_size):
    return good_train_sgd(model, X, y, lr, 20, batch_size) + [0.0] * (num_steps - 20)


def _broadcast_loss(model, X, y, lr, num_steps, batch_size):  # (b, 1) - (b,) broadcasts into (b, b)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,))
        optimizer.zero_grad()
        loss = ((model(X[idx]) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _full_batch(model, X, y, lr, num_steps, batch_size):   # every step on all the data: no minibatch noise
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_steps):
        optimizer.zero_grad()
        loss = ((model(X).squeeze(-1) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _tensors(model, X, y, lr, num_steps, batch_size):   # the loss tensors kept instead of loss.item()
    return good_train_sgd(model, X, y, lr, num_steps, batch_size, keep=lambda loss: loss)


def _off_target(model, X, y, lr, num_steps, batch_size):  # fits y shifted by 0.3: low loss... on the wrong targets
    return good_train_sgd(model, X, y + 0.3, lr, num_steps, batch_size)


TRAIN_MISTAKES = [
    (_no_zero_grad, "cleared before every step"),
    (_no_step, "did not change"),
    (_new_model, "did not change"),
    (_too_few_steps, "not yet"),
    (_broadcast_loss, "broadcasts to a matrix"),
    (_off_target, "not yet"),
    (_full_batch, "not on all the data"),
    (_tensors, "not tensors"),
    (lambda *args, **kwargs: None, "returned None"),
    (lambda model, X, y, lr, num_steps, batch_size: good_train_sgd(model, X, y, lr, num_steps, batch_size)[:-1],
     "one loss per step"),
]


@pytest.mark.parametrize("wrong, message", TRAIN_MISTAKES)
def test_each_training_loop_mistake_fails_with_its_message(wrong, message):
    with pytest.raises(AssertionError, match=r"\[check 03.1\] train_sgd: FAILED") as err:
        checks.train_sgd(wrong)
    assert message in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("wrong, message", TRAIN_MISTAKES[:5])
def test_training_loop_mistakes_fail_hidden_variants_too(wrong, message):
    status, graded = judged_apart(checks.train_sgd, wrong, hidden_variant(SECRETS[1]))
    assert status == "failed" and message in graded


def test_a_loop_that_writes_the_visible_answer_passes_visible_and_fails_hidden():
    (case,) = checks.train_sgd.cases(checks.VISIBLE)
    data = lesson03._data(case)

    def memorised(model, X, y, lr, num_steps, batch_size):
        with torch.no_grad():
            model.weight.copy_(data.true_w.reshape(1, -1)[:, :model.weight.shape[1]])
            model.bias.fill_(float(data.true_b))
        return [0.09 * (1 + 0.3 * (-1) ** k) for k in range(num_steps)]   # jitters like minibatch losses

    assert judged_apart(checks.train_sgd, memorised, checks.VISIBLE) == ("passed", "")
    assert judged_apart(checks.train_sgd, memorised, hidden_variant(SECRETS[0]))[0] == "failed"


def test_training_loop_not_attempted_and_crash():
    def stub(model, X, y, lr, num_steps, batch_size):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.train_sgd(stub)
    assert checks.train_sgd.grade(stub)[0] == "not attempted"
    status, message = checks.train_sgd.grade(lambda model, X, y, lr, num_steps, batch_size: model(X[:, :2]))
    assert status == "failed" and message.startswith("your code raised RuntimeError")


def test_training_messages_never_show_the_true_parameters_or_the_noise_floor():
    for variant in (checks.VISIBLE, hidden_variant(SECRETS[0])):
        for case in checks.train_sgd.cases(variant):
            data = lesson03._data(case)
            true = [*data.true_w.tolist(), float(data.true_b)]
            floor = [data.noise_std ** 2, 1.5 * data.noise_std ** 2 + 0.02]
            n, d = case["num_steps"], case["num_features"]
            for weight in (np.zeros(d), np.array(true[:-1]) * 0.7, np.array(true[:-1]) + 0.2):
                value = {"losses": [1.0] * n, "weight": weight.tolist(), "bias": [0.0]}
                status, message = verdict_of(checks.train_sgd, case, value)
                assert status == "failed"
                assert not shown(message, true + floor, besides=[*case.values(), *weight, 1.0, 0.0]), message
