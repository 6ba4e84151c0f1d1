"""The machinery every exercise check shares: the :class:`Check` protocol, variants, hints and comparisons.

A check has three parts, so that a grade can be decided outside the learner's code:

* :meth:`Check.cases` -- the inputs, as plain data (numbers, lists, dicts, strings). The visible
  variant is fixed; a hidden variant is drawn from a secret (:func:`hidden_variant`) that only
  whoever grades holds;
* :meth:`Check.respond` -- runs in the learner's process: calls the learner's code on a copy of
  one case and returns what it gave, as plain data (:mod:`course_utils.plain`);
* :meth:`Check.judge` -- runs wherever the grade is decided: computes the expected answer from
  the case itself and compares; a wrong answer raises :class:`CheckFailed` with a message that
  names the concept and where to look, **never the expected value or expression**.

In a notebook, ``checks.gd_step(gd_step)`` runs all three in the learner's kernel and prints
``[check 01.1] gd_step: PASSED`` (or raises ``AssertionError`` with the message). The grader
runs ``cases`` and ``judge`` in its own process and only ``respond`` in the (sandboxed) kernel,
so the kernel never holds an expected value: whatever the learner's code does there, the most it
can change is its own answer.

Example:
    >>> import numpy as np
    >>> class Double(Check):
    ...     id, name, points, kind = "99.1", "double", 1, "implement"
    ...     hints = ("Multiply by two.",)
    ...     def cases(self, variant):
    ...         return [{"x": float(x)} for x in variant.rng(self.id).normal(size=3)]
    ...     def respond(self, double, case):
    ...         return double(case["x"])
    ...     def judge(self, case, value):
    ...         expect_close(value, 2 * case["x"], what=f"double({case['x']:.3f})", hint="Twice the input.")
    >>> check = Double()
    >>> check(lambda x: x + x)
    [check 99.1] double: PASSED
    >>> check.grade(lambda x: x * 3, hidden_variant(b"secret"))[0]
    'failed'
"""
from __future__ import annotations

import copy
import hashlib
import hmac
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import plain

REGISTRY: dict[str, "Check"] = {}
KINDS = ("implement", "predict", "diagnose")


class CheckFailed(AssertionError):
    """Raised by :meth:`Check.judge` (through the ``expect*`` helpers) with the learner-facing message."""


@dataclass(frozen=True)
class Variant:
    """Which inputs a check uses: the visible ones (fixed, what the notebook's check cell runs) or a
    hidden variant drawn from ``secret`` (the grader's; a learner who reads the course's source
    still cannot know them)."""

    hidden: bool = False
    secret: bytes = b""

    def rng(self, exercise_id: str, salt: str = "") -> np.random.Generator:
        """A generator for ``exercise_id``'s inputs: fixed for the visible variant, keyed by the secret otherwise."""
        message = f"{exercise_id}|{salt}".encode()
        if self.hidden:
            digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        else:
            digest = hashlib.sha256(b"visible|" + message).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "little"))


VISIBLE = Variant()


def hidden_variant(secret: bytes | str | None = None) -> Variant:
    """A hidden variant keyed by ``secret`` (bytes or text; a fresh random one when ``None``)."""
    if secret is None:
        secret = os.urandom(32)
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ValueError("a hidden variant needs a non-empty secret (bytes or text).")
    return Variant(hidden=True, secret=secret)


class Check:
    """One exercise's check. Subclasses set ``id``, ``name``, ``points``, ``kind``, ``hints`` and write
    :meth:`cases`, :meth:`respond` and :meth:`judge`; :func:`register` makes an instance callable as
    ``checks.<name>(answer)``.

    ``answer`` is the name the learner's notebook binds the answer to (default: ``name``), which is
    what the grader hands to :meth:`respond`.
    """

    id: str = ""
    name: str = ""
    points: int = 1
    kind: str = "implement"
    answer: str = ""
    hints: tuple = ()

    # -- the three parts -----------------------------------------------------------------------------
    def cases(self, variant: Variant) -> list:
        """The inputs of this variant, as a list of plain-data dicts."""
        raise NotImplementedError

    def respond(self, answer: Any, case: dict) -> Any:
        """Call the learner's ``answer`` on ``case`` (a private copy) and return what it gives, as plain data."""
        raise NotImplementedError

    def judge(self, case: dict, value: Any) -> None:
        """Raise :class:`CheckFailed` unless ``value`` (plain data from :meth:`respond`) is right for ``case``."""
        raise NotImplementedError

    # -- derived ---------------------------------------------------------------------------------------
    @property
    def lesson(self) -> str:
        return self.id.partition(".")[0]

    @property
    def exercise_id(self) -> str:
        return self.id

    @property
    def answer_name(self) -> str:
        return self.answer or self.name

    @property
    def tag(self) -> str:
        return f"[check {self.id}] {self.name}"

    def respond_all(self, answer: Any, cases: list) -> list:
        """Responses to every case, as plain data; runs in the learner's process and never raises.

        Each response is ``{"status": "ok", "value": ...}``, ``{"status": "raised", "message": ...}``
        (the learner's code raised) or ``{"status": "not attempted"}`` (``NotImplementedError``: the
        stub is still there; the other cases are not run).
        """
        out = []
        for case in cases:
            try:
                raw = self.respond(answer, copy.deepcopy(case))
            except NotImplementedError:
                return out + [{"status": "not attempted"}]
            except CheckFailed as failure:  # respond found the answer unusable (e.g. not a class)
                out.append({"status": "failed", "message": str(failure)})
                continue
            except Exception as err:  # noqa: BLE001 - the learner's code crashed: a failed check, not ours
                out.append({"status": "raised", "message": f"{type(err).__name__}: {err}"[:500]})
                continue
            try:
                out.append({"status": "ok", "value": plain.to_plain(raw)})
            except Exception as err:  # noqa: BLE001 - an object, not data
                out.append({"status": "failed", "message": f"{self.name} should return numbers: {err}"[:500]})
        return out

    def verdict(self, cases: list, responses: list) -> tuple:
        """``(status, message)`` from the responses, judged against ``cases``: ``passed``, ``failed`` or
        ``not attempted``. Runs wherever the grade is decided; never raises."""
        if not isinstance(responses, list) or len(responses) > len(cases):
            return "failed", "the answer's responses are malformed"
        for case, response in zip(cases, responses):
            status = response.get("status") if isinstance(response, dict) else None
            if status == "not attempted":
                return "not attempted", "the solution still raises NotImplementedError"
            if status == "raised":
                return "failed", f"your code raised {str(response.get('message', ''))[:500]}"
            if status == "failed":
                return "failed", str(response.get("message", ""))[:2000]
            if status != "ok" or "value" not in response:
                return "failed", "the answer's response is malformed"
            try:
                self.judge(copy.deepcopy(case), response["value"])
            except CheckFailed as failure:
                return "failed", str(failure)
            except Exception as err:  # noqa: BLE001 - an answer of the wrong shape that judge did not foresee
                return "failed", (f"the answer could not be read ({type(err).__name__}); see the exercise's "
                                  "text for what to return")
        if len(responses) < len(cases):
            return "failed", "the answer's responses are incomplete"
        return "passed", ""

    def grade(self, answer: Any, variant: Variant = VISIBLE) -> tuple:
        """``(status, message)`` of ``answer`` on ``variant``, all in this process (tests use it)."""
        cases = self.cases(variant)
        return self.verdict(cases, self.respond_all(answer, cases))

    def __call__(self, answer: Any, *, hidden: bool = False, secret: bytes | str | None = None) -> None:
        """The notebook's check: print ``[check ID] name: PASSED`` or raise ``AssertionError`` with the message.

        A ``NotImplementedError`` from the learner's stub passes through; an exception raised by the
        learner's code becomes a failed check chained to it (so its traceback shows where).
        """
        variant = hidden_variant(secret) if hidden else VISIBLE
        cases = self.cases(variant)
        for case in cases:
            try:
                raw = self.respond(answer, copy.deepcopy(case))
            except NotImplementedError:
                raise
            except CheckFailed as failure:
                raise AssertionError(f"{self.tag}: FAILED: {failure}") from None
            except Exception as err:  # noqa: BLE001
                raise AssertionError(f"{self.tag}: FAILED: your code raised {type(err).__name__}: {err}") from err
            try:
                value = plain.to_plain(raw)
            except TypeError as err:
                raise AssertionError(f"{self.tag}: FAILED: {self.name} should return numbers: {err}") from None
            status, message = self.verdict([case], [{"status": "ok", "value": value}])
            if status != "passed":
                raise AssertionError(f"{self.tag}: FAILED: {message}")
        print(f"{self.tag}: PASSED")


def register(check: Check) -> Check:
    """Add ``check`` to :data:`REGISTRY` (by its id) and return it."""
    lesson, _, number = check.id.partition(".")
    if not (len(lesson) == 2 and lesson.isdigit() and number.isdigit()):
        raise ValueError(f"exercise id must look like '01.2', got {check.id!r}.")
    if check.id in REGISTRY:
        raise ValueError(f"exercise {check.id} is registered twice.")
    if check.kind not in KINDS:
        raise ValueError(f"exercise {check.id}: kind must be one of {KINDS}, got {check.kind!r}.")
    if not check.name or not check.hints:
        raise ValueError(f"exercise {check.id} needs a name and at least one hint.")
    REGISTRY[check.id] = check
    return check


# --------------------------------------------------------------------------------------------- hints

class Hint(str):
    """A hint's text; shown as Markdown in a notebook."""

    def _repr_markdown_(self) -> str:
        return str(self)


_hints_shown: dict = {}  # exercise id -> how many hints this kernel has shown (so hint() gives the next one)


def hint(exercise_id: str, level: int | None = None) -> Hint:
    """The next hint for ``exercise_id`` (or hint number ``level``, from 1); the first is the mildest.

    Example:
        >>> from course_utils import checks
        >>> print(checks.hint("01.1", level=1))         # doctest: +ELLIPSIS
        Hint 1 of ... for exercise 01.1 (gd_step): ...
    """
    check = REGISTRY.get(str(exercise_id))
    if check is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"no exercise {exercise_id!r}; the exercises are {known}.")
    total = len(check.hints)
    if level is None:
        level = min(total, _hints_shown.get(check.id, 0) + 1)
    if not (isinstance(level, int) and 1 <= level <= total):
        raise ValueError(f"exercise {check.id} has hints 1 to {total}; got level={level!r}.")
    _hints_shown[check.id] = max(level, _hints_shown.get(check.id, 0))
    more = " (call hint again for the next one)" if level < total else " (the last one)"
    return Hint(f"Hint {level} of {total} for exercise {check.id} ({check.name}): {check.hints[level - 1]}{more}")


# ----------------------------------------------------------------------------------------- comparisons

def expect(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def as_array(value: Any, what: str) -> np.ndarray:
    """A learner's answer (plain data: a number or nested lists) as a float array, or a clear failure."""
    if value is None:
        raise CheckFailed(f"{what} returned None: did you forget `return`?")
    if isinstance(value, (str, dict)):
        raise CheckFailed(f"{what} should be numbers (an array), got {type(value).__name__}.")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be numbers (an array of one shape), got something else.") from None


def as_number(value: Any, what: str) -> float:
    """A learner's answer as one float, or a clear failure."""
    arr = as_array(value, what)
    if arr.size != 1:
        raise CheckFailed(f"{what} should be one number, got {arr.size} of them (shape {arr.shape}).")
    return float(arr.reshape(-1)[0])


def expect_close(actual: Any, expected: Any, *, what: str, hint: str, rtol: float = 1e-6, atol: float = 1e-9,
                 mistakes: dict | None = None) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and values within tolerance.

    The message names ``what`` was compared and the ``hint``, never the expected values.
    ``mistakes`` maps a message to what a known mistake gives on the same input: a wrong answer that
    matches one of them fails with ``"<what>: <message>"`` instead (a mistake that happens to give
    the right answer on this input is skipped; when several give the answer, each is named).

    Example:
        >>> expect_close(3.0, 2.0, what="twice 1", hint="Double it.", mistakes={"that adds one.": 1.0 + 2.0})
        Traceback (most recent call last):
            ...
        course_utils.checks._core.CheckFailed: twice 1: that adds one.
    """
    got = as_array(actual, what)
    want = np.asarray(expected, dtype=float)

    def same(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)

    if same(got, want):
        return
    named = []
    for message, wrong in (mistakes or {}).items():
        with np.errstate(all="ignore"):
            wrong = np.asarray(wrong, dtype=float)
        if same(got, wrong) and not same(wrong, want) and not any(message in m for m in named):
            named.append(message)
    if named:
        raise CheckFailed(f"{what}: " + " Or: ".join(named))
    if got.shape != want.shape:
        raise CheckFailed(f"{what} has shape {got.shape}, which is not the shape asked for. {hint}")
    raise CheckFailed(f"{what} is not right. {hint}")


def close(a: float, b: float, *, rtol: float = 1e-6, atol: float = 0.0) -> bool:
    """``math.isclose`` that treats two NaNs as equal."""
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
