"""Reading finished runs (course_utils.summaries): gap, loss noise, rows with standard errors, spread over seeds."""
import math

import pytest

from course_utils import summaries
from course_utils.training import History


def test_summary_gap_and_noise():
    h = History(lr=1e-3, step_loss=[2.0, 1.9, 1.8, 1.7], train_loss=[1.5], train_acc=[0.55],
                         train_eval_acc=[0.8], val_loss=[1.6], val_acc=[0.6], steps_per_epoch=4,
                         val_size=1000, train_eval_size=500)
    assert summaries.generalization_gap(h) == pytest.approx(0.2)  # on the eval-mode training accuracy
    assert summaries.loss_noise(h) == pytest.approx(0.0, abs=1e-12)  # a steady fall is trend, not noise
    h2 = History(lr=1e-2, step_loss=[2.0, 1.0, 2.0, 2.0, 1.0], train_acc=[0.5], val_acc=[0.4, 0.5],
                          train_eval_acc=[0.5, 0.5], train_loss=[1.6], val_loss=[1.6], steps_per_epoch=5,
                          val_size=100, train_eval_size=100)
    assert summaries.loss_noise(h2) > 0
    rows = summaries.summarize({1e-3: h, 1e-2: h2})
    assert rows[0]["best_val_acc"] == 0.6 and rows[1]["gap"] == 0.0 and rows[1]["best_epoch"] == 2
    assert rows[0]["final_train_acc"] == 0.8 and rows[0]["batch_acc"] == 0.55
    assert rows[0]["val_se"] == pytest.approx(math.sqrt(0.6 * 0.4 / 1000))
    assert rows[1]["gap_se"] == pytest.approx(math.hypot(0.05, 0.05))
    table = summaries.format_summary(rows)
    assert "1e-3" in table and "60.0 ± 1.5%" in table and "+20.0 ± 2.4" in table and "50.0 ± 5.0% ( 2)" in table
    assert math.isnan(summaries.generalization_gap(History(train_acc=[0.5], val_acc=[0.4])))


def test_summary_spread_over_seeds():
    def run(acc):
        return {1e-3: History(val_acc=[acc], train_eval_acc=[acc], val_size=100, train_eval_size=100)}

    seeds = [run(0.50), run(0.54), run(0.58)]
    assert summaries.final_over_seeds(seeds)[1e-3].tolist() == [0.50, 0.54, 0.58]
    row = summaries.summarize(seeds[0], seeds=seeds)[0]
    assert row["num_seeds"] == 3 and row["seed_mean_val_acc"] == pytest.approx(0.54)
    assert row["seed_sd_val_acc"] == pytest.approx(0.04)
    assert "val acc over 3 seeds" in summaries.format_summary([row]) and "54.0 ± 4.0%" in summaries.format_summary([row])
    with pytest.raises(ValueError, match="same learning rates"):
        summaries.final_over_seeds([run(0.5), {1e-4: run(0.5)[1e-3]}])
