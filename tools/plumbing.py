"""How much of a lesson's code is plumbing rather than the idea it teaches (issue 20's measure).

    python tools/plumbing.py notebooks/solutions/*.ipynb

Each top-level statement of each code cell is sorted into one kind, and its lines counted:

* **matplotlib**: raw figure code written in the notebook (`plt.…`, `fig.…`, methods on an
  axes such as `ax.set_title`, `axes[0].plot`): drawing that belongs in `course_utils.plotting`;
* **helpers**: functions and classes defined in the notebook outside an exercise's solution cell
  (the machinery that belongs in the package);
* **claims**: verdict and statistics code (`claims.`, `stats.`, `lesson.claim/expect/report`,
  hand-written `verdict(...)` helpers, standard errors computed by hand, and all of a cell that
  declares a lesson's claims);
* everything else, and every line of an exercise's solution cell, is the lesson's **idea**.

The generated title and Colab cells are not counted. Plumbing = matplotlib + helpers + claims,
as a share of all counted lines.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

_MATPLOTLIB = re.compile(r"(^|[^\w.])(plt|fig|figure)\.|(^|[^\w.])(ax|axes|ax_\w+|axs)(\[[^\]]*\])*\.(set_|plot|axhline|axvline|"
                         r"legend|grid|text|annotate|fill_between|scatter|semilogy|loglog|semilogx|imshow|axis|"
                         r"twinx|bar|hist|errorbar|tick_params|spines|margins|invert)")
_CLAIMS = re.compile(r"\b(claims|stats)\.|\blesson\.(claim|expect|report|verify)\b|\bverdict\(|\bsqrt\(.*\(1 ?- ?")
_CLAIMS_CELL = re.compile(r"claim|verdict", re.I)  # a cell that states or decides the lesson's claims
KINDS = ("idea", "matplotlib", "helpers", "claims")


def classify(source: str, solution: bool = False) -> dict:
    """Lines of ``source`` (one code cell) by kind; a solution cell is all idea."""
    counts = dict.fromkeys(KINDS, 0)
    lines = source.splitlines()
    if solution:
        counts["idea"] = sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))
        return counts
    try:
        tree = ast.parse(source)
    except SyntaxError:
        counts["idea"] = len(lines)
        return counts
    claims_cell = bool(_CLAIMS_CELL.search(source))  # a lesson's claims cell: all of it is verdict machinery
    for node in tree.body:
        text = "\n".join(lines[node.lineno - 1: node.end_lineno])
        size = sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "claims" if _CLAIMS.search(text) and "verdict" in node.name else "helpers"
        elif claims_cell or _CLAIMS.search(text):
            kind = "claims"
        elif _MATPLOTLIB.search(text):
            kind = "matplotlib"
        else:
            kind = "idea"
        counts[kind] += size
    return counts


def measure(path) -> dict:
    """Line counts by kind for the notebook at ``path``, and the plumbing share."""
    nb = json.loads(Path(path).read_text())
    total = dict.fromkeys(KINDS, 0)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("course", {})
        if meta.get("role") in ("title", "colab"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for kind, n in classify(source, solution=meta.get("role") == "solution").items():
            total[kind] += n
    lines = sum(total.values())
    plumbing = lines - total["idea"]
    return dict(total, lines=lines, plumbing=plumbing, share=plumbing / lines if lines else 0.0)


def main(argv=None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or sorted(Path("notebooks/solutions").glob("[0-9][0-9]_*.ipynb"))
    print(f"{'notebook':48s} {'lines':>6s} {'matplotlib':>10s} {'helpers':>8s} {'claims':>7s} {'plumbing':>9s}")
    for path in paths:
        m = measure(path)
        print(f"{Path(path).name[:48]:48s} {m['lines']:6d} {m['matplotlib']:10d} {m['helpers']:8d} {m['claims']:7d} "
              f"{100 * m['share']:8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
