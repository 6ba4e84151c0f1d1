"""``course-grade`` / ``python -m course_utils.grade``: grade notebooks, print a table, write a report.

Usage::

    python -m course_utils.grade alice.ipynb bob.ipynb --report grades.json
    course-grade submissions/*.ipynb --report grades.csv --jobs 2 --timeout 120
    course-grade alice.ipynb --hidden                       # inputs drawn from a fresh random secret
    course-grade alice.ipynb --hidden --secret-file KEY     # ... from the grader's secret (or $COURSE_GRADER_SECRET)
    course-grade gradescope 01 --out lesson01_autograder.zip   # a Gradescope autograder (see .gradescope)

The exit status is 0 when every exercise of every submission passed and none is flagged for
review, 1 when some exercise did not pass, 2 when some submission is flagged for review.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import runtime
from . import sandbox
from .execute import SECRET_VARIABLE
from .grader import Settings, grade
from .report import exit_status, format_table, write_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_utils.grade",
                                description="Grade submitted notebooks exercise by exercise, with the course's "
                                            "own checks, each submission's code in a sandboxed kernel.")
    p.add_argument("submissions", nargs="+", type=Path, help="submitted notebooks (.ipynb)")
    p.add_argument("--report", type=Path, help="write a report: grades.json or grades.csv (by extension)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a cell may run (default 300)")
    p.add_argument("--total-timeout", type=float, default=None,
                   help="seconds one submission may run in all (default 1800, at least 3 x --timeout)")
    p.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    p.add_argument("--hidden", action="store_true",
                   help="judge each exercise on inputs drawn from a secret (see --secret-file) that the learner "
                        "never saw")
    p.add_argument("--secret-file", type=Path,
                   help=f"with --hidden: a file holding the grader's secret (else ${SECRET_VARIABLE}, else a "
                        "fresh random secret for this run)")
    p.add_argument("--mode", default="fast", choices=runtime.MODES, help="COURSE_MODE (default fast)")
    p.add_argument("--isolation", default="auto", choices=sandbox.METHODS,
                   help="how kernels are isolated (default auto: bubblewrap if it works, else unshare, else "
                        "none, said on stderr and in the report)")
    p.add_argument("--memory-limit", type=float, default=8.0, help="GB of address space per kernel (default 8)")
    p.add_argument("--max-output", type=int, default=100_000, help="bytes of output kept per cell")
    p.add_argument("--keep-executed", type=Path, metavar="DIR",
                   help="write each executed notebook (with the grader's cells) to DIR/NAME.graded.ipynb")
    p.add_argument("--run-all", action="store_true",
                   help="also run the cells after the last exercise (they cannot change a grade; their errors "
                        "become notes)")
    return p


def read_secret(args, p) -> tuple[bytes | None, str]:
    """The grader's secret and where it came from: ``--secret-file``, the environment or ``random``."""
    if args.secret_file is not None:
        if not args.hidden:
            p.error("--secret-file is used with --hidden only")
        try:
            secret = args.secret_file.read_bytes().strip()
        except OSError as err:
            p.error(f"--secret-file {args.secret_file}: {err.strerror or err}")
        if not secret:
            p.error(f"--secret-file {args.secret_file} is empty: put a long random text in it")
        return secret, "file"
    value = os.environ.get(SECRET_VARIABLE, "")
    if args.hidden and value.strip():
        return value.strip().encode(), "environment"
    return None, "random"


def main(argv=None) -> int:
    """Grade the notebooks named in ``argv``; return the exit status. ``gradescope ...`` builds a
    Gradescope autograder instead (:mod:`.gradescope`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["gradescope"]:
        from . import gradescope

        return gradescope.main(argv[1:])
    p = parser()
    args = p.parse_args(argv)
    if args.timeout <= 0 or args.jobs < 1 or args.memory_limit <= 0:
        p.error("--timeout and --memory-limit must be positive and --jobs at least 1")
    if args.report and args.report.suffix.lower() not in (".json", ".csv"):
        p.error(f"--report must end in .json or .csv, got {args.report}")
    if args.report and not args.report.resolve().parent.is_dir():
        p.error(f"--report {args.report}: its folder does not exist")
    secret, source = read_secret(args, p)
    try:
        isolation = sandbox.detect(args.isolation)
    except RuntimeError as err:
        p.error(str(err))
    total = args.total_timeout or max(1800.0, 3 * args.timeout)
    settings = Settings(timeout=args.timeout, total_timeout=total, max_output=args.max_output, mode=args.mode,
                        hidden=args.hidden, secret=secret, secret_source=source, keep_executed=args.keep_executed,
                        run_all=args.run_all, isolation=args.isolation, memory_mb=int(args.memory_limit * 1024))
    counter = iter(range(1, len(args.submissions) + 1))
    results = grade(args.submissions, settings, jobs=args.jobs,
                    on_done=lambda r: print(f"[{next(counter)}/{len(args.submissions)}] {r.path}: "
                                            f"{r.points}/{r.max_points} in {r.seconds:.1f} s"
                                            + (" (flagged for review)" if r.flagged else ""), file=sys.stderr))
    print(format_table(results), end="")
    print(f"isolation: {isolation.method} ({isolation.detail})")
    if args.report:
        write_report(results, args.report, settings, isolation.describe())
        print(f"report written to {args.report}")
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
