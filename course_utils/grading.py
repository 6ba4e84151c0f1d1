"""Grade submitted notebooks exercise by exercise, with the course's own checks.

For each submission the grader

1. copies it to a temporary folder (the submitted file is never opened for writing);
2. finds its lesson (``nb.metadata["course"]["lesson"]``, else the exercise ids in cell
   metadata, else the ``checks.<name>(`` calls and titles in the sources, else the file name);
3. drops the submission's check cells and inserts the instructor notebook's check for each
   exercise right after the submission's solution cell for it, wrapped so that its outcome is
   recorded and execution goes on;
4. runs the result in a fresh kernel (``COURSE_MODE=fast`` unless told otherwise), with a
   per-cell timeout that interrupts a hanging cell, an overall time limit per submission and
   a cap on each cell's output;
5. reports per exercise: id, name, points, status, the check's message and its run time.

Statuses: ``passed``, ``failed`` (the check's hint says why), ``error`` (the check could not
run, e.g. an earlier cell crashed: the message names it), ``timeout``, ``not attempted``
(``raise NotImplementedError`` is still there) and ``missing`` (no solution cell found).

Usage::

    python -m course_utils.grade alice.ipynb bob.ipynb --report grades.json
    course-grade submissions/*.ipynb --report grades.csv --jobs 2 --timeout 120
    course-grade alice.ipynb --hidden      # also run each check on inputs the learner never saw

The exit status is 0 when every exercise of every submission passed, 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
STATUSES = ("passed", "failed", "error", "timeout", "not attempted", "missing")
_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\s*\(")
_MAX_MESSAGE = 2000  # characters of a check's message kept in the report


# --------------------------------------------------------------------------- results

@dataclass
class ExerciseResult:
    """One exercise of one submission."""

    id: str
    name: str
    max_points: int
    status: str
    message: str = ""
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return self.max_points if self.status == "passed" else 0


@dataclass
class SubmissionResult:
    """One submission: ``status`` is ``graded`` or says why it could not be (then see ``message``)."""

    path: str
    lesson: str | None
    status: str
    message: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)

    @property
    def max_points(self) -> int:
        return sum(e.max_points for e in self.exercises)

    @property
    def all_passed(self) -> bool:
        return self.status == "graded" and all(e.status == "passed" for e in self.exercises)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(points=self.points, max_points=self.max_points)
        for row, ex in zip(out["exercises"], self.exercises):
            row["points"] = ex.points
        return out


class SubmissionProblem(Exception):
    """A submission that cannot be graded at all (unreadable, unknown lesson); ``status`` says which."""

    def __init__(self, status: str, message: str, lesson: str | None = None):
        super().__init__(message)
        self.status, self.message, self.lesson = status, message, lesson


# --------------------------------------------------------------------------- reading notebooks

def read_submission(path: Path):
    """Read a notebook from ``path`` or raise :class:`SubmissionProblem` saying what is wrong with it."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SubmissionProblem("unreadable", f"cannot read the file: {err.strerror or err}") from None
    if not raw.strip():
        raise SubmissionProblem("unreadable", "the file is empty")
    try:
        data = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise SubmissionProblem("unreadable", f"not valid JSON (line {err.lineno}, column {err.colno}): "
                                "the file is damaged or not a notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionProblem("unreadable", "not a notebook: the JSON has no list of cells")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        for cell in nb.cells:
            cell.setdefault("metadata", {})
            if cell.cell_type == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
            if not isinstance(cell.get("source", ""), str):
                raise ValueError("a cell's source is not text")
    except Exception as err:  # nbformat raises many kinds on malformed notebooks
        raise SubmissionProblem("unreadable", f"not a notebook: {type(err).__name__}: {err}") from None
    return nb


def _course_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("course", {})
    return meta if isinstance(meta, dict) else {}


def is_check_cell(cell) -> bool:
    """An exercise check cell: metadata role ``check``, or a cell calling ``checks.<name>(`` or printing a check line.

    A ``# NBVAL_CHECK_OUTPUT`` cell that does neither (a lesson's own claims, say) is not one: it
    stays, because later cells may use what it computes.
    """
    if cell.cell_type != "code":
        return False
    role = _course_meta(cell).get("role")
    if role in ("check", "solution"):
        return role == "check"
    return bool(_CHECK_CALL.search(cell.source)) or "[check " in cell.source


def _registry():
    from .checks import REGISTRY

    return REGISTRY


def _lesson_of_id(exercise_id) -> str | None:
    m = re.fullmatch(r"(\d\d)\.\d+", str(exercise_id).strip())
    return m.group(1) if m else None


def detect_lesson(nb, path: Path | str = "") -> str | None:
    """The two-digit lesson of notebook ``nb``: from its metadata, exercise ids, check calls, titles or file name."""
    lesson = str(nb.metadata.get("course", {}).get("lesson", "")).strip() if isinstance(
        nb.metadata.get("course"), dict) else ""
    if re.fullmatch(r"\d\d", lesson):
        return lesson
    if re.fullmatch(r"\d", lesson):
        return "0" + lesson
    found = [_lesson_of_id(_course_meta(c).get("exercise", "")) for c in nb.cells]
    found = [x for x in found if x]
    if not found:
        by_name = {check.name: check.lesson for check in _registry().values()}
        for cell in nb.cells:
            found += [by_name[n] for n in _CHECK_CALL.findall(cell.source) if n in by_name]
            found += re.findall(r"\[check (\d\d)\.\d+\]", cell.source)
            found += re.findall(r"^#\s*Lesson\s+(\d\d)\b", cell.source, flags=re.M)
            found += re.findall(r"\bExercise\s+(\d\d)\.\d+", cell.source)
    if found:
        return max(set(found), key=found.count)
    m = re.match(r"(\d\d)(?:_|\b)", Path(path).name)
    return m.group(1) if m else None


def _top_level_names(source: str) -> set[str]:
    """Names a cell defines at top level (``def``, ``class``, assignments); a regex if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pattern = r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=\n]*)?=(?!=)"
        return {a or b for a, b in re.findall(pattern, source, flags=re.M)}
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


@dataclass
class CourseCheck:
    """The instructor's check cell for one exercise and the names its solution defines."""

    exercise_id: str
    source: str
    names: set[str]


def instructor_notebook(lesson: str, solutions: Path) -> Path:
    found = sorted(Path(solutions).glob(f"{lesson}_*.ipynb"))
    if not found:
        raise SubmissionProblem("unknown lesson", f"lesson {lesson} has no instructor notebook "
                                f"({lesson}_*.ipynb) in {solutions}", lesson=lesson)
    return found[0]


def course_checks(solution_path: Path) -> list[CourseCheck]:
    """The check cells of an instructor notebook, in order, with the names each exercise defines."""
    import nbformat

    nb = nbformat.read(solution_path, as_version=4)
    by_name = {check.name: eid for eid, check in _registry().items()}
    out, previous_code = [], None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not is_check_cell(cell):
            previous_code = cell
            continue
        eid = _course_meta(cell).get("exercise") or next(
            (by_name[n] for n in _CHECK_CALL.findall(cell.source) if n in by_name), None)
        if eid is None:
            continue
        solution = next((c for c in nb.cells if _course_meta(c).get("exercise") == eid
                         and _course_meta(c).get("role") == "solution"), previous_code)
        try:
            used = {n.id for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Name)}
        except SyntaxError:
            used = set()
        defined = _top_level_names(solution.source) if solution is not None else set()
        out.append(CourseCheck(eid, cell.source, (defined & used) or used - {"checks"}))
    return out


def with_hidden(source: str) -> str:
    """``source`` with ``hidden=True`` added to every ``checks.<name>(...)`` call."""

    class AddHidden(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            func = node.func
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "checks" and not any(k.arg == "hidden" for k in node.keywords)):
                node.keywords.append(ast.keyword(arg="hidden", value=ast.Constant(True)))
            return node

    return ast.unparse(ast.fix_missing_locations(AddHidden().visit(ast.parse(source))))


# --------------------------------------------------------------------------- building the graded notebook

def _find_solution_cell(cells, check: CourseCheck) -> int | None:
    """Index of the submission's solution cell for ``check``: by exercise id, else the last cell defining its names."""
    tagged = [i for i, c in enumerate(cells) if c.cell_type == "code" and not is_check_cell(c)
              and _course_meta(c).get("exercise") == check.exercise_id]
    if tagged:
        return tagged[-1]
    defining = [i for i, c in enumerate(cells) if c.cell_type == "code" and not is_check_cell(c)
                and _top_level_names(c.source) & check.names]
    return defining[-1] if defining else None


def build_graded(nb, checks: list[CourseCheck], records: Path, token: str, hidden: bool = False):
    """The notebook to run and its plan.

    Returns ``(graded_nb, plan, missing)``: ``plan[i]`` describes graded cell ``i`` as
    ``{"check": id}`` (an inserted course check) or ``{"cell": n, "exercise": id}`` (the
    submission's cell ``n``, 1-based, with the exercise it solves if any); ``missing`` lists
    the exercises without a solution cell.
    """
    import copy

    import nbformat

    kept = [(n, c) for n, c in enumerate(nb.cells, start=1) if not is_check_cell(c)]
    cells = [c for _, c in kept]
    after: dict[int, list[CourseCheck]] = {}
    missing, solution_of = [], {}
    for check in checks:
        where = _find_solution_cell(cells, check)
        if where is None:
            missing.append(check.exercise_id)
        else:
            after.setdefault(where, []).append(check)
            solution_of.setdefault(where, check.exercise_id)
    graded = copy.deepcopy(nb)
    graded.cells, plan = [], []
    for i, (n, cell) in enumerate(kept):
        graded.cells.append(copy.deepcopy(cell))
        plan.append({"cell": n, "exercise": solution_of.get(i)})
        for check in after.get(i, []):
            source = with_hidden(check.source) if hidden else check.source
            graded.cells.append(nbformat.v4.new_code_cell(
                f"# course grader: the course's check for exercise {check.exercise_id}\n"
                f"__import__('course_utils.grading', fromlist=['_']).run_check(\n"
                f"    {check.exercise_id!r}, {source!r}, {str(records)!r}, {token!r}, globals())"))
            plan.append({"check": check.exercise_id})
    return graded, plan, missing


def run_check(exercise_id: str, source: str, records: str, token: str, namespace: dict) -> None:
    """Run a course check cell in the learner's namespace and append its outcome to ``records``.

    Runs inside the kernel. ``checks`` is bound to the course's own package whatever the
    learner did with the name; any exception is recorded, never raised, so execution goes on.
    """
    from . import checks as course_checks_module

    namespace["checks"] = course_checks_module
    start = time.perf_counter()
    try:
        exec(compile(source, f"<course check {exercise_id}>", "exec"), namespace)
        status, message = "passed", ""
    except NotImplementedError:
        status, message = "not attempted", "the solution still raises NotImplementedError"
    except AssertionError as err:
        status, message = "failed", str(err) or "the check failed without a message"
    except KeyboardInterrupt:
        status, message = "timeout", "the check was interrupted: it ran past the per-cell time limit"
    except BaseException as err:  # noqa: BLE001 - a learner's SystemExit must not end grading either
        status, message = "error", f"{type(err).__name__}: {err}"
    record = {"token": token, "id": exercise_id, "status": status,
              "message": message[:_MAX_MESSAGE], "seconds": round(time.perf_counter() - start, 3)}
    with open(records, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    if status != "passed":
        print(f"[grader] {exercise_id}: {status}: {message[:_MAX_MESSAGE]}")


# --------------------------------------------------------------------------- executing (worker process)

def _execute_worker(workdir: Path) -> int:
    """Run ``workdir/graded.ipynb`` in a fresh kernel; write ``executed.ipynb`` and ``worker.json``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    job = json.loads((workdir / "job.json").read_text())
    nb = nbformat.read(workdir / "graded.ipynb", as_version=4)
    timed_out: list[int] = []
    limit = int(job["max_output"])

    class Client(NotebookClient):
        async def _async_handle_timeout(self, timeout, cell=None):
            index = next((i for i, c in enumerate(nb.cells) if c is cell), -1)
            if index in timed_out:  # the interrupt did not stop it: give up on the notebook
                raise CellTimeoutError.error_from_timeout_and_cell("interrupt ignored", timeout, cell)
            timed_out.append(index)
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            # Cap what a cell may print: a cell printing megabytes must not fill memory or the report.
            size = len(json.dumps(msg.get("content", {}), default=str))
            used = self.sizes.get(cell_index, 0)
            self.sizes[cell_index] = used + size
            if used + size > limit:
                if used <= limit:
                    outs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=f"[grader: output truncated after {limit} bytes]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

    client = Client(nb, timeout=job["timeout"], interrupt_on_timeout=True, allow_errors=True,
                    kernel_name="python3", resources={"metadata": {"path": str(workdir)}})
    client.sizes = {}  # output bytes so far, per cell index
    aborted = None
    try:
        with client.setup_kernel():
            pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
            if pid:
                (workdir / "kernel.pid").write_text(str(pid))
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except DeadKernelError as err:
        aborted = {"status": "error", "message": f"the kernel died ({err}): the notebook crashed Python "
                   "or ran out of memory"}
    except CellTimeoutError:
        aborted = {"status": "timeout", "message": f"a cell ran past the time limit of {job['timeout']} s and "
                   "ignored the interrupt; the rest of the notebook was not run"}
    except Exception as err:  # noqa: BLE001 - report, never crash
        aborted = {"status": "error", "message": f"the notebook could not be run: {type(err).__name__}: {err}"}
    (workdir / "worker.json").write_text(json.dumps({"timed_out": timed_out, "aborted": aborted}))
    nbformat.write(nb, workdir / "executed.ipynb")
    return 0


def _worker_loop() -> int:
    """Serve jobs: read a work folder per line on stdin, run it, then create ``done`` in it.

    One worker runs many submissions one after another (each in its own fresh kernel), so the
    slow imports of nbclient and nbformat are paid once per worker, not once per submission.
    """
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        workdir = Path(line.strip())
        try:
            _execute_worker(workdir)
        except BaseException as err:  # noqa: BLE001 - the grader reads worker.json, never a traceback
            (workdir / "worker.json").write_text(json.dumps({"timed_out": [], "aborted": {
                "status": "error", "message": f"the grader's worker failed: {type(err).__name__}: {err}"}}))
        (workdir / "done").write_text("")


class Worker:
    """A ``python -m course_utils.grading --worker`` process, restarted after a kill."""

    def __init__(self, env: dict):
        self.env, self.proc, self.log = env, None, tempfile.TemporaryFile()

    def run(self, workdir: Path, limit: float) -> bool:
        """Run the job in ``workdir``; return False when it ran past ``limit`` seconds and was killed."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-m", "course_utils.grading", "--worker"],
                                         stdin=subprocess.PIPE, stdout=self.log, stderr=self.log, env=self.env,
                                         cwd=tempfile.gettempdir(), start_new_session=True)
        try:
            self.proc.stdin.write(f"{workdir}\n".encode())
            self.proc.stdin.flush()
        except BrokenPipeError:  # it ended between two jobs: start a fresh one
            self.proc = None
            return self.run(workdir, limit)
        deadline = time.monotonic() + limit
        while not (workdir / "done").exists():
            if self.proc.poll() is not None:
                return True  # it died; worker.json (if any) says how far it got
            if time.monotonic() > deadline:
                self.kill(workdir)
                return False
            time.sleep(0.05)
        return True

    def kill(self, workdir: Path | None = None) -> None:
        """Kill the worker and the kernel it started (which runs in a session of its own)."""
        try:
            os.kill(int((workdir / "kernel.pid").read_text()), signal.SIGKILL)
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # the loop ends at end of input
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
        self.log.close()


# --------------------------------------------------------------------------- grading one submission

@dataclass
class Settings:
    """How to grade: per-cell timeout and overall limit (s), output cap (bytes per cell), mode, hidden, solutions."""

    timeout: float = 300.0
    total_timeout: float = 1800.0
    max_output: int = 100_000
    mode: str = "fast"
    hidden: bool = False
    solutions: Path = ROOT / "notebooks" / "solutions"
    keep_executed: Path | None = None  # a folder: keep each executed notebook there, to see what ran


def _incidents(executed, plan, timed_out) -> list[dict]:
    """Errors and timeouts of the submission's own cells, in order."""
    found = []
    for i, (cell, where) in enumerate(zip(executed.cells, plan)):
        if "cell" not in where or cell.cell_type != "code":
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if i in timed_out:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "timeout"})
        elif error is not None:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "error",
                          "ename": error.get("ename", "Error"), "evalue": str(error.get("evalue", ""))[:300]})
    return found


def _describe(incident: dict, timeout: float) -> str:
    where = f"cell {incident['cell']}"
    if incident["exercise"]:
        where += f" (your solution of {incident['exercise']})"
    if incident["kind"] == "timeout":
        return f"{where} did not finish within {timeout:g} s and was interrupted"
    return f"{where} raised {incident['ename']}" + (f": {incident['evalue']}" if incident["evalue"] else "")


def _judge(eid: str, record: dict | None, check_index: int | None, incidents: list[dict],
           settings: Settings, aborted: dict | None) -> tuple[str, str]:
    """Status and message of one exercise from its check's record and what went wrong before it."""
    if record is None:
        if aborted:
            return aborted["status"], f"the check did not run: {aborted['message']}"
        return "error", "the check did not run: the kernel stopped before it"
    status, message = record["status"], record["message"]
    if status == "passed":
        return status, message
    before = [x for x in incidents if check_index is None or x["index"] < check_index]
    own = [x for x in before if x["exercise"] == eid]
    if own:
        x = own[-1]
        if x["kind"] == "error" and x["ename"] == "NotImplementedError":
            return "not attempted", "the solution still raises NotImplementedError"
        return ("timeout" if x["kind"] == "timeout" else "error"), f"{_describe(x, settings.timeout)}; {message}"
    causes = [x for x in before if not (x["kind"] == "error" and x["ename"] == "NotImplementedError")]
    if causes and status != "not attempted":
        x = causes[0]
        return ("timeout" if x["kind"] == "timeout" else "error"), \
            f"an earlier cell failed: {_describe(x, settings.timeout)}; the check then said: {message}"
    return status, message


def grade_submission(path: str | Path, settings: Settings | None = None,
                     worker: Worker | None = None) -> SubmissionResult:
    """Grade one notebook; never raises for a bad submission (its status and message say what was wrong).

    ``worker`` runs the notebook (a new one, closed afterwards, when not given).
    """
    settings = settings or Settings()
    if worker is None:
        worker = Worker(_kernel_env(settings))
        try:
            return grade_submission(path, settings, worker)
        finally:
            worker.close()
    path = Path(path)
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-"))
    lesson = None
    try:
        copy = workdir / "submission.ipynb"
        try:
            shutil.copyfile(path, copy)
        except OSError as err:
            raise SubmissionProblem("unreadable", f"cannot read the file: {err.strerror or err}") from None
        try:
            nb = read_submission(copy)
        except SubmissionProblem as problem:
            problem.lesson = detect_lesson(_empty_nb(), path)
            raise
        lesson = detect_lesson(nb, path)
        if lesson is None:
            raise SubmissionProblem("unknown lesson", "cannot tell which lesson this is: no course.lesson "
                                    "metadata, exercise ids, check calls or NN_ file name")
        checks = course_checks(instructor_notebook(lesson, settings.solutions))
        result = _run(nb, path.stem, lesson, checks, workdir, settings, worker)
        result.path = str(path)
    except SubmissionProblem as problem:
        lesson = problem.lesson or lesson
        result = SubmissionResult(str(path), lesson, problem.status, problem.message,
                                  exercises=_unrun(lesson, settings, problem.message))
    except Exception as err:  # noqa: BLE001 - one broken submission must not stop the others
        result = SubmissionResult(str(path), lesson, "grader error", f"{type(err).__name__}: {err}",
                                  exercises=_unrun(lesson, settings, "the grader failed on this submission"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = round(time.perf_counter() - start, 2)
    return result


def _empty_nb():
    import nbformat

    return nbformat.v4.new_notebook()


def _unrun(lesson: str | None, settings: Settings, message: str) -> list[ExerciseResult]:
    """Rows for the exercises of a lesson whose submission could not be run (all ``error``)."""
    if not lesson:
        return []
    try:
        checks = course_checks(instructor_notebook(lesson, settings.solutions))
    except Exception:  # noqa: BLE001
        return []
    registry = _registry()
    return [ExerciseResult(c.exercise_id, registry[c.exercise_id].name, registry[c.exercise_id].points,
                           "error", message) for c in checks if c.exercise_id in registry]


def _kernel_env(settings: Settings) -> dict:
    env = dict(os.environ, COURSE_MODE=settings.mode, COURSE_PROGRESS="0", MPLBACKEND="Agg",
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


def _run(nb, nb_name: str, lesson: str, checks: list[CourseCheck], workdir: Path,
         settings: Settings, worker: Worker) -> SubmissionResult:
    import nbformat

    records, token = workdir / "records.jsonl", uuid.uuid4().hex
    graded, plan, missing = build_graded(nb, checks, records, token, hidden=settings.hidden)
    nbformat.write(graded, workdir / "graded.ipynb")
    (workdir / "job.json").write_text(json.dumps({"timeout": settings.timeout, "max_output": settings.max_output}))
    finished = worker.run(workdir, settings.total_timeout)
    report = {"timed_out": [], "aborted": {"status": "timeout", "message": "the notebook ran past the overall "
                                           f"time limit of {settings.total_timeout:g} s and was stopped"}}
    if (workdir / "worker.json").exists():
        report = json.loads((workdir / "worker.json").read_text())
    elif finished:
        report["aborted"] = {"status": "error", "message": "the grader's worker stopped before the notebook ended"}
    executed = nbformat.read(workdir / "executed.ipynb", as_version=4) if (workdir / "executed.ipynb").exists() \
        else graded
    if settings.keep_executed:
        Path(settings.keep_executed).mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, Path(settings.keep_executed) / f"{nb_name}.graded.ipynb")
    found = {}
    if records.exists():
        for line in records.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("token") == token:
                found[record["id"]] = record
    incidents = _incidents(executed, plan, report["timed_out"])
    registry = _registry()
    result = SubmissionResult("", lesson, "graded")
    for check in checks:
        eid = check.exercise_id
        entry = registry.get(eid)
        name, points = (entry.name, entry.points) if entry else ("?", 0)
        if eid in missing:
            status, message = "missing", (f"no solution cell for exercise {eid} ({name}) was found: "
                                          "was it deleted or renamed?")
        else:
            index = next((i for i, w in enumerate(plan) if w.get("check") == eid), None)
            status, message = _judge(eid, found.get(eid), index, incidents, settings, report["aborted"])
        seconds = found.get(eid, {}).get("seconds", 0.0)
        result.exercises.append(ExerciseResult(eid, name, points, status, message, seconds))
    result.notes = [_describe(x, settings.timeout) for x in incidents
                    if not (x["kind"] == "error" and x["ename"] == "NotImplementedError")]
    if report["aborted"]:
        result.notes.append(report["aborted"]["message"])
    return result


def grade(paths, settings: Settings | None = None, jobs: int = 1, on_done=None) -> list[SubmissionResult]:
    """Grade many submissions, ``jobs`` at a time; results in the order of ``paths``."""
    import queue

    settings = settings or Settings()
    workers: queue.Queue = queue.Queue()
    jobs = max(1, min(int(jobs), len(paths)))
    for _ in range(jobs):
        workers.put(Worker(_kernel_env(settings)))

    def one(p):
        worker = workers.get()
        try:
            result = grade_submission(p, settings, worker)
        finally:
            workers.put(worker)
        if on_done:
            on_done(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(pool.map(one, paths))
    finally:
        while not workers.empty():
            workers.get().close()


# --------------------------------------------------------------------------- reports

_COLUMNS = ("submission", "lesson", "submission_status", "exercise", "name", "points", "max_points",
            "status", "message", "seconds")


def rows(results: list[SubmissionResult]) -> list[dict]:
    """One flat row per exercise (one per submission that has no exercise rows): the CSV report."""
    out = []
    for r in results:
        base = {"submission": r.path, "lesson": r.lesson or "", "submission_status": r.status}
        if not r.exercises:
            out.append({**base, "exercise": "", "name": "", "points": 0, "max_points": 0,
                        "status": r.status, "message": r.message, "seconds": r.seconds})
        for e in r.exercises:
            out.append({**base, "exercise": e.id, "name": e.name, "points": e.points, "max_points": e.max_points,
                        "status": e.status, "message": e.message, "seconds": e.seconds})
    return out


def write_report(results: list[SubmissionResult], path: Path, settings: Settings) -> None:
    """Write ``results`` as JSON or CSV, chosen by ``path``'s extension."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=_COLUMNS)
            writer.writeheader()
            writer.writerows(rows(results))
    else:
        report = {"mode": settings.mode, "hidden": settings.hidden, "timeout": settings.timeout,
                  "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "all_passed": all(r.all_passed for r in results),
                  "points": sum(r.points for r in results), "max_points": sum(r.max_points for r in results),
                  "submissions": [r.to_dict() for r in results]}
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(results: list[SubmissionResult], message_width: int = 70) -> str:
    """The terminal table: per submission, one line per exercise and a total."""
    lines = []
    for r in results:
        head = f"{r.path}  (lesson {r.lesson or '?'})"
        if r.status != "graded":
            head += f"  {r.status.upper()}: {r.message}"
        lines.append(head)
        if r.exercises:
            lines.append(f"  {'exercise':<8}  {'name':<22}  {'points':>6}  {'status':<13}  {'seconds':>7}  message")
        for e in r.exercises:
            lines.append(f"  {e.id:<8}  {_short(e.name, 22):<22}  {f'{e.points}/{e.max_points}':>6}  "
                         f"{e.status:<13}  {e.seconds:>7.2f}  {_short(e.message, message_width)}")
        for note in r.notes[:3]:
            lines.append(f"  note: {_short(note, message_width + 40)}")
        if len(r.notes) > 3:
            lines.append(f"  note: ... and {len(r.notes) - 3} more (see the report)")
        verdict = "all passed" if r.all_passed else "not all passed"
        lines += [f"  total: {r.points}/{r.max_points} points, {verdict}, {r.seconds:.1f} s", ""]
    if len(results) > 1:
        passed = sum(r.all_passed for r in results)
        lines.append(f"{len(results)} submissions, {passed} with every exercise passed; "
                     f"{sum(r.points for r in results)}/{sum(r.max_points for r in results)} points in all")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- command line

def main(argv=None) -> int:
    """``course-grade`` / ``python -m course_utils.grade``: grade notebooks, print a table, write a report."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--worker"]:
        return _worker_loop()
    parser = argparse.ArgumentParser(prog="python -m course_utils.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="+", type=Path, help="submitted notebooks (.ipynb)")
    parser.add_argument("--report", type=Path, help="write a report: grades.json or grades.csv (by extension)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a cell may run (default 300)")
    parser.add_argument("--total-timeout", type=float, default=None,
                        help="seconds one submission may run in all (default 1800, at least 3 x --timeout)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel (default 1)")
    parser.add_argument("--hidden", action="store_true", help="run each check on inputs the learner never saw")
    parser.add_argument("--mode", default="fast", choices=("fast", "cpu", "gpu"), help="COURSE_MODE (default fast)")
    parser.add_argument("--solutions", type=Path, default=Settings.solutions,
                        help="folder of instructor notebooks (default: the course's notebooks/solutions)")
    parser.add_argument("--max-output", type=int, default=100_000, help="bytes of output kept per cell")
    parser.add_argument("--keep-executed", type=Path, metavar="DIR",
                        help="write each executed notebook (with the course's checks) to DIR/NAME.graded.ipynb")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.jobs < 1:
        parser.error("--timeout must be positive and --jobs at least 1")
    if args.report and args.report.suffix.lower() not in (".json", ".csv"):
        parser.error(f"--report must end in .json or .csv, got {args.report}")
    if not args.solutions.is_dir():
        parser.error(f"--solutions {args.solutions} is not a folder of instructor notebooks")
    total = args.total_timeout or max(1800.0, 3 * args.timeout)
    settings = Settings(timeout=args.timeout, total_timeout=total, max_output=args.max_output,
                        mode=args.mode, hidden=args.hidden, solutions=args.solutions,
                        keep_executed=args.keep_executed)
    counter = iter(range(1, len(args.submissions) + 1))
    results = grade(args.submissions, settings, jobs=args.jobs,
                    on_done=lambda r: print(f"[{next(counter)}/{len(args.submissions)}] {r.path}: "
                                            f"{r.points}/{r.max_points} in {r.seconds:.1f} s", file=sys.stderr))
    print(format_table(results), end="")
    if args.report:
        write_report(results, args.report, settings)
        print(f"report written to {args.report}")
    return 0 if all(r.all_passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
