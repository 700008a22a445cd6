"""Regression tests for issue 11's defects 1-8: every loss right at the edges of its domain."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import losses

LOG3 = float(np.log(3.0))


# 1. Cross-entropy of huge equal logits is log C: no lse - z_y cancellation.
@pytest.mark.parametrize("size", [1e6, 1e8, 1e30])
@pytest.mark.parametrize("labels", ["index", "probs", "smoothed", "focal"])
def test_cross_entropy_of_huge_logits_has_no_cancellation(size, labels):
    z = jnp.full((1, 3), size, jnp.float32)
    if labels == "index":
        got = losses.softmax_cross_entropy(z, jnp.array([0]))
    elif labels == "probs":
        got = losses.softmax_cross_entropy(z, jnp.array([[0.2, 0.3, 0.5]]))
    elif labels == "smoothed":
        got = losses.softmax_cross_entropy(z, jnp.array([0]), label_smoothing=0.3)
    else:  # γ = 0 is cross-entropy
        got = losses.focal(z, jnp.array([0]), gamma=0.0)
    np.testing.assert_allclose(got, [LOG3], rtol=1e-6)
    # the offset logits z + (0, 1, 2) keep their log-softmax exactly
    z2 = z + jnp.array([0.0, 1.0, 2.0])
    if size < 1e7:  # beyond, float32 cannot represent the offset
        want = float(np.log(np.exp([0.0, 1, 2]).sum()))
        np.testing.assert_allclose(losses.softmax_cross_entropy(z2, jnp.array([0])), [want],
                                   rtol=1e-6)


# 2. A -inf logit is probability 0: target mass there gives +inf, with or without `where`.
def test_minus_inf_logit_with_target_mass_is_inf_on_both_paths():
    z = jnp.array([[-jnp.inf, 0.0, 0.0]])
    everywhere = jnp.ones((1, 3), bool)
    for labels in (jnp.array([0]), jnp.array([[0.4, 0.3, 0.3]])):
        plain = losses.softmax_cross_entropy(z, labels)
        masked = losses.softmax_cross_entropy(z, labels, where=everywhere)
        assert plain[0] == np.inf and masked[0] == np.inf
        g = jax.grad(lambda z, y=labels: losses.softmax_cross_entropy(z, y).sum())(z)
        np.testing.assert_allclose(g, [[-(0.4 if labels.ndim == 2 else 1.0), 0.5, 0.5]] if
                                   labels.ndim == 1 else [[-0.4, 0.2, 0.2]], rtol=1e-6)
    # No target mass on the -inf class: 0·log 0 = 0, the two paths agree (optax's safe form).
    labels = jnp.array([[0.0, 0.5, 0.5]])
    want = optax.losses.safe_softmax_cross_entropy(z, labels)
    for where in (None, everywhere):
        np.testing.assert_allclose(losses.softmax_cross_entropy(z, labels, where=where), want)
        np.testing.assert_allclose(losses.softmax_cross_entropy(z, jnp.array([1]), where=where),
                                   [np.log(2)], rtol=1e-6)


# 3. A row of only -inf logits: value 0 and gradient 0, as documented.
@pytest.mark.parametrize("labels", [jnp.array([1]), jnp.array([[0.2, 0.8]])])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_all_minus_inf_row_is_zero_with_zero_gradient(labels, smoothing):
    z = jnp.full((1, 2), -jnp.inf)

    def f(z):
        return losses.softmax_cross_entropy(z, labels, label_smoothing=smoothing).sum()

    assert f(z) == 0
    np.testing.assert_array_equal(jax.grad(f)(z), [[0.0, 0.0]])


# 4. d/dz BCE = σ(z) - y exactly at z = 0.
@pytest.mark.parametrize("y,want", [(1.0, -0.5), (0.0, 0.5), (0.25, 0.25)])
def test_sigmoid_cross_entropy_gradient_at_zero(y, want):
    g = jax.grad(lambda z: losses.sigmoid_binary_cross_entropy(z, jnp.array(y)))(0.0)
    np.testing.assert_allclose(g, want, rtol=1e-7)
    h = jax.hessian(lambda z: losses.sigmoid_binary_cross_entropy(z, jnp.array(y)))(0.0)
    np.testing.assert_allclose(h, 0.25, rtol=1e-7)


# 5. Focal: finite Hessian at a confident correct logit; -inf logits with no target mass.
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
def test_focal_hessian_finite_when_confidently_correct(gamma):
    def f(z):
        return losses.focal(z, jnp.array([0]), gamma=gamma).sum()

    for top in (15.0, 40.0, 1e4):
        z = jnp.array([[top, 0.0, -1.0]])
        assert np.all(np.isfinite(jax.hessian(f)(z)))
        assert np.all(np.isfinite(jax.grad(f)(z)))
    # against float64 autodiff of the plain formula at 15
    with jax.enable_x64(True):
        z = jnp.array([[15.0, 0.0, -1.0]], jnp.float64)

        def plain(z):
            p = jax.nn.softmax(z)[0, 0]
            return -((1 - p) ** gamma) * jnp.log(p)

        np.testing.assert_allclose(jax.hessian(f)(z), jax.hessian(plain)(z), rtol=1e-6,
                                   atol=1e-300)


def test_focal_minus_inf_logit_without_target_mass():
    z = jnp.array([[-jnp.inf, 0.0, 0.0]])
    labels = jnp.array([[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(losses.focal(z, labels, gamma=0.0), [np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(losses.focal(z, labels, gamma=2.0), [0.25 * np.log(2)], rtol=1e-6)
    g = jax.grad(lambda z: losses.focal(z, labels, gamma=2.0).sum())(z)
    assert np.all(np.isfinite(g)) and g[0, 0] == 0
    assert losses.focal(z, jnp.array([0]), gamma=2.0)[0] == np.inf


# 6. multi_margin with a -inf score.
def test_multi_margin_minus_inf_score():
    s = jnp.array([[-jnp.inf, 0.5, 0.2]])
    want = max(0.0, 1 - 0.5 + 0.2) / 3  # the -inf class is never within the margin
    for labels in (jnp.array([1]), jnp.array([[0.0, 1.0, 0.0]])):
        np.testing.assert_allclose(losses.multi_margin(s, labels), [want], rtol=1e-6)
        g = jax.grad(lambda s, y=labels: losses.multi_margin(s, y).sum())(s)
        np.testing.assert_allclose(g, [[0.0, -1 / 3, 1 / 3]], rtol=1e-6)
    assert losses.multi_margin(s, jnp.array([0]))[0] == np.inf  # true class scored -inf


# 7. Integer labels out of range.
@pytest.mark.parametrize("name", ["softmax_cross_entropy", "focal", "multi_margin",
                                  "one_hot_squared_error", "squentropy"])
@pytest.mark.parametrize("bad", [5, 3, -1])
def test_out_of_range_labels(name, bad):
    fn = losses.get(name)
    z = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=f"labels.*{bad}"):
        fn(z, jnp.array([0, bad]))
    # traced: NaN for that example (documented), the others unaffected
    out = jax.jit(fn)(z, jnp.array([0, bad]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_ignore_index():
    z = jnp.array([[1.0, 2.0, 0.5], [0.0, 3.0, 1.0]])
    got = losses.softmax_cross_entropy(z, jnp.array([2, -100]), ignore_index=-100)
    want = losses.softmax_cross_entropy(z[:1], jnp.array([2]))
    np.testing.assert_allclose(got, [want[0], 0.0], rtol=1e-6)
    g = jax.grad(lambda z: losses.softmax_cross_entropy(z, jnp.array([2, -100]),
                                                        ignore_index=-100).sum())(z)
    np.testing.assert_array_equal(g[1], [0, 0, 0])


# 8. Robust losses: large finite inputs give finite values (close to the truth) and gradients.
@pytest.mark.parametrize(
    "name,knobs,dtype,x",
    [
        ("pseudo_huber", {}, jnp.float16, 256.0),
        ("geman_mcclure", {}, jnp.float16, 200.0),
        ("geman_mcclure", {}, jnp.float32, 1e20),
        ("pseudo_huber", {}, jnp.float32, 1e30),
        ("geman_mcclure", {}, jnp.float32, 1e30),
        ("general_robust", {"alpha": 1.0}, jnp.float32, 1e30),
        ("general_robust", {"alpha": -2.0}, jnp.float32, 1e30),
        ("robust_nll", {"alpha": 1.0}, jnp.float32, 1e30),
        ("cauchy", {}, jnp.float32, 1e30),
        ("general_robust", {"alpha": 0.0}, jnp.float32, 1e30),
    ],
)
def test_robust_losses_large_finite_inputs(name, knobs, dtype, x):
    fn = losses.get(name, **knobs)
    xs = jnp.asarray([x, -x], dtype)
    v, g = jax.value_and_grad(lambda q: fn(q).astype(jnp.float32).sum())(xs)
    assert np.isfinite(v) and np.all(np.isfinite(g)), (v, g)
    truth = {  # float64 asymptotics at |x| = x, scale 1
        "pseudo_huber": abs(x) - 1,
        "geman_mcclure": 2.0,
        "cauchy": 2 * np.log(x) - np.log(2),
    }
    key = {"general_robust": {1.0: "pseudo_huber", -2.0: "geman_mcclure", 0.0: "cauchy"}}
    ref = truth.get(key.get(name, {}).get(knobs.get("alpha"), name))
    if ref is not None:
        np.testing.assert_allclose(np.asarray(fn(xs), np.float64), [ref, ref], rtol=1e-2)


# A NaN input gives a NaN value, never a silent 0 (divergence detection relies on it).
def _nan_inputs(name):
    if losses.task(name) == "regression":
        if name == "cosine_distance":
            return jnp.array([[np.nan, 0.5], [1.0, 2.0]]), jnp.ones((2, 2))
        return jnp.array([np.nan, 0.5]), jnp.array([0.0, 2.0])
    z = jnp.array([[np.nan, 0.5, -1.0], [0.2, 0.1, 0.3]])  # the NaN on a wrong class
    labels = {
        "sigmoid_binary_cross_entropy": jnp.array([[0.0, 1, 0.3], [0, 1, 0]]),
        "sigmoid_focal": jnp.array([[0.0, 1, 0.3], [0, 1, 0]]),
        "hinge": jnp.array([[1.0, -1, 1], [-1, 1, 1]]),
        "perceptron": jnp.array([[1.0, -1, 1], [-1, 1, 1]]),
        "kl_divergence": jnp.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]),
        "generalized_kl_divergence": jnp.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]),
    }
    return z, labels.get(name, jnp.array([1, 0]))


@pytest.mark.parametrize(  # representation losses: tests/test_losses_v3.py
    "name", [n for n in losses.names() if losses.task(n) != "representation"])
def test_nan_input_gives_nan(name):
    x, y = _nan_inputs(name)
    out = np.asarray(losses.get(name)(x, y)).reshape(-1)
    assert np.isnan(out[0]) and np.all(np.isfinite(out[1:])), out
