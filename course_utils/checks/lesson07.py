"""Checks for lesson 07, a CNN on CIFAR-10 at three learning rates.

The inputs are small made-up histories (no training), so the checks are instant and exact. A case
holds the accuracy curves as plain lists; the learner's process builds the ``History`` objects the
learner's function reads.
"""
from __future__ import annotations

import numpy as np

from ..training import History
from ._core import Check, as_array, expect, expect_close, register


def _history(lr, train_acc, val_acc, diverged=False, label=""):
    """A history whose eval-mode training accuracy is ``train_acc``; its running minibatch mean
    (``History.train_acc``) is made lower, as augmentation makes it, so using it gives a wrong gap."""
    n = len(train_acc)
    return History(label=label or f"lr={lr:g}", lr=lr, step_loss=[2.3] * (4 * n), step_lr=[lr] * (4 * n),
                   train_loss=[2.0] * n, train_acc=_running_mean_acc(train_acc), val_loss=[2.1] * n,
                   val_acc=list(val_acc), train_eval_loss=[1.9] * n, train_eval_acc=list(train_acc),
                   epoch_time=[1.0] * n, diverged=diverged, diverged_step=4 * n - 1 if diverged else None,
                   steps_per_epoch=4, val_size=500, train_eval_size=500)


def _running_mean_acc(train_acc) -> list:
    return [round(0.85 * a, 4) for a in train_acc]


def _rising(rng: np.random.Generator, n: int, start: float, top: float) -> list:
    """``n`` accuracies rising from about ``start`` to ``top``, unevenly."""
    steps = rng.uniform(0.3, 1.0, size=max(n - 1, 0))
    fractions = np.concatenate([[0.0], np.cumsum(steps) / steps.sum()]) if n > 1 else np.array([1.0])
    return [round(float(start + (top - start) * f), 3) for f in fractions]


# --------------------------------------------------------------------------------------- 07.1 generalization gap

class GeneralizationGap(Check):
    id, name, points, kind = "07.1", "generalization_gap", 1, "implement"
    hints = (
        "The gap compares how well the network does on the images it trained on with how well it does on "
        "images it has not seen, for the finished run: one number.",
        "Compare like with like: both accuracies measured the same way, in evaluation mode, without "
        "augmentation. Exercise 07.1's text says which two lists of the History those are, and which one to "
        "leave alone.",
        "Take the last epoch of each of those two lists; the gap is positive when the network does better on "
        "the images it trained on.",
    )

    def cases(self, variant):
        if not variant.hidden:
            runs = [(1e-3, [0.35, 0.55, 0.68, 0.80, 0.90], [0.30, 0.42, 0.47, 0.49, 0.46]),
                    (1e-5, [0.15, 0.18, 0.21], [0.16, 0.19, 0.23]),
                    (1e-2, [0.10, 0.099], [0.10, 0.10])]
        else:
            rng = variant.rng(self.id, "histories")
            runs = []
            for n in (int(rng.integers(4, 9)), int(rng.integers(2, 4)), 1):
                train = _rising(rng, n, rng.uniform(0.1, 0.35), rng.uniform(0.5, 0.97))
                gaps = np.linspace(rng.uniform(-0.02, 0.03), rng.uniform(0.05, 0.25), n)
                val = [max(0.02, t - g) for t, g in zip(train, gaps)]
                if n > 2:   # the validation accuracy falls at the end: its best epoch is not its last
                    val[-1] = max(0.02, max(val[:-1]) - rng.uniform(0.02, 0.06))
                runs.append((float(f"{10 ** rng.uniform(-5, -1):.2g}"), train, [round(v, 3) for v in val]))
        return [{"lr": lr, "train_eval_acc": train, "val_acc": val} for lr, train, val in runs]

    def respond(self, gap_fn, case):
        return gap_fn(_history(case["lr"], case["train_eval_acc"], case["val_acc"]))

    def judge(self, case, value):
        train, val = np.array(case["train_eval_acc"]), np.array(case["val_acc"])
        what = f"generalization_gap(history) for a run of {len(val)} epoch{'s' * (len(val) > 1)}"
        expect(value is not None, "generalization_gap returned None: return a number.")
        expect(not isinstance(value, list) or len(value) == 1,
               "generalization_gap should return one number (for the finished run), not a list.")
        gap = train[-1] - val[-1]
        expect_close(as_array(value, what).reshape(-1)[0], gap, what=what, rtol=0.0, atol=1e-9, mistakes={
            "that uses history.train_acc, the running mean over each epoch's augmented minibatches in train mode; "
            "the gap compares like with like (see exercise 07.1's text).":
                _running_mean_acc(case["train_eval_acc"])[-1] - val[-1],
            "the sign is the other way round: the gap is positive when the network does better on the images it "
            "trained on.": -gap,
            "that compares each curve's best epoch; the gap of a finished run is read at its last epoch.":
                train.max() - val.max(),
            "that is the first epoch's gap; the gap of a finished run is read at its last epoch.": train[0] - val[0],
            "that averages over the epochs; the gap of a finished run is read at its last epoch.":
                float(np.mean(train - val)),
            "the accuracies are fractions between 0 and 1 here, and so is their difference.": 100 * gap,
        }, hint="Re-read exercise 07.1's text: which two accuracies, measured how, at which epoch.")


# --------------------------------------------------------------------------------------- 07.2 picking the best lr

def _best_lr(runs) -> float:
    valid = [r for r in runs if not r["diverged"]]
    return max(valid, key=lambda r: max(r["val_acc"]))["lr"]


def _draw_runs(rng: np.random.Generator) -> list:
    """Runs with the traps: a diverged run that was the best before it blew up, a run whose last epoch beats
    the winner's last epoch (but not its best), and a run with the highest training accuracy."""
    lrs = set()
    while len(lrs) < 5:
        lrs.add(float(f"{10 ** rng.uniform(-5, -1):.2g}"))
    lrs = [float(lr) for lr in rng.choice(sorted(lrs), size=int(rng.integers(4, 6)), replace=False)]
    peak = float(rng.uniform(0.5, 0.75))
    n = int(rng.integers(3, 7))
    drop = float(rng.uniform(0.06, 0.12))
    winner_val = _rising(rng, n - 1, rng.uniform(0.15, 0.3), peak) + [round(peak - drop, 3)]
    late_val = _rising(rng, n, rng.uniform(0.15, 0.3), peak - rng.uniform(0.02, 0.04))
    diverged_val = _rising(rng, 2, rng.uniform(0.2, 0.3), peak + rng.uniform(0.02, 0.08))
    runs = [dict(val_acc=winner_val, train_acc=[v + 0.05 for v in winner_val], diverged=False),
            dict(val_acc=late_val, train_acc=[v + 0.05 for v in late_val], diverged=False),
            dict(val_acc=diverged_val, train_acc=[v + 0.01 for v in diverged_val], diverged=True)]
    for i, _ in enumerate(lrs[3:]):   # the first of the others fits its training images best of all
        val = _rising(rng, n, rng.uniform(0.1, 0.2), peak - rng.uniform(0.12, 0.3))
        runs.append(dict(val_acc=val, train_acc=[min(0.98, v + (0.45 if i == 0 else 0.03)) for v in val],
                         diverged=False))
    return [dict(r, lr=lr, train_acc=[round(v, 3) for v in r["train_acc"]]) for lr, r in zip(lrs, runs)]


class PickBestLr(Check):
    id, name, points, kind = "07.2", "pick_best_lr", 2, "implement"
    hints = (
        "Look at each run in turn: is it a candidate at all, and if it is, how good was it?",
        "A run that diverged (history.diverged) is not a candidate, however well it did before it blew up. "
        "The choice is made on the validation images.",
        "Score each candidate by its best epoch (the highest validation accuracy at any epoch, not the last "
        "one), and return the learning rate (the key of histories) of the best score.",
    )

    def cases(self, variant):
        if not variant.hidden:
            runs = [[(1e-2, [0.5, 0.1], [0.55, 0.10], True), (1e-3, [0.3, 0.5, 0.6], [0.32, 0.49, 0.44], False),
                     (1e-5, [0.15, 0.2, 0.22], [0.16, 0.21, 0.47], False)],
                    [(1e-2, [0.1, 0.1], [0.1, 0.1], False), (1e-3, [0.4, 0.5], [0.42, 0.50], False),
                     (1e-4, [0.2, 0.3], [0.21, 0.33], False)]]
            return [{"runs": [dict(lr=lr, train_acc=t, val_acc=v, diverged=d) for lr, t, v, d in case]}
                    for case in runs]
        rng = variant.rng(self.id, "runs")
        return [{"runs": _draw_runs(rng)} for _ in range(2)]

    def respond(self, pick_fn, case):
        return pick_fn({r["lr"]: _history(r["lr"], r["train_acc"], r["val_acc"], r["diverged"])
                        for r in case["runs"]})

    def judge(self, case, value):
        runs = case["runs"]
        lrs = ", ".join(f"{r['lr']:g}" for r in runs)
        what = f"pick_best_lr for runs at lr {lrs}"
        expect(value is not None, "pick_best_lr returned None: return the learning rate (a key of histories).")
        expect(not isinstance(value, (list, dict, str)),
               f"pick_best_lr should return a learning rate (a number), got a {type(value).__name__}.")
        valid = [r for r in runs if not r["diverged"]]
        expect_close(value, _best_lr(runs), what=what, rtol=1e-9, atol=0.0, mistakes={
            "that run diverged: a run that blew up is not a candidate, however well it did before "
            "(history.diverged).": max(runs, key=lambda r: max(r["val_acc"]))["lr"],
            "that compares the runs' last epochs; compare each run by its best epoch.":
                max(valid, key=lambda r: r["val_acc"][-1])["lr"],
            "that compares training accuracies; the choice is made on the validation images.":
                max(valid, key=lambda r: max(r["train_acc"]))["lr"],
            "that is an accuracy; return the learning rate (the key of histories).":
                max(max(r["val_acc"]) for r in valid),
        }, hint="Re-read exercise 07.2's text: which runs are candidates, and how a run is scored.")


generalization_gap = register(GeneralizationGap())
pick_best_lr = register(PickBestLr())
