"""What the website's tests share (``tests/test_book.py`` reads the HTML, ``tests/test_book_browser.py``
drives Chromium): the site, built once per test session for every pytest-xdist worker together,
and a reader of its pages.

:func:`built_site` builds it the first time a worker asks (under a file lock, in the folder the
run's workers share) and hands every later caller, in any worker, the same build; the build time
is written to ``test-artifacts/book/report.txt`` and reported in a ``tools.book.build.BookReport`` warning.
"""
from __future__ import annotations

import functools
import os
import pickle
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from filelock import FileLock

from course_utils.release import solution_paths
from tools.book import build as book
from tools.book.build import BookReport   # noqa: F401 - the warning the site's tests report with

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "book"
LESSONS = [p.stem for p in solution_paths(ROOT)]
PAGES = ["index"] + LESSONS + ["claims_ledger", "glossary", "search"]


def built_site(tmp_path_factory) -> book.Site:
    """The site of this checkout, built once per test session (into a scratch folder:
    ``_build/html`` stays the developer's)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent   # the folder this run's workers share
    saved = base / "course-book" / "site.pickle"
    with FileLock(str(base / "course-book.lock")):
        if saved.is_file():
            return pickle.loads(saved.read_bytes())
        site = book.build(ROOT, saved.parent / "html")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        line = (f"the website built in {site.seconds:.1f} s (python -m tools.book; target: at most 120 s on 2 cores), "
                f"{len(site.pages)} pages, {len(site.figures)} figures, {len(site.fallbacks)} with fallback alt text")
        (ARTIFACTS / "report.txt").write_text(line + "\n" + "".join(f"fallback: {f}\n" for f in site.fallbacks))
        warnings.warn(BookReport(line))
        saved.write_bytes(pickle.dumps(site))
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
def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text())
    return page


def _html(site, name: str) -> Path:
    return site.html / f"{name}.html"


def html_path(site, name: str) -> Path:
    return site.html / f"{name}.html"


def internal_targets(site):
    """(page, link, file, fragment) of every link that stays on the site."""
    for path in sorted(site.html.rglob("*.html")):
        for link in parse(path).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("mailto:"):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            yield path.relative_to(site.html).as_posix(), link, target, unquote(parts.fragment)
