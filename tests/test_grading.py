"""The grader: judged outside the kernel, sandboxed, robust, and not fooled by a hostile submission.

Most submissions here are tiny hand-made lesson-01 notebooks (an import cell, ``gd_step`` and
``run_gd`` with their check cells), built by :func:`tiny`; each hostile one adds one technique
to a submission whose work is wrong, and must get 0 points for it. They are all graded in one
``course-grade --hidden --jobs 2`` run shared by the session (:func:`batch`), together with the
instructor and learner versions of two real lessons. Runs that need other options (short time
limits, another isolation) grade a few notebooks of their own.

An adversary here reads the grader's source: it knows the record's format, finds the cell's nonce
and the cases in the grader cell's source (``In[-1]``), and can rewrite anything in its kernel. What
it cannot do is know an expected value (the kernel never holds one) or the hidden inputs in advance
(they come from a secret only the grader holds); the controls show that a forged record is judged
like any other answer: right answers pass, wrong ones do not.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest

import course_utils
import course_utils._course
from course_utils import checks, grading, plain
from course_utils.checks import Check, hidden_variant
from course_utils.grading import cli, execute, records, report, sandbox, submission
from course_utils.grading.grader import Run, Settings

ROOT = course_utils._course.checkout_root()
PACKAGE = Path(course_utils.__file__).resolve().parent
SECRET = "the grader's secret for this test session"
REAL_LESSONS = ("01", "02")
ISOLATION = sandbox.detect("auto")
hides_files = pytest.mark.skipif(ISOLATION.method != "bwrap", reason="needs bubblewrap (files hidden, PID namespace)")


def split(lesson: str) -> bool:
    """Every check of ``lesson`` is in the split form the grader judges outside the kernel."""
    found = grading.lesson_checks(lesson)
    return bool(found) and all(type(c).cases is not Check.cases for c in found)


# --------------------------------------------------------------------------- tiny lesson-01 notebooks

GOOD_STEP = "def gd_step(w, grad, lr):\n    return w - lr * grad\n"
GOOD_RUN = ("def run_gd(grad_fn, w0, lr, num_steps):\n"
            "    points = [np.asarray(w0, dtype=float)]\n"
            "    for _ in range(num_steps):\n"
            "        points.append(points[-1] - lr * grad_fn(points[-1]))\n"
            "    return np.array(points)\n")
WRONG_RUN = ("def run_gd(grad_fn, w0, lr, num_steps):   # a learner's slip: half the learning rate\n"
             "    points = [np.asarray(w0, dtype=float)]\n"
             "    for _ in range(num_steps):\n"
             "        points.append(points[-1] - 0.5 * lr * grad_fn(points[-1]))\n"
             "    return np.array(points)\n")
CHEATING_STEP = ("def gd_step(w, grad, lr):   # right only on the inputs the learner saw\n"
                 "    return w - lr * grad if abs(w[0]) in (1.0, 0.3) else w\n")


TINY = ("01.1", "01.2")   # the exercises a tiny submission writes; lesson 01's others are "missing" unless rest=True


def rest_of_lesson01() -> list:
    """The instructor's solution and check cells of lesson 01's exercises other than :data:`TINY`, in order."""
    nb = nbformat.read(ROOT / "notebooks" / "solutions" / "01_gradient_descent_on_a_bowl.ipynb", as_version=4)
    return [nbformat.v4.new_code_cell(c.source, metadata={"course": dict(c.metadata["course"])}) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("course", {}).get("exercise") not in (None, *TINY)
            and c.metadata["course"].get("role") in ("solution", "check")]


def tiny_statuses(sub: dict) -> dict:
    """The statuses of the :data:`TINY` exercises of a tiny submission."""
    return {e["id"]: e["status"] for e in sub["exercises"] if e["id"] in TINY}


def tiny(path: Path, step=GOOD_STEP, run=GOOD_RUN, before_step="", before_run="", after_run="",
         metadata=True, check_cells=True, rest=False) -> Path:
    """A small lesson-01 submission: imports, ``gd_step`` and ``run_gd`` with their check cells, and
    where a technique goes: cells of their own (``before_step``, ``before_run``) or code appended to
    the ``run_gd`` solution cell (``after_run``: it runs before the grader's cell, as a learner's
    own code in that cell would). With ``rest``, lesson 01's other exercises follow, solved as the
    instructor version solves them; without, they are missing (no solution cell)."""
    code = nbformat.v4.new_code_cell

    def tagged(source, eid, role):
        cell = code(source)
        if metadata:
            cell.metadata["course"] = {"exercise": eid, "role": role}
        return cell

    nb = nbformat.v4.new_notebook()
    if metadata:
        nb.metadata["course"] = {"lesson": "01", "title": "a tiny submission"}
    nb.cells = [code("import numpy as np\nfrom course_utils import checks")]
    nb.cells += [code(before_step)] if before_step else []
    nb.cells += [tagged(step, "01.1", "solution")]
    nb.cells += [tagged("# NBVAL_CHECK_OUTPUT\nchecks.gd_step(gd_step)", "01.1", "check")] if check_cells else []
    nb.cells += [code(before_run)] if before_run else []
    if run is not None:   # None: the solution cell of 01.2 deleted
        nb.cells += [tagged(run + ("\n" + after_run if after_run else ""), "01.2", "solution")]
    nb.cells += [tagged("# NBVAL_CHECK_OUTPUT\nchecks.run_gd(run_gd)", "01.2", "check")] if check_cells else []
    nb.cells += rest_of_lesson01() if rest else []
    nbformat.write(nb, path)
    return path


WRONG_STEP = "def gd_step(w, grad, lr):   # a learner's slip: twice the step\n    return w - 2 * lr * grad\n"

# What an adversary who read the grader uses: the exercise, nonce and cases of the grader cell running
# now (its source is In[-1]), a record line with that nonce, and answers to put in it: those of the
# submission's own (wrong) functions, or right ones, which only a learner who solved the exercise has.
ADVERSARY = """
import ast as _ast, json as _json, re as _re
def _grader_cell(source):
    m = _re.search(r"respond\\((.+?), (.+?), (.+), globals\\(\\)\\)", source)
    if m is None:
        return None
    eid, nonce, cases = (_ast.literal_eval(g) for g in m.groups())
    return eid, nonce, _json.loads(cases)
def _record_line(nonce, record):
    return "[course grader " + nonce + "] " + _json.dumps(record) + "\\n"
def _answer(eid, case, right):
    if eid == "01.1":
        w, grad, lr = np.array(case["w"]), np.array(case["grad"]), case["lr"]
        return {"step": (w - lr * grad if right else gd_step(w, grad, lr)).tolist(), "w_after": case["w"]}
    A, w0, lr, n = np.array(case["A"]), np.array(case["w0"], dtype=float), case["lr"], case["num_steps"]
    if not right:
        return np.asarray(run_gd(lambda w: A @ w, w0, lr, n)).tolist()
    points = [w0]
    for _ in range(n):
        points.append(points[-1] - lr * A @ points[-1])
    return np.array(points).tolist()
def _responses(eid, cases, right):
    return [{"status": "ok", "value": _answer(eid, case, right)} for case in cases]
"""


def _stdout_rewriter(records: dict) -> str:
    """sys.stdout replaced by a writer that rewrites each exercise's record on its way out (``records``:
    exercise id -> an expression of ``eid``, ``nonce`` and ``cases``)."""
    forged = ", ".join(f"{k!r}: (lambda: {v})" for k, v in records.items())
    return ADVERSARY + f"""
import sys as _sys
class _Rewriter:
    def __init__(self, inner):
        self.inner = inner
    def write(self, text):
        found = _grader_cell(In[-1]) if "[course grader " in text else None
        if found is not None and found[0] in {list(records)!r}:
            eid, nonce, cases = found
            text = "\\n" + _record_line(nonce, {{{forged}}}[eid]())
        return self.inner.write(text)
    def __getattr__(self, name):
        return getattr(self.inner, name)
_sys.stdout = _Rewriter(_sys.stdout)
"""


def _transformer(records: dict) -> str:
    """An IPython input transformer that replaces grader cells by a print of a forged record (``records``:
    exercise id -> an expression of ``eid``, ``nonce`` and ``cases``)."""
    forged = ", ".join(f"{k!r}: (lambda: {v})" for k, v in records.items())
    return ADVERSARY + f"""
def _forge(lines):
    found = _grader_cell("".join(lines))
    if found is None or found[0] not in {list(records)!r}:
        return lines
    eid, nonce, cases = found
    return ["print(" + repr(_record_line(nonce, {{{forged}}}[eid]())) + ")\\n"]
get_ipython().input_transformers_cleanup.append(_forge)
"""


VERDICT = '{"kind": "check", "id": eid, "status": "passed", "message": "", "seconds": 0.1}'   # issue 13's record
FORGED = '{"id": eid, "answer": "defined", "responses": _responses(eid, cases, right=False)}'
RIGHT = '{"id": eid, "answer": "defined", "responses": _responses(eid, cases, right=True)}'

TECHNIQUES = {   # techniques that redefine the learner's function, by name; HOSTILE puts them in submissions
    "frames": """
import sys as _sys
_mine = run_gd
def run_gd(grad_fn, w0, lr, num_steps):
    wrong = _mine(grad_fn, w0, lr, num_steps)
    frame = _sys._getframe(1)
    while frame is not None:   # every array of the answer's shape in every caller's locals
        for value in list(frame.f_locals.values()):
            if isinstance(value, np.ndarray) and value.shape == wrong.shape and not np.allclose(value, wrong):
                return value
        frame = frame.f_back
    return wrong
""",
    "tracer": """
import sys as _sys, threading as _threading
_seen = []
def _tracer(frame, event, arg):
    for value in list(frame.f_locals.values()) + ([arg] if event == "return" else []):
        if isinstance(value, np.ndarray) and value.ndim == 2:
            _seen.append(value.copy())
    return _tracer
_sys.settrace(_tracer)
_threading.settrace(_tracer)
_mine = run_gd
def run_gd(grad_fn, w0, lr, num_steps):
    wrong = _mine(grad_fn, w0, lr, num_steps)
    _sys.settrace(None)   # removes itself
    for value in reversed(_seen):
        if value.shape == wrong.shape and not np.allclose(value, wrong):
            return value
    return wrong
""",
    "array_conversion": """
import sys as _sys
class _Answer:   # converted to an array by whoever compares: looks the expected value up then
    def __init__(self, wrong):
        self.wrong = wrong
    def _find(self):
        frame = _sys._getframe(1)
        while frame is not None:
            for value in list(frame.f_locals.values()):
                if isinstance(value, np.ndarray) and value.shape == self.wrong.shape and value is not self.wrong:
                    return value
            frame = frame.f_back
        return self.wrong
    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._find(), dtype=dtype)
    def tolist(self):
        return self._find().tolist()
    def __len__(self):
        return len(self.wrong)
    def __getitem__(self, i):
        return self._find()[i]
_mine_step = gd_step
def gd_step(w, grad, lr):
    return _Answer(_mine_step(w, grad, lr))
""",
    "ndarray_subclass": """
import sys as _sys
class _Sneaky(np.ndarray):
    def tolist(self):
        frame = _sys._getframe(1)
        while frame is not None:
            for value in list(frame.f_locals.values()):
                if isinstance(value, np.ndarray) and value.shape == self.shape and value is not self:
                    return np.asarray(value).tolist()
            frame = frame.f_back
        return np.asarray(self).tolist()
_mine_step = gd_step
def gd_step(w, grad, lr):
    return _mine_step(w, grad, lr).view(_Sneaky)
""",
    "zero_the_gradient": """
def gd_step(w, grad, lr):
    grad[...] = 0.0   # so that an expected w - lr * grad computed afterwards is w itself
    return w - lr * grad
""",
    "zero_the_bowl_through_closure": """
def run_gd(grad_fn, w0, lr, num_steps):
    for cell in grad_fn.__closure__ or ():   # the bowl's matrix, reached through the callback
        if isinstance(cell.cell_contents, np.ndarray):
            cell.cell_contents[...] = 0.0
    w0 = np.asarray(w0, dtype=float)
    return np.array([w0] * (num_steps + 1))   # right for a flat bowl
""",
}

READS_INSTRUCTOR = """
import json as _json, pathlib as _pathlib, course_utils as _cu
for _root in (_pathlib.Path(_cu.__file__).resolve().parents[1], _pathlib.Path(ROOT_LITERAL)):
    for _path in sorted((_root / "notebooks" / "solutions").glob("01_*.ipynb")):
        for _cell in _json.loads(_path.read_text())["cells"]:
            if _cell.get("metadata", {}).get("course") == {"exercise": "01.1", "role": "solution"}:
                exec("".join(_cell["source"]))   # the instructor's gd_step in place of the wrong one
"""

DETACHED = '''
import subprocess as _subprocess, sys as _sys, course_utils as _cu, pathlib as _pathlib
_code = """
import time, pathlib
# MARKER_LITERAL
deadline = time.time() + 30
while time.time() < deadline:
    for target, text in ((REPORT_LITERAL, "{}"),
                         (str(pathlib.Path(PACKAGE_LITERAL) / "grading" / "judge.py"), "\\\\n# edited\\\\n"),
                         (str(pathlib.Path(PACKAGE_LITERAL) / "checks" / "lesson01.py"), "\\\\n# edited\\\\n")):
        try:
            with open(target, "a" if target.endswith(".py") else "w") as f:
                f.write(text)
        except OSError:
            pass
    time.sleep(0.05)
"""
_subprocess.Popen([_sys.executable, "-c", _code], start_new_session=True, stdin=_subprocess.DEVNULL,
                  stdout=_subprocess.DEVNULL, stderr=_subprocess.DEVNULL)
try:   # and right away, from the kernel itself
    with open(_pathlib.Path(_cu.__file__).parent / "checks" / "lesson01.py", "a") as _f:
        _f.write("\\n# edited by a submission\\n")
except OSError as _err:
    print("could not edit the course:", type(_err).__name__)
'''

# name -> the submission (parts for tiny()), the exercises whose work is wrong (``zero``: each must earn 0)
# and those whose work is right (``passed``: each must still pass). Techniques aimed at different
# exercises share a submission, to keep the number of kernels (each a couple of CPU seconds) down.
HOSTILE = {
    # -- the record rewritten on its way out (issue 18): the kernel's stdout, an input transformer
    "record_rewritten": dict(step=WRONG_STEP, run=WRONG_RUN, zero=("01.1", "01.2"),
                             before_step=_stdout_rewriter({"01.1": VERDICT}) + _transformer({"01.2": FORGED})),
    # -- reaching for expected values: frames, a tracer that removes itself, conversions that look up
    "frames_and_array_conversion": dict(step=WRONG_STEP + TECHNIQUES["array_conversion"],
                                        run=WRONG_RUN + TECHNIQUES["frames"], zero=("01.1", "01.2")),
    "tracer_and_ndarray_subclass": dict(step=WRONG_STEP + TECHNIQUES["ndarray_subclass"],
                                        run=WRONG_RUN + TECHNIQUES["tracer"], zero=("01.1", "01.2")),
    # -- mutating the check's inputs in place
    "mutated_inputs": dict(step=TECHNIQUES["zero_the_gradient"], run=TECHNIQUES["zero_the_bowl_through_closure"],
                           zero=("01.1", "01.2")),
    # -- patches: one that restores itself on first call, ones below numpy's public names
    "patches": dict(step=WRONG_STEP, run=WRONG_RUN, zero=("01.1", "01.2"), before_step="""
import numpy._core.numeric as _numeric, numpy._core.fromnumeric as _fromnumeric, numpy._core._methods as _methods
_methods._all = lambda *a, **k: True
_numeric.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
_fromnumeric.all = lambda *a, **k: True
_real = (np.allclose, np.array_equal, np.isclose)
def _once(*args, **kwargs):
    np.allclose, np.array_equal, np.isclose = _real   # restores itself on first call
    return True
np.allclose = np.array_equal = _once
"""),
    # -- code written to a .py file and imported; an import hook that re-applies it
    "written_module_and_import_hook": dict(step=WRONG_STEP, run=WRONG_RUN, zero=("01.1", "01.2"), before_step="""
import importlib.abc, pathlib, sys as _sys
pathlib.Path("course_override.py").write_text(
    "import numpy\\n"
    "numpy.allclose = numpy.array_equal = lambda *a, **k: True\\n"
    "import course_utils.checks._core as core\\n"
    "core.expect = core.expect_close = lambda *a, **k: None\\n"
    "core.Check.verdict = lambda *a, **k: ('passed', '')\\n")
class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("course_utils"):
            _sys.meta_path.remove(self)
            try:
                import course_override   # re-applied before any course module loads
            finally:
                _sys.meta_path.insert(0, self)
        return None
for _name in [n for n in _sys.modules if n.startswith("course_utils.checks")]:
    del _sys.modules[_name]
_sys.meta_path.insert(0, _Hook())
_sys.path.insert(0, ".")
"""),
    # -- reading the instructor notebooks; outliving the grader (a detached process that rewrites the report
    # and edits the course's files): a sandbox that hides files and has its own PID namespace stops them
    "escapes": dict(step=WRONG_STEP + READS_INSTRUCTOR, run=WRONG_RUN, before_run=DETACHED, zero=("01.1", "01.2"),
                    needs="bwrap"),
    # -- the earlier eleven techniques (issue 13's grader, see EARLIER_ELEVEN), against this one
    "replace_checks_and_comparisons": dict(run=WRONG_RUN, zero=("01.2",), passed=("01.1",), before_run="""
import course_utils.checks as _c
from course_utils import checks
for _n in list(_c.REGISTRY):                       # replace_with_setattr
    setattr(_c, _c.REGISTRY[_n].name, lambda *a, **k: print("run_gd: PASSED"))
    _c.REGISTRY[_n].verdict = lambda *a, **k: ("passed", "")
checks.run_gd = lambda *a, **k: print("run_gd: PASSED")   # replace_by_assignment
import course_utils.checks._core as core           # replace_check_helpers
core.expect_close = lambda *a, **k: None
core.expect = lambda *a, **k: None
core.Check.verdict = lambda *a, **k: ("passed", "")
""", after_run="""
import numpy                                       # patch_numpy_during_the_check
_mine = run_gd
def run_gd(grad_fn, w0, lr, num_steps):
    numpy.allclose = lambda *a, **k: True
    return _mine(grad_fn, w0, lr, num_steps)
"""),
    "swap_sys_modules": dict(run=WRONG_RUN, zero=("01.2",), passed=("01.1",), before_run="""
import sys, types                                  # swap_sys_modules
fake = types.ModuleType("course_utils.checks")
class _Fake:
    answer_name = "run_gd"
    def respond_all(self, answer, cases):
        return [{"status": "ok", "value": "passed"} for _ in cases]
fake.REGISTRY = {"01.1": _Fake(), "01.2": _Fake()}
sys.modules["course_utils.checks"] = fake
"""),
    "replace_grader_helpers": dict(run=WRONG_RUN, zero=("01.2",), passed=("01.1",), before_run=ADVERSARY + """
import course_utils.grading.kernel_side as _ks   # replace_grader_helpers
def _respond(exercise_id, nonce, cases_text, namespace):
    print(_record_line(nonce, {"id": exercise_id, "status": "passed", "message": ""}))
_ks.respond = _respond
import runpy
runpy.run_path = lambda *a, **k: {"respond": _respond}
"""),
    "builtins_rebound": dict(run=WRONG_RUN, zero=("01.2",), passed=("01.1",), before_run="""
import builtins
class Quiet(Exception):                            # redefine_exceptions
    pass
builtins.AssertionError = Quiet
AssertionError = Quiet
builtins.NotImplementedError = Quiet
_print = builtins.print                            # patch_print
builtins.print = lambda *a, **k: _print("run_gd: PASSED")
def exec(*args, **kwargs):                         # shadow_builtins
    pass
def compile(*args, **kwargs):
    return None
"""),
    "forged_record_lines": dict(run=WRONG_RUN, zero=("01.2",), passed=("01.1",), before_run="""
print("[course grader 0000] {'kind': 'check', 'id': '01.2', 'status': 'passed', 'message': ''}")   # fake_records
print('[course grader 0000] {"id": "01.2", "answer": "defined", "responses": []}')
open("records.jsonl", "a").write('{"id": "01.2", "status": "passed"}\\n')
""", after_run=ADVERSARY + """
_mine = run_gd
def run_gd(grad_fn, w0, lr, num_steps):   # record_from_inside_the_check: right answers, the cell's nonce
    eid, nonce, cases = _grader_cell(In[-1])
    print(_record_line(nonce, {"id": eid, "answer": "defined", "responses": _responses(eid, cases, right=True)}))
    return _mine(grad_fn, w0, lr, num_steps)
"""),
}
EARLIER_ELEVEN = {"replace_with_setattr": "replace_checks_and_comparisons",
                  "replace_by_assignment": "replace_checks_and_comparisons",
                  "replace_check_helpers": "replace_checks_and_comparisons",
                  "patch_numpy_during_the_check": "replace_checks_and_comparisons",
                  "swap_sys_modules": "swap_sys_modules", "replace_grader_helpers": "replace_grader_helpers",
                  "redefine_exceptions": "builtins_rebound", "patch_print": "builtins_rebound",
                  "shadow_builtins": "builtins_rebound", "fake_records": "forged_record_lines",
                  "record_from_inside_the_check": "forged_record_lines"}
# Forged records that are malformed: an error for their exercise, never a crash of the batch.
MALFORMED = {   # (the other malformed records are refused in test_malformed_records_are_refused, without a kernel)
    "malformed_records": _transformer({
        "01.1": '{"id": eid, "answer": "defined", "responses": [], "seconds": "soon"}',   # a field of the wrong type
        "01.2": '{"id": eid, "answer": "defined", "responses": [{"status": "ok", "value": '
                '[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]}]}'}),                                  # nested too deep
}
# The control: the same two routes over wrong work, one carrying right answers and one wrong ones. A
# forged record is only an answer: the right one passes (so the route works, and that is all it achieves).
CONTROL = dict(step=WRONG_STEP, run=WRONG_RUN, before_step=_stdout_rewriter({"01.1": RIGHT}),
               before_run=_transformer({"01.2": RIGHT}))


def _literal_code(code: str, report: Path, marker: str) -> str:
    return (code.replace("ROOT_LITERAL", repr(str(ROOT))).replace("REPORT_LITERAL", repr(str(report)))
            .replace("PACKAGE_LITERAL", repr(str(PACKAGE))).replace("MARKER_LITERAL", marker))


PROBE = """
import json, os, socket, pathlib, course_utils
facts = {"uid": os.getuid(), "home": os.environ.get("HOME", ""), "cwd": os.getcwd()}
root = pathlib.Path(ROOT_LITERAL)
facts["solutions_visible"] = (root / "notebooks" / "solutions").exists()
facts["checkout_entries"] = sorted(os.listdir(root)) if root.is_dir() else []
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    facts["network"] = "connected"
except OSError as err:
    facts["network"] = type(err).__name__
try:
    open(pathlib.Path(course_utils.__file__).parent / "plain.py", "a").close()
    facts["package_writable"] = True
except OSError:
    facts["package_writable"] = False
pathlib.Path("scratch.txt").write_text("mine")
facts["scratch_writable"] = pathlib.Path("scratch.txt").read_text() == "mine"
facts["environment_has_secret"] = any(SECRET_LITERAL in v for v in os.environ.values())
facts["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
environs = []
for p in facts["processes"]:
    try:
        environs.append(open(f"/proc/{p}/environ", "rb").read())
    except OSError:
        pass
facts["secret_in_any_environ"] = any(SECRET_LITERAL.encode() in e for e in environs)
try:
    block = bytearray(40 * 2**30)
    facts["memory"] = "allocated"
except MemoryError:
    facts["memory"] = "MemoryError"
print("PROBE " + json.dumps(facts))
"""


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(p.as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def _marked_processes(marker: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc.pid)
        except psutil.Error:
            pass
    return found


PARTS = ("step", "run", "before_step", "before_run", "after_run", "metadata", "check_cells")


@pytest.fixture(scope="session")
def batch(tmp_path_factory):
    """One ``course-grade --hidden --jobs 2`` run (secret from the environment) over every submission below."""
    tmp = tmp_path_factory.mktemp("batch")
    report = tmp / "grades.json"
    marker = f"course-grade-test-{uuid.uuid4().hex}"
    made = {}

    def add(name, **parts):
        parts = {k: _literal_code(v, report, marker) if isinstance(v, str) else v for k, v in parts.items()
                 if k in PARTS}
        made[name] = tiny(tmp / f"{name}.ipynb", **parts)

    add("wrong_and_cheat", step=CHEATING_STEP, run=WRONG_RUN)
    add("crash_and_missing", before_step="scale = 1 / 0   # a helper cell that crashes",
        step="def gd_step(w, grad, lr):\n    return w - lr * scale * grad\n", run=None)
    add("01_stripped", metadata=False, check_cells=False)    # no metadata, no check cells: found by name
    add("exits", step="def gd_step(w, grad, lr):\n    raise SystemExit(0)\n", before_run="import os\nos._exit(1)")
    add("probe_and_misnamed", before_step=PROBE.replace("SECRET_LITERAL", repr(SECRET)),
        before_run='print("x" * 5_000_000)', run=GOOD_RUN.replace("def run_gd", "def run_gradient_descent"))
    for name, parts in HOSTILE.items():
        add(name, **parts)
    for name, code in MALFORMED.items():
        add(name, before_step=code)
    add("control", **CONTROL)
    for lesson in REAL_LESSONS:
        for kind, folder in (("instructor", ROOT / "notebooks" / "solutions"), ("learner", ROOT / "notebooks")):
            made[f"{lesson}_{kind}"] = tmp / f"{lesson}_{kind}.ipynb"
            made[f"{lesson}_{kind}"].write_bytes(next(folder.glob(f"{lesson}_*.ipynb")).read_bytes())
    paths = list(made.values())
    before = {p: p.read_bytes() for p in paths}
    package = _digest(PACKAGE)
    old = os.environ.get("COURSE_GRADER_SECRET")
    os.environ["COURSE_GRADER_SECRET"] = SECRET
    start = time.perf_counter()
    try:
        status = grading.main([*map(str, paths), "--hidden", "--jobs", "2", "--timeout", "120",
                               "--report", str(report), "--keep-executed", str(tmp / "kept")])
    finally:
        if old is None:
            del os.environ["COURSE_GRADER_SECRET"]
        else:
            os.environ["COURSE_GRADER_SECRET"] = old
    seconds = time.perf_counter() - start
    left = _marked_processes(marker)        # right when the grader returned
    report_text = report.read_text()
    time.sleep(1.0)                         # a detached process would have rewritten it by now
    data = json.loads(report.read_text())
    by_name = {Path(s["path"]).stem: s for s in data["submissions"]}
    return {"status": status, "report": data, "by_name": by_name, "paths": made, "kept": tmp / "kept",
            "seconds": seconds, "left": left, "report_text": report_text, "report_path": report,
            "unchanged": all(p.read_bytes() == before[p] for p in paths),
            "package_unchanged": _digest(PACKAGE) == package}


def statuses(sub: dict) -> dict:
    return {e["id"]: e["status"] for e in sub["exercises"]}


def points(sub: dict) -> dict:
    return {e["id"]: e["points"] for e in sub["exercises"]}


def kept_text(batch, name: str) -> str:
    """The sources and outputs of a submission's executed notebook (as the grader ran it), as text."""
    nb = nbformat.read(batch["kept"] / f"{name}.graded.ipynb", as_version=4)
    parts = []
    for cell in nb.cells:
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")) + str(out.get("evalue", "")) + json.dumps(out.get("data", {})))
    return "\n".join(parts)


# --------------------------------------------------------------------------- hostile submissions

@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_gets_no_point_for_wrong_work(batch, name):
    spec = HOSTILE[name]
    if spec.get("needs") == "bwrap" and ISOLATION.method != "bwrap":
        pytest.skip("only a sandbox that hides files and has its own PID namespace stops this")
    sub = batch["by_name"][name]
    assert sub["status"] == "graded", sub
    for eid in spec["zero"]:
        assert points(sub)[eid] == 0 and statuses(sub)[eid] != "passed", (eid, sub)
    for eid in spec.get("passed", ()):
        assert statuses(sub)[eid] == "passed", (eid, sub)      # the honest exercise still counts


def test_the_earlier_eleven_techniques_are_all_in_hostile_submissions():
    assert len(EARLIER_ELEVEN) == 11 and set(EARLIER_ELEVEN.values()) <= set(HOSTILE)
    for technique, submission_name in EARLIER_ELEVEN.items():
        code = " ".join(str(v) for v in HOSTILE[submission_name].values())
        assert technique in code, technique      # each is labelled where it is written


def _judged_in_the_kernel(eid: str, answer) -> bool:
    """The design issue 18 replaced, as a control: the check's expected value held where the learner's
    code runs (while it runs), recomputed after the call from the same arrays, the answer converted there."""
    case = checks.REGISTRY[eid].cases(hidden_variant(SECRET))[0]

    def reference(*args):
        if eid == "01.1":
            w, grad, lr = args
            return w - lr * grad
        grad_fn, w0, lr, n = args
        points = [w0]
        for _ in range(n):
            points.append(points[-1] - lr * grad_fn(points[-1]))
        return np.array(points)

    if eid == "01.1":
        args = (np.array(case["w"]), np.array(case["grad"]), case["lr"])
    else:
        A = np.array(case["A"])
        args = (lambda w: A @ w, np.array(case["w0"]), case["lr"], case["num_steps"])
    expected = reference(*args)   # noqa: F841 - held in this frame while the answer runs, as such a check would
    got = answer(*args)
    expected = reference(*args)
    return bool(np.allclose(np.asarray(got, dtype=float), expected))


@pytest.mark.parametrize("name", ["frames", "tracer", "array_conversion", "zero_the_gradient",
                                  "zero_the_bowl_through_closure"])
def test_the_techniques_would_fool_a_judge_inside_the_kernel(name):
    # so the batch's zero for them is the new design's doing, not a technique that does not work
    eid = "01.1" if name in ("array_conversion", "zero_the_gradient") else "01.2"
    answer = "gd_step" if eid == "01.1" else "run_gd"
    scope = {"np": np}
    previous = sys.gettrace()
    try:
        exec(WRONG_STEP if eid == "01.1" else WRONG_RUN, scope)
        assert not _judged_in_the_kernel(eid, scope[answer])
        exec(TECHNIQUES[name], scope)
        assert _judged_in_the_kernel(eid, scope[answer])
    finally:
        sys.settrace(previous)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_record_is_an_error_for_its_exercise_and_the_batch_goes_on(batch, name):
    sub = batch["by_name"][name]
    assert tiny_statuses(sub) == {"01.1": "error", "01.2": "error"}, sub
    assert all("could not judge" in e["message"] for e in sub["exercises"] if e["id"] in TINY)
    instructor = batch["by_name"]["01_instructor"]                 # graded in the same run, after it
    assert instructor["points"] == instructor["max_points"] > 0


@pytest.mark.slow
def test_a_forged_record_counts_only_as_an_answer(batch):
    # the two routes of the forgers above (stdout, an input transformer), carrying right answers over
    # wrong work: they pass, so the routes work, and all they achieve is to supply an answer
    control = batch["by_name"]["control"]
    assert tiny_statuses(control) == {"01.1": "passed", "01.2": "passed"}, control


@pytest.mark.slow
def test_nothing_outlives_the_grader_and_nothing_of_the_course_changes(batch):
    if not ISOLATION.method == "bwrap":
        pytest.skip("without a PID namespace a detached process can outlive grading")
    assert batch["left"] == []                      # the detached process died with its sandbox
    assert batch["report_path"].read_text() == batch["report_text"]
    assert batch["report"]["submissions"]
    assert batch["package_unchanged"]
    assert batch["unchanged"]                       # nor any submitted file
    assert re.search("could not edit the course: (PermissionError|OSError)", kept_text(batch, "escapes"))


@pytest.mark.slow
def test_the_kernel_is_sandboxed(batch):
    if not ISOLATION.isolated:
        pytest.skip("no isolation on this machine")
    line = next(x for x in kept_text(batch, "probe_and_misnamed").splitlines() if x.startswith("PROBE "))
    facts = json.loads(line[len("PROBE "):])
    assert facts["network"] != "connected"
    assert facts["environment_has_secret"] is False and facts["secret_in_any_environ"] is False
    assert facts["memory"] == "MemoryError"          # the address-space limit
    if ISOLATION.method == "bwrap":
        shown = {"course_utils"} | {Path(os.path.realpath(prefix)).relative_to(ROOT).parts[0]   # a venv in the checkout
                                    for prefix in (sys.prefix, sys.base_prefix)
                                    if Path(os.path.realpath(prefix)).is_relative_to(ROOT)}
        assert facts["solutions_visible"] is False and set(facts["checkout_entries"]) <= shown
        assert facts["package_writable"] is False and facts["scratch_writable"] is True
        assert len(facts["processes"]) <= 4          # its own PID namespace: bwrap's init, the kernel, ...
        if os.geteuid() == 0:
            assert facts["uid"] >= 200_000           # a uid of its own, not root
    assert batch["report"]["isolation"]["method"] == ISOLATION.method


def test_on_ci_as_root_grading_is_isolated_by_bubblewrap():
    if os.geteuid() != 0 or not sandbox._tool("bwrap"):
        pytest.skip("CI runs as root with bubblewrap installed (.ci/run installs it)")
    assert ISOLATION.method == "bwrap" and ISOLATION.drop_uid


@pytest.mark.slow
def test_the_kernel_never_holds_an_expected_value(batch):
    # the hidden expected trajectories of run_gd, computed here: nowhere in the wrong submission's run
    cases = checks.run_gd.cases(hidden_variant(SECRET))
    text = kept_text(batch, "wrong_and_cheat")
    for case in cases:
        A, w = np.array(case["A"]), np.array(case["w0"])
        for _ in range(case["num_steps"]):
            w = w - case["lr"] * A @ w
        for x in w:
            assert repr(float(x))[:12] not in text
    # and the grader cell carried exactly the cases drawn from the secret
    assert plain.dumps(cases) in text


# --------------------------------------------------------------------------- good, wrong, broken submissions

@pytest.mark.slow
def test_wrong_work_fails_with_its_hint(batch):
    wrong = batch["by_name"]["wrong_and_cheat"]
    assert tiny_statuses(wrong) == {"01.1": "failed", "01.2": "failed"}
    assert wrong["exercises"][1]["message"].startswith("[check 01.2] run_gd: FAILED:")
    assert "Each row should be one step" in wrong["exercises"][1]["message"]
    assert (wrong["points"], wrong["max_points"]) == (0, sum(c.points for c in grading.lesson_checks("01")))
    assert {e["status"] for e in wrong["exercises"] if e["id"] not in TINY} == {"missing"}


@pytest.mark.slow
def test_hidden_inputs_catch_an_answer_fitted_to_the_visible_ones(batch):
    cheat = lambda w, grad, lr: w - lr * grad if abs(w[0]) in (1.0, 0.3) else w   # noqa: E731
    assert checks.gd_step.grade(cheat)[0] == "passed"                           # the visible inputs
    assert statuses(batch["by_name"]["wrong_and_cheat"])["01.1"] == "failed"     # the secret's
    assert batch["report"]["hidden"] is True and batch["report"]["secret"] == "environment"


@pytest.mark.slow
def test_broken_submissions_get_a_clear_status(batch):
    by = batch["by_name"]
    crash = by["crash_and_missing"]["exercises"]
    assert crash[0]["status"] == "error" and "ZeroDivisionError" in crash[0]["message"]
    assert crash[1]["status"] == "missing" and "no solution cell" in crash[1]["message"]
    stripped = by["01_stripped"]
    assert set(tiny_statuses(stripped).values()) == {"passed"} and stripped["lesson"] == "01"
    misnamed = by["probe_and_misnamed"]["exercises"]
    assert misnamed[0]["status"] == "passed"
    assert misnamed[1]["status"] == "error" and "run_gd is not defined" in misnamed[1]["message"]
    exits = by["exits"]["exercises"]
    assert exits[0]["status"] == "error" and "SystemExit" in exits[0]["message"]
    assert exits[1]["status"] == "error" and "kernel died" in exits[1]["message"]
    probe = kept_text(batch, "probe_and_misnamed")
    assert "output truncated" in probe and len(probe) < 1_000_000


@pytest.mark.slow
@pytest.mark.parametrize("lesson", REAL_LESSONS)
def test_real_lessons_instructor_passes_and_learner_is_not_attempted(batch, lesson):
    if not split(lesson):
        pytest.skip(f"lesson {lesson}'s checks are not split into cases/respond/judge yet")
    instructor, learner = batch["by_name"][f"{lesson}_instructor"], batch["by_name"][f"{lesson}_learner"]
    ids = [c.id for c in grading.lesson_checks(lesson)]
    assert [e["id"] for e in instructor["exercises"]] == ids
    assert set(statuses(instructor).values()) == {"passed"}, instructor
    assert set(statuses(learner).values()) == {"not attempted"}, learner
    assert not instructor["flagged"] and not learner["flagged"], (instructor["flags"], learner["flags"])


@pytest.mark.slow
def test_report_table_and_exit_status(batch, capsys):
    assert batch["status"] == 2                     # some submissions are flagged for review
    data = batch["report"]
    assert data["isolation"]["method"] == ISOLATION.method and data["mode"] == "fast"
    assert data["points"] == sum(s["points"] for s in data["submissions"])
    assert batch["unchanged"]
    for sub in data["submissions"]:
        for e in sub["exercises"]:
            assert isinstance(e["seconds"], float) and e["seconds"] >= 0 and e["status"] in grading.STATUSES


# --------------------------------------------------------------------------- time limits and other isolations

@pytest.mark.slow
def test_time_limits(tmp_path):
    """Per-cell limits interrupt a hanging cell and the rest is graded; a cell that ignores the interrupt
    ends its notebook only; the overall limit kills the notebook's sandbox, with every process the
    submission started and its scratch folder. (Both runs at once: they mostly wait.)"""
    import tempfile
    import threading
    from concurrent.futures import ThreadPoolExecutor

    loop = tiny(tmp_path / "loop.ipynb", step="def gd_step(w, grad, lr):\n    while True:\n        pass\n")
    stubborn = tiny(tmp_path / "stubborn.ipynb", before_run="import signal\nsignal.signal(signal.SIGINT, "
                    "signal.SIG_IGN)\nwhile True:\n    pass")
    marker = f"course-grade-test-{uuid.uuid4().hex}"
    sleeper = tiny(tmp_path / "sleeper.ipynb", before_step="import subprocess, sys, time\n"
                   f"open('{marker}', 'w').close()   # in its scratch folder\n"
                   f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {marker}'])\n"
                   "time.sleep(100)")
    scratch_files = f"course-grade-kernel-*/{marker}"
    seen, done = {"file": False, "process": False}, threading.Event()

    def watch():   # what the sleeper left while it ran, so that "gone afterwards" means something
        while not done.is_set():
            seen["file"] |= bool(list(Path(tempfile.gettempdir()).glob(scratch_files)))
            seen["process"] |= bool(_marked_processes(marker))
            done.wait(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(2) as pool:
            hanging = pool.submit(grading.grade, [loop, stubborn], Settings(timeout=2, total_timeout=120), 2)
            overall = pool.submit(grading.grade, [sleeper], Settings(timeout=200, total_timeout=20))
            results, [slept] = hanging.result(), overall.result()
    finally:
        done.set()
        watcher.join()
    assert time.perf_counter() - start < 60
    by = {Path(r.path).stem: {e.id: e for e in r.exercises} for r in results}
    assert by["loop"]["01.1"].status == "timeout" and "did not finish within 2 s" in by["loop"]["01.1"].message
    assert by["loop"]["01.2"].status == "passed"
    assert by["stubborn"]["01.1"].status == "passed" and by["stubborn"]["01.2"].status == "timeout"
    assert "ignored the interrupt" in by["stubborn"]["01.2"].message
    assert {e.status for e in slept.exercises if e.id in TINY} == {"timeout"}
    assert "overall time limit of 20 s" in slept.exercises[0].message
    assert seen == {"file": True, "process": True}, "the sleeper's cell did not run within 20 s"
    assert list(Path(tempfile.gettempdir()).glob(scratch_files)) == []     # its scratch folder removed
    if ISOLATION.method in ("bwrap", "unshare"):
        assert _marked_processes(marker) == []      # killed with the kernel's PID namespace


@pytest.mark.slow
def test_weaker_isolations_still_grade_and_say_so(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    methods = ["none"] + (["unshare"] if sandbox._tool("unshare") else [])

    def run(method):
        good = tiny(tmp_path / f"good_{method}.ipynb", rest=True)
        status = grading.main([str(good), "--isolation", method, "--report", str(tmp_path / f"{method}.json")])
        return status, json.loads((tmp_path / f"{method}.json").read_text())

    with ThreadPoolExecutor(len(methods)) as pool:
        done = dict(zip(methods, pool.map(run, methods)))
    for method, (status, data) in done.items():
        assert status == 0 and data["isolation"]["method"] == method, data
        assert data["isolation"]["isolated"] is (method != "none")


# --------------------------------------------------------------------------- unit tests (no kernel)

def test_unreadable_and_empty_submissions_get_a_clear_status(tmp_path):
    (tmp_path / "01_empty.ipynb").write_text("")
    (tmp_path / "01_corrupt.ipynb").write_text('{"cells": [ {"cell_type": "code", ')
    (tmp_path / "01_not_a_notebook.ipynb").write_text('{"hello": 1}')
    (tmp_path / "mystery.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    paths = [tmp_path / n for n in ("01_empty.ipynb", "01_corrupt.ipynb", "01_not_a_notebook.ipynb",
                                    "mystery.ipynb", "does_not_exist.ipynb")]
    results = grading.grade(paths, Settings())
    got = {Path(r.path).stem: r for r in results}
    assert "empty" in got["01_empty"].message
    assert "not valid JSON (line 1" in got["01_corrupt"].message
    assert "not a notebook" in got["01_not_a_notebook"].message
    assert got["mystery"].status == "unknown lesson" and "which lesson" in got["mystery"].message
    assert got["does_not_exist"].status == "unreadable"
    for stem in ("01_empty", "01_corrupt", "01_not_a_notebook"):
        assert got[stem].status == "unreadable" and got[stem].lesson == "01"
        assert {e.status for e in got[stem].exercises} == {"error"}
    assert not any(r.all_passed for r in results)


def test_csv_report_has_one_row_per_exercise(tmp_path):
    (tmp_path / "01_corrupt.ipynb").write_text("{not json")
    (tmp_path / "mystery.ipynb").write_text("")
    status = grading.main([str(tmp_path / "01_corrupt.ipynb"), str(tmp_path / "mystery.ipynb"),
                           "--report", str(tmp_path / "grades.csv"), "--isolation", "none"])
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert status == 1
    assert list(rows[0]) == list(report.COLUMNS) and rows[0]["isolation"] == "none"
    corrupt = [r for r in rows if r["submission"].endswith("01_corrupt.ipynb")]
    assert len(corrupt) == len(grading.lesson_checks("01"))       # one row per exercise of its lesson
    assert all(r["submission_status"] == "unreadable" and r["status"] == "error" for r in corrupt)
    mystery = [r for r in rows if r["submission"].endswith("mystery.ipynb")]
    assert len(mystery) == 1 and mystery[0]["exercise"] == "" and mystery[0]["status"] == "unreadable"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary file left


def test_results_are_typed_and_a_report_is_always_written(tmp_path):
    e = grading.ExerciseResult("01.1", "gd_step", 1, "passed", seconds="soon")
    assert e.seconds == 0.0 and e.points == 1
    assert grading.ExerciseResult("01.1", "gd_step", 1, "super").status == "error"
    assert grading.ExerciseResult("01.1", "gd_step", True, "passed").max_points == 0
    r = grading.SubmissionResult(123, "1", "graded", exercises=[e, "not a result"], notes=[None], seconds=float("nan"))
    assert (r.path, r.lesson, r.seconds, len(r.exercises), r.notes) == ("123", None, 0.0, 1, [""])
    e.seconds = "later"                           # changed after it was made: the report still holds a number
    for name in ("r.json", "r.csv"):
        grading.write_report([r], tmp_path / name, Settings(), {"method": "none"})
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["submissions"][0]["exercises"][0]["seconds"] == 0.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json"]


def _record(nonce, body) -> list:
    return [{"output_type": "stream", "name": "stdout", "text": f"[course grader {nonce}] {body}\n"}]


@pytest.mark.parametrize("body, why", [
    ('{"id":"01.2","answer":"defined","responses":[],"seconds":"soon"}', "fields"),
    ('{"kind":"check","id":"01.2","status":"passed","message":""}', "fields"),
    ('{"id":"01.1","answer":"defined","responses":[]}', "another exercise"),
    ('{"id":"01.2","answer":"maybe","responses":[]}', "answer field"),
    ('{"id":"01.2","answer":"defined","responses":"all"}', "not a list"),
    ('{"id":"01.2","answer":"defined","responses":[{"status":"ok"}]}', "malformed"),
    ('{"id":"01.2","answer":"defined","responses":[{"status":"passed","value":1}]}', "malformed"),
    ('{"id":"01.2","answer":"defined","responses":[{"status":["ok"],"value":1}]}', "malformed"),
    ('{"id":"01.2","answer":"defined","responses":[{"status":"raised","message":7}]}', "not text"),
    ('{"id":"01.2","answer":"undefined","responses":[{"status":"not attempted"}]}', "undefined"),
    ('{"id":"01.2","answer":"defined","responses":[' + ",".join(['{"status":"not attempted"}'] * 4) + "]}", "at most"),
    ("{'id': '01.2'}", "could not be read"),
    ("[" * 50 + "]" * 50, "could not be read"),
    ('{"id":"01.2","answer":"defined","responses":[{"status":"ok","value":"' + "x" * 20_000 + '"}]}', "could not be read"),
])
def test_malformed_records_are_refused(body, why):
    with pytest.raises(records.RecordProblem, match=why):
        records.read_record(_record("ab", body), "01.2", "ab", cases=3)


def test_only_one_record_with_the_cells_nonce_counts():
    good = '{"id":"01.2","answer":"undefined","responses":[]}'
    assert records.read_record(_record("ab", good) + _record("cd", good), "01.2", "ab", cases=3)["id"] == "01.2"
    with pytest.raises(records.RecordProblem, match="printed 2 records"):
        records.read_record(_record("ab", good) * 2, "01.2", "ab", cases=3)
    with pytest.raises(records.RecordProblem, match="no record"):
        records.read_record(_record("cd", good), "01.2", "ab", cases=3)
    stderr = [{"output_type": "stream", "name": "stderr", "text": f"[course grader ab] {good}\n"}]
    with pytest.raises(records.RecordProblem, match="no record"):
        records.read_record(stderr, "01.2", "ab", cases=3)


def test_the_grader_cell_carries_cases_and_no_expected_value():
    cases = checks.gd_step.cases(hidden_variant(SECRET))
    nb = nbformat.reads(tiny_text(), as_version=4)
    graded = grading.build_graded(nb, grading.lesson_checks("01"), {"01.1": plain.dumps(cases)})
    sources = [c.source for c in graded.nb.cells]
    cell = next(s for s in sources if ".respond(" in s)
    assert plain.dumps(cases) in cell and "checks.gd_step" not in "\n".join(sources)
    for case in cases:
        for x in np.array(case["w"]) - case["lr"] * np.array(case["grad"]):
            assert repr(float(x))[:12] not in cell
    assert [eid for eid in graded.missing if eid in TINY] == [] and [w.get("check") for w in graded.plan].count("01.1") == 1


def tiny_text() -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return tiny(Path(d) / "t.ipynb").read_text()


def test_detect_lesson_from_metadata_ids_calls_and_file_name(tmp_path):
    nb = nbformat.read(tiny(tmp_path / "a.ipynb"), as_version=4)
    assert grading.detect_lesson(nb, "whatever.ipynb") == "01"
    del nb.metadata["course"]
    assert grading.detect_lesson(nb, "whatever.ipynb") == "01"          # exercise ids in cell metadata
    bare = nbformat.read(tiny(tmp_path / "b.ipynb", metadata=False), as_version=4)
    assert grading.detect_lesson(bare, "whatever.ipynb") == "01"        # the checks.gd_step( calls
    bare.cells = bare.cells[:2]
    assert grading.detect_lesson(bare, "whatever.ipynb") is None
    assert grading.detect_lesson(bare, "01_mine.ipynb") == "01"         # the file name, last


def test_hidden_cases_come_from_the_secret_only(tmp_path, monkeypatch):
    def cases(settings):
        return Run.start(settings).cases_of(checks.run_gd)[1]

    assert cases(Settings(hidden=True, secret=b"a")) == cases(Settings(hidden=True, secret=b"a"))
    assert cases(Settings(hidden=True, secret=b"a")) != cases(Settings(hidden=True, secret=b"b"))
    assert cases(Settings(hidden=True)) != cases(Settings(hidden=True))          # a fresh secret per run
    assert cases(Settings()) == plain.dumps(checks.run_gd.cases(checks.VISIBLE))
    key = tmp_path / "key"
    key.write_text("from a file\n")
    parsed = cli.parser().parse_args(["x.ipynb", "--hidden", "--secret-file", str(key)])
    assert cli.read_secret(parsed, cli.parser()) == (b"from a file", "file")
    monkeypatch.setenv("COURSE_GRADER_SECRET", "from the environment")
    parsed = cli.parser().parse_args(["x.ipynb", "--hidden"])
    assert cli.read_secret(parsed, cli.parser()) == (b"from the environment", "environment")
    env = sandbox.kernel_env(tmp_path, "fast")
    assert "COURSE_GRADER_SECRET" not in env and "COURSE_GRADER_SECRET" not in execute.worker_env()
    with pytest.raises(SystemExit):
        grading.main(["x.ipynb", "--secret-file", str(key)])             # a secret without --hidden


def test_a_check_not_split_is_an_error_not_a_guess():
    class Unsplit(Check):
        id, name, hints = "99.9", "unsplit", ("a hint",)

    cases, message = Run(Settings(), sandbox.detect("none"), checks.VISIBLE).cases_of(Unsplit())
    assert cases is None and "not split" in message


def test_the_sandbox_shows_the_kernel_only_what_it_needs(tmp_path):
    if not ISOLATION.method == "bwrap":
        pytest.skip("bubblewrap is not available")
    command = " ".join(ISOLATION.command(["python"], tmp_path, sandbox.Limits(), uid=300_000))
    assert f"--bind {tmp_path} {tmp_path}" in command and command.count("--bind ") == 1   # one writable folder
    assert f"--ro-bind {PACKAGE} {PACKAGE}" in command and "solutions" not in command
    assert f"--ro-bind {ROOT} " not in command and "--unshare-net" in command and "--unshare-pid" in command
    assert "--as=" in command and "--cpu=" in command and "--nproc=" in command


# --------------------------------------------------------------------------- the checks, judged outside

# A learner's slip for each exercise, written against the exercise's API in the learner's notebook.
WRONG = {
    "01.1": lambda w, grad, lr: w - 2 * lr * grad,
    "01.2": lambda grad_fn, w0, lr, n: np.array([np.asarray(w0, float) - 0.5 * k * lr * grad_fn(w0)
                                                  for k in range(n + 1)]),
    "01.3": lambda lr, lambdas: float(np.max(np.abs(1 - lr * np.asarray(lambdas)))),   # the factor, not squared
    "01.4": lambda points, losses: "too large" if losses[-1] > losses[0] else "moderate",   # the loss alone
    "02.1": lambda A: 2.0 / np.max(np.diag(A)),
    "02.2": lambda A: 1.0 / np.linalg.eigvalsh(A).max(),
    "02.3": lambda kappa, tol: int(np.ceil(np.log(tol) / np.log((kappa - 1) / (kappa + 1)))),   # the distance, not the loss
}


def _wrong_answers():
    """Wrong answers of the lessons 03-08 exercises (torch and the course's optimizers imported lazily)."""
    import math

    import torch

    from course_utils import optimizers

    def train_sgd(model, X, y, lr, num_steps, batch_size):   # (batch, 1) against (batch,): broadcasts
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)

        def one_step():
            idx = torch.randint(0, len(X), (batch_size,))
            optimizer.zero_grad()
            loss = ((model(X[idx]) - y[idx]) ** 2).mean()
            loss.backward()
            optimizer.step()
            return loss.item()
        return [one_step() for _ in range(num_steps)]

    class MomentumSGD(optimizers.CourseOptimizer):   # dampened: b <- m b + (1 - m) g
        def __init__(self, params, lr=1e-3, momentum=0.9):
            super().__init__(params, dict(lr=lr, momentum=momentum))

        def update(self, p, grad, state, group):
            buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
            buf.mul_(group["momentum"]).add_((1 - group["momentum"]) * grad)
            p.sub_(group["lr"] * buf)

    class MyAdam(optimizers.CourseOptimizer):   # the second moment of |g|, not of g squared
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

        def update(self, p, grad, state, group):
            (beta1, beta2), t = group["betas"], state["step"]
            m = state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
            v = state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * grad.abs()
            p.sub_(group["lr"] * (m / (1 - beta1 ** t)) / ((v / (1 - beta2 ** t)).sqrt() + group["eps"]))

    def plateau_reductions(losses, patience, threshold):   # cuts one epoch early
        best, bad, cuts = math.inf, 0, []
        for epoch, loss in enumerate(losses):
            if loss < best * (1 - threshold):
                best, bad = loss, 0
            else:
                bad += 1
            if bad >= patience:
                cuts.append(epoch)
                bad = 0
        return cuts

    def smooth_losses(losses, beta):   # no bias correction
        out, average = [], 0.0
        for loss in losses:
            average = beta * average + (1 - beta) * loss
            out.append(average)
        return out

    def hessian_vector_product(loss, params, vector):   # the gradient, not H v
        return list(torch.autograd.grad(loss, params))

    def power_iteration(hvp, dim, tol=1e-6, max_iterations=1000):   # one step only
        v = torch.ones(dim, dtype=torch.float64) / dim ** 0.5
        return float(hvp(v).norm())

    return {
        "03.2": lambda lr, batch_size, hessian, gradient_noise: lr * np.trace(gradient_noise) / (2 * batch_size),  # ½ lost
        "03.3": lambda losses: "diverging" if losses[-1] > losses[0] else "at its floor",   # never "still descending"
        "03.1": train_sgd, "04.1": MomentumSGD, "04.3": MyAdam,
        "04.2": lambda A, momentum: 2.0 / np.linalg.eigvalsh(A).max(),   # gradient descent's wall: momentum ignored
        "05.1": lambda step, peak_lr, warmup_steps, total_steps, start_factor, final_lr:
            final_lr + (peak_lr - final_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2,
        "05.2": plateau_reductions,
        "05.3": lambda lrs, losses, steps_per_epoch: "too large" if losses[-1] > losses[0] else "too small",
        "06.1": smooth_losses,
        "06.2": lambda lrs, smoothed: float(lrs[int(np.argmin(smoothed))]),
        "06.3": lambda lam, lrs: 2.0 / lam,   # the wall itself, not a learning rate of the sweep
        "07.1": lambda history: history.val_acc[-1] - history.train_eval_acc[-1],
        "07.2": lambda histories: min(histories, key=lambda lr: max(histories[lr].val_acc or [0])),
        "07.3": lambda lr, num_weights, weight_norm: lr * num_weights / weight_norm,   # lengths added, not squared
        "07.4": lambda step_loss, num_classes: "too small",                           # always the same word
        "08.1": hessian_vector_product, "08.2": power_iteration,
        "08.3": lambda sharpness, momentum=0.0: 2.0 / sharpness,
        "08.4": lambda lr: 1.0 / lr,
        "09.1": lambda lr, batch_size, new_batch_size, optimizer: lr * new_batch_size / batch_size,  # linear for both
        "09.2": lambda sq_small, sq_big, b_small, b_big: (sq_big, sq_small - sq_big, (sq_small - sq_big) / sq_big),
        "09.3": lambda kind, width_mult: (1.0, 1.0),   # the standard parametrization: nothing scales
    }


def _numbers(value) -> list[float]:
    text = plain.dumps(value) if not isinstance(value, str) else value
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]


@pytest.mark.parametrize("eid", sorted(checks.REGISTRY))
def test_hidden_failure_messages_never_show_an_expected_value(eid, monkeypatch):
    check = checks.REGISTRY[eid]
    if type(check).cases is Check.cases:
        pytest.skip(f"exercise {eid}'s check is not split yet")
    wrong = {**WRONG, **_wrong_answers()}.get(eid)
    assert wrong is not None, f"write a wrong answer for exercise {eid} in _wrong_answers() (tests/test_grading.py)"
    expected = []
    import course_utils.checks._core as core

    module = sys.modules[type(check).__module__]
    for name in ("expect_close", "close"):   # every expected value the judge compares with, recorded
        real = getattr(core, name)

        def spy(actual, want, *args, _real=real, **kwargs):
            expected.extend(_numbers(plain.to_plain(np.asarray(want, dtype=float))))
            return _real(actual, want, *args, **kwargs)
        if hasattr(module, name):
            monkeypatch.setattr(module, name, spy)
    for secret in (b"one secret", b"another"):
        cases = check.cases(hidden_variant(secret))
        responses = check.respond_all(wrong, cases)
        status, message = check.verdict(cases, responses)
        assert status == "failed", (eid, status, message)
        shown = _numbers(message)
        known = _numbers(cases) + _numbers(responses)
        for x in shown:
            if any(np.isclose(x, k, rtol=1e-3) for k in known):
                continue       # an input or the learner's own value
            assert not any(np.isclose(x, y, rtol=1e-3, atol=1e-12) for y in expected), (eid, message)


@pytest.mark.parametrize("eid", sorted(checks.REGISTRY))
def test_each_check_answers_the_name_the_lesson_defines(eid):
    check = checks.REGISTRY[eid]
    if type(check).cases is Check.cases:
        pytest.skip(f"exercise {eid}'s check is not split yet")
    path = next((ROOT / "notebooks" / "solutions").glob(f"{check.lesson}_*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    call = next(c.source for c in nb.cells if c.get("metadata", {}).get("course") == {"exercise": eid, "role": "check"})
    solution = next(c.source for c in nb.cells
                    if c.get("metadata", {}).get("course") == {"exercise": eid, "role": "solution"})
    argument = ast.parse(call.split("\n", 1)[1]).body[0].value.args[0].id
    assert check.answer_name == argument and check.answer_name in submission.top_level_names(solution)


# --------------------------------------------------------------------------- the second line: the scan

def test_scan_flags_tampering_and_not_honest_code():
    honest = ["import numpy as np\nimport matplotlib.pyplot as plt\nimport torch\nimport sys",
              "torch.backends.cudnn.benchmark = True\nplt.rcParams['figure.dpi'] = 100",
              'if "google.colab" in sys.modules:\n    print(sys.executable)',
              "%matplotlib inline\n%timeit np.zeros(3)",
              "from course_utils import checks, plotting\nchecks.gd_step(lambda w, g, lr: w - lr * g)",
              "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = torch.nn.Linear(2, 1)",
              "name = type(model).__name__\nopt = getattr(torch.optim, 'Adam')\nopt = getattr(torch.optim, name)",
              "import inspect\nprint(inspect.getsource(np.linalg.norm))",
              "sum = 0\nfor x in range(3):\n    sum += x"]
    assert grading.scan(honest) == []
    tampering = {"np.allclose = lambda *a, **k: True": "numpy.allclose",
                 "%run other.py": "%run",
                 "sys.settrace(lambda *a: None)": "sys.settrace",
                 "exec('x = 1')": "exec",
                 "f = print.__self__": "__self__",
                 "getattr(checks, name)": "computed attribute name",
                 "import inspect\nf = inspect.currentframe()": "inspect.currentframe",
                 "get_ipython().events.register('post_run_cell', f)": "get_ipython().events",
                 "print(In[-1])": "input history",
                 "NotImplementedError = ValueError": "NotImplementedError",
                 "checks.REGISTRY.clear()": "course_utils.checks.REGISTRY"}
    for code, words in tampering.items():
        flags = grading.scan(["import numpy as np\nimport sys\nfrom course_utils import checks", code])
        assert flags and any(words in f.reason for f in flags), (code, flags)
        assert all(f.cell == 2 and f.where.startswith("cell 2, line ") for f in flags)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                         + sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_course_notebook_is_flagged_by_the_scan(path):
    nb = nbformat.read(path, as_version=4)
    run = [(n, c) for n, c in enumerate(nb.cells, 1) if c.cell_type == "code"]
    assert grading.scan([c.source for _, c in run], [n for n, _ in run]) == []


@pytest.mark.slow
def test_flags_are_for_review_only(batch):
    flagged = batch["by_name"]["replace_checks_and_comparisons"]
    assert flagged["flagged"] and "course_utils.checks.run_gd" in " ".join(f["reason"] for f in flagged["flags"])
    control = batch["by_name"]["control"]
    assert control["flagged"] and control["points"] == 3     # a flag changes no grade
    assert not batch["by_name"]["01_instructor"]["flagged"] and not batch["by_name"]["wrong_and_cheat"]["flagged"]


# --------------------------------------------------------------------------- nbval on a submission

@pytest.mark.slow
def test_nbval_passes_a_solved_submission_and_fails_a_wrong_one(tmp_path):
    paths = []
    for name, run in (("solved", GOOD_RUN), ("wrong", WRONG_RUN)):
        nb = nbformat.read(tiny(tmp_path / f"{name}.ipynb", run=run), as_version=4)
        for cell in nb.cells:   # the stored outputs nbval compares with: what a solved notebook prints
            if cell.source.startswith("# NBVAL_CHECK_OUTPUT"):
                check = cell.metadata["course"]["exercise"]
                line = f"[check {check}] {checks.REGISTRY[check].name}: PASSED\n"
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=line)]
                cell.execution_count = 1
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
        paths.append(str(tmp_path / f"{name}.ipynb"))
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", "-rA",
                           *paths], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COURSE_MODE="fast", COURSE_PROGRESS="0", MPLBACKEND="Agg"))
    failed = set(re.findall(r"^FAILED (\S+?)::", done.stdout, flags=re.M))
    passed = set(re.findall(r"^PASSED (\S+?)::", done.stdout, flags=re.M))
    assert failed == {"wrong.ipynb"} and "solved.ipynb" in passed, done.stdout[-3000:]
    assert "run_gd: FAILED" in done.stdout
