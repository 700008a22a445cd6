"""Regression losses: closed forms, optax and torch conventions, properties, transformations."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax import test_util as jtu

import losses

SETTINGS = settings(max_examples=30, deadline=None)
R = np.array([-1e4, -7.5, -2.0, -1.0, -0.3, 0.0, 1e-4, 0.5, 1.0, 1.7, 3.0, 1e4], np.float32)
P = np.linspace(-3, 3, 12).astype(np.float32)
T = (P - R).astype(np.float32)  # so that P - T ≈ R


def _np_huber(r, d):
    a = np.abs(r)
    return np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))


REFERENCES = {  # name, knobs -> numpy float64 closed form of r
    "squared_error": ({}, lambda r: r * r),
    "absolute_error": ({}, np.abs),
    "huber": ({"delta": 1.5}, lambda r: _np_huber(r, 1.5)),
    "smooth_l1": ({"beta": 0.5}, lambda r: _np_huber(r, 0.5) / 0.5),
    "pseudo_huber": ({"delta": 2.0}, lambda r: 4.0 * (np.sqrt(1 + (r / 2) ** 2) - 1)),
    "log_cosh": ({}, lambda r: np.abs(r) + np.log1p(np.exp(-2 * np.abs(r))) - np.log(2)),
    "quantile": ({"tau": 0.2}, lambda r: np.maximum(0.2 * -r, (0.2 - 1) * -r)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_matches_numpy_closed_form(name):
    kn, ref = REFERENCES[name]
    r = R.astype(np.float64)
    got = jax.jit(lambda r: losses.get(name, **kn)(r))(R)
    np.testing.assert_allclose(got, ref(r), rtol=2e-6, atol=1e-6)
    # the two-argument form is the same function of predictions - targets
    got2 = losses.get(name, **kn)(P, T)
    np.testing.assert_allclose(got2, ref((P - T).astype(np.float64)), rtol=2e-6, atol=1e-5)


def test_chosen_points():
    np.testing.assert_allclose(losses.huber(jnp.array([0.5, 3.0]), delta=1.0), [0.125, 2.5])
    np.testing.assert_allclose(losses.smooth_l1(jnp.array([0.5, 3.0]), beta=2.0), [0.0625, 2.0])
    np.testing.assert_allclose(losses.quantile(jnp.array([1.0]), jnp.array([3.0]), tau=0.9), [1.8])
    np.testing.assert_allclose(
        losses.quantile(jnp.array([3.0]), jnp.array([1.0]), tau=0.9), [0.2], rtol=1e-6
    )
    np.testing.assert_allclose(losses.log_cosh(jnp.array([1.0])), [np.log(np.cosh(1.0))], rtol=1e-6)


def test_optax_equivalents():
    p, t = jnp.asarray(P), jnp.asarray(T)
    np.testing.assert_allclose(losses.squared_error(p, t), optax.losses.squared_error(p, t))
    np.testing.assert_allclose(losses.squared_error(p, t), 2 * optax.losses.l2_loss(p, t))
    for d in (0.3, 1.0, 4.0):
        np.testing.assert_allclose(
            losses.huber(p, t, delta=d), optax.losses.huber_loss(p, t, delta=d), rtol=1e-6
        )
    small = jnp.linspace(-20, 20, 101)
    np.testing.assert_allclose(
        losses.log_cosh(small), optax.losses.log_cosh(small), rtol=1e-5, atol=1e-6
    )


def test_log_cosh_large_residuals_accurate_and_gradient_is_tanh():
    r = jnp.array([-1e4, -100.0, 30.0, 1e4], jnp.float32)
    np.testing.assert_allclose(losses.log_cosh(r), np.abs(r) - np.log(2), rtol=1e-7)
    g = jax.grad(lambda r: losses.log_cosh(r).sum())(jnp.array([-1e4, -1e-3, 0.0, 0.3, 1e4]))
    np.testing.assert_allclose(g, np.tanh([-1e4, -1e-3, 0.0, 0.3, 1e4]), rtol=1e-6)


def test_log_cosh_second_derivative_is_sech_squared_including_zero():
    # The sharpness diagnostics differentiate the slope again; |r|'s derivative at 0 is 0 in
    # JAX, which must not reach sech²(0) = 1.
    r = jnp.array([-20.0, -3.0, -1e-3, 0.0, 1e-3, 0.5, 14.9, 15.1, 40.0])
    h = jax.vmap(jax.grad(jax.grad(lambda x: losses.log_cosh(x))))(r)
    sech2 = 1 / np.cosh(np.asarray(r, np.float64)) ** 2
    np.testing.assert_allclose(h, sech2, rtol=1e-5, atol=1e-12)
    with jax.enable_x64(True):
        x = jnp.linspace(-25, 25, 2001, dtype=jnp.float64)
        ref = np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2)
        small = np.abs(x) < 1
        ref[small] = 0.5 * np.log1p(np.sinh(np.asarray(x)[small]) ** 2)
        np.testing.assert_allclose(losses.log_cosh(x), ref, rtol=1e-14, atol=1e-300)
        g = jax.vmap(jax.grad(losses.log_cosh))(x)
        np.testing.assert_allclose(g, np.tanh(x), rtol=1e-14)


def test_gradients_match_finite_differences_float64():
    with jax.enable_x64(True):
        r = jnp.array([-3.1, -0.7, 0.2, 0.9, 2.5], jnp.float64)
        for name, (kn, _) in REFERENCES.items():
            jtu.check_grads(jax.jit(losses.get(name, **kn)), (r,), order=1, modes=["rev"])
        for knob, fn in [
            ("delta", losses.huber),
            ("beta", losses.smooth_l1),
            ("delta", losses.pseudo_huber),
            ("tau", losses.quantile),
        ]:
            f = jax.jit(lambda k, fn=fn, knob=knob: fn(r, **{knob: k}).sum())
            jtu.check_grads(f, (jnp.float64(0.4),), order=1, modes=["rev"])


residuals = st.floats(-1e3, 1e3, allow_nan=False, width=32)
NON_REDESCENDING = [
    "squared_error",
    "absolute_error",
    "huber",
    "smooth_l1",
    "pseudo_huber",
    "log_cosh",
    "cauchy",
    "general_robust",
    "robust_nll",
]


@SETTINGS
@given(r=residuals, s=st.floats(0.0, 50.0, width=32))
def test_properties(r, s):
    for name in sorted(REFERENCES):
        f = losses.get(name)
        v = float(f(jnp.float32(r)))
        assert v >= 0
        assert float(f(jnp.float32(0.0))) == 0.0
        if name != "quantile":
            np.testing.assert_allclose(v, float(f(jnp.float32(-r))), rtol=1e-6)
    # Huber is ½r² inside δ
    d = abs(r) + 1e-3
    huber = losses.huber(jnp.float32(r), delta=d)
    np.testing.assert_allclose(huber, 0.5 * r * r, rtol=1e-5, atol=1e-30)
    # non-redescending losses are monotone in |r|
    for name in NON_REDESCENDING:
        f = losses.get(name)
        a, b = sorted([abs(r), abs(r) + s])
        assert float(f(jnp.float32(a))) <= float(f(jnp.float32(b))) * (1 + 1e-6) + 1e-7


@pytest.mark.parametrize(
    "name,kn",
    [
        ("huber", {"delta": 0.0}),
        ("huber", {"delta": -1.0}),
        ("smooth_l1", {"beta": -0.5}),  # β = 0 is torch's |r| (test_losses_peers)
        ("pseudo_huber", {"delta": -2.0}),
        ("quantile", {"tau": 0.0}),
        ("quantile", {"tau": 1.0}),
        ("quantile", {"tau": np.float64(1.5)}),
    ],
)
def test_invalid_knobs_raise(name, kn):
    ((knob, value),) = kn.items()
    with pytest.raises(ValueError, match=knob) as info:
        losses.get(name, **kn)(jnp.ones(3), jnp.zeros(3))
    assert repr(value) in str(info.value) or str(value) in str(info.value)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_mismatched_shapes_raise(name):
    with pytest.raises(ValueError, match="shape"):
        losses.get(name)(jnp.ones((3,)), jnp.ones((3, 1)))


def test_traced_knobs_swept_in_one_program():
    p, t = jnp.asarray(P), jnp.asarray(T)
    deltas = jnp.array([0.5, 1.0, 2.0])
    swept = jax.jit(jax.vmap(lambda d: losses.get("huber", delta=d)(p, t)))(deltas)
    for i, d in enumerate([0.5, 1.0, 2.0]):
        np.testing.assert_allclose(swept[i], losses.huber(p, t, delta=d), rtol=1e-6)
    taus = jnp.array([0.1, 0.9])
    swept = jax.jit(jax.vmap(lambda q: losses.quantile(p, t, tau=q)))(taus)
    np.testing.assert_allclose(swept[1], losses.quantile(p, t, tau=0.9), rtol=1e-6)
