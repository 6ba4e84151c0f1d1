"""Checks for lesson 05, learning-rate schedules.

The references of 05.1 and 05.2 are PyTorch itself, run where the grade is decided: the
warmup+cosine formula is compared with ``LinearLR`` then ``CosineAnnealingLR`` joined by
``SequentialLR`` (sampled with :func:`course_utils.schedules.lr_trace`), and the plateau rule with
``ReduceLROnPlateau`` fed the same losses. 05.3 (diagnose) reads curves of runs generated from a
seed (:mod:`course_utils.run_faults`); the judge regenerates each run's cause from its seed. No
training: instant and exact.
"""
from __future__ import annotations

import math

import numpy as np

from .. import run_faults, schedules
from ._core import Check, as_array, expect, expect_close, register

# --------------------------------------------------------------------------------------- 05.1 warmup + cosine

_SETTING = ("peak_lr", "warmup_steps", "total_steps", "start_factor", "final_lr")


def warmup_cosine_reference(peak_lr, warmup_steps, total_steps, start_factor, final_lr) -> np.ndarray:
    """The lr of steps 0..total_steps-1 from PyTorch's LinearLR + CosineAnnealingLR (SequentialLR)."""
    return schedules.lr_trace(
        lambda opt: schedules.warmup_cosine(opt, warmup_steps, total_steps, start_factor=start_factor,
                                            final_lr=final_lr), total_steps, lr=peak_lr)


def _cosine(peak, final, progress):
    return final + (peak - final) * (1 + math.cos(math.pi * progress)) / 2


def _warmup_cosine_mistakes(peak, warmup, total, start, final) -> dict:
    """message -> the lr at every step when the schedule is written with that mistake."""
    def schedule(warm, progress, low=final):
        return [peak * warm(t) if t < warmup else _cosine(peak, low, min(progress(t), 1.0)) for t in range(total)]

    def line(t):
        return start + (1 - start) * t / warmup

    def after_warmup(t):
        return (t - warmup) / (total - warmup)

    return {
        "the cosine runs over all total_steps steps: it should start where the warmup ends and span only the "
        "steps that remain after it.": schedule(line, lambda t: t / total),
        "the cosine's clock starts at step 0: count its steps from the end of the warmup.":
            schedule(line, lambda t: t / (total - warmup)),
        "the warmup starts from zero: LinearLR's first value is a fraction start_factor of the peak.":
            schedule(lambda t: t / warmup, after_warmup),
        "the warmup reaches the peak one step early: the peak belongs to step warmup_steps, the cosine's first "
        "step, and the warmup's steps all lie below it.":
            schedule(lambda t: start + (1 - start) * t / max(warmup - 1, 1), after_warmup),
        "the schedule ends at 0 rather than at final_lr: the cosine's lower end is final_lr.":
            schedule(line, after_warmup, low=0.0),
    }


def _where_in_schedule(step: int, warmup: int) -> str:
    if step == 0 and warmup > 0:
        return "The first value is where the warmup starts: see what start_factor means for LinearLR."
    if step < warmup:
        return "During the warmup the lr grows in a straight line, reaching the peak at step warmup_steps, not before."
    if step == warmup:
        return "At step warmup_steps the warmup is over and the cosine starts, at its top."
    return ("After the warmup, check the cosine: where its clock starts, how many steps it spans, and where it ends "
            "(final_lr).")


class WarmupCosineLr(Check):
    id, name, points, kind = "05.1", "warmup_cosine_lr", 2, "implement"
    hints = (
        "Two pieces joined at step warmup_steps: a straight line up to the peak, then half a cosine down. "
        "Write them as two branches on step.",
        "The straight line starts at a fraction start_factor of peak_lr (LinearLR's first value) and would "
        "reach peak_lr at step warmup_steps, where the cosine takes over. With warmup_steps = 0 there is no "
        "line at all.",
        "For the cosine, count its own progress from 0 at step warmup_steps to 1 at step total_steps "
        "(the steps that remain after the warmup); half a cosine of that progress takes the lr from peak_lr "
        "down to final_lr. See 'Warmup + cosine, one formula' in lesson 05.",
    )

    def cases(self, variant):
        if not variant.hidden:
            settings = [(0.1, 10, 60, 0.01, 0.001), (1.0, 0, 25, 0.5, 0.0), (3e-3, 4, 9, 0.2, 3e-5)]
        else:
            rng = variant.rng(self.id, "settings")
            settings = []
            for warmup in (0, int(rng.integers(1, 6)), int(rng.integers(6, 31)), int(rng.integers(2, 21))):
                total = warmup + int(rng.integers(1, 4) if len(settings) == 3 else rng.integers(8, 81))
                peak = float(f"{10 ** rng.uniform(-4, 0.5):.3g}")
                final = 0.0 if len(settings) == 2 else float(f"{peak * rng.uniform(0.001, 0.3):.3g}")
                settings.append((peak, warmup, total, round(float(rng.uniform(0.01, 0.9)), 3), final))
        return [dict(zip(_SETTING, s)) for s in settings]

    def respond(self, lr_fn, case):
        setting = [case[k] for k in _SETTING]
        return [lr_fn(step, *setting) for step in range(case["total_steps"])]

    def judge(self, case, value):
        peak, warmup, total, start, final = (case[k] for k in _SETTING)
        setting = (f"warmup_cosine_lr(step, peak_lr={peak:g}, warmup_steps={warmup}, total_steps={total}, "
                   f"start_factor={start:g}, final_lr={final:g})")
        expect(isinstance(value, list) and len(value) == total, "warmup_cosine_lr's answers could not be read.")
        for step, lr in enumerate(value):
            expect(lr is not None, f"{setting} returned None at step {step}: return the learning rate.")
            expect(as_array(lr, f"{setting} at step {step}").size == 1,
                   f"{setting} should return one number for one step.")
        got = np.array([as_array(lr, "the lr").reshape(-1)[0] for lr in value])
        want = warmup_cosine_reference(peak, warmup, total, start, final)
        off = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=1e-12))
        step = int(off[0]) if off.size else 0
        expect_close(got, want, what=setting, rtol=1e-6, atol=1e-12,
                     mistakes=_warmup_cosine_mistakes(peak, warmup, total, start, final),
                     hint=f"From step {step} on it is not PyTorch's schedule. {_where_in_schedule(step, warmup)}")


# --------------------------------------------------------------------------------------- 05.2 plateau reductions

def plateau_reference(losses, patience: int, threshold: float) -> list[int]:
    """The epochs (indices into ``losses``) after which ``ReduceLROnPlateau`` lowers the lr."""
    import torch

    trace = schedules.lr_trace(
        lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=patience,
                                                               threshold=threshold),
        len(losses) + 1, lr=1.0, metrics=list(losses))
    return [int(i) for i in np.flatnonzero(np.diff(trace) < 0)]


_PLATEAU_MISTAKES = {
    "previous": "each loss is compared with the previous epoch's; an improvement is measured against the best "
                "loss so far.",
    "early": "the cuts come one epoch early: the lr is cut when the count of bad epochs goes past patience, not "
             "when it reaches it.",
    "no_reset": "after a cut, the count of bad epochs starts again from 0.",
    "no_threshold": "a tiny decrease counts as an improvement here; read again what threshold means.",
    "one_based": "the cuts come one epoch late: return 0-based indices into losses.",
}


def _plateau_rule(losses, patience, threshold, mistake=None) -> list[int]:
    """The epochs the plateau rule cuts after, written out; with ``mistake`` (a key of ``_PLATEAU_MISTAKES``)
    the epochs a rule with that usual mistake returns."""
    best, bad, cuts = math.inf, 0, []
    for epoch, loss in enumerate(losses):
        better = loss < best * (1 - (0.0 if mistake == "no_threshold" else threshold))
        best = loss if (mistake == "previous" or better) else best
        bad = 0 if better else bad + 1
        if bad >= patience + (0 if mistake == "early" else 1):
            cuts.append(epoch + (1 if mistake == "one_based" else 0))
            bad = bad if mistake == "no_reset" else 0
    return cuts


def _draw_losses(rng: np.random.Generator, threshold: float) -> list[float]:
    """A loss curve with the plateau rule's traps: clear improvements, decreases smaller than the threshold,
    bumps up, and partial recoveries that beat the previous epoch but not the best."""
    losses = [float(rng.uniform(0.5, 3.0))]
    best = losses[0]
    for _ in range(int(rng.integers(12, 22))):
        kind = rng.choice(["better", "tiny", "bump", "recover", "same"], p=[0.3, 0.2, 0.2, 0.2, 0.1])
        previous = losses[-1]
        if kind == "better":
            loss = best * (1 - rng.uniform(0.03, 0.15))
        elif kind == "tiny" and threshold > 0:
            loss = best * (1 - rng.uniform(0.1, 0.8) * threshold)
        elif kind == "bump":
            loss = previous * (1 + rng.uniform(0.02, 0.15))
        elif kind == "recover" and previous > best * 1.02:
            loss = rng.uniform(best * 1.005, previous * 0.995)
        else:
            loss = previous
        losses.append(float(f"{loss:.7g}"))
        best = min(best, losses[-1])
    return losses


class PlateauReductions(Check):
    id, name, points, kind = "05.2", "plateau_reductions", 2, "implement"
    hints = (
        "Walk through the losses once, keeping two things from epoch to epoch: the best loss so far and how "
        "many bad epochs (no improvement) there have been in a row.",
        "An improvement must beat the best loss so far by more than the relative threshold; a smaller decrease "
        "is a bad epoch. Then ask, after every epoch: has the count of bad epochs gone past patience?",
        "When it has, record that epoch (its 0-based index) and start counting bad epochs again from 0; the best "
        "loss is kept. Try your function on a short list by hand, with patience 0 and 1.",
    )

    def cases(self, variant):
        if not variant.hidden:
            return [dict(losses=[2.0, 1.5, 1.2, 1.25, 1.1, 1.15, 1.12, 1.11, 1.13, 0.9, 0.95, 0.93, 0.94, 0.92],
                         patience=2, threshold=1e-4),
                    dict(losses=[1.0, 0.99995, 0.99992, 0.99991, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6], patience=1,
                         threshold=1e-4),
                    dict(losses=[3.0, 2.0, 2.5, 2.4, 2.3, 2.2, 2.1, 1.9, 1.95], patience=0, threshold=1e-4)]
        rng = variant.rng(self.id, "losses")
        while True:   # draw until every usual mistake gives a wrong answer on at least one case
            cases = []
            for patience in (0, int(rng.integers(1, 3)), int(rng.integers(2, 5))):
                threshold = float(rng.choice([1e-4, 1e-3, 1e-2, 3e-2]))
                cases.append(dict(losses=_draw_losses(rng, threshold), patience=patience, threshold=threshold))
            if all(any(_plateau_rule(c["losses"], c["patience"], c["threshold"], mistake)
                       != _plateau_rule(c["losses"], c["patience"], c["threshold"]) for c in cases)
                   for mistake in _PLATEAU_MISTAKES):
                return cases

    def respond(self, reductions_fn, case):
        return reductions_fn(list(case["losses"]), case["patience"], case["threshold"])

    def judge(self, case, value):
        losses, patience, threshold = case["losses"], case["patience"], case["threshold"]
        call = f"plateau_reductions({losses}, patience={patience}, threshold={threshold:g})"
        expect(value is not None, f"{call} returned None: return the list of epochs (indices) of the reductions.")
        expect(isinstance(value, list) and all(isinstance(i, (int, float)) and not isinstance(i, bool)
                                               and float(i).is_integer() for i in value),
               f"{call} should return a list of integer epochs.")
        got = [int(i) for i in value]
        if got == plateau_reference(losses, patience, threshold):
            return
        named = [message for mistake, message in _PLATEAU_MISTAKES.items()
                 if got == _plateau_rule(losses, patience, threshold, mistake)]
        expect(not named, f"{call} returned {got}, which is not when ReduceLROnPlateau cuts: " + " Or: ".join(named))
        expect(False, f"{call} returned {got}, which is not when ReduceLROnPlateau cuts. Re-read the rule in the "
                      "text of exercise 05.2: what counts as an improvement, when the count of bad epochs triggers "
                      "a cut, and what happens to the count after a cut.")


# --------------------------------------------------------------------------------------- 05.3 diagnose a run

# (the true cause, the learner's answer) -> what to look at; never names the true cause
_DIAGNOSIS_MISTAKES = {
    ("stepped per batch", "too small"): "this run did not start with a small learning rate: look at its lr "
                                        "during the first epoch.",
    ("stepped per batch", "cut too early"): "count in epochs when the lr first fell, and how many drops came "
                                            "before the first epoch ended.",
    ("cut too early", "stepped per batch"): "count in epochs when the lr first fell: was it within the first epoch?",
    ("cut too early", "too small"): "this run did not start with a small learning rate: look at its lr trace.",
    ("needs warmup", "too large"): "compare where this run's loss ends with where it started, and what the loss "
                                   "of a network that outputs the same guess for every image is.",
    ("too large", "needs warmup"): "follow this run's loss to its end: does it settle anywhere?",
    ("too small", "needs warmup"): "did this run's loss ever jump above where it started?",
    ("too small", "cut too early"): "was this run's lr ever lowered? Look at its lr trace.",
}


class DiagnoseRun(Check):
    id, name, points, kind = "05.3", "diagnose_schedule_run", 2, "diagnose"
    answer = "diagnose"       # the function the learner writes
    hints = (
        "Look at both panels of a run: the lr trace says whether (and when) the lr was lowered; the loss says "
        "whether the run got anywhere. Sort the five causes by what each does to those two.",
        "Two causes change the lr during the run and three keep it constant. Of the two, one lowers it within "
        "the first epoch (steps_per_epoch steps), several times; the other once, later.",
        "With a constant lr: a loss that ends many times above its start has one cause; a loss that jumps up on "
        "the first steps and then sits flat near where it began (ln 10, a dead network) another; a loss that "
        "falls smoothly but is still falling at the end the third. Compare losses[-1] with losses[0] and "
        "max(losses) with losses[0].",
    )

    def cases(self, variant):
        rng = variant.rng(self.id, "runs")
        seeds = run_faults.seeds_covering(rng, extra=1 if variant.hidden else 0)
        return [dict(seed=s, **{k: v for k, v in run_faults.fault_run(s).items() if k != "cause"}) for s in seeds]

    def respond(self, diagnose, case):
        return diagnose(list(case["lr"]), list(case["loss"]), case["steps_per_epoch"])

    def judge(self, case, value):
        expect(value is not None, "diagnose returned None: return the cause, one of the strings in CAUSES.")
        expect(isinstance(value, str) and value in run_faults.CAUSES,
               f"diagnose returned {value!r}: answer with one of the five causes in CAUSES, spelled as there.")
        truth = run_faults.fault_run(case["seed"])["cause"]
        if value == truth:
            return
        where = _DIAGNOSIS_MISTAKES.get((truth, value), "read the run's lr trace and its loss again, against the "
                                                        "description of each cause in lesson 05's exercise 05.3.")
        expect(False, f"a run with {len(case['lr'])} steps ({case['steps_per_epoch']} per epoch) was diagnosed "
                      f"{value!r}, which is not what went wrong: {where}")


warmup_cosine_lr = register(WarmupCosineLr())
plateau_reductions = register(PlateauReductions())
diagnose_schedule_run = register(DiagnoseRun())
