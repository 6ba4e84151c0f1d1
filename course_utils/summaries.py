"""Reading finished runs: the generalization gap, the loss noise, a dead run, and one table row per run.

Every function here takes :class:`~course_utils.training.History` objects (or mappings
``lr -> History``, such as a :class:`~course_utils.lr_comparison.Comparison`) and returns numbers
or rows: :func:`generalization_gap` and :func:`loss_noise` of one run, :func:`summarize` one row
per run (accuracies with their binomial standard errors, over several seeds when given), and
:func:`format_summary` those rows as a text table.

Example:
    >>> from course_utils.training import History
    >>> h = History(val_acc=[0.4, 0.6], train_eval_acc=[0.5, 0.8], val_size=1000, train_eval_size=500)
    >>> row = summarize({1e-3: h})[0]
    >>> round(row["gap"], 3), round(row["val_se"], 4)
    (0.2, 0.0155)
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .training import History, accuracy_se, lr_label


def generalization_gap(history: History) -> float:
    """Final training accuracy (eval mode, un-augmented: ``train_eval_acc``) minus final validation accuracy.

    A fraction; NaN when the history has no such epoch (``fit`` without ``train_eval_data``).

    Example:
        >>> generalization_gap(History(train_eval_acc=[0.5, 0.7], val_acc=[0.45, 0.6]))
        0.09999999999999998
    """
    if not history.train_eval_acc or not history.val_acc:
        return math.nan
    return history.train_eval_acc[-1] - history.val_acc[-1]


def accuracy_text(history: History, epoch: int = -1, acc: float | None = None) -> str:
    """A run's validation accuracy after ``epoch`` (default: the last), or ``acc``, with its binomial
    standard error, as text.

    Example:
        >>> accuracy_text(History(val_acc=[0.4, 0.477], val_size=1000))
        '47.7 ± 1.6 %'
    """
    acc = history.val_acc[epoch] if acc is None else acc
    return f"{100 * acc:.1f} ± {100 * accuracy_se(acc, history.val_size):.1f} %"


def stuck_at_chance(history: History, num_classes: int = 10, tol: float = 0.02) -> bool:
    """Whether a run ended dead: its last epoch's training loss within ``tol`` of ln(num_classes) (the loss of
    predicting 1/num_classes for every class) and its validation accuracy below 1.5 times chance.

    Example:
        >>> stuck_at_chance(History(train_loss=[2.31, 2.3029], val_acc=[0.1, 0.098]))
        True
    """
    if not history.train_loss or not history.val_acc:
        return False
    return abs(history.train_loss[-1] - math.log(num_classes)) < tol and history.val_acc[-1] < 1.5 / num_classes


def loss_noise(history: History, num_steps: int | None = None) -> float:
    """How much the minibatch loss jumps from step to step: std of successive differences / sqrt(2).

    Taken over the last ``num_steps`` steps (default: the last epoch). Differencing removes the
    slow downward trend, so what is left is the step-to-step noise of the loss.
    """
    n = num_steps or history.steps_per_epoch or len(history.step_loss)
    losses = np.asarray(history.step_loss[-n:], dtype=float)
    losses = losses[np.isfinite(losses)]
    if len(losses) < 3:
        return math.nan
    return float(np.std(np.diff(losses)) / math.sqrt(2.0))


def final_over_seeds(runs: Sequence[Mapping], metric: str = "val_acc") -> dict:
    """``{lr: array of the final metric, one value per run}`` over comparisons that differ only by seed.

    Example:
        >>> a, b = {1e-3: History(val_acc=[0.5])}, {1e-3: History(val_acc=[0.56])}
        >>> final_over_seeds([a, b])[1e-3].tolist()
        [0.5, 0.56]
    """
    if not runs:
        raise ValueError("final_over_seeds needs at least one comparison.")
    lrs = list(runs[0])
    if any(list(r) != lrs for r in runs):
        raise ValueError("every comparison must hold the same learning rates in the same order.")
    return {lr: np.array([getattr(r[lr], metric)[-1] if getattr(r[lr], metric) else math.nan for r in runs])
            for lr in lrs}


def summarize(histories: Mapping, seeds: Sequence[Mapping] | None = None) -> list[dict]:
    """One row per run: accuracies with their binomial standard errors, gap, loss, noise, divergence.

    ``final_train_acc`` is the eval-mode training accuracy (``train_eval_acc``) and ``gap`` is
    :func:`generalization_gap`; ``batch_acc`` the running mean over augmented minibatches.
    With ``seeds`` (comparisons of the same runs with other seeds, this one included or not),
    each row also holds the mean and standard deviation of the final validation accuracy over them.
    """
    spread = final_over_seeds(list(seeds)) if seeds else {}
    rows = []
    for lr, h in histories.items():
        row = {
            "lr": float(lr),
            "final_val_acc": h.val_acc[-1] if h.val_acc else math.nan,
            "val_se": h.val_se(),
            "best_val_acc": max(h.val_acc) if h.val_acc else math.nan,
            "best_val_se": accuracy_se(max(h.val_acc), h.val_size) if h.val_acc else math.nan,
            "best_epoch": int(np.argmax(h.val_acc)) + 1 if h.val_acc else 0,
            "final_train_acc": h.train_eval_acc[-1] if h.train_eval_acc else math.nan,
            "train_se": h.train_eval_se(),
            "gap": generalization_gap(h),
            "gap_se": math.hypot(h.val_se(), h.train_eval_se()),
            "batch_acc": h.train_acc[-1] if h.train_acc else math.nan,
            "final_train_loss": h.train_loss[-1] if h.train_loss else math.nan,
            "loss_noise": loss_noise(h),
            "diverged": bool(h.diverged),
        }
        if lr in spread:
            values = spread[lr]
            row.update(num_seeds=len(values), seed_mean_val_acc=float(np.mean(values)),
                       seed_sd_val_acc=float(np.std(values, ddof=1)) if len(values) > 1 else math.nan)
        rows.append(row)
    return rows


def format_summary(rows: list[dict]) -> str:
    """The rows of :func:`summarize` as a fixed-width text table (accuracies in %, ± one standard error)."""
    seeds = all("num_seeds" in r for r in rows) and rows
    head = (f"{'lr':>6} {'val acc ± SE':>14} {'best val ± SE (epoch)':>22} {'train acc ± SE':>15} {'gap ± SE':>13} "
            f"{'train loss':>10} {'loss noise':>10} {'diverged':>8}")
    if seeds:
        head += f"   {'val acc over ' + str(rows[0]['num_seeds']) + ' seeds (mean ± sd)':>32}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (f"{lr_label(r['lr']):>6} {100 * r['final_val_acc']:>7.1f} ± {100 * r['val_se']:3.1f}% "
                f"{100 * r['best_val_acc']:>9.1f} ± {100 * r['best_val_se']:3.1f}% ({r['best_epoch']:>2}) "
                f"{100 * r['final_train_acc']:>8.1f} ± {100 * r['train_se']:3.1f}% "
                f"{100 * r['gap']:>+6.1f} ± {100 * r['gap_se']:3.1f} "
                f"{r['final_train_loss']:>10.3f} {r['loss_noise']:>10.3f} {str(r['diverged']):>8}")
        if seeds:
            line += f"   {100 * r['seed_mean_val_acc']:>24.1f} ± {100 * r['seed_sd_val_acc']:3.1f}%"
        lines.append(line)
    return "\n".join(lines)
