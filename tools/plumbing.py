"""How much of a lesson's code is plumbing rather than the idea it teaches (issue 20's measure).

    python tools/plumbing.py notebooks/solutions/*.ipynb

Each top-level statement of each code cell is sorted into one kind, and its lines counted
(blank and comment lines are not):

* **matplotlib**: raw figure code written in the notebook (``plt.…``, ``fig.…``, methods on an
  axes such as ``ax.set_title``, ``axes[0].plot``): drawing that belongs in ``course_utils.plotting``;
* **helpers**: functions and classes defined in the notebook outside an exercise's solution cell
  (machinery that belongs in the package);
* **statistics**: verdict and statistics logic written by hand in the notebook (a ``verdict(...)``
  helper or call, a binomial standard error ``sqrt(p * (1 - p) / n)``): what ``course_utils.stats``
  and ``course_utils.claims`` hold;
* **claims**: the lesson's claims and expectations, declared through the claims module
  (``lesson.claim/expect/report/verify``, ``claims.…``, ``stats.…``). The design map puts these in
  the lesson on purpose (COURSE_DESIGN §9: verdicts "printed from variables in the lesson's claims
  cell", each measured sentence "backed, right there, by an expectation"), as a figure is drawn in
  the lesson by a call to ``plotting``: they are counted and shown, but are not plumbing;
* everything else, and every line of an exercise's solution cell, is the lesson's **idea**.

The generated title and Colab cells are not counted. Plumbing = matplotlib + helpers + statistics,
as a share of all counted lines. The last column gives the share the first version of this tool
reported, which also counted the claims declarations, and every line of a cell that mentions a
claim, as plumbing.
"""
from __future__ import annotations

import ast
import json
import re
import sys
import warnings
from pathlib import Path

_MATPLOTLIB = re.compile(r"(^|[^\w.])(plt|fig|figure)\.|(^|[^\w.])(ax|axes|ax_\w+|axs)(\[[^\]]*\])*\.(set_|plot|axhline|axvline|"
                         r"legend|grid|text|annotate|fill_between|scatter|semilogy|loglog|semilogx|imshow|axis|"
                         r"twinx|bar|hist|errorbar|tick_params|spines|margins|invert)")
_HAND_STATISTICS = re.compile(r"\bverdict\(|\bsqrt\(.*\(1 ?- ?")   # a verdict helper; a standard error by hand
_CLAIMS = re.compile(r"\b(claims|stats)\.|\blesson\.(claim|expect|report|verify)\b")
_CLAIMS_CELL = re.compile(r"claim|verdict", re.I)   # the first version's rule: such a cell was all plumbing
KINDS = ("idea", "claims", "matplotlib", "helpers", "statistics")
PLUMBING = ("matplotlib", "helpers", "statistics")


def _size(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def classify(source: str, solution: bool = False) -> dict:
    """Lines of ``source`` (one code cell) by kind, plus ``first_version``: the lines the first
    version of this tool called plumbing. A solution cell is all idea."""
    counts = dict.fromkeys(KINDS, 0)
    counts["first_version"] = 0
    lines = source.splitlines()
    if solution:
        counts["idea"] = _size(source)
        return counts
    try:
        with warnings.catch_warnings():   # a LaTeX backslash in a notebook's string is not this tool's business
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(source)
    except SyntaxError:
        counts["idea"] = _size(source)
        return counts
    claims_cell = bool(_CLAIMS_CELL.search(source))
    for node in tree.body:
        text = "\n".join(lines[node.lineno - 1: node.end_lineno])
        size = _size(text)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kind = "statistics" if "verdict" in node.name else "helpers"
        elif _HAND_STATISTICS.search(text):
            kind = "statistics"
        elif _CLAIMS.search(text):
            kind = "claims"
        elif _MATPLOTLIB.search(text):
            kind = "matplotlib"
        else:
            kind = "idea"
        counts[kind] += size
        if kind in PLUMBING or kind == "claims" or (claims_cell and not isinstance(node, (ast.FunctionDef, ast.ClassDef))):
            counts["first_version"] += size
    return counts


def measure(path) -> dict:
    """Line counts by kind for the notebook at ``path``, the plumbing share, and the first version's share."""
    nb = json.loads(Path(path).read_text())
    total = dict.fromkeys(KINDS + ("first_version",), 0)
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("course", {})
        if meta.get("role") in ("title", "colab"):
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for kind, n in classify(source, solution=meta.get("role") == "solution").items():
            total[kind] += n
    lines = sum(total[kind] for kind in KINDS)
    plumbing = sum(total[kind] for kind in PLUMBING)
    return dict(total, lines=lines, plumbing=plumbing, share=plumbing / lines if lines else 0.0,
                first_version_share=total["first_version"] / lines if lines else 0.0)


def main(argv=None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or sorted(Path("notebooks/solutions").glob("[0-9][0-9]_*.ipynb"))
    print(f"{'notebook':46s} {'lines':>5s} {'claims':>6s} {'matplotlib':>10s} {'helpers':>7s} {'statistics':>10s} "
          f"{'plumbing':>8s} {'first rule':>10s}")
    for path in paths:
        m = measure(path)
        print(f"{Path(path).name[:46]:46s} {m['lines']:5d} {m['claims']:6d} {m['matplotlib']:10d} {m['helpers']:7d} "
              f"{m['statistics']:10d} {100 * m['share']:7.1f}% {100 * m['first_version_share']:9.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
