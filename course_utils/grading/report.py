"""Reports of a grading run: the terminal table, the JSON report and the CSV report (one row per exercise).

Reports are written atomically (a temporary file in the same folder, then renamed over the
target), after :func:`.grader.grade` has returned, that is after every learner process is dead.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from pathlib import Path

from .results import SubmissionResult, text

COLUMNS = ("submission", "lesson", "submission_status", "exercise", "name", "points", "max_points",
           "status", "message", "seconds", "flagged", "flags", "isolation")


def _flag_text(result: SubmissionResult) -> str:
    return "; ".join(str(f) for f in result.flags)


def rows(results: list[SubmissionResult], isolation: str = "") -> list[dict]:
    """One flat row per exercise (one per submission that has no exercise rows): the CSV report."""
    out = []
    for r in results:
        base = {"submission": r.path, "lesson": r.lesson or "", "submission_status": r.status}
        extra = {"flagged": "yes" if r.flagged else "no", "flags": _flag_text(r), "isolation": isolation}
        if not r.exercises:
            out.append({**base, "exercise": "", "name": "", "points": 0, "max_points": 0,
                        "status": r.status, "message": r.message, "seconds": r.seconds, **extra})
        for e in r.exercises:
            out.append({**base, "exercise": e.id, "name": e.name, "points": e.points, "max_points": e.max_points,
                        "status": e.status, "message": e.message, "seconds": e.seconds, **extra})
    return out


def report_data(results: list[SubmissionResult], settings, isolation: dict) -> dict:
    """The JSON report: the run's settings, its isolation and every submission."""
    return {"mode": text(settings.mode, 20), "hidden": bool(settings.hidden),
            "secret": text(settings.secret_source, 40) if settings.hidden else "",
            "timeout": float(settings.timeout), "isolation": isolation,
            "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "all_passed": all(r.all_passed for r in results),
            "flagged": [r.path for r in results if r.flagged],
            "points": sum(r.points for r in results), "max_points": sum(r.max_points for r in results),
            "submissions": [r.to_dict() for r in results]}


def write_report(results: list[SubmissionResult], path: Path, settings, isolation: dict) -> None:
    """Write ``results`` as JSON or CSV (chosen by ``path``'s extension), atomically."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows(results, isolation.get("method", "")))
        content = buffer.getvalue()
    else:
        content = json.dumps(report_data(results, settings, isolation), indent=2, ensure_ascii=False,
                             allow_nan=False) + "\n"
    _write_atomically(path, content)


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (a learner's text could start with ``=``)."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def _write_atomically(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` so that a reader sees the old file or the whole new one, never a part."""
    folder = path.resolve().parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _short(value: str, width: int) -> str:
    value = " ".join(str(value).split())
    return value if len(value) <= width else value[: width - 1] + "…"


def format_table(results: list[SubmissionResult], message_width: int = 70) -> str:
    """The terminal table: per submission, one line per exercise, its flags and a total."""
    lines = []
    for r in results:
        head = f"{r.path}  (lesson {r.lesson or '?'})"
        if r.status != "graded":
            head += f"  {r.status.upper()}: {r.message}"
        if r.flagged:
            head += "  FLAGGED FOR REVIEW"
        lines.append(head)
        if r.exercises:
            lines.append(f"  {'exercise':<8}  {'name':<22}  {'points':>6}  {'status':<13}  {'seconds':>7}  message")
        for e in r.exercises:
            lines.append(f"  {e.id:<8}  {_short(e.name, 22):<22}  {f'{e.points}/{e.max_points}':>6}  "
                         f"{e.status:<13}  {e.seconds:>7.2f}  {_short(e.message, message_width)}")
        for flag in r.flags[:5]:
            lines.append(f"  flag: {_short(str(flag), message_width + 40)}")
        if len(r.flags) > 5:
            lines.append(f"  flag: ... and {len(r.flags) - 5} more (see the report)")
        for note in r.notes[:3]:
            lines.append(f"  note: {_short(note, message_width + 40)}")
        if len(r.notes) > 3:
            lines.append(f"  note: ... and {len(r.notes) - 3} more (see the report)")
        verdict = "all passed" if r.all_passed else "not all passed"
        if r.flagged:
            verdict += ", flagged for review"
        lines += [f"  total: {r.points}/{r.max_points} points, {verdict}, {r.seconds:.1f} s", ""]
    if len(results) > 1:
        passed = sum(r.all_passed for r in results)
        flagged = sum(r.flagged for r in results)
        lines.append(f"{len(results)} submissions, {passed} with every exercise passed, {flagged} flagged for review; "
                     f"{sum(r.points for r in results)}/{sum(r.max_points for r in results)} points in all")
    return "\n".join(lines).rstrip() + "\n"


def exit_status(results: list[SubmissionResult]) -> int:
    """0: every exercise passed and nothing flagged; 1: some exercise not passed; 2: some submission flagged."""
    if any(r.flagged for r in results):
        return 2
    return 0 if all(r.all_passed for r in results) else 1
