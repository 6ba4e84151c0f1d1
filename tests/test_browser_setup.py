"""What the browser tests rely on, checked without a browser: a case per explorer, explorer notebooks
that hold the lesson's explorer cell and define what it needs, the launch settings."""
import ast
import builtins
import json
import os
from pathlib import Path

import nbformat
import pytest
from browser_cases import CASES, explorer_cell, explorer_notebook

from course_utils import widgets
from tools import lab as course_lab

ROOT = Path(__file__).resolve().parents[1]


def test_every_explorer_has_a_browser_case():
    explorers = {name for name in widgets.__all__ if isinstance(getattr(widgets, name), type)
                 and issubclass(getattr(widgets, name), widgets.FigureWidget) and name != "FigureWidget"}
    covered = {case.widget for case in CASES}
    assert explorers <= covered, f"add a WidgetCase to tests/browser_cases.py for {sorted(explorers - covered)}"
    assert len({case.name for case in CASES}) == len(CASES)
    for case in CASES:
        assert (ROOT / "notebooks" / "solutions" / case.notebook).is_file(), case.notebook


def _bound(tree) -> set:
    """Names a piece of code binds at its top level: assignments, imports, functions, classes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_explorer_notebook_is_the_lesson_cell_with_what_it_needs(case):
    """The browser opens this notebook instead of the lesson: it holds the lesson's explorer cell as
    the lesson has it (exactly one such cell), after cells that define every name it uses
    (test_browser.py then runs it in JupyterLab)."""
    nb = explorer_notebook(case)
    lesson = nbformat.read(ROOT / "notebooks" / "solutions" / case.notebook, as_version=4)
    assert nb.cells[-1].source == explorer_cell(case)
    assert sum(c.source == explorer_cell(case) for c in lesson.cells) == 1
    cell = ast.parse(explorer_cell(case))
    used = {n.id for n in ast.walk(cell) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    defined = set(dir(builtins)) | _bound(cell)
    for before in nb.cells[:-1]:
        if before.cell_type == "code":
            defined |= _bound(ast.parse(before.source))
    assert used <= defined, f"{case.name}: the explorer cell uses {sorted(used - defined)}; define them in the case's setup"
    for expression in filter(None, (case.panel_in_kernel, case.picture_in_kernel)):
        needed = {n.id for n in ast.walk(ast.parse(expression)) if isinstance(n, ast.Name)} - {"values"}
        assert needed <= defined, f"{case.name}: {expression!r} uses {sorted(needed - defined)}, undefined there"


def test_course_launch_settings_are_its_own():
    argv, env = course_lab.command(["--port=9999"], cwd=ROOT, env={"JUPYTER_CONFIG_PATH": "/elsewhere"})
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(course_lab.CONFIG), "/elsewhere"]
    assert argv[-1] == course_lab.first_lesson(ROOT) and argv[-1].startswith("notebooks/01_")
    argv, _ = course_lab.command(["--port", "9999", "notebooks"], cwd=ROOT, env={})
    assert course_lab.first_lesson(ROOT) not in argv          # a path given: open that instead
    page_config = json.loads((course_lab.CONFIG / "labconfig" / "page_config.json").read_text())
    assert page_config["disabledExtensions"] == {"@jupyterlab/apputils-extension:announcements": True}
    assert '"$VENV/bin/python" tools/lab.py "$@"' in (ROOT / "course.sh").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install" in ci and "chromium" in ci
