"""Claim 2 (Gauss-Markov): the rule on hand-made tables with known verdicts, and the takeaway and
decision-guide rows generated from the numbers (heavy tails -> Huber / L1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from configs.claims import claim2_gauss_markov as claim_config
from experiments.claims import claim2_gauss_markov as claim2
from experiments.statistics import Interval


def _rule_inputs(max_diff=1e-7, inside=True, trace_gap=0.1, eig_gap=1e-3):
    identity = pd.DataFrame({"noise": ["gaussian", "laplace"], "max_abs_diff": [max_diff, 1e-8],
                             "within_tolerance": [max_diff <= 1e-4, True]})
    gauss_markov = pd.DataFrame({"coefficient": ["beta1", "intercept"], "inside": [inside, True]})
    gaps = pd.DataFrame({"trace_gap": [trace_gap, 0.5], "min_eigenvalue_gap": [eig_gap, 0.2]})
    return identity, gauss_markov, gaps


def test_verdict_follows_the_stated_rule():
    above = Interval(2.29, 2.20, 2.38)
    assert claim2.verdict_of(*_rule_inputs(), above)[0] == "supported"
    # A linear unbiased member with a smaller covariance: (c) fails -> qualified.
    verdict, parts = claim2.verdict_of(*_rule_inputs(eig_gap=-1e-3), above)
    assert verdict == "qualified" and not parts["family"]
    # The Monte Carlo check without power (interval contains 1): (c) fails too.
    assert claim2.verdict_of(*_rule_inputs(), Interval(1.1, 0.9, 1.3))[0] == "qualified"
    assert claim2.verdict_of(*_rule_inputs(max_diff=1e-3), above)[0] == "refuted"
    assert claim2.verdict_of(*_rule_inputs(inside=False), above)[0] == "refuted"


def _estimators(huber_high: float):
    """Gaussian (OLS, WLS wrong) and contaminated (OLS, L1, Huber) rows with their ratios."""
    rows = []
    for noise, key, var, mse in (
            ("gaussian", "ols", (1, 1, 1), (1, 1, 1)),
            ("gaussian", "wls_wrong", (2.29, 2.2, 2.38), (2.3, 2.2, 2.4)),
            ("contaminated", "ols", (1, 1, 1), (1, 1, 1)),
            ("contaminated", "l1", (0.2, 0.15, 0.25), (0.17, 0.16, 0.18)),
            ("contaminated", "huber", (0.15, 0.1, 0.2), (0.13, 0.12, huber_high))):
        rows.append({"noise": noise, "key": key,
                     **Interval(*var).as_columns("variance_vs_ols"),
                     **Interval(*mse).as_columns("mse_vs_ols")})
    return pd.DataFrame(rows)


def test_heavy_tails_reach_the_takeaway_and_the_guide():
    estimators = _estimators(huber_high=0.14)
    numbers = claim2.key_numbers_of(estimators, Interval(2.29, 2.2, 2.38))
    assert numbers["error_Huber/OLS_contaminated"] == Interval(0.13, 0.12, 0.14)
    # Infinite-variance noise: its ratio of mean errors does not converge, so it is not quoted.
    student = estimators.replace({"noise": {"contaminated": "student_t"}})
    assert not any("student_t" in name
                   for name in claim2.key_numbers_of(student, Interval(2.29, 2.2, 2.38)))
    takeaway, guide = claim2.takeaway_and_guide("supported", numbers)
    assert "×2.29 [2.20, 2.38]" in takeaway and "×0.13 [0.12, 0.14] (contaminated)" in takeaway
    rows = {g.situation: g for g in guide}
    heavy = rows["noise with heavy tails / outliers"]
    assert heavy.choice == "Huber or L1 loss" and "×0.13 [0.12, 0.14]" in heavy.evidence
    # Huber no better than OLS beyond noise: no heavy-tail advice, and the takeaway says less.
    plain = claim2.key_numbers_of(_estimators(huber_high=1.2), Interval(2.29, 2.2, 2.38))
    takeaway_plain, guide_plain = claim2.takeaway_and_guide("supported", plain)
    assert "Huber" not in takeaway_plain and len(guide_plain) == 1
    # The verdict changes the sentence.
    failed, guide_failed = claim2.takeaway_and_guide("qualified", numbers)
    assert failed != takeaway and guide_failed == []


def _student_t_tables(datasets: int = 21):
    """Student-t(2)-like errors: L1 has half OLS's coefficient error on every dataset, but one
    dataset's OLS error is 1000× the rest, so the ratio of mean squared errors is ~1e-3 while
    the typical dataset's ratio is 0.25."""
    ols = np.ones(datasets)
    ols[0] = 1000.0
    errors = pd.concat([pd.DataFrame({"noise": "student_t", "estimator": key,
                                      "dataset": np.arange(datasets), "error_norm": norm})
                        for key, norm in (("ols", ols), ("l1", 0.5 * np.ones(datasets)),
                                          ("huber", 0.5 * np.ones(datasets)))],
                       ignore_index=True)
    mean_ratio = float((0.25 * datasets) / (ols**2).sum())
    estimators = pd.DataFrame([
        {"noise": "student_t", "key": key, **Interval(r, r, r).as_columns("variance_vs_ols"),
         **Interval(r, 0.8 * r, 1.2 * r).as_columns("mse_vs_ols")}
        for key, r in (("ols", 1.0), ("l1", mean_ratio), ("huber", mean_ratio))])
    references = pd.DataFrame({"loss": ["absolute_error", "huber"], "max_rel_objective_gap": 0.0,
                               "median_max_abs_coef_diff": 0.0, "max_abs_coef_diff": 0.0})
    return {"estimators": estimators, "coefficient_errors": errors, "references": references,
            "infinite_variance": pd.DataFrame()}, mean_ratio


def test_infinite_variance_errors_are_median_paired_ratios():
    """Under Student-t(2) the ratio of mean errors does not converge (one dataset carries it):
    the findings quote the median of the per-dataset paired ratios instead."""
    c = claim_config.get_config("default")
    tables, mean_ratio = _student_t_tables()
    line = next(s for s in claim2.limit_findings(c, tables) if "**student_t**" in s)
    assert "error ×0.25 [0.25, 0.25] (median paired ratio)" in line
    assert f"error ×{mean_ratio:.2f}" not in line


def test_setup_states_the_oracle_huber_scale_and_the_contaminated_std():
    c = claim_config.get_config("default")
    text = claim2.setup_text(c, pd.Series({"n": 200, "p": 6}))
    assert "δ at the true noise scale" in text
    assert "inlier std 1, total std 3.30" in text
