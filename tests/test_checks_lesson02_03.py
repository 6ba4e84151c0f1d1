import numpy as np
import pytest
import torch

from course_utils import checks


def good_max_stable_lr(A):
    return 2.0 / np.linalg.eigvalsh(A).max()


def good_best_lr(A):
    lambdas = np.linalg.eigvalsh(A)
    return 2.0 / (lambdas.min() + lambdas.max())


def good_train_sgd(model, X, y, lr, num_steps, batch_size):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_steps):
        idx = torch.randint(0, len(X), (batch_size,))
        optimizer.zero_grad()
        loss = ((model(X[idx]).squeeze(-1) - y[idx]) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answers_pass(capsys, hidden):
    checks.max_stable_lr(good_max_stable_lr, hidden=hidden)
    checks.best_lr(good_best_lr, hidden=hidden)
    checks.train_sgd(good_train_sgd, hidden=hidden)
    assert capsys.readouterr().out.splitlines() == [
        "[check 02.1] max_stable_lr: PASSED",
        "[check 02.2] best_lr: PASSED",
        "[check 03.1] train_sgd: PASSED",
    ]


def test_answers_as_tensors_pass():
    checks.max_stable_lr(lambda A: torch.tensor(good_max_stable_lr(A)))


def test_hidden_matrices_differ_and_are_not_diagonal():
    from course_utils.checks import lesson02

    visible, hidden = lesson02.matrices(False), lesson02.matrices(True)
    for A in visible + hidden:
        assert np.abs(A - np.diag(np.diag(A))).max() > 0.1
    assert all(not any(A.shape == B.shape and np.allclose(A, B) for B in visible) for A in hidden)


@pytest.mark.parametrize("wrong, hint", [
    (lambda A: 2.0 / np.diag(A).max(), "eigenvalues"),
    (lambda A: 1.0 / np.linalg.eigvalsh(A).max(), "2 / λ_max"),
    (lambda A: None, "forget `return`"),
    (lambda A: 2.0 / np.linalg.eigvalsh(A), "one number"),
])
def test_wrong_max_stable_lr_fails_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 02.1\] max_stable_lr: FAILED") as err:
        checks.max_stable_lr(wrong)
    assert hint in str(err.value)


def test_hard_coded_visible_answer_fails_the_hidden_check():
    from course_utils.checks import lesson02
    from course_utils.surfaces import Quadratic

    answers = {A.tobytes(): Quadratic(A).best_lr for A in lesson02.matrices(False)}
    memorised = lambda A: answers.get(np.asarray(A).tobytes(), 0.1)  # noqa: E731
    checks.best_lr(memorised)
    with pytest.raises(AssertionError, match=r"\[check 02.2\] best_lr: FAILED"):
        checks.best_lr(memorised, hidden=True)


@pytest.mark.parametrize("wrong", [
    lambda A: 2.0 / np.linalg.eigvalsh(A).max(),                  # the stability bound, not the best lr
    lambda A: 1.0 / np.linalg.eigvalsh(A).mean(),                 # a plausible-looking guess
    lambda A: 2.0 / (np.diag(A).min() + np.diag(A).max()),        # diagonal instead of eigenvalues
])
def test_wrong_best_lr_fails_with_a_hint(wrong):
    with pytest.raises(AssertionError, match=r"\[check 02.2\] best_lr: FAILED") as err:
        checks.best_lr(wrong)
    assert "2 / (λ_min + λ_max)" in str(err.value)


def test_changing_A_in_place_is_caught():
    def in_place(A):
        A *= 2
        return 1.0 / np.linalg.eigvalsh(A).max()

    with pytest.raises(AssertionError, match="in place"):
        checks.max_stable_lr(in_place)


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
        loss = ((model(X).squeeze(-1) - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
    return losses


def _new_model(model, X, y, lr, num_steps, batch_size):
    return good_train_sgd(torch.nn.Linear(X.shape[1], 1), X, y, lr, num_steps, batch_size)


def _too_few_steps(model, X, y, lr, num_steps, batch_size):
    return good_train_sgd(model, X, y, lr, 20, batch_size) + [0.0] * (num_steps - 20)


def _wrong_loss(model, X, y, lr, num_steps, batch_size):  # broadcasting (b, 1) - (b,) into (b, b)
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


@pytest.mark.parametrize("wrong, hint", [
    (_no_zero_grad, "zero_grad"),
    (_no_step, "optimizer.step()"),
    (_new_model, "the `model` you are given"),
    (_too_few_steps, "noise level"),
    (_wrong_loss, "squeeze(-1)"),
    (lambda *args, **kwargs: None, "returned None"),
    (lambda model, X, y, lr, num_steps, batch_size: good_train_sgd(model, X, y, lr, num_steps, batch_size)[:-1],
     "one loss per step"),
])
def test_wrong_training_loops_fail_with_a_hint(wrong, hint):
    with pytest.raises(AssertionError, match=r"\[check 03.1\] train_sgd: FAILED") as err:
        checks.train_sgd(wrong)
    assert hint in str(err.value)


def test_not_attempted_passes_through():
    def stub(model, X, y, lr, num_steps, batch_size):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        checks.train_sgd(stub)
