"""How fast the course trains, against two yardsticks, on one device and one model.

(a) the course's trainer: :func:`course_utils.training.fit` over a :class:`~course_utils.data.DeviceLoader`
    (shuffle, crop, flip and normalise on the device); also as lesson 07 runs it, with a fifth of
    the images held out for validation and, after the epoch, the validation images and as many
    un-augmented training images evaluated in eval mode (what that evaluation costs);
(b) the model alone: forward, backward and Adam step on one fixed in-memory batch (the ceiling);
(c) a typical tutorial pipeline: ``torch.utils.data.DataLoader`` over the same images with PIL
    transforms (``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``, ``ToTensor``,
    ``Normalize``), feeding the same model and optimizer run exactly as the trainer runs it
    (so a/c is the input pipeline's doing alone); also as a tutorial writes the loop (PyTorch's
    default memory format, fp32), which is what a learner's own loop would get.

Usage::

    python -m course_utils.benchmark                      # mini subset, batch 64, plain CNN
    python -m course_utils.benchmark --num-images 2560 --workers 0 --repeats 3

Numbers are images per second of training (no evaluation, except where said), best of ``repeats``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn

from . import runtime
from .arguments import check_int
from .data import CIFAR_MEAN, CIFAR_STD, DeviceLoader, load_full, load_mini
from .models import make_cnn
from .training import autocast, autocast_dtype, default_channels_last, fit


@dataclass(frozen=True)
class BenchmarkResult:
    """Images per second of (a) the trainer, (b) the model alone, (c) a PIL DataLoader, and their ratios.

    (b) and (c) run the model exactly as the trainer does (memory format, mixed precision), so
    a/b and a/c measure the input pipeline and the loop alone; ``tutorial`` is (c) as a tutorial
    writes it, with PyTorch's default memory format and fp32.
    """

    device: str
    batch_size: int
    num_images: int
    threads: int
    channels_last: bool  # the trainer's memory format, also used by (b) and (c)
    trainer: float       # (a) images/s
    trainer_with_eval: float  # (a) with lesson 07's per-epoch evaluation (validation + training subset), images/s
    model_alone: float   # (b) images/s
    pil_loader: float    # (c) images/s
    tutorial: float      # (c) with default memory format and fp32, images/s
    workers: int         # DataLoader worker processes used for (c)

    @property
    def evaluation_cost(self) -> float:
        """Extra time per training image that the per-epoch evaluation adds (a fraction)."""
        return self.trainer / self.trainer_with_eval - 1.0

    @property
    def trainer_vs_model(self) -> float:
        return self.trainer / self.model_alone

    @property
    def trainer_vs_pil(self) -> float:
        return self.trainer / self.pil_loader

    @property
    def trainer_vs_tutorial(self) -> float:
        return self.trainer / self.tutorial

    def report(self) -> str:
        fmt = "channels-last" if self.channels_last else "default memory format"
        return "\n".join([
            f"device {self.device} | {self.threads} threads | batch {self.batch_size} | "
            f"{self.num_images} images per measurement | plain 3-block CNN, Adam | best of repeats",
            f"{'(a) course trainer (fit + DeviceLoader)':52s} {self.trainer:8.0f} img/s",
            f"{'(a) with per-epoch val + train-eval (lesson 07)':52s} {self.trainer_with_eval:8.0f} img/s"
            f"   (evaluation adds {100 * self.evaluation_cost:.0f} %)",
            f"{'(b) model alone, fixed batch':52s} {self.model_alone:8.0f} img/s",
            f"{f'(c) DataLoader + PIL transforms, {self.workers} workers':52s} {self.pil_loader:8.0f} img/s",
            f"{'(c) as a tutorial writes it (default format, fp32)':52s} {self.tutorial:8.0f} img/s",
            f"(a), (b) and the first (c) use {fmt}",
            f"a/b = {self.trainer_vs_model:.3f}   a/c = {self.trainer_vs_pil:.3f}   "
            f"a/c(tutorial) = {self.trainer_vs_tutorial:.3f}",
        ])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fresh(device, channels_last: bool, seed=0):
    runtime.seed_everything(seed)
    model = make_cnn(batchnorm=False).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _step(model, opt, x, y, amp, channels_last: bool) -> None:
    """One plain training step (mixed precision in ``amp``, a dtype, or fp32 when ``None``)."""
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(x.device, amp):
        logits = model(x)
    loss = nn.functional.cross_entropy(logits.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def time_trainer(images, labels, batch_size, device, warmup_steps=5, evaluation=False) -> float:
    """(a) images/s of ``fit`` for one epoch over ``images`` with on-device augmentation.

    ``evaluation=True``: as lesson 07 runs it: the last fifth of ``images`` is held out for
    validation, and after the epoch it and as many un-augmented training images are evaluated;
    the time counts the evaluation, the images only those trained on.
    """
    channels_last = default_channels_last(device)
    model, opt = _fresh(device, channels_last)
    warm = DeviceLoader(images[: warmup_steps * batch_size], labels[: warmup_steps * batch_size], batch_size,
                        device=device, channels_last=channels_last)
    fit(model, warm, None, opt, 1, device=device, progress=False)
    val = train_eval = None
    if evaluation:
        num_val = len(images) // 5
        images, labels, val_images, val_labels = images[:-num_val], labels[:-num_val], images[-num_val:], labels[-num_val:]
        val = DeviceLoader(val_images, val_labels, 500, train=False, device=device, channels_last=channels_last)
        train_eval = DeviceLoader(images[:num_val], labels[:num_val], 500, train=False, device=device,
                                  channels_last=channels_last)
    loader = DeviceLoader(images, labels, batch_size, device=device, channels_last=channels_last, seed=1)
    _sync(device)
    start = time.perf_counter()
    history = fit(model, loader, val, opt, 1, device=device, progress=False, train_eval_data=train_eval)
    _sync(device)
    return history.num_steps * batch_size / (time.perf_counter() - start)


def time_model_alone(images, labels, batch_size, num_steps, device, warmup_steps=5) -> float:
    """(b) images/s of forward + backward + step on one fixed batch of ``images`` already on the device."""
    channels_last = default_channels_last(device)
    model, opt = _fresh(device, channels_last)
    x, y = next(iter(DeviceLoader(images[:batch_size], labels[:batch_size], batch_size, train=False,
                                  device=device, channels_last=channels_last)))
    amp = autocast_dtype(device, "auto")  # the trainer's precision: bf16, else fp16, on CUDA
    for _ in range(warmup_steps):
        _step(model, opt, x, y, amp, channels_last)
    _sync(device)
    start = time.perf_counter()
    for _ in range(num_steps):
        _step(model, opt, x, y, amp, channels_last)
    _sync(device)
    return num_steps * batch_size / (time.perf_counter() - start)


class _PilDataset(torch.utils.data.Dataset):
    """The same uint8 images, served the tutorial way: one PIL image at a time through transforms."""

    def __init__(self, images, labels):
        from torchvision import transforms

        self.images, self.labels = images, labels
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def time_pil_loader(images, labels, batch_size, device, workers=0, warmup_steps=5, tutorial=False) -> float:
    """(c) images/s of the same model and optimizer fed by a DataLoader with PIL transforms.

    ``tutorial=True``: run the model as a tutorial does, default memory format and fp32.
    """
    channels_last = default_channels_last(device) and not tutorial
    model, opt = _fresh(device, channels_last)
    amp = None if tutorial else autocast_dtype(device, "auto")
    loader = torch.utils.data.DataLoader(_PilDataset(images, labels), batch_size=batch_size, shuffle=True,
                                         drop_last=True, num_workers=workers, pin_memory=device.type == "cuda",
                                         persistent_workers=workers > 0,
                                         generator=torch.Generator().manual_seed(0))

    def run(max_steps=None):
        steps = 0
        for x, y in loader:
            _step(model, opt, x.to(device, non_blocking=True), y.to(device, non_blocking=True), amp, channels_last)
            steps += 1
            if max_steps and steps >= max_steps:
                break
        return steps

    run(warmup_steps)
    _sync(device)
    start = time.perf_counter()
    steps = run()
    _sync(device)
    return steps * batch_size / (time.perf_counter() - start)


def run_benchmark(num_images: int = 2560, batch_size: int = 64, repeats: int = 3, workers: int = 0,
                  device=None, threads: int | None = None) -> BenchmarkResult:
    """Measure (a), (b), (c) on the mini subset's first ``num_images`` training images; best of ``repeats``.

    The measurements are interleaved per repeat, so a busy machine slows them alike.

    Example:
        >>> result = run_benchmark(num_images=640, repeats=1)   # doctest: +SKIP
        >>> round(result.trainer_vs_model, 2)                   # doctest: +SKIP
        0.98
    """
    num_images = check_int(num_images, "num_images", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    repeats = check_int(repeats, "repeats", minimum=1)
    workers = check_int(workers, "workers")
    if num_images < 5 * batch_size:
        raise ValueError(f"num_images must be at least 5 batches ({5 * batch_size}) so that a fifth can be held "
                         f"out for the evaluation measurement, got {num_images}.")
    device = torch.device(device) if device is not None else runtime.get_device()
    if threads:
        torch.set_num_threads(check_int(threads, "threads", minimum=1))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    arrays = load_mini() if num_images <= 5000 else load_full()
    images, labels = arrays.x_train[:num_images], arrays.y_train[:num_images]
    if len(images) < num_images:
        raise ValueError(f"only {len(images)} training images available, asked for {num_images}.")
    num_steps = num_images // batch_size
    a, e, b, c, t = [], [], [], [], []
    for _ in range(repeats):
        a.append(time_trainer(images, labels, batch_size, device))
        e.append(time_trainer(images, labels, batch_size, device, evaluation=True))
        b.append(time_model_alone(images, labels, batch_size, num_steps, device))
        c.append(time_pil_loader(images, labels, batch_size, device, workers=workers))
        t.append(time_pil_loader(images, labels, batch_size, device, workers=workers, tutorial=True))
    return BenchmarkResult(device=str(device), batch_size=batch_size, num_images=num_steps * batch_size,
                           threads=torch.get_num_threads(), channels_last=default_channels_last(device),
                           trainer=max(a), trainer_with_eval=max(e), model_alone=max(b), pil_loader=max(c), tutorial=max(t), workers=workers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=2560, help="training images per measurement (default 2560)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved measurements")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for (c) (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the course's choice)")
    args = parser.parse_args(argv)
    result = run_benchmark(args.num_images, args.batch_size, args.repeats, args.workers, args.device, args.threads)
    print(result.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())

