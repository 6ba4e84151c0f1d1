"""The plotting package: every figure function is one call away (plotting.plot_...); lessons 07 and 08's figures
draw exactly the data they are given: train/val curves with their standard errors, update-to-weight ratios with the
rule-of-thumb line, dead units in percent, the sharpness beside its threshold, values over seeds."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import plotting  # noqa: E402
from course_utils.probes import ProbeRecord  # noqa: E402
from course_utils.training import History, accuracy_se  # noqa: E402


def test_the_package_offers_every_figure_of_its_modules():
    import importlib
    import inspect
    import pkgutil

    public = set()
    for info in pkgutil.iter_modules(plotting.__path__):
        module = importlib.import_module(f"course_utils.plotting.{info.name}")
        for name, value in vars(module).items():
            if name.startswith("plot_") and inspect.isfunction(value) and value.__module__ == module.__name__:
                public.add(name)
                assert getattr(plotting, name) is value, name
    assert public <= set(plotting.__all__) and len(public) >= 18   # the 18 of the package's split, and those lessons add
    assert set(plotting.__all__) - public == {"RULE_COLORS", "point_on_curve"}


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_train_and_validation_curves_share_a_panel_and_a_colour():
    h = History(val_acc=[0.3, 0.5, 0.6], train_eval_acc=[0.32, 0.55, 0.7], val_size=400, train_eval_size=100,
                val_loss=[2.0, 1.5, 1.2], train_eval_loss=[1.9, 1.3, 0.9])
    ax = plotting.plot_train_val({1e-3: h}, "acc")
    lines = _lines(ax)
    val, train = lines["lr 1e-3 validation"], lines["lr 1e-3 training"]
    assert val.get_color() == train.get_color() and train.get_linestyle() == "--"
    np.testing.assert_allclose(val.get_ydata(), h.val_acc)
    np.testing.assert_allclose(train.get_ydata(), h.train_eval_acc)
    np.testing.assert_allclose(val.get_xdata(), [1, 2, 3])
    # The shaded bands are ±1 binomial standard error: the validation band at epoch 3 spans 0.6 ± se.
    bands = [c for c in ax.collections]
    assert len(bands) == 2
    top = bands[0].get_paths()[0].vertices[:, 1]
    assert top.max() == pytest.approx(0.6 + accuracy_se(0.6, 400))
    assert top.min() == pytest.approx(0.3 - accuracy_se(0.3, 400))
    ax = plotting.plot_train_val({1e-3: h}, "loss")
    np.testing.assert_allclose(_lines(ax)["lr 1e-3 training"].get_ydata(), h.train_eval_loss)
    assert not ax.collections  # no error band on losses
    with pytest.raises(ValueError, match="metric"):
        plotting.plot_train_val({1e-3: h}, "val_acc")
    plt.close("all")


def test_update_ratios_and_dead_units_are_drawn_from_the_record():
    record = ProbeRecord(every=10, layers=["conv1", "fc1"], ratio_steps=[0, 10, 20],
                         update_ratio={"conv1": [1e-2, 5e-3, 2e-3], "fc1": [1e-1, 1e-2, 1e-3]},
                         dead_steps=[0, 10, 20, 25], dead={"conv1": [0.0, 0.1, 0.2, 0.2], "fc1": [0.1, 0.5, 0.9, 1.0]})
    ax = plotting.plot_update_ratios(record, steps_per_epoch=10)
    lines = _lines(ax)
    np.testing.assert_allclose(lines["fc1"].get_ydata(), [1e-1, 1e-2, 1e-3])
    np.testing.assert_allclose(lines["fc1"].get_xdata(), [0, 1, 2])  # in epochs
    np.testing.assert_allclose(lines["0.001 (CS231n)"].get_ydata(), [1e-3, 1e-3])
    assert ax.get_yscale() == "log"
    record.update_ratio["conv1"][2] = 0.0  # a step that changed no float32 weight: left out, not drawn at 0
    ax = plotting.plot_update_ratios(record)
    assert np.isnan(_lines(ax)["conv1"].get_ydata()[2])
    ax = plotting.plot_dead_units(record)
    np.testing.assert_allclose(_lines(ax)["after fc1"].get_ydata(), [10, 50, 90, 100])
    np.testing.assert_allclose(_lines(ax)["after fc1"].get_xdata(), [0, 10, 20, 25])
    plt.close("all")


def test_plot_sharpness_draws_the_data_and_the_thresholds_it_is_given():
    ax = plotting.plot_sharpness({"a": ([0, 10, 20], [1.0, 2.0, 3.0]), "b": ([0, 5], [4.0, 5.0])}, {"a": 2.5})
    lines = ax.get_lines()
    assert list(lines[0].get_xdata()) == [0, 10, 20] and list(lines[0].get_ydata()) == [1.0, 2.0, 3.0]
    assert list(lines[1].get_ydata()) == [2.5, 2.5] and lines[1].get_color() == lines[0].get_color()
    assert list(lines[2].get_ydata()) == [4.0, 5.0] and len(lines) == 3     # no threshold given for "b"
    ax = plotting.plot_seed_spread({"x": [0.1, 0.3], "y": [0.2, 0.2, 0.5]})
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [list(d.get_ydata()) for d in dots] == [[0.1, 0.3], [0.2, 0.2, 0.5]]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.2, 0.3])


def test_lesson07_figures_draw_their_data_and_the_chance_level():
    h = History(val_acc=[0.3, 0.5], train_eval_acc=[0.32, 0.55], val_size=400, train_eval_size=100,
                val_loss=[2.0, 1.5], train_eval_loss=[1.9, 1.3], train_loss=[2.1, 1.6], step_loss=[2.3] * 12,
                steps_per_epoch=6)
    acc_ax, loss_ax = plotting.plot_lr_curves({1e-3: h}, num_classes=5)
    assert [line.get_ydata()[0] for line in acc_ax.get_lines() if line.get_linestyle() == ":"] == [pytest.approx(0.2)]
    assert [line.get_ydata()[0] for line in loss_ax.get_lines() if line.get_linestyle() == ":"] == [
        pytest.approx(np.log(5))]
    assert acc_ax.figure._suptitle.get_text().startswith("Adam")
    ax = plotting.plot_step_losses_at_chance({1e-3: h}, window=3)
    assert ax.get_ylim() == pytest.approx((0, 1.5 * np.log(10)))
    left, right = plotting.plot_epoch_comparison({"a": h, "b": History(train_loss=[2.0], val_acc=[0.2])}, 2)
    assert _lines(left)["a"].get_ydata().tolist() == [2.1, 1.6] and _lines(right)["b"].get_ydata().tolist() == [0.2]
    record = ProbeRecord(layers=["conv1"], ratio_steps=[0, 6], update_ratio={"conv1": [1e-2, 1e-3]},
                         dead_steps=[0, 6], dead={"conv1": [0.0, 0.5]})
    axes = plotting.plot_probe_panels({"x": record, "y": record}, "dead", steps_per_epoch=6, max_epoch=1)
    assert [a.get_title() for a in axes] == ["x", "y"] and axes[0].get_xlim() == pytest.approx((-0.2, 1.2))
    with pytest.raises(ValueError, match="'ratio' or 'dead'"):
        plotting.plot_probe_panels({"x": record}, "loss")
    images = np.zeros((4, 32, 32, 3), dtype=np.uint8)
    axes = plotting.plot_class_examples(images, [1, 0, 1, 0], ["cat", "dog"])
    assert [a.get_title() for a in axes] == ["cat", "dog"]
    plt.close("all")
