"""The shared argument checks: what passes, what fails, and that the message says what to pass."""
import math

import numpy as np
import pytest

from course_utils.arguments import check_int, check_lr, check_positive, check_range, check_tol


def test_check_int_accepts_whole_numbers_of_any_kind():
    assert check_int(3, "n") == 3 and check_int(np.int64(4), "n") == 4 and check_int(5.0, "n") == 5
    assert isinstance(check_int(np.int32(2), "n"), int)
    assert check_int(1, "n", minimum=1, maximum=1) == 1


@pytest.mark.parametrize("bad", [-1, 2.5, True, "3", None, math.nan, math.inf, [3]])
def test_check_int_refuses_everything_else_with_the_name(bad):
    with pytest.raises(ValueError, match=r"^num_steps must be a non-negative integer, got "):
        check_int(bad, "num_steps")


def test_check_int_messages_say_the_allowed_range():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        check_int(0, "batch_size", minimum=1)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, got 1"):
        check_int(1, "num_classes", minimum=2)
    with pytest.raises(ValueError, match=r"num_val must be an integer between 1 and 9 \(of 10\), got 10"):
        check_int(10, "num_val", minimum=1, maximum=9, hint="(of 10)")


def test_check_positive():
    assert check_positive(1e-3, "lr") == 1e-3 and check_positive(np.float32(2), "lr") == 2.0
    assert check_positive("0.5", "lr") == 0.5  # a numeric string is a number
    for bad in (0, -1e-3, math.nan, math.inf):
        with pytest.raises(ValueError, match="lr must be a positive finite number.*try 0.1"):
            check_positive(bad, "lr", hint="try 0.1")
    for bad in ("fast", None, True, [1.0]):
        with pytest.raises(ValueError, match="lr must be a number"):
            check_positive(bad, "lr")


def test_check_lr_is_a_positive_number_with_a_usual_value_in_the_message():
    assert check_lr(0.01) == 0.01 and check_lr(np.float64(3e-4)) == 3e-4
    for bad in (0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^lr must be a positive finite number, got .*; try something like 0.1"):
            check_lr(bad)
    with pytest.raises(ValueError, match="start_lr must be a positive"):
        check_lr(0.0, "start_lr")


def test_check_range_includes_or_excludes_each_end_as_asked():
    assert check_range(0.0, "beta", 0, 1, include_high=False) == 0.0
    assert check_range(1.0, "start_factor", 0, 1, include_low=False) == 1.0
    assert check_range(5, "factor", 1) == 5.0 and check_range(-3, "x") == -3.0
    with pytest.raises(ValueError, match=r"^beta must be a number in \[0, 1\), got 1.0; 0 means no smoothing\.$"):
        check_range(1, "beta", 0, 1, include_high=False, hint="0 means no smoothing")
    with pytest.raises(ValueError, match=r"start_factor must be a number in \(0, 1\], got 0.0"):
        check_range(0, "start_factor", 0, 1, include_low=False)
    with pytest.raises(ValueError, match="diverge_factor must be a finite number > 1, got 1.0"):
        check_range(1.0, "diverge_factor", 1, include_low=False)
    with pytest.raises(ValueError, match="final_lr must be a finite number <= 0.5, got 0.6"):
        check_range(0.6, "final_lr", high=0.5)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="x must be a finite number, got"):
            check_range(bad, "x")
    for bad in ("high", None, True):
        with pytest.raises(ValueError, match="momentum must be a number, got"):
            check_range(bad, "momentum", 0)


def test_check_tol_is_an_open_fraction():
    assert check_tol(1e-6) == 1e-6
    for bad in (0, 1, 1.5, -1e-3):
        with pytest.raises(ValueError, match=r"tol must be a number in \(0, 1\).*fraction of the starting loss"):
            check_tol(bad)


def test_every_module_uses_the_shared_check():
    from course_utils import data, descent, loader, lr_comparison, models, synthetic

    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        synthetic.make_linear_regression(0, 2, 0.1, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        synthetic.make_linear_regression(5, 2, 0.1, seed=-1)
    with pytest.raises(ValueError, match="num_steps must be a non-negative integer"):
        descent.run_gd(lambda w: w, [1.0], lr=0.1, num_steps=1.5)
    with pytest.raises(ValueError, match="lr must be a positive finite number, got -0.1; try something like 0.1"):
        descent.run_gd(lambda w: w, [1.0], lr=-0.1, num_steps=1)
    with pytest.raises(ValueError, match=r"tol must be a number in \(0, 1\)"):
        descent.sweep_lr(lambda w: w, [1.0], [0.1], tol=2.0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        loader.DeviceLoader(np.zeros((2, 32, 32, 3), np.uint8), np.zeros(2), batch_size=0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        models.make_cnn(num_classes=1)
    with pytest.raises(ValueError, match="num_epochs must be a non-negative integer"):
        lr_comparison.Experiment(num_epochs=2.5)
    z = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="num_val must be an integer between 1 and 3"):
        data.CifarArrays(z, np.arange(4), z, np.arange(4)).split_validation(4)
