"""Reading a submission and turning it into the notebook the grader runs.

A submission is read without trusting it (:func:`read_submission`), its lesson found
(:func:`detect_lesson`), and the instructor's check for each exercise (:func:`course_checks`)
put right after the submission's solution cell for it (:func:`build_graded`), in place of
whatever check cells the submission has.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from .. import cells

KERNEL_SIDE = Path(__file__).with_name("kernel_side.py")
PACKAGE_DIR = Path(__file__).resolve().parents[1]
GRADER_CELL = "# course grader:"  # the first line of every cell the grader adds


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


@dataclass
class CourseCheck:
    """The instructor's check cell for one exercise and the names its solution defines."""

    exercise_id: str
    source: str
    names: set[str]


def instructor_notebook(lesson: str, solutions: Path | None) -> Path:
    """The instructor notebook ``NN_*.ipynb`` of ``lesson`` in the folder ``solutions``."""
    if solutions is None:
        raise SubmissionProblem("no instructor notebooks", NO_SOLUTIONS, lesson=lesson)
    found = sorted(Path(solutions).glob(f"{lesson}_*.ipynb"))
    if not found:
        raise SubmissionProblem("unknown lesson", f"lesson {lesson} has no instructor notebook "
                                f"({lesson}_*.ipynb) in {solutions}", lesson=lesson)
    return found[0]


NO_SOLUTIONS = ("the grader found no instructor notebooks: the installed package does not ship them. "
                "Point it at the notebooks/solutions folder of a checkout of the course: "
                "course-grade --solutions DIR ...")


def course_checks(solution_path: Path) -> list[CourseCheck]:
    """The check cells of an instructor notebook, in order, with the names each exercise defines."""
    import nbformat

    nb = nbformat.read(solution_path, as_version=4)
    by_name = {check.name: eid for eid, check in registry().items()}
    out, previous_code = [], None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not cells.is_check_cell(cell):
            previous_code = cell
            continue
        eid = cells.exercise_id(cell) or next(
            (by_name[n] for n in cells.check_names(cell.source) if n in by_name), None)
        if eid is None:
            continue
        solution = next((c for c in nb.cells if cells.exercise_id(c) == eid and cells.role(c) == "solution"),
                        previous_code)
        try:
            used = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)}
        except SyntaxError:
            used = set()
        defined = top_level_names(solution.source) if solution is not None else set()
        out.append(CourseCheck(eid, cell.source, (defined & used) or used - {"checks"}))
    return out


def with_hidden(source: str) -> str:
    """``source`` with ``hidden=True`` added to every ``checks.<name>(...)`` call."""

    class AddHidden(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "checks" and not any(k.arg == "hidden" for k in node.keywords)):
                node.keywords.append(ast.keyword(arg="hidden", value=ast.Constant(True)))
            return node

    return ast.unparse(ast.fix_missing_locations(AddHidden().visit(ast.parse(source))))


def package_digests(package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    """SHA-256 of every ``.py`` file of the package, by path relative to it (what the kernel verifies)."""
    return {p.relative_to(package_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(package_dir.rglob("*.py")) if "__pycache__" not in p.parts}


def _grader_cell(comment: str, nonce: str, call: str) -> str:
    """A cell the grader adds: it runs the kernel-side source (carried in the cell) and calls one of its
    functions. Only the ``builtins`` module is reached, by an ``import`` statement (never through a name
    the notebook could rebind); ``G`` (a name with the nonce in it) is deleted at the end."""
    g = f"_course_grader_{nonce}"
    return (f"{GRADER_CELL} {comment}\n"
            f"import builtins as {g}\n"
            f"{g} = {{'__name__': '__course_grader__', '__builtins__': {g}}}\n"
            f"{g}['__builtins__'].exec({g}['__builtins__'].compile({KERNEL_SIDE.read_text()!r}, "
            f"'<course grader>', 'exec'), {g})\n"
            f"{g}[{call}\n"
            f"del {g}")


def prologue_source(nonce: str) -> str:
    """The cell the worker runs before the submission's first cell: the interpreter's fingerprint."""
    return _grader_cell("a fingerprint of the interpreter before the submission runs", nonce,
                        f"'baseline']({nonce!r})")


def check_cell_source(check: CourseCheck, nonce: str, digests: dict, hidden: bool = False) -> str:
    """The cell the grader inserts for ``check``: the course's check, from a verified private copy."""
    source = with_hidden(check.source) if hidden else check.source
    g = f"_course_grader_{nonce}"
    return _grader_cell(f"the course's check for exercise {check.exercise_id} (the submission's own check "
                        "cells are not run)", nonce,
                        f"'run_check'](\n    {check.exercise_id!r}, {source!r}, {nonce!r},\n"
                        f"    {str(PACKAGE_DIR)!r}, {digests!r}, {g}['__builtins__'].globals())")


def find_solution_cell(nb_cells, check: CourseCheck) -> int | None:
    """Index of the submission's solution cell for ``check``: by exercise id, else the last cell defining its names."""
    tagged = [i for i, c in enumerate(nb_cells) if c.cell_type == "code" and not cells.is_check_cell(c)
              and cells.exercise_id(c) == check.exercise_id]
    if tagged:
        return tagged[-1]
    defining = [i for i, c in enumerate(nb_cells) if c.cell_type == "code" and not cells.is_check_cell(c)
                and top_level_names(c.source) & check.names]
    return defining[-1] if defining else None


@dataclass
class GradedNotebook:
    """The notebook the grader runs and how its cells map back to the submission.

    ``plan[i]`` describes graded cell ``i``: ``{"check": id, "nonce": n}`` (an inserted course check)
    or ``{"cell": n, "exercise": id}`` (the submission's cell ``n``, 1-based, with the exercise it
    solves if any). ``missing`` lists the exercises without a solution cell; ``prologue`` is the
    fingerprint cell the worker runs first, with its ``prologue_nonce``.
    """

    nb: object
    plan: list
    missing: list
    prologue: str
    prologue_nonce: str

    def __iter__(self):  # (nb, plan, missing), as build_graded returned before it had a class
        return iter((self.nb, self.plan, self.missing))

    def __getitem__(self, index):
        return (self.nb, self.plan, self.missing)[index]


def build_graded(nb, checks: list[CourseCheck], hidden: bool = False, digests: dict | None = None) -> GradedNotebook:
    """The submission without its check cells, each course check inserted after its solution cell."""
    import nbformat

    digests = package_digests() if digests is None else digests
    kept = [(n, c) for n, c in enumerate(nb.cells, start=1) if not cells.is_check_cell(c)]
    kept_cells = [c for _, c in kept]
    after: dict[int, list[CourseCheck]] = {}
    missing, solution_of = [], {}
    for check in checks:
        where = find_solution_cell(kept_cells, check)
        if where is None:
            missing.append(check.exercise_id)
        else:
            after.setdefault(where, []).append(check)
            solution_of.setdefault(where, check.exercise_id)
    graded = copy.deepcopy(nb)
    graded.cells, plan = [], []
    for i, (n, cell) in enumerate(kept):
        graded.cells.append(copy.deepcopy(cell))
        plan.append({"cell": n, "exercise": solution_of.get(i)})
        for check in after.get(i, []):
            nonce = secrets.token_hex(16)
            graded.cells.append(nbformat.v4.new_code_cell(check_cell_source(check, nonce, digests, hidden)))
            plan.append({"check": check.exercise_id, "nonce": nonce})
    prologue_nonce = secrets.token_hex(16)
    return GradedNotebook(graded, plan, missing, prologue_source(prologue_nonce), prologue_nonce)
