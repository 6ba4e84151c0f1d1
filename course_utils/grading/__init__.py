"""Grade submitted notebooks exercise by exercise, with the course's own checks.

The grader, one concept per module:

* :mod:`.submission` -- reading a submission, finding its lesson and the instructor's checks, and
  building the notebook to run (the course's checks in place of the submission's);
* :mod:`.integrity` -- tampering: what the submission's code does to the course, the grader or
  the interpreter, found in its source and in the interpreter's fingerprints;
* :mod:`.kernel_side` -- the only part that runs inside the submission's kernel: the baseline
  fingerprint and each check, run from a verified private copy of the package;
* :mod:`.execute` and :mod:`.worker` -- the worker process that owns the kernels, and its client;
* :mod:`.judge` -- each exercise's status from its check's record, read outside the kernel;
* :mod:`.grader` -- grading one submission and many in parallel;
* :mod:`.report` and :mod:`.cli` -- the table, the JSON/CSV reports and the command line;
* :mod:`.throughput` -- how many submissions a machine grades per hour (a benchmark command).

Example:
    >>> from course_utils import grading
    >>> results = grading.grade(["alice.ipynb"], grading.Settings(hidden=True))   # doctest: +SKIP
    >>> print(grading.format_table(results))                                       # doctest: +SKIP
"""
from .cli import main
from .grader import Settings, default_solutions, grade, grade_submission
from .integrity import Flag, scan
from .judge import STATUSES, ExerciseResult, SubmissionResult
from .report import _COLUMNS, exit_status, format_table, rows, write_report
from .submission import (CourseCheck, SubmissionProblem, build_graded, course_checks, detect_lesson,
                         instructor_notebook, read_submission, registry as _registry, with_hidden)
from ..cells import is_check_cell

__all__ = ["main", "Settings", "grade", "grade_submission", "default_solutions", "Flag", "scan", "STATUSES",
           "ExerciseResult", "SubmissionResult", "exit_status", "format_table", "rows", "write_report",
           "CourseCheck", "SubmissionProblem", "build_graded", "course_checks", "detect_lesson",
           "instructor_notebook", "read_submission", "with_hidden", "is_check_cell"]
