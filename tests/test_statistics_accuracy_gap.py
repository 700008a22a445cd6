"""McNemar's paired accuracy variance, TOST and the paired accuracy gap (experiments.statistics)
against closed forms and scipy."""

from __future__ import annotations

import numpy as np
import scipy.stats

from experiments import statistics


def test_mcnemar_variance_is_the_variance_of_the_mean_per_example_difference():
    rng = np.random.default_rng(0)
    a = rng.random((4, 300)) < 0.8
    b = np.where(rng.random((4, 300)) < 0.9, a, ~a)  # b disagrees with a on ~10% of examples
    z = a.astype(float) - b.astype(float)
    np.testing.assert_allclose(statistics.mcnemar_variance(a, b), z.var(-1) / 300, rtol=1e-12)
    # Far below the unpaired binomial sum when the two arms err on the same examples.
    pa, pb = a.mean(-1), b.mean(-1)
    assert (statistics.mcnemar_variance(a, b) < 0.5 * (pa * (1 - pa) + pb * (1 - pb)) / 300).all()


def test_tost_matches_two_one_sided_student_t_tests():
    d = np.array([0.002, -0.004, 0.001, 0.003, -0.001, 0.0])
    se, df, margin = d.std(ddof=1) / np.sqrt(d.size), d.size - 1, 0.01
    lower = scipy.stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    upper = scipy.stats.ttest_1samp(d, margin, alternative="less").pvalue
    np.testing.assert_allclose(statistics.tost_p_value(d.mean(), se, df, margin),
                               max(lower, upper), rtol=1e-10)
    assert statistics.tost_p_value(0.02, se, df, margin) > 0.5  # outside the margin


def test_paired_accuracy_gap_floors_its_se_at_mcnemar_and_decides_equivalence():
    rng = np.random.default_rng(1)
    a = rng.random((5, 800)) < 0.85
    # Every unit's gap is exactly −10/800 (b wrong on 10 more examples than a): the spread between
    # units is 0, so the interval's width is McNemar's test noise alone.
    b = a.copy()
    for k in range(5):
        right = np.flatnonzero(a[k])[:30]
        wrong = np.flatnonzero(~a[k])[:20]
        b[k, right] = False
        b[k, wrong] = True
    gap = statistics.paired_accuracy_gap(b, a, margin=0.01)
    np.testing.assert_allclose(gap.interval.estimate, -10 / 800, atol=1e-15)
    expected_se = np.sqrt(statistics.mcnemar_variance(b, a).mean() / 5)
    np.testing.assert_allclose([gap.se, gap.mcnemar_se], expected_se, rtol=1e-12)
    crit = scipy.stats.t.ppf(0.975, 4)
    np.testing.assert_allclose(gap.interval.low, -10 / 800 - crit * expected_se, rtol=1e-12)
    assert gap.equivalence_p > 0.05  # −1.25 pt is outside ±1 pt
    assert statistics.paired_accuracy_gap(a, a, margin=0.01).equivalence_p < 1e-6


def test_difference_of_gaps_has_the_per_example_floor_of_its_four_arms():
    # (a at noise − a clean) − (b at noise − b clean) on the same test examples per unit: the
    # estimate is the difference of the two gaps, and the floor is Var(z)/n for the per-example
    # z = a_n − a_c − b_n + b_c (z in −2..2), computed here by hand.
    rng = np.random.default_rng(2)
    a_c, b_c = rng.random((2, 4, 500)) < 0.9
    a_n = np.where(rng.random((4, 500)) < 0.85, a_c, ~a_c)
    b_n = np.where(rng.random((4, 500)) < 0.70, b_c, ~b_c)
    contrast = statistics.paired_accuracy_contrast([a_n, b_c], [a_c, b_n], margin=0.01)
    gap_a = statistics.paired_accuracy_gap(a_n, a_c, 0.01).interval.estimate
    gap_b = statistics.paired_accuracy_gap(b_n, b_c, 0.01).interval.estimate
    np.testing.assert_allclose(contrast.interval.estimate, gap_a - gap_b, atol=1e-15)
    z = a_n.astype(float) - a_c - b_n + b_c
    np.testing.assert_allclose(contrast.mcnemar_se, np.sqrt((z.var(-1) / 500).mean() / 4),
                               rtol=1e-12)
    assert contrast.se >= contrast.mcnemar_se and contrast.interval.low > 0  # b lost more
    # One arm each side is the paired gap itself.
    one = statistics.paired_accuracy_contrast([a_n], [a_c], 0.01)
    assert one == statistics.paired_accuracy_gap(a_n, a_c, 0.01)
