"""One run per learning rate from the same start and the same data: the course's one runner for that.

:func:`train_per_lr` trains a fresh copy of one network per learning rate with
:func:`~course_utils.training.fit`: every run starts from the same initial weights (drawn once,
after seeding), sees the same batches in the same order (a fresh loader per run, made by the
caller with a fixed seed) and gets the same budget, so the learning rate is the only difference.
It returns a :class:`Comparison`, a mapping ``lr -> History`` that also holds each trained model
(and, when asked, each run's :class:`~course_utils.probes.ProbeRecord`). Lesson 04 calls it on a
small MLP; lesson 07 through :func:`compare_lrs`, which builds the course's CNN, the CIFAR
loaders and the optimizer from one :class:`Experiment` of settings.

Example:
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> batches = [(torch.randn(8, 5), torch.randint(0, 3, (8,))) for _ in range(4)]
    >>> runs = train_per_lr(lambda: torch.nn.Linear(5, 3), torch.optim.SGD, [0.1, 0.01], lambda: batches,
    ...                     batches[:1], num_epochs=2, progress=False)
    >>> list(runs), [h.num_steps for h in runs.values()]
    ([0.1, 0.01], [8, 8])
    >>> runs[0.1].step_loss[0] == runs[0.01].step_loss[0]      # the same start: the first loss is the same
    True
"""
from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import runtime, scoring, stats
from .arguments import check_int, check_positive
from .data import CifarArrays, DeviceLoader
from .models import make_cnn
from .optimizers import optimizer_class
from .probes import TrainingProbe
from .training import History, default_channels_last, fit, lr_label

# The names compare_lrs's Experiment accepts for its optimizer, and what each builds (make_optimizer).
OPTIMIZER_NAMES = ("Adam", "SGD")  # the optimizers an Experiment compares: torch.optim's names (optimizers.optimizer_class)


@dataclass(eq=False)
class Comparison(Mapping):
    """Runs that differ only by their learning rate: a mapping ``lr -> History``, in the order trained.

    ``models[lr]`` is the trained network of each run (for a final test, or to look inside);
    ``probes[lr]`` its :class:`~course_utils.probes.ProbeRecord` (empty unless the runs were
    probed); ``settings`` the :class:`Experiment` behind the runs when :func:`compare_lrs` made them.
    """

    histories: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    settings: "Experiment | None" = None

    def __getitem__(self, lr) -> History:
        return self.histories[lr]

    def __iter__(self):
        return iter(self.histories)

    def __len__(self) -> int:
        return len(self.histories)

    def __repr__(self) -> str:
        runs = ", ".join(lr_label(lr) for lr in self.histories)
        s = self.settings
        if s is None:
            return f"Comparison(lr {runs})"
        return (f"Comparison({s.optimizer}{' +BN' if s.batchnorm else ''}, seed {s.seed}, "
                f"{s.num_epochs} epochs: lr {runs})")


def train_per_lr(make_model: Callable[[], torch.nn.Module], optimizer: Callable, lrs: Iterable[float],
                 make_train_loader: Callable[[], Iterable], val_data, num_epochs: int, *, seed: int = 0,
                 train_eval_data=None, probe_every: int = 0, probe_images: torch.Tensor | None = None,
                 device=None, num_threads: int | None = None, progress: bool = True, name: str | None = None,
                 **hyperparameters) -> Comparison:
    """Train one network per learning rate with :func:`~course_utils.training.fit`: same initial weights,
    same batches, same budget.

    Args:
        make_model: ``make_model()`` returns a fresh ``torch.nn.Module``; it is called once after
            seeding with ``seed``, and every run starts from a copy of those weights.
        optimizer: ``optimizer(params, lr=lr, **hyperparameters)`` returns the run's optimizer: a
            ``torch.optim`` class, a class of :mod:`course_utils.optimizers` or its name there
            (``"SGD"``, ``"Adam"``, ...), or a function.
        lrs: the learning rates, one run each (a repeated value is one run).
        make_train_loader: ``make_train_loader()`` returns a fresh training loader; give it a
            fixed seed, so every run sees the same batches in the same order.
        val_data: the validation batches, evaluated after every epoch (or ``None``).
        num_epochs: passes over the training data per run.
        seed: seeds the initial weights (and anything else ``make_model`` draws).
        train_eval_data: un-augmented training batches evaluated like ``val_data`` (see ``fit``).
        probe_every: optimizer steps between update-ratio records of a
            :class:`~course_utils.probes.TrainingProbe` (0: no probe); ``probe_images`` a batch of
            images (on the device) its dead units are counted on.
        device: where to train (default: where the model's parameters are).
        num_threads: CPU threads for torch while these runs train (restored afterwards); ``None``
            leaves torch's setting. A network with a few thousand weights trains fastest on one
            thread: its matrix products are too small to share, and waiting threads only cost time
            (measured about 6x slower with two threads on a busy 2-core machine).
        name: the runs' label before `` lr=...`` (default: the optimizer's name).
        **hyperparameters: the optimizer's other arguments (e.g. ``momentum=0.9``).

    Returns a :class:`Comparison`: ``runs[lr]`` is that run's
    :class:`~course_utils.training.History` (in the order of ``lrs``), ``runs.models[lr]`` its
    trained model, ``runs.probes[lr]`` its probe record when ``probe_every`` is set.
    """
    num_epochs = check_int(num_epochs, "num_epochs")
    probe_every = check_int(probe_every, "probe_every", hint="(0 turns the probe off)")
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1, hint="(or None to leave torch's setting)")
    lrs = list(dict.fromkeys(check_positive(lr, "each of lrs", hint=f"in lrs={lrs!r}") for lr in lrs))
    if not lrs:
        raise ValueError("lrs is empty: give at least one learning rate.")
    optimizer = _optimizer_factory(optimizer)
    name = name or getattr(optimizer, "__name__", "run")
    runtime.seed_everything(seed)
    initial = copy.deepcopy(make_model().state_dict())
    result = Comparison()
    threads = torch.get_num_threads()
    try:
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        for lr in lrs:
            model = make_model()
            model.load_state_dict(initial)
            if device is not None:
                model.to(device)
            opt = optimizer(model.parameters(), lr=lr, **hyperparameters)
            probe = TrainingProbe(model, opt, probe_every, probe_images) if probe_every else None
            result.histories[lr] = fit(model, make_train_loader(), val_data, opt, num_epochs, device=device,
                                       progress=progress, label=f"{name} lr={lr_label(lr)}",
                                       train_eval_data=train_eval_data)
            result.models[lr] = model
            if probe is not None:
                result.probes[lr] = probe.finish()
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return result


def _optimizer_factory(optimizer) -> Callable:
    """What builds each run's optimizer: ``optimizer`` itself, or the course optimizer of that name."""
    if isinstance(optimizer, str):
        return optimizer_class(optimizer)
    if not callable(optimizer):
        raise ValueError(f"optimizer must be an optimizer class, its name or a function, got {optimizer!r}.")
    return optimizer


# ----------------------------------------------------------------------------- lesson 07: the CNN on CIFAR-10

@dataclass(frozen=True)
class Experiment:
    """Settings of a learning-rate comparison: every run shares the model, init, data order and budget."""

    lrs: tuple = (1e-2, 1e-3, 1e-5)  # learning rates compared (step-size multipliers, no unit)
    num_epochs: int = 10             # passes over the training images per run
    batch_size: int = 64             # images per optimizer step
    optimizer: str = "Adam"          # "Adam" (beta1 0.9, beta2 0.999) or "SGD" (with `momentum`)
    momentum: float = 0.9            # SGD's momentum coefficient beta (dimensionless); unused by Adam
    batchnorm: bool = False          # BatchNorm after every convolution
    augment: bool = True             # random crop (4-pixel zero padding) and horizontal flip
    seed: int = 0                    # seeds the initial weights and the data order/augmentation
    eval_batch_size: int = 500       # images per evaluation batch (memory only; results unchanged)
    train_eval_size: int = 1000      # training images (the first ones, un-augmented) measured in eval mode each epoch
    probe_every: int = 0             # optimizer steps between update-ratio/dead-unit records (0: no probe)
    probe_images: int = 500          # validation images the dead units are counted on

    def __post_init__(self):
        if not self.lrs or isinstance(self.lrs, (str, bytes)):
            raise ValueError(f"lrs must be a non-empty tuple of learning rates, got {self.lrs!r}.")
        for lr in self.lrs:
            check_positive(lr, "each of lrs", hint=f"in lrs={self.lrs!r}")
        _check_optimizer_name(self.optimizer)
        check_int(self.num_epochs, "num_epochs")
        check_int(self.seed, "seed")
        for name in ("batch_size", "eval_batch_size", "train_eval_size", "probe_images"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.probe_every, "probe_every", hint="(0 turns the probe off)")


def _check_optimizer_name(name: str) -> None:
    optimizer_class(name, library="torch")  # the one vocabulary: an unknown name gets its message there
    if name not in OPTIMIZER_NAMES:
        raise ValueError(f"an Experiment compares one of {', '.join(map(repr, OPTIMIZER_NAMES))}, got {name!r}.")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """The optimizer :class:`Experiment` names: ``torch.optim.Adam(params, lr)`` for ``"Adam"``,
    ``torch.optim.SGD(params, lr, momentum=momentum)`` for ``"SGD"``.

    Example:
        >>> type(make_optimizer("SGD", torch.nn.Linear(2, 1).parameters(), lr=0.1)).__name__
        'SGD'
    """
    _check_optimizer_name(name)
    cls = optimizer_class(name, library="torch")
    return cls(params, lr=lr) if name == "Adam" else cls(params, lr=lr, momentum=momentum)


def compare_lrs(arrays: CifarArrays, settings: Experiment, *, device=None, progress: bool = True) -> Comparison:
    """Lesson 07's comparison: :func:`train_per_lr` on the course's CNN, one run per ``settings.lrs``.

    ``arrays`` must hold a validation set (:meth:`~course_utils.data.CifarArrays.split_validation`):
    every curve is measured on it, and on the first ``settings.train_eval_size`` training images
    (un-augmented, eval mode); the test set is left alone for one final report.

    Returns a :class:`Comparison` (with ``settings``): ``comparison[lr]`` is that run's History (in
    the order of ``settings.lrs``), ``comparison.models[lr]`` its trained model,
    ``comparison.probes[lr]`` its probe record when ``settings.probe_every`` is set.

    Example:
        >>> arrays = load_cifar("fast").split_validation(200)                   # doctest: +SKIP
        >>> comparison = compare_lrs(arrays, Experiment(num_epochs=2))          # doctest: +SKIP
        >>> {lr: h.val_acc[-1] for lr, h in comparison.items()}                 # doctest: +SKIP
        {0.01: 0.1, 0.001: 0.27, 1e-05: 0.135}
    """
    if arrays.x_val is None:
        raise ValueError("compare_lrs measures every curve on a validation set held out from the training images: "
                         "pass arrays.split_validation(num_val) (the test set is for one final report only).")
    device = torch.device(device) if device is not None else runtime.get_device()
    channels_last = default_channels_last(device)

    def fixed(images, labels, batch_size=settings.eval_batch_size):  # un-augmented batches in a fixed order
        return _fixed_loader(images, labels, batch_size, device)

    def train_loader():  # a fresh loader with the same seed: same order and same augmentations in every run
        return DeviceLoader(arrays.x_train, arrays.y_train, settings.batch_size, train=True, augment=settings.augment,
                            seed=settings.seed, device=device, channels_last=channels_last)

    n = settings.train_eval_size
    probe_images = None
    if settings.probe_every:
        k = settings.probe_images
        probe_images = next(iter(fixed(arrays.x_val[:k], arrays.y_val[:k], batch_size=k)))[0]
    result = train_per_lr(
        functools.partial(make_cnn, batchnorm=settings.batchnorm),
        functools.partial(make_optimizer, settings.optimizer, momentum=settings.momentum),
        settings.lrs, train_loader, fixed(arrays.x_val, arrays.y_val), settings.num_epochs, seed=settings.seed,
        train_eval_data=fixed(arrays.x_train[:n], arrays.y_train[:n]), probe_every=settings.probe_every,
        probe_images=probe_images, device=device, progress=progress,
        name=settings.optimizer + (" +BN" if settings.batchnorm else ""))
    result.settings = settings
    return result


def _fixed_loader(images, labels, batch_size: int, device) -> DeviceLoader:
    """Un-augmented batches in a fixed order, in the trainer's memory format."""
    device = torch.device(device)
    return DeviceLoader(images, labels, batch_size, train=False, device=device,
                        channels_last=default_channels_last(device))


@dataclass(eq=False)
class SeedRuns:
    """The same comparison repeated with other seeds, scored example by example.

    ``comparisons[i]`` is the :class:`Comparison` of ``seeds[i]``; ``val_correct[lr]`` has shape
    ``(seeds, validation images)`` and ``train_correct[lr]`` ``(seeds, train_eval_size)``: 1.0 where
    that seed's final network classifies that image right (:func:`course_utils.scoring.correct`: eval
    mode, no augmentation), the input of :func:`course_utils.stats.paired_difference`.
    """

    seeds: tuple
    comparisons: list
    val_correct: dict
    train_correct: dict

    def difference(self, a: float, b: float, on: str = "val"):
        """Accuracy of lr ``a`` minus lr ``b`` (``on`` ``"val"`` or ``"train"`` images), paired over seeds and
        images: a :class:`course_utils.stats.Interval`, printed in points."""
        scores = {"val": self.val_correct, "train": self.train_correct}[on]
        return stats.paired_difference(scores[a], scores[b]).scaled(100, " points")

    def per_seed(self, fn: Callable) -> dict:
        """``{lr: array over seeds}`` of ``fn(history)`` (e.g. :func:`course_utils.summaries.loss_noise`)."""
        return {lr: np.array([fn(c[lr]) for c in self.comparisons]) for lr in self.comparisons[0]}


def repeat_over_seeds(arrays: CifarArrays, settings: Experiment, seeds, *, first: Comparison | None = None,
                      device=None, progress: bool = True) -> SeedRuns:
    """:func:`compare_lrs` once per seed in ``seeds``, each run scored image by image.

    ``first``, a comparison already trained with ``settings`` (its seed among ``seeds``), is reused
    instead of being trained again; without it the first seed's runs carry the probes
    ``settings.probe_every`` asks for, and no other seed's do. Every seed's runs share their own initial weights and batches,
    so the runs of one seed are paired, and all are scored on the same validation images.

    Example:
        >>> runs = repeat_over_seeds(arrays, settings, (0, 1, 2), first=comparison)   # doctest: +SKIP
        >>> stats.paired_difference(runs.val_correct[1e-3], runs.val_correct[1e-5])   # doctest: +SKIP
    """
    seeds = tuple(check_int(s, "each of seeds") for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct whole numbers, at least one; got {seeds!r}.")
    if first is not None and first.settings is not None and first.settings.seed not in seeds:
        raise ValueError(f"first was trained with seed {first.settings.seed}, which is not among seeds={seeds!r}.")
    device = torch.device(device) if device is not None else runtime.get_device()
    comparisons = []
    for i, seed in enumerate(seeds):
        if first is not None and first.settings is not None and first.settings.seed == seed:
            comparisons.append(first)
        else:   # only the first seed is probed (when no comparison is given): the probe is for looking inside one run
            probe_every = settings.probe_every if first is None and i == 0 else 0
            comparisons.append(compare_lrs(arrays, replace(settings, seed=seed, probe_every=probe_every), device=device,
                                           progress=progress))
    n = settings.train_eval_size
    val = _fixed_loader(arrays.x_val, arrays.y_val, settings.eval_batch_size, device)
    train = _fixed_loader(arrays.x_train[:n], arrays.y_train[:n], settings.eval_batch_size, device)
    lrs = list(comparisons[0])
    def right(loader, lr):   # (seeds, examples), scored in fp32 on every device
        return np.stack([scoring.correct(c.models[lr], loader, amp=False) for c in comparisons])

    return SeedRuns(seeds, comparisons, {lr: right(val, lr) for lr in lrs}, {lr: right(train, lr) for lr in lrs})
