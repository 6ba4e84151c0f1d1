"""Alt text for every figure on the site, taken from what the figure shows.

A lesson run stores it with each PNG output (``{"image/png": {"alt": ...}}``, written by
:mod:`course_utils.alt_text`: title, panels, axes, legend). An output stored before that existed
has none; then :func:`alt_from_cell` builds one from the code cell that drew it: the figure's and
panels' titles, the axis labels, and the course's plotting functions it called with the first line
of their docstrings. Such a figure is listed as a *fallback* (``FigureAlt.stored`` is false): the
list empties once the lessons are re-run. A cell that says nothing about its figure gets no alt
text at all, which the site's tests reject.

Example:
    >>> alt_from_cell('ax = plotting.plot_contours(f)\\nax.set_title("contours of f")\\nax.set_xlabel("w1")')
    'Figure: contours of f. Axes: w1 (horizontal). Drawn with plotting.plot_contours: contour lines of a 2D function f taking points of shape (..., 2).'
    >>> alt_from_cell("x = 1") is None
    True
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import re
from base64 import b64decode
from dataclasses import dataclass

PNG = "image/png"
_TEXT_CALLS = {"set_title": "title", "suptitle": "title", "title": "title",
               "set_xlabel": "x", "xlabel": "x", "set_ylabel": "y", "ylabel": "y"}
_TEXT_KEYWORDS = {"title": "title", "xlabel": "x", "ylabel": "y"}
_PLOT_MODULES = {"plotting": "course_utils.plotting", "widgets": "course_utils.widgets",
                 "scaling_plots": "course_utils.scaling_plots"}


@dataclass(frozen=True)
class FigureAlt:
    """One figure of a page: the SHA-256 of its PNG (how the site's build finds its image), its
    alt text, and whether the lesson stored that text (``False``: built from the cell)."""

    page: str       # the page's name, e.g. "01_gradient_descent_on_a_bowl"
    cell: int       # the cell's number in the instructor notebook, from 1 (metadata book.cell of the page's cell)
    digest: str
    alt: str | None
    stored: bool


def png_digest(output) -> str:
    """SHA-256 of an output's PNG bytes: MyST-NB names the image file after it."""
    return hashlib.sha256(b64decode(output["data"][PNG])).hexdigest()


def stored_alt(output) -> str | None:
    """The alt text the lesson stored with this PNG output, if any."""
    alt = output.get("metadata", {}).get(PNG, {})
    alt = alt.get("alt") if isinstance(alt, dict) else None
    return " ".join(alt.split()) if isinstance(alt, str) and alt.strip() else None


def _words(node) -> str | None:
    """A string literal as text; an f-string with each ``{expression}`` written as that expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = [p.value if isinstance(p, ast.Constant) else ast.unparse(p.value) for p in node.values]
        return "".join(str(p) for p in parts)
    return None


def _summary(qualified: str) -> str | None:
    """The first line of a course plotting function's docstring, as plain words."""
    prefix, name = qualified.split(".", 1)
    try:
        doc = inspect.getdoc(getattr(importlib.import_module(_PLOT_MODULES[prefix]), name)) or ""
    except (ImportError, AttributeError):
        return None
    line = doc.split("\n\n")[0].replace("\n", " ").replace("``", "")
    line = line.rstrip(".:;,")
    return line[:1].lower() + line[1:] if line else None


def alt_from_cell(source: str, context: str | None = None) -> str | None:
    """Alt text for a figure drawn by the code cell ``source``, from its titles, axis labels, the
    images it shows and the course's plotting functions it calls. When the cell gives the figure no
    title, ``context`` (where the figure stands: its section and the text before it) comes first.
    ``None`` when there is nothing to say."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    found = {"title": [], "x": [], "y": []}
    drawn, images, named_by = [], False, []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        where = (node.lineno, node.col_offset)
        images = images or name in ("imshow", "matshow")
        if name in _TEXT_CALLS and node.args:
            found[_TEXT_CALLS[name]].append((where, _words(node.args[0])))
            if _words(node.args[0]) is None:   # a title computed at run time: say where it comes from
                named_by.append((where, ast.unparse(node.args[0])))
        for keyword in node.keywords:
            if keyword.arg in _TEXT_KEYWORDS:
                found[_TEXT_KEYWORDS[keyword.arg]].append((where, _words(keyword.value)))
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in _PLOT_MODULES
                and func.attr.startswith("plot")):
            drawn.append((where, f"{func.value.id}.{func.attr}"))
    # in source order (ast.walk is breadth-first), each text once
    found = {k: list(dict.fromkeys(" ".join(t.split()) for _, t in sorted(v) if t and t.strip()))
             for k, v in found.items()}
    drawn = list(dict.fromkeys(name for _, name in sorted(drawn)))
    sentences = []
    if found["title"]:
        sentences.append("Figure: " + "; ".join(found["title"]) + ".")
    elif context:
        sentences.append(f"Figure {context}")
    if images:
        by = list(dict.fromkeys(expression for _, expression in sorted(named_by)))
        sentences.append("It shows images" + (f", titled by {', '.join(by)}" if by else "") + ".")
    axes = [f"{', '.join(found['x'])} (horizontal)"] * bool(found["x"]) + [f"{', '.join(found['y'])} (vertical)"] * bool(found["y"])
    if axes:
        sentences.append("Axes: " + "; ".join(axes) + ".")
    for qualified in drawn:
        summary = _summary(qualified)
        sentences.append(f"Drawn with {qualified}" + (f": {summary}." if summary else "."))
    return " ".join(sentences) or None


_MARKUP = re.compile(r"[*_`$#>]|\\[()\\[\\]]")


def _plain(markdown: str) -> str:
    return " ".join(_MARKUP.sub("", markdown).split())


def figure_context(markdown_before: list[str]) -> str | None:
    """Where a figure stands, from the Markdown cells before it (nearest last): the section it is
    in and the first sentence of the text just before it, e.g. 'in the section "The data": ...'."""
    heading, sentence = None, None
    for text in reversed(markdown_before):
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        if sentence is None:
            prose = [p for p in paragraphs if not p.startswith(("#", "```", "|", "$$"))]
            if prose:
                sentence = re.split(r"(?<=[.!?])\s", _plain(prose[0]), maxsplit=1)[0][:240].rstrip()
                sentence += "" if sentence.endswith((".", "!", "?")) else "."
        headings = [line for line in text.splitlines() if re.match(r"#{1,6}\s", line)]
        if headings:
            heading = _plain(headings[-1])
            break
    if not heading and not sentence:
        return None
    where = f'in the section "{heading}"' if heading else "of this lesson"
    return where + (f", after the text: {sentence}" if sentence else ".")


def page_figures(nb, page: str) -> list[FigureAlt]:
    """Give every PNG output of ``nb`` (changed in place) its alt text in the output's metadata, the
    stored one or else one from its cell, and return what each figure got."""
    figures = []
    for number, cell in enumerate(nb.cells, start=1):
        outputs = [o for o in cell.get("outputs", []) if PNG in o.get("data", {})]
        context = figure_context([c.source for c in nb.cells[:number - 1] if c.cell_type == "markdown"])
        from_cell = alt_from_cell(cell.source, context) if outputs else None
        number = cell.get("metadata", {}).get("book", {}).get("cell", number)
        for k, output in enumerate(outputs, start=1):
            alt = stored_alt(output)
            stored = alt is not None
            if not stored and from_cell:
                alt = from_cell + (f" (image {k} of {len(outputs)} of this cell)" if len(outputs) > 1 else "")
            if alt:
                output.setdefault("metadata", {}).setdefault(PNG, {})["alt"] = alt
            figures.append(FigureAlt(page=page, cell=number, digest=png_digest(output), alt=alt, stored=stored))
    return figures


def describe_fallbacks(figures) -> list[str]:
    """One line per figure whose alt text was built from its cell: page, cell, the text."""
    return [f"{f.page} cell {f.cell}: {f.alt}" for f in figures if not f.stored]


_HASH = re.compile(r"[0-9a-f]{64}")


def digest_of_uri(uri: str) -> str | None:
    """The SHA-256 in the name of an image file MyST-NB wrote (``<sha256>.png``), else ``None``."""
    stem = uri.rsplit("/", 1)[-1].split(".", 1)[0]
    return stem if _HASH.fullmatch(stem) else None
