"""Grade submitted notebooks exercise by exercise, with the course's own checks, judged outside the
learner's code.

The grader, one concept per module:

* :mod:`.submission` -- reading a submission, finding its lesson and exercises, and building the
  notebook to run (a grader cell after each solution cell, in place of the submission's checks);
* :mod:`.kernel_side` -- the only part that runs inside the submission's kernel: answer an
  exercise's cases with the learner's code and print them as one plain-data record;
* :mod:`.sandbox` -- what the kernel may see, write, start and use (bubblewrap, else unshare);
* :mod:`.execute` and :mod:`.worker` -- the worker process that owns the kernels, and its client;
* :mod:`.records` and :mod:`.judge` -- each exercise's status: its record read and validated, and
  the check's verdict, in the grader's process;
* :mod:`.integrity` -- a second line: code worth a human look, flagged (no grade depends on it);
* :mod:`.results`, :mod:`.report` and :mod:`.cli` -- typed results, the table, the JSON/CSV
  reports and the command line;
* :mod:`.grader` -- grading one submission and many in parallel;
* :mod:`.throughput` -- how many submissions a machine grades per hour (a benchmark command).

Example:
    >>> from course_utils import grading
    >>> results = grading.grade(["alice.ipynb"], grading.Settings(hidden=True))   # doctest: +SKIP
    >>> print(grading.format_table(results))                                       # doctest: +SKIP
"""
import importlib

# Names are loaded on first use: the grader's cell in a learner's kernel imports .kernel_side only,
# and must not pay for the grader's own modules.
_WHERE = {"main": "cli", "Settings": "grader", "grade": "grader", "grade_submission": "grader", "Flag": "integrity",
          "scan": "integrity", "exit_status": "report", "format_table": "report", "rows": "report",
          "write_report": "report", "STATUSES": "results", "ExerciseResult": "results",
          "SubmissionResult": "results", "SubmissionProblem": "submission", "build_graded": "submission",
          "detect_lesson": "submission", "lesson_checks": "submission", "read_submission": "submission"}
__all__ = list(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
