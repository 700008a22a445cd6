"""Claim 1 (smoothness and stability); claim 4's tests are in test_claim4.py.

Fast tests check each verdict rule and its statistics on hand-made tables with known answers;
the slow tests run each claim's --quick experiment end to end and re-derive its verdict from
the tables it returns, independently of the module's own code path.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from configs.claims import claim1_smoothness as claim1_config
from experiments import grid
from experiments.claims import claim1_smoothness as claim1

# --- claim 1 on hand-made runs ----------------------------------------------------------------


def _claim1_runs(l2_rebound: float, l1_rebound: float, l2_test_shift: float = 0.0):
    """Runs of L2 and L1 at two residual scales, three lrs, five seeds with known answers:
    lr 1.0 is unstable for L2 (final objective above its initial one), the lowest validation MSE
    is at lr 0.1 for both, and each loss's rebound there is the given value."""
    rng = np.random.default_rng(0)
    rows = []
    for noise, loss, lr, seed in itertools.product(
        (0.1, 1.0), (claim1.L2, claim1.L1), (0.01, 0.1, 1.0), range(5)
    ):
        unstable = loss == claim1.L2 and lr == 1.0
        rebound = (l2_rebound if loss == claim1.L2 else l1_rebound) if lr == 0.1 else 0.0
        rebound += 0.001 * rng.standard_normal() if rebound else 0.0
        low = 0.5
        rows.append({
            "loss": loss, "noise_scale": noise, "learning_rate": lr, "seed": seed,
            "initial_objective": 1.0, "final_objective": 2.0 if unstable else low * (1 + rebound),
            "min_objective": low, "rebound": rebound,
            "stable": not unstable, "tail_oscillation": 0.0, "initial_grad_norm": 2.0,
            "val_mse": 0.1 if lr == 0.1 else 0.2,
            "test_mse": 0.1 + 0.001 * seed + (l2_test_shift if loss == claim1.L2 else 0.0),
        })
    return claim1.add_excess(pd.DataFrame(rows))


@pytest.mark.parametrize(
    ("l2_rebound", "l1_rebound", "l2_test_shift", "expected"),
    [
        (0.0, 0.2, 0.0, "supported"),
        (0.0, 0.2, 0.05, "qualified"),  # calmer but less accurate
        (0.0, 0.0, 0.0, "qualified"),  # as calm: no difference
        (0.2, 0.0, 0.0, "refuted"),  # L1 calmer
    ],
)
def test_claim1_rule_on_known_answers(l2_rebound, l1_rebound, l2_test_shift, expected):
    runs = _claim1_runs(l2_rebound, l1_rebound, l2_test_shift)
    limits = claim1.max_stable_lr(runs).set_index(["noise_scale", "loss"])
    assert limits.loc[(0.1, claim1.L2), "max_stable_lr"] == 0.1
    assert limits.loc[(0.1, claim1.L1), "max_stable_lr"] == 1.0
    assert bool(limits.loc[(0.1, claim1.L1), "censored"])
    tuned = claim1.tuned_lrs(runs)
    assert (tuned["tuned_lr"] == 0.1).all()
    matched = claim1.matched_lrs(tuned)
    np.testing.assert_allclose(matched["matched_lr"], 0.1)  # equal initial gradient norms
    comparison = claim1.comparison_table(runs, tuned, None)
    np.testing.assert_allclose(comparison["tuned_rebound_l2_minus_l1"],
                               l2_rebound - l1_rebound, atol=0.002)
    assert claim1.verdict(comparison) == expected


def test_claim1_excess_is_against_the_best_any_lr_reached():
    runs = _claim1_runs(0.0, 0.2)
    runs.loc[(runs["learning_rate"] == 0.01) & (runs["loss"] == claim1.L1), "min_objective"] = 0.25
    runs = claim1.add_excess(runs)
    at = runs[(runs["loss"] == claim1.L1) & (runs["learning_rate"] == 0.1)]
    # best = 0.25 (reached at lr 0.01), final ≈ 0.5·1.2 = 0.6 -> (0.6 − 0.25)/0.25 = 1.4
    np.testing.assert_allclose(at["relative_excess"], 1.4, atol=0.01)
    assert runs.loc[~runs["stable"], "relative_excess"].isna().all()


@pytest.mark.parametrize("module", [claim1_config])
def test_claim_configs_expand_and_reject_unknown_sizes(module):
    for size in module.SIZES:
        groups = grid.expand(module.get_config(size))
        assert sum(len(g.runs) for g in groups) > 0
    with pytest.raises(ValueError, match="'huge'"):
        module.get_config("huge")


# --- end to end (--quick) ---------------------------------------------------------------------


def test_selected_lrs_ignore_the_test_numbers():
    """Claim 1 selects on validation columns: scrambling every test column changes no selected
    lr (claim 4's version is in test_claim4.py; the engine-level one, with permuted test
    labels, in test_claims.py)."""
    rng = np.random.default_rng(0)
    runs1 = _claim1_runs(0.0, 0.2)
    scrambled1 = runs1.assign(test_mse=rng.permutation(runs1["test_mse"].to_numpy()))
    pd.testing.assert_series_equal(claim1.tuned_lrs(runs1)["tuned_lr"],
                                   claim1.tuned_lrs(scrambled1)["tuned_lr"])
