"""Lesson 07's full-scale reference run: write it once on a GPU, overlay it everywhere else.

``python -m course_utils.reference`` trains, on full CIFAR-10, the lesson's experiments (the
plain CNN with Adam at 1e-2 / 1e-3 / 1e-5, the BatchNorm CNN with Adam at 1e-2 and 1e-3, and the
plain CNN with SGD+momentum at 1e-2) and writes ``reference_07.json``: the histories (per-step
losses averaged over blocks of steps to keep the file small), the device, library versions and
wall times. Commit that file only from a real GPU run.

Where it lives: ``course_utils/reference_data/`` inside the package (:func:`default_path`), so a
checkout and an installed wheel (Colab's ``pip install --no-deps git+...``) find it in the same
place: the wheel ships ``reference_data/*.json`` as package data.

Usage::

    python -m course_utils.reference                   # gpu mode: full CIFAR-10, 10 epochs each (in a checkout)
    python -m course_utils.reference --mode fast --num-epochs 1 --out /tmp/ref.json   # a smoke test
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from . import _course, runtime
from .data import load_cifar
from .training import Experiment, History, compare_lrs

FILENAME = "reference_07.json"
MAX_STEP_POINTS = 500  # per-step curves are block-averaged down to about this many points

EXPERIMENTS = {  # name -> settings; all share num_epochs, batch size and seed
    "adam": Experiment(lrs=(1e-2, 1e-3, 1e-5)),
    "adam_bn": Experiment(lrs=(1e-2, 1e-3), batchnorm=True),
    "sgd": Experiment(lrs=(1e-2,), optimizer="sgd"),
}


def default_path() -> Path:
    """Where the lesson looks for the reference result: ``course_utils/reference_data/reference_07.json``.

    The folder is inside the package, so the same lookup works from a checkout and from an
    installed wheel (which ships it as package data).

    Example:
        >>> default_path().relative_to(Path(__file__).parent).as_posix()
        'reference_data/reference_07.json'
    """
    return Path(__file__).resolve().parent / "reference_data" / FILENAME


def _versions() -> dict:
    import torch
    import torchvision

    cuda = torch.version.cuda if torch.cuda.is_available() else None
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "numpy": np.__version__, "cuda": cuda,
            "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None}


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{device.type}: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _block_mean(values: list, stride: int) -> list:
    """Means over consecutive blocks of ``stride`` values (NaN-aware), rounded to 4 decimals."""
    out = []
    for start in range(0, len(values), stride):
        block = np.asarray(values[start:start + stride], dtype=float)
        mean = float(np.mean(block)) if np.all(np.isfinite(block)) else math.nan
        out.append(round(mean, 4) if math.isfinite(mean) else None)
    return out


def compact(history: History) -> dict:
    """``history.to_dict()`` with the per-step lists block-averaged (``step_stride`` steps per point)."""
    d = history.to_dict()
    stride = max(1, math.ceil(len(history.step_loss) / MAX_STEP_POINTS))
    d["step_loss"] = _block_mean(history.step_loss, stride)
    d["step_lr"] = [history.step_lr[i] for i in range(0, len(history.step_lr), stride)]
    d["step_stride"] = stride
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "epoch_time"):
        d[key] = [None if v is None else round(v, 5) for v in d[key]]
    return d


def run_reference(mode: str = "gpu", num_epochs: int | None = None, device=None, progress: bool = True) -> dict:
    """Run every experiment of :data:`EXPERIMENTS` in ``mode`` and return the JSON-ready result."""
    device = runtime.get_device() if device is None else device
    arrays = load_cifar(mode)
    start = time.perf_counter()
    result = {"lesson": "07", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": mode,
              "data": arrays.name, "num_train": int(len(arrays.x_train)), "num_test": int(len(arrays.x_test)),
              "device": _device_name(device), "versions": _versions(), "experiments": {}}
    for name, settings in EXPERIMENTS.items():
        if num_epochs is not None:
            settings = replace(settings, num_epochs=int(num_epochs))
        t0 = time.perf_counter()
        histories = compare_lrs(arrays, settings, device=device, progress=progress)
        result["experiments"][name] = {
            "settings": asdict(settings),
            "wall_time": round(time.perf_counter() - t0, 2),
            "histories": {f"{lr:g}": compact(h) for lr, h in histories.items()},
        }
    result["wall_time"] = round(time.perf_counter() - start, 2)
    return result


def load_reference(path=None) -> dict | None:
    """The reference result at ``path`` (default :func:`default_path`), or ``None`` if there is none.

    Each experiment's ``histories`` come back as ``{lr: History}`` (float keys).
    """
    path = Path(path) if path is not None else default_path()
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    for experiment in result["experiments"].values():
        experiment["histories"] = {float(lr): History.from_dict(h) for lr, h in experiment["histories"].items()}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.reference", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="gpu", choices=runtime.MODES,
                        help="data size: gpu = full CIFAR-10 (default), cpu = mini subset, fast = its first rows")
    parser.add_argument("--num-epochs", type=int, default=None, help="override the epochs per run (default 10)")
    parser.add_argument("--out", default=None,
                        help=f"output file (default, in a checkout: course_utils/reference_data/{FILENAME})")
    args = parser.parse_args(argv)
    if args.mode != "gpu" and not args.out:
        parser.error("only a full-scale run (--mode gpu) may write the lesson's reference file; pass --out for others.")
    if not args.out and _course.checkout_root() is None:
        parser.error(f"this course_utils is an installed package, not a checkout: its reference file "
                     f"({default_path()}) would be lost at the next install. Pass --out {FILENAME}, then "
                     f"commit that file as course_utils/reference_data/{FILENAME} of a course checkout.")
    if args.mode == "gpu" and runtime.get_device().type == "cpu":
        print("warning: no GPU found; the full-scale run on the CPU takes hours.", file=sys.stderr)
    result = run_reference(args.mode, args.num_epochs)
    out = Path(args.out) if args.out else default_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB) | device {result['device']} | "
          f"total {result['wall_time']:.1f} s")
    for name, experiment in result["experiments"].items():
        accs = ", ".join(f"lr {lr}: {100 * h['val_acc'][-1]:.1f}%" if h["val_acc"] else f"lr {lr}: -"
                         for lr, h in experiment["histories"].items())
        print(f"  {name:8s} {experiment['wall_time']:7.1f} s  final val acc  {accs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
