"""nbgrader works on the course's instructor notebooks as they are, and agrees with course-grade.

nbgrader is installed into a throwaway environment that sees the course's packages (a virtual
environment with a ``.pth`` line pointing at this one's site-packages), from
``requirements/nbgrader.txt`` with ``--no-deps`` (that file is the whole set nbgrader adds to the
course's packages; ``pip check`` proves it, and skipping the resolver halves the install); its
pins do not conflict with the course's, but the course's own environment stays without it
(nbgrader's JupyterLab extensions would show in every learner's lab). Then, for lessons 01 and
02 in a fresh nbgrader course folder: ``nbgrader generate_assignment`` must give the course's learner version (same cells, same code),
and ``nbgrader autograde`` must give each exercise the points ``course-grade`` gives it on the
same submission (one exercise right and one wrong per lesson).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import nbformat
import pytest

from course_utils import release, _course, cells, grading
from course_utils.checks import Check

ROOT = _course.checkout_root()
LESSONS = ("01", "02")
pytestmark = pytest.mark.slow


def _solution(lesson: str) -> Path:
    (found,) = (ROOT / "notebooks" / "solutions").glob(f"{lesson}_*.ipynb")
    return found


@pytest.fixture(scope="session")
def nbgrader_python() -> str:
    """A Python that can run nbgrader and the course: this one if it has nbgrader, else a throwaway venv
    (kept in the user's cache folder, keyed by the pins and this environment, so later runs reuse it)."""
    try:
        import nbgrader  # noqa: F401
        return sys.executable
    except ImportError:
        pass
    pins = (ROOT / "requirements" / "nbgrader.txt").read_bytes()
    key = hashlib.sha256(pins + sys.prefix.encode() + sys.version.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "learning-rate-course"
    env_dir = cache / f"nbgrader-env-{key}"
    python = env_dir / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import nbgrader"]).returncode == 0:
        return str(python)
    shutil.rmtree(env_dir, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "course_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check"]
    done = subprocess.run([*pip, "install", "-q", "--no-deps", "-r", str(ROOT / "requirements" / "nbgrader.txt")],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"could not install nbgrader from the registry:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    check = subprocess.run([*pip, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        shutil.rmtree(env_dir, ignore_errors=True)
        pytest.fail(f"requirements/nbgrader.txt misses a dependency of nbgrader (pip check):\n{check.stdout[-2000:]}")
    return str(python)


WRONG = {  # exercise id -> a learner's slip, appended to the solution cell
    "01.2": "def run_gd(grad_fn, w0, lr, num_steps):\n    return np.array([w0] * (num_steps + 1))\n",
    "02.1": "def max_stable_lr(A):\n    return 2.0 / np.max(np.diag(A))   # the diagonal is not the eigenvalues\n",
}


def _submission(release_nb, solution_nb):
    """nbgrader's student version with every solution filled in from the instructor's, except the WRONG ones."""
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    answers = {cells.exercise_id(c): c.source for c in solution_nb.cells if cells.role(c) == "solution"}
    for cell in nb.cells:
        eid = cells.exercise_id(cell)
        if cells.role(cell) == "solution" and eid in answers:
            cell.source = answers[eid] + ("\n" + WRONG[eid] if eid in WRONG else "")
    return nb


def _run(args, cwd, python, timeout=600):
    env = dict(os.environ, COURSE_MODE="fast", COURSE_PROGRESS="0", MPLBACKEND="Agg",
               PATH=os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "")]),  # nbgrader runs `alembic`
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    done = subprocess.run([python, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory, nbgrader_python):
    """An nbgrader course with lessons 01 and 02, generated, submitted by one student and autograded."""
    course = tmp_path_factory.mktemp("nbgrader-course")
    (course / "nbgrader_config.py").write_text(textwrap.dedent(f"""\
        c = get_config()
        c.CourseDirectory.root = {str(course)!r}
        c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError"}}
        c.Execute.timeout = 600
        """))
    _run(["db", "student", "add", "alice"], course, nbgrader_python)
    names = {}
    for lesson in LESSONS:
        solution = _solution(lesson)
        names[lesson] = solution.stem
        (course / "source" / f"lesson{lesson}").mkdir(parents=True)
        shutil.copy2(solution, course / "source" / f"lesson{lesson}")
        _run(["db", "assignment", "add", f"lesson{lesson}"], course, nbgrader_python)
        _run(["generate_assignment", f"lesson{lesson}", "--force"], course, nbgrader_python)
        released = nbformat.read(course / "release" / f"lesson{lesson}" / solution.name, as_version=4)
        submitted = course / "submitted" / "alice" / f"lesson{lesson}"
        submitted.mkdir(parents=True)
        nbformat.write(_submission(released, nbformat.read(solution, as_version=4)), submitted / solution.name)
    for lesson in LESSONS:
        _run(["autograde", f"lesson{lesson}", "--force"], course, nbgrader_python)
    script = textwrap.dedent(f"""\
        import json
        from nbgrader.api import Gradebook
        out = {{}}
        with Gradebook("sqlite:///{course / 'gradebook.db'}") as gb:
            for lesson, name in {names!r}.items():
                nb = gb.find_submission_notebook(name, "lesson" + lesson, "alice")
                out[lesson] = {{g.name: g.auto_score for g in nb.grades}}
        print(json.dumps(out))
        """)
    done = subprocess.run([nbgrader_python, "-c", script], capture_output=True, text=True, check=True)
    return {"root": course, "names": names, "scores": json.loads(done.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("lesson", LESSONS)
def test_generate_assignment_gives_the_course_learner_version(nbgrader_course, lesson):
    name = nbgrader_course["names"][lesson]
    theirs = nbformat.read(nbgrader_course["root"] / "release" / f"lesson{lesson}" / f"{name}.ipynb", as_version=4)
    ours = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert [c.cell_type for c in theirs.cells] == [c.cell_type for c in ours.cells]
    # the course's learner version also drops the NBVAL_CHECK_OUTPUT marker (it stores no output to compare)
    assert [release.drop_check_mark(c.source) for c in theirs.cells] == [c.source for c in ours.cells]
    graded = [c.metadata["nbgrader"]["grade_id"] for c in theirs.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [cells.exercise_of_grade_id(g) for g in graded] == [
        cells.exercise_id(c) for c in ours.cells if cells.is_check_cell(c)]


@pytest.mark.parametrize("lesson", LESSONS)
def test_autograde_agrees_with_course_grade(nbgrader_course, lesson, tmp_path):
    if any(type(c).cases is Check.cases for c in grading.lesson_checks(lesson)):
        pytest.skip(f"lesson {lesson}'s checks are not split into cases/respond/judge yet: course-grade "
                    "cannot judge them outside the kernel")
    name = nbgrader_course["names"][lesson]
    submitted = nbgrader_course["root"] / "submitted" / "alice" / f"lesson{lesson}" / f"{name}.ipynb"
    [result] = grading.grade([submitted], grading.Settings())
    ours = {e.id: e.points for e in result.exercises}
    theirs = {cells.exercise_of_grade_id(g): score for g, score in nbgrader_course["scores"][lesson].items()
              if cells.exercise_of_grade_id(g)}
    assert ours == theirs, (ours, theirs)
    assert set(ours.values()) != {0} and any(e.status == "failed" for e in result.exercises), result
    assert not result.flagged, result.flags
