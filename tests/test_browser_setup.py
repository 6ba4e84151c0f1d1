"""What the browser tests rely on, checked without a browser: a case per explorer, explorer notebooks
that run, the launch settings."""
import json
import os
from pathlib import Path

import nbformat
import pytest
from browser_cases import CASES, explorer_cell, explorer_notebook
from nbclient import NotebookClient

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


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_explorer_notebook_is_the_lesson_cell_and_runs(case, tmp_path):
    """The browser opens this notebook instead of the lesson: it must hold the lesson's explorer
    cell as the lesson has it, and run (its set-up defines what that cell needs) without error or stderr."""
    nb = explorer_notebook(case)
    assert nb.cells[-1].source == explorer_cell(case)
    lesson = nbformat.read(ROOT / "notebooks" / "solutions" / case.notebook, as_version=4)
    assert sum(c.source == nb.cells[-1].source for c in lesson.cells) == 1
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error" or out.get("name") == "stderr"], outputs
    assert any("mode: fast" in out.get("text", "") for out in outputs)
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[-1].outputs[-1].data   # the explorer itself


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
