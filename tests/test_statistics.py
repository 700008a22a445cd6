"""Known answers for experiments.statistics: coverage, pairing, Holm, binomial noise."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from experiments import statistics

SIMULATIONS = 1000


def _coverage(intervals: np.ndarray, truth: float) -> float:
    return float(np.mean([iv.contains(truth) for iv in intervals]))


@pytest.mark.parametrize("n", [5, 40])
def test_mean_interval_covers_a_known_mean_95_percent(n):
    # 1,000 simulated experiments of n seeds each, bootstrapped in one vectorized call.
    rng = np.random.default_rng(n)
    samples = 3.0 + 2.0 * rng.standard_normal((SIMULATIONS, n))
    intervals = statistics.mean(samples, resamples=1000, seed=1)
    assert 0.93 <= _coverage(intervals, 3.0) <= 0.97


def test_nested_interval_covers_with_split_and_seed_noise():
    # Data splits (outer) carry their own offset; seeds (inner) add noise within a split.
    rng = np.random.default_rng(3)
    splits, seeds = 8, 3
    samples = (1.0 + rng.standard_normal((SIMULATIONS, splits, 1))
               + 0.5 * rng.standard_normal((SIMULATIONS, splits, seeds)))
    intervals = statistics.mean(samples, nested=True, resamples=1000, seed=2)
    assert 0.93 <= _coverage(intervals, 1.0) <= 0.97


def test_paired_difference_covers_and_is_narrower_than_unpaired_when_arms_correlate():
    rng = np.random.default_rng(0)
    n = 10
    shared = rng.standard_normal((SIMULATIONS, n))  # seed effect common to both arms
    a = shared + 0.2 * rng.standard_normal((SIMULATIONS, n)) + 0.3
    b = shared + 0.2 * rng.standard_normal((SIMULATIONS, n))
    paired = statistics.paired_difference(a, b, resamples=1000)
    unpaired = statistics.unpaired_difference(a, b, resamples=1000)
    assert 0.93 <= _coverage(paired, 0.3) <= 0.97
    width_paired = np.median([iv.high - iv.low for iv in paired])
    width_unpaired = np.median([iv.high - iv.low for iv in unpaired])
    assert width_paired < 0.3 * width_unpaired
    # The paired test finds the 0.3 shift much more often than the unpaired one.
    assert np.mean([iv.excludes(0) for iv in paired]) > 0.5
    assert np.mean([iv.excludes(0) for iv in unpaired]) < 0.2


def test_p_value_agrees_with_the_interval():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((200, 6)) + 0.8
    b = rng.standard_normal((200, 6))
    for iv in statistics.paired_difference(a, b, resamples=2000):
        if abs(iv.p_value - 0.05) > 0.01:  # away from the boundary, where MC noise decides
            assert iv.excludes(0) == (iv.p_value < 0.05)


def test_mean_interval_matches_student_t_for_a_gaussian_mean():
    rng = np.random.default_rng(11)
    x = rng.standard_normal(8)
    iv = statistics.mean(x, resamples=20000)
    low, high = scipy.stats.t.interval(0.95, 7, loc=x.mean(), scale=x.std(ddof=1) / np.sqrt(8))
    # √(n/(n−1)) turns the bootstrap variance s²(n−1)/n² into s²/n: the t interval itself.
    assert iv.low == pytest.approx(low, abs=0.03 * (high - low) / 2)
    assert iv.high == pytest.approx(high, abs=0.03 * (high - low) / 2)


def test_ratio_interval_contains_the_true_ratio():
    rng = np.random.default_rng(2)
    a = rng.exponential(2.0, (SIMULATIONS, 50))
    b = rng.exponential(1.0, (SIMULATIONS, 50))
    intervals = statistics.ratio_of_means(a, b, paired=False, resamples=1000)
    assert 0.92 <= _coverage(intervals, 2.0) <= 0.97


def test_ratio_interval_of_positive_means_stays_positive():
    # Heavy-tailed denominator, ratio near 0 (claim 6's linear Cauchy cell): a symmetric interval
    # est ± t·SE reaches below 0; the log-scale interval exp(log est ± t·SE_log) cannot.
    rng = np.random.default_rng(3)
    a = rng.exponential(1e-3, 5)
    b = np.abs(rng.standard_cauchy(5)) * 1e3
    iv = statistics.ratio_of_means(a, b)
    assert 0 < iv.low < iv.estimate < iv.high
    assert iv.estimate == pytest.approx(a.mean() / b.mean())
    assert iv.excludes(1.0) and iv.p_value < 0.05


def test_holm_matches_the_step_down_definition():
    adjusted, reject = statistics.holm([0.01, 0.04, 0.03, 0.005])
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> max-accumulated 0.06
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_array_equal(reject, [True, False, False, True])


def test_holm_controls_family_wise_error_under_the_null():
    rng = np.random.default_rng(4)
    p = rng.uniform(size=(SIMULATIONS, 5))  # 5 true nulls per family
    any_reject = np.mean([statistics.holm(row)[1].any() for row in p])
    assert any_reject <= 0.065


def test_binomial_noise_and_wilson_interval():
    assert statistics.accuracy_test_noise(0.5, 100) == pytest.approx(0.05)
    iv = statistics.binomial_interval(45, 450)
    # Wilson's interval for 45/450 at 95% (closed form, computed by hand): [0.0755, 0.1313].
    assert (iv.low, iv.high) == (pytest.approx(0.07551, abs=1e-4), pytest.approx(0.13128, abs=1e-4))


def test_test_noise_widens_a_seed_interval_and_covers_the_true_accuracy():
    rng = np.random.default_rng(8)
    n_test, p_true, seeds = 450, 0.9, 5
    # One test set per simulation (shared by all seeds): its sampling error is the same for every
    # seed, which a bootstrap over seeds alone cannot see.
    test_error = rng.binomial(n_test, p_true, SIMULATIONS) / n_test - p_true
    acc = p_true + test_error[:, None] + 0.003 * rng.standard_normal((SIMULATIONS, seeds))
    seed_only = statistics.mean(acc, resamples=1000)
    both = statistics.with_test_noise(acc, None, n_test, resamples=1000)
    assert _coverage(seed_only, p_true) < 0.6
    assert 0.93 <= _coverage(both, p_true) <= 0.97
    diff = statistics.with_test_noise(acc, acc - 0.01, n_test, resamples=1000)
    assert all(iv.contains(0.01) for iv in diff)


def test_interval_format_and_columns():
    iv = statistics.Interval(0.5, 0.25, 0.75)
    assert iv.format(".1f", scale=100, unit="%") == "50.0% [25.0%, 75.0%]"
    assert iv.as_columns("gap") == {"gap": 0.5, "gap_low": 0.25, "gap_high": 0.75}
    assert iv.excludes(0) and not iv.excludes(0.5)
    with pytest.raises(ValueError, match="same shape"):
        statistics.paired_difference(np.ones(3), np.ones(4))


def test_geometric_mean_ratio_is_the_exponentiated_paired_log_difference():
    rng = np.random.default_rng(3)
    b = rng.lognormal(size=(5, 3))
    # An exact constant ratio: estimate 2, a zero-width interval, p-value 0 for "ratio 1".
    exact = statistics.geometric_mean_ratio(2.0 * b, b, nested=True)
    assert (exact.estimate, exact.low, exact.high) == pytest.approx((2.0, 2.0, 2.0))
    a = b * rng.lognormal(0.1, 0.2, size=(5, 3))
    ratio = statistics.geometric_mean_ratio(a, b, nested=True, resamples=500)
    logs = statistics.paired_difference(np.log(a), np.log(b), nested=True, resamples=500)
    assert ratio.estimate == pytest.approx(np.exp(np.log(a / b).mean()))
    assert (ratio.low, ratio.high) == pytest.approx((np.exp(logs.low), np.exp(logs.high)))
    assert ratio.p_value == pytest.approx(logs.p_value)
    one_arm = statistics.geometric_mean_ratio(a[0])
    assert one_arm.estimate == pytest.approx(np.exp(np.log(a[0]).mean()))


def test_percentile_interval_matches_scipy_percentile_bootstrap():
    """Against scipy.stats.bootstrap(method='percentile') on the same data: equal up to the
    two implementations' different resampling noise."""
    x = np.random.default_rng(3).standard_cauchy(60)
    ours = statistics.median_interval(x, resamples=20_000)
    ref = scipy.stats.bootstrap((x,), np.median, method="percentile", n_resamples=20_000,
                                random_state=np.random.default_rng(0)).confidence_interval
    assert ours.estimate == np.median(x)
    assert ours.low == pytest.approx(ref.low, abs=0.05)
    assert ours.high == pytest.approx(ref.high, abs=0.05)


def test_median_interval_stays_inside_the_data_where_the_t_interval_does_not():
    """The claim-6 case: learned α ≥ 0 with a few fits near 0 and a few near 2 (5 seeds)."""
    alphas = np.array([0.02, 0.05, 0.1, 1.6, 1.9])
    t_style = statistics.bootstrap(lambda a: np.median(a, -1), alphas)
    assert t_style.low < 0  # the old interval: a negative α
    iv = statistics.median_interval(alphas)
    assert alphas.min() <= iv.low <= iv.estimate <= iv.high <= alphas.max()


def test_median_paired_ratio_ignores_one_huge_unit():
    """Under Cauchy-like noise one dataset dominates a ratio of means; the median of the paired
    ratios is the typical unit's ratio (here exactly 0.5 on all units but one)."""
    b = np.full(41, 2.0)
    b[0] = 1e6
    a = 0.5 * b
    a[0] = 1.0  # the dominating unit: ratio 1e-6
    iv = statistics.median_paired_ratio(a, b)
    assert iv.estimate == 0.5 and iv.low == 0.5 and iv.high == 0.5
    assert statistics.ratio_of_means(a, b).estimate < 1e-3  # what the old ratio reported
    with pytest.raises(ValueError, match="same shape"):
        statistics.median_paired_ratio(a, b[:3])


def test_clustered_proportion_is_wilson_for_independent_trials_and_wider_for_clusters():
    # One trial per unit: the design effect is 1 and the interval is Wilson's score interval
    # (closed form: statsmodels' proportion_confint(method="wilson") gives the same numbers).
    s = np.array([1] * 17 + [0] * 3)
    iv = statistics.clustered_proportion(s, np.ones(20))
    z = scipy.stats.norm.ppf(0.975)
    p, n = 0.85, 20
    center = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert iv.estimate == pytest.approx(0.85)
    assert iv.low == pytest.approx(center - half) and iv.high == pytest.approx(center + half)
    # Ten trials per unit, perfectly correlated within a unit: the same information as one
    # trial per unit, so the same interval (deff = 10), not the 200-trial one.
    clustered = statistics.clustered_proportion(10 * s, np.full(20, 10))
    assert clustered.low == pytest.approx(iv.low) and clustered.high == pytest.approx(iv.high)
    # Inside [0, 1] at the edges (all recovered: the old interval ran past 1).
    full = statistics.clustered_proportion(np.full(30, 4), np.full(30, 4))
    assert full.estimate == 1.0 and full.high == 1.0 and 0.9 < full.low < 1.0
    for n in range(1, 200):  # p = 1 and p = 0 stay inside their interval after rounding
        ones, zeros = (statistics.clustered_proportion(np.full(n, v), np.ones(n)) for v in (1, 0))
        assert ones.low <= ones.estimate <= ones.high and zeros.low <= 0.0 <= zeros.high
    # Units without trials (no input selected: precision undefined) are left out.
    assert statistics.clustered_proportion([1, 0], [2, 0]).estimate == 0.5
