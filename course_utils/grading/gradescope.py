"""A Gradescope autograder for one lesson: the zip built by one command, and what it runs per submission.

Build it from a checkout of the course (the zip holds the course's wheel and its pins)::

    python -m course_utils.grading.gradescope 01 --out lesson01_autograder.zip
    course-grade gradescope 01 --out lesson01_autograder.zip          # the same

The zip follows Gradescope's documented layout (``setup.sh`` and ``run_autograder`` at its root;
Gradescope unpacks it to ``/autograder/source``):

* ``setup.sh`` -- run once, as root, when Gradescope builds the image (Ubuntu, with network):
  installs bubblewrap (apt), makes a virtual environment, installs torch's **CPU** build from the
  PyTorch CPU wheel index (the version pinned in ``constraints.txt``) and then the course's wheel
  with ``-c constraints.txt`` (every other dependency at the course's pin), checks them with
  ``pip check``, and verifies the CIFAR-10 mini file when the lesson needs it;
* ``run_autograder`` -- run once per submission: ``python -m course_utils.grading.gradescope --run
  /autograder`` grades the one notebook in ``submission/`` with the course's grader (its sandbox,
  judged outside the kernel, inputs drawn from the bundle's secret) and writes
  ``results/results.json`` (see :func:`results_data`). Its kernel runs in bubblewrap where the
  container allows namespaces, else as a fresh unprivileged uid (:func:`choose_isolation`);
* ``course_utils-*.whl`` and ``constraints.txt`` -- the course, built from the checkout, and its pins;
* ``config.json`` -- the lesson, its exercises, time limits, mode, visibility, what was built from;
* ``grader_secret`` -- with hidden inputs (the default): a random secret made when the bundle was
  built; learners never see the bundle, and the kernel never sees the file (it is outside the sandbox);
* ``cifar10_mini.npz`` -- for lessons whose code loads CIFAR-10 (05-09): the verified 17 MB mini
  subset, carried because a grading container cannot download it, and so that building the image
  does not depend on CIFAR-10's host either.

Example:
    >>> data = results_data(None, "01", problem="no notebook (.ipynb) was found in your submission")
    >>> data["score"], {t["status"] for t in data["tests"]}, len(data["tests"]) == len(submission.lesson_checks("01"))
    (0.0, {'failed'}, True)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import _course, runtime
from . import sandbox, submission
from .results import SubmissionResult, text

DEFAULT_ROOT = "/autograder"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
CIFAR_CODE = re.compile(r"\bload_(cifar|mini|full)\s*\(")   # a lesson whose code loads CIFAR-10 needs the data
SKIPPED_PARTS = {".ipynb_checkpoints", "__MACOSX"}
TEMPLATES = Path(__file__).with_name("gradescope_files")


@dataclass
class BundleConfig:
    """What ``config.json`` in the bundle holds: how ``run_autograder`` grades."""

    lesson: str
    notebook: str                     # the lesson's notebook file name, for messages
    exercises: list                   # [{"id", "name", "points"}], as built
    hidden: bool = True
    mode: str = "fast"
    timeout: float = 300.0            # seconds per cell
    total_timeout: float = 480.0      # seconds for the notebook (Gradescope's default limit is 10 minutes)
    memory_mb: int = 8192
    isolation: str = "auto"
    visibility: str = "visible"
    data: str | None = None           # the CIFAR-10 mini file's name in the bundle, when the lesson needs it
    built_from: str = ""              # the checkout's commit (``+changes`` when it had uncommitted changes)
    built_at: str = ""

    @classmethod
    def read(cls, path: Path) -> "BundleConfig":
        raw = json.loads(Path(path).read_text())
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass
class Bundle:
    """A built bundle: where it is, its size and what it holds (name -> bytes)."""

    path: Path
    config: BundleConfig
    contents: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.path.stat().st_size


# ----------------------------------------------------------------------------- building the bundle

def instructor_notebook(root: Path, lesson: str) -> Path:
    found = sorted((root / "notebooks" / "solutions").glob(f"{lesson}_*.ipynb"))
    if not found:
        raise SystemExit(f"lesson {lesson} has no instructor notebook in {root / 'notebooks' / 'solutions'}")
    return found[0]


def needs_cifar(notebook: Path) -> bool:
    """Whether the lesson's code loads CIFAR-10 (then the bundle carries the mini subset)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return any(c.cell_type == "code" and CIFAR_CODE.search(c.source) for c in nb.cells)


def mini_cifar() -> Path:
    """The grader's verified CIFAR-10 mini file: ``COURSE_MINI_CIFAR``, the developers' shared copy, or
    the data folder's (built from a CIFAR-10 download there when missing, as a lesson would)."""
    from .. import data

    for candidate in (os.environ.get("COURSE_MINI_CIFAR", "").strip(), _course.shared_mini_cifar()):
        if candidate and Path(candidate).is_file():
            data.read_mini(candidate)   # verified: shapes, dtypes and content hash
            return Path(candidate)
    data.load_mini(path=None)       # reads the data folder's copy, or builds it there from a download
    return data.data_dir() / data.MINI_FILENAME


def course_wheel(root: Path, out_dir: Path) -> Path:
    """The course's wheel, built from the files of a clean clone of ``root`` by the checkout's
    ``tools/wheel_install.py`` (the build ``tests/test_packaging.py`` checks)."""
    spec = importlib.util.spec_from_file_location("course_wheel_install", root / "tools" / "wheel_install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_wheel(root, out_dir)


def _commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _add(zf: zipfile.ZipFile, name: str, payload: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o100000 | mode) << 16            # a regular file with these permission bits
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, payload)


def build(lesson: str, out: Path, *, hidden: bool = True, mode: str = "fast", timeout: float = 300.0,
          total_timeout: float = 480.0, visibility: str = "visible", memory_mb: int = 8192,
          force: bool = False, root: Path | None = None) -> Bundle:
    """Write the Gradescope autograder zip for ``lesson`` (``"01"``-``"09"``) to ``out``.

    Needs a checkout of the course (the wheel and ``requirements/constraints.txt`` come from it);
    raises ``SystemExit`` with what to do otherwise. ``out`` is never overwritten unless ``force``.
    """
    root = Path(root) if root is not None else _course.checkout_root()
    if root is None:
        raise SystemExit("building a Gradescope bundle needs a checkout of the course (its wheel and "
                         "requirements/constraints.txt come from it): clone the repository and run this there")
    checks = submission.lesson_checks(lesson)
    if not checks:
        raise SystemExit(f"lesson {lesson!r} has no exercises; lessons with exercises: {', '.join(lessons())}")
    if mode == "gpu":
        raise SystemExit("Gradescope's containers have no GPU: use --mode fast (the default) or cpu")
    if visibility not in VISIBILITIES:
        raise SystemExit(f"--visibility must be one of {', '.join(VISIBILITIES)}")
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise SystemExit(f"--out must name a .zip file, got {out}")
    if out.exists() and not force:
        raise SystemExit(f"{out} exists; choose another name, or pass --force to replace it")
    if not out.resolve().parent.is_dir():
        raise SystemExit(f"--out {out}: its folder does not exist")
    notebook = instructor_notebook(root, lesson)
    mini = mini_cifar() if needs_cifar(notebook) else None
    config = BundleConfig(lesson=lesson, notebook=notebook.name, hidden=hidden, mode=mode, timeout=timeout,
                          total_timeout=total_timeout, memory_mb=memory_mb, visibility=visibility,
                          exercises=[{"id": c.id, "name": c.name, "points": c.points} for c in checks],
                          data=mini.name if mini else None, built_from=_commit(root),
                          built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    contents = {}
    with tempfile.TemporaryDirectory(prefix="course-gradescope-") as tmp:
        wheel = course_wheel(root, Path(tmp) / "dist")
        fd, partial = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.resolve().parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(partial, "w") as zf:
                files = [("setup.sh", (TEMPLATES / "setup.sh").read_bytes(), 0o755),
                         ("run_autograder", (TEMPLATES / "run_autograder").read_bytes(), 0o755),
                         (wheel.name, wheel.read_bytes(), 0o644),
                         ("constraints.txt", (root / "requirements" / "constraints.txt").read_bytes(), 0o644),
                         ("config.json", (json.dumps(asdict(config), indent=2) + "\n").encode(), 0o644)]
                if hidden:
                    files.append(("grader_secret", (secrets.token_hex(32) + "\n").encode(), 0o600))
                if mini is not None:
                    files.append((mini.name, mini.read_bytes(), 0o644))
                for name, payload, perms in files:
                    _add(zf, name, payload, perms)
                    contents[name] = len(payload)
            os.replace(partial, out)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    return Bundle(out, config, contents)


def lessons() -> list[str]:
    """The lessons that have exercises (those a bundle can be built for)."""
    from ..checks import REGISTRY

    return sorted({c.lesson for c in REGISTRY.values()})


# ----------------------------------------------------------------------------- grading one submission

def find_notebooks(folder: Path) -> list[Path]:
    """Every notebook in ``folder`` and below, except Jupyter's checkpoints and macOS zip debris."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and not p.name.startswith("._")
                  and not SKIPPED_PARTS.intersection(p.relative_to(folder).parts))


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this container may use: its CPU affinity, capped by its cgroup's CPU quota (Gradescope
    gives a container a share of a large machine; torch would otherwise start a thread per core of the
    host). ``cgroup`` is the cgroup file system's root (v2's ``cpu.max``, else v1's ``cpu/cpu.cfs_*``)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = None
    try:
        limit, period = (Path(cgroup) / "cpu.max").read_text().split()[:2]
        quota = None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError):
        try:
            limit = int((Path(cgroup) / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((Path(cgroup) / "cpu" / "cpu.cfs_period_us").read_text())
            quota = limit / period if limit > 0 else None
        except (OSError, ValueError):
            pass
    return max(1, min(count, math.ceil(quota) if quota else count))


def choose_isolation(method: str = "auto") -> str:
    """The isolation to grade with: ``method`` when named; for ``auto``, bubblewrap where the container
    allows namespaces, else (as root, which Gradescope's ``run_autograder`` is) the kernel as a fresh
    unprivileged uid (``setpriv``: the grader's files, its secret and ``results/`` out of the learner's
    reach), else what ``course-grade``'s ``auto`` takes (``unshare`` or ``none``)."""
    if method != "auto":
        return method
    if sandbox.detect("auto").method != "bwrap" and os.geteuid() == 0:
        try:
            return sandbox.detect("setpriv").method
        except RuntimeError:
            pass
    return "auto"


def grade(root: Path, config: BundleConfig) -> tuple[SubmissionResult | None, str | None, dict]:
    """Grade the notebook in ``root/submission``: ``(result, problem, isolation)``; ``problem`` says why
    nothing could be graded (no notebook, several, another lesson's, unreadable), else ``None``."""
    from .grader import Settings, grade_submission

    source = root / "source"
    method = choose_isolation(config.isolation)
    isolation = sandbox.detect(method)
    found = find_notebooks(root / "submission")
    upload = f"upload your lesson {config.lesson} notebook ({config.notebook}) and nothing else"
    if not found:
        return None, f"no notebook (.ipynb) was found in your submission: {upload}.", isolation.describe()
    if len(found) > 1:
        names = ", ".join(p.relative_to(root / "submission").as_posix() for p in found[:5])
        return None, (f"your submission holds {len(found)} notebooks ({names}{', ...' if len(found) > 5 else ''}), "
                      f"so it is not clear which to grade: {upload}."), isolation.describe()
    path = found[0]
    try:
        nb = submission.read_submission(path)
    except submission.SubmissionProblem as problem:
        return None, f"{path.name} could not be read ({problem.message}): {upload}.", isolation.describe()
    detected = submission.detect_lesson(nb, path)
    if detected is not None and detected != config.lesson:
        return None, (f"{path.name} is lesson {detected}'s notebook, and this assignment grades lesson "
                      f"{config.lesson}: {upload}."), isolation.describe()
    if config.data:
        os.environ["COURSE_MINI_CIFAR"] = str(source / config.data)   # the kernel's sandbox shows this file
    secret = (source / "grader_secret").read_bytes().strip() if config.hidden else None
    settings = Settings(timeout=config.timeout, total_timeout=config.total_timeout, mode=config.mode,
                        hidden=config.hidden, secret=secret, secret_source="file" if secret else "",
                        isolation=method, memory_mb=config.memory_mb, threads=available_cpus())
    result = grade_submission(path, settings, lesson=config.lesson)
    problem = None if result.status == "graded" else f"{path.name} could not be graded: {result.message}"
    return result, problem, isolation.describe()


_STATUS_WORDS = {"failed": "", "error": "Could not be judged: ", "timeout": "Ran out of time: ",
                 "not attempted": "Not attempted: ", "missing": "Missing: "}


def _test_output(status: str, message: str) -> str:
    if status == "passed":
        return message or "Passed."
    if status == "not attempted" and not message:
        message = "the solution cell still raises NotImplementedError"
    return _STATUS_WORDS.get(status, f"{status}: ") + (message or "no message")


def results_data(result: SubmissionResult | None, lesson: str, *, problem: str | None = None,
                 config: BundleConfig | None = None, isolation: dict | None = None,
                 seconds: float = 0.0) -> dict:
    """Gradescope's ``results.json`` for one submission: one test per exercise of ``lesson`` (``name``,
    ``number``, ``score``, ``max_score``, ``status`` ``passed``/``failed``, ``output``: the check's
    message), the overall ``score``, ``output`` (what happened to the submission as a whole),
    ``visibility``, ``stdout_visibility`` (hidden: stdout is the grader's log), ``execution_time`` and
    ``extra_data`` (isolation, flags for review: for the instructor)."""
    config = config or BundleConfig(lesson=lesson, notebook=f"{lesson}_*.ipynb", exercises=[])
    graded = {e.id: e for e in result.exercises} if result is not None else {}
    tests = []
    for check in submission.lesson_checks(lesson):
        e = graded.get(check.id)
        status, message = (e.status, e.message) if e is not None else ("error", problem or "not graded")
        points = check.points if status == "passed" else 0
        tests.append({"name": f"Exercise {check.id}: {check.name}", "number": check.id, "score": float(points),
                      "max_score": float(check.points), "status": "passed" if status == "passed" else "failed",
                      "output": text(_test_output(status, message)), "visibility": config.visibility})
    score = sum(t["score"] for t in tests)
    lines = [f"Lesson {lesson} ({config.notebook}): {score:g} of {sum(t['max_score'] for t in tests):g} points."]
    if problem:
        lines.append(f"Nothing was graded: {problem}" if result is None or not result.exercises else problem)
    elif result is not None:
        if config.hidden:
            lines.append("Each exercise was run on inputs this autograder drew (not the examples in the notebook) "
                         "and judged outside your notebook; each test below says what it found.")
        lines += [f"Your notebook: {note}" for note in result.notes]
        if any(e.status == "timeout" for e in result.exercises):
            lines.append(f"Some of your code ran out of time (the limits are {config.timeout:g} s per cell and "
                         f"{config.total_timeout:g} s for the notebook): make it faster, or leave out work the "
                         "exercises do not need.")
    extra = {"lesson": lesson, "status": result.status if result is not None else "not graded",
             "isolation": isolation or {}, "hidden": config.hidden, "mode": config.mode,
             "built_from": config.built_from}
    if result is not None:
        extra.update(submission=Path(result.path).name, cpu_seconds=result.cpu_seconds, flagged=result.flagged,
                     flags=[{"where": f.where, "reason": f.reason} for f in result.flags])
    return {"score": score, "execution_time": int(round(seconds)), "output": text("\n".join(lines), 4000),
            "output_format": "text", "visibility": config.visibility, "stdout_visibility": "hidden",
            "tests": tests, "extra_data": extra}


def write_results(path: Path, data: dict) -> None:
    """Write ``results.json`` atomically (a reader sees the old file or the whole new one)."""
    from .report import _write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def run(root: Path) -> int:
    """What ``run_autograder`` runs: grade ``root/submission``, write ``root/results/results.json``, print
    the grader's table for the instructor (Gradescope keeps stdout); 0 once results.json is written."""
    from .report import format_table

    start = time.perf_counter()
    root = Path(root)
    config = BundleConfig.read(root / "source" / "config.json")
    try:
        result, problem, isolation = grade(root, config)
    except Exception as err:  # noqa: BLE001 - the learner must get a results.json that says so
        result, problem, isolation = None, (f"the autograder failed ({type(err).__name__}: {err}); tell your "
                                            "instructor, this is not your notebook's fault"), {}
    data = results_data(result, config.lesson, problem=problem, config=config, isolation=isolation,
                        seconds=time.perf_counter() - start)
    write_results(root / "results" / "results.json", data)
    if result is not None:
        print(format_table([result]), end="")
    if problem:
        print(f"not graded: {problem}")
    print(f"isolation: {isolation.get('method', '?')} ({isolation.get('detail', '')})")
    print(f"score {data['score']:g}; results written to {root / 'results' / 'results.json'}")
    return 0


# ----------------------------------------------------------------------------- the command

def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_utils.grading.gradescope",
                                description="Build a Gradescope autograder zip for one lesson (setup.sh, "
                                            "run_autograder, the course's wheel and pins, a secret for hidden "
                                            "inputs, the CIFAR-10 mini file when the lesson needs it).")
    p.add_argument("lesson", nargs="?", help="two-digit lesson, 01 to 09")
    p.add_argument("--out", type=Path, help="the zip to write, e.g. lesson01_autograder.zip")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-hidden", dest="hidden", action="store_false",
                   help="judge on the notebook's visible inputs (default: hidden inputs from a secret made now and "
                        "stored in the bundle, which learners never see)")
    p.add_argument("--mode", default="fast", choices=[m for m in runtime.MODES if m != "gpu"],
                   help="COURSE_MODE of the graded runs (default fast)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a cell may run (default 300)")
    p.add_argument("--total-timeout", type=float, default=480.0,
                   help="seconds the notebook may run in all (default 480; keep it under the assignment's "
                        "autograder timeout on Gradescope, 10 minutes unless changed)")
    p.add_argument("--memory-limit", type=float, default=8.0, help="GB of address space per kernel (default 8)")
    p.add_argument("--visibility", default="visible", choices=VISIBILITIES,
                   help="when learners see their results (default visible)")
    p.add_argument("--run", type=Path, metavar="ROOT", help=argparse.SUPPRESS)   # what run_autograder calls
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.run is not None:
        return run(args.run)
    if args.lesson is None or args.out is None:
        p.error("give a lesson and --out FILE.zip, e.g. 01 --out lesson01_autograder.zip")
    lesson = args.lesson.zfill(2)
    if lesson not in lessons():
        p.error(f"lesson must be one of {', '.join(lessons())}, got {args.lesson!r}")
    if args.timeout <= 0 or args.total_timeout <= 0 or args.memory_limit <= 0:
        p.error("--timeout, --total-timeout and --memory-limit must be positive")
    try:
        bundle = build(lesson, args.out, hidden=args.hidden, mode=args.mode, timeout=args.timeout,
                       total_timeout=args.total_timeout, visibility=args.visibility, force=args.force,
                       memory_mb=int(args.memory_limit * 1024))
    except SystemExit as err:
        p.error(str(err))
    print(f"wrote {bundle.path} ({bundle.size / 2**20:.1f} MB) for lesson {lesson}, built from "
          f"{bundle.config.built_from}:")
    for name, size in bundle.contents.items():
        print(f"  {name:<40} {size:>12,} bytes")
    print("Upload it as the assignment's autograder (Configure Autograder > Zip file upload); "
          + ("its grader_secret draws the hidden inputs: keep the zip from learners." if args.hidden else
             "inputs are the notebook's visible ones (--no-hidden)."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
