"""The install story: loose ranges for users (Colab keeps its torch), pins for CI, one test command,
and a wheel that holds the whole package and runs a lesson from outside the repository."""
import json
import re
import subprocess

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib
from pathlib import Path

import pytest

from tools import wheel_install

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
    assert "-e .[lab,test,book]" in text


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./course.sh test" in readme and "./course.sh lab" in readme
    assert re.search(r"^\./course\.sh test$", ci, re.M)


# ---------------------------------------------------------------------------------------------
# The package as Colab installs it: a wheel built from a clean clone, installed non-editable.

PROBE_DATA = "course_utils/reference_data/reference_probe.json"   # stands for a committed reference result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel of this checkout, built from the files a clean clone has (plus one probe data file)."""
    return wheel_install.build_wheel(ROOT, tmp_path_factory.mktemp("dist"),
                                     extra_files={PROBE_DATA: '{"probe": true}\n'})


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The python of a fresh venv holding only the wheel (``--no-deps``); dependencies borrowed, checkout unreachable."""
    return wheel_install.isolated_env(tmp_path_factory.mktemp("isolated") / "venv", wheel)


@pytest.mark.slow
def test_wheel_holds_every_file_of_the_package_and_nothing_else(wheel):
    in_wheel = wheel_install.wheel_files(wheel)
    expected = wheel_install.package_files(ROOT) | {PROBE_DATA}
    extra, missing = sorted(in_wheel - expected), sorted(expected - in_wheel)
    assert not extra, f"the wheel holds files that are not the package's sources: {extra}"
    assert not missing, (
        f"files of course_utils/ are missing from the wheel: {missing}. A sub-package needs an __init__.py; "
        f"a data file needs a pattern in [tool.setuptools.package-data] of pyproject.toml")
    # what a learner installs: every sub-package, no notebooks (solutions), no tests or tools
    assert {"course_utils/checks/__init__.py", "course_utils/widgets/__init__.py"} <= in_wheel
    assert not [f for f in in_wheel if f.endswith(".ipynb") or not f.startswith("course_utils/")]


@pytest.mark.slow
def test_installed_wheel_is_used_not_the_checkout(installed, tmp_path):
    code = ("import json, course_utils\n"
            "from course_utils import _course, reference\n"
            "print(json.dumps({'file': course_utils.__file__, 'checkout': str(_course.checkout_root()),\n"
            "                  'reference_dir': str(reference.default_path().parent)}))\n")
    done = subprocess.run([str(installed), "-c", code], cwd=tmp_path, env=wheel_install.clean_env(),
                          capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    venv = installed.parents[1]
    assert Path(found["file"]).is_relative_to(venv), f"course_utils came from {found['file']}, not the installed wheel"
    assert found["checkout"] == "None"
    # the lookup the lessons use finds data shipped in the wheel
    assert (Path(found["reference_dir"]) / Path(PROBE_DATA).name).is_file()
    assert Path(found["reference_dir"]).is_relative_to(venv)
    grade = subprocess.run([str(venv / "bin" / "course-grade"), "--help"], cwd=tmp_path, env=wheel_install.clean_env(),
                           capture_output=True, text=True)
    assert grade.returncode == 0 and "usage" in grade.stdout.lower(), grade.stderr


@pytest.mark.slow
def test_lesson_01_runs_from_outside_the_repository_with_the_installed_wheel(installed, tmp_path):
    notebook = min((ROOT / "notebooks" / "solutions").glob("01_*.ipynb"))
    env = wheel_install.clean_env(COURSE_MODE="fast", COURSE_PROGRESS="0", COURSE_DATA_DIR=tmp_path / "data")
    (report,) = wheel_install.run_notebooks(installed, [notebook], tmp_path / "run", env=env, timeout=300)
    assert report["status"] == "passed", report["error"] or report["checked_differ"]
    assert report["checked_cells"] >= 1 and not report["stderr"]
    assert Path(report["probe"]["course_utils"]).is_relative_to(installed.parents[1])
    assert not Path(report["probe"]["course_utils"]).is_relative_to(ROOT)


def test_reference_results_are_looked_up_inside_the_package():
    from course_utils import reference

    assert reference.default_path().parent == ROOT / "course_utils" / "reference_data"
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "*.json" in data_files["course_utils.reference_data"]


def test_reference_command_will_not_write_inside_an_installed_package(monkeypatch, capsys):
    from course_utils import _course, reference

    monkeypatch.setattr(_course, "checkout_root", lambda: None)
    monkeypatch.setattr(reference, "run_reference", lambda *a, **k: pytest.fail("must stop before training"))
    with pytest.raises(SystemExit) as stop:
        reference.main([])
    assert stop.value.code == 2
    assert "--out reference_07.json" in capsys.readouterr().err
