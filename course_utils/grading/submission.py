"""Reading a submission and turning it into the notebook the grader runs.

A submission is read without trusting it (:func:`read_submission`), its lesson found
(:func:`detect_lesson`) and its exercises taken from the course's registry of checks
(:func:`lesson_checks`); :func:`build_graded` drops the submission's own check cells and puts,
right after its solution cell for each exercise, the grader's cell that answers that exercise's
cases (:func:`.kernel_side.cell_source`).
"""
from __future__ import annotations

import ast
import copy
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from .. import cells
from .kernel_side import cell_source


class SubmissionProblem(Exception):
    """A submission that cannot be graded at all (unreadable, unknown lesson); ``status`` says which."""

    def __init__(self, status: str, message: str, lesson: str | None = None):
        super().__init__(message)
        self.status, self.message, self.lesson = status, message, lesson


def read_submission(path: Path):
    """Read a notebook from ``path`` or raise :class:`SubmissionProblem` saying what is wrong with it."""
    import nbformat

    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise SubmissionProblem("unreadable", f"cannot read the file: {err.strerror or err}") from None
    if not raw.strip():
        raise SubmissionProblem("unreadable", "the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise SubmissionProblem("unreadable", f"not valid JSON (line {err.lineno}, column {err.colno}): "
                                "the file is damaged or not a notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionProblem("unreadable", "not a notebook: the JSON has no list of cells")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        for cell in nb.cells:
            cell.setdefault("metadata", {})
            if cell.cell_type == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
            if not isinstance(cell.get("source", ""), str):
                raise ValueError("a cell's source is not text")
    except Exception as err:  # nbformat raises many kinds on malformed notebooks
        raise SubmissionProblem("unreadable", f"not a notebook: {type(err).__name__}: {err}") from None
    return nb


def registry() -> dict:
    """The course's checks by exercise id (``course_utils.checks.REGISTRY``)."""
    from ..checks import REGISTRY

    return REGISTRY


def detect_lesson(nb, path: Path | str = "") -> str | None:
    """The two-digit lesson of notebook ``nb``: from its metadata, exercise ids, check calls, titles or file name."""
    meta = nb.metadata.get("course")
    lesson = str(meta.get("lesson", "")).strip() if isinstance(meta, dict) else ""
    if re.fullmatch(r"\d\d", lesson):
        return lesson
    if re.fullmatch(r"\d", lesson):
        return "0" + lesson
    found = [cells.lesson_of(cells.exercise_id(c) or "") for c in nb.cells]
    found = [x for x in found if x]
    if not found:
        by_name = {check.name: check.lesson for check in registry().values()}
        for cell in nb.cells:
            found += [by_name[n] for n in cells.check_names(cell.source) if n in by_name]
            found += re.findall(r"\[check (\d\d)\.\d+\]", cell.source)
            found += re.findall(r"^#\s*Lesson\s+(\d\d)\b", cell.source, flags=re.M)
            found += re.findall(r"\bExercise\s+(\d\d)\.\d+", cell.source)
    if found:
        return max(set(found), key=found.count)
    m = re.match(r"(\d\d)(?:_|\b)", Path(path).name)
    return m.group(1) if m else None


def top_level_names(source: str) -> set[str]:
    """Names a cell defines at top level (``def``, ``class``, assignments); a regex if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pattern = r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)"
        return {a or b for a, b in re.findall(pattern, source, flags=re.M)}
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def lesson_checks(lesson: str) -> list:
    """The course's checks of ``lesson`` (``"01"``), in exercise order, from the registry."""
    def order(check):
        return int(check.id.partition(".")[2])

    return sorted((c for c in registry().values() if c.lesson == lesson), key=order)


def find_solution_cell(nb_cells, check) -> int | None:
    """Index of the submission's solution cell for ``check``: by exercise id, else the last cell that
    defines the check's answer (``check.answer_name``) at top level."""
    tagged = [i for i, c in enumerate(nb_cells) if c.cell_type == "code" and not cells.is_check_cell(c)
              and cells.exercise_id(c) == check.id]
    if tagged:
        return tagged[-1]
    defining = [i for i, c in enumerate(nb_cells) if c.cell_type == "code" and not cells.is_check_cell(c)
                and check.answer_name in top_level_names(c.source)]
    return defining[-1] if defining else None


PROLOGUE = ("# course grader: the course's checks, imported before the submission's first cell\n"
            "import course_utils.checks")


@dataclass
class GradedNotebook:
    """The notebook the grader runs and how its cells map back to the submission.

    ``plan[i]`` describes graded cell ``i``: ``{"prologue": True}`` (the grader's first cell, which
    imports the course's checks: its time is not the submission's), ``{"check": id, "nonce": n}`` (a
    grader cell) or ``{"cell": n, "exercise": id}`` (the submission's cell ``n``, 1-based, with the
    exercise it solves if any). ``missing`` lists the exercises without a solution cell.
    """

    nb: object
    plan: list
    missing: list

    def grader_cells(self) -> list[int]:
        return [i for i, where in enumerate(self.plan) if "check" in where]


def build_graded(nb, checks: list, cases_text: dict) -> GradedNotebook:
    """The submission without its check cells, with a grader cell after each exercise's solution cell
    that answers that exercise's cases (``cases_text``: exercise id -> the cases as JSON text)."""
    import nbformat

    kept = [(n, c) for n, c in enumerate(nb.cells, start=1) if not cells.is_check_cell(c)]
    kept_cells = [c for _, c in kept]
    after: dict[int, list] = {}
    missing, solution_of = [], {}
    for check in checks:
        where = find_solution_cell(kept_cells, check)
        if where is None:
            missing.append(check.id)
        else:
            after.setdefault(where, []).append(check)
            solution_of.setdefault(where, check.id)
    graded = copy.deepcopy(nb)
    graded.cells = [nbformat.v4.new_code_cell(PROLOGUE)]
    plan = [{"prologue": True}]
    for i, (n, cell) in enumerate(kept):
        graded.cells.append(copy.deepcopy(cell))
        plan.append({"cell": n, "exercise": solution_of.get(i)})
        for check in after.get(i, []):
            if check.id not in cases_text:
                continue
            nonce = secrets.token_hex(16)
            graded.cells.append(nbformat.v4.new_code_cell(
                cell_source(check.id, check.answer_name, nonce, cases_text[check.id])))
            plan.append({"check": check.id, "nonce": nonce})
    return GradedNotebook(graded, plan, missing)
