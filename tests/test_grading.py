"""The grader: statuses per exercise, tamper resistance, robustness, reports, exit status, nbval.

Instructor and learner versions of every lesson in ``notebooks/solutions`` are graded (so a new
lesson is covered without editing this file); the broken and tampered submissions are built
from lesson 01 by editing cells, the way a learner would. All of them are graded in **one**
``course-grade --jobs 2`` run shared by the whole session (:func:`graded_course`); only the tests
that need other options (``--hidden``, short time limits) start runs of their own, on lesson 01.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import course_utils._course
from course_utils import grading

ROOT = course_utils._course.checkout_root()
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
LESSON01 = next((p for p in SOLUTIONS if p.name.startswith("01_")), None)
# The learner and tampered versions are graded for two lessons only: what they test (stubs report
# "not attempted", forged/deleted/reordered check cells change nothing) comes from the release
# tool and the grader, the same for every lesson, while each graded run executes a whole lesson.
# The instructor version of every lesson is graded. A bowl lesson and a CIFAR lesson:
SAMPLED = [p for p in SOLUTIONS if p.name[:2] in ("01", "07")] or SOLUTIONS[:1]
needs_lesson01 = pytest.mark.skipif(LESSON01 is None, reason="lesson 01 is not written yet")


def _ids(paths):
    return [p.stem for p in paths]


def grade_cli(tmp_path, paths, *options, report="grades.json"):
    """Run the command as a grader would; return (exit status, parsed report)."""
    report_path = tmp_path / report
    status = grading.main([*map(str, paths), "--report", str(report_path), *options])
    if report_path.suffix == ".csv":
        with open(report_path, newline="") as f:
            return status, list(csv.DictReader(f))
    return status, json.loads(report_path.read_text())


def statuses(submission: dict) -> dict:
    return {e["id"]: e["status"] for e in submission["exercises"]}


def by_name(report: dict) -> dict:
    return {Path(s["path"]).stem: s for s in report["submissions"]}


def code_index(nb, exercise: str, role: str) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.get("metadata", {}).get("course", {}) == {"exercise": exercise, "role": role})


def check_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("course", {}).get("role") == "check"]


def write(nb, path: Path) -> Path:
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------- fast unit tests (no kernel)

def test_unreadable_submissions_get_a_clear_status(tmp_path):
    (tmp_path / "01_empty.ipynb").write_text("")
    (tmp_path / "01_corrupt.ipynb").write_text('{"cells": [ {"cell_type": "code", ')
    (tmp_path / "01_not_a_notebook.ipynb").write_text('{"hello": 1}')
    (tmp_path / "mystery.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    paths = [tmp_path / n for n in ("01_empty.ipynb", "01_corrupt.ipynb", "01_not_a_notebook.ipynb",
                                    "mystery.ipynb", "does_not_exist.ipynb")]
    results = grading.grade(paths)
    got = {Path(r.path).stem: r for r in results}
    assert "empty" in got["01_empty"].message
    assert "not valid JSON (line 1" in got["01_corrupt"].message
    assert "not a notebook" in got["01_not_a_notebook"].message
    assert got["mystery"].status == "unknown lesson" and "which lesson" in got["mystery"].message
    assert got["does_not_exist"].status == "unreadable"
    for stem in ("01_empty", "01_corrupt", "01_not_a_notebook"):
        assert got[stem].status == "unreadable" and got[stem].lesson == "01"
        if LESSON01:  # the lesson is known from the file name, so each exercise gets a row
            assert {e.status for e in got[stem].exercises} == {"error"}
    assert not any(r.all_passed for r in results)


def test_csv_report_has_one_row_per_exercise(tmp_path):
    (tmp_path / "01_corrupt.ipynb").write_text("{not json")
    (tmp_path / "mystery.ipynb").write_text("")
    status, rows = grade_cli(tmp_path, [tmp_path / "01_corrupt.ipynb", tmp_path / "mystery.ipynb"],
                             report="grades.csv")
    assert status == 1
    assert list(rows[0]) == list(grading._COLUMNS)
    corrupt = [r for r in rows if r["submission"].endswith("01_corrupt.ipynb")]
    assert all(r["submission_status"] == "unreadable" and r["status"] == "error" for r in corrupt)
    mystery = [r for r in rows if r["submission"].endswith("mystery.ipynb")]
    assert len(mystery) == 1 and mystery[0]["exercise"] == "" and mystery[0]["status"] == "unreadable"


def _synthetic(with_metadata=True):
    nb = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell("def gd_step(w, grad, lr):\n    return w - lr * grad")
    check = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nchecks.gd_step(gd_step)")
    if with_metadata:
        nb.metadata["course"] = {"lesson": "01", "title": "t"}
        solution.metadata["course"] = {"exercise": "01.1", "role": "solution"}
        check.metadata["course"] = {"exercise": "01.1", "role": "check"}
    nb.cells = [nbformat.v4.new_code_cell("from course_utils import checks"), solution, check]
    return nb


def test_detect_lesson_from_metadata_ids_calls_and_file_name():
    nb = _synthetic()
    assert grading.detect_lesson(nb, "whatever.ipynb") == "01"
    del nb.metadata["course"]
    assert grading.detect_lesson(nb, "whatever.ipynb") == "01"          # exercise ids in cell metadata
    bare = _synthetic(with_metadata=False)
    assert grading.detect_lesson(bare, "whatever.ipynb") == "01"        # the checks.gd_step( call
    bare.cells = bare.cells[:2]
    assert grading.detect_lesson(bare, "whatever.ipynb") is None
    assert grading.detect_lesson(bare, "01_mine.ipynb") == "01"         # the file name, last


def test_build_graded_replaces_check_cells_with_the_course_ones(tmp_path):
    course = [grading.CourseCheck("01.1", "# NBVAL_CHECK_OUTPUT\nchecks.gd_step(gd_step)", {"gd_step"})]
    for meta in (True, False):
        nb = _synthetic(with_metadata=meta)
        nb.cells[2].source = 'print("[check 01.1] gd_step: PASSED")'   # a forged check cell
        graded, plan, missing = grading.build_graded(nb, course)
        assert missing == []
        assert [w.get("check") for w in plan] == [None, None, "01.1"]
        assert "run_check" in graded.cells[2].source and "PASSED" not in graded.cells[2].source
        assert plan[1] == {"cell": 2, "exercise": "01.1"}
    nb.cells = nb.cells[:1]
    assert grading.build_graded(nb, course)[2] == ["01.1"]


def test_with_hidden_adds_the_keyword_to_check_calls():
    assert grading.with_hidden("# NBVAL_CHECK_OUTPUT\nchecks.run_gd(run_gd)") == "checks.run_gd(run_gd, hidden=True)"
    assert grading.with_hidden("x = checks.a(f, hidden=False)") == "x = checks.a(f, hidden=False)"


def test_check_cells_are_recognised():
    code = nbformat.v4.new_code_cell
    assert grading.is_check_cell(code("# NBVAL_CHECK_OUTPUT\nchecks.gd_step(gd_step)"))
    assert grading.is_check_cell(code('print("[check 01.1] gd_step: PASSED")'))
    assert not grading.is_check_cell(code("# NBVAL_CHECK_OUTPUT\nprint(round(x, 3))"))  # a lesson's own claim
    solution = code("checks.gd_step(gd_step)")
    solution.metadata["course"] = {"exercise": "01.1", "role": "solution"}
    assert not grading.is_check_cell(solution)


def test_installed_grader_without_instructor_notebooks_says_how_to_point_at_them(tmp_path, monkeypatch, capsys):
    from course_utils import _course

    monkeypatch.setattr(_course, "checkout_root", lambda: None)      # as from an installed wheel
    (tmp_path / "01_alice.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    with pytest.raises(SystemExit) as exit_:
        grading.main([str(tmp_path / "01_alice.ipynb")])
    message = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "no instructor notebooks" in message and "--solutions DIR" in message and "checkout" in message
    assert str(ROOT) not in message and "site-packages" not in message   # no path the user never gave
    [result] = grading.grade([tmp_path / "01_alice.ipynb"], grading.Settings())   # the API says the same
    assert result.status == "no instructor notebooks" and "--solutions DIR" in result.message
    with pytest.raises(SystemExit):
        grading.main([str(tmp_path / "01_alice.ipynb"), "--solutions", str(tmp_path / "nowhere")])
    assert str(tmp_path / "nowhere") in capsys.readouterr().err      # the path the user gave


def test_scan_flags_tampering_and_not_honest_code():
    honest = ["import numpy as np\nimport matplotlib.pyplot as plt\nimport torch\nimport sys",
              "torch.backends.cudnn.benchmark = True\nplt.rcParams['figure.dpi'] = 100",
              'if "google.colab" in sys.modules:\n    print(sys.executable)',
              "%matplotlib inline\n%timeit np.zeros(3)",
              "from course_utils import checks, plotting\nchecks.gd_step(lambda w, g, lr: w - lr * g)",
              "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(2, 1)",
              "name = type(model).__name__\nopt = getattr(torch.optim, 'Adam')\nopt = getattr(torch.optim, name)",
              "import inspect\nprint(inspect.getsource(np.linalg.norm))",
              "sum = 0\nfor x in range(3):\n    sum += x"]
    assert grading.scan(honest) == []
    tampering = {"np.allclose = lambda *a, **k: True": "numpy.allclose",
                 "%run other.py": "%run",
                 "sys.settrace(lambda *a: None)": "sys.settrace",
                 "exec('x = 1')": "exec",
                 "f = print.__self__": "__self__",
                 "getattr(checks, name)": "computed attribute name",
                 "getattr(print, name)": "computed attribute name",
                 "import inspect\nf = inspect.currentframe()": "inspect.currentframe",
                 "get_ipython().events.register('post_run_cell', f)": "get_ipython().events",
                 "print(In[-1])": "input history",
                 "NotImplementedError = ValueError": "NotImplementedError",
                 "checks.REGISTRY.clear()": "course_utils.checks.REGISTRY"}
    for code, words in tampering.items():
        flags = grading.scan(["import numpy as np\nimport sys\nfrom course_utils import checks", code])
        assert flags and any(words in f.reason for f in flags), (code, flags)
        assert all(f.cell == 2 and f.where.startswith("cell 2, line ") for f in flags)


@pytest.mark.parametrize("path", SOLUTIONS + [ROOT / "notebooks" / p.name for p in SOLUTIONS],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_course_notebook_is_flagged_by_the_scan(path):
    nb = nbformat.read(path, as_version=4)
    run = [(n, c) for n, c in enumerate(nb.cells, 1) if c.cell_type == "code"]
    assert grading.scan([c.source for _, c in run], [n for n, _ in run]) == []


def test_kernel_side_refuses_changed_files_and_fingerprints_show_rebinding(tmp_path):
    from course_utils.grading import integrity, kernel_side, submission

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    digests = submission.package_digests(tmp_path / "pkg")
    sources, changed = kernel_side._read_verified(str(tmp_path / "pkg"), digests)
    assert changed == [] and set(sources) == {"", "mod"}
    (tmp_path / "pkg" / "mod.py").write_text("X = 2\n")
    assert kernel_side._read_verified(str(tmp_path / "pkg"), digests)[1] == ["mod.py"]
    before = kernel_side.fingerprint_dict()
    import math
    saved = math.sqrt
    try:
        math.sqrt = lambda x: 0.0
        after = kernel_side.fingerprint_dict()
    finally:
        math.sqrt = saved
    assert integrity.fingerprint_changes(before, after) == ["math.sqrt"]
    assert integrity.fingerprint_changes(before, kernel_side.fingerprint_dict()) == []
    assert kernel_side.unpack_fingerprint(kernel_side.pack(before)) == before


# --------------------------------------------------------------------------- every lesson: instructor, learner, tampered

def _tampered_learner(learner: Path, out: Path) -> Path:
    """The learner version with its first check cell forged, the others reordered and half of them deleted."""
    tampered = nbformat.read(learner, as_version=4)
    checks = check_cells(tampered)
    first = tampered.cells[checks[0]]
    eid = first.metadata["course"]["exercise"]
    first.source = f'print("[check {eid}] {grading._registry()[eid].name}: PASSED")'   # forged
    moved = [tampered.cells[i] for i in checks[1:]]
    tampered.cells = [c for i, c in enumerate(tampered.cells) if i not in checks[1:]]
    tampered.cells += moved[::-1]                        # the other check cells reordered to the end...
    for cell in moved[1::2]:
        tampered.cells.remove(cell)                      # ...and every second one of them deleted
    tampered.metadata.pop("course")
    return write(tampered, out)


def _group_status(submissions: list[dict]) -> int:
    """The exit status course-grade gives for just these submissions (see grading.exit_status)."""
    if any(s["flagged"] for s in submissions):
        return 2
    return 0 if all(s["status"] == "graded" and all(e["status"] == "passed" for e in s["exercises"])
                    for s in submissions) else 1


@pytest.fixture(scope="session")
def graded_course(tmp_path_factory):
    """One ``course-grade --jobs 2`` run over every submission the tests below look at.

    Per lesson: its instructor version; for the lessons of ``SAMPLED`` also its learner version and a
    tampered learner version. For lesson 01: the broken, tampered and honest variants of
    :func:`_lesson01_submissions`.
    """
    tmp = tmp_path_factory.mktemp("graded")
    lessons = {}
    for source in SOLUTIONS:
        folder = tmp / source.stem[:2]
        for sub in ("instructor", "learner"):  # copies: the course's files may be regenerated meanwhile
            (folder / sub).mkdir(parents=True)
        solution = Path(shutil.copy2(source, folder / "instructor"))
        learner = Path(shutil.copy2(ROOT / "notebooks" / source.name, folder / "learner"))
        solution_nb = nbformat.read(solution, as_version=4)
        sampled = [learner, _tampered_learner(learner, folder / "submission.ipynb")] if source in SAMPLED else []
        lessons[source.stem] = {
            "paths": [solution] + sampled,
            "ids": [grading._registry()[solution_nb.cells[i].metadata["course"]["exercise"]].exercise_id
                    for i in check_cells(solution_nb)]}
    batch = _lesson01_submissions(tmp / "l01") if LESSON01 else {}
    paths = [p for lesson in lessons.values() for p in lesson["paths"]] + list(batch.values())
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    start = time.perf_counter()
    status, report = grade_cli(tmp, paths, "--jobs", "2", "--keep-executed", str(tmp / "kept"))
    seconds = time.perf_counter() - start
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}
    by_path = dict(zip(paths, report["submissions"]))
    return {"status": status, "report": report, "by_path": by_path, "lessons": lessons, "batch": batch,
            "before": before, "after": after, "seconds": seconds, "kept": tmp / "kept"}


def _graded_view(graded_course, stem: str) -> dict:
    """One lesson's submissions as graded in the session's run, with their exit status."""
    lesson = graded_course["lessons"][stem]
    subs = [graded_course["by_path"][p] for p in lesson["paths"]]
    return {"status": _group_status(subs), "report": {"submissions": subs}, "ids": lesson["ids"],
            "before": [graded_course["before"][p] for p in lesson["paths"]],
            "after": [graded_course["after"][p] for p in lesson["paths"]]}


@pytest.fixture(params=[p.stem for p in SOLUTIONS])
def graded_lesson(request, graded_course):
    """One lesson's instructor version (and for ``SAMPLED`` lessons its learner and tampered
    versions), as graded in the session's run."""
    return _graded_view(graded_course, request.param)


@pytest.fixture(params=[p.stem for p in SAMPLED])
def graded_sample(request, graded_course):
    """A ``SAMPLED`` lesson's instructor, learner and tampered versions, as graded in the session's run."""
    return _graded_view(graded_course, request.param)


@pytest.mark.slow
def test_instructor_version_passes_every_exercise(graded_lesson):
    instructor = graded_lesson["report"]["submissions"][0]
    assert instructor["status"] == "graded"
    assert [e["id"] for e in instructor["exercises"]] == graded_lesson["ids"]
    assert set(statuses(instructor).values()) == {"passed"}, instructor
    assert instructor["points"] == instructor["max_points"] > 0


@pytest.mark.slow
def test_learner_version_is_not_attempted(graded_sample):
    learner = graded_sample["report"]["submissions"][1]
    assert set(statuses(learner).values()) == {"not attempted"}, learner
    assert learner["points"] == 0
    assert graded_sample["status"] == 1          # not everything passed


@pytest.mark.slow
def test_forged_deleted_and_reordered_checks_are_still_graded(graded_sample):
    tampered = graded_sample["report"]["submissions"][2]
    assert tampered["lesson"] == graded_sample["report"]["submissions"][0]["lesson"]
    assert set(statuses(tampered).values()) == {"not attempted"}, tampered
    assert [e["id"] for e in tampered["exercises"]] == graded_sample["ids"]


@pytest.mark.slow
def test_submissions_are_never_modified(graded_lesson):
    assert graded_lesson["before"] == graded_lesson["after"]


# --------------------------------------------------------------------------- lesson 01: broken and tampered submissions

WRONG_RUN_GD = """
def run_gd(grad_fn, w0, lr, num_steps):   # a learner's slip: half the learning rate
    import numpy
    points = [numpy.asarray(w0, dtype=float)]
    for _ in range(num_steps):
        points.append(points[-1] - 0.5 * lr * grad_fn(points[-1]))
    return numpy.array(points)
"""

CHEATING_GD_STEP = """
_honest_gd_step = gd_step
def gd_step(w, grad, lr):   # right only on the inputs the learner saw
    return _honest_gd_step(w, grad, lr) if abs(w[0]) in (1.0, 0.3) else w
"""


# Tampering: each is put in front of the 01.2 solution cell of a submission whose run_gd is wrong
# (WRONG_RUN_GD): none may earn the exercise's points, and each must be flagged for review.
TAMPERING = {
    "replace_with_setattr": (   # the attack of issue 13: every check function replaced by one that prints PASSED
        "import course_utils.checks as _c\n"
        "for _n in list(_c.REGISTRY):\n"
        "    setattr(_c, _c.REGISTRY[_n].__name__, lambda *a, **k: print('run_gd: PASSED'))\n"),
    "replace_by_assignment": (
        "from course_utils import checks\n"
        "checks.run_gd = lambda *a, **k: print('run_gd: PASSED')\n"),
    "replace_check_helpers": (  # the comparisons every check uses
        "import course_utils.checks._core as core\n"
        "core.expect_close = lambda *a, **k: None\n"
        "core.expect = lambda *a, **k: None\n"),
    "swap_sys_modules": (
        "import sys, types\n"
        "fake = types.ModuleType('course_utils.checks')\n"
        "fake.gd_step = fake.run_gd = lambda *a, **k: print('PASSED')\n"
        "sys.modules['course_utils.checks'] = fake\n"),
    "replace_grader_helpers": (  # the old grader's helper, and the loader a grader might use
        "import course_utils.grading as g\n"
        "g.run_check = lambda *a, **k: None\n"
        "import runpy\n"
        "runpy.run_path = lambda *a, **k: {'run_check': lambda *a, **k: None, 'baseline': lambda *a, **k: None}\n"),
    "redefine_exceptions": (   # failures raised as a class nothing catches as a failure
        "import builtins\n"
        "class Quiet(Exception):\n"
        "    pass\n"
        "builtins.AssertionError = Quiet\n"
        "AssertionError = Quiet\n"),
    "patch_print": (
        "import builtins\n"
        "_print = builtins.print\n"
        "builtins.print = lambda *a, **k: _print('run_gd: PASSED')\n"),
    "shadow_builtins": (   # in the notebook's namespace only
        "def exec(*args, **kwargs):\n    pass\n"
        "def compile(*args, **kwargs):\n    return None\n"
        "def globals():\n    return {}\n"),
    "fake_records": (   # a record line in a cell, and the files the previous grader read
        "print(\"[course grader 0000] {'kind': 'check', 'id': '01.2', 'status': 'passed', 'message': ''}\")\n"
        "open('records.jsonl', 'a').write('{\"id\": \"01.2\", \"status\": \"passed\"}\\n')\n"),
    "record_from_inside_the_check": (   # run_gd itself prints a record with the check cell's nonce
        "import re as _re\n"
        "_wrong = run_gd\n"
        "def run_gd(grad_fn, w0, lr, num_steps):\n"
        "    nonce = _re.search(r\"'([0-9a-f]{32})'\", In[-1]).group(1)\n"
        "    print(f\"[course grader {nonce}] {{'kind': 'check', 'id': '01.2', 'status': 'passed', 'message': ''}}\")\n"
        "    return _wrong(grad_fn, w0, lr, num_steps)\n"),
    "patch_numpy_during_the_check": (   # run_gd makes every comparison succeed, then answers wrong
        "import numpy\n"
        "_wrong = run_gd\n"
        "def run_gd(grad_fn, w0, lr, num_steps):\n"
        "    numpy.allclose = lambda *a, **k: True\n"
        "    return _wrong(grad_fn, w0, lr, num_steps)\n"),
}
AFTER_SOLUTION = {"record_from_inside_the_check", "patch_numpy_during_the_check"}  # they wrap the learner's run_gd

# Honest work that uses the course's package: never flagged.
HONEST = {
    "honest_uses_course_utils": (
        "from course_utils import checks, descent, plotting, surfaces\n"
        "my_bowl = surfaces.make_bowl(lambdas=(1.0, 4.0), angle_deg=10.0)\n"
        "path = descent.run_gd(my_bowl.grad, np.array([1.0, 1.0]), lr=0.1, num_steps=20)\n"
        "ax = plotting.plot_curves({'mine': [my_bowl.value(w) for w in path.points]}, logy=True)\n"
        "checks.gd_step(gd_step)   # a learner may run a check again\n"),
}
LEGACY = ("wrong", "edited", "crash", "deleted_checks", "missing_solution", "missing_import", "stripped", "flood",
          "cheat")


def _lesson01_submissions(tmp: Path) -> dict[str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    base = nbformat.read(LESSON01, as_version=4)
    sol1, sol2 = code_index(base, "01.1", "solution"), code_index(base, "01.2", "solution")
    made = {}

    def variant(name, edit):
        nb = copy.deepcopy(base)
        edit(nb)
        made[name] = write(nb, tmp / f"{name}.ipynb")

    def wrong(nb):
        nb.cells[sol2].source += "\n" + WRONG_RUN_GD

    def edited(nb):
        wrong(nb)
        nb.cells[code_index(nb, "01.2", "check")].source = 'print("[check 01.2] run_gd: PASSED")'

    def crash(nb):
        nb.cells[sol1].source += ("\n_gd_step = gd_step\ndef gd_step(w, grad, lr):\n"
                                  "    return _gd_step(w, grad, lr * scale)\n")
        nb.cells.insert(sol1, nbformat.v4.new_code_cell("scale = 1 / 0   # a helper cell that crashes"))

    def deleted_checks(nb):
        nb.cells = [c for i, c in enumerate(nb.cells) if i not in check_cells(nb)]

    def missing_solution(nb):
        nb.cells = [c for c in nb.cells if c.metadata.get("course", {}).get("exercise") != "01.2"]

    def missing_import(nb):
        first_import = next(i for i, c in enumerate(nb.cells) if "import checks" in c.source or
                            "checks," in c.source and "import" in c.source)
        nb.cells[first_import].source = "import course_utils_no_such_module\n" + nb.cells[first_import].source

    def stripped(nb):   # no course metadata anywhere: found by the check calls and the `def` names
        nb.metadata.pop("course")
        for c in nb.cells:
            c.metadata.pop("course", None)

    def flood(nb):
        nb.cells.insert(sol1, nbformat.v4.new_code_cell('print("x" * 5_000_000)'))

    def cheat(nb):
        nb.cells[sol1].source += "\n" + CHEATING_GD_STEP

    for name, edit in [("wrong", wrong), ("edited", edited), ("crash", crash),
                       ("deleted_checks", deleted_checks), ("missing_solution", missing_solution),
                       ("missing_import", missing_import), ("stripped", stripped), ("flood", flood),
                       ("cheat", cheat)]:
        variant(name, edit)

    def tamper(code, after):
        def edit(nb):
            wrong(nb)
            if after:   # in the solution cell itself, after the learner's run_gd
                nb.cells[sol2].source += "\n" + code
            else:       # a cell of its own, before the solution cell
                nb.cells.insert(sol2, nbformat.v4.new_code_cell(code))
        return edit

    for name, code in TAMPERING.items():
        variant(name, tamper(code, name in AFTER_SOLUTION))
    for name, code in HONEST.items():
        variant(name, lambda nb, code=code: nb.cells.insert(sol2 + 2, nbformat.v4.new_code_cell(code)))
    return made


@pytest.fixture
def lesson01_batch(graded_course):
    """The lesson-01 variants, as graded in the session's run."""
    if LESSON01 is None:
        pytest.skip("lesson 01 is not written yet")
    paths = graded_course["batch"]
    report = {name: graded_course["by_path"][p] for name, p in paths.items()}
    legacy = [report[n] for n in LEGACY]
    return {"status": _group_status(legacy), "report": report, "kept": graded_course["kept"], "paths": paths,
            "unchanged": all(graded_course["before"][p] == graded_course["after"][p] for p in paths.values())}


@pytest.mark.slow
def test_wrong_answer_fails_that_exercise_with_its_hint(lesson01_batch):
    wrong = lesson01_batch["report"]["wrong"]
    assert statuses(wrong) == {"01.1": "passed", "01.2": "failed"}
    message = wrong["exercises"][1]["message"]
    assert message.startswith("[check 01.2] run_gd: FAILED:") and "Each row should be one step" in message
    assert (wrong["points"], wrong["max_points"]) == (1, 3)


@pytest.mark.slow
def test_edited_check_cell_is_graded_by_the_course_check(lesson01_batch):
    assert statuses(lesson01_batch["report"]["edited"]) == {"01.1": "passed", "01.2": "failed"}


@pytest.mark.slow
def test_crash_in_a_helper_cell_is_an_error_naming_the_cell(lesson01_batch):
    crash = lesson01_batch["report"]["crash"]
    first = crash["exercises"][0]
    assert first["status"] == "error"
    assert "ZeroDivisionError" in first["message"] and "an earlier cell failed" in first["message"]
    assert any("ZeroDivisionError" in n for n in crash["notes"])
    for e in crash["exercises"][1:]:
        assert e["status"] == "passed" or "ZeroDivisionError" in e["message"]


@pytest.mark.slow
def test_deleted_check_cells_and_stripped_metadata_are_still_graded(lesson01_batch):
    assert set(statuses(lesson01_batch["report"]["deleted_checks"]).values()) == {"passed"}
    stripped = lesson01_batch["report"]["stripped"]
    assert stripped["lesson"] == "01" and set(statuses(stripped).values()) == {"passed"}


@pytest.mark.slow
def test_deleted_solution_cell_is_missing(lesson01_batch):
    missing = lesson01_batch["report"]["missing_solution"]
    assert statuses(missing) == {"01.1": "passed", "01.2": "missing"}
    assert "no solution cell" in missing["exercises"][1]["message"]


@pytest.mark.slow
def test_missing_import_is_reported(lesson01_batch):
    sub = lesson01_batch["report"]["missing_import"]
    assert any("ModuleNotFoundError" in n for n in sub["notes"])
    for e in sub["exercises"]:
        assert e["status"] == "passed" or (e["status"] == "error" and "ModuleNotFoundError" in e["message"])


@pytest.mark.slow
def test_flooding_output_is_truncated(lesson01_batch):
    assert set(statuses(lesson01_batch["report"]["flood"]).values()) == {"passed"}
    kept = nbformat.read(lesson01_batch["kept"] / "flood.graded.ipynb", as_version=4)
    assert len(json.dumps([c.get("outputs", []) for c in kept.cells])) < 1_000_000
    assert any("output truncated" in o.get("text", "") for c in kept.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_batch_exit_status_and_files_unchanged(lesson01_batch):
    assert lesson01_batch["status"] == 1
    assert lesson01_batch["unchanged"]


@pytest.mark.slow
@pytest.mark.parametrize("technique", sorted(TAMPERING))
def test_tampering_earns_no_point_and_is_flagged(lesson01_batch, technique):
    sub = lesson01_batch["report"][technique]
    assert statuses(sub)["01.2"] != "passed", sub
    assert [e["points"] for e in sub["exercises"] if e["id"] == "01.2"] == [0]
    assert sub["flagged"] and sub["flags"], f"{technique} was not flagged"
    cells_flagged = {f["cell"] for f in sub["flags"]} | {f["where"] for f in sub["flags"]}
    assert cells_flagged, sub["flags"]
    assert statuses(sub)["01.1"] == "passed", sub   # its check ran before the tampering


@pytest.mark.slow
def test_flags_reach_the_table_the_reports_and_the_exit_status(graded_course, tmp_path):
    assert graded_course["status"] == 2                      # some submission of the run is flagged
    assert graded_course["report"]["flagged"]
    one = graded_course["batch"]["replace_by_assignment"]
    flagged = graded_course["by_path"][one]
    reasons = " ".join(f["reason"] for f in flagged["flags"])
    assert "course_utils.checks.run_gd" in reasons
    where = [f["where"] for f in flagged["flags"] if f["cell"] is not None]
    assert where and all(w.startswith("cell ") for w in where)
    results = [grading.SubmissionResult(str(one), "01", "graded", flags=[grading.Flag("cell 9, line 2", "x", 9)])]
    assert "FLAGGED FOR REVIEW" in grading.format_table(results) and "cell 9, line 2: x" in grading.format_table(results)
    row = grading.rows(results)[0]
    assert row["flagged"] == "yes" and "cell 9, line 2: x" in row["flags"]
    assert grading.exit_status(results) == 2


@pytest.mark.slow
def test_honest_submissions_are_never_flagged(graded_course):
    honest = [graded_course["by_path"][p] for lesson in graded_course["lessons"].values() for p in lesson["paths"]]
    honest += [graded_course["by_path"][graded_course["batch"][n]] for n in HONEST] if LESSON01 else []
    for sub in honest:
        assert not sub["flagged"], (sub["path"], sub["flags"])
    for name in HONEST if LESSON01 else ():
        assert set(statuses(graded_course["by_path"][graded_course["batch"][name]]).values()) == {"passed"}


@needs_lesson01
@pytest.mark.slow
def test_hidden_checks_catch_an_answer_fitted_to_the_visible_inputs(tmp_path, lesson01_batch):
    assert statuses(lesson01_batch["report"]["cheat"])["01.1"] == "passed"      # visible inputs only
    status, report = grade_cli(tmp_path, [lesson01_batch["paths"]["cheat"]], "--hidden")
    assert statuses(report["submissions"][0])["01.1"] == "failed" and report["hidden"] is True
    assert status == 1


@needs_lesson01
@pytest.mark.slow
def test_endless_loop_times_out_within_the_limit(tmp_path):
    nb = nbformat.read(LESSON01, as_version=4)
    nb.cells[code_index(nb, "01.1", "solution")].source += (
        "\ndef gd_step(w, grad, lr):\n    while True:\n        pass\n")
    path = write(nb, tmp_path / "loop.ipynb")
    start = time.perf_counter()
    status, report = grade_cli(tmp_path, [path], "--timeout", "4", "--total-timeout", "60")
    elapsed = time.perf_counter() - start
    sub = report["submissions"][0]
    assert statuses(sub)["01.1"] == "timeout" and "time limit" in sub["exercises"][0]["message"]
    assert status == 1 and elapsed < 60


@needs_lesson01
@pytest.mark.slow
def test_overall_time_limit_stops_a_slow_notebook(tmp_path):
    nb = nbformat.read(LESSON01, as_version=4)
    nb.cells.insert(code_index(nb, "01.1", "solution"),
                    nbformat.v4.new_code_cell("import time\nfor _ in range(10):\n    time.sleep(2)"))
    path = write(nb, tmp_path / "slow.ipynb")
    start = time.perf_counter()
    status, report = grade_cli(tmp_path, [path], "--timeout", "30", "--total-timeout", "10")
    elapsed = time.perf_counter() - start
    sub = report["submissions"][0]
    assert set(statuses(sub).values()) == {"timeout"}
    assert "overall time limit" in sub["exercises"][0]["message"]
    assert elapsed < 25


@needs_lesson01
@pytest.mark.slow
def test_a_cell_ignoring_the_interrupt_stops_that_notebook_only(tmp_path):
    nb = nbformat.read(LESSON01, as_version=4)
    nb.cells.insert(code_index(nb, "01.2", "solution"), nbformat.v4.new_code_cell(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))
    path = write(nb, tmp_path / "stubborn.ipynb")
    start = time.perf_counter()
    status, report = grade_cli(tmp_path, [path, LESSON01], "--timeout", "3", "--total-timeout", "60")
    elapsed = time.perf_counter() - start
    stubborn, instructor = report["submissions"]
    assert statuses(stubborn) == {"01.1": "passed", "01.2": "timeout"}
    assert "ignored the interrupt" in stubborn["exercises"][1]["message"]
    assert set(statuses(instructor).values()) == {"passed"}
    assert status == 1 and elapsed < 60


@needs_lesson01
@pytest.mark.slow
def test_all_passed_gives_exit_status_zero_and_a_table(tmp_path, capsys):
    status, report = grade_cli(tmp_path, [LESSON01], "--hidden")    # the course's answers pass hidden checks too
    out = capsys.readouterr().out
    assert status == 0 and report["all_passed"] is True
    assert "01.1" in out and "passed" in out and "total: 3/3 points, all passed" in out


# --------------------------------------------------------------------------- nbval on a submission

def _nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COURSE_MODE="fast", COURSE_PROGRESS="0", MPLBACKEND="Agg"))


@needs_lesson01
@pytest.mark.slow
def test_nbval_passes_a_solved_submission_and_fails_a_wrong_one(tmp_path):
    solved = write(nbformat.read(LESSON01, as_version=4), tmp_path / "solved.ipynb")
    nb = nbformat.read(LESSON01, as_version=4)
    nb.cells[code_index(nb, "01.2", "solution")].source += "\n" + WRONG_RUN_GD
    wrong = write(nb, tmp_path / "wrong.ipynb")
    ok = _nbval(solved)
    assert ok.returncode == 0, ok.stdout[-2000:]
    bad = _nbval(wrong)
    assert bad.returncode != 0 and "run_gd: FAILED" in bad.stdout
