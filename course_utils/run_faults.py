"""Training curves of runs that went wrong in one of five ways, generated and seeded (lesson 05's diagnosis).

Each run is plain data: ``lr`` (the learning rate every step used), ``loss`` (the training loss
of every step) and ``steps_per_epoch``. The five causes (:data:`CAUSES`):

* ``"too large"`` -- a constant lr above the stable range: the loss grows and ends far above its start;
* ``"too small"`` -- a constant lr far below a good one: the loss falls smoothly but slowly, still
  falling at the end, far above where it could be;
* ``"needs warmup"`` -- a constant lr that an adaptive optimizer's first steps cannot take (lesson 05's
  Adam at 1e-2): the loss jumps on the first steps, then sits at a dead network's ln 10;
* ``"stepped per batch"`` -- a per-epoch step schedule whose ``scheduler.step()`` runs after every
  batch: its drops all come within the first epoch, and the run crawls for the rest of its budget;
* ``"cut too early"`` -- a plateau rule that cut the lr (by 10) on a noisy bump while the loss was
  still falling fast: after the cut the loss crawls.

The curves are shaped like the lesson's real runs, from a simple model of them (the loss falls
by the accumulated lr, with multiplicative noise); :func:`fault_run` draws one from a seed, the
cause included, so a check can regenerate what it asked about.

Example:
    >>> run = fault_run(3)
    >>> run["cause"] in CAUSES, len(run["lr"]) == len(run["loss"])
    (True, True)
"""
from __future__ import annotations

import math

import numpy as np

CAUSES = ("too large", "too small", "needs warmup", "stepped per batch", "cut too early")


def _falling(rng, lrs: np.ndarray, start: float, floor: float, rate: float, noise: float) -> np.ndarray:
    """floor + (start - floor) * exp(-rate * (lr accumulated so far)), with multiplicative noise."""
    progress = np.concatenate([[0.0], np.cumsum(lrs)[:-1]])
    clean = floor + (start - floor) * np.exp(-rate * progress)
    return clean * np.exp(noise * rng.standard_normal(len(lrs)))


def fault_run(seed: int) -> dict:
    """The run drawn from ``seed``: ``{"cause", "lr", "loss", "steps_per_epoch"}`` (lists of floats, 6 digits)."""
    rng = np.random.default_rng([int(seed), 5])
    cause = CAUSES[int(rng.integers(len(CAUSES)))]
    steps_per_epoch = int(rng.integers(30, 80))
    num_steps = steps_per_epoch * int(rng.integers(8, 13))
    lr0 = float(10 ** rng.uniform(-2.5, -1))
    start, floor, noise = float(rng.uniform(1.5, 3.0)), float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.02, 0.06))
    good_rate = 1.0 / (lr0 * num_steps * rng.uniform(0.08, 0.2))      # a good lr settles in a tenth of the run
    lrs = np.full(num_steps, lr0)
    if cause == "too large":
        growth = math.log(rng.uniform(1e2, 1e5)) / num_steps
        loss = start * np.exp(growth * np.arange(num_steps) + noise * rng.standard_normal(num_steps))
    elif cause == "too small":
        loss = _falling(rng, lrs, start, floor, good_rate * rng.uniform(0.01, 0.03), noise / 3)
    elif cause == "needs warmup":
        dead = math.log(10)
        loss = dead * np.exp(noise / 4 * rng.standard_normal(num_steps))
        jumps = int(rng.integers(2, 6))
        loss[1:1 + jumps] = rng.uniform(4.0, 16.0, jumps)
    elif cause == "stepped per batch":
        first = int(rng.integers(2, max(3, steps_per_epoch // 4)))
        second = first + int(rng.integers(2, max(3, steps_per_epoch // 4)))
        lrs[first:] /= 10
        lrs[second:] /= 10
        loss = _falling(rng, lrs, start, floor, good_rate, noise)
    else:   # cut too early: a plateau cut by 10, a few epochs in, before the loss had settled
        cut = int(rng.integers(steps_per_epoch + steps_per_epoch // 2, 3 * steps_per_epoch))
        lrs[cut:] /= 10
        loss = _falling(rng, lrs, start, floor, good_rate * rng.uniform(0.15, 0.3), noise)
    return {"cause": cause, "lr": [float(f"{v:.6g}") for v in lrs], "loss": [float(f"{v:.6g}") for v in loss],
            "steps_per_epoch": steps_per_epoch}


def seeds_covering(rng: np.random.Generator, extra: int = 1) -> list[int]:
    """Seeds whose runs show every cause once, plus ``extra`` more, in a random order drawn from ``rng``."""
    by_cause: dict = {}
    while len(by_cause) < len(CAUSES):
        seed = int(rng.integers(1, 2**31))
        by_cause.setdefault(fault_run(seed)["cause"], seed)
    seeds = list(by_cause.values()) + [int(rng.integers(1, 2**31)) for _ in range(extra)]
    return [seeds[i] for i in rng.permutation(len(seeds))]
