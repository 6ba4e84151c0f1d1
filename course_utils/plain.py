"""Plain data: what crosses from a learner's kernel to the grader, and nothing else.

A check's response is numbers, strings, booleans, ``None`` and lists and dicts of them: never an
object, never pickle. :func:`to_plain` turns what a learner's code returns (NumPy arrays, torch
tensors, tuples) into that, in the learner's process; :func:`loads` reads it back in the grader's
process with limits on size and depth and a strict schema (:func:`validate`), so a response
cannot carry code, nor break the grader with a huge or deep structure.

Example:
    >>> import numpy as np
    >>> to_plain({"w": np.array([1.0, 2.5]), "steps": np.int64(3)})
    {'w': [1.0, 2.5], 'steps': 3}
    >>> loads(dumps([1.0, float("nan"), "a"]))
    [1.0, nan, 'a']
    >>> to_plain(object())
    Traceback (most recent call last):
        ...
    TypeError: expected numbers, arrays, strings, lists or dicts; got object
"""
from __future__ import annotations

import json
import math

MAX_DEPTH = 12
MAX_ITEMS = 2_000_000       # numbers and strings in one response
MAX_TEXT = 1_000_000        # characters of one response's JSON (before validation)
MAX_STRING = 10_000         # characters of one string in it


def to_plain(value, *, _depth: int = 0):
    """``value`` as plain data: arrays and tensors become nested lists, NumPy scalars Python numbers.

    Raises ``TypeError`` (saying what was found) for anything else: an object, a function, a
    generator. Dict keys must be strings or numbers (numbers become strings).
    """
    if _depth > MAX_DEPTH:
        raise TypeError(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    kind = type(value)
    module = kind.__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach"):
        return to_plain(value.detach().cpu().tolist(), _depth=_depth + 1)
    if module.startswith("numpy"):
        if hasattr(value, "tolist"):
            out = value.tolist()
            if isinstance(out, (list, int, float, bool, complex)) and not isinstance(out, complex):
                return to_plain(out, _depth=_depth + 1)
        raise TypeError(f"expected real numbers or arrays of them; got numpy {kind.__name__} "
                        f"of dtype {getattr(value, 'dtype', '?')}")
    if isinstance(value, (list, tuple)):
        return [to_plain(v, _depth=_depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int, float)):
                raise TypeError(f"dict keys must be strings or numbers; got {type(key).__name__}")
            out[key if isinstance(key, str) else repr(float(key)) if isinstance(key, float) else str(key)] = \
                to_plain(item, _depth=_depth + 1)
        return out
    raise TypeError(f"expected numbers, arrays, strings, lists or dicts; got {kind.__name__}")


def dumps(value) -> str:
    """JSON text of plain data (NaN and infinities as JSON's ``NaN``/``Infinity`` tokens)."""
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


def loads(text: str):
    """Plain data from JSON ``text``, validated; raises ``ValueError`` for anything else."""
    if not isinstance(text, str):
        raise ValueError(f"a response must be JSON text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the response is {len(text)} characters long; at most {MAX_TEXT} are read")

    def constant(name):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]

    try:
        value = json.loads(text, parse_constant=constant)
    except (json.JSONDecodeError, RecursionError, KeyError) as err:
        raise ValueError(f"the response is not valid JSON: {err}") from None
    validate(value)
    return value


def validate(value) -> None:
    """Raise ``ValueError`` unless ``value`` is plain data within the size and depth limits."""
    count = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MAX_ITEMS:
            raise ValueError(f"the response holds more than {MAX_ITEMS} items")
        if depth > MAX_DEPTH:
            raise ValueError(f"the response is nested more than {MAX_DEPTH} levels deep")
        if item is None or type(item) in (bool, int, float):
            continue
        if type(item) is str:
            if len(item) > MAX_STRING:
                raise ValueError(f"a string in the response is longer than {MAX_STRING} characters")
            continue
        if type(item) is list:
            stack.extend((v, depth + 1) for v in item)
            continue
        if type(item) is dict:
            for key, v in item.items():
                if type(key) is not str or len(key) > MAX_STRING:
                    raise ValueError("a key in the response is not a short string")
                stack.append((v, depth + 1))
            continue
        raise ValueError(f"the response holds a {type(item).__name__}, which is not plain data")
