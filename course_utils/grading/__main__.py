"""``python -m course_utils.grading``: the grader command (same as ``python -m course_utils.grade``)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
