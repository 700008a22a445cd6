"""Losses robust to label noise (losses/noise_robust.py): each paper's formula from an independent
numpy implementation, the limits that relate them to cross-entropy and MAE, Keras 3's
CategoricalGeneralizedCrossEntropy values, and the class-loss options (where, ignore_index,
probability labels, dtype, extremes)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losses
from losses import noise_robust

RNG = np.random.default_rng(31)
LOGITS = RNG.normal(size=(64, 7)) * 3
LABELS = RNG.integers(0, 7, size=64)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _p_true(z, y):
    return _softmax(np.asarray(z, np.float64))[np.arange(len(y)), y]


def test_mae_probabilities_is_the_l1_distance_to_one_hot():
    # Ghosh et al. 2017: Σ_j |p_j - e_y,j| = 2(1 - p_y).
    p = _softmax(LOGITS)
    expected = np.abs(p - np.eye(7)[LABELS]).sum(-1)
    np.testing.assert_allclose(noise_robust.mae_probabilities(LOGITS, LABELS), expected, rtol=1e-5)
    np.testing.assert_allclose(expected, 2 * (1 - _p_true(LOGITS, LABELS)), rtol=1e-12)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.7, 1.0])
def test_generalized_cross_entropy_is_zhang_sabuncu(q):
    expected = (1 - _p_true(LOGITS, LABELS) ** q) / q
    np.testing.assert_allclose(noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=q),
                               expected, rtol=1e-5, atol=1e-7)


def test_generalized_cross_entropy_limits():
    ce = np.asarray(losses.softmax_cross_entropy(LOGITS, LABELS))
    np.testing.assert_allclose(noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=0.0), ce,
                               rtol=1e-6)
    # q → 0 approaches CE continuously: |L_q - CE| ≈ q·CE²/2 (the Box-Cox expansion).
    small = np.asarray(noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=1e-4))
    np.testing.assert_allclose(small, ce - 1e-4 * ce**2 / 2, rtol=1e-4, atol=1e-6)
    # q = 1: 1 - p_y, half of MAE on probabilities.
    np.testing.assert_allclose(noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=1.0),
                               np.asarray(noise_robust.mae_probabilities(LOGITS, LABELS)) / 2,
                               rtol=1e-5)


@pytest.mark.parametrize("alpha,beta,log_zero", [(0.1, 1.0, -4.0), (6.0, 0.1, -4.0),
                                                 (1.0, 1.0, -9.21)])
def test_symmetric_cross_entropy_is_wang_et_al(alpha, beta, log_zero):
    # α·CE + β·RCE, RCE = -Σ_k p_k log t_k with log 0 := A, for a one-hot t: -A(1 - p_y).
    p = _softmax(LOGITS)
    t = np.eye(7)[LABELS]
    log_t = np.where(t > 0, np.log(np.maximum(t, 1e-300)), log_zero)
    expected = alpha * -np.log(p[np.arange(64), LABELS]) + beta * -(p * log_t).sum(-1)
    got = noise_robust.symmetric_cross_entropy(LOGITS, LABELS, alpha=alpha, beta=beta,
                                               log_zero=log_zero)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # The same with the target as a probability vector.
    np.testing.assert_allclose(
        noise_robust.symmetric_cross_entropy(LOGITS, t, alpha=alpha, beta=beta, log_zero=log_zero),
        expected, rtol=1e-5)


def test_probability_labels_match_integer_labels_and_soft_targets():
    onehot = np.eye(7)[LABELS]
    for fn in (noise_robust.mae_probabilities, noise_robust.generalized_cross_entropy):
        np.testing.assert_allclose(fn(LOGITS, onehot), fn(LOGITS, LABELS), rtol=1e-5, atol=1e-7)
    soft = _softmax(RNG.normal(size=(64, 7)))
    p = _softmax(LOGITS)
    np.testing.assert_allclose(noise_robust.mae_probabilities(LOGITS, soft),
                               np.abs(p - soft).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(noise_robust.generalized_cross_entropy(LOGITS, soft, q=0.7),
                               (soft * (1 - p**0.7) / 0.7).sum(-1), rtol=1e-5)
    rce = -(p * np.maximum(np.log(soft), -4.0)).sum(-1)
    np.testing.assert_allclose(
        noise_robust.symmetric_cross_entropy(LOGITS, soft, alpha=0.0, beta=1.0), rce, rtol=1e-5)


# Keras 3.15.1, keras.losses.categorical_generalized_cross_entropy(y_true, y_pred, q) on the
# probabilities below (recorded 2026-12-07 with KERAS_BACKEND=jax; keras is not a dependency:
# the live comparison below runs only where it is installed).
KERAS_PROBS = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25], [0.98, 0.01, 0.01]], np.float32)
KERAS_LABELS = np.array([2, 1, 0])
KERAS_VALUES = {
    0.5: [0.32667994499206543, 1.0, 0.020100951194763184],
    0.7: [0.31563445925712585, 0.8872441053390503, 0.02006053924560547],
    0.1: [0.35038888454437256, 1.2944942712783813, 0.020182132720947266],
}


@pytest.mark.parametrize("q", sorted(KERAS_VALUES))
def test_generalized_cross_entropy_matches_keras_recorded_values(q):
    got = noise_robust.generalized_cross_entropy(np.log(KERAS_PROBS), KERAS_LABELS, q=q)
    # Keras forms 1 - p**q in float32 (cancellation near p = 1: 1e-5 relative at p = 0.98).
    np.testing.assert_allclose(got, KERAS_VALUES[q], rtol=1e-5)


def test_generalized_cross_entropy_matches_keras_live(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    probs = _softmax(LOGITS).astype(np.float32)
    for q in (0.3, 0.7):
        theirs = keras.losses.categorical_generalized_cross_entropy(LABELS, probs, q)
        np.testing.assert_allclose(noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=q),
                                   np.asarray(theirs), rtol=1e-4, atol=1e-6)


def test_registry_names_aliases_and_knobs():
    assert losses.canonical("gce") == "generalized_cross_entropy"
    assert losses.canonical("sce") == "symmetric_cross_entropy"
    assert losses.knobs("generalized_cross_entropy") == {"q": 0.7}
    assert losses.knobs("symmetric_cross_entropy") == {"alpha": 1.0, "beta": 1.0, "log_zero": -4.0}
    assert losses.task("mae_probabilities") == "classification"


NAMES = ("mae_probabilities", "generalized_cross_entropy", "symmetric_cross_entropy")


@pytest.mark.parametrize("name", NAMES)
def test_where_ignore_index_dtype_and_extremes(name):
    fn = losses.get(name)
    z = jnp.asarray(LOGITS[:4], jnp.bfloat16)
    out = fn(z, LABELS[:4])
    assert out.dtype == jnp.bfloat16 and out.shape == (4,)
    bad = jnp.asarray(LOGITS[:4]).at[1].set(jnp.nan)
    masked = fn(bad, LABELS[:4], where=np.array([True, False, True, True]))
    assert masked[1] == 0 and np.isfinite(masked).all()
    grad = jax.grad(lambda x: fn(x, LABELS[:4], where=np.array([1, 0, 1, 1], bool)).sum())(bad)
    assert np.isfinite(grad).all() and not np.asarray(grad[1]).any()
    labels = LABELS[:4].copy()
    labels[2] = -100
    ignored = fn(LOGITS[:4], labels, ignore_index=-100)
    assert ignored[2] == 0
    # Huge logits (p_y ≈ 1 and p_y ≈ 0): finite value and gradient, no precision lost.
    huge = jnp.array([[1e30, 0.0, -1e30], [0.0, 1e30, 0.0]], jnp.float32)
    value, grad = jax.value_and_grad(lambda x: fn(x, np.array([0, 0])).sum())(huge)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert fn(huge, np.array([0, 0]))[0] == 0
    with pytest.raises(ValueError, match="labels"):
        fn(LOGITS[:4], np.array([0, 1, 7, 0]))


def test_bounded_losses_saturate_where_cross_entropy_does_not():
    # A confidently wrong example (a flipped label): CE grows with the logit gap, MAE and GCE stay
    # below their bounds 2 and 1/q, and their gradients fade.
    z = jnp.array([[40.0, 0.0, 0.0]])
    y = np.array([1])
    assert float(losses.softmax_cross_entropy(z, y)[0]) > 39
    assert float(noise_robust.mae_probabilities(z, y)[0]) == pytest.approx(2.0)
    assert float(noise_robust.generalized_cross_entropy(z, y, q=0.7)[0]) == pytest.approx(1 / 0.7)
    for fn in (noise_robust.mae_probabilities, noise_robust.generalized_cross_entropy):
        assert np.abs(jax.grad(lambda x, fn=fn: fn(x, y).sum())(z)).max() < 1e-6


@pytest.mark.parametrize("kwargs,field", [({"q": 1.5}, "q"), ({"q": -0.1}, "q")])
def test_gce_rejects_bad_q(kwargs, field):
    with pytest.raises(ValueError, match=field):
        noise_robust.generalized_cross_entropy(LOGITS, LABELS, **kwargs)


@pytest.mark.parametrize("kwargs,field", [({"alpha": -1.0}, "alpha"), ({"beta": np.inf}, "beta"),
                                          ({"log_zero": 0.0}, "log_zero")])
def test_sce_rejects_bad_knobs(kwargs, field):
    with pytest.raises(ValueError, match=field):
        noise_robust.symmetric_cross_entropy(LOGITS, LABELS, **kwargs)


def test_traced_knobs_under_vmap():
    qs = jnp.array([0.0, 0.5, 1.0])
    out = jax.jit(jax.vmap(lambda q: noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=q)))(
        qs)
    np.testing.assert_allclose(out[0], losses.softmax_cross_entropy(LOGITS, LABELS), rtol=1e-5)
    np.testing.assert_allclose(out[2], 1 - _p_true(LOGITS, LABELS), rtol=1e-5, atol=1e-7)
    g = jax.grad(lambda q: noise_robust.generalized_cross_entropy(LOGITS, LABELS, q=q).sum())(0.0)
    assert np.isfinite(g)
