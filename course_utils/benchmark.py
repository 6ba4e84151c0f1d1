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

Also :func:`time_comparison`: the wall time of lesson 07's whole three-learning-rate comparison
(Adam at 1e-2, 1e-3 and 1e-5, each for ``num_epochs`` epochs, validated after every epoch as the
lesson does), optionally with a torch.profiler table of one epoch saying where the time goes.

Usage::

    python -m course_utils.benchmark                      # mini subset, batch 64, plain CNN
    python -m course_utils.benchmark --num-images 2560 --workers 0 --repeats 3
    python -m course_utils.benchmark --num-images 50000 --data mini --workers 8   # mini subset tiled to 50,000
    python -m course_utils.benchmark --comparison --num-images 50000 --data mini --num-epochs 10 --profile prof.txt

Numbers are images per second of training (no evaluation, except where said), best of ``repeats``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from . import runtime
from .arguments import check_int
from .data import CIFAR_MEAN, CIFAR_STD, CifarArrays, DeviceLoader, load_full, load_mini
from .models import make_cnn
from .lr_comparison import Experiment, compare_lrs
from .training import autocast, autocast_dtype, default_channels_last, fit

DATA_CHOICES = ("auto", "mini", "full")


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


def training_images(num_images: int, data: str = "auto") -> CifarArrays:
    """At least ``num_images`` training images: the mini subset (``data="mini"``, tiled when it holds
    fewer), full CIFAR-10 (``"full"``), or ``"auto"``: the mini subset up to its 5,000 images, else full."""
    if data not in DATA_CHOICES:
        raise ValueError(f"data must be one of {', '.join(DATA_CHOICES)}, got {data!r}.")
    if data == "auto":
        data = "mini" if num_images <= 5000 else "full"
    arrays = load_mini() if data == "mini" else load_full()
    if len(arrays.x_train) < num_images:
        if data != "mini":
            raise ValueError(f"only {len(arrays.x_train)} training images available, asked for {num_images}.")
        arrays = arrays.tiled(num_images)
    return arrays


def run_benchmark(num_images: int = 2560, batch_size: int = 64, repeats: int = 3, workers: int = 0,
                  device=None, threads: int | None = None, data: str = "auto") -> BenchmarkResult:
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
    arrays = training_images(num_images, data)
    images, labels = arrays.x_train[:num_images], arrays.y_train[:num_images]
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


@dataclass(frozen=True)
class ComparisonTiming:
    """Wall time of lesson 07's comparison: ``lrs`` trained ``num_epochs`` epochs of ``num_train``
    images each, validated on ``num_val`` after every epoch; ``seconds`` per run and in all."""

    device: str
    data: str
    num_train: int
    num_val: int
    num_epochs: int
    batch_size: int
    lrs: tuple
    seconds: float
    run_seconds: dict
    final_val_acc: dict
    profile: str = ""

    def report(self) -> str:
        runs = ", ".join(f"lr {lr:g}: {self.run_seconds[lr]:.1f} s, val acc {100 * self.final_val_acc[lr]:.1f} %"
                         for lr in self.lrs)
        return (f"comparison on {self.device} | {self.data}: {len(self.lrs)} runs x {self.num_epochs} epochs x "
                f"{self.num_train} images, batch {self.batch_size}, validation on {self.num_val} after each epoch\n"
                f"wall time {self.seconds:.1f} s ({runs})")


def time_comparison(num_train: int = 50_000, num_epochs: int = 10, batch_size: int = 64, *, data: str = "mini",
                    num_val: int = 1000, lrs=(1e-2, 1e-3, 1e-5), device=None, profile: bool = False) -> ComparisonTiming:
    """Time lesson 07's three-lr comparison (``lr_comparison.compare_lrs``, Adam, plain CNN) end to end.

    The validation images (the last ``num_val`` of the data) are held out before the training
    images are tiled (``data="mini"``), so they are never trained on. With ``profile``, one more
    epoch of the first lr runs under torch.profiler and its table (top operators by device or CPU
    time) is returned in ``profile``.

    Example:
        >>> timing = time_comparison(num_train=640, num_epochs=1, num_val=128)   # doctest: +SKIP
        >>> timing.seconds > 0                                                   # doctest: +SKIP
        True
    """
    num_train = check_int(num_train, "num_train", minimum=1)
    num_val = check_int(num_val, "num_val", minimum=1)
    device = torch.device(device) if device is not None else runtime.get_device()
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    base = load_mini() if data == "mini" else load_full()
    arrays = base.split_validation(num_val)
    if len(arrays.x_train) < num_train:
        if data != "mini":
            raise ValueError(f"only {len(arrays.x_train)} training images available, asked for {num_train}.")
        arrays = arrays.tiled(num_train)
    else:
        arrays = CifarArrays(arrays.x_train[:num_train], arrays.y_train[:num_train], arrays.x_test, arrays.y_test,
                             name=arrays.name, classes=arrays.classes, x_val=arrays.x_val, y_val=arrays.y_val)
    settings = Experiment(lrs=tuple(lrs), num_epochs=check_int(num_epochs, "num_epochs", minimum=1),
                          batch_size=check_int(batch_size, "batch_size", minimum=1), optimizer="Adam",
                          train_eval_size=min(num_val, 1000), probe_every=0)
    _sync(device)
    start = time.perf_counter()
    comparison = compare_lrs(arrays, settings, device=device, progress=False)
    _sync(device)
    seconds = time.perf_counter() - start
    table = _profile_epoch(arrays, settings, device) if profile else ""
    return ComparisonTiming(str(device), arrays.name, num_train, num_val, settings.num_epochs, settings.batch_size,
                            tuple(lrs), seconds, {lr: sum(h.epoch_time) for lr, h in comparison.items()},
                            {lr: (h.val_acc[-1] if h.val_acc else float("nan")) for lr, h in comparison.items()},
                            table)


def _profile_epoch(arrays: CifarArrays, settings: Experiment, device) -> str:
    """torch.profiler's table of one training epoch (with its evaluation) at the first lr."""
    from dataclasses import replace

    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    one = replace(settings, lrs=settings.lrs[:1], num_epochs=1)
    with profile(activities=activities) as prof:
        compare_lrs(arrays, one, device=device, progress=False)
        _sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=2560, help="training images per measurement (default 2560)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved measurements")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for (c) (default 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the course's choice)")
    parser.add_argument("--data", default="auto", choices=DATA_CHOICES,
                        help="mini: the mini subset, tiled up to --num-images if needed; full: CIFAR-10; "
                             "auto: mini up to 5,000 images, else full")
    parser.add_argument("--comparison", action="store_true",
                        help="time lesson 07's three-lr comparison instead (--num-images per epoch)")
    parser.add_argument("--num-epochs", type=int, default=10, help="epochs per run of --comparison (default 10)")
    parser.add_argument("--profile", default=None, help="with --comparison: write torch.profiler's table of one "
                                                        "epoch to this file")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(check_int(args.threads, "threads", minimum=1))
    if args.comparison:
        data = "mini" if args.data == "auto" else args.data
        result = time_comparison(args.num_images, args.num_epochs, args.batch_size, data=data, device=args.device,
                                 profile=bool(args.profile))
        if args.profile:
            with open(args.profile, "w") as f:
                f.write(result.profile)
        figures = {k: v for k, v in asdict(result).items() if k != "profile"}
        figures["run_seconds"] = {f"{k:g}": v for k, v in result.run_seconds.items()}
        figures["final_val_acc"] = {f"{k:g}": v for k, v in result.final_val_acc.items()}
    else:
        result = run_benchmark(args.num_images, args.batch_size, args.repeats, args.workers, args.device,
                               args.threads, data=args.data)
        figures = dict(asdict(result), trainer_vs_model=result.trainer_vs_model,
                       trainer_vs_pil=result.trainer_vs_pil, trainer_vs_tutorial=result.trainer_vs_tutorial)
    print(result.report())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

