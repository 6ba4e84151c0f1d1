"""What the tests of the exercise checks share: judging an answer the grader's way, and looking for
expected values in a failure message."""
import re

import numpy as np

from course_utils import plain
from course_utils.checks import VISIBLE, hidden_variant

SECRETS = [b"grader-secret-1", b"another secret"]


def judged_apart(check, answer, variant):
    """``(status, message)`` of ``answer`` judged as the grader does: ``cases`` and ``verdict`` on one side,
    ``respond_all`` on the other, and only JSON text (cases in, responses out) between them."""
    cases = check.cases(variant)
    sent = plain.loads(plain.dumps(cases))
    assert sent == cases, "a check's cases must be plain data"
    responses = plain.loads(plain.dumps(check.respond_all(answer, sent)))
    return check.verdict(cases, responses)


def drawn_from_the_secret(check) -> bool:
    """Whether ``check``'s hidden cases are the same for the same secret, and differ for another secret and
    from the visible ones."""
    first, again, other = (check.cases(hidden_variant(s)) for s in (SECRETS[0], SECRETS[0], SECRETS[1]))
    return first == again and first != other and first != check.cases(VISIBLE)


def verdict_of(check, case, value):
    """``(status, message)`` of one response ``value`` (plain data) to ``case``."""
    return check.verdict([case], [{"status": "ok", "value": plain.loads(plain.dumps(plain.to_plain(value)))}])


def numbers_in(message: str) -> list:
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", message)]


def shown(message: str, expected, *, besides=(), rtol: float = 1e-3) -> list:
    """The numbers in ``message`` within ``rtol`` of one of ``expected`` and of none of ``besides`` (the
    inputs and the learner's own answer, which a message may show)."""
    expected = np.ravel(np.asarray(expected, dtype=float))
    besides = np.ravel(np.asarray(besides, dtype=float)) if len(np.ravel(besides)) else np.array([np.nan])
    return [x for x in numbers_in(message)
            if np.any(np.isclose(x, expected, rtol=rtol, atol=0)) and not np.any(np.isclose(x, besides, rtol=rtol))]


def fails_with(check, wrong, message: str, secrets=SECRETS) -> None:
    """Assert that ``wrong`` fails ``check`` with ``message``: in the notebook (its check line says FAILED) and
    judged apart on the hidden variant of each of ``secrets``."""
    try:
        check(wrong)
    except AssertionError as err:
        text = str(err)
    else:
        raise AssertionError(f"{check.name}: a wrong answer passed the notebook's check")
    assert text.startswith(f"[check {check.id}] {check.name}: FAILED") and message in text, text
    for secret in secrets:
        status, graded = judged_apart(check, wrong, hidden_variant(secret))
        assert status == "failed" and message in graded, (secret, status, graded)
