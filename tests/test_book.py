"""The course's website (``./course.sh book``) read as HTML; no browser needed.

The site is built once per session (``tests/book_support.py``, shared with
``tests/test_book_browser.py``); how long that took is reported (a ``BookReport`` warning and
``test-artifacts/book/report.txt``), not asserted: the target is at most 2 minutes on 2 cores.

Every page is there; lesson pages show the learner's code and no line of solution code; every
figure has alt text (the lesson's stored one, else one built from its cell: those fall back,
listed in a ``BookReport`` warning, until the lessons are re-run); headings never skip a level;
every internal link and anchor resolves (the lessons' ``glossary.md#term`` ones too); no page
loads anything from outside the site; explorers show a note that their sliders need a kernel,
and their static grid.
"""
from __future__ import annotations

import html
import warnings
from urllib.parse import urlsplit

import nbformat
import pytest
from book_support import LESSONS, PAGES, ROOT, BookReport, built_site, html_path, internal_targets, parse

from course_utils import _course, cells
from tools.book.figures import alt_from_cell, digest_of_uri
from tools.book.pages import _is_explorer, renumber_headings

pytestmark = pytest.mark.slow   # the build: handed out first (conftest.py)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


def test_every_page_is_built(site):
    missing = [name for name in PAGES if not html_path(site, name).is_file()]
    assert not missing, f"pages missing from the site: {missing} (built: {site.pages})"
    assert not site.warnings, "Sphinx warned while building the site:\n" + "\n".join(site.warnings)


def _solution_only_lines(solution_nb, learner_nb) -> list[str]:
    """Lines of the instructor's solution blocks that the learner's notebook (code and prose) does not show."""
    learner = "\n".join(c.source for c in learner_nb.cells)
    found = []
    for cell in solution_nb.cells:
        inside = False
        for line in cell.source.splitlines() if cell.cell_type == "code" else []:
            if line.strip() == cells.BEGIN:
                inside = True
            elif line.strip() == cells.END:
                inside = False
            elif inside and len(line.strip()) >= 12 and line.strip() not in learner and not line.strip().startswith("#"):
                found.append(line.strip())
    return found


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_page_shows_the_learners_code_and_no_solution(site, lesson):
    solution = nbformat.read(ROOT / "notebooks" / "solutions" / f"{lesson}.ipynb", as_version=4)
    learner = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    page = nbformat.read(site.html.parent / "source" / f"{lesson}.ipynb", as_version=4)
    learner_code = [c.source for c in learner.cells if c.cell_type == "code" and cells.role(c) != "colab"]
    assert [c.source for c in page.cells if c.cell_type == "code"] == learner_code, (
        f"{lesson}: the page's code cells are not the learner version's (notebooks/{lesson}.ipynb)")
    code = "".join(parse(html_path(site, lesson)).code)
    assert cells.BEGIN not in code and "raise NotImplementedError" in code
    solution_lines = _solution_only_lines(solution, learner)
    assert solution_lines, f"{lesson}: no solution line to look for (does the lesson have exercises?)"
    shown = [line for line in solution_lines if line in code]
    assert not shown, f"{lesson}: solution code on the page: {shown[:5]}"
    exercises = {cells.exercise_id(c) for c in page.cells if cells.is_solution_cell(c) or cells.is_check_cell(c)}
    assert all(not c.outputs for c in page.cells if cells.is_solution_cell(c) or cells.is_check_cell(c)), (
        f"{lesson}: an exercise's solution or check cell shows the instructor's output ({sorted(exercises)})")


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_page_links_colab_and_the_learners_notebook(site, lesson):
    links = parse(html_path(site, lesson)).links
    assert _course.colab_url(f"notebooks/{lesson}.ipynb") in links
    downloads = [link for link in links if link.startswith("_downloads/") and link.endswith(f"/{lesson}.ipynb")]
    assert len(downloads) == 1, f"{lesson}: one 'Download notebook' link expected, found {downloads}"
    assert (site.html / downloads[0]).read_bytes() == (ROOT / "notebooks" / f"{lesson}.ipynb").read_bytes()


def test_every_figure_has_alt_text_from_what_it_shows(site):
    alts = {f.digest: f.alt for f in site.figures}
    seen = set()
    for name in PAGES:
        for image in parse(html_path(site, name)).images:
            alt = (image.get("alt") or "").strip()
            assert alt, f"{name}.html: an image without alt text: {image.get('src')}"
            digest = digest_of_uri(image.get("src", ""))
            if digest in alts:
                assert alt == alts[digest]
                seen.add(digest)
    assert seen == set(alts), "figures of the lessons missing from their pages"
    assert all(f.alt and len(f.alt.split()) >= 4 for f in site.figures)


def test_figures_whose_alt_text_falls_back_to_their_cell(site):
    """Listed, not failed: empty once every lesson has been re-run with course_utils.alt_text."""
    if site.fallbacks:
        warnings.warn(BookReport(f"{len(site.fallbacks)} of {len(site.figures)} figures have alt text built from "
                                 "their cell, not stored by their lesson (re-run those lessons):\n  "
                                 + "\n  ".join(site.fallbacks)))
    assert all(f.alt for f in site.figures)


@pytest.mark.parametrize("name", PAGES)
def test_headings_never_skip_a_level(site, name):
    levels = [level for level, _ in parse(html_path(site, name)).headings]
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"{name}: one h1 first, got {levels[:8]}"
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not skips, f"{name}: headings skip a level: {skips}"


def test_every_internal_link_resolves(site):
    broken = []
    for page, link, target, fragment in internal_targets(site):
        if not target.is_file():
            broken.append(f"{page}: {link} (no such file)")
        elif fragment and target.suffix == ".html" and fragment not in parse(target).ids:
            broken.append(f"{page}: {link} (no #{fragment} there)")
    assert not broken, "links that do not resolve:\n" + "\n".join(broken[:20])


def test_lessons_glossary_links_reach_their_term(site):
    ids = parse(html_path(site, "glossary")).ids
    used = [(lesson, link) for lesson in LESSONS for link in parse(html_path(site, lesson)).links
            if link.startswith("glossary.html#")]
    assert used, "no lesson links the glossary"
    assert all(link.split("#", 1)[1] in ids for _, link in used)


def test_no_page_loads_anything_from_outside_the_site(site):
    outside = [(path.name, src) for path in site.html.rglob("*.html") for src in parse(path).resources
               if urlsplit(src).scheme in ("http", "https") or src.startswith("//")]
    assert not outside, f"resources from outside the site: {outside[:10]}"
    assert (site.html / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.parametrize("lesson", [lesson for lesson in LESSONS
                                    if any(c.cell_type == "code" and _is_explorer(c)
                                           for c in nbformat.read(ROOT / "notebooks" / "solutions" / f"{lesson}.ipynb",
                                                                  as_version=4).cells)])
def test_explorers_show_that_sliders_need_a_kernel_and_their_static_grid(site, lesson):
    source = html_path(site, lesson).read_text()
    assert "widget-view+json" not in source and "require.js" not in source
    text = " ".join(html.unescape("".join(parse(html_path(site, lesson)).text)).split())
    assert "Its sliders need a running Python kernel" in text
    assert "The static grid below shows its picture for a few settings." in text


def test_headings_are_renumbered_without_skipping():
    assert renumber_headings(["# T\n### a\n#### b\n### c\n## d\n# e"]) == ["# T\n## a\n### b\n## c\n## d\n## e"]
    assert renumber_headings(["# T", "```python\n# comment\n```\n### x"]) == ["# T", "```python\n# comment\n```\n## x"]


def test_alt_text_from_a_cell_names_titles_axes_and_plots():
    alt = alt_from_cell('fig.suptitle(f"{n} steps")\nax = plotting.plot_curves(c, xlabel="step", ylabel="loss")')
    assert alt.startswith("Figure: n steps. Axes: step (horizontal); loss (vertical). Drawn with plotting.plot_curves")
    assert alt_from_cell("plt.plot(x)\nplt.show()") is None
    assert alt_from_cell("%matplotlib inline\nax.set_title('a')") == "Figure: a."


def test_the_lessons_math_is_on_their_pages_for_mathjax(site):
    """MyST's dollar math becomes elements MathJax typesets (tests/test_book_browser.py checks it
    does, on every page); a lesson whose Markdown has $...$ shows it as such, not as raw TeX."""
    for lesson in LESSONS:
        nb = nbformat.read(ROOT / "notebooks" / "solutions" / f"{lesson}.ipynb", as_version=4)
        has_math = any("$" in c.source for c in nb.cells if c.cell_type == "markdown")
        if has_math:
            assert 'class="math' in html_path(site, lesson).read_text(), f"{lesson}: its $...$ math is not on its page"
