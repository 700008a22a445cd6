"""Claim 6 (adaptive α): the log Z table against losses.robust_nll, fits with a known answer,
and the verdict rule computed from numbers (change the inputs and the verdict flips)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import losses
from configs.claims import claim6_adaptive_alpha as claim6_config
from experiments.claims import claim6_adaptive_alpha as claim6


@pytest.fixture(scope="module")
def table():
    return claim6.log_partition_table(4.0, 801)


def test_table_nll_equals_robust_nll(table):
    r = jax.random.normal(jax.random.key(0), (64,)) * 3.0
    # log Z has ρ's |α−2|·log|α−2| kink at 2: within 0.005 of it the table is within 1e-3.
    for alpha, tol in ((0.0, 2e-5), (0.37, 2e-5), (1.0, 2e-5), (1.999, 1e-3), (2.0, 2e-5),
                       (2.6, 2e-5), (3.9, 2e-5)):
        for scale in (0.3, 1.0, 2.5):
            exact = losses.robust_nll(r, alpha=jnp.float32(alpha), scale=jnp.float32(scale))
            np.testing.assert_allclose(claim6.adaptive_nll(r, jnp.float32(alpha),
                                                           jnp.float32(scale), table),
                                       exact, atol=tol)


def _small_config(datasets: int, families):
    c = claim6_config.get_config("quick")
    c.families = tuple(families)
    c.linear.datasets = datasets
    c.linear.n_train = 2000
    c.linear.steps = 400
    return c


def test_linear_fit_finds_gaussian_and_cauchy_shapes(table):
    """Large n: Gaussian noise → α near 2; Cauchy (α = 0 is exactly Barron's Cauchy) → near 0."""
    frame = claim6.linear_study(_small_config(8, ("gaussian", "cauchy")), table)
    alpha = frame.groupby("noise")["alpha"].median()
    assert abs(alpha["gaussian"] - 2.0) < 0.3
    assert alpha["cauchy"] < 0.15
    assert (np.abs(frame["table_objective"] - frame["objective_robust_nll"]) < 1e-4).all()


def _alphas(gaussian, heavy, model="linear", converged=None):
    """A hand-made learned-α table: (low, high) of the median's interval per family."""
    converged = converged or {}
    rows = [{"model": model, "noise": f, "alpha_median": (lo + hi) / 2, "alpha_median_low": lo,
             "alpha_median_high": hi, "converged_share": converged.get(f, 1.0)}
            for f, (lo, hi) in {"gaussian": gaussian, **heavy}.items()]
    return pd.DataFrame(rows)


RULE = dict(margin=0.25, min_converged_share=0.8)


def test_verdict_flips_with_the_numbers():
    heavy = ("laplace", "cauchy")
    ok = _alphas((1.9, 2.1), {"laplace": (0.6, 0.7), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(ok, heavy, **RULE)[0] == "supported"
    biased = _alphas((2.3, 2.5), {"laplace": (0.6, 0.7), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(biased, heavy, **RULE)[0] == "qualified"
    blind = _alphas((1.9, 2.1), {"laplace": (1.8, 2.2), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(blind, heavy, **RULE)[0] == "qualified"
    neither = _alphas((2.3, 2.5), {"laplace": (1.8, 2.2), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(neither, heavy, **RULE)[0] == "refuted"


def test_equivalence_margin_rewards_precision_not_low_power():
    """The old rule A ("the interval contains 2") failed the linear model's precise
    [1.973, 1.999] and passed the --quick MLP's [1.07, 3.10] (3 seeds): the wrong way round.
    With the margin stated in advance, A needs the whole interval within 2 ± 0.25."""
    heavy = ("cauchy",)
    precise = _alphas((1.973, 1.999), {"cauchy": (0.0, 0.1)})
    verdict, parts = claim6.verdict_of(precise, heavy, **RULE)
    assert verdict == "supported" and parts["linear"]["A"]
    vague = _alphas((1.07, 3.10), {"cauchy": (0.0, 0.1)}, model="mlp")
    verdict, parts = claim6.verdict_of(vague, heavy, **RULE)
    assert verdict == "qualified" and not parts["mlp"]["A"]
    # Heavy tails must pick a loss practically different from L2: below 2 − margin.
    near_l2 = _alphas((1.9, 2.1), {"cauchy": (1.8, 1.95)})
    assert not claim6.verdict_of(near_l2, heavy, **RULE)[1]["linear"]["B"]


def test_unconverged_fits_do_not_decide_a_family():
    """Cauchy fits whose final gradient norm is above the tolerance are left out; a family with
    fewer than min_converged_share of its fits converged decides nothing (its part fails)."""
    heavy = ("cauchy",)
    few = _alphas((1.9, 2.1), {"cauchy": (0.0, 0.1)}, converged={"cauchy": 0.2})
    verdict, parts = claim6.verdict_of(few, heavy, **RULE)
    assert verdict == "qualified" and not parts["linear"]["B"]
    frame = pd.DataFrame({"noise": ["cauchy"] * 4, "grad_norm": [1e-5, 2e-3, 0.5, 65.0],
                          "alpha": [0.01, 0.02, 0.9, 1.5],
                          "test_mse_adaptive": [1.0] * 4, "test_mse_squared_error": [2.0] * 4})
    table = claim6.alpha_table(frame, "linear", tolerance=1e-2)
    row = table.iloc[0]
    assert row["fits"] == 4 and row["converged"] == 2 and row["converged_share"] == 0.5
    assert row["alpha_median"] == pytest.approx(0.015)  # the two converged fits only


def test_medians_get_percentile_intervals_and_ratios_are_medians_of_pairs():
    """A median α interval stays inside the data (it went negative: t3 [−0.72, 1.61]); the
    test-error ratio is the median of the paired ratios (one dataset with an OLS MSE of 1e6
    made the old ratio of means ×3.3e-08)."""
    alphas = np.array([0.02, 0.05, 0.1, 1.6, 1.9])
    frame = pd.DataFrame({"noise": "student_t3", "alpha": alphas,
                          "test_mse_adaptive": [1.0, 1.0, 1.0, 1.0, 1.0],
                          "test_mse_squared_error": [2.0, 2.0, 2.0, 2.0, 1e6]})
    row = claim6.alpha_table(frame, "mlp").iloc[0]
    assert 0.02 <= row["alpha_median_low"] <= row["alpha_median"] <= row["alpha_median_high"]
    assert row["test_mse_ratio"] == 0.5 and row["test_mse_ratio_high"] == 0.5


def test_selection_reads_validation_only():
    curves = {"val_own_loss": np.array([[3.0, 1.0, 2.0], [np.nan, 5.0, 4.0]]),
              "test_mse": np.array([[0.0, 9.0, 9.0], [0.0, 0.0, 9.0]])}
    np.testing.assert_array_equal(claim6.select_on_validation(curves), [1, 2])


def test_ratio_text_keeps_the_digits_of_a_small_ratio():
    """Cauchy noise gives the adaptive fit ~1e-3 of squared error's test MSE: the text must show
    it (it printed ×0.00 [-0.00, 0.00] at two decimals)."""
    row = {"test_mse_ratio": 0.00123, "test_mse_ratio_low": 0.00101, "test_mse_ratio_high": 0.00145}
    assert claim6.ratio_text(row) == "×0.00123 [0.00101, 0.00145]"
    assert claim6.ratio_text({"test_mse_ratio": 1.02, "test_mse_ratio_low": 1.0,
                              "test_mse_ratio_high": 1.03}) == "×1.02 [1, 1.03]"


def _hand_made_fits(gaussian_alpha: float, seeds: int = 6, datasets: int = 40):
    """compute's tables with known answers: α near `gaussian_alpha` under Gaussian noise and near
    0 under Cauchy noise, where the adaptive fit has half squared error's test MSE."""
    rng = np.random.default_rng(0)
    linear = pd.DataFrame([
        {"noise": fam, "dataset": k, "alpha": alpha + 0.01 * rng.standard_normal(),
         "scale": 1.0, "test_mse_adaptive": 0.5 * mse, "test_mse_squared_error": mse,
         "objective": 1.0, "objective_robust_nll": 1.0, "table_objective": 1.0,
         "grad_norm": 1e-5 if k else 5.0}  # dataset 0 did not converge
        for fam, alpha, mse in (("gaussian", gaussian_alpha, 1.0), ("cauchy", 0.03, 10.0))
        for k in range(datasets)])
    mlp = pd.DataFrame([
        {"noise": fam, "seed": s, "arm": arm, "selected_step": 100, "val_own_loss": 1.0,
         "test_mse": (0.5 if arm == "adaptive" and fam == "cauchy" else 1.0) + 0.01 * s,
         "test_nll": 1.0, "alpha": alpha + 0.02 * rng.standard_normal(), "scale": 1.0}
        for fam, alpha in (("gaussian", gaussian_alpha), ("cauchy", 0.3))
        for s in range(seeds) for arm in ("squared_error", "adaptive")])
    return {"linear_fits": linear, "mlp_runs": mlp}


@pytest.mark.parametrize("gaussian_alpha, verdict", [(2.0, "supported"), (1.4, "qualified")])
def test_judge_on_hand_made_tables(tmp_path, gaussian_alpha, verdict):
    """The judge through the CSV round trip: the verdict, the unconverged fit counted and left
    out, and the takeaway changing with the verdict."""
    from experiments.claims import claim_tables

    tables = claim_tables.round_trip(_hand_made_fits(gaussian_alpha), tmp_path / "claim6")
    section = claim6.judge(tables, tmp_path, False)
    assert section.verdict == verdict and section.part == "loss"
    alphas = section.tables["learned_alpha"].set_index(["model", "noise"])
    assert alphas.loc[("linear", "cauchy"), "converged"] == 39
    assert "cauchy 1 of 40 unconverged" in section.findings
    iv = section.key_numbers[section.headline]
    assert iv.low <= gaussian_alpha + 0.01 and iv.format(".2f") in section.takeaway
    assert alphas.loc[("mlp", "cauchy"), "test_mse_ratio"] == pytest.approx(0.5, abs=0.02)
    # OLS has no finite moments under Cauchy noise: any robust loss beats it by construction.
    assert [g.choice for g in section.guide][-1] == ("any robust loss (OLS fails by "
                                                      "construction under Cauchy noise)")
    # Cauchy's α sits at the parameter bound (α → 0 only as u → −∞): no interval for it.
    assert "cauchy → 0 (at the bound" in section.findings
    assert "alpha_cauchy_linear" not in section.key_numbers
    # The all-fits numbers beside the converged ones (one Cauchy and one Gaussian fit dropped).
    assert "all 40 fits" in section.findings
    assert "selected at step 100" in section.findings
    assert (tmp_path / "claim6" / "learned_alpha.png").is_file()
    missed = "the linear model's α under Gaussian noise is not within 2 ± 0.25"
    assert (missed in section.limits) == (verdict == "qualified")


@pytest.mark.slow
def test_claims_6_and_7_quick_end_to_end(quick_report, tmp_path):
    """From the --quick report's files: each verdict re-derived from its tables by the rule
    written out here (independently of the modules' code), and the judge re-run on the saved
    compute tables (a re-render) gives the same verdict."""
    from configs.claims import claim7_l1_vs_l2_penalty as claim7_config
    from experiments.claims import claim7_l1_vs_l2_penalty as claim7
    from experiments.claims import claim_tables

    verdicts = pd.read_csv(quick_report / "verdicts.csv").set_index("claim")["verdict"]
    c6 = claim6_config.get_config("quick")
    alphas = pd.read_csv(quick_report / "claim6" / "learned_alpha.csv")
    ok = {}
    for model, part in alphas.groupby("model"):
        rows = part.set_index("noise")
        decided = ((rows["converged_share"] >= c6.min_converged_share)
                   & (rows["first_step_selections"] == 0))
        g = rows.loc["gaussian"]
        a = decided["gaussian"] and 1.75 <= g["alpha_median_low"] and g["alpha_median_high"] <= 2.25
        b = all(decided[f] and rows.loc[f, "alpha_median_high"] < 1.75
                for f in c6.heavy_tailed if f in rows.index)
        ok[model] = (a, b)
    expected6 = ("supported" if all(a and b for a, b in ok.values()) else
                 "refuted" if not any(a or b for a, b in ok.values()) else "qualified")
    assert verdicts["Claim 6"] == expected6
    c7 = claim7_config.get_config("quick")
    comparison = pd.read_csv(quick_report / "claim7" / "comparison.csv")
    parts = {}
    for model, part in comparison.groupby("model"):
        s, d = part.set_index("teacher").loc["sparse"], part.set_index("teacher").loc["dense"]
        assert 0 <= s["recall_low"] <= s["recall"] <= s["recall_high"] <= 1
        parts[model] = (s["test_mse_ratio_high"] < 1, d["test_mse_ratio_low"] > 1,
                        s["recall_low"] >= c7.recall_floor and s["f1_low"] > s["f1_keep_all"])
    check = pd.read_csv(quick_report / "claim7" / "sklearn_check.csv")
    if check["max_abs_coef_diff"].max() > c7.sklearn_tolerance or \
            not any(p[0] for p in parts.values()):
        expected7 = "refuted"
    else:
        expected7 = "supported" if all(all(p) for p in parts.values()) else "qualified"
    assert verdicts["Claim 7"] == expected7
    for module, key in ((claim6, "claim6"), (claim7, "claim7")):
        again = module.judge(claim_tables.load(quick_report / key), tmp_path, True)
        assert again.verdict == verdicts[f"Claim {key[-1]}"]


def _first_step_runs(first_alpha: float, later_alpha: float):
    """Hand-made validation curves over 4 logged steps for 3 seeds × (squared error, adaptive)
    under Gaussian and Laplace noise. Gaussian's adaptive curves all have their minimum at the
    first logged step (the fit diverges after it); Laplace's have an interior minimum."""
    runs, rows = [], {k: [] for k in ("val_own_loss", "test_mse", "test_nll", "alpha", "scale")}
    for family in ("gaussian", "laplace"):
        for seed in range(3):
            for arm in ("squared_error", "adaptive"):
                runs.append((family, seed, arm))
                early = family == "gaussian" and arm == "adaptive"
                rows["val_own_loss"].append([1.0, 2.0, 3.0, 4.0] if early else [3.0, 1.0, 2.0, 4.0])
                rows["test_mse"].append([1.0 + 0.01 * seed] * 4)
                rows["test_nll"].append([1.0] * 4)
                alpha = first_alpha if family == "gaussian" else later_alpha
                rows["alpha"].append([alpha + 0.01 * seed] * 4)
                rows["scale"].append([1.0] * 4)
    return runs, {k: np.array(v) for k, v in rows.items()}


def test_a_selection_at_the_first_logged_step_leaves_the_family_undecided():
    """The review's defect: validation picked the first logged step (the edge of the step grid)
    in 63/64 adaptive runs, so the MLP's α was read before the fit had settled. A family whose
    adaptive runs select that step decides nothing, as an unconverged linear family."""
    runs, curves = _first_step_runs(first_alpha=2.0, later_alpha=0.6)
    frame = claim6.selected_rows(curves, runs, log_every=10)
    gaussian = frame[(frame["noise"] == "gaussian") & (frame["arm"] == "adaptive")]
    assert (gaussian["selected_step"] == 10).all() and gaussian["selected_at_first_step"].all()
    laplace = frame[frame["noise"] == "laplace"]
    assert (laplace["selected_step"] == 20).all() and not laplace["selected_at_first_step"].any()
    table = claim6.alpha_table(claim6.mlp_pairs(frame), "mlp")
    rows = table.set_index("noise")
    assert rows.loc["gaussian", "first_step_selections"] == 3
    assert rows.loc["laplace", "first_step_selections"] == 0
    verdict, parts = claim6.verdict_of(table, ("laplace",), **RULE)
    assert verdict == "qualified" and not parts["mlp"]["A"] and parts["mlp"]["B"]


def _hetero(nll_diff):
    """A hand-made heteroscedastic table: the learned-variance arm's paired test-NLL difference."""
    row = lambda arm, d: {"arm": arm, "seeds": 8, **{
        f"{name}{suffix}": v for name in ("test_mse", "test_nll", "test_mse_minus_squared_error")
        for suffix, v in (("", 0.1), ("_low", 0.05), ("_high", 0.15))},
        "test_nll_minus_squared_error": d[0], "test_nll_minus_squared_error_low": d[1],
        "test_nll_minus_squared_error_high": d[2]}
    return pd.DataFrame([row("squared_error", (0.0, 0.0, 0.0)), row("gaussian_nll", nll_diff)])


@pytest.mark.parametrize("nll_diff, remedy", [((0.282, 0.098, 0.467), False),
                                               ((-0.3, -0.5, -0.1), True)])
def test_the_variance_remedy_is_said_only_when_the_paired_difference_shows_it(nll_diff, remedy):
    """The findings called modelling the variance "the remedy" while its paired test-NLL
    difference was +0.282 [0.098, 0.467] (worse). The word now follows the interval."""
    c = claim6_config.get_config("default")
    alphas = _alphas((1.9, 2.1), {"heteroscedastic": (1.0, 1.2)}).assign(
        alpha_q1=0.0, alpha_q3=0.0)
    linear = pd.DataFrame({"noise": ["gaussian"], "grad_norm": [1e-5], "table_objective": [1.0],
                           "objective_robust_nll": [1.0]})
    text = "\n".join(claim6.other_findings(c, alphas, linear, _hetero(nll_diff)))
    assert ("the remedy is modelling the variance" in text) == remedy
    if not remedy:
        assert "did NOT improve" in text
