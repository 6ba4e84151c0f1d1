"""``python -m course_utils.grade SUBMISSION...``: the grader command (see :mod:`course_utils.grading`)."""
import sys

from .grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
