"""Build the course's website: ``python -m tools.book`` (what ``./course.sh book`` runs).

Writes the site's source into ``_build/source`` (:mod:`tools.book.pages`), then runs Sphinx
(configuration: :mod:`tools.book.conf`) into ``_build/html``, a plain folder of static files for
any web server. Prints how long it took, the pages, and how many figures carry the alt text the
lesson stored and how many fall back to one built from their cell.

Usage (from the repository root)::

    python -m tools.book                 # into _build/html
    python -m tools.book --out DIR       # elsewhere
    python -m http.server -d _build/html # then read it at http://127.0.0.1:8000
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .figures import FigureAlt, describe_fallbacks
from .pages import write_source

ROOT = Path(__file__).resolve().parents[2]
CONF = Path(__file__).resolve().parent
SOURCE_MARK = ".course-book-source"   # a folder holding it was written by this build, and may be replaced


class BookReport(UserWarning):
    """What the site's tests report without failing (the build time, figures whose alt text falls
    back); defined here, importable by every pytest-xdist process, which re-creates a worker's warnings."""


@dataclass
class Site:
    """A built site: its folder, pages (``name.html`` paths relative to it), figures, Sphinx's
    warnings, and the build's wall time in seconds."""

    html: Path
    pages: list[str]
    figures: list[FigureAlt]
    warnings: list[str]
    seconds: float

    @property
    def fallbacks(self) -> list[str]:
        return describe_fallbacks(self.figures)


def _fresh(folder: Path, mark: str) -> None:
    """Empty ``folder`` for a new build, refusing to delete one this build did not make."""
    if folder.exists():
        if any(folder.iterdir()) and not (folder / mark).exists():
            raise SystemExit(f"{folder} exists and was not made by the course's book build (no {mark} in it); "
                             "move it away or choose another --out.")
        shutil.rmtree(folder)


def build(root: Path = ROOT, out: Path | None = None, *, jobs: str = "auto") -> Site:
    """Build the site of the checkout at ``root`` into ``out`` (default ``root/_build/html``)."""
    missing = [name for name in ("sphinx", "myst_nb", "sphinx_book_theme") if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: the website needs the course's `book` extra "
                           "(./course.sh book installs it; or pip install -c requirements/constraints.txt -e '.[book]').")
    start = time.perf_counter()
    out = Path(out) if out is not None else root / "_build" / "html"
    work = out.parent
    source, doctrees = work / "source", work / "doctrees"
    _fresh(source, SOURCE_MARK)
    _fresh(out, ".buildinfo")
    figures = write_source(root, source)
    (source / SOURCE_MARK).write_text("written by python -m tools.book; replaced by every build\n")
    from .conf import FIGURES

    (source / FIGURES).write_text(json.dumps({f.digest: f.alt for f in figures}, indent=1))
    warnings = work / "sphinx-warnings.txt"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-c", str(CONF), "-E", "-q", "-j", jobs,
               "-d", str(doctrees), "-w", str(warnings), str(source), str(out)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Sphinx failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    pages = sorted(p.relative_to(out).as_posix() for p in out.glob("*.html"))
    lines = [line for line in warnings.read_text().splitlines() if line.strip()] if warnings.exists() else []
    return Site(html=out, pages=pages, figures=figures, warnings=lines, seconds=time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="the site's folder (default _build/html)")
    parser.add_argument("--jobs", default="auto", help="Sphinx's parallel jobs (default auto: one per core)")
    args = parser.parse_args(argv)
    site = build(out=args.out, jobs=args.jobs)
    stored = sum(f.stored for f in site.figures)
    where = site.html.relative_to(Path.cwd()) if site.html.is_relative_to(Path.cwd()) else site.html
    print(f"built the course's website in {site.seconds:.1f} s: {len(site.pages)} pages in {where}/")
    print("pages: " + ", ".join(site.pages))
    print(f"figures: {len(site.figures)}, {stored} with the alt text their lesson stored, "
          f"{len(site.fallbacks)} with alt text built from their cell (re-run those lessons to store it)")
    for line in site.warnings:
        print(f"sphinx: {line}", file=sys.stderr)
    print(f"to read it: python -m http.server -d {where} 8000, then open http://127.0.0.1:8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
