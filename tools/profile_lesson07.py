"""Where lesson 07's cpu-mode time goes, and what the CPU speed-ups the issue names would buy.

One epoch of lesson 07's plain CNN as the lesson runs it in cpu mode: the mini subset (4,000
training images after holding out 1,000 for validation), batch 64, Adam at lr 1e-3, on-device
augmentation, then the per-epoch evaluation (1,000 validation images and 500 un-augmented
training images, batches of 500) and the probe (update ratios every step of one epoch's length,
dead units on 250 images). Prints, for each part, seconds per epoch, and for each candidate
(thread settings, memory format, bf16 autocast, torch.compile, fused Adam, smaller or cheaper
evaluation), the time of one training epoch or one evaluation pass beside the baseline, best of
``--repeats``. Run it alone: ``flock /tmp/course-heavy.lock python tools/profile_lesson07.py``.

Usage::

    python tools/profile_lesson07.py                    # everything (about 5 minutes on 2 idle cores)
    python tools/profile_lesson07.py --only parts,threads --repeats 2
    python tools/profile_lesson07.py --profile          # torch.profiler's table of one training epoch
    python tools/profile_lesson07.py --threads 1        # candidates on one thread: steady on a loaded machine
    python tools/profile_lesson07.py --only block_order,side_by_side

What it found on the project's 2-core machine (2026-12-05, quiet): a training epoch is 1.34 s, about 21 ms a
step, at roughly 200 GFLOP/s, most of it in the convolutions' backward and forward passes; pooling before the
ReLU saves 4-6 % (now the course's block); bf16 autocast is 1.46x slower, fused Adam 0.93-0.97x but changes
the numbers, torch.compile does not pay for its compile time in a 5-epoch run, and two runs side by side on one
thread each take 0.87-0.95x the time of the same runs in turn (less in a whole comparison: 6 runs of lesson
07's seeds, 43.5-45.6 s side by side against 46.3 s in turn).

On a 2-core machine that others load, torch's default of 2 threads makes a training epoch up to ten
times slower from one run to the next (its threads wait for each other on a busy core); the
``threads`` section shows it, and ``--threads 1`` keeps the other comparisons steady.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import torch
from torch import nn

from course_utils import data, models, probes, runtime, training

BATCH, LR, EVAL_BATCH, TRAIN_EVAL, PROBE_IMAGES = 64, 1e-3, 500, 500, 250


def load():
    path = os.environ.get("COURSE_MINI_CIFAR") or os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                                "data", "cifar10_mini.npz")
    os.environ.setdefault("COURSE_MINI_CIFAR", os.path.abspath(path))
    arrays = data.load_cifar("cpu")
    return arrays.split_validation(len(arrays.x_train) // 5)


def loaders(arrays, channels_last=True, eval_batch=EVAL_BATCH, num_val=None, train_eval=TRAIN_EVAL):
    num_val = len(arrays.x_val) if num_val is None else num_val
    train = data.DeviceLoader(arrays.x_train, arrays.y_train, BATCH, seed=0, channels_last=channels_last)
    val = data.DeviceLoader(arrays.x_val[:num_val], arrays.y_val[:num_val], eval_batch, train=False,
                            channels_last=channels_last)
    te = data.DeviceLoader(arrays.x_train[:train_eval], arrays.y_train[:train_eval], eval_batch, train=False,
                           channels_last=channels_last)
    return train, val, te


def fresh(channels_last=True, fused=None):
    model = models.fresh_cnn(0, "cpu", channels_last=channels_last)
    return model, torch.optim.Adam(model.parameters(), lr=LR, fused=fused)


def train_epoch(model, opt, loader, dtype=None, compiled=None):
    """A training epoch as fit runs it (forward in autocast ``dtype`` or fp32, loss, backward, step)."""
    forward = compiled or model
    model.train()
    for x, y in loader:
        with torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext():
            logits = forward(x)
        loss = nn.functional.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # fit reads every CPU loss (divergence check)


@torch.no_grad()
def eval_pass(model, loader, dtype=None, mode=torch.no_grad, compiled=None):
    forward = compiled or model
    model.eval()
    correct = 0
    with mode():
        for x, y in loader:
            with torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext():
                logits = forward(x)
            correct += int((logits.argmax(1) == y).sum())
    model.train()
    return correct


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(variants: dict, repeats: int) -> dict:
    """Best time of each ``name -> fn`` over ``repeats`` rounds that run every variant once, in turn,
    so that load from other users falls on all of them alike (each fn has been warmed up by its caller)."""
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


def report(times: dict, base: str, relative: str = "training") -> None:
    """One row per variant; those whose name contains ``relative`` also as a multiple of ``times[base]``."""
    for name, t in times.items():
        row(name, t, times[base] if relative in name else None)


def row(name, seconds, base=None, note=""):
    rel = f"{seconds / base:6.2f}x" if base else "       "
    print(f"  {name:58s} {seconds:7.2f} s {rel} {note}", flush=True)


def parts(arrays, repeats):
    """Seconds per epoch of each part of lesson 07's epoch, through the library itself."""
    print("one epoch of lesson 07 (cpu mode), by part:")
    train, val, te = loaders(arrays)
    model, opt = fresh()
    training.fit(model, train, None, opt, 1, progress=False)  # warm-up
    row("fit: 62 training steps (no evaluation)", best(lambda: training.fit(model, train, None, opt, 1, progress=False),
                                                       repeats))
    row(f"evaluate: {len(arrays.x_val)} validation images", best(lambda: training.evaluate(model, val), repeats))
    row(f"evaluate: {TRAIN_EVAL} training images (train_eval)", best(lambda: training.evaluate(model, te), repeats))
    images = next(iter(data.DeviceLoader(arrays.x_val[:PROBE_IMAGES], arrays.y_val[:PROBE_IMAGES], PROBE_IMAGES,
                                         train=False, channels_last=True)))[0]
    row(f"probe: dead units on {PROBE_IMAGES} images (twice per epoch)", 2 * best(lambda: models.dead_fraction(model, images),
                                                                              repeats))

    def probed():
        probe = probes.TrainingProbe(model, opt, len(train), images)
        training.fit(model, train, None, opt, 1, progress=False)
        probe.finish()
    row("fit with the probe attached (62 steps)", best(probed, repeats))
    row("fit with validation + train_eval (lesson 07's epoch, no probe)",
        best(lambda: training.fit(model, train, val, opt, 1, progress=False, train_eval_data=te), repeats))


def threads(arrays, repeats):
    print(f"thread settings (torch default here: {torch.get_num_threads()} threads, "
          f"interop {torch.get_num_interop_threads()}):")
    train, val, _ = loaders(arrays)
    model, opt = fresh()
    train_epoch(model, opt, train)
    before = torch.get_num_threads()

    def with_threads(n, fn):
        def run():
            torch.set_num_threads(n)
            try:
                fn()
            finally:
                torch.set_num_threads(before)
        return run

    variants = {}
    for n in sorted({1, 2, 4, before}):
        variants[f"{n} intra-op threads: training epoch"] = with_threads(n, lambda: train_epoch(model, opt, train))
        variants[f"{n} intra-op threads: 1,000-image evaluation"] = with_threads(n, lambda: eval_pass(model, val))
    report(interleaved(variants, repeats), f"{before} intra-op threads: training epoch")


def memory_format(arrays, repeats):
    print("memory format:")
    variants = {}
    for cl, name in ((True, "channels-last"), (False, "contiguous (NCHW)")):
        train, val, _ = loaders(arrays, channels_last=cl)
        model, opt = fresh(channels_last=cl)
        train_epoch(model, opt, train)
        variants[f"{name}: training epoch"] = (lambda m=model, o=opt, t=train: train_epoch(m, o, t))
        variants[f"{name}: 1,000-image evaluation"] = (lambda m=model, v=val: eval_pass(m, v))
    report(interleaved(variants, repeats), "channels-last: training epoch")


def bf16(arrays, repeats):
    print("bf16 autocast on the CPU (fit uses fp32 on the CPU today):")
    train, val, _ = loaders(arrays)
    variants = {}
    for dtype, name in ((None, "fp32"), (torch.bfloat16, "bf16")):
        model, opt = fresh()
        train_epoch(model, opt, train, dtype)
        variants[f"{name}: training epoch"] = (lambda m=model, o=opt, d=dtype: train_epoch(m, o, train, d))
        variants[f"{name}: 1,000-image evaluation"] = (lambda m=model, d=dtype: eval_pass(m, val, d))
    report(interleaved(variants, repeats), "fp32: training epoch")


def fused_adam(arrays, repeats):
    print("Adam implementation (torch picks the per-parameter loop on the CPU):")
    train, _, _ = loaders(arrays)
    variants = {}
    for name, kwargs in (("default (for-loop)", {}), ("foreach=True", {"foreach": True}), ("fused=True", {"fused": True})):
        model = models.fresh_cnn(0, "cpu")
        opt = torch.optim.Adam(model.parameters(), lr=LR, **kwargs)
        train_epoch(model, opt, train)
        variants[f"Adam {name}: training epoch"] = (lambda m=model, o=opt: train_epoch(m, o, train))
    report(interleaved(variants, repeats), "Adam default (for-loop): training epoch", relative="")


def compiled(arrays, repeats):
    print("torch.compile (inductor, CPU; compile time counted separately):")
    train, val, _ = loaders(arrays)
    model, opt = fresh()
    train_epoch(model, opt, train)
    base = best(lambda: train_epoch(model, opt, train), repeats)
    row("eager: training epoch", base, base)
    for mode in ("default", "max-autotune-no-cudagraphs"):
        model, opt = fresh()
        start = time.perf_counter()
        try:
            forward = torch.compile(model, mode=mode)
            train_epoch(model, opt, train, compiled=forward)  # first epoch: compiles
        except Exception as err:  # noqa: BLE001 -- report and go on: this is a measurement
            print(f"  torch.compile(mode={mode!r}) failed: {type(err).__name__}: {str(err)[:200]}")
            continue
        first = time.perf_counter() - start
        t = best(lambda: train_epoch(model, opt, train, compiled=forward), repeats)
        row(f"compile {mode}: first epoch (compiles)", first, base)
        row(f"compile {mode}: training epoch after", t, base)
        row(f"compile {mode}: 1,000-image evaluation (eval mode: recompiles once)",
            best(lambda: eval_pass(model, val, compiled=forward), repeats))
        # lesson 07 builds a new model for every run: does a second model reuse the compiled code?
        model2, opt2 = fresh()
        start = time.perf_counter()
        train_epoch(model2, opt2, train, compiled=torch.compile(model2, mode=mode))
        row(f"compile {mode}: first epoch of a second, new model", time.perf_counter() - start, base)


def evaluation(arrays, repeats):
    print("evaluation: batch size, inference_mode, fewer images (1,000 validation images unless said):")
    model, _ = fresh()
    variants = {}
    for eval_batch in (500, 250, 1000):
        _, val, _ = loaders(arrays, eval_batch=eval_batch)
        eval_pass(model, val)
        variants[f"no_grad, batches of {eval_batch}"] = (lambda v=val: eval_pass(model, v))
    _, val, _ = loaders(arrays)
    _, half, _ = loaders(arrays, num_val=500)
    variants["inference_mode, batches of 500"] = lambda: eval_pass(model, val, mode=torch.inference_mode)
    variants["training.evaluate (the library's path), batches of 500"] = lambda: training.evaluate(model, val)
    variants["500 validation images instead of 1,000"] = lambda: eval_pass(model, half)
    report(interleaved(variants, repeats), "no_grad, batches of 500", relative="")


def block_order(arrays, repeats):
    """The course's block (pool, then ReLU) against the textbook's (ReLU, then pool): the same function."""
    print("block order (models.conv_block pools first; max and ReLU commute, so the weights stay identical):")
    train, _, _ = loaders(arrays)
    variants = {}
    for name in ("pool, then ReLU (the course's)", "ReLU, then pool (textbook)"):
        model, opt = fresh()
        if name.startswith("ReLU"):
            for block in model[:len(models.CHANNELS)]:
                i = next(j for j, m in enumerate(block) if isinstance(m, nn.MaxPool2d))
                block[i], block[i + 1] = block[i + 1], block[i]
        train_epoch(model, opt, train)
        variants[f"{name}: training epoch"] = (lambda m=model, o=opt: train_epoch(m, o, train))
    report(interleaved(variants, repeats), "pool, then ReLU (the course's): training epoch")


def side_by_side(arrays, repeats):
    """Two runs' epochs one after the other on all threads, or at once in two Python threads of one torch thread
    each (the runs of a comparison are independent; would training them side by side use the cores better?)."""
    import threading

    print("two runs' training epochs: in turn on every thread, or side by side on one thread each:")
    jobs = []
    for _ in range(2):
        train, _, _ = loaders(arrays)
        model, opt = fresh()
        train_epoch(model, opt, train)
        jobs.append((model, opt, train))
    before = torch.get_num_threads()

    def in_turn():
        for job in jobs:
            train_epoch(*job)

    def at_once():
        def work(job):
            torch.set_num_threads(1)   # this Python thread's OpenMP team
            train_epoch(*job)
        workers = [threading.Thread(target=work, args=(job,)) for job in jobs]
        torch.set_num_threads(1)
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        finally:
            torch.set_num_threads(before)
    report(interleaved({f"in turn, {before} threads: two training epochs": in_turn,
                        "side by side, 1 thread each: two training epochs": at_once}, repeats),
           f"in turn, {before} threads: two training epochs")


SECTIONS = {"parts": parts, "threads": threads, "memory_format": memory_format, "bf16": bf16, "adam": fused_adam,
            "evaluation": evaluation, "compile": compiled,
            "block_order": block_order, "side_by_side": side_by_side}


def profile(arrays):
    train, _, _ = loaders(arrays)
    model, opt = fresh()
    train_epoch(model, opt, train)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        train_epoch(model, opt, train)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true", help="print torch.profiler's table of one training epoch")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads for every section but 'threads' (1 makes the comparisons immune to "
                        "other users' load; default: torch's own setting)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    runtime.seed_everything(0)
    arrays = load()
    load1, load5, _ = os.getloadavg()
    print(f"torch {torch.__version__} | {os.cpu_count()} cores | {torch.get_num_threads()} threads | "
          f"load average {load1:.1f} (1 min), {load5:.1f} (5 min) | {arrays} | batch {BATCH} | best of {args.repeats}")
    if args.profile:
        profile(arrays)
        return 0
    for name in args.only.split(","):
        start = time.perf_counter()
        SECTIONS[name](arrays, args.repeats)
        print(f"  ({name}: {time.perf_counter() - start:.0f} s; load average now {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
