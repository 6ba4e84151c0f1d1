"""Judging a run: each exercise's status, decided in the grader's process.

Statuses: ``passed``, ``failed`` (the check's message says why), ``error`` (the check could not
judge: an earlier cell crashed, the answer is not defined, the record is unreadable),
``timeout``, ``not attempted`` (``raise NotImplementedError`` is still there) and ``missing`` (no
solution cell found).

The grade of an exercise is the check's :meth:`verdict <course_utils.checks.Check.verdict>` on
the cases the grader computed and the responses in the grader cell's record (:mod:`.records`);
what went wrong in the submission's own cells (:func:`incidents`) only explains a grade that is
not ``passed``.
"""
from __future__ import annotations

from .records import RecordProblem, read_record


def incidents(executed: dict, plan: list, timed_out: list) -> list[dict]:
    """Errors and timeouts of the submission's own cells, in order."""
    found = []
    for i, (cell, where) in enumerate(zip(executed.get("cells", []), plan)):
        if "cell" not in where or not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        error = next((o for o in outputs if isinstance(o, dict) and o.get("output_type") == "error"), None)
        if i in timed_out:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "timeout"})
        elif error is not None:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "error",
                          "ename": str(error.get("ename", "Error"))[:100], "evalue": str(error.get("evalue", ""))[:300]})
    return found


def describe(incident: dict, timeout: float) -> str:
    """One line for an incident: the cell, the exercise it solves, and what happened."""
    where = f"cell {incident['cell']}"
    if incident["exercise"]:
        where += f" (your solution of {incident['exercise']})"
    if incident["kind"] == "timeout":
        return f"{where} did not finish within {timeout:g} s and was interrupted"
    return f"{where} raised {incident['ename']}" + (f": {incident['evalue']}" if incident["evalue"] else "")


def is_not_attempted(incident: dict) -> bool:
    return incident["kind"] == "error" and incident["ename"] == "NotImplementedError"


def _explained(eid: str, status: str, message: str, before: list[dict], timeout: float) -> tuple[str, str]:
    """A status that is not ``passed``, explained by what went wrong in the cells before the check."""
    own = [x for x in before if x["exercise"] == eid]
    if own:
        x = own[-1]
        if is_not_attempted(x):
            return "not attempted", "the solution still raises NotImplementedError"
        return ("timeout" if x["kind"] == "timeout" else "error"), f"{describe(x, timeout)}; {message}"
    causes = [x for x in before if not is_not_attempted(x)]
    if causes and status != "not attempted":
        x = causes[0]
        return ("timeout" if x["kind"] == "timeout" else "error"), \
            f"an earlier cell failed: {describe(x, timeout)}; the check then said: {message}"
    return status, message


def judge_exercise(check, cases: list, cell: dict | None, index: int, nonce: str, outcome, found_incidents: list,
                   timeout: float) -> tuple[str, str]:
    """Status and message of one exercise from its grader cell (``cell``, at ``index`` in the graded
    notebook) and what went wrong before it."""
    before = [x for x in found_incidents if x["index"] < index]
    if index in outcome.timed_out:
        return "timeout", (f"the check of {check.name} did not finish within {timeout:g} s: your "
                           f"{check.answer_name} was interrupted")
    if cell is None or index not in outcome.completed:
        if outcome.aborted:
            return outcome.aborted["status"], f"the check did not run: {outcome.aborted['message']}"
        return _explained(check.id, "error", "the check did not run", before, timeout)
    try:
        record = read_record(cell.get("outputs"), check.id, nonce, len(cases))
    except RecordProblem as problem:
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        error = next((o for o in outputs if isinstance(o, dict) and o.get("output_type") == "error"), None)
        if error is not None:   # the learner's code stopped the check's cell (e.g. SystemExit, a KeyboardInterrupt)
            problem = f"the check's cell raised {str(error.get('ename', 'an error'))[:100]}"
        return _explained(check.id, "error", f"the check could not judge: {problem}", before, timeout)
    if record["answer"] == "undefined":
        return _explained(check.id, "error", f"{check.answer_name} is not defined: the solution cell of exercise "
                          f"{check.id} should define it", before, timeout)
    status, message = check.verdict(cases, record["responses"])
    if status == "passed":
        return status, ""
    if status == "failed":
        message = f"{check.tag}: FAILED: {message}"
    return _explained(check.id, status, message, before, timeout)
