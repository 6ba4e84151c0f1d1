"""Reading a grader cell's record from the executed notebook, in the grader's process, without trusting it.

A record is the one line ``[course grader <nonce>] <JSON>`` that :func:`.kernel_side.respond`
printed in the grader's cell for an exercise. It is read with :func:`course_utils.plain.loads`
(JSON only: never pickle, never ``eval``; limits on size and depth) and must match this schema
exactly (no other keys, no other types)::

    {"id": "01.2", "answer": "defined" | "undefined", "responses": [response, ...]}
    response: {"status": "ok", "value": <plain data>}
            | {"status": "raised" | "failed", "message": <text>}
            | {"status": "not attempted"}

Only the grader cell's own standard output counts, only a line with that cell's nonce, and only
one: anything else the kernel prints decides nothing. A learner's code can forge a record (the
nonce is in the cell it runs), but a forged record is only another answer, judged like any other.

Example:
    >>> read_record([{"output_type": "stream", "name": "stdout",
    ...               "text": '[course grader ab12] {"id":"01.1","answer":"undefined","responses":[]}\\n'}],
    ...             "01.1", "ab12", cases=1)
    {'id': '01.1', 'answer': 'undefined', 'responses': []}
    >>> read_record([], "01.1", "ab12", cases=1)
    Traceback (most recent call last):
        ...
    course_utils.grading.records.RecordProblem: the check's cell printed no record
"""
from __future__ import annotations

from .. import plain
from .kernel_side import RECORD_PREFIX

_RESPONSE_KEYS = {"ok": {"status", "value"}, "raised": {"status", "message"}, "failed": {"status", "message"},
                  "not attempted": {"status"}}


class RecordProblem(ValueError):
    """A grader cell's record is missing, repeated or malformed; the message says which."""


def stdout_text(outputs) -> str:
    """The standard output a cell printed, from its outputs as the executed notebook holds them."""
    if not isinstance(outputs, list):
        return ""
    parts = []
    for out in outputs:
        if not (isinstance(out, dict) and out.get("output_type") == "stream" and out.get("name") == "stdout"):
            continue
        text = out.get("text", "")
        if isinstance(text, list):
            text = "".join(t for t in text if isinstance(t, str))
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def read_record(outputs, exercise_id: str, nonce: str, cases: int) -> dict:
    """The validated record of exercise ``exercise_id`` in a grader cell's ``outputs`` (``cases`` is how
    many cases the grader gave); raises :class:`RecordProblem`."""
    head = f"{RECORD_PREFIX}{nonce}] "
    lines = [line[len(head):] for line in stdout_text(outputs).splitlines() if line.startswith(head)]
    if not lines:
        raise RecordProblem("the check's cell printed no record")
    if len(lines) > 1:
        raise RecordProblem(f"the check's cell printed {len(lines)} records (code it called printed more)")
    try:
        record = plain.loads(lines[0])
    except ValueError as err:
        raise RecordProblem(f"the record could not be read: {err}") from None
    validate(record, exercise_id, cases)
    return record


def validate(record, exercise_id: str, cases: int) -> None:
    """Raise :class:`RecordProblem` unless ``record`` (plain data) has exactly the record's schema."""
    if not isinstance(record, dict) or set(record) != {"id", "answer", "responses"}:
        keys = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise RecordProblem(f"the record does not have the record's fields (id, answer, responses): {keys}"[:300])
    if record["id"] != exercise_id:
        raise RecordProblem("the record is for another exercise")
    if record["answer"] not in ("defined", "undefined"):
        raise RecordProblem("the record's answer field is malformed")
    responses = record["responses"]
    if not isinstance(responses, list) or len(responses) > cases:
        raise RecordProblem("the record's responses are not a list of at most one per case")
    if record["answer"] == "undefined" and responses:
        raise RecordProblem("the record has responses for an undefined answer")
    for response in responses:
        status = response.get("status") if isinstance(response, dict) else None
        if not isinstance(status, str) or status not in _RESPONSE_KEYS or set(response) != _RESPONSE_KEYS[status]:
            raise RecordProblem("a response in the record is malformed")
        if "message" in response and not isinstance(response["message"], str):
            raise RecordProblem("a response's message in the record is not text")
