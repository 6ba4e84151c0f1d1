"""The site's source folder, written from the repository without executing anything.

:func:`write_source` writes, into an empty folder that Sphinx then reads:

* ``index.md``, the landing page: what the course is, its lessons, how to start (JupyterLab,
  Colab, conda);
* one ``NN_name.ipynb`` page per lesson (:func:`lesson_page`): the instructor notebook's stored
  outputs under the learner's code. Each exercise's solution block becomes the learner's stub
  (``course_utils.cells.strip_solutions``, the rule ``release`` uses) and its solution and check
  cells show no output; explorers (ipywidgets, which need a kernel) show a note instead of their
  live output, and their static grids (cells tagged ``keep_output``) stay. A title with "Open in
  Colab" and "Download notebook" (the learner version, in ``downloads/``) replaces the notebook's
  badge, which is an image on another site;
* ``claims_ledger.md`` and ``glossary.md``, as ``python -m course_utils.release`` wrote them into
  ``notebooks/``, so the lessons' ``glossary.md#term`` links resolve.

Headings are renumbered so that none skips a level (:func:`renumber_headings`); the lessons and
pages themselves are not edited.

Example:
    >>> renumber_headings(["# Glossary\\n\\n### adam", "```\\n# not a heading\\n```\\n### beta\\n##### gamma"])
    ['# Glossary\\n\\n## adam', '```\\n# not a heading\\n```\\n## beta\\n### gamma']
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import nbformat

from course_utils import _course, cells
from course_utils.release import GLOSSARY, LEDGER, drop_check_mark, solution_paths

from .figures import page_figures

SITE_TITLE = "The learning rate, measured"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
COURSE_DATA = "application/vnd.course."   # data for the course's tools (the claims, for the ledger), not for readers
DOWNLOADS = "downloads"
_HEADING = re.compile(r"^(#{1,6})(\s+\S.*|\s*)$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_EXPLORER_CALL = re.compile(r"\bwidgets\.\w+Explorer\(")


def renumber_headings(texts: list[str]) -> list[str]:
    """The Markdown ``texts`` of one page (in order) with ATX headings renumbered so that none skips
    a level: the first heading is the page's title (level 1); every later one sits one level below
    the nearest earlier heading of a lower original level (never above level 2). Headings inside
    fenced code are left alone."""
    stack: list[tuple[int, int]] = []   # (original level, new level) of the open headings
    out = []
    for text in texts:
        lines, fence = [], None
        for line in text.split("\n"):
            opened = _FENCE.match(line)
            if fence is not None:
                if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                    fence = None
            elif opened:
                fence = opened.group(1)
            else:
                m = _HEADING.match(line)
                if m:
                    level = len(m.group(1))
                    while len(stack) > 1 and stack[-1][0] >= level:
                        stack.pop()
                    new = stack[-1][1] + 1 if stack else 1
                    stack.append((level, new))
                    line = "#" * new + m.group(2)
            lines.append(line)
        out.append("\n".join(lines))
    return out


def _renumber_cells(nb) -> None:
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    for cell, text in zip(markdown, renumber_headings([c.source for c in markdown])):
        cell.source = text


def _is_explorer(cell) -> bool:
    return (any(WIDGET_VIEW in o.get("data", {}) for o in cell.get("outputs", []))
            or bool(_EXPLORER_CALL.search(cell.source)))


def _has_static_grid_after(nb_cells, index: int) -> bool:
    """A ``keep_output`` cell with a figure follows the explorer (before the next explorer)."""
    for cell in nb_cells[index + 1:]:
        if cell.cell_type == "code" and _is_explorer(cell):
            return False
        if (cells.KEEP_TAG in cell.get("metadata", {}).get("tags", [])
                and any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))):
            return True
    return False


def kernel_note(static_grid: bool) -> str:
    """The note that replaces an explorer's live output on the site."""
    grid = " The static grid below shows its picture for a few settings." if static_grid else ""
    return ("```{note}\n**Interactive explorer.** Its sliders need a running Python kernel, which this page "
            "does not have: open the lesson in Colab or JupyterLab (links at the top of the page) to move "
            f"them.{grid}\n```")


def lesson_links(learner_name: str) -> str:
    """The "Open in Colab" and "Download notebook" links of a lesson page."""
    return (f"[Open in Colab]({_course.colab_url(f'notebooks/{learner_name}')}) · "
            f"{{download}}`Download notebook <{DOWNLOADS}/{learner_name}>` (the learner's version, "
            "with the exercises to fill in)")


def lesson_page(solution_nb, learner_name: str):
    """The site's page of a lesson: a new notebook made from the instructor notebook
    ``solution_nb`` (untouched), with the learner's code and the instructor run's outputs.

    Returns ``(page, figures)``: the notebook and its :class:`~tools.book.figures.FigureAlt` list.
    """
    nb = copy.deepcopy(solution_nb)
    meta = nb.metadata.get("course", {})
    if "lesson" not in meta or "title" not in meta:
        raise ValueError(f"{learner_name}: notebook metadata needs course.lesson and course.title "
                         "(see CONTRIBUTING.md, Notebooks).")
    nb.metadata.pop("widgets", None)   # widget state: the page has no kernel (and must load no widget code)
    summary = meta.get("summary", "").strip()
    summary = summary[:1].upper() + summary[1:] + ("" if summary.endswith((".", "?", "!")) else ".")
    title = nbformat.v4.new_markdown_cell(
        f"# Lesson {meta['lesson']}: {meta['title']}\n\n{lesson_links(learner_name)}"
        + (f"\n\n*{summary}*" if len(summary) > 1 else ""))
    for number, cell in enumerate(nb.cells, start=1):
        cell.metadata["book"] = {"cell": number}   # where it comes from, for the list of figures
    body = [c for c in nb.cells if cells.role(c) not in ("title", "colab")]
    page_cells = [title]
    for index, cell in enumerate(body):
        if cell.cell_type != "code":
            page_cells.append(cell)
            continue
        cell.source = drop_check_mark(cells.strip_solutions(cell.source))
        if cells.is_solution_cell(cell) or cells.is_check_cell(cell):
            cell.outputs, cell.execution_count = [], None   # the learner's stub has not run
        cell.outputs = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        for output in cell.outputs:
            for mime in [m for m in output.get("data", {}) if m.startswith(COURSE_DATA)]:
                del output["data"][mime]
        if _is_explorer(cell):
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
            page_cells.append(nbformat.v4.new_markdown_cell(kernel_note(_has_static_grid_after(body, index))))
        page_cells.append(cell)
    nb.cells = page_cells
    _renumber_cells(nb)
    return nb, page_figures(nb, Path(learner_name).stem)


def _markdown_page(path: Path) -> str:
    return renumber_headings([path.read_text()])[0]


def landing_page(lessons: list[tuple[str, dict]]) -> str:
    """``index.md``: what the course is, the lessons (``(page name, course metadata)``), how to start."""
    repository = f"https://github.com/{_course.REPOSITORY}"
    rows = "\n".join(f"{int(meta['lesson'])}. [{meta['title']}]({name}.ipynb)"
                     + (f": {meta['summary']}" if meta.get("summary") else "") for name, meta in lessons)
    first = lessons[0][0] if lessons else ""
    toctree = "\n".join(name for name, _ in lessons)
    return f"""# {SITE_TITLE}

An open course on the **learning rate** of neural-network training, from gradient descent on a
two-dimensional bowl to a convolutional network trained on CIFAR-10 with large, moderate and small
learning rates. Every claim about the learning rate that the course makes is shown by a measurement
the lesson itself ran: a plot, a printed number, or a check that would fail if the claim were false.

These pages show each lesson as it ran on the course's machine, with the exercises left for you
to write: to run a lesson, change it and do its exercises (they check themselves), open it in Colab
or in JupyterLab on your own computer (below).

## Lessons

{rows}

Two pages go with the lessons: the [claims ledger]({LEDGER}) (every common claim about the learning
rate that the course tests, and the verdict its measurement gives it) and the [glossary]({GLOSSARY})
(every term the lessons use, defined once).

## How to start

**In your browser, with Google Colab.** Each lesson's page has an "Open in Colab" link. The
notebook's first code cell installs the course's helper package there (Colab only); choose
*Runtime → Change runtime type → GPU* for the full-size experiments.

**On your computer, with JupyterLab** (Linux or macOS, Python 3.10 or newer, `git`):

```bash
git clone {repository}.git learning-rate-course && cd learning-rate-course
./course.sh lab
```

The first run creates a virtual environment in `.venv` with the pinned versions of everything the
course needs (a few minutes and about 5 GB, mostly PyTorch) and opens lesson 01 in JupyterLab.

**With conda** instead of a virtual environment:

```bash
conda env create -f environment.yml
conda activate learning-rate-course
python tools/lab.py
```

A single lesson also runs on its own: "Download notebook" on its page gives the notebook, which
needs the course's helper package (`pip install "course-utils @ git+{repository}"`).

The course's source, its tests and how to contribute: [{_course.REPOSITORY}]({repository}). Start
with [lesson 01]({first}.ipynb).

```{{toctree}}
:hidden:
:caption: Lessons

{toctree}
```

```{{toctree}}
:hidden:
:caption: Reference

{LEDGER.removesuffix('.md')}
{GLOSSARY.removesuffix('.md')}
```
"""


def write_source(root: Path, out: Path):
    """Write the site's source for the checkout at ``root`` into the empty or absent folder ``out``;
    return the :class:`~tools.book.figures.FigureAlt` of every figure."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ValueError(f"{out} is not empty: the site's source is written into a fresh folder.")
    (out / DOWNLOADS).mkdir()
    lessons, figures = [], []
    for solution in solution_paths(root):
        learner = root / "notebooks" / solution.name
        if not learner.is_file():
            raise FileNotFoundError(f"{learner} is missing: run `python -m course_utils.release` to write the "
                                    "learner versions, then build the site again.")
        page, found = lesson_page(nbformat.read(solution, as_version=4), solution.name)
        nbformat.write(page, out / solution.name)
        shutil.copy2(learner, out / DOWNLOADS / solution.name)
        lessons.append((solution.stem, page.metadata["course"]))
        figures += found
    for name in (LEDGER, GLOSSARY):
        path = root / "notebooks" / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `python -m course_utils.release` to write it.")
        (out / name).write_text(_markdown_page(path))
    (out / "index.md").write_text(landing_page(lessons))
    return figures
