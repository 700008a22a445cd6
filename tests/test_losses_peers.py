"""The peers' own test cases, written afresh against losslab through a stated convention mapping.

Sources (their cases and expected values; the tests here are written anew from them):
  * optax `optax/losses/_classification_test.py`, `_regression_test.py`, `_smoothing_test.py`
    (optax 0.2.8), and the newer cases of optax's integer cross-entropy stability and cosine
    mask-gradient tests. Same conventions as losslab, except: optax's l2_loss is
    ½·squared_error; optax's multiclass_perceptron_loss is multiclass_hinge(margin=0); optax's
    `where` of the logits' shape is losslab's class mask (`softmax_cross_entropy`,
    `kl_divergence`, `cosine_distance`).
  * google-research `robust_loss_jax/general_test.py`: `general.lossfun(x, alpha, scale)` is
    `losses.general_robust(x, alpha=alpha, scale=scale)`; their samples (PRNGKey(0), 100,000
    points) and tolerances, eager and jitted (chex's variants).
  * Keras `keras/src/losses/losses_test.py` (Keras 3): Keras' per-sample value is the mean over
    the last axis of the elementwise values (the sum for KL divergence and the categorical
    losses); reduction "sum_over_batch_size" is Σ w·v / (number of per-sample values),
    "sum" Σ w·v, None w·v, "mean_with_sample_weight" Σ w·v / Σ w (`losses.reduce`'s mean with
    weights). Probabilities (from_logits=False) enter losslab as logits: log p for the
    categorical losses (softmax(log p) renormalises p, as Keras does), log(p/(1-p)) of p
    clipped to [1e-7, 1-1e-7] for the binary ones; Keras' binary label smoothing is
    y(1-ε) + ε/2 on the labels; CategoricalFocalCrossentropy(alpha=a) is a·focal.
  * torch.nn.functional documented formulas and its test references (common_nn.py): reduction
    "none" values; torch is not installed here, the formulas are the reference.
"""

import functools

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import optax
import pytest

import losses

# --- optax ---------------------------------------------------------------------------------------

YS = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32)
TS = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
CE = np.array([9.00013, 3.0696733], np.float32)
LOG_PS = np.array([[-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026],
                   [-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971]])
QS = np.array([[0.2, 0.2, 0.2, 0.1, 0.15, 0.15], [0.05, 0.03, 0.02, 0.3, 0.5, 0.0]])


def test_optax_softmax_cross_entropy_cases():
    np.testing.assert_allclose(losses.softmax_cross_entropy(YS, TS), CE, rtol=1e-5)
    np.testing.assert_allclose(losses.softmax_cross_entropy(YS, np.array([1, 0])), CE,
                               rtol=1e-5)
    # scalar: one example of logits, its label a 0-d integer
    np.testing.assert_allclose(jax.jit(losses.softmax_cross_entropy)(YS[0], TS[0]), CE[0],
                               atol=1e-4)
    np.testing.assert_allclose(losses.softmax_cross_entropy(YS[0], np.int32(1)), CE[0],
                               atol=1e-4)
    # optax's per-example mask [True, False] (SoftmaxCrossEntropyTest.mask)
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(YS, TS, where=np.array([True, False])), [9.00013, 0.0],
        rtol=1e-5)


@pytest.mark.parametrize("labels", [TS, np.array([1, 0])], ids=["probs", "index"])
def test_optax_per_logit_mask_and_gradients(labels):
    # test_per_logit_mask: a row whose classes are all masked gives 0
    where = np.array([[1, 0, 0], [0, 0, 0]], bool)
    out = losses.softmax_cross_entropy(YS, labels, where=where)
    assert out[1] == 0
    # test_gradient: numerical check, and finite gradients under a per-example mask
    jax.test_util.check_grads(lambda z: losses.softmax_cross_entropy(z, labels), (YS,), order=1)
    g = jax.grad(lambda z: losses.softmax_cross_entropy(z, labels,
                                                        where=np.array([True, False])).sum())(YS)
    assert np.all(np.isfinite(g)) and np.all(g[1] == 0)


def test_optax_safe_softmax_cross_entropy_cases():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2], [-np.inf, 0.0, 0.0],
                   [-np.inf, 0.0, 0.0], [-np.inf, 0.0, -np.inf]], np.float32)
    ts = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.4, 0.3, 0.3],
                   [0.0, 1.0, 0.0]], np.float32)
    want = [9.00013, 3.0696733, 0.693147, np.inf, 0.0]
    for where in (None, np.ones_like(ys, bool)):
        np.testing.assert_allclose(losses.softmax_cross_entropy(ys, ts, where=where), want,
                                   rtol=1e-5)
    # test_against_plain_implementation: where nothing is -inf, value and gradient are the
    # plain formula's, -Σ t log softmax(z), gradient softmax(z) - t
    value, grad = jax.value_and_grad(losses.softmax_cross_entropy)(ys[0], ts[0])
    z64 = ys[0].astype(np.float64)
    p = np.exp(z64 - z64.max()) / np.exp(z64 - z64.max()).sum()
    np.testing.assert_allclose(value, -(ts[0] * np.log(p)).sum(), atol=1e-4)
    np.testing.assert_allclose(grad, p - ts[0], atol=1e-4)


def _mask(size, seed):
    mask = np.random.default_rng(seed).integers(2, size=size).astype(bool)
    mask[0] = True  # at least one entry kept
    return mask


@pytest.mark.parametrize("size", [5, 10])
def test_optax_where_drops_entries(size):
    rng = np.random.default_rng(size)
    preds, targets = rng.normal(size=size), rng.dirichlet(np.ones(size))
    mask = _mask(size, size)
    for fn, t in [(losses.softmax_cross_entropy, targets), (losses.kl_divergence, targets),
                  (functools.partial(losses.kl_divergence, log_target=True), np.log(targets)),
                  (losses.cosine_distance, rng.normal(size=size))]:
        np.testing.assert_allclose(fn(preds[mask], t[mask]), fn(preds, t, where=mask),
                                   atol=1e-4)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_optax_axis(axis):
    shape = (4, 5, 6)
    rng = np.random.default_rng(axis)
    preds = rng.normal(size=shape)
    probs = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    last = functools.partial(np.moveaxis, source=axis, destination=-1)
    for fn, t in [(losses.softmax_cross_entropy, probs), (losses.kl_divergence, probs),
                  (functools.partial(losses.kl_divergence, log_target=True), np.log(probs)),
                  (losses.cosine_distance, rng.normal(size=shape))]:
        np.testing.assert_allclose(fn(preds, t, axis=axis), fn(last(preds), last(t)), atol=1e-4)
    labels = rng.integers(shape[axis], size=shape[:axis] + shape[axis + 1:])
    np.testing.assert_allclose(losses.softmax_cross_entropy(preds, labels, axis=axis),
                               losses.softmax_cross_entropy(last(preds), labels), atol=1e-4)


@pytest.mark.parametrize("axis", [(1, 3), (3, 2), (2, 3), (-3, -1), (-1, -2), (-2, -1),
                                  (0, 1, 3), (-4, -3, -1)])
def test_optax_integer_labels_over_several_class_axes(axis):
    # optax's test_axes: the class index is the row-major flattening of the class axes, in
    # the order given
    shape, ndim = (2, 3, 4, 5), 4
    class_axes = tuple(a % ndim for a in axis)
    batch_axes = tuple(a for a in range(ndim) if a not in class_axes)
    class_shape = tuple(shape[a] for a in class_axes)
    batch_shape = tuple(shape[a] for a in batch_axes)
    num_classes = int(np.prod(class_shape))
    k1, k2 = jax.random.split(jax.random.key(42))
    flat = jax.random.uniform(k1, (*batch_shape, num_classes))
    labels = jax.random.randint(k2, batch_shape, 0, num_classes - 1)
    want = losses.softmax_cross_entropy(flat, labels)
    perm = batch_axes + class_axes
    logits = flat.reshape(batch_shape + class_shape).transpose(np.argsort(perm))
    assert logits.shape == shape
    np.testing.assert_allclose(losses.softmax_cross_entropy(logits, labels, axis=axis), want,
                               rtol=1e-6)


@pytest.mark.parametrize("dtype,offset", [(jnp.float32, 1e6), (jnp.float32, 1e8),
                                          (jnp.float16, 4096), (jnp.bfloat16, 256)])
@pytest.mark.parametrize("sign", [-1, 1])
def test_optax_uniform_logits_keep_log_c(dtype, offset, sign):
    logits = jnp.full((2, 3), sign * offset, dtype)
    for fn in (losses.softmax_cross_entropy, jax.jit(losses.softmax_cross_entropy)):
        got = fn(logits, jnp.array([0, 2]))
        assert got.dtype == logits.dtype
        np.testing.assert_allclose(np.asarray(got, np.float64), np.log(3),
                                   rtol=2 * float(jnp.finfo(dtype).eps))


@pytest.mark.parametrize("axis", [-1, 1, (1, 2), (2, 1)])
def test_optax_loss_and_gradient_invariant_to_a_logit_shift(axis):
    logits = jnp.arange(24, dtype=jnp.float32).reshape(2, 3, 4) / 8
    axes = tuple(a % 3 for a in ((axis,) if isinstance(axis, int) else axis))
    labels = jnp.ones(tuple(s for i, s in enumerate(logits.shape) if i not in axes), jnp.int32)

    def fn(x):
        return losses.softmax_cross_entropy(x, labels, axis=axis)

    for f in (fn, jax.jit(fn)):
        np.testing.assert_allclose(f(logits + 1e6), f(logits), rtol=1e-6)
    grad = jax.jit(jax.grad(lambda x: fn(x).sum()))
    np.testing.assert_allclose(grad(logits + 1e6), grad(logits), atol=1e-7)


def test_optax_masks_and_minus_inf_with_huge_logits():
    # a masked class's huge logit does not set the shift
    def masked(x):
        return losses.softmax_cross_entropy(x, jnp.array([0]),
                                            where=jnp.array([[True, True, False]]))

    logits = jnp.array([[0.0, 0.0, 1e8]])
    np.testing.assert_allclose(jax.jit(masked)(logits), [np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(jax.grad(lambda x: masked(x).sum())(logits), [[-0.5, 0.5, 0.0]])

    # all examples masked: zero loss and gradient
    def none_kept(x):
        return losses.softmax_cross_entropy(x, jnp.array([0, 1]), where=jnp.array([False, False]))

    big = jnp.full((2, 3), 1e8)
    np.testing.assert_array_equal(jax.jit(none_kept)(big), [0.0, 0.0])
    np.testing.assert_array_equal(jax.jit(jax.grad(lambda x: none_kept(x).sum()))(big),
                                  np.zeros((2, 3)))
    # a -inf logit beside huge finite ones
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(jnp.array([[1e8, -jnp.inf, 1e8]]), jnp.array([0])),
        [np.log(2)], rtol=1e-6)


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


def test_sigmoid_cross_entropy_small_when_confidently_right():
    # -log σ(z) = log1p(e^{-z}) for y = 1 (and the mirror for y = 0), as optax's log-sigmoid
    # form gives: softplus(z) - z rounds these to 0 or to multiples of ulp(z) in float32
    z = np.array([5.0, 10.0, 20.0, 30.0, -20.0], np.float32)
    y = np.array([1.0, 1.0, 1.0, 1.0, 0.0], np.float32)
    want = np.log1p(np.exp(-np.abs(z.astype(np.float64))))
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(z, y), want, rtol=1e-6)
    np.testing.assert_allclose(optax.losses.sigmoid_binary_cross_entropy(z, y), want, rtol=1e-6)


def test_optax_huber_and_log_cosh_cases():
    ys = np.array([-2.0, 0.5, 0.0, 0.5, 2.0, 4.0, 132.0], np.float32)
    ts = np.array([0.0, -0.5, 0.0, 1.0, 1.0, 2.0, 0.3], np.float32)
    np.testing.assert_allclose(losses.huber(ys, ts, delta=1.0),
                               [1.5, 0.5, 0.0, 0.125, 0.5, 1.5, 131.2], rtol=1e-6)
    np.testing.assert_allclose(jax.jit(losses.huber)(ys[0], ts[0]), 1.5, rtol=1e-6)
    ys = np.array([500, -2.0, -1.0, 0.5, 1.0], np.float32)
    ts = np.array([-200, -1.5, 0.0, -1, 1.0], np.float32)
    np.testing.assert_allclose(losses.log_cosh(ys, ts),
                               [699.3068, 0.12011445, 0.4337809, 0.85544014, 0.0], atol=1e-5)
    np.testing.assert_allclose(losses.log_cosh(ys),
                               [499.30685, 1.3250027, 0.4337809, 0.12011451, 0.43378082],
                               atol=1e-5)
    np.testing.assert_allclose(jax.jit(losses.log_cosh)(ys[0]), 499.30685, atol=1e-5)


def test_optax_l2_and_squared_error_convention():
    ys = np.array([-2.0, -1.0, 0.5, 1.0], np.float32)
    ts = np.array([-1.5, 0.0, -1, 1.0], np.float32)
    np.testing.assert_allclose(losses.squared_error(ys, ts), (ys - ts) ** 2)
    np.testing.assert_allclose(jax.jit(losses.squared_error)(ys[0], ts[0]), 0.25)
    np.testing.assert_allclose(0.5 * losses.squared_error(ys, ts), 0.5 * (ys - ts) ** 2)
    with pytest.raises(ValueError):  # test_shape_mismatch: no broadcasting
        jax.jit(losses.squared_error)(ys, ts[:, None])


def test_optax_cosine_distance_case():
    ys = np.array([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32)
    ts = np.array([[0.0, 1.2, 0.2], [1.0, -0.3, 0.0]], np.float32)
    want = np.array([0.9358251989, 1.0464068465])
    np.testing.assert_allclose(losses.cosine_distance(ys, ts), want, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(losses.cosine_distance)(ys[0], ts[0]), want[0], atol=1e-4)
    np.testing.assert_allclose(1 - losses.cosine_distance(ys, ts), 1 - want, atol=1e-4)


def test_optax_kl_divergence_cases():
    np.testing.assert_allclose(losses.kl_divergence(LOG_PS, QS), [0.8875577, 0.7592807],
                               atol=1e-4)
    np.testing.assert_allclose(jax.jit(losses.kl_divergence)(LOG_PS[0], QS[0]), 0.8875577,
                               atol=1e-4)
    log_qs = np.array([[-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971],
                       [-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026]])
    np.testing.assert_allclose(losses.kl_divergence(LOG_PS, log_qs, log_target=True),
                               [0.8875625, 0.7187435584901326], atol=1e-4)


def test_optax_hinge_perceptron_and_multiclass_cases():
    def signed(label):
        return 2.0 * np.asarray(label) - 1.0

    # binary: reference relu(1 - s·(2y - 1)) and relu(-s·(2y - 1))
    for labels, scores in [(1, 10.0), ([1, 0], [10.0, 20.0])]:
        s = np.asarray(scores, np.float32)
        np.testing.assert_allclose(losses.hinge(s, signed(labels)),
                                   np.maximum(0, 1 - s * signed(labels)), atol=1e-4)
        np.testing.assert_allclose(losses.perceptron(s, signed(labels)),
                                   np.maximum(0, -s * signed(labels)), atol=1e-4)
    # multiclass: max(s + 1 - onehot) - s_y; multiclass perceptron max(s) - s_y = margin 0
    scores = np.array([[10.0, 3.0], [11.0, -2.0]], np.float32)
    labels = np.array([1, 0])
    np.testing.assert_allclose(losses.multiclass_hinge(scores, labels), [8.0, 0.0], atol=1e-4)
    np.testing.assert_allclose(losses.multiclass_hinge(scores[0], np.int32(1)), 8.0, atol=1e-4)
    np.testing.assert_allclose(losses.multiclass_hinge(scores, labels, margin=0.0), [7.0, 0.0],
                               atol=1e-4)


def test_optax_smooth_labels_cases():
    for alpha, want in [(0.0, TS), (0.1, 0.9 * TS + 0.1 / 3), (1.0, np.full_like(TS, 1 / 3))]:
        np.testing.assert_allclose(jax.jit(losses.smooth_labels)(TS, alpha), want, atol=1e-4)
        np.testing.assert_allclose(jax.jit(losses.smooth_labels)(TS[0], alpha), want[0],
                                   atol=1e-4)


FOCAL_YS = np.array([[2.0, 0.1, -2.0], [0.3, -0.1, 1.2]], np.float32)
FOCAL_TS = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], np.float32)


def test_optax_sigmoid_focal_cases():
    rtol = 2e-5
    focal = jax.jit(losses.sigmoid_focal)
    bce = losses.sigmoid_binary_cross_entropy(FOCAL_YS, FOCAL_TS)
    np.testing.assert_allclose(focal(FOCAL_YS, FOCAL_TS, gamma=0.0), bce, rtol=rtol)
    z2 = np.array([[-1.0, 0.0, 1.0], [2.0, -2.0, 0.5]], np.float32)
    y2 = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], np.float32)
    np.testing.assert_allclose(focal(z2, y2, gamma=0.0),
                               losses.sigmoid_binary_cross_entropy(z2, y2), rtol=rtol)
    # test_scale: the focal factor is (1 - p_t)^γ
    p = 1 / (1 + np.exp(-FOCAL_YS.astype(np.float64)))
    p_t = p * FOCAL_TS + (1 - p) * (1 - FOCAL_TS)
    np.testing.assert_allclose(focal(FOCAL_YS, FOCAL_TS, gamma=2.0) / bce, (1 - p_t) ** 2,
                               rtol=rtol)
    # large and small logits with positive labels
    ones = np.ones(4, np.float32)
    for probs, alpha, factor in [([0.9, 0.98, 0.3, 0.99], 0.5, 2.0), ([0.1, 0.02, 0.09, 0.15],
                                                                       None, 1.0)]:
        z = np.log(np.array(probs) / (1 - np.array(probs))).astype(np.float32)
        ratio = losses.sigmoid_binary_cross_entropy(z, ones) / focal(z, ones, gamma=2.0,
                                                                     alpha=alpha)
        s = 1 / (1 + np.exp(-z.astype(np.float64)))
        np.testing.assert_allclose(ratio, factor / (1 - s) ** 2, rtol=rtol)
    # alpha = 1 keeps only the positives' cross-entropy, alpha = 0 only the negatives'
    np.testing.assert_allclose(focal(FOCAL_YS, FOCAL_TS, gamma=0.0, alpha=1.0), bce * FOCAL_TS,
                               rtol=rtol)
    assert np.all(focal(FOCAL_YS, FOCAL_TS, alpha=0.0)[FOCAL_TS == 1] == 0)
    assert np.all(focal(FOCAL_YS, FOCAL_TS, alpha=1.0)[FOCAL_TS == 0] == 0)
    assert np.all(bce > 0)


def test_optax_sigmoid_focal_extreme_logits_soft_labels():
    z = jnp.array([100.0, -100.0, 75.0, -75.0, 50.0, -50.0])
    y = jnp.array([0.9, 0.1, 0.8, 0.2, 1.0, 0.0])

    def total(z):
        return jnp.sum(jax.jit(losses.sigmoid_focal)(z, y, gamma=0.5))

    for value in (total(z), jax.grad(total)(z), jax.hessian(total)(z)):
        assert np.all(np.isfinite(np.asarray(value)))


def _cosine_reference(first, second, mask):
    a, b = np.asarray(first, np.float64)[mask], np.asarray(second, np.float64)[mask]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cosine = a @ b / (na * nb)
    grad_a, grad_b = np.zeros(len(first)), np.zeros(len(second))
    grad_a[mask] = b / (na * nb) - cosine * a / na**2
    grad_b[mask] = a / (na * nb) - cosine * b / nb**2
    return cosine, grad_a, grad_b


@pytest.mark.parametrize("invalid", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("operand", ["first", "second", "both"])
@pytest.mark.parametrize("compiled", [False, True])
def test_optax_cosine_mask_excludes_nonfinite_values(invalid, operand, compiled):
    first = np.array([1.0, 5.0, 2.0], np.float32)
    second = np.array([2.0, 3.0, 1.0], np.float32)
    if operand in ("first", "both"):
        first[1] = invalid
    if operand in ("second", "both"):
        second[1] = invalid
    mask = np.array([True, False, True])
    cosine, grad_a, grad_b = _cosine_reference(first, second, mask)
    fn = jax.value_and_grad(
        lambda a, b: 1 - losses.cosine_distance(a, b, where=mask), argnums=(0, 1))
    fn = jax.jit(fn) if compiled else fn
    value, grads = fn(jnp.asarray(first), jnp.asarray(second))
    np.testing.assert_allclose(value, cosine, rtol=2e-6)
    for got, want in zip(grads, (grad_a, grad_b), strict=True):
        assert np.all(np.isfinite(got)) and float(got[1]) == 0.0
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("axis", [-1, 0, None, (0, 1)])
def test_optax_cosine_axes_and_broadcast_masks(axis):
    first = np.array([[1.0, np.nan, 2.0], [2.0, np.inf, 3.0]], np.float32)
    second = np.array([[2.0, 6.0, 1.0], [3.0, 8.0, 2.0]], np.float32)
    mask = np.array([[True, False, True]])
    clean_a, clean_b = np.where(mask, first, 0), np.where(mask, second, 0)

    def reference(a, b):  # optax's ε: the squared norms clamped at 1e-5
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        na = np.sqrt(np.maximum((a * a).sum(axis=axis), 1e-5))
        nb = np.sqrt(np.maximum((b * b).sum(axis=axis), 1e-5))
        return ((a * b).sum(axis=axis) / (na * nb)).sum()

    fn = jax.jit(jax.value_and_grad(
        lambda a, b: (1 - losses.cosine_distance(a, b, axis=axis, where=mask,
                                                 epsilon=1e-5)).sum(), argnums=(0, 1)))
    value, grads = fn(jnp.asarray(first), jnp.asarray(second))
    np.testing.assert_allclose(value, reference(clean_a, clean_b), rtol=2e-6)
    h = 1e-6
    for i, grad in enumerate(grads):
        assert np.all(np.asarray(grad)[:, 1] == 0)
        for index in [(0, 0), (1, 2)]:  # central differences of the float64 reference
            up, down = [clean_a.astype(np.float64), clean_b.astype(np.float64)], \
                [clean_a.astype(np.float64), clean_b.astype(np.float64)]
            up[i][index] += h
            down[i][index] -= h
            np.testing.assert_allclose(grad[index], (reference(*up) - reference(*down)) / (2 * h),
                                       rtol=1e-4, atol=1e-6)


def test_optax_cosine_all_masked_nonfinite_and_sgd():
    values = jnp.array([np.nan, np.inf])
    loss, grad = jax.jit(jax.value_and_grad(
        lambda x: losses.cosine_distance(x, x, where=jnp.array([False, False]), epsilon=1e-5)
    ))(values)
    assert float(loss) == 1.0
    np.testing.assert_array_equal(grad, [0.0, 0.0])
    # an unmasked NaN is not silently removed
    first, second = jnp.array([1.0, jnp.nan, 2.0]), jnp.array([2.0, 3.0, 1.0])
    for where in (None, jnp.array([True, True, True]), jnp.array([False, True, True])):
        assert np.isnan(losses.cosine_distance(first, second, where=where))
    # a masked NaN target still allows a real SGD update
    params = jnp.array([1.0, 7.0, 2.0], jnp.float32)
    targets = jnp.array([2.0, jnp.nan, 1.0], jnp.float32)
    mask = jnp.array([True, False, True])

    def objective(p):
        return losses.cosine_distance(p, targets, where=mask)

    optimizer = optax.sgd(0.1)
    state = optimizer.init(params)

    @jax.jit
    def step(p, s):
        loss, grad = jax.value_and_grad(objective)(p)
        updates, s = optimizer.update(grad, s, p)
        return optax.apply_updates(p, updates), s, loss

    initial = objective(params)
    for _ in range(5):
        params, state, loss = step(params, state)
        assert np.all(np.isfinite(params)) and np.isfinite(loss)
    assert float(objective(params)) < float(initial)
    assert float(params[1]) == 7.0


def test_cosine_epsilon_is_optax_squared_norm_clamp_and_torch_eps_squared():
    p, t = jnp.array([[1e-3, 0.0]]), jnp.array([[1.0, 0.0]])
    # optax: √max(‖p‖², ε) = √1e-2 = 0.1, cosine 1e-3/0.1 = 0.01
    np.testing.assert_allclose(losses.cosine_distance(p, t, epsilon=1e-2), [0.99], rtol=1e-6)
    np.testing.assert_allclose(optax.losses.cosine_distance(p, t, epsilon=1e-2), [0.99],
                               rtol=1e-6)
    # torch: x·y / (max(‖x‖, eps)·max(‖y‖, eps)), eps = 1e-2: cosine 1e-3/1e-2 = 0.1
    np.testing.assert_allclose(losses.cosine_distance(p, t, epsilon=1e-2**2), [0.9], rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-35, 1e-20, 1e20, 1e35])
def test_cosine_distance_scale_invariant_over_the_float32_range(scale):
    # ⟨p, t⟩ and ‖p‖² of these vectors leave float32's range (or lose all bits): the value
    # and the gradient (times the scale, the gradient's homogeneity) must not change.
    p = np.array([[3.0, -1.0, 2.0], [0.5, 0.25, -4.0]], np.float32)
    t = np.array([[1.0, 2.0, -1.0], [-2.0, 0.5, 1.0]], np.float32)

    def fn(p):
        return losses.cosine_distance(p, t).sum()

    want_value, want_grad = jax.value_and_grad(fn)(p)
    value, grad = jax.jit(jax.value_and_grad(fn))(p * np.float32(scale))
    np.testing.assert_allclose(value, want_value, rtol=1e-6)
    np.testing.assert_allclose(grad * np.float32(scale), want_grad, rtol=1e-5)


# --- robust_loss_jax general_test.py -------------------------------------------------------------

EPS300 = 300 * float(jnp.finfo(jnp.float32).eps)


def _lossfun(x, alpha, scale):
    return losses.general_robust(x, alpha=alpha, scale=scale)


VARIANTS = {"eager": _lossfun, "jit": jax.jit(_lossfun)}


@functools.cache
def _general_test_samples(shift_alpha=False, scale_uniform=False, push_infinities=True):
    """general_test's samples: PRNGKey(0) split in turn for x, α and the scale."""
    n = 100_000
    rng = jax.random.PRNGKey(0)
    rng, key = jax.random.split(rng)
    x = jax.random.normal(key, shape=[n])
    rng, key = jax.random.split(rng)
    alpha = jnp.round(jax.random.uniform(key, shape=[n], minval=-16, maxval=3) * 10) / 10.0
    if shift_alpha:
        alpha = alpha + 0.05
    elif push_infinities:
        alpha = jnp.where(alpha == 3, jnp.inf, jnp.where(alpha == -16, -jnp.inf, alpha))
    rng, key = jax.random.split(rng)
    if scale_uniform:
        scale = jax.random.uniform(key, shape=[n], minval=0.5, maxval=1.5)
    else:
        scale = jnp.exp(jax.random.normal(key, shape=[n]) * 4.0) + 1e-5
    return x, alpha, scale


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_barron_properties_from_general_test(variant):
    fn = VARIANTS[variant]
    x, a, c = _general_test_samples()
    loss = fn(x, a, c)
    d_x, d_a, d_c = jax.grad(lambda x, a, c: jnp.sum(fn(x, a, c)), (0, 1, 2))(x, a, c)
    x, a, c, loss, d_x, d_a, d_c = map(np.asarray, (x, a, c, loss, d_x, d_a, d_c))
    finite_a = np.isfinite(a)
    # testDerivativeIsMonotonicWrtX
    d_x0 = np.where(np.isfinite(d_x), d_x, 0)
    mask = finite_a & (np.abs(d_x0) > EPS300)
    np.testing.assert_array_equal(np.sign(d_x0[mask]), np.sign(x[mask]))
    # testLossIsNearZeroAtOrigin, testLossIsQuadraticNearOrigin
    near = np.abs(x) < 1e-5
    np.testing.assert_allclose(loss[near], 0, atol=1e-5)
    quad = np.abs(x) < 0.5 * c
    np.testing.assert_allclose(loss[quad], 0.5 * np.square(x[quad] / c[quad]), rtol=1e-5,
                               atol=1e-2)
    # testLossIsBoundedWhenAlphaIsNegative
    neg = a < 0
    a_clip = np.maximum(np.finfo(np.float32).min, a[neg])
    assert np.all(loss[neg] <= (a_clip - 2) / a_clip)
    # testDerivativeIsBoundedWhenAlphaIsBelow2 / Below1
    below2 = finite_a & (a <= 2)
    assert np.all(np.abs(d_x[below2]) <= (np.abs(x[below2]) + EPS300) / c[below2] ** 2)
    below1 = finite_a & (a <= 1)
    assert np.all(np.abs(d_x[below1]) <= (1 + EPS300) / c[below1])
    # testAlphaDerivativeIsPositive, testScaleDerivativeIsNegative
    assert np.all(d_a[finite_a] > -EPS300)
    assert np.all(d_c[finite_a] < EPS300)
    # testLossIsScaleInvariant (the scaled loss eager, as there)
    mult = jnp.maximum(0.2, jnp.exp(jax.random.normal(jax.random.PRNGKey(0), shape=x.shape)))
    np.testing.assert_allclose(_lossfun(mult * x, a, mult * c), loss, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_barron_loss_and_gradients_finite_from_general_test(variant):
    fn = VARIANTS[variant]
    x, a, c = _general_test_samples(push_infinities=False)
    values = (fn(x, a, c), *jax.grad(lambda x, a, c: jnp.sum(fn(x, a, c)), (0, 1, 2))(x, a, c))
    for v in values:
        assert np.all(np.isfinite(np.asarray(v)))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(
    "alpha,true",
    [(-float("inf"), lambda y: 1.0 - jnp.exp(-0.5 * y)), (-2.0, lambda y: 2.0 * y / (y + 4.0)),
     (0.0, lambda y: jnp.log(0.5 * y + 1.0)), (1.0, lambda y: jnp.sqrt(y + 1) - 1),
     (2.0, lambda y: 0.5 * y), (4.0, lambda y: jnp.square(y) / 8.0 + y / 2.0),
     (float("inf"), lambda y: jnp.exp(0.5 * y) - 1.0)],
)
def test_barron_special_cases_from_general_test(variant, alpha, true):
    # general_test's truth: jnp in float32, eager, with a Python scale (y = (x/1.7)²); the
    # jitted variant traces α and the scale, as chex's with_jit does
    x = jnp.linspace(-20, 20, 1000)
    np.testing.assert_allclose(VARIANTS[variant](x, alpha, 1.7), true(jnp.square(x / 1.7)),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_barron_gradient_matches_finite_differences(variant):
    x, a, c = _general_test_samples(shift_alpha=True, scale_uniform=True)
    loss = _lossfun(x, a, c)
    d_x, d_a, d_c = jax.grad(lambda x, a, c: jnp.sum(_lossfun(x, a, c)), (0, 1, 2))(x, a, c)
    fn, h = VARIANTS[variant], 1e-3
    np.testing.assert_allclose((fn(x + h, a, c) - loss) / h, d_x, atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose((fn(x, a + h, c) - loss) / h, d_a, atol=1e-2, rtol=1e-2)
    np.testing.assert_allclose((fn(x, a, c + h) - loss) / h, d_c, atol=1e-2, rtol=1e-2)


# --- Keras losses_test.py (reductions: see the module docstring) ---------------------------------
# Tolerances as Keras' own: assertAlmostEqual is |x - y| < 1.5·10^-decimal (decimal 3 unless the
# case says), assertAllClose is rtol = atol = 1e-6 (unless the case says).

K_TRUE = np.array([[1, 9, 2], [-5, -2, 6]], np.float32)
K_PRED = np.array([[4, 8, 12], [8, 1, 3]], np.float32)
TIMESTEP_WEIGHTS = np.array([3, 6, 5, 0, 4, 2], np.float32).reshape(2, 3)
SAMPLE = np.array([[1.2], [3.4]])


def almost(actual, desired, decimal=3):
    np.testing.assert_almost_equal(actual, desired, decimal=decimal)


def allclose(actual, desired, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def keras_reduce(per_sample, sample_weight=None, reduction="sum_over_batch_size"):
    """Keras' reductions of per-sample values (float64 numpy, written from its definitions)."""
    v = np.asarray(per_sample, np.float64)
    w = np.float64(1) if sample_weight is None else np.asarray(sample_weight, np.float64)
    w = np.broadcast_to(w.reshape(w.shape[: v.ndim]), v.shape)  # [N, 1] weights squeezed
    weighted = w * v
    if reduction is None:
        return weighted
    if reduction == "sum":
        return weighted.sum()
    if reduction == "mean_with_sample_weight":
        return weighted.sum() / w.sum()
    return weighted.sum() / v.size


def keras_mean(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Elementwise losslab values -> Keras' per-sample mean over the last axis -> reduction."""
    return keras_reduce(np.mean(np.asarray(values, np.float64), axis=-1), sample_weight,
                        reduction)


def test_keras_mean_squared_and_absolute_error():
    se, ae = losses.squared_error(K_PRED, K_TRUE), losses.absolute_error(K_PRED, K_TRUE)
    cases = [
        (se, None, "sum_over_batch_size", 49.5), (se, 2.3, "sum_over_batch_size", 113.85),
        (se, SAMPLE, "sum_over_batch_size", 767.8 / 6), (se, 0.0, "sum_over_batch_size", 0.0),
        (se, 2.3, "sum", 227.69998), (se, 2.3, None, [84.3333, 143.3666]),
        (se, SAMPLE, "mean_with_sample_weight", (110 / 3 * 1.2 + 187 / 3 * 3.4) / 4.6),
        (ae, None, "sum_over_batch_size", 5.5), (ae, 2.3, "sum_over_batch_size", 12.65),
        (ae, SAMPLE, "sum_over_batch_size", 81.4 / 6), (ae, 0.0, "sum_over_batch_size", 0.0),
        (ae, 2.3, "sum", 25.29999), (ae, 2.3, None, [10.7333, 14.5666]),
        (ae, SAMPLE, "mean_with_sample_weight", (14 / 3 * 1.2 + 19 / 3 * 3.4) / 4.6),
    ]
    for values, weight, reduction, want in cases:
        almost(keras_mean(values, weight, reduction), want)
    almost(keras_mean(losses.squared_error(K_TRUE, K_TRUE)), 0.0)
    almost(keras_mean(losses.absolute_error(K_TRUE, K_TRUE)), 0.0)
    # timestep weights on [2, 3, 1] inputs
    for fn, want in [(losses.squared_error, 97.833336), (losses.absolute_error, 13.833333)]:
        values = fn(K_PRED.reshape(2, 3, 1), K_TRUE.reshape(2, 3, 1))
        almost(keras_mean(values, TIMESTEP_WEIGHTS), want)
    # mean_with_sample_weight is losslab's weighted mean
    almost(losses.reduce(losses.squared_error(K_PRED, K_TRUE).mean(-1), weights=SAMPLE[:, 0]),
           (110 / 3 * 1.2 + 187 / 3 * 3.4) / 4.6)
    # dtype: bfloat16 in, bfloat16 out (Keras' dtype="bfloat16")
    bf16 = jnp.asarray(K_PRED, jnp.bfloat16)
    assert losses.squared_error(bf16, jnp.asarray(K_TRUE, jnp.bfloat16)).dtype == jnp.bfloat16


HINGE_TRUE = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
HINGE_PRED = np.array([[0.6, 0.4], [0.4, 0.6]], np.float32)


def test_keras_hinge_and_categorical_hinge():
    hinge = losses.hinge(HINGE_PRED, 2 * HINGE_TRUE - 1)  # Keras maps {0, 1} to ±1 itself
    almost(keras_mean(hinge), 1.3)
    almost(keras_mean(hinge, reduction="sum"), 2.6)
    allclose(keras_mean(hinge, reduction=None), [1.1, 1.5])
    almost(keras_mean(hinge, [1, 0]), 0.55)
    almost(keras_mean(hinge, [1, 0], "sum"), 1.1)
    almost(keras_mean(hinge, [1, 0], None), [1.1, 0.0])
    assert keras_mean(hinge, 0.0) == 0.0
    # CategoricalHinge: max(0, 1 + max((1 - t)·s) - Σ t·s). Keras' max runs over every class
    # with the true one contributing 0, so it is Crammer-Singer's multiclass_hinge where the
    # worst wrong score is ≥ 0 (both rows here), and relu(1 + max(0, worst) - s_y) in general.
    per_sample = losses.multiclass_hinge(HINGE_PRED, HINGE_TRUE)
    almost(keras_reduce(per_sample), 1.4)
    almost(keras_reduce(per_sample, reduction="sum"), 2.8)
    allclose(keras_reduce(per_sample, reduction=None), [1.2, 1.6])
    almost(keras_reduce(per_sample, [1, 0]), 0.6)
    almost(keras_reduce(per_sample, [1, 0], "sum"), 1.2)
    almost(keras_reduce(per_sample, [1, 0], None), [1.2, 0.0])
    assert keras_reduce(per_sample, 0.0) == 0.0
    s, t = np.array([[-0.5, 0.2]], np.float32), np.array([[0.0, 1.0]], np.float32)
    keras = np.maximum(0, 1 + ((1 - t) * s).max(-1) - (t * s).sum(-1))  # 0.8
    allclose(losses.multiclass_hinge(s, t), [0.3])
    allclose(keras, [0.8])


def _keras_unit(x, axis):
    return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))


def test_keras_cosine_similarity():
    # Keras' loss is -cosine = cosine_distance - 1, per sample
    cosine = np.sum(_keras_unit(K_TRUE, 1) * _keras_unit(K_PRED, 1), axis=1)
    per_sample = losses.cosine_distance(K_PRED, K_TRUE) - 1
    for weight in (None, 2.3, np.array([1.2, 3.4]), 0.0):
        almost(keras_reduce(per_sample, weight),
               -np.mean(cosine * (1.0 if weight is None else weight)))
    almost(keras_reduce(losses.cosine_distance(K_PRED, K_TRUE, axis=1) - 1), -np.mean(cosine))
    pred3, true3 = K_PRED.reshape(2, 3, 1), K_TRUE.reshape(2, 3, 1)
    cosine3 = np.sum(_keras_unit(true3, 2) * _keras_unit(pred3, 2), axis=2)
    almost(keras_reduce(losses.cosine_distance(pred3, true3) - 1, TIMESTEP_WEIGHTS),
           -np.mean(cosine3 * TIMESTEP_WEIGHTS))


def _keras_huber(y_true, y_pred, delta=1.0):
    error = np.abs(y_pred - y_true)
    quadratic = np.minimum(error, delta)
    return 0.5 * quadratic * quadratic + delta * (error - quadratic)


def test_keras_huber_and_log_cosh():
    y_pred = np.array([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]], np.float32)
    y_true = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], np.float32)
    almost(keras_mean(losses.huber(y_true, y_true)), 0.0)
    for delta, weight in [(1.0, None), (1.0, 2.3), (1.0, SAMPLE), (1.0, 0.0), (0.8, 2.3)]:
        want = _keras_huber(y_true, y_pred, delta) * (1.0 if weight is None else weight)
        almost(keras_mean(losses.huber(y_pred, y_true, delta=delta), weight), want.sum() / 6)
    got = keras_mean(losses.huber(y_pred.reshape(2, 3, 1), y_true.reshape(2, 3, 1)),
                     TIMESTEP_WEIGHTS)
    almost(got, (_keras_huber(y_true, y_pred) * TIMESTEP_WEIGHTS).sum() / 6)
    error = (K_PRED - K_TRUE).astype(np.float64)
    log_cosh = np.log((np.exp(error) + np.exp(-error)) / 2)
    for weight in (None, 2.3, SAMPLE, 0.0):
        almost(keras_mean(losses.log_cosh(K_PRED, K_TRUE), weight),
               (log_cosh * (1.0 if weight is None else weight)).sum() / 6)
    almost(keras_mean(losses.log_cosh(K_PRED.reshape(2, 3, 1), K_TRUE.reshape(2, 3, 1)),
                      TIMESTEP_WEIGHTS), (log_cosh * TIMESTEP_WEIGHTS).sum() / 6)


def test_keras_kl_divergence_and_poisson():
    y_pred = np.array([0.4, 0.9, 0.12, 0.36, 0.3, 0.4], np.float32).reshape(2, 3)
    y_true = np.array([0.5, 0.8, 0.12, 0.7, 0.43, 0.8], np.float32).reshape(2, 3)
    terms = y_true * np.log(y_true / y_pred)  # Keras clips both to [1e-7, 1]: no effect here
    kl = losses.kl_divergence(np.log(np.clip(y_pred, 1e-7, 1)), np.clip(y_true, 1e-7, 1))
    for weight in (None, 2.3, SAMPLE, 0.0):
        almost(keras_reduce(kl, weight), (terms * (1.0 if weight is None else weight)).sum() / 2)
    kl3 = losses.kl_divergence(np.log(y_pred.reshape(2, 3, 1)), y_true.reshape(2, 3, 1))
    almost(keras_reduce(kl3, TIMESTEP_WEIGHTS), (terms * TIMESTEP_WEIGHTS).sum() / 6)
    # Poisson: y_pred - y_true·log(y_pred + 1e-7), i.e. log_input=False with Keras' epsilon
    p_pred = np.array([1, 9, 2, 5, 2, 6], np.float32).reshape(2, 3)
    p_true = np.array([4, 8, 12, 8, 1, 3], np.float32).reshape(2, 3)
    want = p_pred - p_true * np.log(p_pred)
    poisson = losses.poisson_nll(p_pred, p_true, log_input=False, eps=1e-7)
    for weight in (None, 2.3, SAMPLE, 0.0):
        almost(keras_mean(poisson, weight), (want * (1.0 if weight is None else weight)).sum() / 6)
    poisson3 = losses.poisson_nll(p_pred.reshape(2, 3, 1), p_true.reshape(2, 3, 1),
                                  log_input=False, eps=1e-7)
    almost(keras_mean(poisson3, TIMESTEP_WEIGHTS), (want * TIMESTEP_WEIGHTS).sum() / 6)


def _binary_logits(p):
    """Keras' probabilities as logits: clipped in float32 to [1e-7, 1 - 1e-7] (1 - p then
    rounds as Keras' float32 log(1 - p) sees it), then log p - log(1 - p)."""
    one, eps = np.float32(1), np.float32(1e-7)
    p = np.clip(np.asarray(p, np.float32), eps, one - eps)
    return (np.log(p.astype(np.float64)) - np.log((one - p).astype(np.float64))).astype(
        np.float32)


def test_keras_binary_crossentropy():
    eye = np.eye(3, dtype=np.float32)
    bce = losses.sigmoid_binary_cross_entropy
    almost(keras_mean(bce(_binary_logits(eye), eye)), 0.0)
    almost(keras_mean(bce(np.where(eye > 0, 10.0, -10.0).astype(np.float32), eye)), 0.0)
    y_pred = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]], np.float32)
    allclose(keras_mean(bce(_binary_logits(y_pred), eye)), 0.20046903)
    y_true = np.array([1, 0, 1, 0], np.float32).reshape(2, 2)
    values = bce(_binary_logits(np.array([1, 1, 1, 0], np.float32).reshape(2, 2)), y_true)
    almost(keras_mean(values), 3.98559)
    almost(keras_mean(values, 2.3), 9.1668)
    almost(keras_mean(values, SAMPLE), 4.7827)
    y_true = np.array([[1, 0, 1], [0, 1, 1]], np.float32)
    logits = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]], np.float32)
    values = bce(logits, y_true)
    almost(keras_mean(values), 3.3333)
    almost(keras_mean(values, 2.3), 7.666)
    almost(keras_mean(values, np.array([4, 3])), 10.0)
    allclose(keras_mean(values, reduction=None), [0.0, 6.666], atol=1e-3)
    # label smoothing: y(1 - ε) + ε/2
    smoothed = np.array([[1, 0, 1]], np.float32) * 0.9 + 0.05
    almost(keras_mean(bce(np.array([[10.0, -10.0, -10.0]], np.float32), smoothed)),
           (10.0 + 5.0 * 0.1) / 3.0)
    with pytest.raises(ValueError, match="shape"):  # test_shape_mismatch
        bce(np.ones((3, 3), np.float32), np.array([[0.0], [1.0], [2.0]]))


CAT_TRUE = np.eye(3, dtype=np.float32)
CAT_PROBS = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], np.float32)
CAT_LOGITS = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]], np.float32)
CAT_SAMPLE = np.array([[1.2], [3.4], [5.6]])


@pytest.mark.parametrize("sparse", [False, True])
def test_keras_categorical_crossentropy(sparse):
    labels = np.array([0, 1, 2]) if sparse else CAT_TRUE
    ce = losses.softmax_cross_entropy
    with np.errstate(divide="ignore"):
        log_eye = np.log(CAT_TRUE)  # one-hot probabilities: logits 0 and -inf
    almost(keras_reduce(ce(log_eye, labels)), 0.0)
    almost(keras_reduce(ce(10 * CAT_TRUE, labels)), 0.0)
    from_probs = ce(np.log(CAT_PROBS), labels)  # softmax(log p) = p/Σp: Keras renormalises
    for weight, want in [(None, 0.3239), (2.3, 0.7449), (CAT_SAMPLE, 1.0696)]:
        almost(keras_reduce(from_probs, weight), want)
    from_logits = ce(CAT_LOGITS, labels)
    for weight, want in [(None, 0.0573), (2.3, 0.1317), (CAT_SAMPLE, 0.31829)]:
        almost(keras_reduce(from_logits, weight), want)
    allclose(from_logits, [0.001822, 0.000459, 0.169846])
    # label smoothing (Keras': y(1 - ε) + ε/C, as torch's and losslab's)
    smoothed = ce(np.array([[100.0, -100.0, -100.0]], np.float32),
                  np.array([0]) if sparse else np.array([[1.0, 0.0, 0.0]]), label_smoothing=0.1)
    almost(keras_reduce(smoothed), 400.0 * 0.1 / 3.0)


def test_keras_categorical_smoothing_along_axis_1():
    # (batch, classes, spatial) probabilities, class axis 1
    y_true = np.array([[[1, 0], [0, 1], [0, 0]], [[0, 1], [1, 0], [0, 0]]], np.float32)
    y_pred = np.array([[[0.8, 0.1], [0.1, 0.8], [0.1, 0.1]],
                       [[0.1, 0.8], [0.8, 0.1], [0.1, 0.1]]], np.float32)
    smoothed = y_true * 0.9 + 0.1 / 3
    want = np.mean(-np.sum(smoothed * np.log(y_pred), axis=1))
    got = losses.softmax_cross_entropy(np.log(y_pred), y_true, label_smoothing=0.1, axis=1)
    almost(keras_reduce(got), want, decimal=5)
    # CategoricalFocalCrossentropy(label_smoothing=0.1, axis=1), α = 0.25, γ = 2
    focal_want = np.mean(np.sum(0.25 * (1 - y_pred) ** 2 * -smoothed * np.log(y_pred), axis=1))
    labels = np.moveaxis(losses.smooth_labels(np.moveaxis(y_true, 1, -1), 0.1), -1, 1)
    got = 0.25 * losses.focal(np.log(y_pred), labels, gamma=2.0, axis=1)
    almost(keras_reduce(got), focal_want, decimal=5)


def test_keras_sparse_categorical_crossentropy_ignore_class_and_segmentation():
    logits = np.array([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], np.float32)
    allclose(losses.softmax_cross_entropy(logits, np.array([[-1, 2]]), ignore_index=-1),
             [[0.0, 1.480129]])
    # Keras also takes labels with a trailing axis of 1: squeezed first here
    allclose(losses.softmax_cross_entropy(logits, np.array([[[-1], [2]]])[..., 0],
                                          ignore_index=-1), [[0.0, 1.480129]])
    # segmentation: [4, 4] integer labels, [4, 4, C] probabilities, mean over the 16 pixels
    y_true = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
    y_pred = np.eye(2, dtype=np.float32)[y_true]
    with np.errstate(divide="ignore"):
        allclose(keras_reduce(losses.softmax_cross_entropy(np.log(y_pred), y_true)), 0.0)
        y_pred[0, 3], y_pred[3, 3] = [0.2, 0.8], [0.6, 0.4]
        got = losses.softmax_cross_entropy(np.log(y_pred), y_true)
    allclose(keras_reduce(got), (-np.log(0.2) - np.log(0.4)) / 16)
    y_true = np.array([[0, 1, 2, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
    y_pred = np.eye(3, dtype=np.float32)[y_true]
    y_pred[0, 3], y_pred[1, 0], y_pred[3, 2] = [0.2, 0.0, 0.8], [0.7, 0.3, 0.0], [0.5, 0.5, 0]
    with np.errstate(divide="ignore"):
        got = losses.softmax_cross_entropy(np.log(y_pred), y_true)
        channels_first = losses.softmax_cross_entropy(np.log(np.moveaxis(y_pred, 2, 0)), y_true,
                                                      axis=0)  # Keras' torch backend, axis=0
    want = (-np.log(0.2) - np.log(0.3) - np.log(0.5)) / 16
    allclose(keras_reduce(got), want)
    allclose(keras_reduce(channels_first), want)


def test_keras_binary_focal_crossentropy():
    focal = losses.sigmoid_focal
    eye = np.eye(3, dtype=np.float32)
    almost(keras_mean(focal(_binary_logits(eye), eye, gamma=1.5)), 0.0)
    almost(keras_mean(focal(np.where(eye > 0, 100.0, -100.0).astype(np.float32), eye,
                            gamma=2.0)), 0.0)
    y_true = np.array([1, 0, 1, 0], np.float32).reshape(2, 2)
    probs = np.array([0.9, 0.8, 0.7, 0.2], np.float32).reshape(2, 2)
    values = focal(_binary_logits(probs), y_true, gamma=2.0)
    for weight, want in [(None, 0.268), (1.23, 0.3296), (SAMPLE, 0.34415)]:
        almost(keras_mean(values, weight), want)
    allclose(keras_mean(values, reduction=None), [0.515547, 0.020513])
    y_true = np.array([[1, 1, 0], [0, 1, 0]], np.float32)
    logits = np.array([[1.5, -2.7, 2.9], [-3.8, 1.2, -4.5]], np.float32)
    values = focal(logits, y_true, gamma=3.0)
    for weight, want in [(None, 0.799), (3.21, 2.565), (SAMPLE, 0.95977)]:
        almost(keras_mean(values, weight), want)


def test_keras_categorical_focal_crossentropy():
    # Keras: Σ_j α(1 - p_j)^γ·(-y_j log p_j), α = 0.25, γ = 2 by default: 0.25·losslab focal
    def cfce(logits, labels):
        return 0.25 * losses.focal(logits, labels, gamma=2.0)

    with np.errstate(divide="ignore"):
        almost(keras_reduce(cfce(np.log(CAT_TRUE), CAT_TRUE)), 0.0)
    almost(keras_reduce(cfce(10 * CAT_TRUE, CAT_TRUE)), 0.0)
    from_probs = cfce(np.log(CAT_PROBS), CAT_TRUE)
    for weight, want in [(None, 0.02059), (2.3, 0.047368), (CAT_SAMPLE, 0.06987)]:
        almost(keras_reduce(from_probs, weight), want)
    from_logits = cfce(CAT_LOGITS, CAT_TRUE)
    almost(keras_reduce(from_logits), 0.000345)
    almost(keras_reduce(from_logits, 2.3), 0.000794, decimal=4)
    almost(keras_reduce(from_logits, CAT_SAMPLE), 0.001933)
    allclose(from_logits, [1.5096224e-09, 2.4136547e-11, 1.0360638e-03])
    allclose(cfce(CAT_LOGITS, np.array([0, 1, 2])), from_logits)
    smoothed = cfce(np.array([[4.9, -0.5, 2.05]], np.float32),
                    losses.smooth_labels(np.array([[1.0, 0.0, 0.0]]), 0.1))
    almost(keras_reduce(smoothed), 0.06685)


# --- torch documented formulas and its test references -------------------------------------------

def _log_softmax64(z, axis=-1):
    z = np.asarray(z, np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def test_torch_multi_margin_example_and_weight_reference():
    s = np.array([[0.1, 0.2, 0.4, 0.8]], np.float32)
    np.testing.assert_allclose(losses.multi_margin(s, np.array([3])), [0.325], rtol=1e-5)
    # torch's multimarginloss_reference: w_y·Σ_{j≠y} max(0, m - x_y + x_j)^p / C (the weight
    # outside the power, as torch's kernel; its documentation puts it inside)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 1, 2])
    w = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    for p, margin in [(1, 1.0), (2, 1.0), (2, 0.3)]:
        want = np.array([w[yi] * sum(max(0.0, margin - xi[yi] + xi[j]) ** p
                                     for j in range(4) if j != yi) / 4
                         for xi, yi in zip(x.astype(np.float64), y, strict=True)])
        np.testing.assert_allclose(losses.multi_margin(x, y, p=p, margin=margin, weight=w), want,
                                   rtol=1e-5)


def test_torch_cross_entropy_smoothing_weight_ignore_index():
    # torch: (1 - ε)·w_y·(-log p_y) + (ε/C)·Σ_j w_j·(-log p_j), 0 for ignored labels; its mean
    # divides the sum by Σ w_y over the kept examples
    z = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 3.0], [0.0, 0.0, 0.0]],
                 np.float32)
    y = np.array([0, -100, 2, 1])
    w = np.array([0.2, 1.0, 3.0], np.float32)
    log_p = _log_softmax64(z)
    kept = y != -100
    for eps in (0.0, 0.1):
        want = np.array([(1 - eps) * w[yi] * -log_p[i, yi] + eps / 3 * (w * -log_p[i]).sum()
                         if yi != -100 else 0.0 for i, yi in enumerate(y)])
        got = losses.softmax_cross_entropy(z, y, weight=w, ignore_index=-100, label_smoothing=eps)
        np.testing.assert_allclose(got, want, rtol=1e-5)
        w_y = np.where(kept, w[np.where(kept, y, 0)], 0)
        np.testing.assert_allclose(np.sum(got) / w_y.sum(), want.sum() / w_y.sum(), rtol=1e-5)
    # probability targets: -Σ_j w_j t_j log p_j (torch's mean then divides by N, not Σ w)
    t = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, t.astype(np.float32), weight=w),
                               -(w * t * log_p).sum(-1), rtol=1e-5)


def test_torch_cross_entropy_k_dimensional_and_nll():
    # input [N, C, d1, d2], target [N, d1, d2]: the class axis is 1
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 4, 3, 5)).astype(np.float32)
    y = rng.integers(4, size=(2, 3, 5))
    log_p = _log_softmax64(z, axis=1)
    want = -np.take_along_axis(log_p, y[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, y, axis=1), want, rtol=1e-5)
    # nll_loss on log-probabilities is cross-entropy of those (log_softmax is idempotent)
    np.testing.assert_allclose(losses.softmax_cross_entropy(log_p.astype(np.float32), y, axis=1),
                               want, rtol=1e-5)


def test_torch_smooth_l1_beta_zero_and_huber():
    r = np.array([-3.0, -0.4, 0.0, 0.2, 2.5], np.float32)
    # torch: beta = 0 is l1_loss (value and gradient)
    np.testing.assert_allclose(losses.smooth_l1(r, beta=0.0), np.abs(r))
    np.testing.assert_allclose(jax.grad(lambda r: losses.smooth_l1(r, beta=0.0).sum())(r),
                               jax.grad(lambda r: losses.absolute_error(r).sum())(r))
    for beta in (0.5, 1.0):
        a = np.abs(r)
        want = np.where(a < beta, 0.5 * r * r / beta, a - 0.5 * beta)
        np.testing.assert_allclose(losses.smooth_l1(r, beta=beta), want, rtol=1e-6)
        np.testing.assert_allclose(losses.huber(r, delta=beta),
                                   np.where(a < beta, 0.5 * r * r, beta * (a - 0.5 * beta)),
                                   rtol=1e-6)


def test_torch_gaussian_nll_variance_shapes():
    rng = np.random.default_rng(7)
    x, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = rng.uniform(0.5, 2.0, size=4)

    def want(v):
        return 0.5 * (np.log(np.maximum(v, 1e-6)) + (x - t) ** 2 / np.maximum(v, 1e-6))

    # torch: a variance with one dimension fewer (one per example) or a trailing 1
    np.testing.assert_allclose(losses.gaussian_nll(x, t, var), want(var[:, None]), rtol=1e-6)
    np.testing.assert_allclose(losses.gaussian_nll(x, t, var[:, None]), want(var[:, None]),
                               rtol=1e-6)
    full = np.broadcast_to(var[:, None], (4, 3))
    np.testing.assert_allclose(losses.gaussian_nll(x, t, full, full=True),
                               want(full) + 0.5 * np.log(2 * np.pi), rtol=1e-6)
    np.testing.assert_allclose(losses.reduce(losses.gaussian_nll(x, t, var)),
                               want(var[:, None]).mean(), rtol=1e-6)


def test_torch_poisson_kl_and_bce_formulas():
    x = np.array([0.5, 2.0, -1.0, 0.1])
    k = np.array([0.0, 4.0, 1.0, 7.0])
    np.testing.assert_allclose(losses.poisson_nll(x, k), np.exp(x) - k * x, rtol=1e-6)
    # full: Stirling's k log k - k + ½ log(2πk) added where k > 1
    stirling = np.where(k > 1, k * np.log(np.maximum(k, 1)) - k
                        + 0.5 * np.log(2 * np.pi * np.maximum(k, 1)), 0)
    np.testing.assert_allclose(losses.poisson_nll(x, k, full=True), np.exp(x) - k * x + stirling,
                               rtol=1e-6)
    lam = np.array([0.5, 2.0, 1e-9, 3.0])
    np.testing.assert_allclose(losses.poisson_nll(lam, k, log_input=False),
                               lam - k * np.log(lam + 1e-8), rtol=1e-6)
    # kl_div(input = log q, target): Σ target·(log target - input), 0·log 0 = 0
    log_q = _log_softmax64(np.array([[0.2, 1.0, -0.5], [1.0, 1.0, 1.0]]))
    target = np.array([[0.0, 0.3, 0.7], [0.5, 0.25, 0.25]])
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(target > 0, target * (np.log(target) - log_q), 0).sum(-1)
    np.testing.assert_allclose(losses.kl_divergence(log_q, target), want, rtol=1e-6)
    with np.errstate(divide="ignore"):
        log_target = np.log(target)
    np.testing.assert_allclose(losses.kl_divergence(log_q, log_target, log_target=True), want,
                               rtol=1e-6)
    # binary_cross_entropy_with_logits, pos_weight per class broadcast over the batch
    z = np.array([[0.3, -1.2, 2.0], [-0.7, 0.1, 4.0]])
    y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])
    pw = np.array([2.0, 0.5, 1.0])
    log_sig, log_sig_neg = -np.log1p(np.exp(-z)), -np.log1p(np.exp(z))
    np.testing.assert_allclose(
        losses.sigmoid_binary_cross_entropy(z, y, pos_weight=pw),
        -(pw * y * log_sig + (1 - y) * log_sig_neg), rtol=1e-6)
