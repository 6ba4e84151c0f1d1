"""Notebook conventions (design map sections 5 and 8) and the learner's experience."""
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_utils import _course, checks, release
from course_utils.cells import has_checked_output, is_check_cell

ROOT = _course.checkout_root()
SOLUTIONS = release.solution_paths()
ALL = SOLUTIONS + [ROOT / "notebooks" / p.name for p in SOLUTIONS]


def _roles(nb):
    return [c.get("metadata", {}).get("course", {}) for c in nb.cells]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_checked_cells_have_stored_output_and_execution_count(path):
    nb = nbformat.read(path, as_version=4)
    checked = [c for c in nb.cells if has_checked_output(c)]
    assert checked, "a lesson needs at least one checked cell"
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("outputs"):
            assert cell.execution_count is not None, f"a cell with outputs has no execution count:\n{cell.source[:200]}"
    for cell in checked:
        assert cell.outputs, f"checked cell has no stored output:\n{cell.source[:200]}"
        assert cell.execution_count is not None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_exercise_structure(path):
    nb = nbformat.read(path, as_version=4)
    lesson = nb.metadata["course"]["lesson"]
    assert path.name.startswith(lesson + "_")
    roles = _roles(nb)
    solutions = [i for i, r in enumerate(roles) if r.get("role") == "solution"]
    assert solutions, "every lesson has at least one exercise"
    for i in solutions:
        exercise_id = roles[i]["exercise"]
        assert exercise_id in checks.REGISTRY, f"exercise {exercise_id} has no check in course_utils.checks"
        assert release.BEGIN in nb.cells[i].source
        assert roles[i + 1] == {"exercise": exercise_id, "role": "check"}, f"{exercise_id}: the check cell must follow its exercise"
        check = nb.cells[i + 1]
        assert is_check_cell(check) and has_checked_output(check)
        name = checks.REGISTRY[exercise_id].name
        assert f"checks.{name}(" in check.source
        assert [o.get("text") for o in check.outputs] == [f"[check {exercise_id}] {name}: PASSED\n"]
    registered = {k for k in checks.REGISTRY if k.startswith(lesson + ".")}
    assert registered == {roles[i]["exercise"] for i in solutions}, "every registered check of the lesson is used"
    cells = nb.cells
    assert _roles(nb)[0] == {"role": "title"} and _roles(nb)[1] == {"role": "colab"}
    assert "runtime.setup(" in cells[3].source and "print(rt)" in cells[3].source
    assert re.search(r"what to take away", cells[-1].source, re.I), "the last cell is the take-away"


def _run(nb, cwd, timeout=300):
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def test_learner_version_stops_at_the_first_exercise():
    path = ROOT / "notebooks" / "01_gradient_descent_on_a_bowl.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # forget the stored check outputs: only this run counts
        if cell.cell_type == "code":
            cell.execution_count, cell.outputs = None, []
    with pytest.raises(CellExecutionError) as err:
        _run(nb, path.parent)
    assert "NotImplementedError" in str(err.value)
    executed = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    # the stub is defined without error; calling it in the first exercise's check cell stops the run
    first_check = next(c for c in nb.cells if c.get("metadata", {}).get("course", {}).get("role") == "check")
    assert executed[-1] is first_check
    assert executed[-1].outputs[-1]["ename"] == "NotImplementedError"


def test_a_wrong_answer_pasted_into_the_learner_version_fails_its_check_with_a_hint():
    path = ROOT / "notebooks" / "01_gradient_descent_on_a_bowl.ipynb"
    nb = nbformat.read(path, as_version=4)
    exercise = next(c for c in nb.cells if c.get("metadata", {}).get("course", {}).get("exercise") == "01.1")
    exercise.source = "def gd_step(w, grad, lr):\n    return w + lr * grad"
    with pytest.raises(CellExecutionError) as err:
        _run(nb, path.parent)
    message = str(err.value)
    assert "[check 01.1] gd_step: FAILED" in message and "against the gradient" in message


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_learner_version_gives_nothing_away_in_its_outputs(path):
    learner = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    for cell in learner.cells:
        if cell.cell_type != "code":
            continue
        assert not has_checked_output(cell), "a learner version compares no stored output"
        if "keep_output" not in cell.metadata.get("tags", []):
            assert not cell.outputs, f"a learner version stores no output but static figures:\n{cell.source[:200]}"
        assert not any("[check " in str(o) for o in cell.outputs)
