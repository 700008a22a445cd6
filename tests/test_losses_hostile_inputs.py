"""Regression tests for issue 36, items 15-18: hostile inputs to the losses.

15 labels beyond int32 and binary labels outside [0, 1]; 16 knobs of the wrong type or shape
named in the error; 17 derivatives with respect to probability labels and of |θ| at 0; 18 values
and derivatives that overflowed though the true ones are representable.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import losses

BEYOND_INT32 = 2**32 + 2  # wraps to class 2 in int32


# 15. Integer labels beyond int32 are refused before jax converts (and wraps) them.
@pytest.mark.parametrize("name", ["softmax_cross_entropy", "focal", "multi_margin",
                                  "multiclass_hinge", "one_hot_squared_error", "squentropy"])
@pytest.mark.parametrize("as_numpy", [False, True])
def test_labels_beyond_int32_are_refused_not_wrapped(name, as_numpy):
    labels = [0, BEYOND_INT32]
    if as_numpy:
        labels = np.array(labels, np.int64)
    with pytest.raises(ValueError, match=rf"labels.*labels={BEYOND_INT32}"):
        getattr(losses, name)(jnp.zeros((2, 3)), labels)
    with pytest.raises(ValueError, match=rf"labels={-BEYOND_INT32}"):
        getattr(losses, name)(jnp.zeros((2, 3)), np.array([0, -BEYOND_INT32]))


def test_labels_beyond_int32_in_smooth_labels_are_refused():
    with pytest.raises(ValueError, match=rf"labels={BEYOND_INT32}"):
        losses.smooth_labels(np.array([BEYOND_INT32]), 0.1, num_classes=3)


def test_traced_int64_labels_out_of_range_give_nan():
    # Inside jit the labels are not checked; with x64 they reach the loss unwrapped: NaN.
    with jax.enable_x64(True):
        values = jax.jit(losses.softmax_cross_entropy)(
            jnp.zeros((2, 3)), np.array([0, BEYOND_INT32], np.int64))
    assert np.isfinite(values[0]) and np.isnan(values[1])


@pytest.mark.parametrize("name", ["sigmoid_binary_cross_entropy", "sigmoid_focal"])
@pytest.mark.parametrize("bad", [2.0, -1.0, 1.5, np.nan])
def test_binary_labels_outside_the_unit_interval_are_refused(name, bad):
    labels = np.array([0.0, 1.0, bad, 0.5], np.float32)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\].*labels="):
        getattr(losses, name)(jnp.zeros(4), labels)


# 16. A knob of the wrong type names the knob; a spread of the wrong shape names the spread.
@pytest.mark.parametrize("name,knob", [
    ("huber", "delta"), ("quantile", "tau"), ("general_robust", "alpha"),
    ("general_robust", "scale"), ("softmax_cross_entropy", "label_smoothing"),
    ("gaussian_nll", "variance"), ("student_t_nll", "nu"), ("focal", "gamma"),
    ("one_hot_squared_error", "k"),
])
@pytest.mark.parametrize("value", ["abc", None, [1.0, "x"], {"a": 1}])
def test_knob_of_the_wrong_type_names_the_knob(name, knob, value):
    # refused by the registry, and by the loss itself when called directly
    with pytest.raises(TypeError, match=rf"\b{knob}\b") as caught:
        losses.get(name, **{knob: value})
    assert "\n" not in str(caught.value)
    args = ((jnp.zeros((2, 3)), jnp.array([0, 1])) if losses.task(name) == "classification"
            else (jnp.ones(3), jnp.zeros(3)))
    with pytest.raises(TypeError, match=rf"\b{knob}\b") as caught:
        getattr(losses, name)(*args, **{**losses.knobs(name), knob: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name,spread", [("gaussian_nll", "variance"),
                                         ("laplace_nll", "scale"), ("student_t_nll", "scale")])
def test_spread_of_the_wrong_shape_names_the_spread(name, spread):
    with pytest.raises(ValueError, match=rf"{spread} of shape \(5,\).*\(4, 3\)"):
        getattr(losses, name)(jnp.ones((4, 3)), jnp.zeros((4, 3)), **{spread: jnp.ones(5)})
    # the shapes that broadcast still work (torch's per-example variance: one fewer axis)
    getattr(losses, name)(jnp.ones((4, 3)), jnp.zeros((4, 3)), **{spread: jnp.ones((4, 1))})


# 17. The derivative with respect to probability labels is -log p_j at every class (optax's).
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_gradient_wrt_labels_is_minus_log_p_at_zero_mass_classes(smoothing):
    z = jnp.array([[1.0, 2.0, 3.0], [0.5, -4.0, 2.0]])
    t = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.3, 0.7]])
    got = jax.grad(lambda t: losses.softmax_cross_entropy(
        z, t, label_smoothing=smoothing).sum())(t)
    want = jax.grad(lambda t: optax.losses.softmax_cross_entropy(
        z, optax.smooth_labels(t, smoothing)).sum())(t)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, -(1 - smoothing) * jax.nn.log_softmax(z), rtol=1e-6)


def test_cross_entropy_label_gradient_keeps_the_minus_inf_conventions():
    # No mass on a -inf logit: value 0·log 0 = 0 there; its derivative (+inf) is returned as 0,
    # the other classes' as -log p_j; a masked class drops its mass (derivative 0).
    z = jnp.array([[0.0, -jnp.inf, 1.0]])
    t = jnp.array([[0.5, 0.0, 0.5]])
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, t),
                               optax.losses.safe_softmax_cross_entropy(z, t), rtol=1e-6)
    log_p = np.asarray(jax.nn.log_softmax(jnp.array([0.0, 1.0])))
    g = jax.grad(lambda t: losses.softmax_cross_entropy(z, t).sum())(t)
    np.testing.assert_allclose(g, [[-log_p[0], 0.0, -log_p[1]]], rtol=1e-6)
    mask = jnp.array([[True, True, False]])
    g = jax.grad(lambda t: losses.softmax_cross_entropy(jnp.zeros((1, 3)), t, where=mask).sum())(t)
    np.testing.assert_allclose(g, [[np.log(2), np.log(2), 0.0]], rtol=1e-6)


def test_focal_and_multi_margin_gradients_wrt_labels_at_zero_mass_classes():
    z = jnp.array([1.0, 2.0, 3.0])
    t = jnp.array([1.0, 0.0, 0.0])
    gamma = 2.0
    g = jax.grad(lambda t: losses.focal(z, t, gamma=gamma))(t)
    log_p = jax.nn.log_softmax(z)
    np.testing.assert_allclose(g, -(1 - jnp.exp(log_p)) ** gamma * log_p, rtol=1e-5)
    # multi_margin: Σ_j (1 - t_j) relu(m - Σ_k t_k s_k + s_j)^p / C, by autodiff of the formula
    def formula(t):
        gap = 1.0 - jnp.dot(t, z) + z
        return jnp.sum((1 - t) * jax.nn.relu(gap)) / 3
    np.testing.assert_allclose(jax.grad(lambda t: losses.multi_margin(z, t))(t),
                               jax.grad(formula)(t), rtol=1e-6)


def test_l1_gradient_at_zero_is_zero():
    theta = {"w": jnp.array([0.0, 2.0, -3.0]), "b": jnp.zeros(2)}
    g = jax.grad(losses.l1_penalty)(theta)
    np.testing.assert_array_equal(g["w"], [0.0, 1.0, -1.0])
    np.testing.assert_array_equal(g["b"], [0.0, 0.0])
    g = jax.grad(lambda p: losses.elastic_net(p, 0.5))(theta)
    np.testing.assert_allclose(g["w"], [0.0, 0.5 + 0.5 * 2, -0.5 - 0.5 * 3])
    np.testing.assert_array_equal(g["b"], [0.0, 0.0])


# 18. Residuals that overflow (finite predictions and targets of opposite sign) where the
# loss's true value is representable: the value is the float64 one, the gradient finite.
OVERFLOWING_RESIDUAL = [
    ("cauchy", {}), ("welsch", {}), ("geman_mcclure", {}),
    ("general_robust", {"alpha": 0.0}), ("general_robust", {"alpha": 0.5}),
    ("general_robust", {"alpha": -2.0}), ("general_robust", {"alpha": 1.5}),
    ("robust_nll", {"alpha": 0.0}), ("robust_nll", {"alpha": 1.0}),
    ("student_t_nll", {}), ("student_t_nll", {"nu": 0.5, "scale": 2.0}),
    ("quantile", {"tau": 0.1}), ("quantile", {"tau": 0.5}), ("laplace_nll", {"scale": 4.0}),
]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("name,knobs", OVERFLOWING_RESIDUAL,
                         ids=[f"{n}-{k}" for n, k in OVERFLOWING_RESIDUAL])
def test_overflowing_residual_keeps_a_representable_value(name, knobs, dtype):
    top = float(jnp.finfo(dtype).max)
    p = np.array([0.9 * top, -0.9 * top, 0.5 * top, 1.0], np.float64)
    t = np.array([-0.9 * top, 0.9 * top, -0.5 * top, -1.0], np.float64)
    p, t = jnp.asarray(p, dtype), jnp.asarray(t, dtype)
    fn = losses.get(name, **knobs)
    with jax.enable_x64(True):
        want = np.asarray(fn(p.astype(jnp.float64), t.astype(jnp.float64)))
    got, pullback = jax.vjp(lambda p: fn(p, t), p)
    (grad,) = pullback(jnp.ones_like(got))
    got, grad = np.asarray(got, np.float64), np.asarray(grad, np.float64)
    representable = np.abs(want) < top
    assert np.all(np.isfinite(got[representable])), (got, want)
    assert np.all(np.isfinite(grad)), grad
    rtol = {"float16": 2e-3, "bfloat16": 1e-2, "float32": 1e-5}[dtype]
    np.testing.assert_allclose(got[representable], want[representable], rtol=rtol)


def test_gaussian_nll_with_huge_residual_and_variance():
    r, var = jnp.array([1e30]), jnp.array([1e30])
    value, grad_var = jax.value_and_grad(lambda v: losses.gaussian_nll(r, None, v).sum())(var)
    # ½(log σ² + r²/σ²) and (1 - r²/σ²)/(2σ²) in float64
    np.testing.assert_allclose(value, 0.5 * (np.log(1e30) + 1e30), rtol=1e-6)
    np.testing.assert_allclose(grad_var, 0.5 * (1 - 1e30) / 1e30, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.25, 0.5, 0.9])
@pytest.mark.parametrize("gap", [30.0, 50.0, 100.0, 400.0])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_focal_hessian_finite_for_confident_logits(gamma, gap, dtype):
    with jax.enable_x64(dtype == "float64"):
        for z in ([0.0, gap], [gap, -gap, 0.0], [-gap, gap]):
            z = jnp.asarray(z, dtype)
            for y in range(z.size):
                h = jax.hessian(lambda z, y=y: losses.focal(z, jnp.array(y), gamma=gamma))(z)
                assert np.all(np.isfinite(h)), (z, y, h)


# ρ grows like |x/c|^α: for α ≥ 1 its derivative in c at x/c = 1e20 is beyond float32.
@pytest.mark.parametrize("name,knobs", [
    ("cauchy", {}), ("welsch", {}), ("geman_mcclure", {}), ("robust_nll", {"alpha": 0.0}),
    ("robust_nll", {"alpha": 0.5}), ("general_robust", {"alpha": 0.0}),
    ("general_robust", {"alpha": 0.5}), ("general_robust", {"alpha": -2.0}),
    ("general_robust", {"alpha": -np.inf}), ("student_t_nll", {}),
])
def test_gradient_wrt_a_tiny_scale_is_finite(name, knobs):
    x = jnp.array([1.0, 1e-21, 0.0, -3e-20], jnp.float32)

    def total(c):
        return losses.get(name, **knobs, scale=c)(x.astype(c.dtype)).sum()

    got = jax.grad(total)(jnp.float32(1e-20))
    with jax.enable_x64(True):
        want = jax.grad(total)(jnp.float64(1e-20))
    assert np.isfinite(got), got
    np.testing.assert_allclose(got, want, rtol=1e-4)


# 19. A mean of terms near the dtype's max is formed without their overflowing sum.
def test_means_do_not_overflow_in_their_sum():
    top = float(jnp.finfo(jnp.float32).max)
    b = 0.9 * top / 4  # logits within the finite suite's domain (max/4)
    z = jnp.array([[-b, b, b, b]], jnp.float32)
    # Weston-Watkins, p = 1: three gaps of m + 2b, divided by C = 4
    np.testing.assert_allclose(losses.multi_margin(z, jnp.array([0])), [(1 + 2 * b) * 3 / 4],
                               rtol=1e-6)
    f = jnp.full((1, 4), 0.9 * np.sqrt(top), jnp.float32)  # f² = 0.81 max, four of them
    want = ((0.9 * np.sqrt(top) - 1) ** 2 + 3 * 0.81 * top) / 4
    np.testing.assert_allclose(losses.one_hot_squared_error(f, jnp.array([0])), [want],
                               rtol=1e-6)
    values = jnp.array([0.5, 0.75, 0.25, 0.5], jnp.float32) * top
    np.testing.assert_allclose(losses.reduce(values), 0.5 * top, rtol=1e-6)
    g = jax.grad(lambda v: losses.reduce(v, weights=jnp.array([1.0, 3.0, 0.0, 0.0])))(values)
    np.testing.assert_allclose(g, [0.25, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(losses.reduce(values, weights=jnp.array([1.0, 3.0, 0.0, 0.0])),
                               (0.5 + 3 * 0.75) / 4 * top, rtol=1e-6)
