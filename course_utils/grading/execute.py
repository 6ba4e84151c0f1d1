"""Running a graded notebook: the worker process that owns the kernels, seen from the grader.

:class:`Worker` starts ``python -m course_utils.grading.worker`` (see :mod:`.worker`), hands it
one job at a time over a pipe and waits for the answer within a deadline; past it, the worker and
its kernel's sandbox are killed (and waited for) and a fresh worker is started for the next job.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import _course
from . import sandbox


@dataclass
class Outcome:
    """What the worker answered: the executed notebook (``None`` if it never came back) and what went wrong."""

    executed: dict | None
    timed_out: list = field(default_factory=list)
    completed: list = field(default_factory=list)
    aborted: dict | None = None
    seconds: dict = field(default_factory=dict)   # graded cell index (as text) -> wall seconds, timed by the worker
    cpu_seconds: float = 0.0                       # CPU time of the kernel and every process it started


SECRET_VARIABLE = "COURSE_GRADER_SECRET"


def worker_env() -> dict:
    """The worker's environment: the grader's without its secret, with the CIFAR-10 mini file of a
    developer checkout (the CIFAR lessons run offline, as in the tests) and the course_utils this
    grader runs first on the path. (Kernels get an environment built from scratch: :func:`.sandbox.kernel_env`.)"""
    env = {k: v for k, v in os.environ.items() if k != SECRET_VARIABLE}
    shared_mini = _course.shared_mini_cifar()
    if shared_mini is not None:
        env.setdefault("COURSE_MINI_CIFAR", str(shared_mini))
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                                            if p and p != package_parent])
    return env


class Worker:
    """A ``python -m course_utils.grading.worker`` process, restarted after a kill."""

    def __init__(self, env: dict | None = None):
        self.env, self.proc, self.answers = env if env is not None else worker_env(), None, None
        self.log = tempfile.NamedTemporaryFile(prefix="course-grade-worker-", suffix=".log", delete=False)
        self.kernel_pid = self.namespace = self.scratch = self.uid = None

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
        self.kernel_pid = self.namespace = self.scratch = self.uid = None
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
            if "scratch" in answer:
                self.scratch, self.uid = answer["scratch"], answer.get("uid")
            elif "kernel_pid" in answer:
                self.kernel_pid, self.namespace = answer["kernel_pid"], answer.get("namespace")
            elif answer.get("done"):
                return Outcome(answer.get("executed"), answer.get("timed_out", []), answer.get("completed", []),
                               answer.get("aborted"), answer.get("seconds", {}), answer.get("cpu_seconds", 0.0))

    def kill(self) -> None:
        """Kill the worker and the kernel's sandbox it started (a session of its own), and wait until
        the sandbox is gone."""
        if self.kernel_pid:
            try:
                os.killpg(int(self.kernel_pid), signal.SIGKILL)
            except (OSError, ValueError, TypeError):
                pass
            _wait_gone(self.kernel_pid)
        sandbox.wait_until_empty(self.namespace)
        if isinstance(self.uid, int):   # setpriv isolation: the kernel's own uid marks its processes
            sandbox.end_processes_of(self.uid)
        if self.scratch:   # the worker did not live to remove the kernel's scratch folder
            shutil.rmtree(self.scratch, ignore_errors=True)
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


def _wait_gone(pid, limit: float = 10.0) -> None:
    """Wait until process ``pid`` (the sandbox's first process, whose end ends every process in it) is
    gone or a zombie; no learner process may be running when the report is written."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{int(pid)}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] in ("Z", "X"):
                    return
        except (OSError, ValueError, TypeError, IndexError):
            return
        time.sleep(0.02)
