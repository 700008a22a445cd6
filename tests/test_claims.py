"""The evidence report: claims 2 and 3 against their oracles, the report writer, --quick end to end.

Claims 2 and 3 compare the engine's trained linear models with closed forms (lstsq, ridge, the
Gaussian posterior mean) at the tolerances the report states, and the L1 / Huber fits with
scikit-learn's QuantileRegressor and HuberRegressor (reference implementations losslab did not
write; the report itself uses scipy).
"""

from __future__ import annotations

import copy
import dataclasses
import pathlib

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from configs.claims import claim2_gauss_markov as claim2_config
from configs.claims import claim3_gaussian_prior as claim3_config
from configs.claims import claim5_penalty_any_loss as claim5_config
from experiments import data as data_lib
from experiments import engine
from experiments.claims import claim2_gauss_markov as claim2
from experiments.claims import claim3_gaussian_prior as claim3
from experiments.claims import report, trained_runs
from experiments.claims.section import Section
from experiments.plan import SweepPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _monte_carlo_config(engine_config, seeds: int, noise: str, loss: str | None = None):
    """A copy of a claim-2 engine config: `seeds` datasets of one noise family, one loss."""
    config = copy.deepcopy(engine_config)
    config.sweep.dataset.noise = None
    config.sweep.loss = None
    config.dataset.noise = noise
    config.loss = loss or config.loss
    config.sweep.seed = tuple(range(seeds))
    config.chunk_size = seeds
    return config


# --- claim 2: least squares, Gauss-Markov, L1 / Huber references -------------------------------


def test_claim2_trained_mse_equals_lstsq_per_dataset():
    c = claim2_config.get_config("quick")
    (group,) = trained_runs.train(_monte_carlo_config(c.ols, 16, "laplace"))
    z = claim2.design(group.dataset.x_train)
    reference = claim2.lstsq_coefficients(z, group.targets())
    np.testing.assert_allclose(group.linear_coefficients(), reference, atol=c.identity_tolerance)
    # lstsq against the normal equations: the reference itself is a least-squares solution.
    normal = np.linalg.solve(z.T @ z, z.T @ group.targets().T).T
    np.testing.assert_allclose(reference, normal, atol=1e-10)


def test_wls_is_linear_unbiased_and_no_better_than_ols():
    """Gauss-Markov on a design: Cov(WLS) − Cov(OLS) ⪰ 0 for any weights; WLS(Zθ) = θ."""
    rng = np.random.default_rng(0)
    z = claim2.design(rng.standard_normal((60, 3)))
    theta = rng.standard_normal(4)
    for seed in range(5):
        weights = claim2.wrong_weights(60, seed)
        np.testing.assert_allclose(claim2.wls_coefficients(z, (z @ theta)[None], weights)[0],
                                   theta, atol=1e-10)
        gap = (claim2.linear_estimator_covariance(z, weights, np.ones(60))
               - claim2.linear_estimator_covariance(z, np.ones(60), np.ones(60)))
        assert np.linalg.eigvalsh(gap).min() > -1e-12
    with pytest.raises(ValueError, match="weights"):
        claim2.wls_coefficients(z, (z @ theta)[None], -np.ones(60))


def test_wls_with_true_weights_beats_ols_under_heteroscedastic_noise():
    x = data_lib.synthetic_regression(teacher="linear", n_train=200, dim=5).x_train
    z, std = claim2.design(x), claim2.heteroscedastic_std(x, 1.0)
    ols = claim2.linear_estimator_covariance(z, np.ones(200), std**2)
    wls = claim2.linear_estimator_covariance(z, 1.0 / std**2, std**2)
    assert np.linalg.eigvalsh(ols - wls).min() > -1e-12
    assert np.trace(wls) < 0.9 * np.trace(ols)


def test_claim2_l1_matches_sklearn_quantile_regressor():
    from sklearn.linear_model import QuantileRegressor

    c = claim2_config.get_config("quick")
    config = _monte_carlo_config(c.robust, 6, "laplace", loss="absolute_error")
    (group,) = trained_runs.train(config)
    z = claim2.design(group.dataset.x_train)
    x = np.asarray(group.dataset.x_train, np.float64)
    for theta, y in zip(group.linear_coefficients(), group.targets(), strict=True):
        model = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(x, y)
        sk = np.append(model.coef_, model.intercept_)
        lp = claim2.lad_coefficients(z, y)
        objective = lambda t, y=y: np.abs(y - z @ t).mean()
        # Both are exact LP optima; the engine's Adam fit reaches the same objective value.
        assert objective(lp) == pytest.approx(objective(sk), rel=1e-9)
        assert objective(theta) <= objective(sk) * (1 + 1e-5)
        np.testing.assert_allclose(theta, sk, atol=2e-2)


def test_claim2_huber_matches_sklearn_huber_regressor_at_its_scale():
    """sklearn's HuberRegressor also fits a scale σ̂; at that σ̂ its coefficients minimize the
    fixed-scale Huber loss with δ = ε·σ̂, which is what the engine and scipy fit."""
    from sklearn.linear_model import HuberRegressor

    c = claim2_config.get_config()
    config = _monte_carlo_config(c.robust, 4, "contaminated", loss="huber")
    plan = SweepPlan.resolve(config)
    group = plan.groups[0]
    assert plan.chunk_size == len(group.runs)
    dataset = plan.dataset(group)
    program = engine.compile_group(plan, group)
    data = program.data
    targets = trained_runs.TrainedGroup(group.config, dataset, data, group.runs, group.hyper,
                                        None, {}, group.losses, group.noises).targets()
    x = np.asarray(dataset.x_train, np.float64)
    epsilon = 1.345
    fits = [HuberRegressor(epsilon=epsilon, alpha=0.0, tol=1e-12, max_iter=10_000).fit(x, y)
            for y in targets]
    hyper = dict(group.hyper)
    hyper["loss_knobs.delta"] = np.asarray([epsilon * f.scale_ for f in fits], np.float32)
    [(params, _)] = program([hyper])
    trained = trained_runs.TrainedGroup(group.config, dataset, data, group.runs, hyper,
                                        params, {}, group.losses, group.noises)
    z = claim2.design(x)
    for theta, fit, y, delta in zip(trained.linear_coefficients(), fits, targets,
                                    hyper["loss_knobs.delta"], strict=True):
        sk = np.append(fit.coef_, fit.intercept_)
        np.testing.assert_allclose(claim2.huber_coefficients(z, y, float(delta)), sk, atol=1e-4)
        np.testing.assert_allclose(theta, sk, atol=1e-4)


# --- claim 3: ridge = posterior mean = trained, and the optimizer subtlety --------------------


def test_claim3_trained_equals_ridge_and_posterior_mean():
    c = claim3_config.get_config("quick")
    config = copy.deepcopy(c.map)
    config.sweep.seed = (0,)
    (group,) = trained_runs.train(config)
    table = claim3.map_table(group, c.prior_stds, float(config.dataset.noise_scale))
    assert len(table) == len(c.prior_stds) + 1
    n = config.dataset.n_train
    expected = sorted([0.0] + [2 * 1.0**2 / (n * t**2) for t in c.prior_stds])
    np.testing.assert_allclose(sorted(table["penalty_strength"]), expected, rtol=1e-6)
    for column in ("trained_vs_ridge", "trained_vs_posterior", "ridge_vs_posterior"):
        assert table[column].max() <= c.tolerance, column
    # The prior actually bites: the weight norm shrinks monotonically with λ.
    norms = table.sort_values("penalty_strength")["weight_norm"].to_numpy()
    assert np.all(np.diff(norms) < 0)


def test_posterior_mean_and_ridge_closed_forms():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 4)) + 0.5
    y = x @ rng.standard_normal(4) + 2.0 + 0.3 * rng.standard_normal(30)
    for tau in (0.05, 0.5, 5.0):
        lam = claim3.penalty_strength(0.3, tau, 30)
        np.testing.assert_allclose(claim3.posterior_mean(x, y, 0.3, tau),
                                   claim3.ridge_coefficients(x, y, lam), atol=1e-10)
    z = np.hstack([x, np.ones((30, 1))])
    np.testing.assert_allclose(claim3.posterior_mean(x, y, 0.3, np.inf),
                               np.linalg.lstsq(z, y, rcond=None)[0], atol=1e-10)
    np.testing.assert_allclose(claim3.ridge_coefficients(x, y, 0.0),
                               np.linalg.lstsq(z, y, rcond=None)[0], atol=1e-10)
    with pytest.raises(ValueError, match="prior_std"):
        claim3.penalty_strength(1.0, 0.0, 10)


def test_claim3_sgd_coupled_l2_equals_decoupled_decay():
    c = claim3_config.get_config("quick")
    config = copy.deepcopy(c.sgd_pair)
    config.steps = 40
    config.sweep.penalty_strength = (1e-2, 1e-1)
    table = claim3.sgd_table(trained_runs.train(config))
    assert len(table) == 2
    assert table["max_abs_param_diff"].max() <= 1e-6 * table["max_abs_param"].max()
    assert table["max_rel_objective_diff"].max() <= 1e-6


@pytest.mark.parametrize("module", [claim2_config, claim3_config, claim5_config])
def test_claim_configs_reject_unknown_size(module):
    with pytest.raises(ValueError, match="size"):
        module.get_config("huge")


# --- the report writer ------------------------------------------------------------------------


def _fake_section(tmp_path: pathlib.Path, key: str, verdict: str) -> Section:
    (tmp_path / key).mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = tmp_path / key / "line.png"
    fig.savefig(path)
    plt.close(fig)
    return Section(
        key=key, title=f"title {key}", claim="L2 is *the* default.", setup="Ran `x`.",
        rule="**supported** if a", verdict=verdict,
        findings="- **one** [link](#claim2)\n- two with | pipe",
        tables={"numbers": pd.DataFrame({"a": [1.0, np.nan], "b": [True, False]}),
                "long": pd.DataFrame({"i": range(report.MAX_SHOWN_ROWS + 5)})},
        plots={"line": path},
        summary=f"{key} in **numbers**",
    )


def test_report_writes_markdown_html_and_csvs(tmp_path):
    sections = [_fake_section(tmp_path, "claim2", "supported"),
                _fake_section(tmp_path, "claim3", "qualified")]
    paths = report.write(sections, tmp_path, quick=True, wall_times={"claim2": 1.0},
                         not_run={"claim1": "module missing"})
    md = paths["markdown"].read_text()
    page = paths["html"].read_text()
    for s in sections:
        for name in s.tables:
            assert (tmp_path / s.key / f"{name}.csv").is_file()
            assert f"{s.key}/{name}.csv" in md
        assert f'<a id="{s.key}"></a>' in md and f'id="{s.key}"' in page
        assert f"**Verdict: {s.verdict}**" in md
    assert page.count("data:image/png;base64,") == 2
    assert "<em>the</em>" in page and "<code>x</code>" in page and "<strong>one</strong>" in page
    assert f"first {report.MAX_SHOWN_ROWS} of {report.MAX_SHOWN_ROWS + 5} rows" in md
    verdicts = pd.read_csv(paths["verdicts"])
    assert list(verdicts["claim"]) == ["Claim 1", "Claim 2", "Claim 3"]
    assert list(verdicts["verdict"]) == ["not run (module missing)", "supported", "qualified"]
    assert "## So why L2?" in md and "[Claim 2](#claim2)" in md
    assert "1 holds, 1 holds only in part, 0 do not hold; claim 1 did not run." in md
    assert "| claim2 in **numbers** |" in md and "claim3 in <strong>numbers</strong>" in page


def test_report_rejects_missing_plot(tmp_path):
    section = _fake_section(tmp_path, "claim2", "supported")
    section.plots["ghost"] = tmp_path / "nope.png"
    with pytest.raises(ValueError, match="ghost"):
        report.write([section], tmp_path)


def test_section_rejects_verdict_outside_the_three():
    with pytest.raises(ValueError, match="verdict"):
        Section(key="claim9", title="t", claim="c", setup="s", rule="r", verdict="maybe",
                findings="f")


def test_entry_point_selects_claims_and_skips_missing_modules(monkeypatch):
    from experiments.claims import __main__ as entry

    assert entry.select([]) == list(entry.CLAIMS)
    assert entry.select(["claim5", "claim2"]) == ["claim2", "claim5"]
    with pytest.raises(ValueError, match="claim99"):
        entry.select(["claim99"])
    monkeypatch.setitem(entry.CLAIMS, "claim1", "experiments.claims.no_such_claim_module")
    assert entry.load_claim("claim1") is None


def test_report_xla_level_auto_depends_on_size():
    from experiments.claims import __main__ as entry

    assert entry.optimization_level("auto", quick=True) == 1
    assert entry.optimization_level("auto", quick=False) == 2
    assert entry.optimization_level("3", quick=True) == 3


def test_claims_side_by_side_share_the_cores_as_cpu_devices(monkeypatch):
    """Two workers on 2 cores: one CPU device each (XLA's default, no count flag); one claim at a
    time: one device per core, as a sweep; a count XLA_FLAGS already sets is kept."""
    from experiments.claims import __main__ as entry

    count = "--xla_force_host_platform_device_count"
    monkeypatch.setattr(entry.os, "cpu_count", lambda: 2)
    for workers, already, expected in ((2, "", []), (1, "", [f"{count}=2"]),
                                       (2, f"{count}=4", [f"{count}=4"])):
        monkeypatch.setenv("XLA_FLAGS", already)
        entry.configure_xla(2, workers)
        assert [f for f in entry.os.environ["XLA_FLAGS"].split() if count in f] == expected


# --- end to end ---------------------------------------------------------------------------------


def test_linear_unbiased_family_is_unbiased_and_never_below_ols():
    """Gauss-Markov on the whole family A = (ZᵀZ)⁻¹Zᵀ + D(I − H): A·Z = I, Cov(A·y) ⪰ Cov(OLS),
    and the gap is exactly σ²·tr(D(I−H)Dᵀ) (zero only for D(I−H) = 0)."""
    rng = np.random.default_rng(1)
    z = claim2.design(rng.standard_normal((50, 3)))
    family = claim2.linear_unbiased_family(z, 10, seed=0)
    gaps = claim2.variance_gaps(z, family, noise_var=2.0)
    assert gaps["unbiased_error"].max() < 1e-10
    assert gaps["trace_gap"].min() > 0 and gaps["min_eigenvalue_gap"].min() > -1e-12
    ols = np.linalg.solve(z.T @ z, z.T)
    d_part = family[0] - ols
    assert gaps["trace_gap"].iloc[0] == pytest.approx(2.0 * np.trace(d_part @ d_part.T))
    # OLS itself is in the family's closure: gap 0.
    assert claim2.variance_gaps(z, [ols], 2.0)["trace_gap"].iloc[0] == pytest.approx(0, abs=1e-12)


def test_variance_ratio_interval_covers_the_exact_ratio():
    rng = np.random.default_rng(2)
    z = claim2.design(rng.standard_normal((40, 2)))
    weights = claim2.wrong_weights(40, 0)
    exact = (np.trace(claim2.linear_estimator_covariance(z, weights, np.ones(40)))
             / np.trace(claim2.linear_estimator_covariance(z, np.ones(40), np.ones(40))))
    covered = []
    for _ in range(40):  # 40 Monte Carlo studies of 300 datasets each
        y = rng.standard_normal((300, 40))
        iv = claim2.variance_ratio(claim2.wls_coefficients(z, y, weights),
                                   claim2.lstsq_coefficients(z, y), resamples=500)
        covered.append(iv.contains(exact))
        assert iv.low > 1
    assert np.mean(covered) >= 0.85  # 95% nominal; P(< 34 of 40) ≈ 0.4% at 95%


def test_claim3b_selection_never_reads_the_test_split(monkeypatch):
    """Permuting the test targets changes the test numbers but no selected (lr, λ)."""
    c = claim3_config.get_config("quick")
    config = copy.deepcopy(c.adam_pair)
    config.steps = 60
    config.log_every = 20
    config.sweep.learning_rate = (1e-3, 1e-2)
    config.sweep.penalty_strength = (0.0, 1e-1)
    config.sweep.seed = (0, 1)

    def selection():
        runs = claim3.adam_runs(trained_runs.train(config, on_validation=True))
        return claim3.select_on_validation(runs), runs

    selected, runs = selection()
    load = data_lib.load

    def permuted(dataset_config):
        dataset = load(dataset_config)
        order = np.random.default_rng(0).permutation(dataset.x_test.shape[0])
        return dataclasses.replace(dataset, y_test=dataset.y_test[order],
                                   f_test=dataset.f_test[order])

    monkeypatch.setattr(data_lib, "load", permuted)
    selected_permuted, runs_permuted = selection()
    assert selected_permuted == selected
    np.testing.assert_array_equal(runs_permuted["final_val_loss"], runs["final_val_loss"])
    assert not np.allclose(runs_permuted["test_mse"], runs["test_mse"])  # the permutation bites


def test_prescription_lambda_star_minimizes_expected_test_mse_and_eb_recovers_tau():
    c = claim3_config.get_config("quick")
    dataset = data_lib.load(c.map.dataset)
    study = claim3.prescription_study(dataset.x_train, dataset.x_test, 1.0, c.prescription)
    assert study["argmin"].contains(study["lam_star"])
    assert (study["curve"]["minus_at_lambda_star_high"] >= 0).all()
    assert 0.9 <= study["coverage"].estimate <= 1.0
    assert abs(np.log(study["tau_hat_median"] / 0.3)) < 0.15


def test_ridge_path_matches_the_closed_form_per_lambda():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 4))
    y = rng.standard_normal((3, 30))
    lams = np.array([0.0, 0.1, 2.0])
    path = claim3.ridge_path(x, y, lams)
    for i, lam in enumerate(lams):
        for k in range(3):
            np.testing.assert_allclose(path[i, k], claim3.ridge_coefficients(x, y[k], lam),
                                       atol=1e-10)
