"""The stable forms, differentiated by autodiff, equal autodiff of the plain formulas (float64):
first and second derivatives, with respect to predictions, targets and knobs."""

import pathlib

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
    # A concrete α takes its closed form, chosen at trace time; a traced α selects per element.
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


# The derivatives of every loss written in a stable form, against autodiff of the plain
# formula: first and second derivatives (the HVPs of the sharpness
# diagnostics differentiate the slopes again), with respect to predictions, targets and the knob.
PLAIN = {
    "huber": ("delta", _plain_huber),
    "smooth_l1": ("beta", lambda r, d: _plain_huber(r, d) / d),
    "pseudo_huber": ("delta", _plain_pseudo_huber),
    "log_cosh": (None, lambda r, _: jnp.log(jnp.cosh(r))),
    "cauchy": ("scale", lambda r, c: jnp.log(0.5 * (r / c) ** 2 + 1)),
    "geman_mcclure": ("scale", lambda r, c: 2 * (r / c) ** 2 / ((r / c) ** 2 + 4)),
    "welsch": ("scale", lambda r, c: 1 - jnp.exp(-0.5 * (r / c) ** 2)),
}
# Away from Huber's kinks at |r| = δ and cosh's overflow.
R = np.array([-9.0, -2.5, -1.2, -0.7, -0.3, 1e-3, 0.2, 0.6, 1.1, 2.2, 6.0])
T = np.linspace(-1.0, 1.0, R.size) * 0.37


@pytest.mark.parametrize("name", sorted(PLAIN))
@pytest.mark.parametrize("knob_value", [0.45, 1.6])
def test_residual_losses_first_and_second_derivatives_equal_autodiff(name, knob_value):
    knob, plain = PLAIN[name]
    with jax.enable_x64(True):
        p, t, k = jnp.asarray(R + T), jnp.asarray(T), jnp.float64(knob_value)

        def ours(p, t, k):
            return losses.get(name, **({knob: k} if knob else {}))(p, t).sum()

        def reference(p, t, k):
            return plain(p - t, k).sum()

        np.testing.assert_allclose(ours(p, t, k), reference(p, t, k), rtol=1e-13)
        argnums = (0, 1, 2) if knob else (0, 1)
        got = jax.jit(jax.grad(ours, argnums))(p, t, k)
        want = jax.grad(reference, argnums)(p, t, k)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(got[1], -got[0], rtol=0, atol=0)
        # Hessian-vector products with respect to the predictions (forward over reverse).
        v = jnp.cos(jnp.arange(R.size, dtype=jnp.float64))

        def hvp(f):
            return jax.jvp(lambda q: jax.grad(f)(q, t, k), (p,), (v,))[1]

        np.testing.assert_allclose(
            jax.jit(hvp, static_argnums=0)(ours), hvp(reference), rtol=1e-10, atol=1e-13
        )


@pytest.mark.parametrize("name", [*sorted(PLAIN), "general_robust", "robust_nll", "quantile"])
def test_residual_losses_targets_none_means_predictions_are_residuals(name):
    fn = losses.get(name)
    r = jnp.asarray(R, jnp.float32)
    with_targets = jax.value_and_grad(lambda q: fn(q + 1.5, jnp.full_like(q, 1.5)).sum())(r)
    alone = jax.value_and_grad(lambda q: fn(q).sum())(r)
    for a, b in zip(with_targets, alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize(  # representation losses: tests/test_losses_v3.py
    "name", [n for n in losses.names() if losses.task(n) != "representation"])
def test_losses_are_plain_formulas_under_autodiff(name):
    # The design (issue 11): no custom derivative rules and no optimization barriers; autodiff
    # differentiates the stable formula, so every order of derivative is the formula's.
    x, y = (jnp.ones((3, 4)), jnp.array([0, 1, 2])) if losses.task(name) == "classification" \
        else (jnp.ones(3), jnp.zeros(3))
    if name in ("hinge", "perceptron"):
        y = jnp.ones((3, 4))
    if name in ("sigmoid_binary_cross_entropy", "sigmoid_focal", "kl_divergence",
                "generalized_kl_divergence"):
        y = jnp.full((3, 4), 0.5)
    fn = losses.get(name)
    text = str(jax.make_jaxpr(jax.value_and_grad(lambda p: fn(p, y).sum()))(x))
    assert "optimization_barrier" not in text
    # (jax's own rules, relu's and logaddexp's, are custom_jvp: so the source is what we check)
    # Two documented exceptions, each the only way found to be as fast as the peer's
    # (bench_losses), each with its second derivative tested: log_cosh's derivative tanh r from the
    # value's own expm1, and triplet_margin's distance rule (tests/test_losses_v3.py).
    rules = {"regression.py": "@jax.custom_jvp",
             "representation.py": "@functools.partial(jax.custom_jvp"}
    for path in pathlib.Path(losses.__file__).parent.glob("*.py"):
        source = path.read_text()
        for rule in ("custom_vjp", "optimization_barrier"):
            assert rule not in source, (path.name, rule)
        allowed = 1 if path.name in rules else 0
        decorated = source.count(rules[path.name]) if path.name in rules else 0
        assert source.count("custom_jvp") == decorated == allowed, path
