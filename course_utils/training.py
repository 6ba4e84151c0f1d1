"""Training a classifier: ``fit(...) -> History``, and lesson 07's learning-rate comparison.

``fit`` is a plain loop (forward, loss, ``zero_grad``, ``backward``, ``step``) plus what a real
run needs: evaluation each epoch (on validation images, and on un-augmented training images in
eval mode, so that training and validation accuracy are measured the same way), a progress bar,
divergence detection (a non-finite loss stops the run and the history records the step), an
optional scheduler, and on a GPU mixed precision, channels-last memory and no host
synchronisation per step (per-step losses stay on the device and are read back once per epoch).

Example:
    >>> import torch
    >>> from course_utils import data, models, runtime
    >>> arrays = data.load_cifar("fast").split_validation(200)                             # doctest: +SKIP
    >>> runtime.seed_everything(0); model = models.make_cnn()                             # doctest: +SKIP
    >>> train = data.DeviceLoader(arrays.x_train, arrays.y_train, batch_size=64, seed=0)  # doctest: +SKIP
    >>> val = data.DeviceLoader(arrays.x_val, arrays.y_val, batch_size=500, train=False)  # doctest: +SKIP
    >>> train_eval = data.DeviceLoader(arrays.x_train[:200], arrays.y_train[:200], batch_size=500, train=False)  # doctest: +SKIP
    >>> history = fit(model, train, val, torch.optim.Adam(model.parameters(), lr=1e-3), num_epochs=2,
    ...               train_eval_data=train_eval)                                          # doctest: +SKIP
    >>> history.val_acc, history.train_eval_acc                                            # doctest: +SKIP
    ([0.235, 0.29], [0.26, 0.315])
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from . import runtime
from .arguments import check_int, check_positive
from .data import CifarArrays, DeviceLoader
from .models import make_cnn
from .probes import TrainingProbe

SCHEDULER_INTERVALS = ("step", "epoch")


@dataclass
class History:
    """What one training run did, as plain lists (accuracies are fractions 0..1, times in seconds).

    Per step: ``step_loss`` (the minibatch loss), ``step_lr`` (the learning rate that step used).
    Per epoch, after the epoch:

    * ``val_loss``/``val_acc``: on the validation images, model in eval mode;
    * ``train_eval_loss``/``train_eval_acc``: on a fixed set of *un-augmented* training images,
      model in eval mode, exactly as validation is measured: **the training accuracy** to set
      beside ``val_acc`` (the generalization gap is their difference); empty unless ``fit`` got
      ``train_eval_data``;
    * ``train_loss``/``train_acc``: running means over the epoch's augmented minibatches in
      train mode, as the optimizer saw them while its weights changed (cheap, but not comparable
      with ``val_acc``: harder images, and mostly older weights);
    * ``epoch_time``.

    ``val_size``/``train_eval_size`` are the numbers of images behind ``val_acc``/``train_eval_acc``
    (for their binomial standard error, :func:`accuracy_se`). ``diverged`` is True when a loss
    turned non-finite; ``diverged_step`` is that step's index in ``step_loss`` (whose last entry
    is then the non-finite loss).
    """

    label: str = ""
    lr: float | None = None
    step_loss: list = field(default_factory=list)
    step_lr: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    wall_time: float = 0.0
    diverged: bool = False
    diverged_step: int | None = None
    steps_per_epoch: int = 0
    train_eval_loss: list = field(default_factory=list)
    train_eval_acc: list = field(default_factory=list)
    val_size: int = 0
    train_eval_size: int = 0

    @property
    def num_steps(self) -> int:
        return len(self.step_loss)

    @property
    def num_epochs(self) -> int:
        """Completed epochs (a diverged run stops inside an epoch, which is not counted)."""
        return len(self.train_loss)

    def val_se(self) -> float:
        """Binomial standard error of the final validation accuracy (NaN without one)."""
        return accuracy_se(self.val_acc[-1], self.val_size) if self.val_acc else math.nan

    def train_eval_se(self) -> float:
        """Binomial standard error of the final eval-mode training accuracy (NaN without one)."""
        return accuracy_se(self.train_eval_acc[-1], self.train_eval_size) if self.train_eval_acc else math.nan

    def to_dict(self) -> dict:
        """A JSON-ready dict; non-finite numbers become ``None``."""
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value
        return {key: clean(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """Inverse of :meth:`to_dict` (``None`` in a list of numbers becomes NaN)."""
        names = {f.name for f in fields(cls)}
        values = {k: ([math.nan if v is None else v for v in d[k]] if isinstance(d[k], list) else d[k])
                  for k in d if k in names}
        return cls(**values)


# ----------------------------------------------------------------------------- the loop

def autocast_dtype(device, amp="auto") -> torch.dtype | None:
    """The mixed-precision dtype to compute in on ``device``: bf16 on GPUs that support it, else fp16;
    ``None`` (fp32) on the CPU or when ``amp`` is off.

    ``amp``: ``"auto"``/``True`` (choose), ``False``/``None`` (fp32), or ``torch.bfloat16``/``torch.float16``.

    Example:
        >>> autocast_dtype("cpu") is None
        True
    """
    device = torch.device(device)
    if amp in (None, False) or device.type != "cuda":
        return None
    if amp in ("auto", True):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp in (torch.bfloat16, torch.float16):
        return amp
    raise ValueError(f"amp must be 'auto', True, False, torch.bfloat16 or torch.float16, got {amp!r}.")


def autocast(device, amp="auto"):
    """The context the forward pass runs in: ``torch.autocast`` with :func:`autocast_dtype`'s choice, or
    a do-nothing context where that is fp32. Used by :func:`fit`, :func:`evaluate` and the benchmark.

    Example:
        >>> with autocast("cpu"):
        ...     y = torch.ones(2) * 2
        >>> y.dtype
        torch.float32
    """
    device = torch.device(device)
    dtype = autocast_dtype(device, amp)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def default_channels_last(device) -> bool:
    """Whether to train in channels-last memory format on ``device``: on CUDA and on the CPU.

    Both run these convolutions faster with channels innermost (measured on a 2-core CPU:
    about 1.35x for the plain CNN, batch 64, forward + backward + Adam).
    """
    return torch.device(device).type in ("cpu", "cuda")


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


@torch.no_grad()
def _evaluate_counts(model: nn.Module, loader, loss_fn, device: torch.device, dtype) -> tuple[float, float, int]:
    """Mean loss, accuracy and number of examples of ``model`` (in eval mode) over ``loader``."""
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    count = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast(device, dtype):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        count += y.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader.")
    return total_loss.item() / count, correct.item() / count, count


def evaluate(model: nn.Module, loader, *, loss_fn=None, device=None, amp="auto") -> tuple[float, float]:
    """Mean loss and accuracy (fraction) of ``model`` in eval mode over the ``(x, y)`` batches of ``loader``.

    Example:
        >>> _ = torch.manual_seed(0); model = nn.Linear(4, 3)
        >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))]
        >>> loss, acc = evaluate(model, batches); 0 <= acc <= 1
        True
    """
    device = torch.device(device) if device is not None else _model_device(model)
    loss, acc, _ = _evaluate_counts(model, loader, loss_fn or nn.functional.cross_entropy, device,
                                    autocast_dtype(device, amp))
    return loss, acc


def accuracy_se(acc: float, num_examples: int) -> float:
    """Binomial standard error of an accuracy ``acc`` (a fraction) measured on ``num_examples`` examples.

    sqrt(acc (1 - acc) / n): how much the accuracy would move if the same model were measured on
    another ``n`` images drawn like these. NaN when ``num_examples`` is 0.

    Example:
        >>> round(accuracy_se(0.5, 1000), 4)
        0.0158
    """
    if not num_examples:
        return math.nan
    return math.sqrt(max(acc * (1.0 - acc), 0.0) / num_examples)


def fit(model: nn.Module, train_loader, val_data, optimizer: torch.optim.Optimizer, num_epochs: int,
        scheduler=None, *, scheduler_interval: str | None = None, loss_fn=None, device=None,
        amp="auto", channels_last: bool | None = None, progress: bool = True, desc: str | None = None,
        label: str = "", train_eval_data=None) -> History:
    """Train ``model`` for ``num_epochs`` passes over ``train_loader`` and return its :class:`History`.

    Args:
        model: the network; moved to ``device``.
        train_loader: iterable of ``(x, y)`` batches with ``len()`` (e.g. a :class:`~course_utils.data.DeviceLoader`).
        val_data: iterable of ``(x, y)`` batches evaluated after each epoch, or ``None``.
        optimizer: any ``torch.optim.Optimizer`` over ``model``'s parameters.
        num_epochs: passes over the training data.
        scheduler: optional learning-rate scheduler; then ``scheduler_interval`` must say when it
            steps: ``"step"`` (after every optimizer step) or ``"epoch"`` (after every epoch;
            ``ReduceLROnPlateau`` gets the validation loss, else the training loss).
        loss_fn: ``loss_fn(logits, y, reduction=...)``; default cross-entropy.
        device: where to train (default: where the model's parameters are).
        amp: mixed precision on CUDA: ``"auto"`` = bf16 where supported, else fp16 with a
            ``GradScaler``; ``False`` for fp32. Ignored on the CPU.
        channels_last: channels-last memory format (default: :func:`default_channels_last`).
        progress: show a ``tqdm.auto`` bar (also off when ``COURSE_PROGRESS=0``).
        train_eval_data: optional iterable of ``(x, y)`` batches of *un-augmented training* images
            (a fixed subset is enough), evaluated in eval mode after each epoch like ``val_data``:
            ``history.train_eval_acc``, the training accuracy the generalization gap is defined on.

    On the CPU a non-finite loss stops the run at that step, before the update; on a GPU the
    check happens once per epoch (to avoid a host sync per step) and the history is cut at
    the first non-finite step all the same.

    Example:
        >>> _ = torch.manual_seed(0); model = torch.nn.Linear(4, 3)
        >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]
        >>> h = fit(model, batches, None, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False,
        ...         train_eval_data=batches[:2])
        >>> h.num_steps, h.num_epochs, h.diverged, len(h.train_eval_acc), h.train_eval_size
        (10, 2, False, 2, 16)
    """
    num_epochs = check_int(num_epochs, "num_epochs")
    if scheduler is not None and scheduler_interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"with a scheduler, pass scheduler_interval='step' or 'epoch' (got {scheduler_interval!r}): "
                         "say whether it steps after every batch or after every epoch.")
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or nn.functional.cross_entropy
    dtype = autocast_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    channels_last = default_channels_last(device) if channels_last is None else bool(channels_last)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    sync_each_step = device.type == "cpu"  # reading a CPU scalar costs nothing; on a GPU it would stall the queue
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_interval != "epoch":
        raise ValueError("ReduceLROnPlateau needs scheduler_interval='epoch' (it reads a loss once per epoch).")

    steps_per_epoch = len(train_loader)
    history = History(label=label, lr=float(optimizer.param_groups[0]["lr"]), steps_per_epoch=steps_per_epoch)
    bar = runtime.progress(total=num_epochs * steps_per_epoch, desc=desc or label or "training",
                           unit="step", disable=not (progress and runtime.progress_enabled()))
    start = time.perf_counter()
    model.train()
    for epoch in range(num_epochs):
        epoch_start = time.perf_counter()
        losses = torch.empty(steps_per_epoch, device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        seen, done, bad_step = 0, 0, None
        for step, (x, y) in enumerate(train_loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, dtype):
                logits = model(x)
            loss = loss_fn(logits.float(), y)
            losses[step] = loss.detach()
            done = step + 1
            history.step_lr.append(float(optimizer.param_groups[0]["lr"]))
            if sync_each_step and not math.isfinite(loss.item()):
                bad_step = step
                break
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            correct += (logits.argmax(1) == y).sum()
            seen += y.shape[0]
            if scheduler is not None and scheduler_interval == "step":
                scheduler.step()
            bar.update(1)
        epoch_losses = losses[:done].tolist()  # the one read-back of the epoch
        if bad_step is None:
            bad = [i for i, v in enumerate(epoch_losses) if not math.isfinite(v)]
            bad_step = bad[0] if bad else None
        if bad_step is not None:
            history.step_loss += epoch_losses[:bad_step + 1]
            del history.step_lr[len(history.step_loss):]
            history.diverged, history.diverged_step = True, len(history.step_loss) - 1
            history.epoch_time.append(time.perf_counter() - epoch_start)
            break
        history.step_loss += epoch_losses
        history.train_loss.append(float(np.mean(epoch_losses)) if epoch_losses else math.nan)
        history.train_acc.append(correct.item() / seen if seen else math.nan)
        if val_data is not None:
            val_loss, val_acc, history.val_size = _evaluate_counts(model, val_data, loss_fn, device, dtype)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        if train_eval_data is not None:
            te_loss, te_acc, history.train_eval_size = _evaluate_counts(model, train_eval_data, loss_fn, device, dtype)
            history.train_eval_loss.append(te_loss)
            history.train_eval_acc.append(te_acc)
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(history.val_loss[-1] if val_data is not None else history.train_loss[-1])
            else:
                scheduler.step()
        history.epoch_time.append(time.perf_counter() - epoch_start)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
        if history.train_eval_acc:
            postfix["train_acc"] = f"{history.train_eval_acc[-1]:.3f}"
        if history.val_acc:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
        bar.set_postfix(postfix)
    bar.close()
    history.wall_time = time.perf_counter() - start
    return history


# ----------------------------------------------------------------------------- lesson 07's experiment

@dataclass(frozen=True)
class Experiment:
    """Settings of a learning-rate comparison: every run shares the model, init, data order and budget."""

    lrs: tuple = (1e-2, 1e-3, 1e-5)  # learning rates compared (step-size multipliers, no unit)
    num_epochs: int = 10             # passes over the training images per run
    batch_size: int = 64             # images per optimizer step
    optimizer: str = "adam"          # "adam" (beta1 0.9, beta2 0.999) or "sgd" (with `momentum`)
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
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}.")
        check_int(self.num_epochs, "num_epochs")
        check_int(self.seed, "seed")
        for name in ("batch_size", "eval_batch_size", "train_eval_size", "probe_images"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.probe_every, "probe_every", hint="(0 turns the probe off)")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``torch.optim.Adam(params, lr)`` or ``torch.optim.SGD(params, lr, momentum=momentum)``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}.")


@dataclass(eq=False)
class Comparison(Mapping):
    """The runs of one :func:`compare_lrs`: a mapping ``lr -> History``, plus what else the runs left.

    ``models[lr]`` is the trained network of each run (for a final test, or to look inside);
    ``probes[lr]`` its :class:`~course_utils.probes.ProbeRecord` (empty unless ``settings.probe_every``).
    """

    settings: Experiment
    histories: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)

    def __getitem__(self, lr) -> History:
        return self.histories[lr]

    def __iter__(self):
        return iter(self.histories)

    def __len__(self) -> int:
        return len(self.histories)

    def __repr__(self) -> str:
        s = self.settings
        runs = ", ".join(lr_label(lr) for lr in self.histories)
        return (f"Comparison({s.optimizer}{' +BN' if s.batchnorm else ''}, seed {s.seed}, "
                f"{s.num_epochs} epochs: lr {runs})")


def compare_lrs(arrays: CifarArrays, settings: Experiment, *, device=None, progress: bool = True,
                return_models=None) -> Comparison:
    """Train one run per ``settings.lrs`` from the same initial weights, data order and budget.

    ``arrays`` must hold a validation set (:meth:`~course_utils.data.CifarArrays.split_validation`):
    every curve is measured on it, and on the first ``settings.train_eval_size`` training images
    (un-augmented, eval mode); the test set is left alone for one final report.

    Returns a :class:`Comparison`: ``comparison[lr]`` is that run's :class:`History` (in the order
    of ``settings.lrs``), ``comparison.models[lr]`` its trained model, ``comparison.probes[lr]`` its
    probe record when ``settings.probe_every`` is set.

    Example:
        >>> arrays = load_cifar("fast").split_validation(200)                   # doctest: +SKIP
        >>> comparison = compare_lrs(arrays, Experiment(num_epochs=2))          # doctest: +SKIP
        >>> {lr: h.val_acc[-1] for lr, h in comparison.items()}                 # doctest: +SKIP
        {0.01: 0.1, 0.001: 0.27, 1e-05: 0.135}
    """
    if return_models is not None:
        raise TypeError("compare_lrs always returns a Comparison now: the histories are comparison[lr] "
                        "and the trained models comparison.models[lr]; drop return_models.")
    if arrays.x_val is None:
        raise ValueError("compare_lrs measures every curve on a validation set held out from the training images: "
                         "pass arrays.split_validation(num_val) (the test set is for one final report only).")
    device = torch.device(device) if device is not None else runtime.get_device()
    channels_last = default_channels_last(device)
    runtime.seed_everything(settings.seed)
    initial = copy.deepcopy(make_cnn(batchnorm=settings.batchnorm).state_dict())

    def fixed(images, labels):  # un-augmented batches in a fixed order, for evaluation
        return DeviceLoader(images, labels, settings.eval_batch_size, train=False, device=device,
                            channels_last=channels_last)

    val = fixed(arrays.x_val, arrays.y_val)
    train_eval = fixed(arrays.x_train[:settings.train_eval_size], arrays.y_train[:settings.train_eval_size])
    probe_images = None
    if settings.probe_every:
        n = settings.probe_images
        probe_images = next(iter(DeviceLoader(arrays.x_val[:n], arrays.y_val[:n], n, train=False, device=device,
                                              channels_last=channels_last)))[0]
    result = Comparison(settings)
    for lr in settings.lrs:
        model = make_cnn(batchnorm=settings.batchnorm)
        model.load_state_dict(initial)
        model.to(device)
        # A fresh loader with the same seed: same order and same augmentations in every run.
        train = DeviceLoader(arrays.x_train, arrays.y_train, settings.batch_size, train=True,
                             augment=settings.augment, seed=settings.seed, device=device,
                             channels_last=channels_last)
        optimizer = make_optimizer(settings.optimizer, model.parameters(), lr, settings.momentum)
        probe = TrainingProbe(model, optimizer, settings.probe_every, probe_images) if settings.probe_every else None
        name = f"{settings.optimizer} lr={lr_label(lr)}" + (" +BN" if settings.batchnorm else "")
        result.histories[lr] = fit(model, train, val, optimizer, settings.num_epochs, device=device,
                                   progress=progress, label=name, train_eval_data=train_eval)
        result.models[lr] = model
        if probe is not None:
            result.probes[lr] = probe.finish()
    return result


# ----------------------------------------------------------------------------- reading histories

def lr_label(lr: float) -> str:
    """A learning rate as the course writes it: ``1e-3`` rather than ``0.001``, ``3e-4``, ``0.5``.

    Example:
        >>> lr_label(0.001), lr_label(3e-4), lr_label(0.5)
        ('1e-3', '3e-4', '0.5')
    """
    text = f"{lr:g}" if 1e-2 < lr < 1e3 else f"{lr:.0e}"
    return text.replace("e-0", "e-").replace("e+0", "e")


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
