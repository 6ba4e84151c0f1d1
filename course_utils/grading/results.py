"""What grading found, as typed and validated data: one :class:`ExerciseResult` per exercise, one
:class:`SubmissionResult` per submission.

Every field is checked (and, where it is not what it should be, replaced by a safe value) when a
result is made, so that nothing a submission does can put a value into a report that breaks the
report's writer: a ``seconds`` that is not a finite non-negative number becomes ``0.0``, a status
outside :data:`STATUSES` becomes ``error``, text is cut to a length.

Example:
    >>> ExerciseResult("01.1", "gd_step", 1, "passed", seconds="soon").seconds
    0.0
    >>> ExerciseResult("01.1", "gd_step", 1, "great").status
    'error'
    >>> ExerciseResult("01.1", "gd_step", 1, "failed", "\x1b[2Jyour code raised").message
    '?[2Jyour code raised'
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .integrity import Flag

STATUSES = ("passed", "failed", "error", "timeout", "not attempted", "missing")
MAX_MESSAGE = 2000


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # not newline or tab: a learner's text must not
                                                           # drive the grader's terminal (escape sequences)


def text(value, limit: int = MAX_MESSAGE) -> str:
    """``value`` as printable text of at most ``limit`` characters (``""`` for ``None``)."""
    out = "" if value is None else value if isinstance(value, str) else str(value)
    out = _CONTROL.sub("?", out)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def seconds(value) -> float:
    """``value`` as a finite, non-negative number of seconds, else ``0.0``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    value = float(value)
    return round(value, 3) if math.isfinite(value) and value >= 0 else 0.0


def count(value) -> int:
    """``value`` as a non-negative integer, else ``0``."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


@dataclass
class ExerciseResult:
    """One exercise of one submission."""

    id: str
    name: str
    max_points: int
    status: str
    message: str = ""
    seconds: float = 0.0

    def __post_init__(self):
        self.id, self.name = text(self.id, 20), text(self.name, 100)
        self.max_points = count(self.max_points)
        if self.status not in STATUSES:
            self.message = f"the grader produced an unknown status ({text(self.status, 40)}): {text(self.message)}"
            self.status = "error"
        self.message = text(self.message)
        self.seconds = seconds(self.seconds)

    @property
    def points(self) -> int:
        return self.max_points if self.status == "passed" else 0


@dataclass
class SubmissionResult:
    """One submission: ``status`` is ``graded`` or says why it could not be (then see ``message``).

    ``flags`` are reasons to review it by hand (what the static scan found); they change no grade.
    """

    path: str
    lesson: str | None
    status: str
    message: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    flags: list[Flag] = field(default_factory=list)
    cpu_seconds: float = 0.0       # CPU time of its kernel and every process it started

    def __post_init__(self):
        self.path, self.status, self.message = text(self.path, 4096), text(self.status, 60), text(self.message)
        self.cpu_seconds = seconds(self.cpu_seconds)
        self.lesson = self.lesson if isinstance(self.lesson, str) and re.fullmatch(r"\d\d", self.lesson) else None
        self.exercises = [e for e in self.exercises if isinstance(e, ExerciseResult)]
        self.notes = [text(n, 500) for n in self.notes][:50]
        self.flags = [f for f in self.flags if isinstance(f, Flag)][:200]
        self.seconds = seconds(self.seconds)

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
        """The report's entry for this submission (plain data, every field of the type the report says)."""
        return {"path": self.path, "lesson": self.lesson, "status": self.status, "message": self.message,
                "points": self.points, "max_points": self.max_points, "seconds": seconds(self.seconds),
                "cpu_seconds": seconds(self.cpu_seconds),
                "notes": [text(n, 500) for n in self.notes], "flagged": self.flagged,
                "flags": [{"where": text(f.where, 100), "cell": count(f.cell) or None, "reason": text(f.reason, 300)}
                          for f in self.flags],
                "exercises": [{"id": e.id, "name": e.name, "points": e.points, "max_points": e.max_points,
                               "status": e.status, "message": e.message, "seconds": seconds(e.seconds)}
                              for e in self.exercises]}
