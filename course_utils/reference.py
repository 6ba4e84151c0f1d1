"""Lesson 07's full-scale reference run: write it once on a GPU, overlay it everywhere else.

``python -m course_utils.reference`` trains, on full CIFAR-10, the lesson's experiments (the
plain CNN with Adam at 1e-2 / 1e-3 / 1e-5, also with other seeds; the BatchNorm CNN with Adam at
1e-2 and 1e-3; the plain CNN with SGD+momentum at 1e-1 / 1e-2 / 1e-3), as the lesson does: a fifth
of the training images held out for validation, training accuracy measured in eval mode on
un-augmented training images, update-to-weight ratios and dead units probed during training, and
the test set used once, for the run the validation set picks. It writes ``reference_07.json``:
the histories (per-step losses averaged over blocks of steps to keep the file small), the probes,
the other seeds' summary rows, the device, library versions and wall times. Commit that file only
from a real GPU run.

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
from .data import DeviceLoader, load_cifar
from .lr_comparison import Experiment, compare_lrs
from .summaries import summarize
from .training import History, evaluate

FILENAME = "reference_07.json"
MAX_STEP_POINTS = 500  # per-step curves are block-averaged down to about this many points
VAL_FRACTION = 5       # one training image in this many is held out for validation (as lesson 07 does)
PROBES_PER_EPOCH = 4   # update-ratio / dead-unit records per epoch

EXPERIMENTS = {  # name -> settings; all share num_epochs, batch size and seed
    "adam": Experiment(lrs=(1e-2, 1e-3, 1e-5)),
    "adam_bn": Experiment(lrs=(1e-2, 1e-3), batchnorm=True),
    "sgd": Experiment(lrs=(1e-1, 1e-2, 1e-3), optimizer="SGD"),
}
EXTRA_SEEDS = {"adam": (1, 2, 3, 4), "adam_bn": (1, 2), "sgd": (1, 2)}  # repeated with these seeds too (summary rows)


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
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "train_eval_loss", "train_eval_acc", "epoch_time"):
        d[key] = [None if v is None else round(v, 5) for v in d[key]]
    return d


def _rounded_rows(comparison) -> dict:
    """:func:`~course_utils.summaries.summarize`'s rows keyed by lr, numbers rounded (NaN -> None)."""
    def clean(value):
        if isinstance(value, float):
            return round(value, 5) if math.isfinite(value) else None
        return value
    return {f"{row['lr']:g}": {k: clean(v) for k, v in row.items()} for row in summarize(comparison)}


def run_reference(mode: str = "gpu", num_epochs: int | None = None, device=None, progress: bool = True) -> dict:
    """Run every experiment of :data:`EXPERIMENTS` in ``mode`` and return the JSON-ready result.

    Curves and the choice of the best Adam learning rate use the validation set (a fifth of the
    training images); the test set is evaluated once, for that chosen run (``result["test"]``).
    """
    device = runtime.get_device() if device is None else device
    arrays = load_cifar(mode)
    arrays = arrays.split_validation(len(arrays.x_train) // VAL_FRACTION)
    start = time.perf_counter()
    result = {"lesson": "07", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "mode": mode,
              "data": arrays.name, "num_train": int(len(arrays.x_train)), "num_val": int(len(arrays.x_val)),
              "num_test": int(len(arrays.x_test)), "device": _device_name(device), "versions": _versions(),
              "experiments": {}}
    steps_per_epoch = len(arrays.x_train) // EXPERIMENTS["adam"].batch_size
    chosen = None
    for name, settings in EXPERIMENTS.items():
        settings = replace(settings, probe_every=max(1, steps_per_epoch // PROBES_PER_EPOCH))
        if num_epochs is not None:
            settings = replace(settings, num_epochs=int(num_epochs))
        t0 = time.perf_counter()
        comparison = compare_lrs(arrays, settings, device=device, progress=progress)
        entry = {
            "settings": asdict(settings),
            "histories": {f"{lr:g}": compact(h) for lr, h in comparison.items()},
            "probes": {f"{lr:g}": record.to_dict() for lr, record in comparison.probes.items()},
        }
        if name == "adam":
            best = max((lr for lr, h in comparison.items() if h.val_acc and not h.diverged),
                       key=lambda lr: max(comparison[lr].val_acc), default=None)
            chosen = (best, comparison.models.get(best), settings)
        if name in EXTRA_SEEDS:
            entry["seeds"] = {str(settings.seed): _rounded_rows(comparison)}
            for seed in EXTRA_SEEDS[name]:
                again = compare_lrs(arrays, replace(settings, seed=seed, probe_every=0), device=device,
                                    progress=progress)
                entry["seeds"][str(seed)] = _rounded_rows(again)
        entry["wall_time"] = round(time.perf_counter() - t0, 2)
        result["experiments"][name] = entry
    if chosen is not None and chosen[1] is not None:
        best, model, settings = chosen
        test = DeviceLoader(arrays.x_test, arrays.y_test, settings.eval_batch_size, train=False, device=device)
        test_loss, test_acc = evaluate(model, test)
        result["test"] = {"experiment": "adam", "lr": best, "chosen_by": "best validation accuracy",
                          "test_loss": round(test_loss, 5), "test_acc": round(test_acc, 5)}
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
    if "test" in result:
        test = result["test"]
        print(f"  test accuracy of the run validation picked (adam lr {test['lr']:g}): {100 * test['test_acc']:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
