"""Hessian spectrum diagnostics (experiments.spectrum) against closed forms on linear models."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from experiments import density_table, engine, plots, result_files, spectrum
from experiments.plan import SweepPlan
from tests.test_stability import _design, _linear_config


def _least_squares(x, y, lam):
    """mean((Zθ − y)²) + λ·½‖θ‖², Hessian 2·ZᵀZ/n + λI (Z = [x, 1])."""

    def objective(theta):
        r = x @ theta[:-1] + theta[-1] - y
        return jnp.mean(r**2) + lam * 0.5 * jnp.sum(theta**2)

    return objective


def _hessian(z, lam):
    return 2.0 * z.T @ z / len(z) + lam * np.eye(z.shape[1])


@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_lanczos_top_five_match_eigvalsh(lam):
    """float32 throughout, full reorthogonalization; the default 20 steps, capped at dim(θ) = 13
    (with fewer steps the clustered spectrum of an isotropic design converges slowly: at 12
    steps the 5th Ritz value is 0.2% low)."""
    config = _linear_config(dataset__dim=12, dataset__n_train=256)
    dataset, z = _design(config)
    f = _least_squares(jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train), lam)
    v0 = jax.random.normal(jax.random.key(0), (z.shape[1],))
    top = jax.jit(lambda t: spectrum.top_eigenvalues(f, t, v0, 5, 20))(jnp.zeros(z.shape[1]))
    expected = np.linalg.eigvalsh(_hessian(z, lam))[::-1][:5]
    assert top.dtype == jnp.float32
    np.testing.assert_allclose(top, expected, rtol=1e-4)


def test_lanczos_survives_an_exhausted_krylov_space():
    """H = diag(3, 3, 1, 1): two distinct eigenvalues, so the Krylov space of any v0 has
    dimension 2; steps past it must add zeros, not noise."""
    f = lambda t: 0.5 * jnp.sum(jnp.array([3.0, 3.0, 1.0, 1.0]) * t**2)
    top = spectrum.top_eigenvalues(f, jnp.zeros(4), jnp.ones(4), 3, 4)
    np.testing.assert_allclose(top, [3.0, 1.0, 0.0], atol=1e-5)


def test_hutchinson_trace_and_its_variance():
    """Within 2% of tr(H) at the default probe count; the spread over keys matches
    Var = 2·Σ_{i≠j} H_ij² / N for Rademacher probes."""
    config = _linear_config(dataset__dim=8, dataset__n_train=256)
    dataset, z = _design(config)
    f = _least_squares(jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train), 0.0)
    h = _hessian(z, 0.0)
    probes = int(config.hutchinson_probes)
    estimate = jax.jit(
        jax.vmap(lambda key: spectrum.hutchinson_trace(f, jnp.zeros(z.shape[1]), key, probes))
    )
    values = np.asarray(estimate(jax.random.split(jax.random.key(0), 400)))
    assert abs(values[0] / np.trace(h) - 1) < 0.02
    np.testing.assert_allclose(values.mean(), np.trace(h), rtol=2e-3)
    off = h - np.diag(np.diag(h))
    np.testing.assert_allclose(values.std(), np.sqrt(2 * np.sum(off**2) / probes), rtol=0.15)


def test_preconditioned_sharpness_closed_form():
    """Quadratic ½θᵀAθ with P = diag(p): the top eigenvalue of P^{-1/2} A P^{-1/2}."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(6, 6))
    a = (m @ m.T).astype(np.float32)
    p = rng.uniform(0.1, 2.0, size=6).astype(np.float32)
    f = lambda t: 0.5 * t @ jnp.asarray(a) @ t
    value = spectrum.preconditioned_top_eigenvalue(
        f, jnp.zeros(6), jnp.asarray(p), jnp.ones(6), 6
    )
    s = np.diag(p**-0.5)
    np.testing.assert_allclose(value, np.linalg.eigvalsh(s @ a @ s)[-1], rtol=1e-4)


def test_adam_threshold_and_preconditioner():
    assert spectrum.adam_threshold(0.01, 0.9) == pytest.approx(3800.0)
    assert spectrum.adam_threshold(0.5, 0.0) == pytest.approx(4.0)  # RMSProp-like: 2·2/lr
    import optax

    tx = optax.scale_by_adam(b1=0.9, b2=0.99, eps=1e-3)
    state = tx.init(jnp.zeros(3))
    assert np.isnan(spectrum.adam_preconditioner(state, 0.99, 1e-3)).all()
    g = jnp.array([1.0, -2.0, 0.5])
    _, state = tx.update(g, state)
    np.testing.assert_allclose(
        spectrum.adam_preconditioner(state, 0.99, 1e-3), np.abs(g) + 1e-3, rtol=1e-5
    )


def test_spectrum_inside_a_sweep(tmp_path):
    """The engine's own objective: top-5 and trace on the evaluation batch at each measurement,
    constant for a quadratic; the density table (next test)."""
    config = _linear_config(
        dataset__dim=8, dataset__n_train=256, penalty_strength=0.3, penalty_mask="all"
    )
    config.spectrum_every = 50
    config.spectrum_density = True
    config.sharpness_batch = 256
    config.learning_rate = 0.05
    _, z = _design(config)
    h = _hessian(z, 0.3)
    result = engine.run_sweep(config, tmp_path)
    curves = result.curves.dropna(subset=["hessian_eig_1"])
    assert list(curves["step"]) == [0, 50, 100, 150, 200]
    top = curves[[f"hessian_eig_{i}" for i in range(1, 6)]].to_numpy()
    np.testing.assert_allclose(top, np.tile(np.linalg.eigvalsh(h)[::-1][:5], (5, 1)), rtol=1e-4)
    np.testing.assert_allclose(curves["hessian_trace"], np.trace(h), rtol=0.02)
    assert "preconditioned_sharpness" not in result.curves  # SGD: no preconditioner
    assert result.runs["hessian_eig_1_max"].iloc[0] == pytest.approx(top[0, 0], rel=1e-6)
    noise = curves["gradient_noise_scale"].to_numpy()
    assert (np.isfinite(noise) & (noise > 0)).all()
    assert result.runs["gradient_noise_scale_final"].iloc[0] == pytest.approx(noise[-1])
    _check_density_table(result, np.linalg.eigvalsh(h), config, [0, 50, 100, 150, 200])


def _check_density_table(result, eigenvalues, config, steps):
    """spectrum_density.csv: per measurement a grid whose density integrates to 1 and covers
    the closed-form Hessian's extreme eigenvalues (constant: a quadratic); verified by its
    chunk's manifest; a plot per group."""
    workdir = result.workdir
    table = pd.read_csv(result.paths["spectrum_density"])
    assert list(table.columns) == ["run_id", "step", "eigenvalue", "density"]
    measured = table.groupby(["run_id", "step"], sort=True)
    assert list(measured.groups) == [(0, s) for s in steps]
    for _, rows in measured:
        assert len(rows) == config.density_grid
        grid, density = rows["eigenvalue"].to_numpy(), rows["density"].to_numpy()
        assert _trapezoid(density, grid) == pytest.approx(1.0, abs=1e-4)
        assert grid[0] <= eigenvalues[0] and grid[-1] >= eigenvalues[-1]
    assert "spectrum_density" not in result.curves  # three axes: its own table, not a curve
    paths = density_table.outputs(workdir, result.runs, plot=True)
    assert paths["plot:spectrum_density_g0"].stat().st_size > 0
    chunk = workdir / "chunks" / "g000-c00000.spectrum_density.csv"
    chunk.write_text(chunk.read_text()[:-10])  # truncated: the chunk no longer verifies
    assert not result_files.chunk_done(workdir, SweepPlan.resolve(config).digest, 0, 0)


def test_adam_preconditioned_sharpness_inside_a_sweep(tmp_path):
    config = _linear_config(dataset__dim=4, dataset__n_train=64, penalty_mask="all")
    config.optimizer = "adam"
    config.spectrum_every = 100
    config.sharpness_batch = 64
    config.learning_rate = 0.01
    result = engine.run_sweep(config, tmp_path)
    curves = result.curves.dropna(subset=["hessian_eig_1"])
    pre = curves["preconditioned_sharpness"].to_numpy()
    assert np.isnan(pre[0]) and np.isfinite(pre[1:]).all()  # undefined before the first step
    run = result.runs.iloc[0]
    assert run["adam_threshold"] == pytest.approx(38.0 / 0.01)
    assert run["preconditioned_sharpness_max"] == pytest.approx(np.nanmax(pre), rel=1e-6)
    assert run["preconditioned_stability_ratio"] == pytest.approx(np.nanmax(pre) / 3800.0)
    # The sharpness plot draws Adam's threshold and no 2/lr (which applies to GD/SGD only).
    _, figure = plots.sweep_figures(result.runs, result.curves)["sharpness"]
    (ax,) = figure.axes
    edges = [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert edges == pytest.approx([3800.0])
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {
        "squared_error", "squared_error, P^-1/2 H P^-1/2"
    }


def test_sharpness_plot_draws_two_over_lr_for_sgd_only():
    runs = pd.DataFrame({
        "optimizer": ["sgd", "sgd", "adam", "momentum"], "learning_rate": [0.1, 0.5, 0.01, 0.1],
        "adam_threshold": [np.nan, np.nan, 3800.0, np.nan], "momentum": [0.0, 0.0, 0.0, 0.9],
    })
    values, labels = zip(*plots._stability_thresholds(runs), strict=True)
    assert values == pytest.approx((3800.0, 38.0, 20.0, 4.0))
    assert labels == (
        "Adam (2+2β1)/((1−β1)lr) (0.01)", "(2+2β)/lr (0.1, β=0.9)", "2/lr (0.1)", "2/lr (0.5)"
    )


def test_gradient_noise_scale_closed_form():
    """Per-example gradients of (zᵢθ − yᵢ)² + λ·½‖θ‖² are 2rᵢzᵢ + λθ: B_simple = tr(Σ̂)/|Ḡ|²
    with Σ̂ their sample covariance (ddof 1) and Ḡ their mean (McCandlish et al. 2018)."""
    config = _linear_config(dataset__dim=8, dataset__n_train=256)
    dataset, z = _design(config)
    x, y = jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train)
    lam = 0.3
    theta = np.asarray(jax.random.normal(jax.random.key(1), (z.shape[1],)), np.float64)

    def per_example(t, xi, yi):
        return (xi @ t[:-1] + t[-1] - yi) ** 2 + lam * 0.5 * jnp.sum(t**2)

    value = spectrum.gradient_noise_scale(per_example, jnp.asarray(theta, jnp.float32), x, y)
    g = 2 * (z @ theta - np.asarray(dataset.y_train, np.float64))[:, None] * z + lam * theta
    mean = g.mean(0)
    expected = np.sum(g.var(0, ddof=1)) / np.sum(mean**2)
    np.testing.assert_allclose(value, expected, rtol=1e-4)


def test_measurement_has_no_custom_calls():
    """LAPACK's eigvalsh (a custom call) inside the scan hung XLA:CPU with two host devices
    running chunks at once; the spectrum is plain HLO (the check does see eigvalsh's call)."""
    f = lambda t: 0.5 * jnp.sum(jnp.arange(1.0, 7.0) * t**2)
    v0 = jnp.ones(6)

    def everything(t):
        return (
            spectrum.top_eigenvalues(f, t, v0, 3, 6),
            spectrum.preconditioned_top_eigenvalue(f, t, jnp.ones(6), v0, 6),
            spectrum.broadened_density(
                *spectrum.slq_quadrature(f, t, jax.random.key(0), 2, 6), 11, 0.02
            ),
        )

    assert "custom_call" not in jax.jit(everything).lower(jnp.zeros(6)).as_text()
    assert "custom_call" in jax.jit(jnp.linalg.eigvalsh).lower(jnp.eye(3)).as_text()


# --- The spectral density by stochastic Lanczos quadrature ----------------------------------


def _trapezoid(y, x):
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


def test_gauss_quadrature_matches_eigh():
    """Nodes and weights (e₁ᵀuₖ)² against numpy's float64 eigh on random 30×30 tridiagonals,
    whose eigenvectors are localized (weights down to ~1e-25): reading the weights off the
    residue of e₁ᵀ(T − θI)⁻¹e₁ returned ~1 for those."""
    rng = np.random.default_rng(0)
    matrices = []
    for _ in range(4):
        alphas, betas = rng.normal(size=30), np.abs(rng.normal(size=29))
        matrices.append(np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1))
    nodes, weights = jax.jit(jax.vmap(spectrum.gauss_quadrature))(
        jnp.asarray(np.stack(matrices), jnp.float32)
    )
    for t, node, weight in zip(matrices, nodes, weights, strict=True):
        values, vectors = np.linalg.eigh(t)
        np.testing.assert_allclose(node, values, atol=1e-6 * np.abs(values).max())
        np.testing.assert_allclose(weight, vectors[0] ** 2, atol=1e-6)
        assert float(jnp.sum(weight)) == pytest.approx(1.0, abs=1e-6)
        assert weight.min() < 1e-12  # the localized eigenvectors are there


def test_density_of_a_point_spectrum_with_an_exhausted_krylov_space():
    """H = diag(3, 3, 1, 1): every Rademacher probe puts weight exactly ½ on each eigenvalue;
    the Lanczos steps past the Krylov space's dimension 2 are no nodes (NaN, weight 0)."""
    f = lambda t: 0.5 * jnp.sum(jnp.array([3.0, 3.0, 1.0, 1.0]) * t**2)
    nodes, weights = jax.jit(lambda t: spectrum.slq_quadrature(f, t, jax.random.key(0), 3, 4))(
        jnp.zeros(4)
    )
    np.testing.assert_allclose(nodes[:, :2], [[1.0, 3.0]] * 3, rtol=1e-6)
    assert np.isnan(nodes[:, 2:]).all() and (weights[:, 2:] == 0).all()
    np.testing.assert_allclose(weights[:, :2], 0.5, rtol=1e-6)
    density_of = jax.jit(spectrum.broadened_density, static_argnums=(2, 3))
    grid, density = (np.asarray(a) for a in density_of(nodes, weights, 101, 0.02))
    upper = grid > 2.0
    assert _trapezoid(density[upper], grid[upper]) == pytest.approx(0.5, abs=1e-4)


@pytest.mark.parametrize("dim", [12, 40])
def test_slq_density_on_a_linear_model(dim):
    """Least squares, H = 2ZᵀZ/n (+ intercept), at the config's default probes, Lanczos steps
    (20, capped at dim(θ): exact for dim 12, fewer than dim(θ) = 41 for dim 40), grid and σ:
    the density integrates to 1 (trapezoid; float32 sums of 101 terms: 1e-4); its grid covers
    eigvalsh's extreme eigenvalues; the SLQ mean of λ and λ² are exactly (Gauss quadrature is
    exact to degree 2m − 1) Hutchinson's (1/n)·zᵀHᵏz over the same Rademacher probes, within
    4 standard deviations of that estimator (Var = 2·Σ_{i≠j} (Hᵏ)_ij² / (n²·probes)) of
    tr(Hᵏ)/n; and the density's mean is the SLQ mean eigenvalue (broadening keeps the mean)."""
    config = _linear_config(dataset__dim=dim, dataset__n_train=256)
    dataset, z = _design(config)
    f = _least_squares(jnp.asarray(dataset.x_train), jnp.asarray(dataset.y_train), 0.0)
    h, n = _hessian(z, 0.0), z.shape[1]
    probes, key = int(config.density_probes), jax.random.key(3)
    nodes, weights = jax.jit(lambda t: spectrum.slq_quadrature(
        f, t, key, probes, int(config.lanczos_steps)))(jnp.zeros(n))
    grid, density = (np.asarray(a, np.float64) for a in spectrum.broadened_density(
        nodes, weights, int(config.density_grid), float(config.density_sigma)))
    assert _trapezoid(density, grid) == pytest.approx(1.0, abs=1e-4)
    eigenvalues = np.linalg.eigvalsh(h)
    assert grid[0] <= eigenvalues[0] and grid[-1] >= eigenvalues[-1]
    probe_vectors = np.asarray(jax.random.rademacher(key, (probes, n), jnp.float32), np.float64)
    for power in (1, 2):
        moment = np.linalg.matrix_power(h, power)
        estimate = float(spectrum.slq_estimate(nodes, weights, lambda x, p=power: x**p))
        hutchinson = np.mean(np.einsum("pi,ij,pj->p", probe_vectors, moment, probe_vectors)) / n
        assert estimate == pytest.approx(hutchinson, rel=1e-4)
        off = moment - np.diag(np.diag(moment))
        sd = np.sqrt(2 * np.sum(off**2) / probes) / n
        assert abs(estimate - np.trace(moment) / n) < 4 * sd
    mean = _trapezoid(grid * density, grid)
    assert mean == pytest.approx(float(spectrum.slq_estimate(nodes, weights, lambda x: x)),
                                 rel=1e-3)
