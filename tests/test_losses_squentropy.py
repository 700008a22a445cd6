"""squentropy (Hui, Belkin & Wright 2023) against an independent numpy implementation, its
limits, and the conventions it shares with the other multiclass losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losses

RNG = np.random.default_rng(3)
LOGITS = RNG.normal(size=(6, 5)).astype(np.float32) * 3
LABELS = np.array([0, 4, 2, 2, 1, 3])
PROBS = RNG.dirichlet(np.ones(5), size=6).astype(np.float32)


def squentropy_np(z, t):
    """The paper's eq. (1) written out in float64, one example at a time, with dense targets t:
    -Σ t_j log p_j + Σ_j (1 - t_j) z_j² / (C - 1)."""
    z, t = np.asarray(z, np.float64), np.asarray(t, np.float64)
    out = np.zeros(z.shape[0])
    for i in range(z.shape[0]):
        log_p = z[i] - np.log(np.sum(np.exp(z[i])))
        out[i] = -np.sum(t[i] * log_p) + np.sum((1 - t[i]) * z[i] ** 2) / (z.shape[1] - 1)
    return out


def test_matches_numpy_for_index_and_probability_labels():
    one_hot = np.eye(5)[LABELS]
    np.testing.assert_allclose(losses.squentropy(LOGITS, LABELS), squentropy_np(LOGITS, one_hot),
                               rtol=1e-5)
    np.testing.assert_allclose(jax.jit(losses.squentropy)(LOGITS, PROBS),
                               squentropy_np(LOGITS, PROBS), rtol=1e-5)
    np.testing.assert_allclose(losses.squentropy(LOGITS, one_hot.astype(np.float32)),
                               losses.squentropy(LOGITS, LABELS), rtol=1e-6)


def test_authors_convention_sum_of_wrong_squares_over_c_minus_1_plus_ce():
    # The authors' code: (Σ f² - Σ f_y²)/(C - 1)/batch + torch's mean cross-entropy.
    z = LOGITS.astype(np.float64)
    rows = np.arange(6)
    theirs = ((z**2).sum() - (z[rows, LABELS] ** 2).sum()) / 4 / 6 + np.mean(
        np.log(np.exp(z).sum(-1)) - z[rows, LABELS])
    got = losses.reduce(losses.squentropy(LOGITS, LABELS), reduction="mean")
    np.testing.assert_allclose(got, theirs, rtol=1e-5)


def test_limits():
    # Two classes: CE + the wrong logit squared (C - 1 = 1).
    z = np.array([[2.0, -1.5]], np.float32)
    want = np.log(np.exp(2.0) + np.exp(-1.5)) - 2.0 + 1.5**2
    np.testing.assert_allclose(losses.squentropy(z, np.array([0])), [want], rtol=1e-6)
    # Wrong logits all 0: exactly the cross-entropy.
    z = np.array([[0.0, 7.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(losses.squentropy(z, np.array([1])),
                               losses.softmax_cross_entropy(z, np.array([1])), rtol=1e-6)
    # The minimum over a confident true logit: CE → 0 and the square term stays 0.
    assert float(losses.squentropy(np.array([[30.0, 0.0, 0.0]]), np.array([0]))[0]) < 1e-12


def test_gradient_is_softmax_minus_target_plus_the_square_term():
    z = jnp.asarray(LOGITS)
    t = np.eye(5)[LABELS]
    g = jax.grad(lambda z: losses.squentropy(z, LABELS).sum())(z)
    want = np.asarray(jax.nn.softmax(z)) - t + 2 * (1 - t) * LOGITS / 4
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32])
def test_dtype_kept_and_finite_for_large_logits(dtype):
    # float16's max is 65504: the values (~1e4) are representable, their squares' sum too.
    z = jnp.asarray([[100.0, -100.0, 50.0], [-150.0, 150.0, 0.0]], dtype)
    values = losses.squentropy(z, jnp.array([0, 0]))
    assert values.dtype == dtype and np.all(np.isfinite(np.asarray(values, np.float32)))
    g = jax.grad(lambda z: losses.squentropy(z, jnp.array([0, 0])).astype(jnp.float32).sum())(z)
    assert np.all(np.isfinite(np.asarray(g, np.float32)))


def test_minus_inf_true_logit_is_plus_inf_not_nan():
    z = jnp.array([[-jnp.inf, 0.5, 0.2]])
    assert losses.squentropy(z, jnp.array([0]))[0] == np.inf
    assert losses.squentropy(z, jnp.array([1]))[0] == np.inf  # a wrong logit squared


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="C=1"):
        losses.squentropy(np.zeros((3, 1), np.float32), np.array([0, 0, 0]))


def test_registered_under_its_name_with_no_knobs():
    assert losses.task("squentropy") == "classification" and losses.knobs("squentropy") == {}
    np.testing.assert_allclose(losses.get("squentropy")(LOGITS, LABELS),
                               losses.squentropy(LOGITS, LABELS))
