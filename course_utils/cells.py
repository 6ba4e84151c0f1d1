"""What the cells of a course notebook are: solution cells, check cells, their markers and metadata.

The one definition that ``release`` (building learner versions, writing nbgrader's metadata) and
the grader (finding what to run and what to replace) share:

* a **solution cell** holds ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` (nbgrader's own
  markers) and has the metadata ``{"course": {"exercise": "NN.k", "role": "solution"}}``;
* a **check cell** calls ``checks.<name>(...)`` and has ``{"course": {"exercise": "NN.k",
  "role": "check"}}``; it is also a *checked-output* cell: its first line is
  ``# NBVAL_CHECK_OUTPUT``, so nbval compares what it prints (a lesson's claims cell is a
  checked-output cell too, but not a check cell);
* nbgrader sees the same cells through ``cell.metadata["nbgrader"]`` (see :func:`nbgrader_metadata`):
  a check cell is an autograded test cell whose ``grade_id`` is its exercise id written as nbgrader
  can use it (``01.1`` becomes ``ex01_1``: nbgrader's grading page uses ids as HTML ids).

Example:
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\\nchecks.gd_step(gd_step)")
    >>> is_check_cell(cell), has_checked_output(cell), check_names(cell.source)
    (True, True, ['gd_step'])
    >>> grade_id("01.1"), exercise_of_grade_id("ex01_1")
    ('ex01_1', '01.1')
"""
from __future__ import annotations

import re

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_TAG = "keep_output"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError")

_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\s*\(")
_CHECK_LINE = "[check "
_EXERCISE_ID = re.compile(r"(\d\d)\.(\d+)")
_GRADE_ID = re.compile(r"ex(\d\d)_(\d+)")


def course_meta(cell) -> dict:
    """The cell's ``metadata["course"]`` (``{}`` when absent or not a dict)."""
    meta = cell.get("metadata", {}).get("course", {})
    return meta if isinstance(meta, dict) else {}


def role(cell) -> str | None:
    """``"solution"``, ``"check"``, ``"title"``, ``"colab"`` or ``None``, from the cell's course metadata."""
    value = course_meta(cell).get("role")
    return value if isinstance(value, str) else None


def exercise_id(cell) -> str | None:
    """The exercise id (``"01.2"``) in the cell's course metadata, or ``None``."""
    value = course_meta(cell).get("exercise")
    return str(value) if value else None


def check_names(source: str) -> list[str]:
    """Names of the ``checks.<name>(`` calls in ``source``, in order."""
    return _CHECK_CALL.findall(source)


def has_checked_output(cell) -> bool:
    """A code cell whose first line is ``# NBVAL_CHECK_OUTPUT``: nbval compares its output, and the
    learner version keeps it."""
    return cell.get("cell_type") == "code" and cell.get("source", "").lstrip().startswith(CHECK_MARK)


def is_check_cell(cell) -> bool:
    """An exercise's check cell: metadata role ``check``; without a role, a code cell that calls
    ``checks.<name>(`` or prints a ``[check NN.k]`` line.

    A ``# NBVAL_CHECK_OUTPUT`` cell that does neither (a lesson's claims) is not one.
    """
    if cell.get("cell_type") != "code":
        return False
    if role(cell) in ("check", "solution"):
        return role(cell) == "check"
    source = cell.get("source", "")
    return bool(_CHECK_CALL.search(source)) or _CHECK_LINE in source


def is_solution_cell(cell) -> bool:
    """An exercise's solution cell: metadata role ``solution``, or a code cell with a solution block."""
    if cell.get("cell_type") != "code" or is_check_cell(cell):
        return False
    return role(cell) == "solution" or any(line.strip() == BEGIN for line in cell.get("source", "").splitlines())


def lesson_of(exercise: str) -> str | None:
    """The lesson (``"01"``) of an exercise id (``"01.2"``), or ``None`` if it is not one."""
    m = _EXERCISE_ID.fullmatch(str(exercise).strip())
    return m.group(1) if m else None


def grade_id(exercise: str, solution: bool = False) -> str:
    """nbgrader's ``grade_id`` for an exercise's check cell (or, with ``solution``, its solution cell)."""
    m = _EXERCISE_ID.fullmatch(exercise)
    if not m:
        raise ValueError(f"exercise ids look like '01.2', got {exercise!r}.")
    return f"ex{m.group(1)}_{m.group(2)}" + ("_solution" if solution else "")


def exercise_of_grade_id(value: str) -> str | None:
    """The exercise id of an nbgrader check cell's ``grade_id`` (``"ex01_2"`` -> ``"01.2"``), else ``None``."""
    m = _GRADE_ID.fullmatch(value)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def nbgrader_metadata(cell, points: int | None = None) -> dict | None:
    """nbgrader's cell metadata for a course cell: an autograded test cell worth ``points`` for a
    check cell, a solution cell for a solution cell, ``None`` for any other cell.

    Example:
        >>> import nbformat
        >>> cell = nbformat.v4.new_code_cell("checks.run_gd(run_gd)", metadata={"course": {"exercise": "01.2", "role": "check"}})
        >>> meta = nbgrader_metadata(cell, points=2)
        >>> meta["grade_id"], meta["grade"], meta["points"], meta["locked"]
        ('ex01_2', True, 2, True)
    """
    exercise = exercise_id(cell)
    if exercise is None:
        return None
    if is_check_cell(cell):
        if points is None:
            raise ValueError(f"check cell of exercise {exercise} needs its points.")
        return {"grade": True, "grade_id": grade_id(exercise), "locked": True, "points": int(points),
                "schema_version": 3, "solution": False, "task": False}
    if is_solution_cell(cell):
        return {"grade": False, "grade_id": grade_id(exercise, solution=True), "locked": False,
                "schema_version": 3, "solution": True, "task": False}
    return None


def strip_solutions(source: str) -> str:
    """Replace each solution block in ``source`` with a stub at the block's indentation.

    Example:
        >>> print(strip_solutions("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION"))
        def f():
            # YOUR CODE HERE
            raise NotImplementedError
    """
    out, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block; close the first with {END}.")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}{STUB[0]}", f"{indent}{STUB[1]}"]
        elif stripped == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without a matching {BEGIN}.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"a solution block is not closed: add a {END} line.")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")  # as nbgrader keeps it
