"""The package as an installed wheel sees it: build, compare, install in isolation, run notebooks.

What Colab does with a lesson's install cell is ``pip install --no-deps git+<repository>``: a
wheel built from a clean clone, installed non-editable beside the packages already there. These
helpers do the same here, for ``tests/test_packaging.py`` and ``python -m tools.colab_like``:

* :func:`checkout_files` -- the files a clean clone of this checkout would have;
* :func:`build_wheel` -- the wheel built from exactly those files;
* :func:`package_files` / :func:`wheel_files` -- the package's source files and the wheel's
  files, to compare;
* :func:`isolated_env` -- a fresh venv holding only the wheel, borrowing the heavy
  dependencies from another environment without its editable install;
* :func:`run_notebooks` -- execute notebooks with an environment's interpreter from a folder
  outside the repository (``tools/execute_notebooks.py``), and return the per-notebook reports.

Example:
    >>> from tools import wheel_install               # doctest: +SKIP
    >>> whl = wheel_install.build_wheel(ROOT, tmp)    # doctest: +SKIP
    >>> py = wheel_install.isolated_env(tmp / "venv", whl)          # doctest: +SKIP
    >>> wheel_install.run_notebooks(py, [nb], tmp / "run")          # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "course_utils"
RUNNER = Path(__file__).resolve().with_name("execute_notebooks.py")
SANITIZE = ROOT / "tests" / "sanitize.cfg"
# never part of a package's sources, whatever the tree holds
_JUNK_DIRS = {"__pycache__", ".ipynb_checkpoints"}
_JUNK_SUFFIXES = {".pyc", ".pyo"}
# without git, a plain copy skips what .gitignore lists for the repository root
_NOT_IN_A_CLONE = {".git", ".venv", ".colab-like", "build", "dist", "data", "test-artifacts"}


def _is_junk(relative: Path) -> bool:
    return bool(_JUNK_DIRS.intersection(relative.parts)) or relative.suffix in _JUNK_SUFFIXES \
        or relative.name.endswith(".egg-info") or any(p.endswith(".egg-info") for p in relative.parts)


def checkout_files(root: Path = ROOT) -> list[Path]:
    """The files (relative paths) a clean clone of ``root`` would have, plus new files not yet committed.

    With git: tracked files and untracked files that ``.gitignore`` does not exclude (a module
    written but not yet added still counts: the wheel must hold it once committed). Without git
    (an unpacked archive): every file outside the build and data folders.
    """
    root = Path(root)
    try:
        listing = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                 capture_output=True, text=True, check=True).stdout
        files = [Path(p) for p in listing.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(root) for p in root.rglob("*") if p.is_file()
                 and not _NOT_IN_A_CLONE.intersection(p.relative_to(root).parts[:1])]
    return sorted(p for p in files if (root / p).is_file() and not _is_junk(p))


def package_files(root: Path = ROOT) -> set[str]:
    """The package's source files as the wheel should hold them (``course_utils/...`` posix paths)."""
    return {p.as_posix() for p in checkout_files(root) if p.parts[0] == PACKAGE}


def wheel_files(wheel: Path) -> set[str]:
    """Every file in the wheel except its ``*.dist-info`` metadata."""
    with zipfile.ZipFile(wheel) as zf:
        return {name for name in zf.namelist() if not name.split("/")[0].endswith(".dist-info")}


def _local_backend(pyproject: Path) -> str | None:
    """The build backend's module name when this environment has every ``build-system.requires``
    (then the wheel is built here, without network), else ``None``."""
    import importlib.metadata as md

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        from pip._vendor import tomli as tomllib
    try:
        from packaging.requirements import Requirement
    except ModuleNotFoundError:
        from pip._vendor.packaging.requirements import Requirement

    build_system = tomllib.loads(pyproject.read_text())["build-system"]
    for text in build_system["requires"]:
        requirement = Requirement(text)
        try:
            if not requirement.specifier.contains(md.version(requirement.name), prereleases=True):
                return None
        except md.PackageNotFoundError:
            return None
    return build_system["build-backend"]


def build_wheel(root: Path, out_dir: Path, *, extra_files: dict | None = None) -> Path:
    """Build the wheel from the files of a clean clone of ``root`` (copied to a scratch folder).

    ``extra_files`` ({relative path: text}) are added to the copy first (tests use it to probe
    that data files ship). The build uses this environment's setuptools when it is recent enough
    (no network), else pip's isolated build environment. Returns the path of the ``.whl``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-wheel-src-") as scratch:
        src = Path(scratch) / "src"
        for rel in checkout_files(root):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(root) / rel, src / rel)
        for rel, text in (extra_files or {}).items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
        backend = _local_backend(src / "pyproject.toml")
        if backend:                                            # PEP 517's build_wheel hook, called directly
            command = [sys.executable, "-c", "import importlib, sys; "
                       "importlib.import_module(sys.argv[1]).build_wheel(sys.argv[2])", backend, str(out_dir)]
        else:                                                  # pip fetches the build requirements
            command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out_dir), "."]
        done = subprocess.run(command, cwd=src, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the wheel failed ({' '.join(command)}):\n{done.stdout}\n{done.stderr}")
    wheels = sorted(out_dir.glob("course_utils-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise RuntimeError(f"the build reported success but left no course_utils wheel in {out_dir}")
    return wheels[-1]


def site_packages(python: str) -> list[str]:
    """The site-packages folders (purelib, platlib) of ``python``'s environment."""
    code = "import sysconfig, json; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
    paths = json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
    return list(dict.fromkeys(paths))


def install_wheel(python: str, wheel: Path, *, pip_python: str = sys.executable) -> None:
    """``pip install --no-deps --force-reinstall`` the wheel into ``python``'s environment (as Colab's cell does)."""
    command = [pip_python, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
               "--force-reinstall", "--quiet", str(wheel)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"installing the wheel failed ({' '.join(command)}):\n{done.stdout}\n{done.stderr}")


def isolated_env(venv_dir: Path, wheel: Path, *, deps_from: str = sys.executable) -> Path:
    """A fresh venv with the wheel installed non-editable and ``--no-deps``; returns its python.

    The dependencies (torch, matplotlib, nbclient, ...) come from the site-packages of
    ``deps_from``'s environment through a plain path line in a ``.pth`` file. Python processes
    ``.pth`` files only in the site folders themselves, not in folders such a line adds, so that
    environment's editable install of the course (its finder ``.pth``) is never run: the only
    ``course_utils`` the fresh venv can import is the wheel's.
    """
    venv_dir = Path(venv_dir)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv_dir)], check=True)
    python = venv_dir / "bin" / "python"
    own = site_packages(str(python))[0]
    Path(own, "_course_dependencies.pth").write_text("\n".join(site_packages(deps_from)) + "\n")
    install_wheel(str(python), wheel)
    return python


def clean_env(**settings) -> dict:
    """This process's environment for a run that must not see the checkout: no ``PYTHONPATH``, no
    user Jupyter folders, and ``settings`` (e.g. ``COURSE_MODE="fast"``) on top."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({k: str(v) for k, v in settings.items()})
    return env


def run_notebooks(python: Path, notebooks: list[Path], workdir: Path, *, env: dict | None = None,
                  timeout: int = 1200, echo: bool = False) -> list[dict]:
    """Execute ``notebooks`` with ``python`` in ``workdir`` (outside the repository); return their reports.

    Each report (see ``tools/execute_notebooks.py``) has ``status`` (``passed``, ``error``,
    ``timeout``, ``differs``), ``error``, ``error_cell``, ``checked_differ``, ``stderr``, ``seconds`` and
    ``probe`` (the ``course_utils`` file and library versions the kernel used). ``echo`` shows the
    runner's one line per notebook as it goes.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(clean_env() if env is None else env)
    # the kernels must be this interpreter's: no user or system kernel specs, no user config
    env.setdefault("JUPYTER_DATA_DIR", str(workdir / ".jupyter-data"))
    env.setdefault("JUPYTER_CONFIG_DIR", str(workdir / ".jupyter-config"))
    env.setdefault("JUPYTER_RUNTIME_DIR", str(workdir / ".jupyter-runtime"))
    env.setdefault("IPYTHONDIR", str(workdir / ".ipython"))
    report = workdir / "report.json"
    command = [str(python), str(RUNNER), "--workdir", str(workdir), "--report", str(report),
               "--timeout", str(timeout), "--sanitize", str(SANITIZE), *map(str, notebooks)]
    done = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE,
                          stderr=None if echo else subprocess.PIPE, text=True)
    if not report.is_file():
        raise RuntimeError(f"the notebook runner wrote no report (exit {done.returncode}):\n{(done.stderr or '')[-3000:]}")
    return json.loads(report.read_text())
