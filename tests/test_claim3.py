"""Claim 3 (3a: L2 penalty = Gaussian prior; 3b: Adam + L2 vs AdamW): the rules on hand-made
tables with known answers, read back from CSV as the runner hands them to judge."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from configs.claims import claim3_gaussian_prior as claim3_config
from experiments.claims import claim3_gaussian_prior as claim3
from experiments.claims import claim_tables

LRS = claim3_config._half_decades(-4.0, -1.5)
LAMS = claim3_config._half_decades(-4.0, 2.0)


def _adam_runs(best_lambda, tie: bool = True, seeds: int = 4,
               test_noise: float = 0.0) -> pd.DataFrame:
    """Validation (= test) loss with a known best λ per (mode, lr): a parabola in log10 λ around
    best_lambda[mode](lr) plus a shared bowl in log10 lr (best lr 10^-2.5); AdamW's test MSE is
    0.05 lower everywhere when `tie` is False; `test_noise` adds independent noise to test only."""
    rng = np.random.default_rng(0)
    test_rng = np.random.default_rng(1)
    rows = []
    for mode, lr, lam, seed in itertools.product(claim3.ADAM_MODES.values(), LRS, (0.0, *LAMS),
                                                 range(seeds)):
        target = np.log10(best_lambda[mode](lr))
        val = (1 + 0.1 * (np.log10(max(lam, 1e-6)) - target) ** 2
               + 0.05 * (np.log10(lr) + 2.5) ** 2 + 0.001 * rng.standard_normal())
        test = (val - (0.05 if mode == claim3.W_MODE and not tie else 0.0)
                + test_noise * test_rng.standard_normal())
        rows.append({"mode": mode, "learning_rate": lr, "penalty_strength": lam, "seed": seed,
                     "final_val_loss": val, "test_mse": test})
    return pd.DataFrame(rows)


def _sgd(diff: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"penalty_strength": [1e-3, 1e-2], "seed": [0, 0],
                         "max_abs_param_diff": [diff, diff], "max_abs_param": [1.0, 1.0],
                         "max_rel_objective_diff": [0.0, 0.0], "final_objective": [0.5, 0.5]})


L_AND_H = {claim3.W_MODE: lambda lr: 1e-3 / lr,  # AdamW: best lr·λ fixed (axis-aligned)
           claim3.L2_MODE: lambda lr: 10 * lr}  # Adam + L2: best λ grows with lr


def _judge_b(runs, sgd, tmp_path):
    tables = claim_tables.round_trip({"sgd_pair": sgd, "adam_runs": runs}, tmp_path / "claim3")
    return claim3.judge_b(tables, claim3_config.get_config("default"), tmp_path)


def test_basin_slopes_recover_known_best_lambda_per_lr():
    basin, slopes = claim3.basin_table(_adam_runs(L_AND_H))
    np.testing.assert_allclose(slopes[claim3.W_MODE].estimate, -1.0, atol=1e-3)  # 3-digit grid
    np.testing.assert_allclose(slopes[claim3.L2_MODE].estimate, 1.0, atol=1e-3)
    adamw = basin[basin["mode"] == claim3.W_MODE]
    np.testing.assert_allclose(adamw["best_decay_lr_times_lambda"], 1e-3, rtol=0.02)
    assert not basin["at_grid_edge"].any()


def test_lh_basins_are_described_but_the_verdict_rests_on_the_tuned_comparison(tmp_path):
    """Tuned, the two tie (shown equivalent); at a shared setting they differ; AdamW's best lr·λ
    does not move with lr while Adam + L2's best λ does. The basin is descriptive (both fixed
    points are lr-free at convergence), so the verdict is qualified, not supported; the guide may
    then recommend AdamW for not needing re-tuning, because Adam + L2 moves by the same margin."""
    section = _judge_b(_adam_runs(L_AND_H), _sgd(), tmp_path)
    assert section.verdict == "qualified"
    assert "neither won" in section.findings and "Their claim holds here." in section.findings
    assert "theorem" in section.findings
    assert "neither is better" in section.takeaway and "stays put" in section.takeaway
    assert "need not be retuned" in section.guide[0].choice
    assert section.kind == "empirical" and section.part == "penalty"
    assert section.headline == "adamw_minus_adam_l2"
    assert "adamw_best_decay_slope" not in section.key_numbers


ONE_STEP = {claim3.L2_MODE: lambda lr: 0.1 if lr > LRS[0] else 0.0316,  # one grid step
            claim3.W_MODE: lambda lr: 0.1}


def test_one_grid_step_is_not_a_moving_basin_for_either_mode(tmp_path):
    """The default run's pattern: Adam + L2's best λ is 0.1 at all lrs but the lowest (slope
    ≈ 0.14, inside ±0.5 like AdamW's 0). The old rule called that "moves" (interval excluding 0)
    and recommended AdamW for not needing re-tuning; by one criterion neither basin moves."""
    _, slopes = claim3.basin_table(_adam_runs(ONE_STEP))
    assert 0 < slopes[claim3.L2_MODE].low and slopes[claim3.L2_MODE].high < 0.5
    section = _judge_b(_adam_runs(ONE_STEP), _sgd(), tmp_path)
    assert "neither basin moves" in section.findings
    assert "its best λ moves with lr" not in section.findings
    assert section.guide[0].choice.startswith("either, tuned jointly")
    assert "need not be retuned" not in section.guide[0].choice
    assert "tuned once and kept" not in section.takeaway


SHIFTED = {claim3.L2_MODE: lambda lr: 0.1, claim3.W_MODE: lambda lr: 10.0}


def test_neither_is_better_only_with_an_equivalence_test(tmp_path):
    """Tuned test MSEs tie on average but are noisy (±0.05 per seed, 4 seeds): the interval
    contains 0 yet is wider than the ±5% margin, so "neither is better" is not shown."""
    noisy = _judge_b(_adam_runs(SHIFTED, test_noise=0.05), _sgd(), tmp_path / "noisy")
    assert noisy.verdict == "qualified"
    assert "neither is better" not in noisy.takeaway
    assert "not shown different" in noisy.takeaway and "not excluded" in noisy.takeaway
    exact = _judge_b(_adam_runs(SHIFTED), _sgd(), tmp_path / "exact")
    assert exact.verdict == "qualified" and "neither is better" in exact.takeaway


@pytest.mark.parametrize(
    ("best_lambda", "tie", "sgd_diff", "verdict", "words"),
    [
        ({m: (lambda lr: 1e-2) for m in claim3.ADAM_MODES.values()}, False, 0.0, "supported",
         "AdamW won"),
        ({m: (lambda lr: 1e-2) for m in claim3.ADAM_MODES.values()}, True, 0.0, "refuted",
         "neither won"),
        (L_AND_H, True, 0.5, "refuted", "FAILS"),
    ],
)
def test_claim3b_rule_on_known_answers(tmp_path, best_lambda, tie, sgd_diff, verdict, words):
    section = _judge_b(_adam_runs(best_lambda, tie=tie), _sgd(sgd_diff), tmp_path)
    assert section.verdict == verdict and words in section.findings


def test_a_selection_at_the_grid_edge_is_flagged(tmp_path):
    edge = {m: (lambda lr: 1e3) for m in claim3.ADAM_MODES.values()}  # beyond the largest λ
    section = _judge_b(_adam_runs(edge), _sgd(), tmp_path)
    assert "at the edge of the grid" in section.findings and "censored" in section.findings


def _claim3a_tables(gap: float) -> dict[str, pd.DataFrame]:
    lam_star, lams = 0.2, 0.2 * np.geomspace(1 / 30, 30, 9)
    mse = 0.1 + 0.02 * np.log(lams / lam_star) ** 2
    curve = pd.DataFrame({"penalty_strength": lams, "lambda_over_lambda_star": lams / lam_star,
                          "test_mse": mse, "test_mse_low": mse - 0.001,
                          "test_mse_high": mse + 0.001, "minus_at_lambda_star": mse - 0.1,
                          "minus_at_lambda_star_low": mse - 0.1 - 0.001 * (lams != lam_star),
                          "minus_at_lambda_star_high": mse - 0.1 + 0.001})
    summary = pd.DataFrame([{"lam_star": lam_star, "tau": 0.3, "datasets": 1000,
                             "argmin": lam_star, "argmin_low": 0.15, "argmin_high": 0.27,
                             "log_tau_hat": np.log(0.3), "log_tau_hat_low": np.log(0.28),
                             "log_tau_hat_high": np.log(0.32), "tau_hat_median": 0.3,
                             "tau_hat_q25": 0.2, "tau_hat_q75": 0.4, "coverage": 0.95,
                             "coverage_low": 0.93, "coverage_high": 0.96}])
    map_runs = pd.DataFrame({"seed": [0, 0], "prior_std": [np.inf, 0.3],
                             "penalty_strength": [0.0, lam_star], "trained_vs_ridge": [gap, gap],
                             "trained_vs_posterior": [gap, gap], "ridge_vs_posterior": [0.0, 0.0],
                             "weight_norm": [1.0, 0.8]})
    columns = {f"w_{j}": [0.5 - 0.1 * j, 0.4 - 0.1 * j] for j in range(3)}
    ridge = pd.DataFrame({**columns, "penalty_strength": [0.05, 0.5]})
    trained = pd.DataFrame({**columns, "penalty_strength": [0.0, lam_star]})
    return {"map_runs": map_runs, "prescription_curve": curve,
            "prescription_summary": summary, "shrinkage_ridge": ridge,
            "shrinkage_trained": trained}


@pytest.mark.parametrize(("gap", "verdict", "words"),
                         [(1e-7, "supported", "set λ from σ and τ"), (1e-2, "refuted", "a bug")])
def test_claim3a_is_a_theorem_and_its_takeaway_follows_the_verdict(tmp_path, gap, verdict, words):
    tables = claim_tables.round_trip(_claim3a_tables(gap), tmp_path / "claim3")
    section = claim3.judge_a(tables, claim3_config.get_config("default"), tmp_path)
    assert section.verdict == verdict and words in section.takeaway
    assert section.kind == "theorem" and section.part == "penalty"
    assert section.key_numbers["best_lambda_over_prescribed"].estimate == pytest.approx(1.0)


def test_half_decade_grids():
    c = claim3_config.get_config("default").adam_pair.sweep
    for grid in (c.learning_rate, [v for v in c.penalty_strength if v > 0]):
        np.testing.assert_allclose(np.diff(np.log10(grid)), 0.5, atol=2e-3)
