"""Running a graded notebook: the worker process that owns the kernels, seen from the grader.

:class:`Worker` starts ``python -m course_utils.grading.worker`` (see :mod:`.worker`), hands it
one job at a time over a pipe and waits for the answer within a deadline; past it, the worker and
its kernel are killed and a fresh worker is started for the next job.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from .. import _course


@dataclass
class Outcome:
    """What the worker answered: the executed notebook (``None`` if it never came back) and what went wrong."""

    executed: dict | None
    timed_out: list = field(default_factory=list)
    completed: list = field(default_factory=list)
    aborted: dict | None = None
    prologue_outputs: list = field(default_factory=list)


def kernel_env(mode: str, threads: int | None = None) -> dict:
    """The environment of the worker and its kernels: ``COURSE_MODE``, no progress bars, and
    ``threads`` threads for torch/OpenMP/BLAS (one kernel per core when grading in parallel)."""
    env = dict(os.environ, COURSE_MODE=mode, COURSE_PROGRESS="0", MPLBACKEND="Agg",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    shared_mini = _course.shared_mini_cifar()
    if shared_mini is not None:  # a developer checkout: the CIFAR lessons run offline, as in the tests
        env.setdefault("COURSE_MINI_CIFAR", str(shared_mini))
    root = _course.checkout_root()
    if root is not None:  # the worker and kernels import the course_utils this grader runs, not another one
        env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    if threads:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    return env


class Worker:
    """A ``python -m course_utils.grading.worker`` process, restarted after a kill."""

    def __init__(self, env: dict):
        self.env, self.proc, self.answers = env, None, None
        self.log = tempfile.NamedTemporaryFile(prefix="course-grade-worker-", suffix=".log", delete=False)
        self.kernel_pid = None

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "course_utils.grading.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     env=self.env, cwd=tempfile.gettempdir(), start_new_session=True)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.answers), daemon=True).start()

    @staticmethod
    def _read(stream, answers) -> None:
        for line in stream:
            try:
                answers.put(json.loads(line))
            except json.JSONDecodeError:
                continue
        answers.put(None)  # the worker ended

    def run(self, job: dict, limit: float) -> Outcome:
        """Run ``job`` (see :func:`.worker.run_job`); past ``limit`` seconds kill it and say so."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        job = dict(job, log_path=self.log.name)
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:  # it ended between two jobs: start a fresh one
            self.proc = None
            return self.run(job, limit)
        deadline = time.monotonic() + limit
        self.kernel_pid = None
        while True:
            try:
                answer = self.answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return Outcome(None, aborted={"status": "timeout", "message": "the notebook ran past the overall "
                                              f"time limit of {limit:g} s and was stopped"})
            if answer is None:
                self.kill()
                return Outcome(None, aborted={"status": "error",
                                              "message": "the grader's worker stopped before the notebook ended"})
            if "kernel_pid" in answer:
                self.kernel_pid = answer["kernel_pid"]
            elif answer.get("done"):
                return Outcome(answer.get("executed"), answer.get("timed_out", []), answer.get("completed", []),
                               answer.get("aborted"), answer.get("prologue_outputs", []))

    def kill(self) -> None:
        """Kill the worker and the kernel it started (which runs in a session of its own)."""
        if self.kernel_pid:
            try:
                os.kill(int(self.kernel_pid), signal.SIGKILL)
            except (OSError, ValueError, TypeError):
                pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        """End the worker (it stops at the end of its input) and remove its log."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
