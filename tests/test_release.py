"""The learner versions are generated from the instructor versions and stay in sync."""
import json

import nbformat
import pytest

from course_utils import _course, release

ROOT = _course.checkout_root()
SOLUTIONS = release.solution_paths()


def test_strip_solutions_keeps_indentation_and_surroundings():
    source = "x = 1\ndef f(a):\n    '''doc'''\n    ### BEGIN SOLUTION\n    b = a + 1\n    return b\n    ### END SOLUTION\ny = 2"
    assert release.strip_solutions(source) == (
        "x = 1\ndef f(a):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError\ny = 2"
    )


def test_strip_solutions_handles_several_blocks_and_top_level():
    source = "### BEGIN SOLUTION\na = 1\n### END SOLUTION\nprint(a)\n  ### BEGIN SOLUTION\n  b\n  ### END SOLUTION"
    assert release.strip_solutions(source) == (
        "# YOUR CODE HERE\nraise NotImplementedError\nprint(a)\n  # YOUR CODE HERE\n  raise NotImplementedError"
    )


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\na = 1", "not closed"),
    ("a = 1\n### END SOLUTION", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_malformed_blocks_are_errors(source, message):
    with pytest.raises(ValueError, match=message):
        release.strip_solutions(source)


def _tiny_solution():
    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"lesson": "99", "title": "Tiny"}
    exercise = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION")
    exercise.outputs = [nbformat.v4.new_output("stream", text="secret\n")]
    exercise.execution_count = 3
    check = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('[check 99.1] f: PASSED')")
    check.outputs = [nbformat.v4.new_output("stream", text="[check 99.1] f: PASSED\n")]
    check.execution_count = 4
    nb.cells = [nbformat.v4.new_markdown_cell("intro"), exercise, check]
    return nb


def test_make_learner_strips_solutions_and_every_output_a_learner_has_not_earned():
    solution = _tiny_solution()
    before = json.dumps(solution, sort_keys=True)
    learner = release.make_learner(solution, "notebooks/99_tiny.ipynb")
    assert json.dumps(solution, sort_keys=True) == before, "the instructor notebook must not be modified"
    title, install, intro, exercise, check = learner.cells
    assert _course.colab_url("notebooks/99_tiny.ipynb") in title.source
    assert "google.colab" in install.source and _course.pip_url() in install.source
    assert "--no-deps" in install.source
    assert "return 42" not in exercise.source and "raise NotImplementedError" in exercise.source
    assert exercise.outputs == [] and exercise.execution_count is None
    assert check.outputs == [] and check.execution_count is None      # no PASSED line before the work
    assert check.source == "print('[check 99.1] f: PASSED')"           # nothing for nbval to compare


def test_make_learner_keeps_static_figures():
    solution = _tiny_solution()
    figure = nbformat.v4.new_code_cell("plot()", metadata={"tags": ["keep_output"]}, execution_count=7,
                                       outputs=[nbformat.v4.new_output("display_data", data={"text/plain": "fig"})])
    solution.cells.append(figure)
    kept = release.make_learner(solution, "notebooks/99_tiny.ipynb").cells[-1]
    assert kept.outputs == figure.outputs and kept.execution_count == 7


def test_release_writes_the_glossary_and_the_ledger(tmp_path):
    from course_utils import claims

    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    nb = _tiny_solution()
    lesson = claims.LessonClaims("99", mode="cpu")
    lesson.claim(7, [claims.exact("slower", True, "240 steps against 50")], expect=claims.CONFIRMED)
    nb.cells[2].outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": "x",
                                                                            claims.MIME: lesson.to_records()}))
    nbformat.write(nb, tmp_path / "notebooks" / "solutions" / "99_tiny.ipynb")
    release.release(root=tmp_path)
    assert "### learning rate" in (tmp_path / "notebooks" / "glossary.md").read_text()
    assert (tmp_path / "notebooks" / "solutions" / "glossary.md").read_text() == \
        (tmp_path / "notebooks" / "glossary.md").read_text()
    ledger = (tmp_path / "notebooks" / "claims_ledger.md").read_text()
    assert "| 99 (cpu) | **CONFIRMED** | slower (holds): 240 steps against 50 |" in ledger


@pytest.mark.parametrize("page", [release.GLOSSARY, release.LEDGER])
def test_generated_pages_are_current(page):
    from course_utils import claims, glossary

    path = ROOT / "notebooks" / page
    assert path.exists(), f"{path} is missing: run python -m course_utils.release"
    if page == release.GLOSSARY:
        want = glossary.markdown()
    else:
        want = claims.ledger_markdown(r for r in (claims.records_from_notebook(nbformat.read(p, as_version=4))
                                                  for p in SOLUTIONS) if r is not None)
    assert path.read_text() == want, "run `python -m course_utils.release` to regenerate it"


def test_headers_are_regenerated_not_duplicated():
    nb = release.with_header(_tiny_solution(), "notebooks/solutions/99_tiny.ipynb")
    again = release.with_header(nb, "notebooks/solutions/99_tiny.ipynb")
    roles = [c.metadata.get("course", {}).get("role") for c in again.cells]
    assert roles.count("title") == 1 and roles.count("colab") == 1 and roles[:2] == ["title", "colab"]


def test_release_keeps_a_backup_of_a_learner_notebook_someone_edited(tmp_path):
    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    nbformat.write(_tiny_solution(), tmp_path / "notebooks" / "solutions" / "99_tiny.ipynb")
    [learner_path] = release.release(root=tmp_path)
    release.release(root=tmp_path)  # regenerating an unedited learner version needs no backup
    assert not list(learner_path.parent.glob("*.bak-*"))
    edited = nbformat.read(learner_path, as_version=4)
    edited.cells[3].source = "def f():\n    return 41  # my work"
    nbformat.write(edited, learner_path)
    release.release(root=tmp_path)
    backups = list(learner_path.parent.glob("99_tiny.ipynb.bak-*"))
    assert len(backups) == 1
    assert "my work" in backups[0].read_text()


def test_colab_cell_does_nothing_outside_colab(capsys):
    _, install = release.header_cells("notebooks/99_x.ipynb", "X", "99")
    exec(compile(install.source, "colab-cell", "exec"), {})
    assert capsys.readouterr() == ("", "")


def test_there_are_lessons():
    assert SOLUTIONS, "no instructor notebooks found in notebooks/solutions/"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_learner_version_is_in_sync(path):
    solution = nbformat.read(path, as_version=4)
    learner_rel = f"notebooks/{path.name}"
    assert (ROOT / learner_rel).exists(), f"{learner_rel} is missing: run python -m course_utils.release"
    committed = nbformat.read(ROOT / learner_rel, as_version=4)
    expected = release.make_learner(solution, learner_rel)
    hint = "run `python -m course_utils.release` to regenerate the learner versions"
    assert [c.source for c in committed.cells] == [c.source for c in expected.cells], hint
    assert [c.get("outputs") for c in committed.cells] == [c.get("outputs") for c in expected.cells], hint
    # the headers of the instructor version are the generated ones too
    regenerated = release.with_header(solution, path.relative_to(ROOT).as_posix())
    assert [c.source for c in solution.cells] == [c.source for c in regenerated.cells], hint


def test_readme_lesson_list_is_in_sync():
    text = (ROOT / "README.md").read_text()
    start = text.index(release.README_START) + len(release.README_START)
    end = text.index(release.README_END)
    assert text[start:end].strip() == release.lessons_table().strip(), \
        "run `python -m course_utils.release` to regenerate the README's lesson list"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_nbgrader_metadata_is_written_on_every_exercise(path):
    from course_utils import cells, checks

    solution = nbformat.read(path, as_version=4)
    learner = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
    hint = "run `python -m course_utils.release` to write nbgrader's metadata"
    expected = [c.metadata.get("nbgrader") for c in release.with_nbgrader_metadata(solution).cells]
    assert [c.metadata.get("nbgrader") for c in solution.cells] == expected, hint
    assert [c.metadata.get("nbgrader") for c in learner.cells] == expected, hint
    graded = {cells.exercise_of_grade_id(m["grade_id"]): m["points"] for m in expected if m and m["grade"]}
    exercises = [cells.exercise_id(c) for c in solution.cells if cells.is_check_cell(c)]
    assert graded == {e: checks.REGISTRY[e].points for e in exercises} and graded
    ids = [m["grade_id"] for m in expected if m]
    assert len(ids) == len(set(ids)) == 2 * len(exercises)


def test_nbgrader_metadata_marks_only_exercise_cells():
    nb = _tiny_solution()
    nb.cells[1].metadata["course"] = {"exercise": "01.1", "role": "solution"}
    nb.cells[2].metadata["course"] = {"exercise": "01.1", "role": "check"}
    nb.cells[0].metadata["nbgrader"] = {"grade": True}   # stale metadata on a cell that is not an exercise
    out = release.with_nbgrader_metadata(nb)
    intro, solution, check = (c.metadata.get("nbgrader") for c in out.cells)
    assert intro is None
    assert solution["solution"] and not solution["grade"] and solution["grade_id"] == "ex01_1_solution"
    assert check["grade"] and check["locked"] and check["points"] == 1 and check["grade_id"] == "ex01_1"
