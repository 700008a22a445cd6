"""Classification losses against optax and hand-computed torch-convention values."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import losses

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 5)).astype(np.float32) * 3
LABELS = np.array([0, 4, 2, 2, 1, 3])
PROBS = RNG.dirichlet(np.ones(5), size=6).astype(np.float32)


def log_softmax_np(z):
    z = z.astype(np.float64)
    m = z.max(-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def test_softmax_cross_entropy_matches_optax():
    z = jnp.asarray(LOGITS)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(z, LABELS),
        optax.losses.softmax_cross_entropy_with_integer_labels(z, LABELS),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(z, PROBS),
        optax.losses.softmax_cross_entropy(z, PROBS),
        rtol=1e-6,
    )


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_label_smoothing_torch_convention(eps):
    c = LOGITS.shape[-1]
    target = (1 - eps) * np.eye(c)[LABELS] + eps / c
    ref = -(target * log_softmax_np(LOGITS)).sum(-1)
    got = losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=eps)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    got = losses.softmax_cross_entropy(
        LOGITS, np.eye(c)[LABELS].astype(np.float32), label_smoothing=eps
    )
    np.testing.assert_allclose(got, ref, rtol=1e-5)


@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("use_where", [True, False])
def test_masked_classes_no_nan(eps, use_where):
    valid = np.array([True, True, False, True, False])
    z = np.where(valid, LOGITS, -np.inf).astype(np.float32)
    labels = np.array([0, 1, 3, 0, 1, 3])
    where = valid[None] if use_where else None  # a class mask has the logits' ndim
    # reference: cross-entropy over the 3 valid classes only, smoothing ε/3
    sub = LOGITS[:, valid]
    sub_labels = np.searchsorted(np.flatnonzero(valid), labels)
    target = (1 - eps) * np.eye(3)[sub_labels] + eps / 3
    ref = -(target * log_softmax_np(sub)).sum(-1)
    f = lambda z: losses.softmax_cross_entropy(z, labels, label_smoothing=eps, where=where)
    if eps and not use_where:
        # -inf logits are probability 0: smoothing mass on them gives +inf (mask them instead)
        assert np.all(f(z) == np.inf)
        return
    np.testing.assert_allclose(f(z), ref, rtol=1e-5)
    g = jax.grad(lambda z: f(z).sum())(jnp.asarray(z))
    assert np.all(np.isfinite(g))
    assert np.all(np.asarray(g)[:, ~valid] == 0)
    # with probability labels too
    probs = np.eye(5, dtype=np.float32)[labels]
    fp = lambda z: losses.softmax_cross_entropy(z, probs, label_smoothing=eps, where=where)
    np.testing.assert_allclose(fp(z), ref, rtol=1e-5)
    assert np.all(np.isfinite(jax.grad(lambda z: fp(z).sum())(jnp.asarray(z))))


def test_where_masks_finite_logits_and_all_masked_row_is_zero():
    where = np.ones_like(LOGITS, bool)
    where[:, 1] = False
    where[5] = False
    got = losses.softmax_cross_entropy(LOGITS, LABELS % 1, where=where)
    ref = -log_softmax_np(LOGITS[:, [0, 2, 3, 4]])[:, 0]
    np.testing.assert_allclose(got[:5], ref[:5], rtol=1e-5)
    assert got[5] == 0
    g = jax.grad(lambda z: losses.softmax_cross_entropy(z, LABELS % 1, where=where).sum())(LOGITS)
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[5] == 0)


def test_sigmoid_binary_cross_entropy():
    z = jnp.asarray(LOGITS)
    y = (PROBS > 0.2).astype(np.float32)
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(z, y),
        optax.losses.sigmoid_binary_cross_entropy(z, y),
        rtol=1e-5,
        atol=1e-6,
    )
    big = jnp.array([-1e4, 1e4, 30.0])
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(big, jnp.array([1, 0, 0])), [1e4, 1e4, 30.0], rtol=1e-6
    )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_multi_margin_torch_convention(p, margin):
    n, c = LOGITS.shape
    ref = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != LABELS[i]:
                ref[i] += max(0.0, margin - LOGITS[i, LABELS[i]] + LOGITS[i, j]) ** p
    ref /= c
    got = losses.multi_margin(LOGITS, LABELS, margin=margin, p=p)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    one_hot = np.eye(c, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(
        losses.multi_margin(LOGITS, one_hot, margin=margin, p=p), ref, rtol=1e-5, atol=1e-6
    )


def test_multi_margin_chosen_values_and_difference_from_crammer_singer():
    s = np.array([[0.1, 0.2, 0.4, 0.8]], np.float32)
    # torch.nn.functional.multi_margin_loss(s, [3]) documented example: 0.3250
    np.testing.assert_allclose(losses.multi_margin(s, np.array([3])), [0.325], rtol=1e-5)
    # Crammer-Singer (optax) takes the max, not the mean of the sum
    np.testing.assert_allclose(
        optax.losses.multiclass_hinge_loss(s, np.array([3])), [0.6], rtol=1e-5
    )


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal(gamma):
    logp = log_softmax_np(LOGITS)[np.arange(6), LABELS]
    ref = -((1 - np.exp(logp)) ** gamma) * logp
    np.testing.assert_allclose(losses.focal(LOGITS, LABELS, gamma=gamma), ref, rtol=1e-5)
    one_hot = np.eye(5, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(losses.focal(LOGITS, one_hot, gamma=gamma), ref, rtol=1e-5)
    if gamma == 0:
        np.testing.assert_allclose(
            losses.focal(LOGITS, LABELS, gamma=0.0),
            losses.softmax_cross_entropy(LOGITS, LABELS),
            rtol=1e-6,
        )
    # finite gradient when p_y -> 1, including γ < 1
    z = jnp.array([[50.0, 0.0, -3.0], [1e4, -1e4, 0.0]])
    g = jax.grad(lambda z: losses.focal(z, jnp.array([0, 0]), gamma=gamma).sum())(z)
    assert np.all(np.isfinite(g))


def test_one_hot_squared_error():
    k, m = 3.0, 2.0
    c = LOGITS.shape[-1]
    ref = np.zeros(6)
    for i in range(6):
        for j in range(c):
            ref[i] += k * (LOGITS[i, j] - m) ** 2 if j == LABELS[i] else LOGITS[i, j] ** 2
    ref /= c
    np.testing.assert_allclose(
        losses.one_hot_squared_error(LOGITS, LABELS, k=k, m=m), ref, rtol=1e-5
    )
    one_hot = np.eye(c, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(
        losses.one_hot_squared_error(LOGITS, LABELS), ((LOGITS - one_hot) ** 2).mean(-1), rtol=1e-5
    )


@pytest.mark.parametrize(
    "fn,kn",
    [
        (losses.softmax_cross_entropy, {"label_smoothing": -0.1}),
        (losses.softmax_cross_entropy, {"label_smoothing": 1.5}),
        (losses.focal, {"gamma": -1.0}),
        (losses.multi_margin, {"margin": -1.0}),
        (losses.multi_margin, {"p": 3}),
        (losses.one_hot_squared_error, {"k": 0.0}),
        (losses.one_hot_squared_error, {"m": -1.0}),
    ],
)
def test_invalid_knobs_raise(fn, kn):
    ((knob, value),) = kn.items()
    with pytest.raises(ValueError, match=f"{knob}={value}"):
        fn(LOGITS, LABELS, **kn)


@pytest.mark.parametrize(
    "name",
    [
        "softmax_cross_entropy",
        "multi_margin",
        "focal",
        "one_hot_squared_error",
        "sigmoid_binary_cross_entropy",
    ],
)
def test_label_shapes(name):
    f = losses.get(name)
    with pytest.raises(ValueError, match="shape"):
        f(LOGITS, LABELS[:5])
    with pytest.raises(ValueError, match="shape"):
        f(LOGITS, np.zeros((6, 4), np.float32))


def test_float_labels_with_index_shape_raise():
    with pytest.raises(ValueError, match="integer"):
        losses.softmax_cross_entropy(LOGITS, LABELS.astype(np.float32))
