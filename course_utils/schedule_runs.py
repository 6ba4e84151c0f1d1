"""Lesson 05's experiments: schedules against the best constant lr with the same budget, and warmup.

* :func:`tuned_finals` -- every schedule (and the constant) tried at every peak lr of one grid on
  the regression; each schedule's best peak chosen on tuning seeds, its final excess loss
  reported on fresh seeds (:class:`Tuned`);
* :func:`tuned_plateau` -- the same protocol for ``ReduceLROnPlateau`` with several factors;
* :func:`train_cnn` -- one CIFAR run of the course's CNN with Adam and an optional scheduler,
  returning its history and which validation images it classified right (:class:`CnnRun`), for
  paired comparisons over images and seeds (:mod:`course_utils.stats`);
* :func:`adam_first_steps` -- the first steps of Adam, with or without a linear warmup, measured on
  the hidden layer: how far each weight moved relative to the lr, the loss, the dead units.

Computing only: the figures are in :mod:`course_utils.plotting.schedule_runs`.

Example:
    >>> from course_utils import synthetic
    >>> problem = synthetic.make_linear_regression(num_samples=200, num_features=3, noise_std=0.5, seed=0)
    >>> t = tuned_finals(problem, ("constant", "cosine"), [0.05, 0.01], 200, 8, (0, 1), (10, 11))
    >>> sorted(t.test_final), t.test_final["cosine"].shape
    (['constant', 'cosine'], (2,))
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.optim import lr_scheduler

from . import data, models, regression, runtime, schedules, scoring, training


def recipe(name: str, num_steps: int, *, warmup_fraction: float = 0.05, final_factor: float = 0.01) -> Callable:
    """``make(optimizer)`` for the course's schedule ``name`` (:func:`schedules.make_schedule`) over
    ``num_steps`` scheduler steps, ending at ``final_factor`` of its peak; ``warmup_cosine`` warms up
    over ``warmup_fraction`` of the steps."""
    warmup_steps = int(num_steps * warmup_fraction) if name == "warmup_cosine" else 0
    return lambda opt: schedules.make_schedule(name, opt, num_steps, warmup_steps=warmup_steps,
                                               final_factor=final_factor)


def _best_index(final: np.ndarray) -> int:
    """The grid index with the lowest mean over seeds (a setting where any seed diverged loses)."""
    with np.errstate(invalid="ignore"):
        mean = np.where(np.isfinite(final).all(-1), final.mean(-1), np.inf)
    return int(np.argmin(mean))


@dataclass
class Tuned:
    """Settings tuned on a grid and scored on fresh seeds.

    ``grid`` (G,): the peak (or starting) lrs tried; ``tune_mean[name]`` (G,): the mean final excess
    loss on the tuning seeds at each lr; ``best_lr[name]``: the lr chosen on them;
    ``test_final[name]`` (S,): the final excess loss of each fresh seed at that lr (the same seeds,
    in the same order, for every name: paired); ``test_runs[name]``: those runs
    (:class:`~course_utils.regression.RegressionRuns`, one setting).
    """

    grid: np.ndarray
    tune_mean: dict = field(default_factory=dict)
    best_lr: dict = field(default_factory=dict)
    test_final: dict = field(default_factory=dict)
    test_runs: dict = field(default_factory=dict)


def _score(tuned: Tuned, name: str, tune: np.ndarray, run_at: Callable[[int], regression.RegressionRuns]):
    with np.errstate(invalid="ignore"):
        tuned.tune_mean[name] = np.where(np.isfinite(tune).all(-1), tune.mean(-1), np.inf)
    best = _best_index(tune)
    tuned.best_lr[name] = float(tuned.grid[best])
    runs = run_at(best)
    tuned.test_runs[name] = runs
    tuned.test_final[name] = runs.final_excess()[0]


def tuned_finals(problem, names: Sequence[str], grid, budget: int, batch_size: int, tune_seeds, test_seeds, *,
                 start: str = "uniform") -> Tuned:
    """Every schedule of ``names`` (``"constant"`` included) at every peak lr of ``grid``, ``budget`` SGD
    steps of ``batch_size``, on the regression ``problem``: best peak on ``tune_seeds``, scored on ``test_seeds``."""
    grid = np.asarray(grid, dtype=float)
    shapes = {name: schedules.lr_trace(recipe(name, budget), budget, lr=1.0) for name in names}   # lr / peak
    all_lrs = np.concatenate([grid[:, None] * shapes[name] for name in names])          # (names x grid, budget)
    tune = regression.run(problem, budget, batch_size, lr=all_lrs, seeds=tune_seeds, start=start).final_excess()
    tuned = Tuned(grid)
    for i, name in enumerate(names):
        rows = tune[i * len(grid):(i + 1) * len(grid)]
        _score(tuned, name, rows, lambda best, name=name: regression.run(
            problem, budget, batch_size, lr=grid[best] * shapes[name][None], seeds=test_seeds, start=start))
    return tuned


def plateau_scheduler(factor: float, patience: int) -> Callable:
    """``make(optimizer)`` for ``ReduceLROnPlateau(factor=factor, patience=patience)``."""
    return lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=patience)


def tuned_plateau(problem, factors: Sequence[float], grid, budget: int, batch_size: int, tune_seeds, test_seeds, *,
                  patience: int = 3, eval_every: int | None = None, start: str = "uniform") -> Tuned:
    """``ReduceLROnPlateau`` with each of ``factors`` (names ``"factor 0.1"``, ...), watching the loss on all
    the data every ``eval_every`` steps (default 50 times per run), each starting lr of ``grid`` tried: the protocol of :func:`tuned_finals`."""
    grid = np.asarray(grid, dtype=float)
    tuned = Tuned(grid)
    for factor in factors:
        def run(lrs, seeds, factor=factor):
            return regression.run(problem, budget, batch_size, lr=lrs, seeds=seeds, start=start,
                                  eval_every=eval_every, scheduler=plateau_scheduler(factor, patience))
        _score(tuned, f"factor {factor:g}", run(grid, tune_seeds).final_excess(),
               lambda best, run=run: run(grid[best:best + 1], test_seeds))
    return tuned


def cuts_per_run(runs: regression.RegressionRuns) -> float:
    """How many times, on average over its runs, the lr was lowered."""
    return float(np.mean((np.diff(runs.lr, axis=-1) < 0).sum(-1)))


@dataclass
class CnnRun:
    """One CIFAR run: its ``history`` (:class:`~course_utils.training.History`), ``correct`` (V,) 1.0 where a
    validation image was classified right after the last epoch, and ``dead`` (the share of dead units per
    ReLU layer on ``probe`` images, when given)."""

    history: training.History
    correct: np.ndarray
    dead: list = field(default_factory=list)

    @property
    def val_acc(self) -> float:
        return float(self.history.val_acc[-1])


def train_cnn(arrays, val_loader, *, lr: float, seed: int, num_epochs: int, batch_size: int = 64,
              make_scheduler: Callable | None = None, interval: str | None = None, initial: dict | None = None,
              model_kwargs: dict | None = None, probe: torch.Tensor | None = None, device="cpu",
              label: str = "") -> CnnRun:
    """Train the course's CNN (``models.make_cnn(**model_kwargs)``) with Adam at ``lr`` on ``arrays``'s training
    images for ``num_epochs``; ``seed`` fixes the initial weights (unless ``initial``, a state dict) and the batches.
    ``make_scheduler(optimizer)`` is stepped every ``interval`` (``"step"`` or ``"epoch"``) by ``training.fit``."""
    runtime.seed_everything(seed)
    model = models.make_cnn(**(model_kwargs or {})).to(device)
    if initial is not None:
        model.load_state_dict(initial)
    channels_last = training.default_channels_last(device)
    train = data.DeviceLoader(arrays.x_train, arrays.y_train, batch_size, seed=seed, device=device,
                              channels_last=channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    history = training.fit(model, train, val_loader, optimizer, num_epochs, scheduler,
                           scheduler_interval=interval if scheduler else None, label=label, desc=label)
    dead = models.dead_fraction(model, probe) if probe is not None else []
    return CnnRun(history, scoring.correct(model, val_loader, amp=False), dead)


def correct_matrix(runs: Sequence[CnnRun]) -> np.ndarray:
    """(seeds, validation images) of 1.0/0.0: the per-example scores :mod:`course_utils.stats` pairs."""
    return np.stack([r.correct for r in runs])


def adam_first_steps(initial: dict, arrays, *, lr: float, warmup_steps: int, num_steps: int, probe: torch.Tensor,
                     batch_size: int = 64, seed: int = 0, device="cpu") -> list[dict]:
    """Replay Adam's first ``num_steps`` steps on the plain CNN from ``initial`` (a state dict) at ``lr``, with a
    ``LinearLR`` warmup from 1 % over ``warmup_steps`` steps (0: none). Per step, for the hidden layer
    (``model[4]``): ``lr`` used, minibatch ``loss``, ``at_lr`` (share of live weights that moved by lr ± 1 %),
    ``step_over_lr`` (median move / lr over live weights), ``moved_over_w`` (median move / |weight|), and
    ``dead`` (share of dead hidden units on ``probe``)."""
    model = models.make_cnn().to(device)
    model.load_state_dict(initial)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = (lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=warmup_steps)
                 if warmup_steps else None)
    loader = data.DeviceLoader(arrays.x_train, arrays.y_train, batch_size, seed=seed, device=device)
    batches = itertools.chain.from_iterable(itertools.repeat(loader))
    hidden = model[4].weight                                     # the flattened features -> hidden units layer
    rows = []
    for _ in range(num_steps):
        x, y = next(batches)
        step_lr = optimizer.param_groups[0]["lr"]
        before = hidden.detach().clone()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        live = hidden.grad != 0                                  # weights of units that still pass a gradient
        optimizer.step()
        if scheduler:
            scheduler.step()
        moved = (hidden.detach() - before).abs()
        ratio = moved[live] / step_lr
        rows.append(dict(lr=step_lr, loss=loss.item(),
                         at_lr=((ratio - 1).abs() < 0.01).float().mean().item() if live.any() else 0.0,
                         step_over_lr=ratio.median().item() if live.any() else 0.0,
                         moved_over_w=(moved / before.abs()).median().item(),
                         dead=models.dead_fraction(model, probe)[-1]))
    return rows
