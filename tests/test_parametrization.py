import math

import matplotlib
import numpy as np
import pytest
import torch

from course_utils import mup_reference, parametrization, scaling_plots, stats, width_transfer

matplotlib.use("Agg")


def test_mup_equals_sp_at_the_base_width_and_scales_beyond():
    for kind in parametrization.LAYER_KINDS:
        assert parametrization.MUP.weight(kind, 1.0) == parametrization.SP.weight(kind, 1.0) == (1.0, 1.0)
        assert parametrization.MUP.bias_init(kind, 1.0) == 1.0
    assert parametrization.MUP.weight("hidden", 8.0) == (1.0, 0.125)
    assert parametrization.MUP.weight("output", 4.0) == (0.5, 0.25)
    assert parametrization.MUP.bias_init("output", 4.0) == 2.0 and parametrization.SP.bias_init("output", 4.0) == 1.0
    assert [row["kind"] for row in parametrization.table(parametrization.MUP, 2.0, depth=3)] == \
        ["input", "hidden", "hidden", "output"]


def test_a_broken_scaling_gets_a_clear_error():
    broken = parametrization.MUP.with_scaling(lambda kind, m: (1.0, -1.0), "broken")
    with pytest.raises(ValueError, match="both must be positive"):
        broken.weight("hidden", 2.0)
    with pytest.raises(ValueError, match="two numbers"):
        parametrization.MUP.with_scaling(lambda kind, m: None).weight("hidden", 2.0)
    with pytest.raises(ValueError, match="layer kind"):
        parametrization.SP.weight("embedding", 2.0)
    with pytest.raises(ValueError, match="width_mult"):
        parametrization.SP.weight("hidden", 0)


@pytest.mark.skipif(mup_reference.mup_version() is None, reason="the mup package is not installed")
def test_the_course_mup_is_the_mup_package():
    result = mup_reference.compare_with_mup(num_inputs=12, width=64, base_width=16, num_steps=8, eps=1e-14)
    assert result.max_lr_ratio_gap == 0.0
    assert result.max_init_ratio_gap < 1e-6          # mup rescales in float32
    assert result.max_output_gap < 1e-9
    assert [r["parameter"] for r in mup_reference.rows(result)][:2] == ["layer 1 weight", "layer 1 bias"]


@pytest.mark.skipif(mup_reference.mup_version() is None, reason="the mup package is not installed")
def test_the_comparison_sees_a_wrong_parametrization():
    result = mup_reference.compare_with_mup(num_inputs=12, width=64, base_width=16, num_steps=3,
                                            parametrization=parametrization.SP)
    assert result.max_lr_ratio_gap == pytest.approx(3.0)   # SP keeps lr where mup divides by m = 4
    assert result.max_init_ratio_gap > 0.5


def test_sweep_widths_equals_sp_at_the_base_width():
    X, y = torch.randn(128, 6), torch.randint(0, 3, (128,))
    runs = {p.name: width_transfer.sweep_widths(X, y, widths=[8, 32], lrs=[1e-3, 1e-2, 1e-1], parametrization=p,
                                                seeds=[0, 1], batch_size=16, num_steps=5)
            for p in (parametrization.SP, parametrization.MUP)}
    assert np.array_equal(runs["SP"].final_loss[0], runs["μP"].final_loss[0])
    assert not np.array_equal(runs["SP"].final_loss[1], runs["μP"].final_loss[1])


def test_transfer_part_decides_with_both_ends_of_the_band():
    assert width_transfer.transfer_part("x", stats.mean([-0.8, -0.9, -0.85])).holds is False
    assert width_transfer.transfer_part("x", stats.mean([0.5, 0.6, 0.55])).holds is False
    assert width_transfer.transfer_part("x", stats.mean([0.0, 0.05, -0.05])).holds is True
    assert width_transfer.transfer_part("x", stats.mean([0.1, 0.5, -0.2])).holds is None
    assert width_transfer.transfer_part("x", stats.mean([0.0, 0.01])).holds is None      # two seeds: no verdict


def test_figures_draw_what_they_are_given():
    B = np.array([1, 4, 16, 64])
    model = np.array([50.0, 14.0, 5.0, 2.6])
    ax = scaling_plots.plot_steps_to_target(B, [52.0, 15.0, 5.5, 2.5], model=model, model_label="model",
                                            extra={"other": model * 2})
    lines = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(lines["model"].get_ydata(), model)
    np.testing.assert_allclose(lines["other"].get_ydata(), model * 2)
    ax = scaling_plots.plot_steps_to_target(B, [52.0, 15.0, 5.5, 2.5], model=model, model_label="model", examples=True)
    np.testing.assert_allclose({l.get_label(): l for l in ax.lines}["model"].get_ydata(), model * B)
    best = np.array([[0.01, 0.02], [0.02, 0.02], [0.04, 0.05], [0.05, 0.05]])
    ax = scaling_plots.plot_best_lr(B, best, lines={"rule": best[:, 0] * 3})
    measured = {l.get_label(): l for l in ax.lines}
    np.testing.assert_allclose(measured["measured"].get_ydata(), np.exp(np.log(best).mean(1)))
    np.testing.assert_allclose(measured["rule"].get_ydata(), best[:, 0] * 3)
    ax = scaling_plots.plot_loss_against_lr([1e-3, 1e-2, 1e-1], {"a": np.array([[1.0, 0.5, np.inf], [1.2, 0.7, 0.9]])})
    y = ax.lines[0].get_ydata()
    assert y[0] == pytest.approx(1.1) and math.isnan(y[2])           # a diverged run leaves a gap
    ax = scaling_plots.plot_noise_scale_path([2.3, 2.0, 1.5], [100.0, 80.0, 200.0])
    assert ax.xaxis_inverted()
