"""Execute notebooks in a folder of your choice and report, per notebook, what happened (JSON).

This file is run *by path* with the interpreter of the environment under test (an isolated venv
holding the installed wheel, or the Colab-like venv), so it imports nothing from the repository:
the kernels it starts are that interpreter's, and what they import is what that environment has.

For each notebook: a copy is executed in ``WORKDIR/<stem>/`` (so the repository is neither the
working folder nor on ``sys.path``) with one extra last cell that reports, from inside the
kernel, which ``course_utils`` and which library versions it used and how much CPU time the
kernel took (user + system, all threads: a measure that does not depend on the machine's load). The report says whether every
cell ran, which cell failed and how, whether each ``# NBVAL_CHECK_OUTPUT`` cell printed what the
notebook stores (after the same sanitizers as the test suite), what reached stderr, and the time.

Usage::

    PYTHON execute_notebooks.py --workdir DIR --report report.json [--timeout 600] \\
        [--sanitize tests/sanitize.cfg] NOTEBOOK.ipynb ...
"""
from __future__ import annotations

import argparse
import configparser
import json
import re
import sys
import time
from pathlib import Path

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
PROBE_PREFIX = "@@course-probe@@"
PROBE = f"""\
import json as _json, sys as _sys, importlib.metadata as _md, resource as _resource
import course_utils as _cu
_usage = _resource.getrusage(_resource.RUSAGE_SELF)
def _version(name):
    try:
        return _md.version(name)
    except _md.PackageNotFoundError:
        return None
print({PROBE_PREFIX!r} + _json.dumps({{
    "course_utils": _cu.__file__, "python": _sys.version.split()[0], "executable": _sys.executable,
    "kernel_cpu_seconds": round(_usage.ru_utime + _usage.ru_stime, 1),
    "versions": {{name: _version(name) for name in ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets",
                                                 "ipykernel", "tqdm", "nbformat", "nbclient")}}}}))
"""


def _sanitizers(cfg: Path | None) -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs of an nbval sanitize file, in file order."""
    if cfg is None:
        return []
    parser = configparser.ConfigParser()
    parser.read(cfg)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def _text(cell) -> str:
    """What a code cell printed: its stdout and its results' plain text, in order."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data") and "text/plain" in out.get("data", {}):
            parts.append(out["data"]["text/plain"])
    return "".join(parts)


def _sanitize(text: str, sanitizers) -> str:
    for regex, replace in sanitizers:
        text = regex.sub(replace, text)
    return text


def _is_checked(cell) -> bool:
    return cell.get("cell_type") == "code" and cell.get("source", "").lstrip().startswith(CHECK_MARKER)


def run_one(path: Path, workdir: Path, timeout: int, sanitizers) -> dict:
    """Execute a copy of the notebook at ``path`` in ``workdir/<stem>`` and return its report (a dict)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    expected = {i: _text(cell) for i, cell in enumerate(nb.cells) if _is_checked(cell)}
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    folder = workdir / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    report = {"notebook": path.name, "status": "passed", "error": None, "error_cell": None}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError as err:
        report["status"] = "timeout"
        report["error"] = f"a cell ran longer than {timeout} s (--timeout): {str(err).strip()[-2000:]}"
    except (CellExecutionError, DeadKernelError) as err:
        report["status"] = "error"
        report["error"] = str(err).strip()[-3000:]
    report["seconds"] = round(time.perf_counter() - start, 1)
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for i in code_cells:
        if any(out.get("output_type") == "error" for out in nb.cells[i].get("outputs", [])):
            report["error_cell"] = i
            break
    if report["status"] == "timeout":   # the last cell that started
        report["error_cell"] = max((i for i in code_cells if nb.cells[i].get("execution_count")), default=None)
    ran = [i for i in expected if nb.cells[i].get("execution_count")]
    report["checked_cells"] = len(expected)
    report["checked_differ"] = [
        {"cell": i, "stored": expected[i], "now": _text(nb.cells[i])}
        for i in ran if _sanitize(_text(nb.cells[i]), sanitizers) != _sanitize(expected[i], sanitizers)]
    if report["status"] == "passed" and report["checked_differ"]:
        report["status"] = "differs"
    report["stderr"] = [
        {"cell": i, "text": out.get("text", "")[-500:]} for i in code_cells for out in nb.cells[i].get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"]
    probe = _text(nb.cells[-1])
    report["probe"] = json.loads(probe.split(PROBE_PREFIX, 1)[1]) if PROBE_PREFIX in probe else None
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, required=True, help="folder the notebooks run in (outside the repo)")
    parser.add_argument("--report", type=Path, required=True, help="JSON file to write the reports to")
    parser.add_argument("--timeout", type=int, default=1200, help="per-cell time limit in seconds")
    parser.add_argument("--sanitize", type=Path, default=None, help="nbval sanitize file for checked outputs")
    args = parser.parse_args(argv)
    sanitizers = _sanitizers(args.sanitize)
    reports = []
    for path in args.notebooks:
        reports.append(run_one(path.resolve(), args.workdir.resolve(), args.timeout, sanitizers))
        args.report.write_text(json.dumps(reports, indent=1))   # after each, so a crash keeps the others
        print(f"{path.name}: {reports[-1]['status']} ({reports[-1]['seconds']} s)", file=sys.stderr, flush=True)
    return 0 if all(r["status"] == "passed" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
