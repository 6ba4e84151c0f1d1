"""Settings for every pytest run from the repository root (unit tests, nbval, graders' nbval).

Environment variables set here reach the notebook kernels nbval starts, because kernels
inherit this process's environment.

The suite runs in pytest-xdist workers, one per core (``-n auto`` in pyproject.toml). Each
worker, and every kernel and subprocess it starts, gets its share of the cores for torch's,
OpenMP's and BLAS's threads, so two workers never oversubscribe two cores. The tests of a file,
and the cells of a notebook, stay on one worker (``--dist loadfile``): nbval needs a notebook's
cells in order in one kernel, and a file's expensive module fixtures run once. The long files
are handed out first (``pytest_collection_modifyitems``), so that no worker is left running one
at the end while the other has nothing to do.
"""
from collections import Counter
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

# In a pytest-xdist worker: its share of the cores for every thread pool (explicit settings win),
# and a pytest that one of its tests starts (nbval on a submission) runs serially in that worker
# (`-n auto` there means no workers).
if os.environ.get("PYTEST_XDIST_WORKER"):
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    _threads = str(max(1, _cores // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)
    os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"] = "0"


def pytest_collection_modifyitems(config, items):
    """Long files first: those with a ``slow`` test (the grader, nbgrader, the browser, the wheel),
    then the notebooks (most cells first), then the rest, each file's tests in their own order.
    pytest-xdist hands out files in this order (``--no-loadscope-reorder``)."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    cells = Counter(item.path for item in items if item.path.suffix == ".ipynb")

    def rank(item):
        return (0, 0) if item.path in slow else (1, -cells[item.path]) if item.path in cells else (2, 0)

    items.sort(key=rank)   # stable: within a file, and within each rank, collection order stays
