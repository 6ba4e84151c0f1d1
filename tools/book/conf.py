"""Sphinx configuration of the course's website (``python -m tools.book`` passes this folder as ``-c``).

The source folder is the one :func:`tools.book.pages.write_source` wrote. Nothing is executed
(``nb_execution_mode = "off"``), and nothing outside the built folder is needed to read a page:
MathJax comes from the pinned ``sphinx-mathjax-offline`` package (MathJax 3.2.2's ``es5`` build,
the files of the ``mathjax@3.2.2`` npm package) and is copied to ``_static/mathjax``; no widget
JavaScript is loaded (the pages have no kernel); the theme's fonts and icons are its own files.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:   # tools.book and course_utils, from this checkout
    sys.path.insert(0, str(ROOT))

from course_utils import _course  # noqa: E402
from tools.book.figures import digest_of_uri  # noqa: E402
from tools.book.pages import DOWNLOADS, SITE_TITLE  # noqa: E402

FIGURES = "_figures.json"   # written beside the pages by tools.book.build: {sha256 of a PNG: alt text}


def mathjax_folder() -> Path:
    """The folder holding ``mathjax/`` (MathJax 3's ``es5`` build) in the installed
    ``sphinx-mathjax-offline`` package."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package sphinx-mathjax-offline is missing: install the course's `book` extra "
                           "(./course.sh book does), which serves MathJax from the site itself.")
    folder = Path(list(spec.submodule_search_locations)[0]) / "static"
    if not (folder / "mathjax" / "tex-chtml.js").is_file():
        raise RuntimeError(f"{folder}/mathjax/tex-chtml.js is missing: reinstall sphinx-mathjax-offline.")
    return folder


project = SITE_TITLE
author = "the course's authors"
copyright = "the course's authors, MIT License"
language = "en"

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx.ext.githubpages"]   # githubpages: .nojekyll, so GitHub Pages serves _static/
exclude_patterns = [DOWNLOADS, FIGURES, "_build", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 6            # `glossary.md#hessian` and every other heading anchor resolve
nb_execution_mode = "off"           # the stored outputs, as the lessons left them
nb_render_markdown_format = "myst"  # markdown outputs (lesson 09's) with their math
nb_merge_streams = True
nb_ipywidgets_js = {}               # no widget manager from a CDN: the pages have no kernel

mathjax_path = "mathjax/tex-chtml.js"   # in _static, copied from html_static_path below

html_theme = "sphinx_book_theme"
html_title = SITE_TITLE
html_static_path = [str(mathjax_folder())]
html_favicon = "favicon.svg"         # beside this file (a browser asks for one: without it, a 404 on every page)
html_context = {"default_mode": "light"}   # the theme's starting mode (its button switches to dark)
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": f"https://github.com/{_course.REPOSITORY}",
    "repository_branch": _course.BRANCH,
    "use_repository_button": True,
    "use_download_button": False,   # each lesson links the learner's notebook instead
    "home_page_in_toc": True,
    "show_toc_level": 2,
}


def _alt_text(app, doctree) -> None:
    """Every notebook figure gets the alt text :mod:`tools.book.figures` chose for it (MyST-NB names
    each image after the SHA-256 of its PNG, and keeps only width and height from the output's
    metadata)."""
    from docutils import nodes

    path = Path(app.srcdir) / FIGURES
    alts = json.loads(path.read_text()) if path.is_file() else {}
    for image in doctree.findall(nodes.image):
        digest = digest_of_uri(image.get("uri", ""))
        if digest in alts and alts[digest]:
            image["alt"] = alts[digest]


def setup(app):
    app.connect("doctree-read", _alt_text)
