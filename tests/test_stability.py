"""Stability diagnostics against closed forms: Hessian spectra, the 2/h threshold, L1 vs L2."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from configs import tiny
from experiments import data as data_lib
from experiments import engine, grid, oracles, stability


def _linear_config(**overrides):
    config = tiny.get_config()
    config.tensorboard = config.plots = config.progress = False
    config.dataset.noise = "gaussian"
    config.dataset.n_train = 64
    config.dataset.dim = 4
    config.model.name = "linear"
    config.loss = "squared_error"
    config.optimizer = "sgd"
    config.batch_size = 0
    config.steps = 200
    config.log_every = 10
    config.sweep.loss = None
    config.sweep.penalty_strength = None
    config.sweep.seed = None
    config.update_from_flattened_dict({p.replace("__", "."): v for p, v in overrides.items()})
    return config


def _design(config):
    dataset = data_lib.load(config.dataset)
    x = np.asarray(dataset.x_train, np.float64)
    return dataset, np.hstack([x, np.ones((len(x), 1))])


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_power_iteration_matches_eigvalsh_for_least_squares(lam, tmp_path):
    """mean((Zθ − y)²) + λ·½‖θ‖² has Hessian 2·ZᵀZ/n + λI (losslab's squared error has no ½)."""
    config = _linear_config(penalty_strength=lam, penalty_mask="all")
    dataset, z = _design(config)
    expected = 2.0 * np.linalg.eigvalsh(z.T @ z / len(z))[-1] + lam

    x, y = jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train)

    def objective(theta):
        r = x @ theta[:-1] + theta[-1] - y
        return jnp.mean(r**2) + lam * 0.5 * jnp.sum(theta**2)

    v0 = jax.random.normal(jax.random.key(0), (z.shape[1],))
    value, _ = jax.jit(lambda t: stability.top_hessian_eigenvalue(objective, t, v0, 200))(
        jnp.zeros(z.shape[1])
    )
    np.testing.assert_allclose(value, expected, rtol=1e-4)

    # The same number from inside a training run (the engine's own objective and params).
    config.sharpness_every = 50
    config.sharpness_iters = 200
    config.sharpness_batch = config.dataset.n_train
    config.learning_rate = 0.05
    result = engine.run_sweep(config, tmp_path)
    sharp = result.curves["sharpness"].dropna().to_numpy()
    assert len(sharp) == 5  # steps 0, 50, 100, 150, 200
    np.testing.assert_allclose(sharp, expected, rtol=1e-4)  # constant: the loss is quadratic
    np.testing.assert_allclose(result.runs["sharpness_max"], expected, rtol=1e-4)


def test_gradient_descent_diverges_exactly_above_two_over_h(tmp_path):
    config = _linear_config(penalty_mask="all")
    _, z = _design(config)
    h = 2.0 * np.linalg.eigvalsh(z.T @ z / len(z))[-1]
    factors = (0.5, 0.9, 0.97, 1.03, 1.1, 1.5)
    config.sweep.learning_rate = tuple(float(f * 2.0 / h) for f in factors)
    config.sharpness_every = 100
    config.sharpness_iters = 100
    config.sharpness_batch = config.dataset.n_train
    config.steps = 1000
    config.log_every = 50
    runs = engine.run_sweep(config, tmp_path).runs.sort_values("learning_rate")
    diverged = runs["diverged"].astype(bool).to_numpy()
    np.testing.assert_array_equal(diverged, [f > 1 for f in factors])
    assert (runs.loc[runs["diverged"].astype(bool), "diverge_step"] > 0).all()
    assert (runs.loc[~runs["diverged"].astype(bool), "diverge_step"] == -1).all()
    # lr·h/2 is the stability ratio; it crosses 1 exactly where divergence starts.
    np.testing.assert_allclose(runs["stability_ratio"], factors, rtol=1e-3)
    assert np.isfinite(runs["final_loss"]).all()  # frozen, not NaN


def test_absolute_error_gradient_does_not_vanish_at_the_optimum(tmp_path):
    """1-D inputs, least squares vs least absolute deviations, both with known optima."""
    config = _linear_config(dataset__dim=1, dataset__n_train=15, dataset__noise="laplace")
    config.learning_rate = 0.02
    config.steps = 4000
    config.log_every = 100
    config.sweep.loss = ("squared_error", "absolute_error")
    runs = engine.run_sweep(config, tmp_path).runs.set_index("loss")
    l2, l1 = runs.loc["squared_error"], runs.loc["absolute_error"]
    assert l2["param_error_to_oracle"] < 1e-4  # at the least-squares solution...
    assert l2["grad_norm_ratio"] < 1e-4  # ...where its gradient vanishes
    assert l1["param_error_to_oracle"] < 0.05  # near the LAD (linear-program) solution...
    # ...where the L1 gradient, a mean of ±x_i and ±1 terms, stays of order 1/n.
    assert l1["grad_norm_ratio"] > 0.02
    assert l1["grad_norm_final"] > 0.5 / config.dataset.n_train


def test_a_diverging_member_does_not_change_the_others(tmp_path):
    config = _linear_config()
    config.chunk_size = 2
    config.sweep.learning_rate = (0.05, 1e3)
    together = engine.run_sweep(config, tmp_path / "together")
    config.sweep.learning_rate = (0.05, 0.04)  # the same program shape, no diverging member
    alone = engine.run_sweep(config, tmp_path / "alone")
    assert together.runs["diverged"].astype(bool).tolist() == [False, True]
    assert not alone.runs["diverged"].astype(bool).any()
    stable = together.curves[together.curves["run_id"] == 0].reset_index(drop=True)
    reference = alone.curves[alone.curves["run_id"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(stable, reference, check_exact=True)
    row = together.runs.drop(columns=["run_id", "run_name", "learning_rate"]).iloc[0]
    ref = alone.runs.drop(columns=["run_id", "run_name", "learning_rate"]).iloc[0]
    pd.testing.assert_series_equal(row, ref, check_names=False, check_exact=True)


def _np_spikes(values, tolerance, decay):
    ema, count = values[0], 0
    for v in values[1:]:
        count += v > (1 + tolerance) * ema
        ema = decay * ema + (1 - decay) * v
    return count


def test_curve_summaries_against_numpy():
    rng = np.random.default_rng(0)
    curve = np.exp(-np.linspace(0, 3, 41)) * (1 + 0.2 * rng.standard_normal(41)) + 0.05
    curve = curve.astype(np.float32)
    c = jnp.asarray(curve)
    half = curve[20:]
    np.testing.assert_allclose(stability.frac_increase(c), np.mean(np.diff(half) > 0))
    tail = curve[-5:]  # ceil(0.1·41) = 5
    np.testing.assert_allclose(stability.tail_rel_std(c), tail.std() / tail.mean(), rtol=1e-5)
    logs = np.log(curve)
    np.testing.assert_allclose(
        stability.tv_ratio(c), np.abs(np.diff(logs)).sum() / abs(logs[-1] - logs[0]), rtol=1e-4
    )
    assert stability.tv_ratio(jnp.linspace(2.0, 1.0, 10)) == pytest.approx(1.0, rel=1e-5)
    assert stability.n_spikes(c, 0.1, 0.9) == _np_spikes(curve, 0.1, 0.9)
    steps = jnp.arange(41) * 10
    assert int(stability.steps_to_target(c, steps, 0.5, 0.05)) == 10 * np.argmax(curve <= 0.5)
    assert int(stability.steps_to_target(c, steps, 1e-9, 0.05)) == -1
    expected = 10 * np.argmax(curve <= 1.05 * curve[-1])
    assert int(stability.steps_to_target(c, steps, -1.0, 0.05)) == expected


def test_group_table_max_stable_lr_and_sensitivity():
    rows = []
    for lr, diverged_seeds, final in ((0.1, 0, 1.0), (0.3, 0, 0.5), (1.0, 1, 5.0), (3.0, 2, 9.0)):
        for seed in range(2):
            rows.append(dict(loss="huber", penalty_strength=0.0, learning_rate=lr, seed=seed,
                             diverged=seed < diverged_seeds, final_loss=final, initial_loss=2.0,
                             final_test_mse=final + seed, frac_increase=0.1 * seed))
    runs = pd.DataFrame(rows)
    table = stability.group_table(runs, by=["loss", "penalty_strength"])
    (row,) = table.to_dict("records")
    assert row["max_stable_lr"] == 0.3 and row["best_lr"] == 0.3
    assert row["divergence_rate"] == pytest.approx(3 / 8)
    assert row["test_mean"] == pytest.approx(1.0) and row["test_std"] == pytest.approx(np.sqrt(0.5))
    # min(ℓ(lr), ℓ_0) = 1, 0.5, 2, 2 -> minus the best 0.5 -> mean 0.875
    assert row["lr_sensitivity"] == pytest.approx(0.875)
    assert row["mean_frac_increase"] == pytest.approx(0.05)
    # Default keys: lr is swept, so each row holds exactly the seeds of one lr; the lr-grid
    # columns are the same on every row of the grid.
    per_lr = stability.group_table(runs).set_index("learning_rate")
    assert list(per_lr.index) == [0.1, 0.3, 1.0, 3.0] and (per_lr["runs"] == 2).all()
    assert (per_lr["max_stable_lr"] == 0.3).all() and (per_lr["best_lr"] == 0.3).all()
    assert per_lr["lr_sensitivity"].tolist() == pytest.approx([0.875] * 4)
    assert per_lr.loc[1.0, "divergence_rate"] == 0.5 and per_lr.loc[1.0, "test_mean"] == 5.5


def test_sweep_grid_groups_used_by_group_table():
    config = tiny.get_config()
    keys = stability.default_group_keys(
        pd.DataFrame({"loss": ["a", "b"], "penalty_strength": [0, 1], "seed": [0, 1],
                      "learning_rate": [1, 2], "dataset.noise": ["g", "t"], "final_loss": [1, 2]})
    )
    assert keys == ["loss", "penalty_strength", "learning_rate", "dataset.noise"]
    assert grid.expand(config)  # the tiny config itself expands
    assert oracles.oracle_kind(_linear_config()) == "ridge"
