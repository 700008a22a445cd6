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


def _alphas(gaussian, heavy):
    rows = [{"model": "linear", "noise": "gaussian", "alpha_median_low": gaussian[0],
             "alpha_median_high": gaussian[1]}]
    rows += [{"model": "linear", "noise": f, "alpha_median_low": lo, "alpha_median_high": hi}
             for f, (lo, hi) in heavy.items()]
    return pd.DataFrame(rows)


def test_verdict_flips_with_the_numbers():
    heavy = ("laplace", "cauchy")
    ok = _alphas((1.9, 2.1), {"laplace": (0.6, 0.7), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(ok, heavy)[0] == "supported"
    biased = _alphas((2.05, 2.2), {"laplace": (0.6, 0.7), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(biased, heavy)[0] == "qualified"
    blind = _alphas((1.9, 2.1), {"laplace": (1.8, 2.2), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(blind, heavy)[0] == "qualified"
    neither = _alphas((2.05, 2.2), {"laplace": (1.8, 2.2), "cauchy": (0.0, 0.1)})
    assert claim6.verdict_of(neither, heavy)[0] == "refuted"


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
