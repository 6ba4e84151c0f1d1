"""How many submissions one machine grades: a benchmark command, not a test.

``python -m course_utils.grading.throughput 01 --copies 6`` grades 6 copies of lesson 01's
instructor notebook (or of ``--submission FILE``) with ``--jobs 1`` and then ``--jobs 2``, and
prints, per setting: wall time, submissions per minute (and per hour), CPU seconds per
submission (user + system of the workers and kernels, which depends less on other load than the
wall time), and the peak memory of one worker with its kernel.

Example:
    >>> rows = measure("01", copies=2, jobs=(1,))                    # doctest: +SKIP
    >>> print(format_rows(rows))                                      # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import _course, runtime
from . import sandbox
from .grader import Settings, grade


def default_solutions() -> Path | None:
    """The instructor notebooks of this checkout (``None`` for an installed package: they are not shipped)."""
    root = _course.checkout_root()
    return root / "notebooks" / "solutions" if root is not None else None


def instructor_notebook(lesson: str, solutions: Path | None) -> Path:
    """Lesson ``lesson``'s instructor notebook ``NN_*.ipynb`` in the folder ``solutions``."""
    found = sorted(Path(solutions).glob(f"{lesson}_*.ipynb")) if solutions else []
    if not found:
        raise SystemExit(f"lesson {lesson} has no instructor notebook in {solutions}: give --submission FILE "
                         "or --solutions DIR")
    return found[0]


@dataclass
class Throughput:
    """One setting's measurement."""

    lesson: str
    jobs: int
    copies: int
    seconds: float                 # wall time for all copies
    cpu_seconds: float             # user + system time of the workers, their sandboxes and kernels
    peak_worker_mb: float          # largest resident memory of one worker and its kernel together
    all_graded: bool
    all_passed: bool               # every exercise of every copy passed (true for the instructor notebook)

    @property
    def per_minute(self) -> float:
        return 60.0 * self.copies / self.seconds

    @property
    def per_hour(self) -> float:
        return 60.0 * self.per_minute


class _PeakMemory:
    """Samples, every ``interval`` seconds, the memory of each child process tree of this process."""

    def __init__(self, interval: float = 0.2):
        import psutil

        self.psutil, self.interval, self.peak, self._stop = psutil, interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = self.psutil.Process()
        while not self._stop.is_set():
            try:
                for worker in me.children():
                    tree = [worker] + worker.children(recursive=True)
                    rss = 0
                    for proc in tree:
                        try:
                            rss += proc.memory_info().rss
                        except self.psutil.Error:
                            pass
                    self.peak = max(self.peak, rss)
            except self.psutil.Error:
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(lesson: str, copies: int = 6, jobs=(1, 2), submission: Path | None = None,
            settings: Settings | None = None, solutions: Path | None = None) -> list[Throughput]:
    """Grade ``copies`` copies of a submission of ``lesson`` with each number of ``jobs``; one row per setting."""
    settings = settings or Settings()
    source = Path(submission) if submission else instructor_notebook(lesson, solutions or default_solutions())
    rows = []
    with tempfile.TemporaryDirectory(prefix="course-grade-throughput-") as tmp:
        paths = [Path(shutil.copy2(source, Path(tmp) / f"{lesson}_copy{i:03d}.ipynb")) for i in range(copies)]
        for n in jobs:
            cpu_before, start = _children_cpu(), time.perf_counter()
            with _PeakMemory() as memory:
                results = grade(paths, settings, jobs=n)
            cpu = _children_cpu() - cpu_before + sum(r.cpu_seconds for r in results)   # kernels are killed, not reaped
            rows.append(Throughput(lesson, n, copies, time.perf_counter() - start, cpu,
                                   memory.peak / 2**20, all(r.status == "graded" for r in results),
                                   all(r.all_passed for r in results)))
    return rows


def format_rows(rows: list[Throughput]) -> str:
    """The benchmark's table."""
    lines = [f"{'lesson':>6}  {'jobs':>4}  {'copies':>6}  {'wall s':>7}  {'per min':>7}  {'per hour':>8}  "
             f"{'CPU s/sub':>9}  {'peak MB/worker':>14}"]
    for r in rows:
        lines.append(f"{r.lesson:>6}  {r.jobs:>4}  {r.copies:>6}  {r.seconds:>7.1f}  {r.per_minute:>7.2f}  "
                     f"{r.per_hour:>8.0f}  {r.cpu_seconds / r.copies:>9.1f}  {r.peak_worker_mb:>14.0f}"
                     + ("" if r.all_graded else "  (some copies could not be graded!)")
                     + ("" if r.all_passed or not r.all_graded else "  (not every exercise passed)"))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m course_utils.grading.throughput",
                                description="Grade N copies of a lesson's submission with --jobs 1 and 2; print "
                                            "submissions per minute and peak memory per worker.")
    p.add_argument("lessons", nargs="+", help="two-digit lessons, e.g. 01 07")
    p.add_argument("--copies", type=int, default=6, help="copies graded per setting (default 6)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="settings of --jobs (default 1 2)")
    p.add_argument("--submission", type=Path, help="grade copies of this file instead of the instructor notebook")
    p.add_argument("--mode", default="fast", choices=runtime.MODES)
    p.add_argument("--isolation", default="auto", choices=sandbox.METHODS, help="as course-grade's --isolation")
    p.add_argument("--solutions", type=Path, default=None, help="folder of instructor notebooks")
    args = p.parse_args(argv)
    solutions = args.solutions or default_solutions()
    if solutions is None and args.submission is None:
        p.error("no instructor notebooks: give --solutions DIR (notebooks/solutions of a checkout of the course)")
    settings = Settings(mode=args.mode, isolation=args.isolation)
    print(f"{os.cpu_count()} CPU cores; load average {os.getloadavg()[0]:.1f} at the start "
          "(timings on a loaded machine are slower than on an idle one); kernels isolated by "
          f"{sandbox.detect(args.isolation).method}", flush=True)
    rows = []
    for lesson in args.lessons:
        rows += measure(lesson, args.copies, args.jobs, args.submission, settings, solutions)
        print(format_rows(rows), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0 if all(r.all_graded for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
