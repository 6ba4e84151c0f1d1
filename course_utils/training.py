"""Training a classifier: ``fit(...) -> History``, and lesson 07's learning-rate comparison.

``fit`` is a plain loop (forward, loss, ``zero_grad``, ``backward``, ``step``) plus what a real
run needs: evaluation each epoch, a progress bar, divergence detection (a non-finite loss stops
the run and the history records the step), an optional scheduler, and on a GPU mixed precision,
channels-last memory and no host synchronisation per step (per-step losses stay on the device
and are read back once per epoch).

Example:
    >>> from course_utils import data, models, training, runtime    # doctest: +SKIP
    >>> arrays = data.load_cifar("fast")                             # doctest: +SKIP
    >>> runtime.seed_everything(0); model = models.make_cnn()        # doctest: +SKIP
    >>> train = data.DeviceLoader(arrays.x_train, arrays.y_train, batch_size=64, seed=0)          # doctest: +SKIP
    >>> val = data.DeviceLoader(arrays.x_test, arrays.y_test, batch_size=500, train=False)         # doctest: +SKIP
    >>> history = training.fit(model, train, val, torch.optim.Adam(model.parameters(), lr=1e-3), num_epochs=2)  # doctest: +SKIP
    >>> history.val_acc                                              # doctest: +SKIP
    [0.262, 0.318]
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from . import runtime
from .data import CifarArrays, DeviceLoader
from .models import make_cnn

SCHEDULER_INTERVALS = ("step", "epoch")


@dataclass
class History:
    """What one training run did, as plain lists (accuracies are fractions 0..1, times in seconds).

    Per step: ``step_loss`` (the minibatch loss), ``step_lr`` (the learning rate that step used).
    Per epoch: ``train_loss``/``train_acc`` (averaged over that epoch's augmented minibatches,
    as the model saw them), ``val_loss``/``val_acc`` (on the validation data, after the epoch),
    ``epoch_time``. ``diverged`` is True when a loss turned non-finite; ``diverged_step`` is that
    step's index in ``step_loss`` (whose last entry is then the non-finite loss).
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

    @property
    def num_steps(self) -> int:
        return len(self.step_loss)

    @property
    def num_epochs(self) -> int:
        """Completed epochs (a diverged run stops inside an epoch, which is not counted)."""
        return len(self.train_loss)

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

def _autocast_dtype(device: torch.device, amp):
    """bf16 on GPUs that support it, else fp16 (with gradient scaling); None (fp32) on the CPU."""
    if amp in (None, False) or device.type != "cuda":
        return None
    if amp in ("auto", True):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp in (torch.bfloat16, torch.float16):
        return amp
    raise ValueError(f"amp must be 'auto', True, False, torch.bfloat16 or torch.float16, got {amp!r}.")


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
def evaluate(model: nn.Module, loader, *, loss_fn=None, device=None, amp="auto") -> tuple[float, float]:
    """Mean loss and accuracy (fraction) of ``model`` over the ``(x, y)`` batches of ``loader``."""
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or nn.functional.cross_entropy
    dtype = _autocast_dtype(device, amp)
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    count = 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with (torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()):
            logits = model(x)
        total_loss += loss_fn(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        count += y.shape[0]
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader.")
    return total_loss.item() / count, correct.item() / count


def fit(model: nn.Module, train_loader, val_data, optimizer: torch.optim.Optimizer, num_epochs: int,
        scheduler=None, *, scheduler_interval: str | None = None, loss_fn=None, device=None,
        amp="auto", channels_last: bool | None = None, progress: bool = True, desc: str | None = None,
        label: str = "") -> History:
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

    On the CPU a non-finite loss stops the run at that step, before the update; on a GPU the
    check happens once per epoch (to avoid a host sync per step) and the history is cut at
    the first non-finite step all the same.

    Example:
        >>> import torch
        >>> torch.manual_seed(0); model = torch.nn.Linear(4, 3)      # doctest: +ELLIPSIS
        <...>
        >>> batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(5)]
        >>> h = fit(model, batches, None, torch.optim.SGD(model.parameters(), lr=0.1), num_epochs=2, progress=False)
        >>> h.num_steps, h.num_epochs, h.diverged
        (10, 2, False)
    """
    if int(num_epochs) != num_epochs or num_epochs < 0:
        raise ValueError(f"num_epochs must be a non-negative integer, got {num_epochs!r}.")
    if scheduler is not None and scheduler_interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"with a scheduler, pass scheduler_interval='step' or 'epoch' (got {scheduler_interval!r}): "
                         "say whether it steps after every batch or after every epoch.")
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or nn.functional.cross_entropy
    dtype = _autocast_dtype(device, amp)
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    channels_last = default_channels_last(device) if channels_last is None else bool(channels_last)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    sync_each_step = device.type == "cpu"  # reading a CPU scalar costs nothing; on a GPU it would stall the queue
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_interval != "epoch":
        raise ValueError("ReduceLROnPlateau needs scheduler_interval='epoch' (it reads a loss once per epoch).")

    steps_per_epoch = len(train_loader)
    history = History(label=label, lr=float(optimizer.param_groups[0]["lr"]), steps_per_epoch=steps_per_epoch)
    bar = runtime.progress(total=int(num_epochs) * steps_per_epoch, desc=desc or label or "training",
                           unit="step", disable=not (progress and runtime.progress_enabled()))
    start = time.perf_counter()
    model.train()
    for epoch in range(int(num_epochs)):
        epoch_start = time.perf_counter()
        losses = torch.empty(steps_per_epoch, device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        seen, done, bad_step = 0, 0, None
        for step, (x, y) in enumerate(train_loader):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            with (torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()):
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
            val_loss, val_acc = evaluate(model, val_data, loss_fn=loss_fn, device=device, amp=amp)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(history.val_loss[-1] if val_data is not None else history.train_loss[-1])
            else:
                scheduler.step()
        history.epoch_time.append(time.perf_counter() - epoch_start)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.3f}"}
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

    def __post_init__(self):
        if not self.lrs or any(not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0) for lr in self.lrs):
            raise ValueError(f"lrs must be positive finite numbers, got {self.lrs!r}.")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}.")


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9) -> torch.optim.Optimizer:
    """``torch.optim.Adam(params, lr)`` or ``torch.optim.SGD(params, lr, momentum=momentum)``."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}.")


def compare_lrs(arrays: CifarArrays, settings: Experiment, *, device=None, progress: bool = True,
                return_models: bool = False):
    """Train one run per ``settings.lrs`` from the same initial weights, data order and budget.

    Returns ``{lr: History}`` in the order of ``settings.lrs``; with ``return_models=True`` also
    ``{lr: trained model}``, as ``(histories, models)``.

    Example:
        >>> histories = compare_lrs(load_cifar("fast"), Experiment(num_epochs=2))   # doctest: +SKIP
        >>> {lr: h.val_acc[-1] for lr, h in histories.items()}                      # doctest: +SKIP
    """
    device = torch.device(device) if device is not None else runtime.get_device()
    channels_last = default_channels_last(device)
    runtime.seed_everything(settings.seed)
    initial = copy.deepcopy(make_cnn(batchnorm=settings.batchnorm).state_dict())
    val = DeviceLoader(arrays.x_test, arrays.y_test, settings.eval_batch_size, train=False,
                       device=device, channels_last=channels_last)
    histories, trained = {}, {}
    for lr in settings.lrs:
        model = make_cnn(batchnorm=settings.batchnorm)
        model.load_state_dict(initial)
        # A fresh loader with the same seed: same order and same augmentations in every run.
        train = DeviceLoader(arrays.x_train, arrays.y_train, settings.batch_size, train=True,
                             augment=settings.augment, seed=settings.seed, device=device,
                             channels_last=channels_last)
        model.to(device)
        optimizer = make_optimizer(settings.optimizer, model.parameters(), lr, settings.momentum)
        name = f"{settings.optimizer} lr={lr_label(lr)}" + (" +BN" if settings.batchnorm else "")
        histories[lr] = fit(model, train, val, optimizer, settings.num_epochs, device=device,
                            progress=progress, label=name)
        if return_models:
            trained[lr] = model
    return (histories, trained) if return_models else histories


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
    """Final training accuracy minus final validation accuracy (a fraction; NaN without epochs)."""
    if not history.train_acc or not history.val_acc:
        return math.nan
    return history.train_acc[-1] - history.val_acc[-1]


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


def summarize(histories: dict) -> list[dict]:
    """One row per run: lr, final and best validation accuracy, final train accuracy, gap, loss noise, diverged."""
    rows = []
    for lr, h in histories.items():
        rows.append({
            "lr": float(lr),
            "final_val_acc": h.val_acc[-1] if h.val_acc else math.nan,
            "best_val_acc": max(h.val_acc) if h.val_acc else math.nan,
            "final_train_acc": h.train_acc[-1] if h.train_acc else math.nan,
            "gap": generalization_gap(h),
            "final_train_loss": h.train_loss[-1] if h.train_loss else math.nan,
            "loss_noise": loss_noise(h),
            "diverged": bool(h.diverged),
        })
    return rows


def format_summary(rows: list[dict]) -> str:
    """The rows of :func:`summarize` as a fixed-width text table (accuracies in %)."""
    head = f"{'lr':>8} {'final val acc':>14} {'best val acc':>13} {'train acc':>10} {'gap':>7} {'train loss':>11} {'loss noise':>11} {'diverged':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{lr_label(r['lr']):>8} {100 * r['final_val_acc']:>13.1f}% {100 * r['best_val_acc']:>12.1f}% "
                     f"{100 * r['final_train_acc']:>9.1f}% {100 * r['gap']:>6.1f}% {r['final_train_loss']:>11.3f} "
                     f"{r['loss_noise']:>11.3f} {str(r['diverged']):>9}")
    return "\n".join(lines)
