"""The install story: loose ranges for users (Colab keeps its torch), pins for CI, one test command."""
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins():
    """{name: {marker or "": version}} from requirements/constraints.txt."""
    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.strip().partition("==")
            assert version, f"constraints.txt must pin exact versions, got {line!r}"
            pins.setdefault(name.lower().replace("_", "-"), {})[marker.strip()] = version
    return pins


def test_package_dependencies_are_ranges_not_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert "==" not in requirement, f"{requirement}: keep ranges loose so Colab keeps its own packages"
    assert any(r.startswith("ipywidgets") and "<9" in r and ">=7" in r for r in project["dependencies"])
    assert project["optional-dependencies"]["test"] and project["optional-dependencies"]["lab"]


def test_every_dependency_is_pinned_for_ci_and_within_its_range():
    pins = _pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements/constraints.txt"
    assert pins["torch"] == {"": "2.14.1"} and pins["torchvision"] == {"": "0.29.1"}


def test_pins_cover_every_supported_python():
    # pins are split only at the 3.11 boundary (Python 3.10 needs older numpy, ipython, ...)
    sides = {'python_version >= "3.11"', 'python_version < "3.11"'}
    for name, versions in _pins().items():
        assert set(versions) == {""} or set(versions) <= sides, f"{name}: unexpected markers {sorted(versions)}"
    assert set(_pins()["numpy"]) == sides, "numpy needs a pin for Python 3.10 and one for 3.11+"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"


def test_conda_environment_uses_the_same_pins_and_installs_the_package():
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text
    assert "-c requirements/constraints.txt" in text
    assert "-e .[lab,test]" in text


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./course.sh test" in readme and "./course.sh lab" in readme
    assert re.search(r"^\./course\.sh test$", ci, re.M)
