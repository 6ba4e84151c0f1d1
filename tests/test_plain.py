import math

import numpy as np
import pytest
import torch

from course_utils import plain


def test_arrays_tensors_and_scalars_become_plain():
    value = {"a": np.arange(3.0), "t": torch.tensor([[1.0, 2.0]]), "n": np.float32(0.5), 2: (1, True, None)}
    assert plain.to_plain(value) == {"a": [0.0, 1.0, 2.0], "t": [[1.0, 2.0]], "n": 0.5, "2": [1, True, None]}
    assert plain.loads(plain.dumps(plain.to_plain(value))) == plain.to_plain(value)


def test_non_finite_numbers_survive_the_trip():
    back = plain.loads(plain.dumps([math.inf, -math.inf, math.nan]))
    assert back[0] == math.inf and back[1] == -math.inf and math.isnan(back[2])


@pytest.mark.parametrize("value", [object(), lambda: 1, np.array([1 + 2j]), {(1, 2): 3}, iter([1])])
def test_objects_are_refused(value):
    with pytest.raises(TypeError):
        plain.to_plain(value)


@pytest.mark.parametrize("text, message", [
    ("[" * 50 + "]" * 50, "nested"),
    ('{"a": "' + "x" * 20_000 + '"}', "longer than"),
    ("not json", "not valid JSON"),
    ("[1, 2", "not valid JSON"),
    ("x" * (plain.MAX_TEXT + 1), "characters long"),
])
def test_loads_refuses_what_is_not_small_plain_data(text, message):
    with pytest.raises(ValueError, match=message):
        plain.loads(text)


def test_loads_refuses_non_text():
    with pytest.raises(ValueError, match="JSON text"):
        plain.loads(b"[1]")
