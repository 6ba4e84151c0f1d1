"""The course's website (``./course.sh book``): built once for this file, read as HTML, then in a browser.

The site is built once per session (``site``, into a scratch folder: ``_build/html`` stays the developer's)
with :func:`tools.book.build.build`; how long that took is reported (a ``BookReport`` warning
and ``test-artifacts/book/report.txt``), not asserted: the target is at most 2 minutes on 2 cores.

Read as HTML (no browser needed): every page is there; lesson pages show the learner's code and
no line of solution code; every figure has alt text (the lesson's stored one, else one built from
its cell: those fall back, listed in a ``BookReport`` warning, until the lessons are re-run);
headings never skip a level; every internal link and anchor resolves (the lessons'
``glossary.md#term`` ones too); no page loads anything from outside the site; explorers show a
note that their sliders need a kernel, and their static grid.

In headless Chromium (the system's, through Playwright; skipped with one line without it), the
site served from 127.0.0.1 with every other address blocked: each page loads with no console
error and no failed or outside request, every image loads, math is typeset by the site's own
MathJax, axe-core finds no serious or critical violation, and the search page finds "warmup".
Each page's screenshot (the whole page, JPEG) goes to ``test-artifacts/book/<page>.jpeg``; axe's
findings of every impact to ``test-artifacts/book/axe.json``.
"""
from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest
from browser_support import CHROMIUM, skip_reason

from course_utils import _course, cells
from course_utils.release import solution_paths
from tools.book import build as book
from tools.book.figures import alt_from_cell, digest_of_uri
from tools.book.pages import renumber_headings

pytestmark = pytest.mark.slow   # the build and the browser: handed out first (conftest.py)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "book"
LESSONS = [p.stem for p in solution_paths(ROOT)]
PAGES = ["index"] + LESSONS + ["claims_ledger", "glossary", "search"]
SERIOUS = ("serious", "critical")


class BookReport(UserWarning):
    """What the site's tests report without failing: the build time, figures whose alt text falls back."""


# ---------------------------------------------------------------------------------------------
# Building once, and reading HTML.

@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The site, built once per test session (and so once per pytest-xdist worker that runs this
    file: with ``--dist loadfile``, one)."""
    site = book.build(ROOT, tmp_path_factory.mktemp("book") / "html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    line = (f"the website built in {site.seconds:.1f} s (python -m tools.book; target: at most 120 s on 2 cores), "
            f"{len(site.pages)} pages, {len(site.figures)} figures, {len(site.fallbacks)} with fallback alt text")
    (ARTIFACTS / "report.txt").write_text(line + "\n" + "".join(f"fallback: {f}\n" for f in site.fallbacks))
    warnings.warn(BookReport(line))
    return site


class _Page(HTMLParser):
    """What the tests read from a page: its headings (as shown on screen: not the theme's print-only
    block), images, links, ids, resources, text, and the text of its code cells' inputs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.headings, self.images, self.links, self.ids, self.resources, self.text = [], [], [], set(), [], []
        self.code = []        # the text of the code cells' inputs (MyST-NB's div.cell_input)
        self._heading = None
        self._divs = []       # the classes of each open div

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "div":
            self._divs.append((attrs.get("class") or "").split())
        if re.fullmatch(r"h[1-6]", tag) and not self._inside("onlyprint"):
            self._heading = [int(tag[1]), ""]
        if tag == "img":
            self.images.append(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("script", "img", "iframe", "source", "audio", "video") and attrs.get("src"):
            self.resources.append(attrs["src"])
        if tag == "link" and attrs.get("href") and any(kind in (attrs.get("rel") or "").split()
                                                        for kind in ("stylesheet", "icon", "preload", "modulepreload")):
            self.resources.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        if self._heading and tag == f"h{self._heading[0]}":
            self.headings.append((self._heading[0], " ".join(self._heading[1].split()).rstrip("#").strip()))
            self._heading = None

    def _inside(self, css_class: str) -> bool:
        return any(css_class in classes for classes in self._divs)

    def handle_data(self, data):
        self.text.append(data)
        if self._inside("cell_input"):
            self.code.append(data)
        if self._heading:
            self._heading[1] += data


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def _html(site, name: str) -> Path:
    return site.html / f"{name}.html"


def test_every_page_is_built(site):
    missing = [name for name in PAGES if not _html(site, name).is_file()]
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
    code = "".join(_parse(_html(site, lesson)).code)
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
    links = _parse(_html(site, lesson)).links
    assert _course.colab_url(f"notebooks/{lesson}.ipynb") in links
    downloads = [link for link in links if link.startswith("_downloads/") and link.endswith(f"/{lesson}.ipynb")]
    assert len(downloads) == 1, f"{lesson}: one 'Download notebook' link expected, found {downloads}"
    assert (site.html / downloads[0]).read_bytes() == (ROOT / "notebooks" / f"{lesson}.ipynb").read_bytes()


def test_every_figure_has_alt_text_from_what_it_shows(site):
    alts = {f.digest: f.alt for f in site.figures}
    seen = set()
    for name in PAGES:
        for image in _parse(_html(site, name)).images:
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
    levels = [level for level, _ in _parse(_html(site, name)).headings]
    assert levels and levels[0] == 1 and levels.count(1) == 1, f"{name}: one h1 first, got {levels[:8]}"
    skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not skips, f"{name}: headings skip a level: {skips}"


def _internal_targets(site):
    """(page, link, file, fragment) of every link that stays on the site."""
    for path in sorted(site.html.rglob("*.html")):
        for link in _parse(path).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("mailto:"):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            yield path.relative_to(site.html).as_posix(), link, target, unquote(parts.fragment)


def test_every_internal_link_resolves(site):
    broken = []
    for page, link, target, fragment in _internal_targets(site):
        if not target.is_file():
            broken.append(f"{page}: {link} (no such file)")
        elif fragment and target.suffix == ".html" and fragment not in _parse(target).ids:
            broken.append(f"{page}: {link} (no #{fragment} there)")
    assert not broken, "links that do not resolve:\n" + "\n".join(broken[:20])


def test_lessons_glossary_links_reach_their_term(site):
    ids = _parse(_html(site, "glossary")).ids
    used = [(lesson, link) for lesson in LESSONS for link in _parse(_html(site, lesson)).links
            if link.startswith("glossary.html#")]
    assert used, "no lesson links the glossary"
    assert all(link.split("#", 1)[1] in ids for _, link in used)


def test_no_page_loads_anything_from_outside_the_site(site):
    outside = [(path.name, src) for path in site.html.rglob("*.html") for src in _parse(path).resources
               if urlsplit(src).scheme in ("http", "https") or src.startswith("//")]
    assert not outside, f"resources from outside the site: {outside[:10]}"
    assert (site.html / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.parametrize("lesson", [lesson for lesson in LESSONS
                                    if any("keep_output" in c.metadata.get("tags", [])
                                           for c in nbformat.read(ROOT / "notebooks" / "solutions" / f"{lesson}.ipynb",
                                                                  as_version=4).cells)])
def test_explorers_show_that_sliders_need_a_kernel_and_their_static_grid(site, lesson):
    source = _html(site, lesson).read_text()
    assert "widget-view+json" not in source and "require.js" not in source
    text = " ".join(html.unescape("".join(_parse(_html(site, lesson)).text)).split())
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


# ---------------------------------------------------------------------------------------------
# In headless Chromium.

def _skip_without_browser():
    if skip_reason("website browser tests"):
        pytest.skip(skip_reason("website browser tests"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    _skip_without_browser()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe_findings():
    findings = {}
    yield findings
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(findings, indent=1))


@pytest.fixture
def visit(browser, served):
    """``visit(path)``: open a page of the site offline; returns (page, problems) where problems
    collects console errors, page errors, failed requests and requests for anything outside."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems = []

    def route(route):
        if route.request.url.startswith(served) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request outside the site: {route.request.url}")
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
            if r.url.startswith(served) else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def open_page(path):
        page.goto(urljoin(served, path), wait_until="load")
        return page, problems

    yield open_page
    context.close()


def _wait_for_math(page) -> tuple[int, int, int]:
    """Wait for MathJax to finish; return (math elements, typeset ones, errors)."""
    page.wait_for_function("() => !document.querySelector('.math') || (window.MathJax && MathJax.startup "
                           "&& MathJax.startup.promise)", timeout=30_000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    return page.evaluate("() => [document.querySelectorAll('.math').length, "
                         "document.querySelectorAll('.math mjx-container').length, "
                         "document.querySelectorAll('mjx-merror, .math mjx-container [data-mjx-error]').length]")


def _images(page) -> list:
    """Scroll through the page so every image loads; return (src, loaded, alt) per image."""
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    return page.evaluate("""async () => Promise.all(Array.from(document.images).map(async img => {
        try { await img.decode(); } catch (e) {}
        return [img.currentSrc || img.src, img.complete && img.naturalWidth > 0, img.alt];
    }))""")


# axe-core's colour-contrast rule takes about 15 s on a lesson's syntax-highlighted code (thousands of
# token spans, in the theme's own a11y-high-contrast Pygments style, the same on every page); it reads
# all of it on the first lesson, and every page without its code inputs' text (a few seconds each).
FULL_AXE = LESSONS[:1]
CODE_INPUTS = ".cell_input pre"


def _axe(page, everything: bool) -> list:
    from axe_playwright_python.sync_playwright import Axe

    context = None if everything else {"exclude": [[CODE_INPUTS]]}
    return Axe().run(page, context=context).response["violations"]


@pytest.mark.parametrize("name", PAGES)
def test_page_in_the_browser(visit, served, axe_findings, name):
    page, problems = visit(f"{name}.html" + ("?q=warmup" if name == "search" else ""))
    images = _images(page)
    assert images or name in ("search", "claims_ledger", "glossary", "index")
    assert all(loaded for _, loaded, _ in images), f"images that did not load: {[s for s, ok, _ in images if not ok]}"
    assert all(alt.strip() for _, _, alt in images), f"images without alt text: {[s for s, _, a in images if not a]}"
    maths, typeset, errors = _wait_for_math(page)
    assert typeset == maths and not errors, f"{name}: {typeset} of {maths} math elements typeset, {errors} errors"
    if name in LESSONS[:2] + ["glossary"]:
        assert maths > 0, f"{name} has math, but the page shows none"
    page.evaluate("() => window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.jpeg"), full_page=True, type="jpeg", quality=60)
    assert not problems, f"{name}:\n" + "\n".join(problems)   # what loading the page did (axe fetches more)
    violations = _axe(page, everything=name in FULL_AXE)
    axe_findings[name] = [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"]),
                           "targets": [n["target"] for n in v["nodes"][:5]]} for v in violations]
    serious = [f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['target']}"
               for v in violations if v["impact"] in SERIOUS]
    assert not serious, f"{name}: axe-core finds serious or critical violations:\n" + "\n".join(serious)


def test_search_finds_warmup(visit):
    """From the landing page, as a reader searches: Ctrl+K, "warmup", Enter."""
    page, problems = visit("index.html")
    page.keyboard.press("Control+k")
    field = page.locator("#pst-search-dialog input[name=q]")
    field.fill("warmup")
    field.press("Enter")
    page.wait_for_url("**/search.html?q=warmup*")
    page.wait_for_selector("ul.search li a", timeout=30_000)
    found = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.getAttribute('href'))")
    assert any(link.split("?")[0].split("#")[0] == "05_learning_rate_schedules.html" for link in found), found
    assert not problems, "\n".join(problems)


def test_internal_links_answer_in_the_browser(visit, site, served):
    page, problems = visit("index.html")
    urls = sorted({urljoin(urljoin(served, page_path), link).split("#")[0]
                   for page_path, link, _, _ in _internal_targets(site)})
    failed = [(url, page.request.get(url).status) for url in urls]
    failed = [(url, status) for url, status in failed if status != 200]
    assert urls and not failed, f"internal links that do not answer 200: {failed[:10]}"
