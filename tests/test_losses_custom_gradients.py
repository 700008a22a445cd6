"""The closed-form JVPs (custom_jvp, for speed) equal autodiff of the plain formulas (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losses

X = np.array([-1e3, -7.0, -2.0, -1.0, -0.3, 0.0, 1e-4, 0.5, 1.0, 1.7, 3.0, 40.0])


def _plain_huber(r, d):
    a = jnp.abs(r)
    return jnp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))


def _plain_pseudo_huber(r, d):
    return d * d * (jnp.sqrt(1 + (r / d) ** 2) - 1)


@pytest.mark.parametrize(
    "fn,plain",
    [
        (lambda r, d: losses.huber(r, delta=d), _plain_huber),
        (lambda r, d: losses.smooth_l1(r, beta=d), lambda r, d: _plain_huber(r, d) / d),
        (lambda r, d: losses.pseudo_huber(r, delta=d), _plain_pseudo_huber),
    ],
)
@pytest.mark.parametrize("knob", [0.4, 1.5])
def test_regression_gradients_equal_autodiff(fn, plain, knob):
    with jax.enable_x64(True):
        r, k = jnp.asarray(X), jnp.float64(knob)
        for argnum in (0, 1):
            got = jax.jit(jax.grad(lambda r, k: fn(r, k).sum(), argnum))(r, k)
            want = jax.grad(lambda r, k: plain(r, k).sum(), argnum)(r, k)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("alpha", [-np.inf, -2.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 8.0, np.inf])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_fixed_alpha_equals_traced_alpha(alpha, dtype):
    # A concrete α takes a specialised path with a closed-form JVP; a traced α the general one.
    with jax.enable_x64(dtype == jnp.float64):
        x, c = jnp.asarray(X / 10, dtype), jnp.asarray(1.3, dtype)
        x = x if alpha != np.inf else jnp.clip(x, -5, 5)

        def fixed(x, c):
            return losses.general_robust(x, alpha=alpha, scale=c).sum()

        def traced(x, c, a):
            return losses.general_robust(x, alpha=a, scale=c).sum()

        tol = 1e-12 if dtype == jnp.float64 else 2e-5
        v1, g1 = jax.jit(jax.value_and_grad(fixed, (0, 1)))(x, c)
        v2, g2 = jax.jit(jax.value_and_grad(traced, (0, 1)))(x, c, jnp.asarray(alpha, dtype))
        np.testing.assert_allclose(v1, v2, rtol=tol)
        for a, b in zip(g1, g2, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        nll = jax.grad(lambda x: losses.robust_nll(x, alpha=abs(alpha), scale=c).sum())(x)
        assert np.all(np.isfinite(nll))
