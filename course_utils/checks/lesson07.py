"""Checks for lesson 07, a CNN on CIFAR-10 at three learning rates.

The inputs are small hand-made histories (no training), so the checks are instant and exact.
"""
from __future__ import annotations

import math

from ..training import History
from ._core import expect, expect_close, exercise


def _history(lr, train_acc, val_acc, diverged=False, label=""):
    """A history whose eval-mode training accuracy is ``train_acc``; its running minibatch mean
    (``History.train_acc``) is made lower, as augmentation makes it, so using it gives a wrong gap."""
    n = len(train_acc)
    return History(label=label or f"lr={lr:g}", lr=lr, step_loss=[2.3] * (4 * n), step_lr=[lr] * (4 * n),
                   train_loss=[2.0] * n, train_acc=[round(0.85 * a, 4) for a in train_acc], val_loss=[2.1] * n,
                   val_acc=list(val_acc), train_eval_loss=[1.9] * n, train_eval_acc=list(train_acc),
                   epoch_time=[1.0] * n, diverged=diverged, diverged_step=4 * n - 1 if diverged else None,
                   steps_per_epoch=4, val_size=500, train_eval_size=500)


def _gap_cases(hidden: bool):
    # Accuracy curves that rise and fall, so "best" and "first" epochs give wrong answers.
    if hidden:
        return [_history(1e-3, [0.30, 0.52, 0.71, 0.83], [0.28, 0.45, 0.50, 0.48]),
                _history(3e-4, [0.25, 0.33], [0.27, 0.36]),
                _history(1e-2, [0.10], [0.10])]
    return [_history(1e-3, [0.35, 0.55, 0.68, 0.80, 0.90], [0.30, 0.42, 0.47, 0.49, 0.46]),
            _history(1e-5, [0.15, 0.18, 0.21], [0.16, 0.19, 0.23]),
            _history(1e-2, [0.10, 0.099], [0.10, 0.10])]


@exercise("07.1", "generalization_gap", points=1)
def generalization_gap(gap_fn, *, hidden: bool = False) -> None:
    """Check ``generalization_gap(history)`` = final eval-mode training accuracy minus final validation accuracy."""
    for h in _gap_cases(hidden):
        got = gap_fn(h)
        expect(got is not None, "generalization_gap returned None: return a number.")
        expect(not isinstance(got, (list, tuple)),
               "generalization_gap should return one number (for the last epoch), not a list.")
        expect(not math.isclose(float(got), h.train_acc[-1] - h.val_acc[-1], abs_tol=1e-9),
               "you used history.train_acc, the running mean over augmented minibatches in train mode; "
               "the gap compares like with like: history.train_eval_acc (training images measured "
               "as validation is) minus history.val_acc.")
        expect_close(got, h.train_eval_acc[-1] - h.val_acc[-1], what=f"generalization_gap(history {h.label})",
                     atol=1e-9,
                     hint="Use the last epoch: history.train_eval_acc[-1] - history.val_acc[-1] "
                          "(positive when the model does better on the images it trained on).")


def _best_cases(hidden: bool):
    # Each case: {lr: History}, the right answer. Traps: a diverged run whose accuracy was high
    # before it blew up; a run that is best at its last epoch but not at its best epoch.
    if hidden:
        runs = {3e-3: _history(3e-3, [0.4, 0.6], [0.45, 0.62], diverged=True),
                1e-3: _history(1e-3, [0.3, 0.5, 0.6], [0.35, 0.58, 0.40]),
                1e-4: _history(1e-4, [0.2, 0.4, 0.5], [0.25, 0.44, 0.52])}
        other = {1e-1: _history(1e-1, [0.1, 0.1], [0.1, 0.1]),
                 1e-2: _history(1e-2, [0.3, 0.4], [0.33, 0.41]),
                 1e-5: _history(1e-5, [0.12, 0.16], [0.13, 0.17])}
        return [(runs, 1e-3), (other, 1e-2)]
    runs = {1e-2: _history(1e-2, [0.5, 0.1], [0.55, 0.10], diverged=True),
            1e-3: _history(1e-3, [0.3, 0.5, 0.6], [0.32, 0.49, 0.44]),
            1e-5: _history(1e-5, [0.15, 0.2, 0.22], [0.16, 0.21, 0.47])}
    other = {1e-2: _history(1e-2, [0.1, 0.1], [0.1, 0.1]),
             1e-3: _history(1e-3, [0.4, 0.5], [0.42, 0.50]),
             1e-4: _history(1e-4, [0.2, 0.3], [0.21, 0.33])}
    return [(runs, 1e-3), (other, 1e-3)]


@exercise("07.2", "pick_best_lr", points=2)
def pick_best_lr(pick_best_lr_fn, *, hidden: bool = False) -> None:
    """Check ``pick_best_lr(histories)`` picks the lr with the highest best validation accuracy, skipping diverged runs."""
    for histories, want in _best_cases(hidden):
        got = pick_best_lr_fn(dict(histories))
        expect(got is not None, "pick_best_lr returned None: return the learning rate (a key of histories).")
        try:
            got = float(got)
        except (TypeError, ValueError):
            expect(False, f"pick_best_lr should return a learning rate (a number), got {type(got).__name__}.")
        lrs = ", ".join(f"{lr:g}" for lr in histories)
        expect(math.isclose(got, want, rel_tol=1e-9),
               f"for runs at lr {lrs} you picked {got:g}. Compare runs by their best validation "
               "accuracy (max over epochs of history.val_acc), and skip runs with history.diverged.")
