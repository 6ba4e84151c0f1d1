"""The grader: statuses per exercise, tamper resistance, robustness, reports, exit status, nbval.

Instructor and learner versions of every lesson in ``notebooks/solutions`` are graded (so a new
lesson is covered without editing this file); the broken and tampered submissions are built
from lesson 01 by editing cells, the way a learner would.
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

import course_utils
from course_utils import grading

ROOT = Path(course_utils.__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
LESSON01 = next((p for p in SOLUTIONS if p.name.startswith("01_")), None)
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


# --------------------------------------------------------------------------- every lesson: instructor, learner, tampered

@pytest.fixture(scope="module", params=SOLUTIONS, ids=_ids(SOLUTIONS))
def graded_lesson(request, tmp_path_factory):
    """Grade one lesson's instructor version, learner version and a tampered learner version in one call."""
    tmp = tmp_path_factory.mktemp(request.param.stem[:2])
    for folder in ("instructor", "learner"):  # copies: the course's files may be regenerated meanwhile
        (tmp / folder).mkdir()
    solution = Path(shutil.copy2(request.param, tmp / "instructor"))
    learner = Path(shutil.copy2(ROOT / "notebooks" / solution.name, tmp / "learner"))
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
    tampered_path = write(tampered, tmp / "submission.ipynb")
    paths = [solution, learner, tampered_path]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]
    start = time.perf_counter()
    status, report = grade_cli(tmp, paths, "--jobs", "2")
    seconds = time.perf_counter() - start
    after = [(p.read_bytes(), p.stat().st_mtime_ns) for p in paths]
    return {"status": status, "report": report, "seconds": seconds, "before": before, "after": after,
            "ids": [grading._registry()[c.metadata["course"]["exercise"]].exercise_id
                    for c in (nbformat.read(solution, as_version=4).cells[i]
                              for i in check_cells(nbformat.read(solution, as_version=4)))]}


@pytest.mark.slow
def test_instructor_version_passes_every_exercise(graded_lesson):
    instructor = graded_lesson["report"]["submissions"][0]
    assert instructor["status"] == "graded"
    assert [e["id"] for e in instructor["exercises"]] == graded_lesson["ids"]
    assert set(statuses(instructor).values()) == {"passed"}, instructor
    assert instructor["points"] == instructor["max_points"] > 0


@pytest.mark.slow
def test_learner_version_is_not_attempted(graded_lesson):
    learner = graded_lesson["report"]["submissions"][1]
    assert set(statuses(learner).values()) == {"not attempted"}, learner
    assert learner["points"] == 0
    assert graded_lesson["status"] == 1          # not everything passed


@pytest.mark.slow
def test_forged_deleted_and_reordered_checks_are_still_graded(graded_lesson):
    tampered = graded_lesson["report"]["submissions"][2]
    assert tampered["lesson"] == graded_lesson["report"]["submissions"][0]["lesson"]
    assert set(statuses(tampered).values()) == {"not attempted"}, tampered
    assert [e["id"] for e in tampered["exercises"]] == graded_lesson["ids"]


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


def _lesson01_submissions(tmp: Path) -> dict[str, Path]:
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
    return made


@pytest.fixture(scope="module")
def lesson01_batch(tmp_path_factory):
    if LESSON01 is None:
        pytest.skip("lesson 01 is not written yet")
    tmp = tmp_path_factory.mktemp("l01")
    paths = _lesson01_submissions(tmp)
    before = {n: (p.read_bytes(), p.stat().st_mtime_ns) for n, p in paths.items()}
    status, report = grade_cli(tmp, list(paths.values()), "--jobs", "2", "--keep-executed", str(tmp / "kept"))
    after = {n: (p.read_bytes(), p.stat().st_mtime_ns) for n, p in paths.items()}
    return {"status": status, "report": by_name(report), "kept": tmp / "kept", "unchanged": before == after,
            "paths": paths}


@pytest.mark.slow
def test_wrong_answer_fails_that_exercise_with_its_hint(lesson01_batch):
    wrong = lesson01_batch["report"]["wrong"]
    assert statuses(wrong) == {"01.1": "passed", "01.2": "failed"}
    message = wrong["exercises"][1]["message"]
    assert message.startswith("[check 01.2] run_gd: FAILED:") and "Row 0 is w0" in message
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
