"""What the browser tests share: the system's Chromium, and one line saying how to get it when absent.

Playwright drives Debian's ``chromium`` through ``executable_path`` (it cannot download a browser
of its own here); ``COURSE_CHROMIUM=/path/to/chromium`` picks another. Used by
``tests/test_browser.py`` (JupyterLab) and ``tests/test_book_browser.py`` (the website).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path


def find_chromium() -> str | None:
    """The Chromium to drive: ``COURSE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH."""
    for candidate in (os.environ.get("COURSE_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = find_chromium()
MISSING = ("Playwright is not installed" if importlib.util.find_spec("playwright") is None
           else "no Chromium found" if CHROMIUM is None else None)


def skip_reason(what: str) -> str | None:
    """The one line a module of browser tests is skipped with (``None`` when a browser is there)."""
    if MISSING is None:
        return None
    return (f"{what} skipped: {MISSING}; to run them install Chromium (Debian/Ubuntu: apt-get install chromium, "
            "as .ci/run does) or set COURSE_CHROMIUM=/path/to/chromium, with the test extra installed")
