"""The course's checks on a real GPU, in one command: what runs on a lent GPU machine (issue 25).

    python -m tools.gpu_run --out DIR                       # every step
    python -m tools.gpu_run --out DIR --steps lessons       # some of them: env, benchmark, comparison,
                                                            #   lessons, reference (comma-separated)

`tools/gpu_run.sh` installs the course from this checkout first (on a machine with no network,
from wheels carried in `.whl/`), then calls this. Each step has its own time limit and its own
log; a step that fails is recorded and the next one still runs. DIR receives:

* `summary.json`: every step's status, wall time and figures (the benchmark's images per second
  and ratios, the comparison's wall time and accuracies, each lesson's cells and run time, the
  reference run's summary), and which data each used;
* `log.txt`: everything the steps printed;
* `07.gpu.ipynb`, `08.gpu.ipynb`: the lessons as executed in gpu mode;
* `reference_07.json`: the reference result, to be committed as
  `course_utils/reference_data/reference_07.json`;
* `profile.txt`: torch.profiler's table of one epoch of the comparison.

Data: full CIFAR-10 when it is found (`COURSE_DATA_DIR` or `../shared/data/cifar-10-batches-py`),
else the mini subset (`COURSE_MINI_CIFAR`, `.gpu-data/cifar10_mini.npz` or `../shared/data`),
with `COURSE_CIFAR=mini` so the gpu mode's run sizes apply to it; for throughput, the mini
subset tiled to 50,000 images. `summary.json` says which data each step used.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("env", "benchmark", "comparison", "lessons", "reference")
LIMITS = {"env": 120, "benchmark": 120, "comparison": 180, "lessons": 420, "reference": 180}  # seconds
LESSONS = ("07", "08")


def find_data() -> dict:
    """Point the course at the data this machine has; return what was found."""
    env = {}
    full_dirs = [Path(os.environ["COURSE_DATA_DIR"])] if os.environ.get("COURSE_DATA_DIR") else []
    full_dirs.append(ROOT.parent / "shared" / "data")
    full = next((d for d in full_dirs if (d / "cifar-10-batches-py").is_dir()), None)
    minis = [os.environ.get("COURSE_MINI_CIFAR", ""), ROOT / ".gpu-data" / "cifar10_mini.npz",
             ROOT.parent / "shared" / "data" / "cifar10_mini.npz"]
    mini = next((str(p) for p in minis if p and Path(p).is_file()), None)
    if mini:
        env["COURSE_MINI_CIFAR"] = mini
    if full is not None:
        env["COURSE_DATA_DIR"] = str(full)
        env["COURSE_CIFAR"] = "full"
    else:
        env["COURSE_CIFAR"] = "mini"
    os.environ.update(env)
    return {"full_cifar10": str(full) if full else None, "mini_subset": mini, "lessons_use": env["COURSE_CIFAR"],
            "throughput_uses": "mini subset tiled to 50,000 images" if full is None else "full CIFAR-10"}


def run(cmd: list, limit: float, log) -> tuple:
    """Run ``cmd`` with a time limit, its output appended to ``log``; return (exit status, seconds)."""
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=limit)
        status = done.returncode
    except subprocess.TimeoutExpired:
        status = "timeout"
    return status, round(time.perf_counter() - start, 1)


def step_env(out: Path, log) -> dict:
    import torch

    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
            "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "bf16": torch.cuda.is_bf16_supported() if torch.cuda.is_available() else None}
    try:
        info["nvidia_smi"] = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        info["nvidia_smi"] = f"unavailable: {err}"
    for name in ("torchvision", "numpy", "nbclient", "ipykernel", "matplotlib"):
        try:
            info[name] = __import__(name).__version__
        except Exception as err:  # noqa: BLE001
            info[name] = f"missing: {err}"
    log.write(json.dumps(info, indent=1) + "\n")
    return info


def step_benchmark(out: Path, log) -> dict:
    figures = out / "benchmark.json"
    status, seconds = run([sys.executable, "-m", "course_utils.benchmark", "--num-images", "50000", "--data", "mini",
                           "--workers", "8", "--repeats", "2", "--json", str(figures)], LIMITS["benchmark"], log)
    result = {"status": status, "seconds": seconds, "data": "mini subset tiled to 50,000 images"}
    if figures.is_file():
        result["figures"] = json.loads(figures.read_text())
    return result


def step_comparison(out: Path, log) -> dict:
    figures = out / "comparison.json"
    status, seconds = run([sys.executable, "-m", "course_utils.benchmark", "--comparison", "--num-images", "50000",
                           "--data", "mini", "--num-epochs", "10", "--profile", str(out / "profile.txt"),
                           "--json", str(figures)], LIMITS["comparison"], log)
    result = {"status": status, "seconds": seconds,
              "data": "mini subset: 1,000 validation images held out, the other 4,000 tiled to 50,000"}
    if figures.is_file():
        result["figures"] = json.loads(figures.read_text())
    return result


def step_lessons(out: Path, log, mode: str = "gpu") -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    results = {}
    env = {"COURSE_MODE": mode, "COURSE_PROGRESS": "0", "MPLBACKEND": "Agg"}
    os.environ.update(env)
    budget = LIMITS["lessons"]
    for lesson in LESSONS:
        path = next((ROOT / "notebooks" / "solutions").glob(f"{lesson}_*.ipynb"))
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        timeline = []
        client = NotebookClient(nb, timeout=int(max(60, budget)), kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        error = None
        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    t0 = time.perf_counter()
                    client.execute_cell(cell, index)
                    if cell.cell_type == "code":
                        timeline.append([index, round(time.perf_counter() - t0, 2)])
        except CellExecutionError as err:
            error = str(err)[-3000:]
        except Exception as err:  # noqa: BLE001 - a timeout or a dead kernel: record it, go on
            error = f"{type(err).__name__}: {err}"[-3000:]
        seconds = round(time.perf_counter() - start, 1)
        budget = max(60, budget - seconds)
        nbformat.write(nb, out / f"{lesson}.gpu.ipynb")
        first_output = next((o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                             if o.get("output_type") == "stream"), "")
        results[lesson] = {"seconds": seconds, "error": error, "first_output": first_output[:300],
                           "slowest_cells": sorted(timeline, key=lambda t: -t[1])[:8]}
        log.write(f"lesson {lesson}: {seconds} s, {'error: ' + error if error else 'ran top to bottom'}\n")
        log.flush()
    return results


def step_reference(out: Path, log) -> dict:
    target = out / "reference_07.json"
    status, seconds = run([sys.executable, "-m", "course_utils.reference", "--out", str(target)],
                          LIMITS["reference"], log)
    result = {"status": status, "seconds": seconds}
    if target.is_file():
        ref = json.loads(target.read_text())
        result.update(data=ref.get("data"), num_train=ref.get("num_train"), device=ref.get("device"),
                      wall_time=ref.get("wall_time"), test=ref.get("test"),
                      final_val_acc={name: {lr: h["val_acc"][-1] for lr, h in e["histories"].items() if h["val_acc"]}
                                     for name, e in ref["experiments"].items()})
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gpu_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for summary.json, logs, notebooks, reference")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--lesson-mode", default="gpu", help="run mode of the lessons step (fast: a dry run on a CPU)")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "data": find_data(), "steps": {}}
    functions = {"env": step_env, "benchmark": step_benchmark, "comparison": step_comparison,
                 "lessons": step_lessons, "reference": step_reference}
    with open(out / "log.txt", "a") as log:
        for name in steps:
            start = time.perf_counter()
            print(f">> {name}", flush=True)
            try:
                if name == "lessons":
                    summary["steps"][name] = step_lessons(out, log, args.lesson_mode)
                else:
                    summary["steps"][name] = functions[name](out, log)
            except Exception as err:  # noqa: BLE001 - record it; the next step still runs
                summary["steps"][name] = {"status": "error", "error": f"{type(err).__name__}: {err}"}
            summary["steps"][name]["step_seconds"] = round(time.perf_counter() - start, 1)
            (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
            print(json.dumps({name: summary["steps"][name]}, default=str)[:1500], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
