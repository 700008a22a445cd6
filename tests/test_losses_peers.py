"""The peers' own test cases, written afresh against losslab through a stated convention mapping.

Sources (expected values from their tests and documentation):
  * optax `optax/losses/_classification_test.py`, `_regression_test.py` (optax 0.2.8): same
    conventions as losslab except l2_loss = ½·squared_error; optax tests compare per-example
    values, or their mean where noted.
  * google-research `robust_loss_jax/general_test.py`: `general.lossfun(x, alpha, scale)` is
    `losses.general_robust(x, alpha=alpha, scale=scale)` (α traced, arrays per sample).
  * Keras `losses` documentation examples: Keras reduces with a mean over the last axis and then
    the batch; `from_logits=False` probabilities p enter losslab as logits log p.
  * torch.nn.functional documented formulas (`multi_margin_loss` example, `gaussian_nll_loss`,
    `poisson_nll_loss`): reduction="none" values; torch is not installed here, the formulas and
    the documented example values are the reference.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losses

# --- optax ---------------------------------------------------------------------------------------

def test_optax_softmax_cross_entropy_cases():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32)
    ts = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(losses.softmax_cross_entropy(ys, ts), [9.00013, 3.0696733],
                               rtol=1e-5)
    np.testing.assert_allclose(losses.softmax_cross_entropy(ys, np.array([1, 0])),
                               [9.00013, 3.0696733], rtol=1e-5)
    # optax's per-example mask [True, False] (SoftmaxCrossEntropyTest.mask)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(ys, ts, where=np.array([True, False])), [9.00013, 0.0],
        rtol=1e-5)


def test_optax_safe_softmax_cross_entropy_cases():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2], [-np.inf, 0.0, 0.0],
                   [-np.inf, 0.0, 0.0], [-np.inf, 0.0, -np.inf]], np.float32)
    ts = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.4, 0.3, 0.3],
                   [0.0, 1.0, 0.0]], np.float32)
    want = [9.00013, 3.0696733, 0.693147, np.inf, 0.0]
    for where in (None, np.ones_like(ys, bool)):
        np.testing.assert_allclose(losses.softmax_cross_entropy(ys, ts, where=where), want,
                                   rtol=1e-5)


@pytest.mark.parametrize(
    "preds,labels,mean",
    [([-1e9, -1e-9], [1.0, 0.0], 5e8), ([-1e9, -1e-9], [0.0, 1.0], 0.3465736),
     ([1e9, 1e-9], [1.0, 0.0], 0.3465736), ([1e9, 1e-9], [0.0, 1.0], 5e8),
     ([-1e9, 1e-9], [1.0, 0.0], 5e8), ([-1e9, 1e-9], [0.0, 1.0], 0.3465736),
     ([1e9, -1e-9], [1.0, 0.0], 0.3465736), ([1e9, -1e-9], [0.0, 1.0], 5e8),
     ([0.0, 0.0], [1.0, 0.0], 0.6931472), ([0.0, 0.0], [0.0, 1.0], 0.6931472)],
)
def test_optax_sigmoid_cross_entropy_cases(preds, labels, mean):
    got = losses.sigmoid_binary_cross_entropy(np.array(preds, np.float32), np.array(labels))
    np.testing.assert_allclose(losses.reduce(got), mean, rtol=1e-6)


def test_optax_huber_and_log_cosh_cases():
    ys = np.array([-2.0, 0.5, 0.0, 0.5, 2.0, 4.0, 132.0], np.float32)
    ts = np.array([0.0, -0.5, 0.0, 1.0, 1.0, 2.0, 0.3], np.float32)
    np.testing.assert_allclose(losses.huber(ys, ts, delta=1.0),
                               [1.5, 0.5, 0.0, 0.125, 0.5, 1.5, 131.2], rtol=1e-6)
    ys = np.array([500, -2.0, -1.0, 0.5, 1.0], np.float32)
    ts = np.array([-200, -1.5, 0.0, -1, 1.0], np.float32)
    np.testing.assert_allclose(losses.log_cosh(ys, ts),
                               [699.3068, 0.12011445, 0.4337809, 0.85544014, 0.0], atol=1e-5)
    np.testing.assert_allclose(losses.log_cosh(ys),
                               [499.30685, 1.3250027, 0.4337809, 0.12011451, 0.43378082],
                               atol=1e-5)


def test_optax_l2_and_squared_error_convention():
    ys = np.array([-2.0, -1.0, 0.5, 1.0], np.float32)
    ts = np.array([-1.5, 0.0, -1, 1.0], np.float32)
    np.testing.assert_allclose(losses.squared_error(ys, ts), (ys - ts) ** 2)
    np.testing.assert_allclose(0.5 * losses.squared_error(ys, ts), 0.5 * (ys - ts) ** 2)


def test_optax_cosine_distance_case():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32)
    ts = np.array([[0.0, 1.2, 0.2], [1.0, -0.3, 0.0]], np.float32)
    np.testing.assert_allclose(losses.cosine_distance(ys, ts), [0.9358251989, 1.0464068465],
                               rtol=1e-6)


def test_optax_kl_divergence_cases():
    log_ps = np.array([[-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026],
                       [-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971]])
    qs = np.array([[0.2, 0.2, 0.2, 0.1, 0.15, 0.15], [0.05, 0.03, 0.02, 0.3, 0.5, 0.0]])
    np.testing.assert_allclose(losses.kl_divergence(log_ps, qs), [0.8875577, 0.7592807],
                               atol=1e-4)
    log_qs = np.array([[-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971],
                       [-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026]])
    np.testing.assert_allclose(losses.kl_divergence(log_ps, log_qs, log_target=True),
                               [0.8875625, 0.7187435584901326], atol=1e-4)


def test_optax_hinge_and_perceptron_cases():
    labels = np.array([1.0, 0.0])
    scores = np.array([10.0, 20.0], np.float32)
    signed = 2 * labels - 1
    np.testing.assert_allclose(losses.hinge(scores, signed),
                               np.maximum(0, 1 - scores * signed))
    np.testing.assert_allclose(losses.perceptron(scores, signed),
                               np.maximum(0, -scores * signed))


# --- robust_loss_jax general_test.py -------------------------------------------------------------

def _barron_samples(n=20000, shift=0.0):
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(k1, (n,))
    alpha = jnp.round(jax.random.uniform(k2, (n,), minval=-16, maxval=3) * 10) / 10 + shift
    if not shift:
        alpha = jnp.where(alpha == 3, jnp.inf, jnp.where(alpha == -16, -jnp.inf, alpha))
    scale = jnp.exp(jax.random.normal(k3, (n,)) * 4.0) + 1e-5
    return x, alpha, scale


def _lossfun(x, a, c):
    return losses.general_robust(x, alpha=a, scale=c)


_GRADS = jax.jit(jax.grad(lambda x, a, c: _lossfun(x, a, c).sum(), (0, 1, 2)))
EPS300 = 300 * float(jnp.finfo(jnp.float32).eps)


def test_barron_properties_from_general_test():
    x, a, c = _barron_samples()
    loss = jax.jit(_lossfun)(x, a, c)
    d_x, d_a, d_c = _GRADS(x, a, c)
    finite_a = np.isfinite(np.asarray(a))
    for v in (loss, d_x, d_a, d_c):  # testLossAndGradientsAreFinite (finite α there)
        assert np.all(np.isfinite(np.asarray(v)[finite_a]))
    # testDerivativeIsMonotonicWrtX
    mask = finite_a & (np.abs(d_x) > EPS300)
    np.testing.assert_array_equal(np.sign(d_x[mask]), np.sign(x[mask]))
    # testLossIsNearZeroAtOrigin, testLossIsQuadraticNearOrigin
    near = np.abs(x) < 1e-5
    np.testing.assert_allclose(loss[near], 0, atol=1e-5)
    quad = np.abs(x) < 0.5 * c
    np.testing.assert_allclose(loss[quad], 0.5 * (x[quad] / c[quad]) ** 2, rtol=1e-5, atol=1e-2)
    # testLossIsBoundedWhenAlphaIsNegative
    neg = np.asarray(a) < 0
    a_clip = np.maximum(np.finfo(np.float32).min, np.asarray(a)[neg])
    assert np.all(np.asarray(loss)[neg] <= (a_clip - 2) / a_clip)
    # testDerivativeIsBoundedWhenAlphaIsBelow2 / Below1
    below2 = finite_a & (np.asarray(a) <= 2)
    assert np.all(np.abs(d_x[below2]) <= (np.abs(x[below2]) + EPS300) / c[below2] ** 2)
    below1 = finite_a & (np.asarray(a) <= 1)
    assert np.all(np.abs(d_x[below1]) <= (1 + EPS300) / c[below1])
    # testAlphaDerivativeIsPositive, testScaleDerivativeIsNegative
    assert np.all(np.asarray(d_a)[finite_a] > -EPS300)
    assert np.all(np.asarray(d_c)[finite_a] < EPS300)
    # testLossIsScaleInvariant
    mult = jnp.maximum(0.2, jnp.exp(jax.random.normal(jax.random.key(0), x.shape)))
    np.testing.assert_allclose(jax.jit(_lossfun)(mult * x, a, mult * c), loss, atol=1e-4,
                               rtol=1e-4)


@pytest.mark.parametrize(
    "alpha,true",
    [(-np.inf, lambda y: 1 - jnp.exp(-0.5 * y)), (-2.0, lambda y: 2 * y / (y + 4)),
     (0.0, lambda y: jnp.log(0.5 * y + 1)), (1.0, lambda y: jnp.sqrt(y + 1) - 1),
     (2.0, lambda y: 0.5 * y), (4.0, lambda y: y * y / 8 + y / 2),
     (np.inf, lambda y: jnp.exp(0.5 * y) - 1)],
)
def test_barron_special_cases_from_general_test(alpha, true):
    x = np.linspace(-20, 20, 1000).astype(np.float32)
    y = jnp.square(jnp.asarray(x) / 1.7)  # in float32 with jax, as general_test's truth
    for a in (alpha, jnp.float32(alpha)):  # concrete and traced α
        got = jax.jit(_lossfun)(x, a, 1.7) if not isinstance(a, float) else _lossfun(x, a, 1.7)
        # α = +∞ reaches e^69 here: one ulp of the exponent is 8e-6 relative (jit vs eager)
        rtol = 3e-5 if alpha == np.inf else 1e-5
        np.testing.assert_allclose(got, true(y), atol=1e-5, rtol=rtol)


def test_barron_gradient_matches_finite_differences():
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    n = 20000
    x = jax.random.normal(k1, (n,))
    a = jnp.round(jax.random.uniform(k2, (n,), minval=-16, maxval=3) * 10) / 10 + 0.05
    c = jax.random.uniform(k3, (n,), minval=0.5, maxval=1.5)
    fn = jax.jit(_lossfun)
    loss = fn(x, a, c)
    d_x, d_a, d_c = _GRADS(x, a, c)
    h = 1e-3
    np.testing.assert_allclose((fn(x + h, a, c) - loss) / h, d_x, atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose((fn(x, a + h, c) - loss) / h, d_a, atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose((fn(x, a, c + h) - loss) / h, d_c, atol=1e-2, rtol=1e-2)


# --- Keras documentation examples (mean over the last axis, then the batch) ----------------------

Y_TRUE = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)


def _keras_mean(values):
    return float(np.mean(np.asarray(values)))


def test_keras_regression_examples():
    y_pred = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32)
    assert _keras_mean(losses.squared_error(y_pred, Y_TRUE)) == pytest.approx(0.5)
    assert _keras_mean(losses.absolute_error(y_pred, Y_TRUE)) == pytest.approx(0.5)
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]], np.float32)
    assert _keras_mean(losses.huber(y_pred, Y_TRUE)) == pytest.approx(0.155, abs=1e-3)
    y_pred = np.array([[1.0, 1.0], [0.0, 0.0]], np.float32)
    assert _keras_mean(losses.log_cosh(y_pred, Y_TRUE)) == pytest.approx(0.108, abs=1e-3)
    # Poisson: y_pred - y_true·log(y_pred + ε) (log_input=False); Keras' ε is 1e-7
    poisson = losses.poisson_nll(y_pred, Y_TRUE, log_input=False, eps=1e-7)
    assert _keras_mean(poisson) == pytest.approx(0.5, abs=1e-3)


def test_keras_classification_examples():
    # CategoricalCrossentropy on probabilities: logits log p (a 0 probability is a -inf logit)
    y_true = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
    with np.errstate(divide="ignore"):
        log_p = np.log(np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], np.float32))
    assert _keras_mean(losses.softmax_cross_entropy(log_p, y_true)) == pytest.approx(1.177,
                                                                                       abs=1e-3)
    assert _keras_mean(losses.softmax_cross_entropy(log_p, np.array([1, 2]))) == \
        pytest.approx(1.177, abs=1e-3)
    # BinaryCrossentropy(from_logits=True)
    bce = losses.sigmoid_binary_cross_entropy(np.array([-18.6, 0.51, 2.94, -12.8], np.float32),
                                              np.array([0.0, 1.0, 0.0, 0.0]))
    assert _keras_mean(bce) == pytest.approx(0.865, abs=1e-3)
    # Hinge: Keras maps {0, 1} labels to ±1
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]], np.float32)
    assert _keras_mean(losses.hinge(y_pred, 2 * Y_TRUE - 1)) == pytest.approx(1.3, abs=1e-3)
    # CategoricalHinge = Crammer-Singer with margin 1 on one-hot (here partly all-zero) rows:
    # max(0, 1 + max_neg - pos), pos = Σ t·s, neg = max((1 - t)·s)
    pos = (Y_TRUE * y_pred).sum(-1)
    neg = ((1 - Y_TRUE) * y_pred).max(-1)
    assert float(np.mean(np.maximum(0, 1 + neg - pos))) == pytest.approx(1.4, abs=1e-3)
    np.testing.assert_allclose(losses.multiclass_hinge(y_pred[:1], Y_TRUE[:1]),
                               np.maximum(0, 1 + neg - pos)[:1], rtol=1e-6)
    # KLDivergence on probabilities, clipped to [1e-7, 1]: Keras sums over the last axis
    # (0.916 for the first example, 0 for the second) and means over the batch
    p = np.clip(y_pred, 1e-7, 1)
    assert _keras_mean(losses.kl_divergence(np.log(p), Y_TRUE)) == pytest.approx(0.458, abs=1e-3)
    # CosineSimilarity = -cosine = cosine_distance - 1
    cos = losses.cosine_distance(np.array([[1.0, 0.0], [1.0, 1.0]]),
                                 np.array([[0.0, 1.0], [1.0, 1.0]])) - 1
    assert _keras_mean(cos) == pytest.approx(-0.5, abs=1e-6)


# --- torch documented formulas and examples ---------------------------------------------

def test_torch_multi_margin_example():
    s = np.array([[0.1, 0.2, 0.4, 0.8]], np.float32)
    np.testing.assert_allclose(losses.multi_margin(s, np.array([3])), [0.325], rtol=1e-5)


def test_torch_cross_entropy_ignore_index_and_weight_mean():
    z = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 3.0]], np.float32)
    y = np.array([0, -100, 2])
    w = np.array([0.2, 1.0, 3.0], np.float32)
    values = losses.softmax_cross_entropy(z, y, weight=w, ignore_index=-100)
    # torch's mean: Σ w_y·nll / Σ w_y over the kept examples
    log_p = np.asarray(jax.nn.log_softmax(z.astype(np.float64)))
    want = -(w[0] * log_p[0, 0] + w[2] * log_p[2, 2]) / (w[0] + w[2])
    kept = y != -100
    got = losses.reduce(values, weights=np.where(kept, w[np.where(kept, y, 0)], 0)) * \
        np.where(kept, w[np.where(kept, y, 0)], 0).sum() / (w[0] + w[2])
    np.testing.assert_allclose(values[1], 0.0)
    np.testing.assert_allclose(float(values.sum()) / (w[0] + w[2]), want, rtol=1e-5)
    assert np.isfinite(got)


def test_torch_gaussian_and_poisson_nll_formulas():
    x, t, var = np.array([0.5, 2.0]), np.array([1.0, -1.0]), np.array([0.3, 2.0])
    np.testing.assert_allclose(losses.gaussian_nll(x, t, var),
                               0.5 * (np.log(var) + (x - t) ** 2 / var), rtol=1e-6)
    np.testing.assert_allclose(losses.gaussian_nll(x, t, var, full=True),
                               0.5 * (np.log(var) + (x - t) ** 2 / var) + 0.5 * np.log(2 * np.pi),
                               rtol=1e-6)
    k = np.array([0.0, 4.0])
    np.testing.assert_allclose(losses.poisson_nll(x, k), np.exp(x) - k * x, rtol=1e-6)
