"""Grading one submission, and many in parallel.

For each submission the grader

1. copies it to a temporary folder (the submitted file is never opened for writing) and reads it;
2. finds its lesson and the instructor's checks (:mod:`.submission`), and scans its code for
   tampering (:mod:`.integrity`);
3. runs it, with the course's checks in place of its own, in a fresh kernel started by a worker
   process (:mod:`.execute`), in an empty folder of its own; cells after the last check are not
   run (they cannot change a grade) unless ``run_all``;
4. judges each exercise from the records the checks printed (:mod:`.judge`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import _course
from . import integrity, judge, submission
from .execute import Worker, kernel_env
from .judge import ExerciseResult, SubmissionResult
from .submission import SubmissionProblem


def default_solutions() -> Path | None:
    """The instructor notebooks of this checkout, or ``None`` for an installed package (they are not shipped)."""
    root = _course.checkout_root()
    return root / "notebooks" / "solutions" if root is not None else None


@dataclass
class Settings:
    """How to grade: per-cell timeout and overall limit (s), output cap (bytes per cell), mode, hidden,
    solutions folder, threads per kernel (default: the cores shared among the jobs), run_all."""

    timeout: float = 300.0
    total_timeout: float = 1800.0
    max_output: int = 100_000
    mode: str = "fast"
    hidden: bool = False
    solutions: Path | None = field(default_factory=default_solutions)
    keep_executed: Path | None = None  # a folder: keep each executed notebook there, to see what ran
    threads: int | None = None
    run_all: bool = False


def grade_submission(path: str | Path, settings: Settings | None = None,
                     worker: Worker | None = None) -> SubmissionResult:
    """Grade one notebook; never raises for a bad submission (its status and message say what was wrong).

    ``worker`` runs the notebook (a new one, closed afterwards, when not given).
    """
    settings = settings or Settings()
    if worker is None:
        worker = Worker(kernel_env(settings.mode, settings.threads))
        try:
            return grade_submission(path, settings, worker)
        finally:
            worker.close()
    path = Path(path)
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-"))
    lesson = None
    try:
        copy = workdir / "submission.ipynb"
        try:
            shutil.copyfile(path, copy)
        except OSError as err:
            raise SubmissionProblem("unreadable", f"cannot read the file: {err.strerror or err}") from None
        try:
            nb = submission.read_submission(copy)
        except SubmissionProblem as problem:
            problem.lesson = submission.detect_lesson(_empty_nb(), path)
            raise
        lesson = submission.detect_lesson(nb, path)
        if lesson is None:
            raise SubmissionProblem("unknown lesson", "cannot tell which lesson this is: no course.lesson "
                                    "metadata, exercise ids, check calls or NN_ file name")
        checks = submission.course_checks(submission.instructor_notebook(lesson, settings.solutions))
        result = _run(nb, path.stem, lesson, checks, workdir, settings, worker)
        result.path = str(path)
    except SubmissionProblem as problem:
        lesson = problem.lesson or lesson
        result = SubmissionResult(str(path), lesson, problem.status, problem.message,
                                  exercises=_unrun(lesson, settings, problem.message))
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result = SubmissionResult(str(path), lesson, "grader error", f"{type(err).__name__}: {err}",
                                  exercises=_unrun(lesson, settings, "the grader failed on this submission"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _empty_nb():
    import nbformat

    return nbformat.v4.new_notebook()


def _unrun(lesson: str | None, settings: Settings, message: str) -> list[ExerciseResult]:
    """Rows for the exercises of a lesson whose submission could not be run (all ``error``)."""
    if not lesson:
        return []
    try:
        checks = submission.course_checks(submission.instructor_notebook(lesson, settings.solutions))
    except Exception:  # noqa: BLE001
        return []
    registry = submission.registry()
    return [ExerciseResult(c.exercise_id, registry[c.exercise_id].name, registry[c.exercise_id].points,
                           "error", message) for c in checks if c.exercise_id in registry]


def _run(nb, nb_name: str, lesson: str, checks: list, workdir: Path, settings: Settings,
         worker: Worker) -> SubmissionResult:
    import nbformat

    # Every code cell is read, also the check cells the grader drops (what they would have done is evidence too).
    code_cells = [(n, c) for n, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]
    flags = integrity.scan([c.source for _, c in code_cells], [n for n, _ in code_cells])
    digests = submission.package_digests()
    graded = submission.build_graded(nb, checks, hidden=settings.hidden, digests=digests)
    check_indices = [i for i, w in enumerate(graded.plan) if "check" in w]
    kernel_dir = workdir / "kernel"  # the kernel's working folder: empty, nothing of the grader's in it
    kernel_dir.mkdir()
    job = {"notebook": graded.nb, "prologue": graded.prologue, "cwd": str(kernel_dir),
           "timeout": settings.timeout, "max_output": settings.max_output, "grader_cells": check_indices,
           "stop_after": None if settings.run_all or not check_indices else max(check_indices)}
    outcome = worker.run(json.loads(json.dumps(job)), settings.total_timeout)
    executed = outcome.executed if outcome.executed is not None else json.loads(json.dumps(graded.nb))
    if settings.keep_executed:
        Path(settings.keep_executed).mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(executed), Path(settings.keep_executed) / f"{nb_name}.graded.ipynb")
    found, baseline, record_flags = judge.read_records(executed, graded.plan, outcome.completed,
                                                        outcome.prologue_outputs, graded.prologue_nonce)
    flags += record_flags + judge.dynamic_flags(found, baseline)
    if submission.package_digests() != digests:  # seen from outside the kernel: no check can be trusted
        flags += [integrity.Flag(f"check {c.exercise_id}", "the course's files changed on disk while the "
                                 "submission ran") for c in checks]
    found_incidents = judge.incidents(executed, graded.plan, outcome.timed_out)
    suspect = {f.where.split(" ", 1)[1] for f in flags if f.where.startswith("check ")}
    registry = submission.registry()
    result = SubmissionResult("", lesson, "graded", flags=flags)
    for check in checks:
        eid = check.exercise_id
        entry = registry.get(eid)
        name, points = (entry.name, entry.points) if entry else ("?", 0)
        if eid in graded.missing:
            status, message = "missing", (f"no solution cell for exercise {eid} ({name}) was found: "
                                          "was it deleted or renamed?")
        else:
            index = next((i for i, w in enumerate(graded.plan) if w.get("check") == eid), None)
            status, message = judge.judge_exercise(eid, found.get(eid), index, found_incidents, settings.timeout,
                                                   outcome.aborted)
        if status == "passed" and eid in suspect:
            status, message = "error", ("not counted: the check's evidence was tampered with (see the flags for "
                                        f"check {eid}); a reviewer decides")
        seconds = found.get(eid, {}).get("seconds", 0.0)
        result.exercises.append(ExerciseResult(eid, name, points, status, message, seconds))
    result.notes = [judge.describe(x, settings.timeout) for x in found_incidents if not judge.is_not_attempted(x)]
    if outcome.aborted:
        result.notes.append(outcome.aborted["message"])
    return result


def grade(paths, settings: Settings | None = None, jobs: int = 1, on_done=None) -> list[SubmissionResult]:
    """Grade many submissions, ``jobs`` at a time; results in the order of ``paths``."""
    import queue

    settings = settings or Settings()
    paths = list(paths)
    jobs = max(1, min(int(jobs), len(paths) or 1))
    threads = settings.threads or max(1, (os.cpu_count() or 1) // jobs)
    workers: queue.Queue = queue.Queue()
    for _ in range(jobs):
        workers.put(Worker(kernel_env(settings.mode, threads)))

    def one(p):
        worker = workers.get()
        try:
            result = grade_submission(p, settings, worker)
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
