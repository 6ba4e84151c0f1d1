"""Settings for every pytest run from the repository root (unit tests, nbval, graders' nbval).

Environment variables set here reach the notebook kernels nbval starts, because kernels
inherit this process's environment.
"""
import os

from course_utils import _course

# Small, quiet runs under test: the `fast` mode and no progress bars (explicit settings win).
os.environ.setdefault("COURSE_MODE", "fast")
os.environ.setdefault("COURSE_PROGRESS", "0")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

# Developer machines and CI have the CIFAR-10 mini subset beside the repository: use it, offline.
_shared_mini = _course.shared_mini_cifar()
if _shared_mini is not None:
    os.environ.setdefault("COURSE_MINI_CIFAR", str(_shared_mini))
