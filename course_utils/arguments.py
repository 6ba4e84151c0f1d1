"""Checks of the numbers users pass in: counts, learning rates, and numbers that must lie in a range.

Every module that takes a count (``num_steps``, ``num_epochs``, ``batch_size``, ``seed``, ...), a
learning rate or another bounded number (``beta``, ``tol``, ``momentum``...) checks it here, so
a wrong value gets the same plain message everywhere: what was wrong, and what to pass instead.

Example:
    >>> check_int(3, "num_epochs"), check_positive(0.1, "lr"), check_lr(0.01)
    (3, 0.1, 0.01)
    >>> check_int(0, "batch_size", minimum=1)
    Traceback (most recent call last):
        ...
    ValueError: batch_size must be a positive integer, got 0.
    >>> check_range(0.99, "beta", 0, 1, include_high=False)
    0.99
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


def _as_number(value, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None


def check_positive(value, name: str, *, hint: str = "") -> float:
    """Return ``value`` as a ``float`` if it is a positive finite number, else raise ``ValueError``.

    ``hint`` is added to the message (e.g. a typical value to try).

    Example:
        >>> check_positive("fast", "lr")
        Traceback (most recent call last):
            ...
        ValueError: lr must be a number, got 'fast'.
    """
    number = _as_number(value, name)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {number}{'; ' + hint if hint else ''}.")
    return number


def check_lr(lr, name: str = "lr") -> float:
    """Return a learning rate as a ``float``, or raise ``ValueError`` saying why it is not one (positive, finite).

    Example:
        >>> check_lr(-0.1)
        Traceback (most recent call last):
            ...
        ValueError: lr must be a positive finite number, got -0.1; try something like 0.1.
    """
    return check_positive(lr, name, hint="try something like 0.1")


def check_range(value, name: str, low: float | None = None, high: float | None = None, *, include_low: bool = True,
                include_high: bool = True, allow_inf: bool = False, hint: str = "") -> float:
    """Return ``value`` as a ``float`` if it is a finite number between ``low`` and ``high``, else raise ``ValueError``.

    ``None`` leaves that side open; ``include_low``/``include_high`` say whether the end itself is
    allowed; ``allow_inf`` lets an infinite value through when it is within the bounds (e.g. a
    threshold that ``math.inf`` switches off). NaN never passes. ``hint`` is added to the message
    (say what the number means, or a usual value).

    Example:
        >>> check_range(0.05, "tol", 0, 1, include_low=False, include_high=False)
        0.05
        >>> check_range(1.0, "beta", 0, 1, include_high=False, hint="0.98 is fastai's choice")
        Traceback (most recent call last):
            ...
        ValueError: beta must be a number in [0, 1), got 1.0; 0.98 is fastai's choice.
        >>> check_range(-1, "momentum", 0)
        Traceback (most recent call last):
            ...
        ValueError: momentum must be a finite number >= 0, got -1.0.
    """
    number = _as_number(value, name)
    above = low is None or (number >= low if include_low else number > low)
    below = high is None or (number <= high if include_high else number < high)
    if (math.isfinite(number) or (allow_inf and not math.isnan(number))) and above and below:
        return number
    if low is not None and high is not None:
        kind = f"a number in {'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"
    elif low is not None:
        kind = f"a{'' if allow_inf else ' finite'} number {'>=' if include_low else '>'} {low:g}"
    elif high is not None:
        kind = f"a{'' if allow_inf else ' finite'} number {'<=' if include_high else '<'} {high:g}"
    else:
        kind = "a number" if allow_inf else "a finite number"
    raise ValueError(f"{name} must be {kind}, got {number}{'; ' + hint if hint else ''}.")


def check_beta(beta, name: str = "beta", *, hint: str = "") -> float:
    """Return the decay factor of a moving average (momentum's β, Adam's β1 and β2, a smoothing β) if in [0, 1).

    Example:
        >>> check_beta(0.9), check_beta(0.0, "momentum")
        (0.9, 0.0)
    """
    return check_range(beta, name, 0, 1, include_high=False, hint=hint)


def check_tol(tol) -> float:
    """Return a tolerance (a fraction of the starting loss, strictly between 0 and 1) as a ``float``, else raise.

    Example:
        >>> check_tol(1e-6)
        1e-06
    """
    return check_range(tol, "tol", 0, 1, include_low=False, include_high=False,
                       hint="it is a fraction of the starting loss, e.g. 1e-6")


__all__ = ["check_int", "check_positive", "check_lr", "check_range", "check_beta", "check_tol"]
