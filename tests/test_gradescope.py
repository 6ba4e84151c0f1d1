"""The Gradescope autograder bundle, built, installed and run here, without Gradescope.

One bundle for lesson 01 is built (``python -m course_utils.grading.gradescope 01``) and laid out as
Gradescope lays it out (the zip unpacked to ``ROOT/source``, ``run_autograder`` copied to ``ROOT``).
Its ``setup.sh`` runs for real (apt skipped) into a throwaway virtual environment that borrows this
environment's packages (a ``.pth`` line) with the package index turned off (``PIP_NO_INDEX``): it
succeeds only if every package it asks for, at the version ``constraints.txt`` pins, is what the
course's own install installed, and ``pip check`` passes. (Downloading the CPU torch wheel and the
rest again would take minutes and the network; what differs on Gradescope is only where torch's
wheel comes from.) Then ``run_autograder``, with what ``setup.sh`` installed, grades a correct,
a wrong, a crashing and a hostile submission (``tests/test_grading.py``'s tiny lesson-01
notebooks), and each ``results.json`` is checked against Gradescope's documented format
(:func:`assert_gradescope_format`) and for its scores. Submissions that are no notebook of the
lesson are graded in this process (no kernel starts for them).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_utils import _course, data
from course_utils import grading
from course_utils.grading import gradescope, submission
from course_utils.grading.results import ExerciseResult, SubmissionResult
from test_grading import GOOD_RUN, ISOLATION, WRONG_RUN, WRONG_STEP, _marked_processes, _stdout_rewriter, tiny

ROOT = _course.checkout_root()
LESSON = "01"
POINTS = {c.id: float(c.points) for c in grading.lesson_checks(LESSON)}   # every exercise of the lesson, in order
FULL = sum(POINTS.values())

# --------------------------------------------------------------------------- Gradescope's documented format
# https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("Output format"): every key optional,
# but a score either at the top or on each test; a test's status is "passed" or "failed".
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
       "test_output_format": str, "test_name_format": str, "visibility": str, "stdout_visibility": str,
       "extra_data": dict, "tests": list, "leaderboard": list}
TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
        "number": str, "output": str, "output_format": str, "tags": list, "visibility": str, "extra_data": dict}


def assert_gradescope_format(data: dict) -> None:
    """Raise AssertionError unless ``data`` is a results.json Gradescope documents (no other keys, each of
    its type, enumerations respected, finite numbers, a score somewhere)."""
    def check(obj, schema, where):
        assert isinstance(obj, dict), f"{where} is not an object"
        assert set(obj) <= set(schema), f"{where} has keys Gradescope does not know: {set(obj) - set(schema)}"
        for key, value in obj.items():
            assert isinstance(value, schema[key]) and not isinstance(value, bool), f"{where}.{key}: {value!r}"
            if isinstance(value, float):
                assert math.isfinite(value), f"{where}.{key} is not finite"
        for key in ("visibility", "stdout_visibility"):
            assert obj.get(key, "visible") in VISIBILITY, f"{where}.{key}: {obj[key]!r}"
        for key in ("output_format", "test_output_format", "test_name_format", "name_format"):
            assert obj.get(key, "text") in FORMATS, f"{where}.{key}: {obj[key]!r}"

    check(data, TOP, "results")
    for i, test in enumerate(data.get("tests", [])):
        check(test, TEST, f"tests[{i}]")
        assert test.get("status", "passed") in ("passed", "failed"), test
        assert "score" in data or "score" in test, f"tests[{i}] has no score and there is no top-level score"
        assert all(isinstance(t, str) for t in test.get("tags", []))
    assert "score" in data or data.get("tests"), "no score at the top and no tests"
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def scores(data: dict) -> dict:
    return {t["number"]: t["score"] for t in data["tests"]}


# --------------------------------------------------------------------------- the bundle, installed

@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "lesson01_autograder.zip"
    done = subprocess.run([sys.executable, "-m", "course_utils.grading.gradescope", LESSON, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def same_wheel(bundle, tmp_path, monkeypatch):
    """Later bundles in this file reuse the first bundle's wheel (building one takes a few CPU seconds)."""
    with zipfile.ZipFile(bundle) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".whl"))
        zf.extract(name, tmp_path / "wheel")
    monkeypatch.setattr(gradescope, "course_wheel", lambda root, out_dir: tmp_path / "wheel" / name)


def _unpack(bundle: Path, root: Path) -> Path:
    """Lay the bundle out as Gradescope does: ``root/source`` (the zip), ``root/run_autograder``."""
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():   # extractall drops permission bits
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return root


def _borrowing_venv(venv: Path) -> Path:
    """A virtual environment whose only packages are this environment's (one ``.pth`` line); its pip is
    borrowed too. Python processes ``.pth`` files only in its own site folders, so this environment's
    editable install of the course is not seen: the course it imports is the one installed into it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "_course_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _clean_env(**settings) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_MINI_CIFAR", "COURSE_GRADER_SECRET")}
    return {**env, **{k: str(v) for k, v in settings.items()}}


def _open_folder(prefix: str) -> Path:
    """A new temporary folder others may enter (pytest's are its user's alone): a kernel that runs as a
    uid of its own outside a sandbox (``setpriv``) must reach the virtual environment, as on Gradescope."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@pytest.fixture(scope="module")
def installed(bundle):
    """The bundle laid out under a simulated autograder root, with ``setup.sh`` run into a throwaway venv."""
    top = _open_folder("course-gradescope-test-")
    try:
        yield _install(bundle, top / "autograder")
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _install(bundle: Path, root: Path) -> dict:
    root = _unpack(bundle, root)
    venv = root / "course-venv"
    python = _borrowing_venv(venv)
    start = time.perf_counter()
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=600,
                          env=_clean_env(AUTOGRADER_ROOT=root, COURSE_SKIP_APT=1, PIP_NO_INDEX=1,
                                         PIP_CONFIG_FILE=os.devnull, COURSE_PYTHON=sys.executable))
    assert done.returncode == 0, f"setup.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return {"root": root, "python": python, "venv": venv, "stdout": done.stdout,
            "seconds": time.perf_counter() - start}


def test_bundle_holds_what_gradescope_needs_at_its_root(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = {i.filename: i for i in zf.infolist()}
        config = json.loads(zf.read("config.json"))
        wheel = next(n for n in names if n.endswith(".whl"))
        with zf.open(wheel) as f, zipfile.ZipFile(f) as whl:
            in_wheel = set(whl.namelist())
        constraints = zf.read("constraints.txt")
    assert {"setup.sh", "run_autograder", "config.json", "constraints.txt", "grader_secret"} <= set(names)
    assert all("/" not in n for n in names)                                   # everything at the zip's root
    assert (names["setup.sh"].external_attr >> 16) & 0o111 and (names["run_autograder"].external_attr >> 16) & 0o111
    assert (names["grader_secret"].external_attr >> 16) & 0o077 == 0
    assert constraints == (ROOT / "requirements" / "constraints.txt").read_bytes()
    assert config["lesson"] == LESSON and config["hidden"] is True and config["data"] is None
    assert [e["id"] for e in config["exercises"]] == [c.id for c in submission.lesson_checks(LESSON)]
    assert not any(n.endswith(".ipynb") for n in in_wheel), "no notebook (no solution) may ship"
    assert "course_utils/grading/gradescope_files/run_autograder" in in_wheel
    assert bundle.stat().st_size < 2 * 2**20                                  # no data for lesson 01


def test_each_bundle_has_a_secret_of_its_own(bundle, tmp_path, same_wheel):
    other = gradescope.build(LESSON, tmp_path / "again.zip")
    with zipfile.ZipFile(bundle) as a, zipfile.ZipFile(other.path) as b:
        assert len(a.read("grader_secret").strip()) == 64
        assert a.read("grader_secret") != b.read("grader_secret")
    with pytest.raises(SystemExit, match="exists"):
        gradescope.build(LESSON, other.path)                                 # never overwritten unasked
    assert gradescope.build(LESSON, tmp_path / "plain.zip", hidden=False).contents.keys() >= {"setup.sh"}
    with zipfile.ZipFile(tmp_path / "plain.zip") as zf:
        assert "grader_secret" not in zf.namelist()


def test_a_cifar_lesson_carries_the_verified_mini_subset(tmp_path, monkeypatch, same_wheel):
    mini = _course.shared_mini_cifar()
    if mini is None:
        pytest.skip("needs the CIFAR-10 mini file beside the checkout (../shared/data)")
    monkeypatch.setenv("COURSE_MINI_CIFAR", str(mini))
    lesson = next(x for x in gradescope.lessons()
                  if gradescope.needs_cifar(gradescope.instructor_notebook(ROOT, x)))
    built = gradescope.build(lesson, tmp_path / "cifar.zip")
    assert built.config.data == data.MINI_FILENAME and built.contents[data.MINI_FILENAME] == mini.stat().st_size
    with zipfile.ZipFile(built.path) as zf:
        zf.extract(data.MINI_FILENAME, tmp_path)
    data.read_mini(tmp_path / data.MINI_FILENAME)                             # its content hash holds
    assert not gradescope.needs_cifar(gradescope.instructor_notebook(ROOT, LESSON))


@pytest.mark.slow
def test_setup_installs_what_the_course_installs(installed):
    """setup.sh ran with no package index, every package borrowed from the course's own install: so each
    requirement it resolved (the course's wheel with ``-c constraints.txt``, torch and torchvision at their
    pins) is satisfied by exactly that install, and ``pip check`` passed. Here: the course it installed is
    the wheel (not this checkout) and every package the course needs is at the constraints' pin."""
    code = """
import importlib.metadata as md, json, re, course_utils
from packaging.requirements import Requirement
todo, seen = ["course-utils"], {}
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    dist = md.distribution(name)
    seen[name] = dist.version
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
print(json.dumps({"closure": seen, "course_utils": course_utils.__file__}))
"""
    done = subprocess.run([str(installed["python"]), "-I", "-c", code], capture_output=True, text=True, check=True,
                          env=_clean_env(), cwd=installed["root"])
    found = json.loads(done.stdout)
    assert Path(found["course_utils"]).is_relative_to(installed["venv"]), found["course_utils"]
    pins = _pins_for_this_python()
    closure = found["closure"]
    assert {"torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "tqdm", "nbformat", "nbclient", "ipykernel",
            "jupyter-client", "pyzmq"} <= set(closure)
    for name, version in closure.items():
        if name == "course-utils":
            continue
        assert name in pins, f"{name} is installed by setup.sh but not pinned in constraints.txt"
        assert version.split("+")[0] == pins[name], (name, version, pins[name])
    assert "No broken requirements" in installed["stdout"]
    assert "https://download.pytorch.org/whl/cpu" in (installed["root"] / "source" / "setup.sh").read_text()


def _pins_for_this_python() -> dict:
    from packaging.requirements import Requirement

    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                pins[req.name.lower().replace("_", "-").replace(".", "-")] = str(req.specifier).lstrip("=")
    return pins


# --------------------------------------------------------------------------- four submissions, run_autograder

HOSTILE_RESULTS = """
import json as _json, pathlib as _pathlib, subprocess as _subprocess, sys as _sys
_root = _pathlib.Path(ROOT_LITERAL)
try:
    _stolen = (_root / "source" / "grader_secret").read_text()
except OSError as _err:
    _stolen = "unreadable"
_forged = _json.dumps({"score": 100.0, "output": "forged " + _stolen,
                       "tests": [{"name": "all", "score": 100.0, "max_score": 3.0, "status": "passed"}]})
try:   # the classic Gradescope attack: write results.json, now and again after the grader wrote its own
    (_root / "results" / "results.json").write_text(_forged)
except OSError:
    pass
_code = "import time, pathlib\\n# MARKER\\nend = time.time() + 30\\nwhile time.time() < end:\\n" \\
        "    try:\\n        pathlib.Path(TARGET).write_text(FORGED)\\n    except OSError:\\n        pass\\n" \\
        "    time.sleep(0.05)\\n"
_code = _code.replace("MARKER", MARKER_LITERAL).replace("TARGET", repr(str(_root / "results" / "results.json")))
_subprocess.Popen([_sys.executable, "-c", _code.replace("FORGED", repr(_forged))], start_new_session=True,
                  stdin=_subprocess.DEVNULL, stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
"""


def _hostile(root: Path, marker: str) -> str:
    return (HOSTILE_RESULTS.replace("ROOT_LITERAL", repr(str(root))).replace("MARKER_LITERAL", repr(marker))
            + _stdout_rewriter({"01.1": '{"kind": "check", "id": eid, "status": "passed", "message": ""}'}))


def _submissions(folder: Path, root_of: dict, marker: str) -> dict:
    return {"correct": tiny(folder / "correct.ipynb", rest=True),
            "wrong": tiny(folder / "wrong.ipynb", step=WRONG_STEP, run=GOOD_RUN, rest=True),
            "crashing": tiny(folder / "crashing.ipynb", before_step="scale = 1 / 0   # a helper cell that crashes",
                             step="def gd_step(w, grad, lr):\n    return w - lr * scale * grad\n",
                             before_run="import os\nos._exit(1)   # the kernel dies"),
            "hostile": tiny(folder / "hostile.ipynb", step=WRONG_STEP, run=WRONG_RUN,
                            before_step=_hostile(root_of["hostile"], marker)),
            "hostile_setpriv": tiny(folder / "hostile_setpriv.ipynb", step=WRONG_STEP, run=WRONG_RUN,
                                    before_step=_hostile(root_of["hostile_setpriv"], marker))}


@pytest.fixture(scope="module")
def graded(installed, tmp_path_factory):
    """``run_autograder`` on each of the four submissions, each in an autograder root of its own that shares
    the installed bundle, two at a time; and the hostile one again with the kernel as a uid of its own
    (``setpriv``: what a container that refuses namespaces gets, as root)."""
    base = installed["root"].parent / "runs"
    names = ("correct", "wrong", "crashing", "hostile", "hostile_setpriv")
    roots = {n: base / n for n in names}
    marker = f"course-gradescope-test-{uuid.uuid4().hex}"
    made = _submissions(tmp_path_factory.mktemp("submissions"), roots, marker)
    for name, root in roots.items():
        (root / "submission").mkdir(parents=True)
        if name == "hostile_setpriv":
            shutil.copytree(installed["root"] / "source", root / "source")
            config = json.loads((root / "source" / "config.json").read_text())
            (root / "source" / "config.json").write_text(json.dumps({**config, "isolation": "setpriv"}))
        else:
            (root / "source").symlink_to(installed["root"] / "source")
        shutil.copy2(installed["root"] / "run_autograder", root / "run_autograder")
        shutil.copy2(made[name], root / "submission" / f"{LESSON}_gradient_descent_on_a_bowl.ipynb")

    def run(name):
        start = time.perf_counter()
        done = subprocess.run([str(roots[name] / "run_autograder")], capture_output=True, text=True, timeout=600,
                              cwd=roots[name], env=_clean_env(AUTOGRADER_ROOT=roots[name], COURSE_VENV=installed["venv"]))
        results = roots[name] / "results" / "results.json"
        return name, {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                      "text": results.read_text(), "seconds": time.perf_counter() - start, "path": results}

    with ThreadPoolExecutor(2) as pool:
        out = dict(pool.map(run, names))
    out["left"] = _marked_processes(marker)
    time.sleep(1.0)                            # a process left behind would have rewritten results.json by now
    for name in names:
        out[name]["later"] = out[name]["path"].read_text()
        out[name]["data"] = json.loads(out[name]["text"])
    out["secret"] = (installed["root"] / "source" / "grader_secret").read_text().strip()
    out["secret_setpriv"] = (roots["hostile_setpriv"] / "source" / "grader_secret").read_text().strip()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["correct", "wrong", "crashing", "hostile", "hostile_setpriv"])
def test_results_json_has_gradescope_format(graded, name):
    run = graded[name]
    assert run["rc"] == 0, run["stderr"][-3000:]
    data = run["data"]
    assert_gradescope_format(data)
    assert data["extra_data"]["isolation"]["method"] == ("setpriv" if name == "hostile_setpriv" else ISOLATION.method)
    assert [t["number"] for t in data["tests"]] == list(POINTS)
    assert [t["max_score"] for t in data["tests"]] == list(POINTS.values())
    assert data["score"] == sum(t["score"] for t in data["tests"])
    assert all(t["status"] == ("passed" if t["score"] == t["max_score"] else "failed") for t in data["tests"])
    assert data["stdout_visibility"] == "hidden" and isinstance(data["execution_time"], int)
    assert data["extra_data"]["hidden"] is True


@pytest.mark.slow
def test_correct_submission_gets_every_point(graded):
    data = graded["correct"]["data"]
    assert scores(data) == POINTS and data["score"] == FULL
    assert f"{FULL:g} of {FULL:g} points" in data["output"] and "inputs this autograder drew" in data["output"]


@pytest.mark.slow
def test_wrong_submission_gets_the_checks_message(graded):
    data = graded["wrong"]["data"]
    assert scores(data) == {**POINTS, "01.1": 0.0} and data["score"] == FULL - POINTS["01.1"]
    failed = data["tests"][0]
    assert failed["status"] == "failed" and failed["output"].startswith("[check 01.1] gd_step: FAILED:")


@pytest.mark.slow
def test_crashing_submission_says_what_crashed(graded):
    data = graded["crashing"]["data"]
    assert data["score"] == 0.0
    step, run = data["tests"][:2]
    assert step["output"].startswith("Could not be judged:") and "ZeroDivisionError" in step["output"]
    assert run["output"].startswith("Could not be judged:") and "kernel died" in run["output"]
    assert "Your notebook:" in data["output"]


@pytest.mark.slow
@pytest.mark.parametrize("name, method", [("hostile", "bwrap"), ("hostile_setpriv", "setpriv")])
def test_hostile_submission_gets_nothing_and_cannot_touch_results(graded, name, method):
    run = graded[name]
    if run["data"]["extra_data"]["isolation"].get("method") != method:
        pytest.skip(f"{method} does not work on this machine")
    assert run["data"]["score"] == 0.0 and {t["status"] for t in run["data"]["tests"]} == {"failed"}
    assert graded["left"] == []                           # its detached process was ended with its kernel
    assert run["later"] == run["text"]                    # and results.json is the grader's, still
    assert "forged" not in run["text"]
    assert graded["secret"] not in run["text"] + run["stdout"] and graded["secret_setpriv"] not in run["text"]
    assert "Flagged" not in run["data"]["output"] and run["data"]["extra_data"]["flagged"] is True


# --------------------------------------------------------------------------- no notebook of the lesson (no kernel)

def _root_with(tmp_path: Path, files: dict) -> Path:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    config = gradescope.BundleConfig(lesson=LESSON, notebook="01_gradient_descent_on_a_bowl.ipynb",
                                     exercises=[], isolation="none")
    (root / "source" / "config.json").write_text(json.dumps(config.__dict__))
    (root / "source" / "grader_secret").write_text("a secret\n")
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    return root


@pytest.mark.parametrize("files, words", [
    ({}, "no notebook (.ipynb) was found"),
    ({"notes.txt": "my answers"}, "no notebook (.ipynb) was found"),
    ({"a/01_x.ipynb": "{}", "01_y.ipynb": "{}"}, "holds 2 notebooks (01_y.ipynb, a/01_x.ipynb)"),
    ({"01_x.ipynb": '{"cells": [ {'}, "could not be read (not valid JSON"),
    ({"02_x.ipynb": ""}, "could not be read (the file is empty)"),
    ({"mine.ipynb": "LESSON_02"}, "is lesson 02's notebook, and this assignment grades lesson 01"),
])
def test_a_submission_that_is_no_notebook_of_the_lesson_gets_a_clear_output(tmp_path, files, words):
    if "mine.ipynb" in files:
        nb = nbformat.v4.new_notebook(metadata={"course": {"lesson": "02"}})
        files = {"mine.ipynb": nbformat.writes(nb), ".ipynb_checkpoints/mine-checkpoint.ipynb": "{}"}
    root = _root_with(tmp_path, files)
    assert gradescope.run(root) == 0
    data = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_format(data)
    assert data["score"] == 0.0 and words in data["output"] and "Nothing was graded" in data["output"]
    assert "upload your lesson 01 notebook (01_gradient_descent_on_a_bowl.ipynb)" in data["output"]
    assert [t["max_score"] for t in data["tests"]] == list(POINTS.values())
    assert {t["status"] for t in data["tests"]} == {"failed"}


def test_run_autograder_writes_results_even_when_the_grader_cannot_start(tmp_path):
    root = tmp_path / "autograder"
    (root / "results").mkdir(parents=True)
    (root / "results" / "results.json").write_text('{"score": 100.0}')   # as a submission could have written it
    script = ROOT / "course_utils" / "grading" / "gradescope_files" / "run_autograder"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                          env=_clean_env(AUTOGRADER_ROOT=root, COURSE_VENV=tmp_path / "no-venv"))
    data = json.loads((root / "results" / "results.json").read_text())
    assert done.returncode == 0 and data["score"] == 0.0 and "could not run" in data["output"]
    assert_gradescope_format(data)


def test_timeouts_and_unattempted_exercises_read_clearly():
    result = SubmissionResult("01_x.ipynb", LESSON, "graded", exercises=[
        ExerciseResult("01.1", "gd_step", 1, "timeout", "the cell did not finish within 300 s"),
        ExerciseResult("01.2", "run_gd", 2, "not attempted", "")])
    config = gradescope.BundleConfig(lesson=LESSON, notebook="01_x.ipynb", exercises=[], timeout=300,
                                     total_timeout=480, visibility="after_due_date")
    data = gradescope.results_data(result, LESSON, config=config, seconds=12.6)
    assert_gradescope_format(data)
    assert data["score"] == 0.0 and data["execution_time"] == 13 and data["visibility"] == "after_due_date"
    assert data["tests"][0]["output"] == "Ran out of time: the cell did not finish within 300 s"
    assert data["tests"][1]["output"].startswith("Not attempted: the solution cell still raises")
    assert "ran out of time (the limits are 300 s per cell and 480 s for the notebook)" in data["output"]
    assert {t["visibility"] for t in data["tests"]} == {"after_due_date"}


def test_the_format_helper_refuses_what_gradescope_would():
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1.0, "max_score": 1.0, "status": "passed"}]}
    assert_gradescope_format(good)
    for bad in ({**good, "grade": 1}, {**good, "visibility": "students"}, {**good, "score": float("nan")},
                {"tests": [{"name": "a", "status": "ok", "score": 1}]}, {"tests": [{"name": "a"}]},
                {**good, "tests": [{"name": "a", "score": "1"}]}, {"output": "no score anywhere"}):
        with pytest.raises(AssertionError):
            assert_gradescope_format(bad)


def test_threads_follow_the_container_cpu_quota(tmp_path):
    cores = len(os.sched_getaffinity(0))
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "cpu.max").write_text("50000 100000\n")                  # half a core
    assert gradescope.available_cpus(tmp_path / "v2") == 1
    (tmp_path / "v2" / "cpu.max").write_text("max 100000\n")                    # no quota: the affinity
    assert gradescope.available_cpus(tmp_path / "v2") == cores
    (tmp_path / "v1" / "cpu").mkdir(parents=True)
    (tmp_path / "v1" / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "v1" / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert gradescope.available_cpus(tmp_path / "v1") == 1
    assert gradescope.available_cpus(tmp_path / "none") == cores


def test_course_grade_builds_a_bundle_too(tmp_path, same_wheel):
    from course_utils.grading import cli

    out = tmp_path / "via_course_grade.zip"
    assert cli.main(["gradescope", LESSON, "--out", str(out), "--no-hidden", "--visibility", "after_published"]) == 0
    with zipfile.ZipFile(out) as zf:
        config = json.loads(zf.read("config.json"))
    assert config["hidden"] is False and config["visibility"] == "after_published"
    with pytest.raises(SystemExit):
        cli.main(["gradescope", "10", "--out", str(tmp_path / "x.zip")])
