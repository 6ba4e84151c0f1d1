"""Judging a run: each exercise's status from its check's record and what went wrong before it.

Statuses: ``passed``, ``failed`` (the check's hint says why), ``error`` (the check could not run,
e.g. an earlier cell crashed: the message names it), ``timeout``, ``not attempted``
(``raise NotImplementedError`` is still there) and ``missing`` (no solution cell found).

A check's outcome is read here, in the grader's process, from the executed notebook: the record
line its cell printed (see :mod:`.kernel_side`) counts only in that cell, with that cell's nonce,
once, and only if the cell ran to its end. Anything else that looks like a record is flagged.
"""
from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, field

from . import integrity
from .kernel_side import RECORD_PREFIX, unpack_fingerprint

STATUSES = ("passed", "failed", "error", "timeout", "not attempted", "missing")
_WORST_FIRST = ("error", "timeout", "failed", "not attempted", "passed")


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
    """One submission: ``status`` is ``graded`` or says why it could not be (then see ``message``).

    ``flags`` are the reasons to review it by hand (tampering found); a flagged submission is
    graded all the same.
    """

    path: str
    lesson: str | None
    status: str
    message: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    flags: list[integrity.Flag] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(e.points for e in self.exercises)

    @property
    def max_points(self) -> int:
        return sum(e.max_points for e in self.exercises)

    @property
    def all_passed(self) -> bool:
        return self.status == "graded" and all(e.status == "passed" for e in self.exercises)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(points=self.points, max_points=self.max_points, flagged=self.flagged)
        out["flags"] = [{"where": f.where, "cell": f.cell, "reason": f.reason} for f in self.flags]
        for row, ex in zip(out["exercises"], self.exercises):
            row["points"] = ex.points
        return out


def records(cell: dict) -> list[tuple[str, dict]]:
    """The grader's record lines a cell printed: ``(nonce, record)`` pairs, in order."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")
    found = []
    for line in text.splitlines():
        if not line.startswith(RECORD_PREFIX):
            continue
        nonce, _, body = line[len(RECORD_PREFIX):].partition("] ")
        try:
            record = ast.literal_eval(body)  # a literal only: never evaluates code
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            record = {}
        found.append((nonce, record if isinstance(record, dict) else {}))
    return found


def read_records(executed: dict, plan: list, completed: list, prologue_outputs: list, prologue_nonce: str):
    """Each check's record, its fingerprint before the submission ran, and flags for forged records.

    Returns ``(found, baseline, flags)``: ``found`` maps exercise id to its record (the worst one
    if its cell held more than one), ``baseline`` the fingerprint taken before the first cell.
    """
    flags, found = [], {}
    baseline = None
    first = records({"outputs": prologue_outputs})
    if len(first) == 1 and first[0][0] == prologue_nonce and "fingerprint" in first[0][1]:
        baseline = unpack_fingerprint(first[0][1]["fingerprint"])
    for index, (cell, where) in enumerate(zip(executed["cells"], plan)):
        if cell.get("cell_type") != "code":
            continue
        lines = records(cell)
        if "check" not in where:
            if lines:
                flags.append(integrity.Flag(f"cell {where['cell']}", "printed a line imitating the grader's "
                                            "record of a check", cell=where["cell"]))
            continue
        eid, nonce = where["check"], where["nonce"]
        genuine = [r for n, r in lines if n == nonce and r.get("id") == eid and r.get("kind") == "check"]
        if len(lines) > 1 or len(genuine) != len(lines):
            flags.append(integrity.Flag(f"check {eid}", f"its cell held {len(lines)} grader records "
                                        f"({len(genuine)} with the check's own nonce): code called by the check "
                                        "printed forged ones"))
        if genuine and index in completed:
            found[eid] = min(genuine, key=lambda r: _WORST_FIRST.index(r.get("status", "error"))
                             if r.get("status") in _WORST_FIRST else 0)
    return found, baseline, flags


def dynamic_flags(found: dict, baseline: dict | None) -> list[integrity.Flag]:
    """Flags from the checks' own reports: names rebound since the baseline, files changed on disk."""
    flags = []
    for eid, record in found.items():
        for reason in record.get("tamper", []):
            flags.append(integrity.Flag(f"check {eid}", reason))
        if baseline is None or "fingerprint" not in record:
            continue
        try:
            changed = integrity.fingerprint_changes(baseline, unpack_fingerprint(record["fingerprint"]))
        except Exception:  # noqa: BLE001 - a damaged fingerprint is itself a sign
            changed = ["(the check's fingerprint could not be read)"]
        if changed:
            shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
            flags.append(integrity.Flag(f"check {eid}", f"bound to other objects by the time this check ran: {shown}"))
    return flags


def incidents(executed: dict, plan: list, timed_out: list) -> list[dict]:
    """Errors and timeouts of the submission's own cells, in order."""
    found = []
    for i, (cell, where) in enumerate(zip(executed["cells"], plan)):
        if "cell" not in where or cell.get("cell_type") != "code":
            continue
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        if i in timed_out:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "timeout"})
        elif error is not None:
            found.append({"index": i, "cell": where["cell"], "exercise": where["exercise"], "kind": "error",
                          "ename": error.get("ename", "Error"), "evalue": str(error.get("evalue", ""))[:300]})
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


def judge_exercise(eid: str, record: dict | None, check_index: int | None, found_incidents: list[dict],
                   timeout: float, aborted: dict | None) -> tuple[str, str]:
    """Status and message of one exercise from its check's record and what went wrong before it."""
    if record is None:
        if aborted:
            return aborted["status"], f"the check did not run: {aborted['message']}"
        return "error", "the check did not run: the kernel stopped before it"
    status, message = record.get("status", "error"), record.get("message", "")
    if status not in STATUSES:
        status, message = "error", f"the check's record is damaged: {message}"
    if status == "passed":
        return status, message
    before = [x for x in found_incidents if check_index is None or x["index"] < check_index]
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
