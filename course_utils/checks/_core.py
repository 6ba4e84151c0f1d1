"""The machinery every exercise check shares: the ``@exercise`` decorator and comparisons.

A check compares a learner's function or value with the course's reference on fixed inputs,
prints one deterministic line on success and raises ``AssertionError`` with a hint otherwise.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

REGISTRY: dict[str, Callable[..., None]] = {}


class CheckFailed(AssertionError):
    """Raised by ``expect*`` helpers; the decorator adds the exercise id and name."""


def exercise(exercise_id: str, name: str, points: int = 1):
    """Register a check for exercise ``exercise_id`` (``"LL.N"``) worth ``points``.

    The wrapped check is called as ``check(answer, ..., hidden=False)``. It prints
    ``[check LL.N] name: PASSED`` (and returns nothing, so a check cell shows one line), or raises ``AssertionError`` whose
    message starts with ``[check LL.N] name: FAILED:`` and ends with a hint. A
    ``NotImplementedError`` raised by the learner's code passes through unchanged.
    """
    lesson, _, number = exercise_id.partition(".")
    if not (lesson.isdigit() and number.isdigit()):
        raise ValueError(f"exercise id must look like '01.2', got {exercise_id!r}.")
    if exercise_id in REGISTRY:
        raise ValueError(f"exercise {exercise_id} is registered twice.")

    def decorate(check: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(check)
        def run(*args: Any, hidden: bool = False, **kwargs: Any) -> None:
            tag = f"[check {exercise_id}] {name}"
            try:
                check(*args, hidden=hidden, **kwargs)
            except NotImplementedError:
                raise
            except CheckFailed as failure:
                raise AssertionError(f"{tag}: FAILED: {failure}") from None
            except Exception as err:  # the learner's code crashed inside the check
                raise AssertionError(
                    f"{tag}: FAILED: your code raised {type(err).__name__}: {err}"
                ) from err
            print(f"{tag}: PASSED")

        run.exercise_id = exercise_id
        run.name = name
        run.points = points
        run.lesson = lesson
        REGISTRY[exercise_id] = run
        return run

    return decorate


def expect(condition: bool, hint: str) -> None:
    """Fail with ``hint`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(hint)


def as_array(value: Any, what: str) -> np.ndarray:
    """Turn a learner's answer (list, NumPy array, torch tensor) into a float array, or fail clearly."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be numbers (an array), got {type(value).__name__}.") from None


def expect_close(actual: Any, expected: Any, *, what: str, hint: str,
                 rtol: float = 1e-6, atol: float = 1e-9) -> None:
    """Fail unless ``actual`` has ``expected``'s shape and values within tolerance."""
    if actual is None:
        raise CheckFailed(f"{what} returned None: did you forget `return`? {hint}")
    got = as_array(actual, what)
    want = np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        raise CheckFailed(f"{what} has shape {got.shape}, expected {want.shape}. {hint}")
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        worst = np.nanmax(np.abs(got - want)) if got.size else 0.0
        raise CheckFailed(f"{what} is off (largest difference {worst:.3g}). {hint}")
