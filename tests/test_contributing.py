"""CONTRIBUTING.md's module map names every module of the package, and nothing that is gone."""
import re
from pathlib import Path

from course_utils import _course

ROOT = _course.checkout_root()


def _map() -> str:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    start = text.index("| module | holds |")
    return text[start: text.index("\n\n", start)]


def test_every_module_is_in_the_module_map():
    table = _map()
    named = set(re.findall(r"`([A-Za-z_][\w]*)/?`", table))
    package = ROOT / "course_utils"
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
                and p.name != "reference_data"}
    missing = sorted(modules - named)
    assert not missing, f"add these modules to CONTRIBUTING.md's package layout table: {missing}"


def test_the_module_map_names_no_module_that_is_gone():
    first_column = [row.split("|")[1] for row in _map().splitlines()[2:]]
    named = {n for cell in first_column for n in re.findall(r"`([A-Za-z_]\w*)/?`", cell)}
    package = ROOT / "course_utils"
    gone = sorted(n for n in named if not (package / f"{n}.py").is_file() and not (package / n).is_dir())
    assert not gone, f"CONTRIBUTING.md's package layout names modules that do not exist: {gone}"


def test_every_path_the_guides_cite_exists():
    cited = set()
    for guide in ("CONTRIBUTING.md", "README.md"):
        text = (ROOT / guide).read_text()
        cited |= set(re.findall(r"\b((?:tests|tools|course_utils|notebooks|requirements)/[\w./-]*\w)", text))
    templates = ("NN", "*")   # patterns such as notebooks/solutions/NN_name.ipynb
    produced = ("course_utils/reference_data/reference_07.json",)   # written by a GPU run, when one is made
    missing = sorted(p for p in cited if not any(t in p for t in templates) and not p.endswith("_")
                     and p not in produced and not (ROOT / p).exists())
    assert not missing, f"README.md or CONTRIBUTING.md cite paths that do not exist: {missing}"
