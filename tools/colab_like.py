"""Every instructor notebook in a Colab-like environment, from outside the repository.

``python -m tools.colab_like`` (from the repository root, with the course's ``.venv``):

1. makes ``.colab-like/venv`` (git-ignored) with Python 3.13 and ``requirements/colab.txt``
   (torch 2.11.0, torchvision 0.26.0, ipywidgets 7.7.1, matplotlib, numpy, tqdm, nbformat,
   nbclient, ipykernel), once, and again when that file changes: a few GB, minutes;
2. builds the course's wheel from this checkout and installs it there with ``--no-deps``, as a
   lesson's Colab cell does;
3. executes every ``notebooks/solutions/NN_*.ipynb`` in a scratch folder outside the repository,
   in ``fast`` mode, with the CIFAR-10 mini subset given by ``COURSE_MINI_CIFAR`` (default: the
   copy beside the checkout, ``../shared/data/cifar10_mini.npz``).

It prints the versions and one line per lesson (passed / error in cell N / a checked output
differs; wall-clock seconds and the kernel's CPU seconds, user + system), writes
``.colab-like/report.json``, and exits 1 when a lesson did not pass. Not part of
``./course.sh test``: it needs a second multi-GB torch.

Example:
    $ .venv/bin/python -m tools.colab_like                 # all lessons
    $ .venv/bin/python -m tools.colab_like --lessons 02 07 # some of them
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import wheel_install

ROOT = wheel_install.ROOT
REQUIREMENTS = ROOT / "requirements" / "colab.txt"
HOME = ROOT / ".colab-like"
PYTHON_VERSION = "3.13"


def find_python(version: str = PYTHON_VERSION) -> str:
    """An interpreter of ``version`` that runs: pyenv's newest ``version.*``, else ``pythonX.Y`` on PATH."""
    name = f"python{version}"
    candidates = []
    if shutil.which("pyenv"):
        bare = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True).stdout.split()
        for candidate in sorted((v for v in bare if v.startswith(version + ".")), reverse=True):
            found = subprocess.run(["pyenv", "which", name], capture_output=True, text=True,
                                   env={**os.environ, "PYENV_VERSION": candidate})
            candidates.append(found.stdout.strip())
    candidates.append(shutil.which(name))
    for python in filter(None, candidates):
        check = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if check.returncode == 0 and check.stdout.strip() == version:
            return python
    raise SystemExit(f"error: no Python {version} found (looked in pyenv and for {name} on PATH). "
                     f"Install it (e.g. `pyenv install {version}`) or pass --python /path/to/{name}.")


def ensure_venv(venv: Path, python: str) -> Path:
    """The Colab-like venv's python, (re)installing ``requirements/colab.txt`` when it changed."""
    vpy = venv / "bin" / "python"
    stamp = venv / ".colab-like-installed"
    want = hashlib.sha256(REQUIREMENTS.read_bytes() + python.encode()).hexdigest()
    if vpy.exists() and stamp.is_file() and stamp.read_text() == want:
        return vpy
    print(f">> creating {venv} with {python} and {REQUIREMENTS.relative_to(ROOT)} (first time: minutes, a few GB)",
          flush=True)
    subprocess.run([python, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(vpy), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(want)
    return vpy


def _mini_cifar() -> str:
    value = os.environ.get("COURSE_MINI_CIFAR", "").strip()
    if value:
        return value
    from course_utils import _course

    found = _course.shared_mini_cifar()
    if found is None:
        raise SystemExit("error: the CIFAR-10 mini subset was not found; set COURSE_MINI_CIFAR=/path/to/cifar10_mini.npz "
                         "(developer machines have it at ../shared/data/cifar10_mini.npz).")
    return str(found)


def _note(report: dict) -> str:
    if report["status"] == "timeout":
        return f"cell {report['error_cell']} ran longer than the time limit (--timeout)"
    if report["status"] == "error":
        last = [line for line in (report["error"] or "").splitlines() if line.strip()]
        return f"cell {report['error_cell']}: {last[-1][:140] if last else '?'}"
    if report["status"] == "differs":
        return "checked output differs in cell(s) " + ", ".join(str(d["cell"]) for d in report["checked_differ"])
    if report["stderr"]:
        return f"{len(report['stderr'])} stderr output(s), first: {report['stderr'][0]['text'].strip()[:100]!r}"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.colab_like", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=None, help=f"the Python {PYTHON_VERSION} to build the venv with")
    parser.add_argument("--venv", type=Path, default=HOME / "venv", help="where the Colab-like venv lives")
    parser.add_argument("--lessons", nargs="*", default=None, help="lesson numbers to run (default: every one)")
    parser.add_argument("--mode", default="fast", choices=("fast", "cpu", "gpu"), help="COURSE_MODE of the run")
    parser.add_argument("--timeout", type=int, default=1200,
                        help="per-cell time limit in seconds (generous: a shared machine under load is slow)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder with the executed notebooks")
    args = parser.parse_args(argv)

    notebooks = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.lessons]
    if not notebooks:
        raise SystemExit(f"error: no instructor notebook matches --lessons {' '.join(args.lessons or [])}")
    mini = _mini_cifar()
    vpy = ensure_venv(args.venv.resolve(), args.python or find_python())

    scratch = Path(tempfile.mkdtemp(prefix="course-colab-like-"))
    try:
        wheel = wheel_install.build_wheel(ROOT, scratch / "dist")
        wheel_install.install_wheel(str(vpy), wheel, pip_python=str(vpy))
        env = wheel_install.clean_env(COURSE_MODE=args.mode, COURSE_PROGRESS="0", COURSE_MINI_CIFAR=mini,
                                      COURSE_DATA_DIR=scratch / "data")
        print(f">> running {len(notebooks)} notebook(s) in {scratch / 'run'} ({args.mode} mode)", flush=True)
        reports = wheel_install.run_notebooks(vpy, notebooks, scratch / "run", env=env, timeout=args.timeout,
                                              echo=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    probe = next((r["probe"] for r in reports if r["probe"]), None)
    if probe:
        versions = " | ".join(f"{k} {v}" for k, v in probe["versions"].items())
        print(f"\nColab-like environment: Python {probe['python']} | {versions}")
        print(f"course_utils: {wheel.name} installed --no-deps, imported from {Path(probe['course_utils']).parent}")
    print(f"\n{'notebook':48s} {'result':8s} {'wall s':>7s} {'CPU s':>7s}  note")
    for r in reports:
        cpu = f"{r['probe']['kernel_cpu_seconds']:7.1f}" if r["probe"] else f"{'-':>7s}"
        print(f"{r['notebook']:48s} {r['status']:8s} {r['seconds']:7.1f} {cpu}  {_note(r)}")
    failed = [r for r in reports if r["status"] != "passed"]
    print(f"\n{len(reports) - len(failed)} passed, {len(failed)} failed")
    HOME.mkdir(exist_ok=True)
    (HOME / "report.json").write_text(json.dumps({"wheel": wheel.name, "probe": probe, "notebooks": reports}, indent=1))
    print(f"details: {(HOME / 'report.json').relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
