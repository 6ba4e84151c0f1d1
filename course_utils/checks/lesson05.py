"""Checks for lesson 05, learning-rate schedules.

Both references are PyTorch itself: the warmup+cosine formula is compared with ``LinearLR`` then
``CosineAnnealingLR`` joined by ``SequentialLR`` (sampled with :func:`course_utils.schedules.lr_trace`),
and the plateau rule with ``ReduceLROnPlateau`` fed the same losses. No training: instant and exact.
"""
from __future__ import annotations

import math

import numpy as np

from .. import schedules
from ._core import as_array, expect, exercise

# (peak_lr, warmup_steps, total_steps, start_factor, final_lr)
_WARMUP_CASES = [(0.1, 10, 60, 0.01, 0.001), (1.0, 0, 25, 0.5, 0.0), (3e-3, 4, 9, 0.2, 3e-5)]
_WARMUP_HIDDEN = [(0.05, 7, 40, 0.1, 0.0), (2.0, 1, 12, 0.25, 0.1), (0.4, 0, 30, 1.0, 0.004), (1e-2, 25, 26, 0.01, 1e-4)]


def warmup_cosine_reference(peak_lr, warmup_steps, total_steps, start_factor, final_lr) -> np.ndarray:
    """The lr of steps 0..total_steps-1 from PyTorch's LinearLR + CosineAnnealingLR (SequentialLR)."""
    return schedules.lr_trace(
        lambda opt: schedules.warmup_cosine(opt, warmup_steps, total_steps, start_factor=start_factor,
                                            final_lr=final_lr), total_steps, lr=peak_lr)


@exercise("05.1", "warmup_cosine_lr", points=2)
def warmup_cosine_lr(lr_fn, *, hidden: bool = False) -> None:
    """Check ``warmup_cosine_lr(step, peak_lr, warmup_steps, total_steps, start_factor, final_lr)``
    against PyTorch's composition, at every step of each setting."""
    for peak, warmup, total, start, final in (_WARMUP_HIDDEN if hidden else _WARMUP_CASES):
        want = warmup_cosine_reference(peak, warmup, total, start, final)
        setting = (f"warmup_cosine_lr(step, peak_lr={peak:g}, warmup_steps={warmup}, total_steps={total}, "
                   f"start_factor={start:g}, final_lr={final:g})")
        got = []
        for step in range(total):
            value = lr_fn(step, peak, warmup, total, start, final)
            expect(value is not None, f"{setting} returned None at step {step}: return the learning rate.")
            value = as_array(value, f"the lr at step {step}")
            expect(value.size == 1, f"{setting} should return one number for one step, got shape {value.shape}.")
            got.append(float(value.ravel()[0]))
        got = np.asarray(got)
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-12))
        if bad.size == 0:
            continue
        step = int(bad[0])
        where = f"{setting} at step {step} gives {got[step]:.6g}, PyTorch's schedulers give {want[step]:.6g}."
        if step == 0 and warmup > 0:
            hint = "The warmup starts at start_factor * peak_lr (LinearLR's first value), not at 0."
        elif step < warmup:
            hint = ("During the warmup the lr grows in a straight line: peak_lr * (start_factor + (1 - start_factor) "
                    "* step / warmup_steps), reaching peak_lr at step == warmup_steps, not before.")
        elif step == warmup:
            hint = ("At step == warmup_steps the warmup is over and the cosine starts at its top, peak_lr: count the "
                    "cosine's steps from the end of the warmup, over the remaining total_steps - warmup_steps steps.")
        else:
            hint = ("After the warmup the cosine runs over the remaining total_steps - warmup_steps steps, counted "
                    "from the end of the warmup: final_lr + (peak_lr - final_lr) * (1 + cos(pi * (step - "
                    "warmup_steps) / (total_steps - warmup_steps))) / 2. Check the period and that the curve ends "
                    "at final_lr, not at 0.")
        expect(False, f"{where} {hint}")


# (losses, patience, threshold): traps for comparing with the previous loss instead of the best,
# reducing one epoch early (>= patience), not resetting the count after a cut, ignoring the threshold.
_PLATEAU_CASES = [
    ([2.0, 1.5, 1.2, 1.25, 1.1, 1.15, 1.12, 1.11, 1.13, 0.9, 0.95, 0.93, 0.94, 0.92], 2, 1e-4),
    ([1.0, 0.99995, 0.99992, 0.99991, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6], 1, 1e-4),
    ([3.0, 2.0, 2.5, 2.4, 2.3, 2.2, 2.1, 1.9, 1.95], 0, 1e-4),
]
_PLATEAU_HIDDEN = [
    ([1.5, 1.4, 1.45, 1.41, 1.42, 1.3, 1.31, 1.3, 1.29, 1.295, 1.2999, 1.0, 1.1, 1.05, 1.02, 1.01, 1.04], 3, 1e-2),
    ([0.5, 0.49, 0.48, 0.5, 0.49, 0.485, 0.47, 0.47, 0.47, 0.47, 0.47, 0.47], 1, 1e-4),
    ([2.0, 2.0, 2.0, 2.0, 1.0, 1.5, 1.4, 1.3], 0, 0.0),
]


def plateau_reference(losses, patience: int, threshold: float) -> list[int]:
    """The epochs (indices into ``losses``) after which ``ReduceLROnPlateau`` lowers the lr."""
    import torch

    trace = schedules.lr_trace(
        lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=patience,
                                                               threshold=threshold),
        len(losses) + 1, lr=1.0, metrics=list(losses))
    return [int(i) for i in np.flatnonzero(np.diff(trace) < 0)]


_PLATEAU_MISTAKES = {
    "previous": "You compare each loss with the previous epoch's; compare it with the best loss so far. ",
    "early": "Your cuts come one epoch early: cut when the bad epochs exceed patience (> patience), not reach it. ",
    "no_reset": "After a cut, start counting bad epochs from 0 again. ",
    "no_threshold": "A loss only improves on the best if it is below best * (1 - threshold): a tiny decrease is not enough. ",
    "one_based": "Your cuts come one epoch late: return 0-based indices into losses. ",
}


def _plateau_mistake(losses, patience, threshold, mistake):
    """The epochs a rule with one usual mistake would return (to name the mistake in the hint)."""
    best, bad, cuts = math.inf, 0, []
    for epoch, loss in enumerate(losses):
        better = loss < best * (1 - (0.0 if mistake == "no_threshold" else threshold))
        best = loss if (mistake == "previous" or better) else best
        bad = 0 if better else bad + 1
        if bad >= patience + (0 if mistake == "early" else 1):
            cuts.append(epoch + (1 if mistake == "one_based" else 0))
            bad = bad if mistake == "no_reset" else 0
    return cuts


@exercise("05.2", "plateau_reductions", points=2)
def plateau_reductions(reductions_fn, *, hidden: bool = False) -> None:
    """Check ``plateau_reductions(losses, patience, threshold)`` against ``ReduceLROnPlateau``."""
    for losses, patience, threshold in (_PLATEAU_HIDDEN if hidden else _PLATEAU_CASES):
        want = plateau_reference(losses, patience, threshold)
        call = f"plateau_reductions({losses}, patience={patience}, threshold={threshold:g})"
        got = reductions_fn(list(losses), patience, threshold)
        expect(got is not None, f"{call} returned None: return the list of epochs (indices) of the reductions.")
        try:
            got = [int(i) for i in got]
        except (TypeError, ValueError):
            expect(False, f"{call} should return a list of integer epochs, got {got!r}.")
        if got == want:
            continue
        rule = ("An epoch counts as an improvement only if its loss is below best * (1 - threshold), where best is "
                "the lowest loss so far (not the previous epoch's). After more than `patience` epochs in a row "
                "without improvement (i.e. on bad epoch number patience + 1) the lr is cut, and the count of bad "
                "epochs starts again from 0; the best loss is kept. Epochs are 0-based indices into losses.")
        hint = next((h for mistake, h in _PLATEAU_MISTAKES.items()
                     if got == _plateau_mistake(losses, patience, threshold, mistake)), "")
        expect(False, f"{call} returned {got}, but ReduceLROnPlateau cuts the lr after epochs {want}. {hint}{rule}")
