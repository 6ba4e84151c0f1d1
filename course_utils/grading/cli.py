"""``course-grade`` / ``python -m course_utils.grade``: grade notebooks, print a table, write a report.

Usage::

    python -m course_utils.grade alice.ipynb bob.ipynb --report grades.json
    course-grade submissions/*.ipynb --report grades.csv --jobs 2 --timeout 120
    course-grade alice.ipynb --hidden      # also run each check on inputs the learner never saw
    course-grade alice.ipynb --solutions ~/learning-rate-course/notebooks/solutions   # an installed grader

The exit status is 0 when every exercise of every submission passed and none is flagged for
review, 1 when some exercise did not pass, 2 when some submission is flagged for review.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import runtime
from .grader import Settings, default_solutions, grade
from .report import exit_status, format_table, write_report
from .submission import NO_SOLUTIONS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_utils.grade",
                                description="Grade submitted notebooks exercise by exercise, with the course's "
                                            "own checks.")
    p.add_argument("submissions", nargs="+", type=Path, help="submitted notebooks (.ipynb)")
    p.add_argument("--report", type=Path, help="write a report: grades.json or grades.csv (by extension)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a cell may run (default 300)")
    p.add_argument("--total-timeout", type=float, default=None,
                   help="seconds one submission may run in all (default 1800, at least 3 x --timeout)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--hidden", action="store_true", help="run each check on inputs the learner never saw")
    p.add_argument("--mode", default="fast", choices=runtime.MODES, help="COURSE_MODE (default fast)")
    p.add_argument("--solutions", type=Path, default=None,
                   help="folder of instructor notebooks: notebooks/solutions of a checkout of the course "
                        "(default: this checkout's, when the grader runs from one)")
    p.add_argument("--max-output", type=int, default=100_000, help="bytes of output kept per cell")
    p.add_argument("--keep-executed", type=Path, metavar="DIR",
                   help="write each executed notebook (with the course's checks) to DIR/NAME.graded.ipynb")
    p.add_argument("--run-all", action="store_true",
                   help="also run the cells after the last check (they cannot change a grade; their errors "
                        "become notes)")
    return p


def main(argv=None) -> int:
    """Grade the notebooks named in ``argv``; return the exit status."""
    p = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.timeout <= 0 or args.jobs < 1:
        p.error("--timeout must be positive and --jobs at least 1")
    if args.report and args.report.suffix.lower() not in (".json", ".csv"):
        p.error(f"--report must end in .json or .csv, got {args.report}")
    solutions = args.solutions or default_solutions()
    if solutions is None:
        p.error(NO_SOLUTIONS)
    if not solutions.is_dir() or not any(solutions.glob("[0-9][0-9]_*.ipynb")):
        p.error(f"--solutions {solutions} is not a folder of instructor notebooks (NN_*.ipynb); give the "
                "notebooks/solutions folder of a checkout of the course")
    total = args.total_timeout or max(1800.0, 3 * args.timeout)
    settings = Settings(timeout=args.timeout, total_timeout=total, max_output=args.max_output, mode=args.mode,
                        hidden=args.hidden, solutions=solutions, keep_executed=args.keep_executed,
                        run_all=args.run_all)
    counter = iter(range(1, len(args.submissions) + 1))
    results = grade(args.submissions, settings, jobs=args.jobs,
                    on_done=lambda r: print(f"[{next(counter)}/{len(args.submissions)}] {r.path}: "
                                            f"{r.points}/{r.max_points} in {r.seconds:.1f} s"
                                            + (" (flagged for review)" if r.flagged else ""), file=sys.stderr))
    print(format_table(results), end="")
    if args.report:
        write_report(results, args.report, settings)
        print(f"report written to {args.report}")
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
