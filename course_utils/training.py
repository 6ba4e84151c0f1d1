"""Training a classifier: ``fit(...) -> History``, one run and what it records.

``fit`` is a plain loop (forward, loss, ``zero_grad``, ``backward``, ``step``) plus what a real
run needs: evaluation each epoch (on validation images, and on un-augmented training images in
eval mode, so that training and validation accuracy are measured the same way), a progress bar,
divergence detection (a non-finite loss stops the run and the history records the step), an
optional scheduler, and on a GPU mixed precision, channels-last memory and no host
synchronisation per step (per-step losses stay on the device and are read back once per epoch).

One run per learning rate from the same start is :mod:`course_utils.lr_comparison`; tables and
numbers read off finished runs are :mod:`course_utils.summaries`.

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
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch
from torch import nn

from . import runtime
from .arguments import check_int

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


# ----------------------------------------------------------------------------- labels

def lr_label(lr: float) -> str:
    """A learning rate as the course writes it: ``1e-3`` rather than ``0.001``, ``3e-4``, ``0.5``.

    Example:
        >>> lr_label(0.001), lr_label(3e-4), lr_label(0.5)
        ('1e-3', '3e-4', '0.5')
    """
    text = f"{lr:g}" if 1e-2 < lr < 1e3 else f"{lr:.0e}"
    return text.replace("e-0", "e-").replace("e+0", "e")
