"""Claim 7 (L1 vs L2 penalty): the linear fits against scikit-learn's Lasso and Ridge at the
mapped λ, the lasso's optimality by jax.grad of the library's objective, the dense teacher
flipping the winner, the verdict rule on known inputs, and the "So why L2?" sentence generated
from the section's numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import losses
from configs.claims import claim7_l1_vs_l2_penalty as claim7_config
from experiments.claims import claim7_l1_vs_l2_penalty as claim7
from experiments.claims import report


def _small(**overrides):
    c = claim7_config.get_config("quick")
    c.linear.datasets = 40
    c.linear.lambdas = 8
    c.resamples = 300
    c.sklearn_datasets = 3
    c.mlp.seeds, c.mlp.lambdas, c.mlp.steps = 2, 3, 60
    for k, v in overrides.items():
        setattr(c, k, v)
    return c


@pytest.fixture(scope="module")
def linear():
    return claim7.linear_study(_small())


def _design_problem(seed=0):
    design = claim7.linear_design(_small())
    x = design.x_train.astype(np.float64)
    w = claim7.linear_teacher(seed, x.shape[1], 4)
    y = claim7.noisy([seed], (x @ w)[None], 1.0)[0]
    return x, y


@pytest.mark.parametrize("lam", [0.05, 0.3])
def test_fista_and_closed_form_match_sklearn_at_the_mapped_lambda(lam):
    """losslab's mean r² + λ‖w‖₁ is 2 × sklearn's Lasso objective at α = λ/2; mean r² + λ·½‖w‖²
    is 1/n × Ridge's at α = nλ/2. The wrong mapping (α = λ) is far off, so the check can fail."""
    x, y = _design_problem()
    n = len(y)
    gram = x.T @ x / n
    b = x.T @ y / n
    step = 1.0 / (2.0 * np.linalg.eigvalsh(gram)[-1])
    w_l1 = np.asarray(claim7.lasso_fista(jnp.asarray(gram, jnp.float32),
                                         jnp.asarray(b, jnp.float32), lam, step, 400))
    w_l2 = np.linalg.solve(gram + lam / 2 * np.eye(len(b)), b)
    lasso, ridge = claim7.sklearn_fits(x, y, lam, lam)
    assert np.abs(w_l1 - lasso).max() < 1e-3
    assert np.array_equal(w_l1 == 0, lasso == 0) and (w_l1 == 0).sum() > 5  # sparse, same zeros
    assert np.abs(w_l2 - ridge).max() < 1e-3
    wrong_lasso, wrong_ridge = claim7.sklearn_fits(x, y, 2 * lam, 2 * lam / n)  # α = λ, α = λ
    assert np.abs(w_l1 - wrong_lasso).max() > 1e-2
    assert np.abs(w_l2 - wrong_ridge).max() > 1e-2


def test_lasso_solution_satisfies_kkt_of_the_library_objective():
    x, y = _design_problem(3)
    n, lam = len(y), 0.2
    gram, b = x.T @ x / n, x.T @ y / n
    step = 1.0 / (2.0 * np.linalg.eigvalsh(gram)[-1])
    w = claim7.lasso_fista(jnp.asarray(gram, jnp.float32), jnp.asarray(b, jnp.float32), lam,
                           step, 400)
    loss = claim7.data_loss(jnp.asarray(x, jnp.float32), jnp.asarray(y))
    kkt = jax.jit(lambda v: claim7.lasso_kkt_violation(v, jax.grad(loss)(v), lam))
    assert float(kkt(w)) < 1e-5
    objective = jax.jit(jax.vmap(lambda v: loss(v) + lam * losses.l1_penalty(v)))
    nearby = w + 1e-3 * np.random.default_rng(0).standard_normal((20, *w.shape))
    assert float(objective(w[None])[0]) <= float(objective(nearby).min()) + 1e-7  # none better
    assert float(kkt(nearby[0])) > 1e-3  # a perturbed point violates the conditions


def test_in_program_fits_match_sklearn(linear):
    frame, arrays, design = linear
    check = claim7.sklearn_check(frame, arrays, design, 3)
    assert len(check) == 12
    assert check["max_abs_coef_diff"].max() < 1e-3
    assert (check.loc[check["arm"] == "l1", "zeros_losslab"]
            == check.loc[check["arm"] == "l1", "zeros_sklearn"]).all()
    assert frame[["l1_optimality", "l2_optimality"]].to_numpy().max() < 1e-4


def test_dense_teacher_flips_the_winner(linear):
    frame, _, _ = linear
    table = claim7.comparison_table(claim7.linear_long(frame), "linear", 300).set_index("teacher")
    assert table.loc["sparse", "test_mse_ratio_high"] < 1.0  # L1 wins on the sparse truth
    assert table.loc["dense", "test_mse_ratio_low"] > 1.0  # L2 wins on the dense one
    assert table.loc["sparse", "recall_l1"] > 0.9
    assert table.loc["sparse", "precision_l2"] == pytest.approx(4 / 40)  # ridge keeps all


def _table(**cells):
    base = {"test_mse_ratio": 0.5, "test_mse_ratio_low": 0.4, "test_mse_ratio_high": 0.6,
            "recall_l1": 1.0, "recall_l1_low": 0.95, "f1_l1_minus_l2_low": 0.2}
    dense = dict(base, test_mse_ratio=1.2, test_mse_ratio_low=1.1, test_mse_ratio_high=1.3)
    rows = []
    for model in claim7.MODELS:
        for teacher, values in (("sparse", base), ("dense", dense)):
            rows.append({"model": model, "teacher": teacher, **values,
                         **cells.get(f"{model}_{teacher}", {})})
    return pd.DataFrame(rows)


def test_verdict_rule_follows_its_inputs():
    assert claim7.verdict_of(_table(), 0.9)[0] == "supported"
    # The dense teacher flips: L1 wins there too -> only part of the claim holds.
    flipped = _table(mlp_dense={"test_mse_ratio_low": 0.8})
    verdict, parts = claim7.verdict_of(flipped, 0.9)
    assert verdict == "qualified" and not parts["mlp"]["B"] and parts["linear"]["B"]
    assert claim7.verdict_of(_table(linear_sparse={"recall_l1_low": 0.5}), 0.9)[0] == "qualified"
    no_gain = {"test_mse_ratio_high": 1.05}
    assert claim7.verdict_of(_table(linear_sparse=no_gain, mlp_sparse=no_gain), 0.9)[0] == \
        "refuted"
    assert claim7.verdict_of(_table(), 0.9, checks_pass=False)[0] == "refuted"


def test_config_rejects_unknown_size():
    with pytest.raises(ValueError, match="'huge'"):
        claim7_config.get_config("huge")


def test_section_feeds_the_sparse_truths_answer(tmp_path):
    section = claim7.run(tmp_path, True, _small())
    assert section.verdict in ("supported", "qualified", "refuted")
    assert (tmp_path / "claim7" / "l1_vs_l2.png").is_file()
    iv = section.key_numbers["test_MSE_L1/L2_sparse_linear"]
    assert iv.low <= iv.estimate <= iv.high < 1.0
    text = "\n".join(report.answer([section]))
    line = next(s for s in text.splitlines() if "[Claim 7](#claim7)" in s)
    assert f"[Claim 7](#claim7) **{report.VERDICT_PHRASE[section.verdict]}**" in line
    assert iv.format(".3g") in line and section.limits.rstrip(".") in line
    bad = _small()
    bad.linear.sparse_k = 40
    with pytest.raises(ValueError, match=r"linear\.sparse_k"):
        claim7.run(tmp_path, True, bad)
