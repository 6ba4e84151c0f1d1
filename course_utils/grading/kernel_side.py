"""The only part of the grader that runs in the submission's kernel: answer one exercise's cases.

For each exercise the grader inserts, right after the learner's solution cell, a cell that calls
:func:`respond` with the exercise's cases (plain data, computed in the grader's process) and a
nonce of that cell. :func:`respond` finds the learner's answer by the check's ``answer_name``,
calls :meth:`Check.respond_all <course_utils.checks.Check.respond_all>` on it (the learner's code
runs on copies of the cases) and prints one line, ``[course grader <nonce>] <JSON record>``.

The kernel never holds an expected value, so nothing here needs to be trusted: code of the
learner's that rewrites this module, the check or the printed line can change only the answer the
grader judges, in its own process (:mod:`.records`, then ``Check.verdict``).

Example (what the grader's cell runs):
    >>> from course_utils.grading import kernel_side
    >>> kernel_side.respond("01.1", "f00d", '[{"w": [1.0, 1.0], "grad": [2.0, 4.0], "lr": 0.5}]',
    ...                     {"gd_step": lambda w, grad, lr: w - lr * grad})
    <BLANKLINE>
    [course grader f00d] {"id":"01.1","answer":"defined","responses":[{"status":"ok","value":{"step":[0.0,-1.0],"w_after":[1.0,1.0]}}]}
"""
from __future__ import annotations

import contextlib
import io
import sys

RECORD_PREFIX = "[course grader "
_SWALLOWED = 20_000   # characters of what the learner's code prints during the check that are shown


class _Capped(io.StringIO):
    """What the learner's code prints while it answers: kept up to a cap, shown after the record."""

    def write(self, text):
        if self.tell() < _SWALLOWED:
            super().write(str(text)[: _SWALLOWED - self.tell()])
        return len(text)


def respond(exercise_id: str, nonce: str, cases_text: str, namespace: dict) -> None:
    """Answer exercise ``exercise_id``'s cases (JSON ``cases_text``) with the learner's object found in
    ``namespace``, and print the record."""
    from course_utils import plain
    from course_utils.checks import REGISTRY

    check = REGISTRY[exercise_id]
    cases = plain.loads(cases_text)
    name = check.answer_name
    printed = _Capped()
    if name in namespace:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            responses = check.respond_all(namespace[name], cases)
        record = {"id": exercise_id, "answer": "defined", "responses": responses}
    else:
        record = {"id": exercise_id, "answer": "undefined", "responses": []}
    try:
        text = plain.dumps(record)
    except (TypeError, ValueError) as err:   # respond_all gives plain data; this is a last resort
        text = plain.dumps({"id": exercise_id, "answer": "defined",
                            "responses": [{"status": "failed", "message": f"the answer is not data: {err}"[:500]}]})
    if printed.tell():
        sys.stdout.write(printed.getvalue() + "\n")
    sys.stdout.write(f"\n{RECORD_PREFIX}{nonce}] {text}\n")
    sys.stdout.flush()


def cell_source(exercise_id: str, answer_name: str, nonce: str, cases_text: str) -> str:
    """The grader's cell for one exercise (built in the grader's process): it imports this module and
    calls :func:`respond` with the learner's namespace."""
    alias = f"_course_grader_{nonce}"
    return (f"# course grader: the course's check of exercise {exercise_id} ({answer_name}); "
            "the submission's own check cells are not run\n"
            f"import course_utils.grading.kernel_side as {alias}\n"
            f"{alias}.respond({exercise_id!r}, {nonce!r}, {cases_text!r}, globals())\n"
            f"del {alias}")
