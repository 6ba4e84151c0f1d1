"""How the course starts JupyterLab: ``./course.sh lab`` runs this with the course's ``.venv``.

The one place for the launch settings, shared with the browser tests (``tests/test_browser.py``):

* the course's own Jupyter configuration folder, ``tools/jupyter_config/``, goes first on
  ``JUPYTER_CONFIG_PATH`` for this launch only. Its ``labconfig/page_config.json`` turns off
  JupyterLab's announcements plugin (the "Would you like to get notified about official Jupyter
  news?" notification and the update check), so nothing covers the first lesson and the lab
  makes no request to the internet by itself. The user's own Jupyter settings are neither read
  differently nor changed;
* ``--allow-root`` when run as root (containers), which Jupyter refuses otherwise;
* the first lesson (``notebooks/01_*.ipynb``) is opened unless a path is given.

Usage (from the repository root; ``./course.sh lab`` does this)::

    python tools/lab.py [jupyter lab options] [path]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

CONFIG = Path(__file__).resolve().with_name("jupyter_config")


def first_lesson(folder: Path) -> str | None:
    """The first learner notebook under ``folder/notebooks`` as a relative path, or ``None``."""
    found = sorted(Path(folder).glob("notebooks/[0-9][0-9]_*.ipynb"))
    return found[0].relative_to(folder).as_posix() if found else None


def command(args=(), *, python: str = sys.executable, cwd: Path | None = None, env: dict | None = None):
    """``(argv, env)`` that start JupyterLab with the course's settings, from ``cwd`` (default: here).

    ``args`` go to ``jupyter lab``; when none of them names an existing file or folder, the first
    lesson is opened.
    """
    cwd = Path.cwd() if cwd is None else Path(cwd)
    env = dict(os.environ if env is None else env)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(CONFIG), env.get("JUPYTER_CONFIG_PATH")]))
    argv = [python, "-m", "jupyterlab", *args]
    if hasattr(os, "getuid") and os.getuid() == 0:
        argv.append("--allow-root")
    if not any(not a.startswith("-") and (cwd / a).exists() for a in args) and first_lesson(cwd):
        argv.append(first_lesson(cwd))
    return argv, env


def main(argv=None) -> None:
    argv, env = command(sys.argv[1:] if argv is None else argv)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    main()
