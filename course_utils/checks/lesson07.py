"""Checks for lesson 07, a CNN on CIFAR-10 at three learning rates.

The inputs are small made-up histories (no training), so the checks are instant and exact. A case
holds the accuracy curves as plain lists; the learner's process builds the ``History`` objects the
learner's function reads.
"""
from __future__ import annotations

import numpy as np

from ..training import History
from ._core import Check, CheckFailed, as_array, as_number, expect, expect_close, register


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


# --------------------------------------------------------------------------------------- 07.3 Adam's first step

class FirstStepRatio(Check):
    id, name, points, kind = "07.3", "first_step_ratio", 2, "predict"
    hints = (
        "Start from one weight: on its very first step, how far does Adam move it? The section on the "
        "update-to-weight ratio says it, and lesson 04 shows why (the running averages hold one gradient).",
        "Every weight of the layer moves by that same amount, up or down. The length of the whole change is "
        "the length of a vector with num_weights entries of that size (Pythagoras in many dimensions).",
        "Then divide the length of the change by the length of the weights, weight_norm.",
    )

    def cases(self, variant):
        if not variant.hidden:
            return [{"lr": 1e-3, "num_weights": 864, "weight_norm": 3.3},
                    {"lr": 1e-2, "num_weights": 524288, "weight_norm": 9.2},
                    {"lr": 1e-5, "num_weights": 2560, "weight_norm": 1.8}]
        rng = variant.rng(self.id, "layers")
        return [{"lr": float(f"{10 ** rng.uniform(-5, -1):.3g}"), "num_weights": int(rng.integers(50, 2_000_000)),
                 "weight_norm": round(float(rng.uniform(0.3, 30.0)), 3)} for _ in range(4)]

    def respond(self, first_step_ratio, case):
        return first_step_ratio(case["lr"], case["num_weights"], case["weight_norm"])

    def judge(self, case, value):
        lr, n, norm = case["lr"], case["num_weights"], case["weight_norm"]
        what = f"first_step_ratio for a layer of {n} weights"
        expect(value is not None, "first_step_ratio returned None: return a number.")
        ratio = as_number(value, what)
        expect_close(ratio, lr * np.sqrt(n) / norm, what=what, rtol=1e-6, atol=0.0, mistakes={
            "that adds up the weights' moves as if they all pointed the same way; lengths of vectors add "
            "like the sides of a right triangle.": lr * n / norm,
            "that is how far one weight moves, divided by the weights' length; the step moves all the weights.":
                lr / norm,
            "that is the length of the step; the ratio divides it by the length of the weights.": lr * np.sqrt(n),
            "that is how far one weight moves; the ratio compares the whole layer's step with the whole layer's "
            "weights.": lr,
            "that divides the other way round: the ratio is the step's length over the weights' length.":
                norm / (lr * np.sqrt(n)),
        }, hint="Re-read the section on the update-to-weight ratio: how far Adam moves each weight on its first "
                "step, and how the lengths of many equal moves add up.")


# --------------------------------------------------------------------------------------- 07.4 diagnosing a run

CAUSES = ("too large", "too small", "about right")


def _curve(rng: np.random.Generator, cause: str, num_classes: int, num_steps: int, barely: bool = False) -> list:
    """A per-step minibatch loss of an unseen run: ``cause`` decides its level, trend and noise.

    too large: either a jump in the first steps, then frozen at ln(num_classes) with almost no noise (a dead
    network), or a loss that grows until it blows up; too small: smooth, a slow fall that ends a little below
    ln(num_classes) (with ``barely``, so little below it, 0.5-2 %, that only its noise tells it from a dead
    network's: lesson 07's own 1e-5 run ends 4 % below); about right: a clear fall, noisy.
    """
    chance = np.log(num_classes)
    t = np.arange(num_steps) / num_steps
    if cause == "too large" and rng.random() < 0.3:      # blows up: the loss grows geometrically
        growth = rng.uniform(6, 10)
        loss = chance * np.exp(growth * t) * (1 + 0.05 * rng.standard_normal(num_steps))
    elif cause == "too large":                           # dies: a jump, then ln(num_classes) forever
        loss = chance + rng.uniform(0.001, 0.006) * rng.standard_normal(num_steps)
        jump = int(rng.integers(1, 4))
        loss[1:1 + jump] = chance * rng.uniform(2.5, 8.0, size=jump)
    elif cause == "too small":                           # a slow, smooth fall of 10-20 % of the chance level
        fall, rate = rng.uniform(*((0.005, 0.02) if barely else (0.1, 0.2))) * chance, rng.uniform(0.5, 1.5)
        loss = chance - fall * (1 - np.exp(-rate * t)) / (1 - np.exp(-rate)) \
            + rng.uniform(0.02, 0.04) * rng.standard_normal(num_steps)
    else:                                                # learning: ends at 40-65 % of the chance level, noisy
        end = rng.uniform(0.4, 0.65) * chance
        loss = end + (chance - end) * np.exp(-rng.uniform(3, 6) * t) + rng.uniform(0.1, 0.16) * rng.standard_normal(num_steps)
    loss[0] = chance + 0.01 * rng.standard_normal()
    return [round(float(v), 4) for v in np.maximum(loss, 0.01)]


def _cause_of(step_loss, num_classes) -> str:
    """The cause a curve of :func:`_curve` was drawn with, read back from the curve itself."""
    loss = np.asarray(step_loss, dtype=float)
    chance, last = np.log(num_classes), loss[-len(loss) // 4:]
    if not np.all(np.isfinite(loss)) or last.mean() > 2 * chance:
        return "too large"
    if abs(last.mean() - chance) < 0.03 * chance and _noise(last) < 0.012:    # frozen: a dead network
        return "too large"
    return "too small" if last.mean() > 0.75 * chance else "about right"


def _noise(loss: np.ndarray) -> float:
    """The step-to-step noise of a loss curve: the standard deviation of its changes over sqrt(2)."""
    return float(np.std(np.diff(loss)) / np.sqrt(2))


class Diagnose(Check):
    id, name, points, kind = "07.4", "diagnose", 2, "diagnose"
    hints = (
        "Look at three things of a per-step loss, as the lesson did: its level at the end (compared with the "
        "chance level ln(num_classes) it starts at), its trend, and its noise.",
        "A loss that ends far above where it started has blown up. A loss that sits at exactly the chance level "
        "with almost no noise belongs to a network that predicts the same thing for every image: the lesson's "
        "dead network.",
        "Read the end of the curve, not one noisy step: the mean of its last quarter. Check the wrecked runs "
        "first (blown up, or frozen at np.log(num_classes)); of the others, compare how far that mean fell "
        "below the start with the quarter the exercise's text names.",
    )

    def cases(self, variant):
        rng = variant.rng(self.id, "curves")
        # "barely": a too-small run whose loss ends within 2 % of the chance level, told from a dead network
        # only by its noise; every set holds one, so a rule that reads the level alone fails in the notebook too
        if not variant.hidden:
            causes = ["too large", "about right", "too small", "too large", "about right", "barely"]
            classes = [10] * len(causes)
        else:
            causes = list(rng.permutation(list(CAUSES) + ["barely"] + [str(c) for c in rng.choice(CAUSES, size=3)]))
            classes = [int(rng.choice([5, 10, 20, 100])) for _ in causes]
        return [{"step_loss": _curve(rng, "too small" if cause == "barely" else cause, k, int(rng.integers(150, 320)),
                                     barely=cause == "barely"), "num_classes": k}
                for cause, k in zip(causes, classes)]

    def respond(self, diagnose, case):
        return diagnose(list(case["step_loss"]), case["num_classes"])

    def judge(self, case, value):
        what = f"diagnose of a {len(case['step_loss'])}-step run on {case['num_classes']} classes"
        expect(isinstance(value, str), f"{what}: return one of the words {', '.join(map(repr, CAUSES))} "
                                       f"(a string), got {type(value).__name__}.")
        expect(value in CAUSES, f"{what}: {value!r} is not one of {', '.join(map(repr, CAUSES))}.")
        cause = _cause_of(case["step_loss"], case["num_classes"])
        if value == cause:
            return
        loss = np.asarray(case["step_loss"])
        dead = cause == "too large" and loss[-1] < 2 * np.log(case["num_classes"])
        if dead:
            raise CheckFailed(f"{what}: a loss that sits at the chance level with almost no noise is not a run "
                              "that learns slowly; see the lesson's per-step loss figure and its dead units.")
        chance, last = np.log(case["num_classes"]), loss[-len(loss) // 4:]
        if cause == "too small" and value == "too large" and abs(last.mean() - chance) < 0.03 * chance:
            raise CheckFailed(f"{what}: this loss ends near the chance level, but it still jitters from step to step "
                              "as a network that learns does; a dead network's hardly moves at all. Compare the noise "
                              "at the end of the curve, not only its level.")
        if cause == "too small" and value == "about right":
            raise CheckFailed(f"{what}: compare how far the loss fell with the chance level ln(num_classes) it "
                              "started at, over the whole budget.")
        raise CheckFailed(f"{what}: that diagnosis does not fit this curve's level, trend and noise; compare them "
                          "with the lesson's per-step loss figure.")


generalization_gap = register(GeneralizationGap())
pick_best_lr = register(PickBestLr())
first_step_ratio = register(FirstStepRatio())
diagnose = register(Diagnose())
