"""The course as a static website: ``./course.sh book`` builds ``_build/html`` from the notebooks'
stored outputs, executing nothing.

Sphinx with MyST-NB renders the pages and sphinx-book-theme lays them out (see CONTRIBUTING.md
for why not Jupyter Book 2 / mystmd). Everything the site needs is in the folder it writes:
MathJax is copied from a pinned Python package, the search index is Sphinx's own, and no page
asks for anything outside the site when it is read.

* :mod:`tools.book.pages` -- the site's source: the landing page, one page per lesson (the
  instructor run's outputs under the learner's code: exercise stubs, never solution code), the
  claims ledger and the glossary, with headings that never skip a level;
* :mod:`tools.book.figures` -- alt text for every figure: the one stored with the output when the
  lesson ran (``course_utils.alt_text``), else one built from the cell that drew it;
* :mod:`tools.book.conf` -- the Sphinx configuration;
* :mod:`tools.book.build` -- ``python -m tools.book``: source, then Sphinx, timed.
"""
