"""Build learner notebooks from the instructor versions (never edit learner versions by hand).

For every ``notebooks/solutions/NN_*.ipynb`` this writes ``notebooks/NN_*.ipynb`` where

* each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError`` at the block's indentation;
* every output is cleared, except in cells tagged ``keep_output`` (static figures for viewers
  without a kernel, which no exercise changes): a learner sees no ``PASSED`` line and no verdict
  before running their own work. The ``# NBVAL_CHECK_OUTPUT`` marker is dropped too, so
  ``pytest --nbval-lax`` on a submission is a plain pass/fail (a check raises on a wrong answer)
  whether or not the learner saved their outputs;
* the title cell's Colab badge and the Colab install cell are regenerated from
  :mod:`course_utils._course` in both versions, and so is the README's lesson list;
* every solution and check cell gets nbgrader's cell metadata (:func:`course_utils.cells.nbgrader_metadata`:
  solution cells, autograded check cells with the exercise's points, ``grade_id`` from the exercise
  id), in both versions, so ``nbgrader generate_assignment`` and ``nbgrader autograde`` work on the
  instructor notebooks as they are.

It also writes the pages the lessons link to: ``notebooks/glossary.md`` (from
:mod:`course_utils.glossary`, also beside the instructor notebooks) and ``notebooks/claims_ledger.md``
(every claim's verdicts, from the claims data in the instructor notebooks' stored outputs,
:func:`course_utils.claims.ledger_markdown`).

Usage::

    python -m course_utils.release              # regenerate all learner versions
    python -m course_utils.release --execute    # first re-run the solutions (cpu mode) to refresh outputs
    python -m course_utils.release 01 07        # only these lessons
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from . import _course, cells, runtime
from .cells import BEGIN, CHECK_MARK, END, KEEP_TAG, strip_solutions  # noqa: F401 - the release's vocabulary


def _root() -> Path:
    root = _course.checkout_root()
    if root is None:
        raise SystemExit("course-release works on a checkout of the course (it writes notebooks/ and README.md); "
                         "run it from a clone with the package installed editable or on PYTHONPATH.")
    return root


def with_nbgrader_metadata(nb):
    """Return ``nb`` with nbgrader's metadata on every solution and check cell (and on no other cell)."""
    from .checks import REGISTRY

    nb = copy.deepcopy(nb)
    for number, cell in enumerate(nb.cells, start=1):
        cell.metadata.pop("nbgrader", None)
        exercise = cells.exercise_id(cell)
        if exercise is None:  # not an exercise (tests/test_notebooks.py checks every lesson's exercises have ids)
            continue
        check = REGISTRY.get(exercise)
        if cells.is_check_cell(cell) and check is None:
            raise ValueError(f"cell {number}: exercise {exercise} has no check in course_utils.checks; register "
                             "it (a Check subclass passed to register) and add one import line in checks/__init__.py.")
        meta = cells.nbgrader_metadata(cell, points=check.points if check else None)
        if meta is not None:
            cell.metadata["nbgrader"] = meta
    return nb


def header_cells(nb_path: str, title: str, lesson: str) -> list:
    """The title cell (with Colab badge) and the Colab install cell for the notebook at ``nb_path``."""
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"({_course.colab_url(nb_path)})")
    title_cell = nbformat.v4.new_markdown_cell(f"# Lesson {lesson}: {title}\n\n{badge}")
    install = nbformat.v4.new_code_cell(
        "# On Google Colab only: install the course's helper package. Colab's own torch,\n"
        "# torchvision and ipywidgets stay as they are (--no-deps); elsewhere this does nothing.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import subprocess\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"--no-deps\",\n"
        f"                    \"{_course.pip_url()}\"], check=True)"
    )
    title_cell.metadata["course"] = {"role": "title"}
    install.metadata["course"] = {"role": "colab"}
    return [title_cell, install]


def with_header(nb, nb_path: str):
    """Return ``nb`` with its generated title and Colab cells (re)placed at the top.

    The Colab badge of both versions opens the *learner* version (``notebooks/NN_name.ipynb``): the
    title cell is the same in both, so a learner version made by nbgrader from the instructor
    notebook does not link to the solutions.
    """
    meta = nb.metadata.get("course", {})
    if "lesson" not in meta or "title" not in meta:
        raise ValueError(f"{nb_path}: notebook metadata needs course.lesson and course.title.")
    nb = copy.deepcopy(nb)
    body = [c for c in nb.cells if c.get("metadata", {}).get("course", {}).get("role") not in ("title", "colab")]
    title, install = header_cells(f"notebooks/{Path(nb_path).name}", meta["title"], meta["lesson"])
    old = {c.metadata["course"]["role"]: c for c in nb.cells
           if c.get("metadata", {}).get("course", {}).get("role") in ("title", "colab")}
    if "colab" in old:  # keep ids and the (empty) execution record of an executed notebook
        install.id, install.execution_count, install.outputs = old["colab"].get("id", install.id), old["colab"].get("execution_count"), old["colab"].get("outputs", [])
    if "title" in old:
        title.id = old["title"].get("id", title.id)
    nb.cells = [title, install] + body
    return nb


def make_learner(solution_nb, learner_path: str):
    """The learner version of an instructor notebook (a new object; the input is untouched)."""
    nb = with_nbgrader_metadata(with_header(solution_nb, learner_path))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.source = drop_check_mark(strip_solutions(cell.source))
        if KEEP_TAG not in cell.get("metadata", {}).get("tags", []):
            cell.outputs, cell.execution_count = [], None
    return nb


def drop_check_mark(source: str) -> str:
    """``source`` without its ``# NBVAL_CHECK_OUTPUT`` line (the learner version stores no output to compare)."""
    lines = source.splitlines(keepends=True)
    if lines and lines[0].strip() == CHECK_MARK:
        return "".join(lines[1:])
    return source


GLOSSARY = "glossary.md"
LEDGER = "claims_ledger.md"


def write_pages(root: Path | None = None) -> list[Path]:
    """Write the glossary (beside the learner and the instructor notebooks) and the claims ledger
    (from the instructor notebooks' stored claims data); return the paths written."""
    from . import claims, glossary

    root = root or _root()
    page = glossary.markdown()
    written = []
    for folder in (root / "notebooks", root / "notebooks" / "solutions"):
        if folder.is_dir():
            (folder / GLOSSARY).write_text(page)
            written.append(folder / GLOSSARY)
    records = [r for r in (claims.records_from_notebook(nbformat.read(p, as_version=4)) for p in solution_paths(root))
               if r is not None]
    ledger = root / "notebooks" / LEDGER
    if ledger.parent.is_dir():
        ledger.write_text(claims.ledger_markdown(records))
        written.append(ledger)
    return written


def execute(nb, cwd: Path, mode: str = "cpu", timeout: int = 1800):
    """Run ``nb`` top to bottom in a fresh kernel with ``COURSE_MODE=mode``; return the executed copy."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    saved = {k: os.environ.get(k) for k in ("COURSE_MODE", "COURSE_PROGRESS", "COURSE_MINI_CIFAR")}
    os.environ.update(COURSE_MODE=mode, COURSE_PROGRESS="0")
    shared_mini = _course.shared_mini_cifar()
    if shared_mini is not None:  # a developer checkout: run the CIFAR lessons offline, like the tests
        os.environ.setdefault("COURSE_MINI_CIFAR", str(shared_mini))
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def _sources_digest(nb) -> str:
    return hashlib.sha256("\x00".join(c.source for c in nb.cells).encode()).hexdigest()


def _write_keeping_backup(nb, path: Path) -> None:
    """Write the learner notebook ``nb`` to ``path``; first keep a timestamped backup of the file
    there if someone changed its code since it was generated (so no one's work is lost)."""
    nb.metadata.setdefault("course", {})["generated_sha256"] = _sources_digest(nb)
    if path.exists():
        try:
            old = nbformat.read(path, as_version=4)
            edited = old.metadata.get("course", {}).get("generated_sha256") != _sources_digest(old)
        except Exception:  # unreadable: certainly not what we generated
            edited = True
        if edited:
            backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.copy2(path, backup)
            print(f"kept your edited {path.name} as {backup.name}", file=sys.stderr)
    nbformat.validate(nb)
    nbformat.write(nb, path)


README_START = "<!-- lessons:start (generated by python -m course_utils.release) -->"
README_END = "<!-- lessons:end -->"


def lessons_table(root: Path | None = None) -> str:
    """The README's lesson list: one row per learner notebook, with its Colab badge."""
    rows = ["| # | lesson | open |", "|---|--------|------|"]
    root = root or _root()
    for sol_path in solution_paths(root):
        meta = nbformat.read(sol_path, as_version=4).metadata["course"]
        rel = f"notebooks/{sol_path.name}"
        badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                 f"({_course.colab_url(rel)})")
        summary = meta.get("summary", "")
        rows.append(f"| {meta['lesson']} | [{meta['title']}]({rel}){': ' + summary if summary else ''} | {badge} |")
    return "\n".join(rows)


def update_readme(root: Path | None = None) -> None:
    """Rewrite the lesson list between the README's markers."""
    root = root or _root()
    path = root / "README.md"
    if not path.exists():
        return
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path} lacks the lesson-list markers {README_START!r} ... {README_END!r}.")
    path.write_text(text[: start + len(README_START)] + "\n" + lessons_table(root) + "\n" + text[end:])


def solution_paths(root: Path | None = None, lessons=None) -> list[Path]:
    """The instructor notebooks ``notebooks/solutions/NN_*.ipynb`` of ``root`` (default: this checkout)."""
    root = root or _root()
    paths = sorted((root / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if lessons:
        paths = [p for p in paths if p.name[:2] in set(lessons)]
    return paths


def release(root: Path | None = None, lessons=None, run: bool = False, mode: str = "cpu") -> list[Path]:
    """Regenerate headers and nbgrader metadata of the solutions and their learner versions; return
    the learner paths."""
    root = root or _root()
    written = []
    for sol_path in solution_paths(root, lessons):
        rel_sol = sol_path.relative_to(root).as_posix()
        rel_learner = f"notebooks/{sol_path.name}"
        nb = with_nbgrader_metadata(with_header(nbformat.read(sol_path, as_version=4), rel_sol))
        if run:
            nb = execute(nb, cwd=sol_path.parent, mode=mode)
        nbformat.validate(nb)
        nbformat.write(nb, sol_path)
        learner_path = root / rel_learner
        _write_keeping_backup(make_learner(nb, rel_learner), learner_path)
        written.append(learner_path)
    write_pages(root)
    update_readme(root)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="two-digit lesson numbers (default: all)")
    parser.add_argument("--execute", action="store_true", help="re-run the solutions first and store their outputs")
    parser.add_argument("--mode", default="cpu", choices=runtime.MODES, help="mode for --execute (default cpu)")
    args = parser.parse_args(argv)
    bad = [l for l in args.lessons if not re.fullmatch(r"\d\d", l)]
    if bad:
        parser.error(f"lessons are two-digit numbers like 01, got {bad}")
    root = _root()
    paths = release(root, lessons=args.lessons or None, run=args.execute, mode=args.mode)
    if not paths:
        print("no solution notebooks matched", file=sys.stderr)
        return 1
    for p in paths:
        print(f"wrote {p.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
