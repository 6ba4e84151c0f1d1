"""``python -m course_utils.grade SUBMISSION...``: the grader command (all logic in :mod:`course_utils.grading`)."""
import sys

from .grading import main

if __name__ == "__main__":
    sys.exit(main())
