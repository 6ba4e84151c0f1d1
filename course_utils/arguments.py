"""Checks of the numbers users pass in: counts that must be integers, rates that must be positive.

Every module that takes a count (``num_steps``, ``num_epochs``, ``batch_size``, ``seed``, ...)
or a positive number (``lr``) checks it here, so a wrong value gets the same plain message
everywhere: what was wrong, and what to pass instead.

Example:
    >>> check_int(3, "num_epochs"), check_positive(0.1, "lr")
    (3, 0.1)
    >>> check_int(0, "batch_size", minimum=1)
    Traceback (most recent call last):
        ...
    ValueError: batch_size must be a positive integer, got 0.
"""
from __future__ import annotations

import math
import numbers


def check_int(value, name: str, *, minimum: int = 0, maximum: int | None = None, hint: str = "") -> int:
    """Return ``value`` as an ``int`` if it is a whole number in ``[minimum, maximum]``, else raise ``ValueError``.

    Integers of any kind (Python, NumPy) and whole floats such as ``3.0`` pass; booleans, other
    floats, strings and NaN do not. ``hint`` is added to the message (say what the number counts).

    Example:
        >>> check_int(2.0, "num_steps")
        2
        >>> check_int(5, "num_val", minimum=1, maximum=4, hint="(the training images)")
        Traceback (most recent call last):
            ...
        ValueError: num_val must be an integer between 1 and 4 (the training images), got 5.
    """
    whole = (isinstance(value, numbers.Real) and not isinstance(value, bool)
             and math.isfinite(value) and int(value) == value)
    if whole and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    if maximum is not None:
        kind = f"an integer between {minimum} and {maximum}"
    else:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    raise ValueError(f"{name} must be {kind}{' ' + hint if hint else ''}, got {value!r}.")


def check_positive(value, name: str, *, hint: str = "") -> float:
    """Return ``value`` as a ``float`` if it is a positive finite number, else raise ``ValueError``.

    ``hint`` is added to the message (e.g. a typical value to try).

    Example:
        >>> check_positive("fast", "lr")
        Traceback (most recent call last):
            ...
        ValueError: lr must be a number, got 'fast'.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {number}{'; ' + hint if hint else ''}.")
    return number
