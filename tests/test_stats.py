import math

import numpy as np
import pytest

from course_utils import stats


def test_t_quantile_matches_tables():
    # two-sided 95 % critical values from any t table
    for df, value in ((1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042)):
        assert stats.t_quantile(0.975, df) == pytest.approx(value, abs=1e-3)
    assert stats.t_quantile(0.025, 5) == pytest.approx(-stats.t_quantile(0.975, 5))


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = sum(stats.mean(rng.normal(3.0, 2.0, size=4)).excludes(3.0) is False for _ in range(3000))
    assert 0.935 < hits / 3000 < 0.965


def test_two_way_bootstrap_counts_the_shared_examples():
    # Every seed is scored on the same examples: example noise does not shrink with more seeds.
    rng = np.random.default_rng(2)
    example_effect = rng.normal(0, 1, size=400)
    few = np.array([example_effect + rng.normal(0, 0.1) for _ in range(3)])
    many = np.array([example_effect + rng.normal(0, 0.1) for _ in range(30)])
    width_few, width_many = stats.mean(few).half_width, stats.mean(many).half_width
    sem_examples = example_effect.std() / math.sqrt(400)
    assert width_many > 1.5 * sem_examples          # still about 1.96 standard errors of the examples
    assert width_many > 0.5 * width_few             # did not shrink like 1/sqrt(seeds)


def test_two_way_bootstrap_coverage_with_seed_and_example_noise():
    rng = np.random.default_rng(3)
    hits, trials = 0, 300
    for _ in range(trials):
        seeds = rng.normal(0, 0.05, size=(8, 1))
        examples = rng.normal(0, 0.5, size=(1, 300))
        data = 0.2 + seeds + examples + rng.normal(0, 0.3, size=(8, 300))
        hits += not stats.mean(data, num_resamples=1000, seed=int(rng.integers(1e9))).excludes(0.2)
    assert hits / trials > 0.85


def test_paired_difference_cancels_what_the_runs_share():
    rng = np.random.default_rng(4)
    shared = rng.normal(0, 1, size=(3, 500))
    a, b = shared + 0.05, shared
    paired = stats.paired_difference(a, b)
    assert paired.estimate == pytest.approx(0.05)
    assert paired.half_width < 1e-9
    assert stats.decide(paired) == "greater"


def test_decision_rule():
    iv = stats.Interval(0.1, 0.02, 0.2, 0.95, 3, None, "t")
    assert stats.decide(iv) == "greater"
    assert stats.decide(stats.Interval(-0.1, -0.2, -0.02, 0.95, 3, None, "t")) == "less"
    assert stats.decide(stats.Interval(0.1, -0.02, 0.2, 0.95, 3, None, "t")) == "unresolved"
    assert stats.decide(stats.Interval(0.1, 0.02, 0.2, 0.95, 2, None, "t")) == "unresolved"   # too few seeds
    assert stats.decide(stats.Interval(0.1, 0.02, 0.2, 0.95, 1, 1000, "b"), min_seeds=1) == "greater"
    assert stats.decide(iv, threshold=0.05) == "unresolved"


def test_one_seed_gives_an_infinite_t_interval():
    iv = stats.mean([0.3])
    assert iv.low == -math.inf and iv.high == math.inf and stats.decide(iv) == "unresolved"


def test_ratio_of_means():
    r = stats.ratio_of_means([2.0, 2.2, 1.8], [1.0, 1.1, 0.9])
    assert r.estimate == pytest.approx(2.0) and r.low == pytest.approx(2.0) and r.high == pytest.approx(2.0)
    with pytest.raises(ValueError, match="never 0"):
        stats.ratio_of_means([1.0], [0.0])


def test_proportion_wilson_interval():
    p = stats.proportion(5, 6)
    assert p.estimate == pytest.approx(5 / 6)
    assert p.low == pytest.approx(0.4365, abs=1e-3) and p.high == pytest.approx(0.9699, abs=1e-3)
    assert str(stats.proportion(0, 3)) == "0 of 3 (0 %; 95 % interval 0 % to 56 %)"


@pytest.mark.parametrize("call, message", [
    (lambda: stats.paired_difference([1, 2], [1, 2, 3]), "paired"),
    (lambda: stats.mean([[1.0, np.nan]]), "NaN"),
    (lambda: stats.mean([]), "non-empty"),
    (lambda: stats.mean([1.0, 2.0], level=95), "level"),
    (lambda: stats.proportion(4, 3), "0 <= k <= n"),
])
def test_bad_input_gets_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_interval_prints_with_its_level_and_data():
    iv = stats.mean(np.array([[1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 1]], dtype=float)).scaled(100, " points")
    assert str(iv).startswith("+75 points [+50, +100]") and str(iv).endswith("(95 %, 3 seeds x 4 examples)")
