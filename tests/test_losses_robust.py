"""Barron's general robust loss, its special cases, and the adaptive NLL."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import test_util as jtu

import losses


def rho_np(x, alpha, c):
    """Barron's ρ in numpy float64 (finite α ∉ {0, 2})."""
    b = abs(alpha - 2)
    return b / alpha * (((x / c) ** 2 / b + 1) ** (alpha / 2) - 1)


def drho_dx_np(x, alpha, c):
    return x / c**2 * ((x / c) ** 2 / abs(alpha - 2) + 1) ** (alpha / 2 - 1)


# α and c traced: one compilation serves every parameter value below.
robust_jit = jax.jit(lambda x, a, c: losses.general_robust(x, alpha=a, scale=c))
nll_jit = jax.jit(lambda x, a, c: losses.robust_nll(x, alpha=a, scale=c))

X = np.array([-30.0, -3.0, -1.0, -0.2, 0.0, 0.5, 2.0, 7.0])


@pytest.mark.parametrize("alpha", [-7.0, -2.0, -0.5, 0.5, 1.0, 1.5, 3.0, 6.0])
@pytest.mark.parametrize("c", [0.5, 1.0, 3.0])
def test_rho_and_derivative_match_reference(alpha, c):
    with jax.enable_x64(True):
        x = jnp.asarray(X, jnp.float64)
        a, s = jnp.float64(alpha), jnp.float64(c)
        np.testing.assert_allclose(robust_jit(x, a, s), rho_np(X, alpha, c), rtol=1e-9, atol=1e-15)
        g = jax.jit(jax.vmap(jax.grad(robust_jit), (0, None, None)))(x, a, s)
        np.testing.assert_allclose(g, drho_dx_np(X, alpha, c), rtol=1e-9, atol=1e-15)
        jtu.check_grads(robust_jit, (x, a, s), order=1, modes=["rev"])
    x32 = jnp.asarray(X, jnp.float32)
    np.testing.assert_allclose(
        robust_jit(x32, np.float32(alpha), np.float32(c)), rho_np(X, alpha, c), rtol=2e-5, atol=1e-6
    )


def closed_forms(x, c):
    y = (x / c) ** 2
    with np.errstate(over="ignore"):
        posinf = np.expm1(0.5 * y)
    return {
        2.0: 0.5 * y,
        0.0: np.log1p(0.5 * y),
        -2.0: 2 * y / (y + 4),
        -np.inf: -np.expm1(-0.5 * y),
        np.inf: posinf,
    }


def test_special_cases_and_named_losses():
    x = jnp.asarray(X / 3, jnp.float32)
    ref = closed_forms(X / 3, 1.5)
    for alpha, value in ref.items():
        np.testing.assert_allclose(
            losses.general_robust(x, alpha=alpha, scale=1.5), value, rtol=1e-5, atol=1e-7
        )
    np.testing.assert_allclose(losses.cauchy(x, scale=1.5), ref[0.0], rtol=1e-6)
    np.testing.assert_allclose(losses.geman_mcclure(x, scale=1.5), ref[-2.0], rtol=1e-6)
    np.testing.assert_allclose(losses.welsch(x, scale=1.5), ref[-np.inf], rtol=1e-6, atol=1e-7)
    # α = 1 is pseudo-Huber with δ = c, divided by c²
    np.testing.assert_allclose(
        losses.general_robust(x, alpha=1.0, scale=1.5),
        losses.pseudo_huber(x, delta=1.5) / 1.5**2,
        rtol=1e-6,
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@settings(max_examples=30, deadline=None)
@given(x=st.floats(-100, 100, allow_nan=False), c=st.floats(0.1, 10))
def test_continuous_across_zero_and_two(dtype, x, c):
    with jax.enable_x64(dtype == jnp.float64):
        ref = closed_forms(np.float64(x), c)
        for center in (0.0, 2.0):
            alphas = jnp.asarray([center - 1e-9, center, center + 1e-9], dtype)
            v = robust_jit(jnp.asarray(x, dtype), alphas, jnp.asarray(c, dtype))
            np.testing.assert_allclose(v, ref[center] * np.ones(3), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_gradients_finite_at_every_alpha(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        alphas = jnp.asarray(
            [-jnp.inf, -1e3, -2.0, -1e-9, 0.0, 1e-9, 1.0, 2 - 1e-9, 2.0, 2 + 1e-9, 10.0, jnp.inf],
            dtype,
        )
        x = jnp.asarray([-1e4, -3.0, 0.0, 1e-3, 1.0, 1e4], dtype)

        def total(a, x, c):
            return losses.general_robust(x, alpha=a, scale=c).sum()

        # a sweep over α, including ±inf, as traced values in one compiled program
        values, grads = jax.jit(
            jax.vmap(jax.value_and_grad(total, argnums=(0, 1, 2)), in_axes=(0, None, None))
        )(alphas, x, dtype(1.0))
        assert values.dtype == dtype
        moderate = np.abs(np.asarray(alphas)) <= 2  # larger |α| may overflow at |x| = 1e4
        assert np.all(np.isfinite(np.asarray(values)[moderate]))
        for g in grads:
            assert not np.any(np.isnan(np.asarray(g)))
        assert np.all(np.isfinite(np.asarray(grads[0])[moderate]))
        assert np.all(np.isfinite(np.asarray(grads[1])[moderate]))


def test_alpha_gradient_at_zero_is_correct():
    # ρ is smooth in α at 0: compare autodiff with a central difference in float64
    with jax.enable_x64(True):
        x = jnp.asarray([0.3, 2.0, 9.0])
        f = jax.jit(lambda a: robust_jit(x, a, 1.0).sum())
        fd = (f(1e-4) - f(-1e-4)) / 2e-4
        np.testing.assert_allclose(jax.grad(f)(0.0), fd, rtol=1e-6)


def test_alpha_and_scale_broadcast():
    x = jnp.linspace(-3, 3, 6)
    alpha = jnp.array([[0.0], [1.0], [2.0]])
    v = losses.general_robust(x, alpha=alpha, scale=jnp.array([1.0]))
    assert v.shape == (3, 6)
    np.testing.assert_allclose(v[2], 0.5 * x**2, rtol=1e-6)


def test_log_partition_closed_forms():
    z = {0.0: np.pi * np.sqrt(2), 1.0: 2 * np.e * scipy.special.k1(1.0), 2.0: np.sqrt(2 * np.pi)}
    for alpha, zval in z.items():
        nll0 = nll_jit(jnp.zeros(()), alpha, 1.0)
        np.testing.assert_allclose(nll0, np.log(zval), rtol=1e-5)
        nll = nll_jit(jnp.asarray([1.5]), alpha, 2.0)
        rho = closed_forms(1.5, 2.0).get(alpha, rho_np(1.5, 1.0, 2.0))
        np.testing.assert_allclose(nll, rho + np.log(2.0) + np.log(zval), rtol=1e-5)


def test_robust_nll_is_a_normalised_density():
    x = np.linspace(-200.0, 200.0, 400_001, dtype=np.float32)
    for alpha in (0.5, 1.0, 3.0):
        p = np.exp(-np.asarray(nll_jit(x, alpha, 0.7), np.float64))
        np.testing.assert_allclose(p.sum() * 1e-3, 1.0, rtol=1e-4)


def test_robust_nll_learns_alpha_and_scale():
    with jax.enable_x64(True):
        x = jnp.asarray([0.1, -0.3, 2.0, -5.0])
        f = jax.jit(lambda a, c: nll_jit(x, a, c).sum())
        grad = jax.jit(jax.vmap(jax.grad(f, argnums=(0, 1)), (0, None)))
        alphas = jnp.asarray([0.0, 1e-9, 0.7, 1.0, 2.0, 3.0])
        ga, gc = grad(alphas, 1.3)
        assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gc))
        h = 1e-6
        fd_a = [
            (f(a + h, 1.3) - f(max(a - h, 0.0), 1.3)) / (a + h - max(a - h, 0.0))
            for a in (0.0, 0.7, 3.0)
        ]
        np.testing.assert_allclose(np.asarray(ga)[[0, 2, 5]], fd_a, rtol=1e-4)
        fd_c = (f(0.7, 1.3 + h) - f(0.7, 1.3 - h)) / (2 * h)
        np.testing.assert_allclose(gc[2], fd_c, rtol=1e-6)


@pytest.mark.parametrize(
    "fn,kn",
    [
        (losses.general_robust, {"alpha": 1.0, "scale": 0.0}),
        (losses.general_robust, {"alpha": float("nan")}),
        (losses.robust_nll, {"alpha": -1.0, "scale": 1.0}),
        (losses.robust_nll, {"alpha": 1.0, "scale": -2.0}),
        (losses.cauchy, {"scale": 0.0}),
        (losses.geman_mcclure, {"scale": -1.0}),
        (losses.welsch, {"scale": np.float32(0.0)}),
    ],
)
def test_invalid_knobs_raise(fn, kn):
    bad = "scale" if kn.get("scale", 1.0) <= 0 else "alpha"
    with pytest.raises(ValueError, match=bad):
        fn(jnp.ones(3), jnp.zeros(3), **kn)


def test_robust_nll_traced_negative_alpha_is_nan():
    v = jax.jit(lambda a: losses.robust_nll(jnp.ones(2), alpha=a))(-1.0)
    assert np.all(np.isnan(v))


@pytest.mark.parametrize("alpha", [-np.inf, -2.0, 0.0, 0.5, 1.0, 2.0, 3.0, np.inf])
def test_traced_alpha_second_derivatives_in_x_match_numerical(alpha):
    # A traced α selects among all branches per element; the HVPs of the
    # sharpness diagnostics differentiate it again.
    with jax.enable_x64(True):
        x = jnp.asarray(X / 5, jnp.float64)
        a, c = jnp.float64(alpha), jnp.float64(1.3)
        jtu.check_grads(lambda x: robust_jit(x, a, c).sum(), (x,), order=2, modes=["fwd", "rev"])
        hess_traced = jax.hessian(lambda x: robust_jit(x, a, c).sum())(x)
        hess_fixed = jax.hessian(lambda x: losses.general_robust(x, alpha=alpha, scale=c).sum())(x)
        np.testing.assert_allclose(hess_traced, hess_fixed, rtol=1e-10, atol=1e-12)
