"""Grading one submission, and many in parallel.

For a run the grader

1. finds the isolation this machine offers (:mod:`.sandbox`) and the variant of the checks: the
   visible one, or with ``hidden`` one drawn from a secret only the grader holds;
2. computes, in its own process, each exercise's cases (plain data), once per run;

and for each submission it

3. copies it to a temporary folder (the submitted file is never opened for writing), reads it,
   finds its lesson and scans its code (:mod:`.integrity`: flags for review, never a grade);
4. runs it, with a grader cell after each solution cell in place of its own check cells
   (:mod:`.submission`), in a fresh sandboxed kernel started by a worker process (:mod:`.execute`);
   cells after the last grader cell are not run (they cannot change a grade) unless ``run_all``;
5. judges each exercise in its own process: the check's verdict on the cases and the responses
   the kernel returned as plain data (:mod:`.judge`).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import plain
from ..checks import VISIBLE, Check, hidden_variant
from . import integrity, judge, sandbox, submission
from .execute import Outcome, Worker
from .results import ExerciseResult, SubmissionResult
from .submission import SubmissionProblem


@dataclass
class Settings:
    """How to grade: per-cell timeout and overall limit (s), output cap (bytes per cell), mode, hidden
    (with the grader's ``secret``; a fresh random one per run when ``None``), threads per kernel
    (default: the cores shared among the jobs), run_all, isolation (``auto``, ``bwrap``, ``unshare``,
    ``none``) and the kernel's memory limit (MB)."""

    timeout: float = 300.0
    total_timeout: float = 1800.0
    max_output: int = 100_000
    mode: str = "fast"
    hidden: bool = False
    secret: bytes | None = None
    keep_executed: Path | None = None  # a folder: keep each executed notebook there, to see what ran
    threads: int | None = None
    run_all: bool = False
    isolation: str = "auto"
    memory_mb: int = 8192
    secret_source: str = field(default="", repr=False)   # where the secret came from, for the report


@dataclass
class Run:
    """What every submission of one run shares: the isolation, the variant and each exercise's cases."""

    settings: Settings
    isolation: sandbox.Isolation
    variant: object
    cases: dict = field(default_factory=dict)     # exercise id -> (cases, their JSON text) or an error message

    @classmethod
    def start(cls, settings: Settings) -> "Run":
        isolation = sandbox.detect(settings.isolation)
        variant = hidden_variant(settings.secret) if settings.hidden else VISIBLE
        return cls(settings, isolation, variant)

    def cases_of(self, check) -> tuple:
        """``(cases, text)`` of ``check`` in this run's variant, or ``(None, why not)``; computed once."""
        if check.id not in self.cases:
            if type(check).cases is Check.cases:
                self.cases[check.id] = (None, f"exercise {check.id}'s check is not split into cases, respond and "
                                              "judge, so it cannot be judged outside the learner's kernel")
            else:
                try:
                    cases = check.cases(self.variant)
                    self.cases[check.id] = (cases, plain.dumps(plain.to_plain(cases)))
                except Exception as err:  # noqa: BLE001 - a broken check must not stop the batch
                    self.cases[check.id] = (None, f"the course's check could not build its cases "
                                                  f"({type(err).__name__}: {err})")
        return self.cases[check.id]

    def job_settings(self, threads: int | None) -> dict:
        limits = sandbox.Limits(memory_mb=self.settings.memory_mb,
                                cpu_seconds=int(self.settings.total_timeout * max(1, threads or 1)) + 60)
        return {"isolation": {"method": self.isolation.method, "detail": self.isolation.detail,
                              "drop_uid": self.isolation.drop_uid, "user_namespace": self.isolation.user_namespace},
                "limits": limits.__dict__, "mode": self.settings.mode, "threads": threads}


def grade_submission(path: str | Path, settings: Settings | None = None, worker: Worker | None = None,
                     run: Run | None = None, lesson: str | None = None) -> SubmissionResult:
    """Grade one notebook; never raises for a bad submission (its status and message say what was wrong).

    ``worker`` runs the notebook (a new one, closed afterwards, when not given); ``run`` holds what a
    batch shares (made from ``settings`` when not given); ``lesson`` is the lesson to grade it as when
    the notebook does not say which it is (an autograder made for one lesson knows it).
    """
    settings = settings or Settings()
    run = run or Run.start(settings)
    if worker is None:
        worker = Worker()
        try:
            return grade_submission(path, settings, worker, run, lesson)
        finally:
            worker.close()
    path = Path(path)
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-"))
    expected, lesson = lesson, None
    try:
        copy = workdir / "submission.ipynb"
        try:
            shutil.copyfile(path, copy)
        except OSError as err:
            raise SubmissionProblem("unreadable", f"cannot read the file: {err.strerror or err}") from None
        try:
            nb = submission.read_submission(copy)
        except SubmissionProblem as problem:
            problem.lesson = submission.detect_lesson(_empty_nb(), path) or expected
            raise
        lesson = submission.detect_lesson(nb, path) or expected
        checks = submission.lesson_checks(lesson) if lesson else []
        if not checks:
            raise SubmissionProblem("unknown lesson", "cannot tell which lesson this is: no course.lesson "
                                    "metadata, exercise ids, check calls or NN_ file name of a lesson with "
                                    "exercises")
        result = _run(nb, path.stem, lesson, checks, settings, worker, run)
        result.path = str(path)
    except SubmissionProblem as problem:
        lesson = problem.lesson or lesson
        result = SubmissionResult(str(path), lesson, problem.status, problem.message,
                                  exercises=_unrun(lesson, problem.message))
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result = SubmissionResult(str(path), lesson, "grader error", f"{type(err).__name__}: {err}",
                                  exercises=_unrun(lesson, "the grader failed on this submission"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _empty_nb():
    import nbformat

    return nbformat.v4.new_notebook()


def _unrun(lesson: str | None, message: str) -> list[ExerciseResult]:
    """Rows for the exercises of a lesson whose submission could not be run (all ``error``)."""
    return [ExerciseResult(c.id, c.name, c.points, "error", message)
            for c in (submission.lesson_checks(lesson) if lesson else [])]


def _run(nb, nb_name: str, lesson: str, checks: list, settings: Settings, worker: Worker,
         run: Run) -> SubmissionResult:
    import nbformat

    # Every code cell is read, also the check cells the grader drops; the flags only ask for a review.
    code_cells = [(n, c) for n, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]
    flags = integrity.scan([c.source for _, c in code_cells], [n for n, _ in code_cells])
    judgeable = {c.id: run.cases_of(c) for c in checks}
    graded = submission.build_graded(nb, checks, {eid: text for eid, (cases, text) in judgeable.items()
                                                  if cases is not None})
    check_indices = graded.grader_cells()
    job = {"notebook": graded.nb, "timeout": settings.timeout, "max_output": settings.max_output,
           "grader_cells": check_indices, "prologue_cells": [0], **run.job_settings(settings.threads),
           "stop_after": None if settings.run_all or not check_indices else max(check_indices)}
    if check_indices or settings.run_all:
        outcome = worker.run(plain_json(job), settings.total_timeout)
    else:   # no exercise the grader can judge: running the notebook would decide nothing
        outcome = Outcome(None)
    executed = outcome.executed if isinstance(outcome.executed, dict) else plain_json(graded.nb)
    if settings.keep_executed:
        Path(settings.keep_executed).mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(executed), Path(settings.keep_executed) / f"{nb_name}.graded.ipynb")
    outcome.timed_out = [i for i in outcome.timed_out if isinstance(i, int)]
    outcome.completed = [i for i in outcome.completed if isinstance(i, int)]
    found_incidents = judge.incidents(executed, graded.plan, outcome.timed_out)
    cells = executed.get("cells") if isinstance(executed.get("cells"), list) else []
    result = SubmissionResult("", lesson, "graded", flags=flags, cpu_seconds=outcome.cpu_seconds)
    for check in checks:
        cases, text = judgeable[check.id]
        index = next((i for i, w in enumerate(graded.plan) if w.get("check") == check.id), None)
        if check.id in graded.missing:
            status, message = "missing", (f"no solution cell for exercise {check.id} ({check.name}) was found: "
                                          "was it deleted or renamed?")
        elif cases is None:
            status, message = "error", text
        else:
            cell = cells[index] if index < len(cells) and isinstance(cells[index], dict) else None
            status, message = judge.judge_exercise(check, cases, cell, index, graded.plan[index]["nonce"], outcome,
                                                   found_incidents, settings.timeout)
        seconds = outcome.seconds.get(str(index), 0.0) if isinstance(outcome.seconds, dict) else 0.0
        result.exercises.append(ExerciseResult(check.id, check.name, check.points, status, message, seconds))
    result.notes = [judge.describe(x, settings.timeout) for x in found_incidents if not judge.is_not_attempted(x)]
    if outcome.aborted:
        result.notes.append(str(outcome.aborted.get("message", "")))
    return result


def plain_json(value):
    """``value`` (a notebook, a job) as JSON-ready dicts and lists."""
    import json

    return json.loads(json.dumps(value))


def grade(paths, settings: Settings | None = None, jobs: int = 1, on_done=None) -> list[SubmissionResult]:
    """Grade many submissions, ``jobs`` at a time; results in the order of ``paths``. When it returns,
    every kernel and every process a submission started is gone."""
    import queue

    settings = settings or Settings()
    run = Run.start(settings)
    paths = list(paths)
    jobs = max(1, min(int(jobs), len(paths) or 1))
    threads = settings.threads or max(1, (os.cpu_count() or 1) // jobs)
    per_job = Settings(**{**settings.__dict__, "threads": threads})
    workers: queue.Queue = queue.Queue()
    for _ in range(jobs):
        workers.put(Worker())

    def one(p):
        worker = workers.get()
        try:
            result = grade_submission(p, per_job, worker, run)
        finally:
            workers.put(worker)
        if on_done:
            on_done(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, paths))
    finally:
        while not workers.empty():
            workers.get().close()
