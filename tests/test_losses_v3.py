"""Issue 32 (losses v3): the peers' cases, written afresh, and the properties the registry-wide
suites cannot check (the representation losses take embeddings; MAPE's range depends on the
targets).

Sources of the expected values: optax 0.2.8 `_fenchel_young_test.py`, `_classification_test.py`
(poly loss, sparsemax, generalized KL), `_self_supervised_test.py`, `_segmentation_test.py`;
google/bi-tempered-loss `jax/loss_test.py` and `tensorflow/loss_test.py` (the implementation
init2winit calls; ported to numpy below), init2winit `model_lib/test_losses.py`; Keras 3
`losses_test.py` (Dice, MSLE, MAPE); torch's documented formulas (nll_loss, triplet_margin_loss).
"""

import itertools
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import logsumexp

import losses

RNG = np.random.default_rng(32)
Z = (RNG.normal(size=(7, 5)) * 2).astype(np.float32)
Y = np.array([0, 4, 1, 1, 3, 2, 0])
P = RNG.dirichlet(np.ones(5), size=7).astype(np.float32)


def _simplex_projection(v):
    """Euclidean projection onto the simplex by bisection on τ (independent of the sort form)."""
    v = np.asarray(v, np.float64)
    lo, hi = v.min() - 1, v.max()
    for _ in range(200):
        tau = (lo + hi) / 2
        lo, hi = (tau, hi) if np.maximum(v - tau, 0).sum() > 1 else (lo, tau)
    return np.maximum(v - (lo + hi) / 2, 0)


# --- Fenchel-Young ------------------------------------------------------------------------------

def test_sparsemax_is_the_simplex_projection():
    got = losses.sparsemax(Z)
    want = np.stack([_simplex_projection(row) for row in Z])
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got, jax.vmap(optax.projections.projection_simplex)(Z), atol=1e-6)
    # two classes: [z, 0] -> clip((z + 1)/2, 0, 1) (Martins & Astudillo, sparse sigmoid)
    z = np.linspace(-3, 3, 13, dtype=np.float32)
    two = losses.sparsemax(np.stack([z, np.zeros_like(z)], -1))[:, 0]
    np.testing.assert_allclose(two, np.clip((z + 1) / 2, 0, 1), atol=1e-7)
    # the class axis may be any axis
    np.testing.assert_allclose(losses.sparsemax(Z.T, axis=0), got.T, atol=1e-7)
    # Jacobian diag(σ) - σσᵀ/|σ| on the support σ
    jac = jax.jacobian(losses.sparsemax)(Z[0])
    support = np.asarray(got[0] > 0, np.float32)
    np.testing.assert_allclose(jac, np.diag(support) - np.outer(support, support) / support.sum(),
                               atol=1e-6)


def test_sparsemax_loss_matches_optax_and_its_gradient():
    np.testing.assert_allclose(losses.sparsemax_loss(Z, Y),
                               optax.losses.multiclass_sparsemax_loss(Z, Y), atol=1e-6)
    g = jax.grad(lambda z: losses.sparsemax_loss(z, Y).sum())(Z)
    np.testing.assert_allclose(g, losses.sparsemax(Z) - np.eye(5)[Y], atol=1e-6)
    # optax test_multi_class_zero_loss / _gradient: large scores on the right class
    scores = jnp.array([[0.0, 1e5, 0.0], [1e5, 0.0, 0.0], [0.0, 0.0, 1e5]])
    labels = jnp.array([1, 0, 2])
    np.testing.assert_allclose(losses.sparsemax_loss(scores, labels), [0, 0, 0], atol=1e-4)
    g = jax.grad(lambda s: losses.sparsemax_loss(s, labels).mean())(scores)
    want = (jax.vmap(optax.projections.projection_simplex)(scores) - jax.nn.one_hot(labels, 3)) / 3
    np.testing.assert_allclose(g, want, atol=1e-4)
    # probability labels: ⟨z, p - y⟩ - ½‖p‖² + ½‖y‖², and 0 when the target is sparsemax(z)
    p = losses.sparsemax(Z)
    np.testing.assert_allclose(losses.sparsemax_loss(Z, p), np.zeros(7), atol=1e-6)
    want = (Z * (p - P)).sum(-1) - 0.5 * (p * p).sum(-1) + 0.5 * (P * P).sum(-1)
    np.testing.assert_allclose(losses.sparsemax_loss(Z, P), want, atol=1e-5)


@pytest.mark.parametrize("label,score", [(1, 10.0), (0, 20.0), (1, -0.5), (0, 0.3), (1, -2.0)])
def test_optax_binary_sparsemax_is_the_two_class_case(label, score):
    # optax's sparsemax_loss test reference: s = -(2y - 1)·z; 0 below -1, s above 1, else (s+1)²/4
    s = -(2 * label - 1) * score
    want = 0.0 if s <= -1 else s if s >= 1 else (s + 1) ** 2 / 4
    got = losses.sparsemax_loss(jnp.array([0.0, score]), jnp.array(label))
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got, optax.losses.sparsemax_loss(score, label), atol=1e-6)


def test_fenchel_young_shannon_is_cross_entropy_and_squared_is_sparsemax():
    np.testing.assert_allclose(losses.fenchel_young(Z, Y), losses.softmax_cross_entropy(Z, Y),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.fenchel_young(Z, Y, regularizer="squared"),
                               losses.sparsemax_loss(Z, Y), rtol=1e-6)
    # soft labels: the paper's L includes Ω(y): KL(y ‖ softmax z) = CE - H(y)
    entropy = -(P * np.log(P)).sum(-1)
    np.testing.assert_allclose(losses.fenchel_young(Z, P),
                               losses.softmax_cross_entropy(Z, P) - entropy, rtol=1e-5, atol=1e-6)
    # optax's make_fenchel_young_loss(logsumexp) test: grad = softmax(θ) - y_true; one-hot = CE
    fy_optax = optax.losses.make_fenchel_young_loss(logsumexp)
    theta_true, theta = jax.random.uniform(jax.random.key(0), (2, 8, 5))
    y_true = jax.nn.softmax(theta_true)
    g = jax.grad(lambda t: losses.fenchel_young(t, y_true).sum())(theta)
    np.testing.assert_allclose(g, jax.nn.softmax(theta) - y_true, atol=1e-6)
    one_hot = jax.nn.one_hot(jnp.argmax(theta_true, -1), 5)
    np.testing.assert_allclose(losses.fenchel_young(theta, one_hot), fy_optax(theta, one_hot),
                               rtol=1e-5)
    for reg in ("shannon", "squared"):  # gradient ŷ_Ω(z) - y for both regularizers
        pred = jax.nn.softmax(Z) if reg == "shannon" else losses.sparsemax(Z)
        g = jax.grad(lambda z, r=reg: losses.fenchel_young(z, P, regularizer=r).sum())(Z)
        np.testing.assert_allclose(g, pred - P, atol=1e-6)
    with pytest.raises(ValueError, match="regularizer"):
        losses.fenchel_young(Z, Y, regularizer="tsallis")


# --- poly loss, generalized KL, nll_loss ---------------------------------------------------------

@pytest.mark.parametrize("eps,want", [(2, 4.5317), (1, 3.7153), (-1, 2.0827), (0, 2.8990),
                                      (-0.5, 2.4908), (1.15, 3.8378), (5.45, 7.3480)])
def test_optax_poly_loss_scalar_cases(eps, want):
    logits = np.array([0.14, 1.456, 2.356, -0.124, -2.47], np.float32)
    labels = np.array([0.1, 0.15, 0.2, 0.25, 0.3], np.float32)
    np.testing.assert_allclose(jax.jit(losses.poly_loss_cross_entropy)(logits, labels,
                                                                        epsilon=eps),
                               want, atol=1e-4)


@pytest.mark.parametrize("eps,want", [(2, [0.4823, 1.2567]), (1, [0.3261, 1.0407]),
                                      (0, [0.1698, 0.8247]), (-0.5, [0.0917, 0.7168]),
                                      (5.45, [1.0211, 2.0018])])
def test_optax_poly_loss_batched_cases(eps, want):
    logits = np.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]], np.float32)
    labels = np.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]], np.float32)
    np.testing.assert_allclose(losses.poly_loss_cross_entropy(logits, labels, epsilon=eps), want,
                               atol=1e-4)


def test_poly_loss_options():
    # integer labels use -expm1(-CE) for 1 - p_t: the same values as the one-hot form
    np.testing.assert_allclose(losses.poly_loss_cross_entropy(Z, Y),
                               losses.poly_loss_cross_entropy(Z, np.eye(5, dtype=np.float32)[Y]),
                               rtol=1e-6)
    np.testing.assert_allclose(losses.poly_loss_cross_entropy(Z, Y, epsilon=0.0),
                               losses.softmax_cross_entropy(Z, Y), rtol=1e-6)
    # optax's where (a class mask) and axis
    mask = np.array([True, False, True, True, False])
    q = P[:, mask] / P[:, mask].sum(-1, keepdims=True)
    got = losses.poly_loss_cross_entropy(Z, np.where(mask, P, 0) / P[:, mask].sum(-1)[:, None],
                                         where=np.broadcast_to(mask, Z.shape))
    np.testing.assert_allclose(got, losses.poly_loss_cross_entropy(Z[:, mask], q), rtol=1e-5)
    np.testing.assert_allclose(losses.poly_loss_cross_entropy(Z.T, P.T, axis=0),
                               optax.losses.poly_loss_cross_entropy(Z, P), rtol=1e-5)


def test_generalized_kl_divergence_optax_cases():
    log_ps = np.array([[-2.9957, -3.5066, -3.9120, -1.2040, -0.6931, -2.3026],
                       [-1.6094, -1.6094, -1.6094, -2.3026, -1.8971, -1.8971]])
    qs = np.array([[0.2, 0.2, 0.2, 0.1, 0.15, 0.15], [0.05, 0.03, 0.02, 0.3, 0.5, 0.0]])
    np.testing.assert_allclose(jax.jit(losses.generalized_kl_divergence)(log_ps, qs),
                               [0.88757247, 0.859308], atol=1e-4)
    # unnormalised: Σ t log(t/p) - t + p, against numpy; normalised: kl_divergence
    log_p = RNG.normal(size=(4, 6))
    t = RNG.random(size=(4, 6)) * 3
    want = (t * (np.log(t) - log_p) - t + np.exp(log_p)).sum(-1)
    np.testing.assert_allclose(losses.generalized_kl_divergence(log_p, t), want, rtol=1e-5)
    log_softmax = jax.nn.log_softmax(Z)
    np.testing.assert_allclose(losses.generalized_kl_divergence(log_softmax, P),
                               losses.kl_divergence(log_softmax, P), atol=1e-6)
    # optax's mask and axis tests
    mask = np.array([True, False, True, False, True, True])
    np.testing.assert_allclose(losses.generalized_kl_divergence(log_p[:, mask], t[:, mask]),
                               losses.generalized_kl_divergence(
                                   log_p, t, where=np.broadcast_to(mask, log_p.shape)),
                               rtol=1e-5)
    np.testing.assert_allclose(losses.generalized_kl_divergence(log_p.T, t.T, axis=0), want,
                               rtol=1e-5)
    keep = np.array([True, False, True, True])
    np.testing.assert_allclose(losses.generalized_kl_divergence(log_p, t, where=keep),
                               np.where(keep, want, 0), rtol=1e-5)


def test_nll_loss_torch_conventions():
    log_p = np.asarray(jax.nn.log_softmax(Z))
    w = np.array([0.5, 1.0, 2.0, 1.5, 0.1], np.float32)
    np.testing.assert_allclose(losses.nll_loss(log_p, Y), -log_p[np.arange(7), Y], rtol=1e-6)
    np.testing.assert_allclose(losses.nll_loss(log_p, Y, weight=w),
                               -w[Y] * log_p[np.arange(7), Y], rtol=1e-6)
    # torch's mean: Σ w_y·(-log p_y) / Σ w_y over the kept examples (ignore_index=-100)
    labels = np.where(np.arange(7) % 3 == 0, -100, Y)
    kept = labels != -100
    values = losses.nll_loss(log_p, labels, ignore_index=-100)
    torch_mean = (-w[Y] * log_p[np.arange(7), Y])[kept].sum() / w[Y][kept].sum()
    np.testing.assert_allclose(losses.reduce(values, weights=w[np.where(kept, labels, 0)],
                                             where=kept), torch_mean, rtol=1e-6)
    np.testing.assert_allclose(losses.nll_loss(log_p, Y), losses.softmax_cross_entropy(Z, Y),
                               rtol=1e-5)
    # gradient -w_y on the true class only; -inf log-probs without target mass contribute 0
    g = jax.grad(lambda q: losses.nll_loss(q, Y, weight=w).sum())(log_p)
    np.testing.assert_allclose(g, -np.eye(5)[Y] * w[Y][:, None])
    q = log_p.copy()
    q[:, 0] = -np.inf
    t = P.copy()
    t[:, 0] = 0
    assert np.all(np.isfinite(losses.nll_loss(q, t)))
    assert np.isnan(losses.nll_loss(np.array([[np.nan, 0.0]]), np.array([1]))[0])


# --- bi-tempered logistic (google/bi-tempered-loss jax/loss_test.py) ---------------------------

ACTS = np.array([[-0.5, 0.1, 2.0], [0.1, 1.5, -5.0], [4.0, -3.0, -6.0]], np.float32)


def test_bi_tempered_reference_values():
    labels = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.2, 0.8, 0.0]], np.float32)
    np.testing.assert_allclose(losses.bi_tempered_logistic(ACTS, labels, t1=0.5, t2=1.5),
                               [0.02301914, 0.18972909, 0.93874922], atol=1e-4)
    np.testing.assert_allclose(
        losses.bi_tempered_logistic(ACTS, np.eye(3, dtype=np.float32), t1=0.5, t2=1.5,
                                    label_smoothing=0.1),
        [0.76652711, 0.08627685, 1.35443510], atol=1e-5)
    for t1, t2, want in [(1.0, 1.0, 0.628705), (0.9, 1.1, 0.45677936), (0.8, 1.2, 0.34298314),
                         (0.7, 1.3, 0.26295574)]:
        got = losses.bi_tempered_logistic(ACTS[:1], np.array([[0.2, 0.5, 0.3]]), t1=t1, t2=t2)
        np.testing.assert_allclose(got, [want], atol=1e-5)
    # binary logistic: the two-class case [0, z], t1 = t2 = 1 gives log 2 at z = 0
    two = losses.bi_tempered_logistic(np.zeros((2, 2), np.float32), np.array([1, 0]), t1=1.0,
                                      t2=1.0)
    np.testing.assert_allclose(two, [np.log(2)] * 2, atol=1e-6)


def test_bi_tempered_limits_shift_and_gradient():
    np.testing.assert_allclose(losses.bi_tempered_logistic(Z, Y, t1=1.0, t2=1.0),
                               losses.softmax_cross_entropy(Z, Y), rtol=1e-5, atol=1e-6)
    labels = np.array([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [0.7, 0.2, 0.1]], np.float32)
    bias = RNG.normal(size=(3, 1)).astype(np.float32)
    for t2 in (1.2, 2.0):
        np.testing.assert_allclose(losses.bi_tempered_logistic(ACTS, labels, t1=0.5, t2=t2),
                                   losses.bi_tempered_logistic(ACTS + bias, labels, t1=0.5, t2=t2),
                                   atol=1e-5)
    # the gradient is the reference's custom derivative: (p - y)·p^(t2-t1) minus its escort mean
    t1, t2 = 0.6, 1.4
    with jax.enable_x64(True):
        z = jnp.asarray(ACTS, jnp.float64)
        g = jax.grad(lambda a: losses.bi_tempered_logistic(a, labels, t1=t1, t2=t2,
                                                           num_iters=30).sum())(z)
        p = _tempered_softmax(np.asarray(z), t2)
    forget = (p - labels) * p ** (t2 - t1)
    escort = p**t2 / (p**t2).sum(-1, keepdims=True)
    np.testing.assert_allclose(g, forget - escort * forget.sum(-1, keepdims=True), atol=1e-6)
    with pytest.raises(ValueError, match="t2"):
        losses.bi_tempered_logistic(ACTS, labels, t2=0.8)



# A numpy port of google/bi-tempered-loss (tensorflow/loss.py, jax/loss.py; Amid et al. 2019),
# written afresh: the fixed point (t2 > 1) and the bisection (t2 < 1) for the normalisation,
# both run for num_iters steps as there, the loss of the probabilities, and the reference's
# custom gradient. float64 throughout.

def _exp_t(u, t):
    return np.exp(u) if t == 1 else np.maximum(1 + (1 - t) * u, 0) ** (1 / (1 - t))


def _log_t(u, t):
    return np.log(u) if t == 1 else (u ** (1 - t) - 1) / (1 - t)


def _reference_normalization(a, t, num_iters):
    mu = a.max(-1, keepdims=True)
    s0 = a - mu
    if t == 1:
        return np.log(np.exp(s0).sum(-1, keepdims=True)) + mu
    if t > 1:  # fixed point
        s = s0
        for _ in range(num_iters):
            s = s0 * _exp_t(s, t).sum(-1, keepdims=True) ** (1 - t)
        return -_log_t(1 / _exp_t(s, t).sum(-1, keepdims=True), t) + mu
    effective = (s0 > -1 / (1 - t)).sum(-1, keepdims=True).astype(np.float64)
    lower, upper = np.zeros_like(effective), -_log_t(1 / effective, t)
    for _ in range(num_iters):  # bisection on Σ exp_t(s0 - λ) = 1
        mid = (upper + lower) / 2
        below = _exp_t(s0 - mid, t).sum(-1, keepdims=True) < 1
        lower, upper = np.where(below, lower, mid), np.where(below, mid, upper)
    return (upper + lower) / 2 + mu


def _reference_softmax(a, t, num_iters=5):
    a = np.asarray(a, np.float64)
    return _exp_t(a - _reference_normalization(a, t, num_iters), t)


def _reference_bi_tempered(a, y, t1, t2, label_smoothing=0.0, num_iters=5):
    """(per-example loss, the reference's gradient with respect to a)."""
    y = np.asarray(y, np.float64)
    c = y.shape[-1]
    if label_smoothing > 0:
        y = (1 - c / (c - 1) * label_smoothing) * y + label_smoothing / (c - 1)
    p = _reference_softmax(a, t2, num_iters)
    if t1 == t2 == 1:  # jax/loss.py: KL(y ‖ p) (tensorflow/loss.py: the cross-entropy -Σ y log p)
        loss = (y * (np.log(y + 1e-15) - np.log(p))).sum(-1)
    else:
        loss = (y * (_log_t(y + 1e-10, t1) - _log_t(p, t1))
                - (y ** (2 - t1) - p ** (2 - t1)) / (2 - t1)).sum(-1)
    forget = (p - y) * p ** (t2 - t1)
    escort = p**t2 / (p**t2).sum(-1, keepdims=True)
    return loss, forget - escort * forget.sum(-1, keepdims=True)


ACTS_SOFT = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.2, 0.8, 0.0]])


def test_bi_tempered_numpy_port_reproduces_the_reference_tests():
    """The port against the values in google/bi-tempered-loss's loss_test.py (both versions)."""
    loss = _reference_bi_tempered
    np.testing.assert_allclose(loss(ACTS, ACTS_SOFT, 0.5, 1.5)[0],
                               [0.02301914, 0.18972909, 0.93874922], atol=1e-6)
    np.testing.assert_allclose(loss(ACTS, ACTS_SOFT, 0.5, 0.8, num_iters=20)[0],
                               [0.21646356, 0.41836615, 1.33997854], atol=1e-6)
    np.testing.assert_allclose(loss(ACTS, np.eye(3), 0.5, 1.5, label_smoothing=0.1)[0],
                               [0.76652711, 0.08627685, 1.35443510], atol=1e-5)  # theirs
    y = np.array([[0.2, 0.5, 0.3]])
    for t1, t2, want in [(1.0, 1.0, 0.628705), (0.9, 1.1, 0.45677936), (0.8, 1.2, 0.34298314),
                         (0.7, 1.3, 0.26295574)]:
        np.testing.assert_allclose(loss(ACTS[:1], y, t1, t2)[0], [want], atol=1e-6)
    # tensorflow/loss.py's t1 = t2 = 1 value is the cross-entropy: KL + the labels' entropy
    entropy = -(y * np.log(y)).sum()
    np.testing.assert_allclose(loss(ACTS[:1], y, 1.0, 1.0)[0] + entropy, [1.6583576], atol=1e-6)
    np.testing.assert_allclose(
        _reference_softmax(ACTS, 4.0),
        [[0.3205458, 0.32714278, 0.3523402], [0.3430056, 0.36491093, 0.29220778],
         [0.41369352, 0.30534995, 0.28299212]], atol=1e-6)
    two_class = np.stack([np.zeros(3), [0.0, 3.0, 6.0]], -1)  # tempered sigmoid: logits [0, z]
    np.testing.assert_allclose(_reference_softmax(two_class, 4.0)[:, 1],
                               [0.5, 0.58516014, 0.6421035], atol=1e-6)
    np.testing.assert_allclose(loss(np.zeros((2, 2)), np.eye(2), 1.0, 1.0)[0], [np.log(2)] * 2)


def test_bi_tempered_matches_the_numpy_port():
    """Values and gradients against the port at the reference's 5 iterations (float32 against
    float64: values within 1e-6 absolute, 1e-5 relative; gradients, the reference's custom
    gradient at the truncated fixed point's p, within 1e-6), and at 30 in float64 (1e-9). The
    knobs are traced: one compiled program per label kind for all cases."""
    def total(a, y, t1, t2, smoothing, num_iters=5):
        values = losses.bi_tempered_logistic(a, y, t1=t1, t2=t2, label_smoothing=smoothing,
                                             num_iters=num_iters)
        return values.sum(), values

    value_and_grad = jax.jit(jax.value_and_grad(total, has_aux=True))
    grad_30 = jax.jit(jax.grad(lambda *args: total(*args, num_iters=30)[0]))
    cases = [(0.8, 1.2, 0.0), (0.5, 1.5, 0.1), (0.2, 4.0, 0.0), (1.0, 1.5, 0.0), (0.5, 1.0, 0.2),
             (1.0, 1.0, 0.0)]
    label_kinds = [(P, P), (Y, np.eye(5)[Y])]
    for (t1, t2, smoothing), (labels, dense) in itertools.product(cases, label_kinds):
        want, want_grad = _reference_bi_tempered(Z, dense, t1, t2, smoothing)
        (_, values), grad = value_and_grad(Z, labels, t1, t2, smoothing)
        np.testing.assert_allclose(values, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, want_grad, atol=1e-6)
        with jax.enable_x64(True):
            grad = grad_30(jnp.asarray(Z, jnp.float64), dense, t1, t2, smoothing)
        np.testing.assert_allclose(
            grad, _reference_bi_tempered(Z, dense, t1, t2, smoothing, num_iters=30)[1], atol=1e-9)


def test_bi_tempered_init2winit_cases():
    """init2winit's model_lib/test_losses.py: bi_tempered_cross_entropy (t1 = 0.9, t2 = 2.0) is
    Σ w·loss / Σ w over one-hot targets; its sigmoid variant is the two-class loss on logits
    [0, z] and labels [1 - y, y], summed over the outputs of an example."""
    logits = np.array([[[5, 3, 4, -3, 7], [2, 5, -5, 5, 6], [-6, -5, 8, -6, 4],
                        [15, 8, -6, 4, 2], [-7, 5, -6, 9, 0]],
                       [[4, 2, 0, -4, 5], [14, 2, -5, 10, 12], [20, -3, 7, -9, 6],
                        [5, 7, -1, 2, -8], [4, -7, 9, 0, 2]]], np.float32)
    labels = np.array([[0, 2, 3, 4, 1], [1, 3, 0, 4, 2]])
    weights = [np.ones(5), np.array([2.0, 7, 0, 3, 0])]
    bi_tempered = jax.jit(lambda z, y: losses.bi_tempered_logistic(z, y, t1=0.9, t2=2.0))
    for z, y, w, want in zip(logits, labels, weights, [1.9120569, 1.7393580], strict=True):
        values = bi_tempered(z, y)
        np.testing.assert_allclose(losses.reduce(values, weights=w), want, rtol=1e-5)
    z = np.array([[4, -5, 8, -10], [-5, 7, 4, 11], [12, 5, 5, -9], [7, -11, -4, 8]], np.float32)
    y = np.array([[0.05, 0.02, 0.96, 0.02], [0.05, 0.001, 0.5, 0.4], [0.68, 0.92, 0.12, 0.22],
                  [0.34, 0.44, 0.29, 0.2]], np.float32)
    values = bi_tempered(np.stack([np.zeros_like(z), z], -1), np.stack([1 - y, y], -1))
    np.testing.assert_allclose(values.sum(-1).mean(), 1.9910424, rtol=1e-5)
    w = np.array([0.0, 4, 0, 2])  # per example, normalised by Σw
    np.testing.assert_allclose((values.sum(-1) * w).sum() / w.sum(), 2.6654808, rtol=1e-5)

def _tempered_softmax(a, t):
    """p_j = [1 + (1-t)(a_j - λ)]^(1/(1-t)) with λ by bisection on Σp = 1 (float64)."""
    out = []
    for row in a:
        lo, hi = row.max() - 50, row.max() + 50
        for _ in range(200):
            lam = (lo + hi) / 2
            p = np.maximum(1 + (1 - t) * (row - lam), 0) ** (1 / (1 - t))
            lo, hi = (lam, hi) if p.sum() > 1 else (lo, lam)
        out.append(p)
    return np.stack(out)


# --- Dice, MSLE, MAPE ---------------------------------------------------------------------------

def test_dice_matches_optax_and_keras():
    x = RNG.normal(size=(2, 6, 6, 3)).astype(np.float32)
    t = np.asarray(jax.nn.one_hot(RNG.integers(0, 3, size=(2, 6, 6)), 3))
    for kw in ({}, {"alpha": 0.3, "beta": 0.7}, {"smooth": 0.0},
               {"class_weight": np.array([1.0, 2.0, 0.5])}):
        ours = losses.dice(x, t, **kw)
        kw = {"class_weights": kw.pop("class_weight")} if "class_weight" in kw else kw
        np.testing.assert_allclose(ours, optax.losses.dice_loss(x, t, **kw), atol=1e-6)
    np.testing.assert_allclose(losses.dice(x, np.argmax(t, -1)), losses.dice(x, t), atol=1e-7)
    probs = np.asarray(jax.nn.softmax(x))
    np.testing.assert_allclose(losses.dice(probs, t, from_logits=False), losses.dice(x, t),
                               atol=1e-6)
    # optax's perfect / no overlap cases (binary, one class: sigmoid)
    target = np.array([[[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]])[..., None]
    assert losses.dice(np.where(target, 10.0, -10.0), target)[0] < 0.01
    assert losses.dice(np.where(target, -10.0, 10.0), target)[0] > 0.7
    # Keras' DiceTest: probabilities, every axis one set, no smoothing
    keras_true = np.array([[1.0, 2.0], [1.0, 2.0]]).reshape(1, 4, 1)
    keras_pred = np.array([[4.0, 1.0], [6.0, 1.0]]).reshape(1, 4, 1)
    np.testing.assert_allclose(losses.dice(keras_pred, keras_true, smooth=0.0, from_logits=False),
                               [-0.55555546], atol=1e-6)
    seg_true = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]], np.float32)
    seg_pred = np.array([[0, 1, 0, 1], [1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 1]], np.float32)
    np.testing.assert_allclose(
        losses.dice(seg_pred.reshape(1, 16, 1), seg_true.reshape(1, 16, 1), smooth=0.0,
                    from_logits=False), [0.77777773], atol=1e-6)
    y_true = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]).reshape(2, 2, 2, 1)
    y_pred = np.array([[0.0, 1.0, 0.0, 1.0], [0.4, 0.0, 0.0, 0.9]]).reshape(2, 2, 2, 1)
    np.testing.assert_allclose(losses.dice(y_pred, y_true, smooth=0.0, from_logits=False),
                               [0.5, 0.75757575], atol=1e-6)
    # Keras' tversky, as its source writes it: α on Σt(1-p) (its "fp"), β on Σp(1-t)
    for a, b in [(0.5, 0.5), (0.3, 0.7), (0.9, 0.1)]:
        inter = (seg_true * seg_pred).sum()
        keras_tversky = 1 - inter / (inter + a * ((1 - seg_pred) * seg_true).sum()
                                     + b * (seg_pred * (1 - seg_true)).sum() + 1e-7)
        np.testing.assert_allclose(
            losses.dice(seg_pred.reshape(1, 16, 1), seg_true.reshape(1, 16, 1), smooth=0.0,
                        from_logits=False, alpha=b, beta=a), [keras_tversky], atol=1e-6)
    # nothing predicted and nothing there, no smoothing: 0, with a finite gradient
    zero = np.zeros((1, 4, 1), np.float32)
    g = jax.grad(lambda p: losses.dice(p, zero, smooth=0.0, from_logits=False).sum())(zero)
    assert losses.dice(zero, zero, smooth=0.0, from_logits=False)[0] == 0 and np.all(g == 0)


def test_keras_msle_and_mape_cases():
    y_true = np.array([[1.0, 9.0, 2.0], [-5.0, -2.0, 6.0]], np.float32)
    y_pred = np.array([[4.0, 8.0, 12.0], [8.0, 1.0, 3.0]], np.float32)
    np.testing.assert_allclose(losses.reduce(losses.mean_squared_log_error(y_pred, y_true)),
                               1.4370, atol=1e-3)
    np.testing.assert_allclose(
        losses.reduce(losses.mean_absolute_percentage_error(y_pred, y_true)), 211.8518, atol=1e-3)
    # Keras' per-sample values are means over the last axis; reduction=None with weight 2.3,
    # and "mean_with_sample_weight" (Σ w·v / Σ w) with per-sample weights
    per_sample = losses.mean_absolute_percentage_error(y_pred, y_true).mean(-1)
    np.testing.assert_allclose(losses.reduce(per_sample, "none", weights=2.3),
                               [621.8518, 352.6666], atol=1e-3)
    msle_per_sample = losses.mean_squared_log_error(y_pred, y_true).mean(-1)
    np.testing.assert_allclose(losses.reduce(msle_per_sample, weights=np.array([1.2, 3.4])),
                               1.646, atol=1e-3)
    eps = 1e-7
    want = (np.log1p(np.maximum(y_pred, eps)) - np.log1p(np.maximum(y_true, eps))) ** 2
    np.testing.assert_allclose(losses.mean_squared_log_error(y_pred, y_true), want, rtol=1e-6)
    g = jax.grad(lambda p: losses.mean_squared_log_error(p, y_true).sum())(y_pred)
    np.testing.assert_allclose(g, 2 * np.sqrt(want) * np.sign(np.log1p(y_pred) - np.log1p(
        np.maximum(y_true, eps))) / (1 + y_pred), rtol=1e-5)
    # MAPE: exact near p = t (p - t has no rounding there), finite where p - t overflows
    t = np.float32(3e38)
    near = np.array([t * np.float32(1 + 2**-20)], np.float32)
    want = 100 * (near.astype(np.float64) - np.float64(t)) / np.float64(t)
    np.testing.assert_allclose(losses.mean_absolute_percentage_error(near, np.array([t])), want,
                               rtol=1e-6)
    big = losses.mean_absolute_percentage_error(np.array([-3e38], np.float32), np.array([t]))
    np.testing.assert_allclose(big, [100 * 2.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_mape_finite_where_representable(dtype):
    with jax.enable_x64(dtype == "float64"):
        top = float(jnp.finfo(dtype).max)
        p = jnp.asarray(np.array([top / 200, -top / 200, 1.0, 0.0, float(jnp.finfo(dtype).tiny)]),
                        dtype)
        # |t| ≥ 1: the value is at most 100·|p - t| (representable); t = p reversed has zero
        # and tiny targets, where only the gradient ±100/ε = ±1e9 must be finite (beyond a half)
        targets = [jnp.ones_like(p), jnp.full_like(p, -3.0)]
        if dtype in ("float32", "float64"):
            targets.append(p[::-1])
        for i, t in enumerate(targets):
            v, pullback = jax.vjp(lambda q, t=t: losses.mean_absolute_percentage_error(q, t), p)
            (g,) = pullback(jnp.ones_like(v))
            finite = np.isfinite(np.asarray(v, np.float64))
            assert (i == 2 or np.all(finite)) and np.all(np.isfinite(g)), (v, g)
            assert losses.mean_absolute_percentage_error(p, t).dtype == jnp.dtype(dtype)


# --- representation: ntxent, triplet margin ------------------------------------------------------

YS = np.array([[-1.9540, 1.0780], [0.2380, -0.5703], [1.8745, -0.0195], [-0.6719, -1.9210]],
              np.float32)


def _optax_mean(values, labels):
    positives = (labels[:, None] == labels[None]) & ~np.eye(labels.size, dtype=bool)
    return losses.reduce(values, weights=positives.sum(1))


@pytest.mark.parametrize("embeddings,labels,want", [
    (YS, np.array([0, 0, 1, 1]), 14.01032),
    (YS, np.array([0, 0, 0, 1]), 8.968544),
    (np.concatenate([np.zeros((1, 2), np.float32), YS[1:]]), np.array([0, 0, 1, 1]), 9.2889),
])
def test_ntxent_optax_cases(embeddings, labels, want):
    values = jax.jit(losses.ntxent)(embeddings, labels)
    assert values.shape == (4,)
    np.testing.assert_allclose(_optax_mean(values, labels), want, atol=1e-4)
    np.testing.assert_allclose(_optax_mean(values, labels),
                               optax.losses.ntxent(jnp.asarray(embeddings), labels), rtol=1e-5)


def test_ntxent_properties():
    e = RNG.normal(size=(8, 3)).astype(np.float32)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 4])  # the last two anchors have no positive: 0
    values = losses.ntxent(e, labels, temperature=0.5)
    assert np.all(values[-2:] == 0) and np.all(values[:-2] > 0)
    # the formula in numpy: -log(e^{s_ij} / (e^{s_ij} + Σ_neg e^{s_ik})), mean over j
    u = e / np.linalg.norm(e, axis=1, keepdims=True)
    s = u @ u.T / 0.5
    want = []
    for i in range(8):
        pos = [j for j in range(8) if j != i and labels[j] == labels[i]]
        neg = np.exp(s[i][labels != labels[i]]).sum()
        want.append(np.mean([np.log(np.exp(s[i, j]) + neg) - s[i, j] for j in pos]) if pos else 0)
    np.testing.assert_allclose(values, want, rtol=1e-5)
    # invariant to each embedding's scale (cosine), temperature traceable
    np.testing.assert_allclose(losses.ntxent(e * np.arange(1, 9)[:, None], labels,
                                             temperature=0.5), values, rtol=1e-5)
    temps = jnp.array([0.1, 0.5, 1.0])
    swept = jax.jit(jax.vmap(lambda t: losses.get("ntxent", temperature=t)(e, labels)))(temps)
    np.testing.assert_allclose(swept[1], values, rtol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        losses.ntxent(e, labels, temperature=0.0)


def test_triplet_margin_optax_and_torch_cases():
    # optax's cases and handmade formula: relu(√(Σ(a-p)² + ε) - √(Σ(a-n)² + ε) + m), per row
    for anchor, positive in [(np.ones((2, 2)), np.zeros((2, 2))), (np.zeros((2, 2)),
                                                                   np.ones((2, 2)))]:
        negative = np.full((2, 2), 2.0)
        want = np.maximum(np.sqrt(((anchor - positive) ** 2).sum(-1) + 1e-6)
                          - np.sqrt(((anchor - negative) ** 2).sum(-1) + 1e-6) + 1.0, 0)
        np.testing.assert_allclose(jax.jit(losses.triplet_margin)(anchor, positive, negative),
                                   want, atol=1e-6)
    a, p, n = (RNG.normal(size=(6, 4)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(losses.triplet_margin(a, p, n, margin=0.5),
                               optax.losses.triplet_margin_loss(a, p, n, margin=0.5), atol=1e-6)
    # optax docstring example
    np.testing.assert_allclose(
        losses.triplet_margin(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.1, 0.1],
                              [1.1, 1.1]]), np.array([[1.0, 0.0], [0.0, 1.0]])),
        [0.1414, 0.1414], atol=1e-4)
    # torch's formula (ε added to each difference, p-norm, swap): within O(ε) of these
    def torch_distance(x, y, q):
        return (np.abs(x - y + 1e-6) ** q).sum(-1) ** (1 / q)
    for q, swap in [(2, False), (1, False), (3, True)]:
        d_neg = torch_distance(a, n, q)
        if swap:
            d_neg = np.minimum(d_neg, torch_distance(p, n, q))
        want = np.maximum(torch_distance(a, p, q) - d_neg + 1.0, 0)
        got = losses.triplet_margin(a, p, n, norm_degree=q, swap=swap)
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_triplet_margin_finite_and_saturating():
    big = np.float32(1e37)
    a = np.array([[big, -big], [0.0, 0.0], [1.0, 2.0]], np.float32)
    p = np.array([[-big, big], [0.0, 0.0], [1.0, 2.0]], np.float32)  # a = p: distance √ε
    n = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 2.5]], np.float32)
    v, g = jax.value_and_grad(lambda x: losses.triplet_margin(x, p, n).sum())(a)
    assert np.isfinite(v) and np.all(np.isfinite(g))
    np.testing.assert_allclose(losses.triplet_margin(a, p, n)[0],
                               2 * np.sqrt(2) * 1e37 - np.sqrt(2) * 1e37 + 1, rtol=1e-6)
    assert losses.triplet_margin(a, p, n)[1] == 0 and np.all(g[1] == 0)  # margin met: 0
    margins = jnp.array([0.0, 1.0, 10.0])
    swept = jax.vmap(lambda m: losses.get("triplet_margin", margin=m)(a, p, n))(margins)
    np.testing.assert_allclose(swept[2], losses.triplet_margin(a, p, n, margin=10.0))
    with pytest.raises(ValueError, match="norm_degree"):
        losses.triplet_margin(a, p, n, norm_degree=0.5)



def _triplet_reference(a, p, n, q, eps, margin=1.0):
    """Value and gradients (anchors, positives, negatives) in float64; a zero distance (ε = 0)
    has gradient 0 (torch's subgradient of the norm at 0)."""
    a, p, n = (np.asarray(x, np.float64) for x in (a, p, n))

    def dist_and_grad(x):  # d = (Σ|x|^q + ε)^(1/q), ∂d/∂x = sign(x)(|x|/d)^(q-1)
        top = np.max(np.abs(x), -1, keepdims=True)
        scale = np.where(top > 0, top, 1)
        d = scale[:, 0] * ((np.abs(x / scale) ** q).sum(-1) + eps / scale[:, 0] ** q) ** (1 / q)
        safe = np.where(d > 0, d, 1)[:, None]
        return d, np.where(d[:, None] > 0, np.sign(x) * (np.abs(x) / safe) ** (q - 1), 0)

    (d_pos, g_pos), (d_neg, g_neg) = dist_and_grad(a - p), dist_and_grad(a - n)
    slack = d_pos - d_neg + margin
    active = (slack > 0)[:, None].astype(np.float64)
    return np.maximum(slack, 0), [active * (g_pos - g_neg), -active * g_pos, active * g_neg]


@pytest.mark.parametrize("q", [1, 2, 3])
def test_triplet_margin_overflow_and_zero_distance_gradients(q):
    # rows: a = p with ε = 0 (the norm's kink), Σ(a-p)² overflowing float32 (the distance does
    # not), |a-p|³ overflowing (q = 3) but not its square, distances above 2^126 (1/d is
    # subnormal, flushed to 0 by XLA:CPU), an ordinary row
    a = np.array([[1.0, 2.0], [3e19, -3e19], [5e12, 1.0], [1e38, 0.0], [0.5, -0.25]], np.float32)
    p = np.array([[1.0, 2.0], [-3e19, 3e19], [-5e12, 0.0], [-1e38, 0.0], [0.0, 1.0]], np.float32)
    n = np.array([[3.0, 3.0], [0.0, 0.0], [0.0, 0.0], [1e38, 1e38], [1.0, 0.0]], np.float32)
    want, want_grads = _triplet_reference(a, p, n, q, eps=0.0, margin=5.0)
    value, grads = jax.value_and_grad(
        lambda *x: losses.triplet_margin(*x, margin=5.0, eps=0.0, norm_degree=q).sum(),
        argnums=(0, 1, 2))(a, p, n)
    np.testing.assert_allclose(losses.triplet_margin(a, p, n, margin=5.0, eps=0.0,
                                                     norm_degree=q), want, rtol=1e-6)
    np.testing.assert_allclose(value, want.sum(), rtol=1e-6)
    for got, expected in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # second derivatives use the rule too: finite on the overflow rows
    hessian = jax.hessian(lambda x: losses.triplet_margin(x, p[1:4], n[1:4], margin=5.0,
                                                          norm_degree=q).sum())(a[1:4])
    assert np.all(np.isfinite(hessian))
    # the default ε = 1e-6 on the same rows: the kink is smoothed, the overflow rows unchanged
    want, want_grads = _triplet_reference(a, p, n, q, eps=1e-6, margin=5.0)
    grads = jax.grad(lambda *x: losses.triplet_margin(*x, margin=5.0, norm_degree=q).sum(),
                     argnums=(0, 1, 2))(a, p, n)
    for got, expected in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

# --- registry entries, dtypes, finiteness, NaN ---------------------------------------------------

def test_registry_entries_of_issue_32():
    assert losses.task("ntxent") == losses.task("triplet_margin") == "representation"
    assert losses.knobs("poly_loss") == {"epsilon": 2.0}
    assert losses.knobs("bi_tempered") == {"t1": 0.8, "t2": 1.2, "label_smoothing": 0.0}
    for alias, name in [("multiclass_sparsemax_loss", "sparsemax_loss"),
                        ("msle", "mean_squared_log_error"),
                        ("mape", "mean_absolute_percentage_error"), ("dice_loss", "dice"),
                        ("nt_xent", "ntxent"), ("triplet_margin_loss", "triplet_margin"),
                        ("convex_kl_divergence", "generalized_kl_divergence")]:
        assert losses.canonical(alias) == name
    e = RNG.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(losses.get("infonce")(e, np.array([0, 0, 1, 1])),
                                  losses.ntxent(e, np.array([0, 0, 1, 1])))



# torch.nn.functional's losses (torch 2.x docs, nn.functional.rst "Loss functions", plus
# gaussian_nll_loss and huber_loss) and torchvision.ops' sigmoid_focal_loss; Keras 3's
# keras.losses (keras/src/losses/__init__.py and CategoricalGeneralizedCrossEntropy): neither
# is installed here, so their names were read from the sources (2026-12-07).
TORCH_LOSSES = frozenset("""
    binary_cross_entropy binary_cross_entropy_with_logits poisson_nll_loss cosine_embedding_loss
    cross_entropy ctc_loss gaussian_nll_loss hinge_embedding_loss kl_div l1_loss mse_loss
    margin_ranking_loss multilabel_margin_loss multilabel_soft_margin_loss multi_margin_loss
    nll_loss huber_loss smooth_l1_loss soft_margin_loss triplet_margin_loss
    triplet_margin_with_distance_loss sigmoid_focal_loss""".split())
KERAS_LOSSES = frozenset("""
    KLDivergence Poisson BinaryCrossentropy BinaryFocalCrossentropy CategoricalCrossentropy
    CategoricalFocalCrossentropy SparseCategoricalCrossentropy MeanSquaredError
    MeanAbsoluteError MeanAbsolutePercentageError MeanSquaredLogarithmicError CosineSimilarity
    LogCosh Huber Hinge SquaredHinge CategoricalHinge Dice IoU Tversky Circle CTC
    CategoricalGeneralizedCrossEntropy""".split())


def _catalogue_rows():
    """README's catalogue table as (losslab names, optax, torch, Keras names) per row; a name
    written `a[_b]` is both a and a_b."""
    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("### Catalogue", 1)[1].split("\n###", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = re.split(r"(?<!\\)\|", line)[1:-1]  # an escaped \| is inside a formula
        peers = [{base + tail for base, suffix in re.findall(r"`(\w+)(?:\[(\w+)\])?", cell)
                  for tail in {"", suffix}} for cell in cells[3:6]]
        rows.append((re.findall(r"`(\w+)`", cells[0]), *peers))
    return rows


def test_readme_catalogue_rows_are_the_registered_losses():
    rows = _catalogue_rows()
    listed = [name for names, *_ in rows for name in names]
    assert len(listed) == len(set(listed)), "a loss in two rows"
    assert set(listed) == set(losses.names()), (
        f"registered without a row: {sorted(set(losses.names()) - set(listed))}; rows naming no "
        f"registered loss: {sorted(set(listed) - set(losses.names()))}")
    assert "ctc" not in {n.lower() for n in losses.names()}  # stated as out of scope
    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert "CTC (`optax.ctc_loss`, torch's `ctc_loss`) is out of scope" in text


def test_readme_catalogue_peer_names_exist():
    for names, optax_names, torch_names, keras_names in _catalogue_rows():
        assert all(hasattr(optax.losses, n) for n in optax_names), (names, optax_names)
        assert torch_names <= TORCH_LOSSES, (names, torch_names - TORCH_LOSSES)
        assert keras_names <= KERAS_LOSSES, (names, keras_names - KERAS_LOSSES)
    # the peers' own names of the same function resolve to the row's loss
    for alias, name in [("mse_loss", "squared_error"), ("l1_loss", "absolute_error"),
                        ("binary_cross_entropy_with_logits", "sigmoid_binary_cross_entropy"),
                        ("softmax_cross_entropy_with_integer_labels", "softmax_cross_entropy")]:
        assert losses.canonical(alias) == name

def _extreme_rows(dtype, bound):
    tiny = float(jnp.finfo(dtype).tiny)
    grid = np.array([[bound, -bound, tiny, 0.0], [1.0, -1.0, 1e-3, -bound], [0.0, 0.0, 0.0, 0.0],
                     [bound, bound, -tiny, 2.0], [0.5, -0.25, bound / 3, 1.0],
                     [-bound, 3.0, 0.0, tiny]])
    return jnp.asarray(grid, dtype)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_new_losses_finite_at_the_extremes_and_keep_dtype(dtype):
    with jax.enable_x64(dtype == "float64"):
        quarter = float(jnp.finfo(dtype).max) / 4
        z = _extreme_rows(dtype, quarter)
        labels = np.array([0, 1, 2, 3, 0, 1])
        cases = [lambda x: losses.fenchel_young(x, labels),
                 lambda x: losses.fenchel_young(x, labels, regularizer="squared"),
                 lambda x: losses.sparsemax(x)[:, 0],
                 lambda x: losses.ntxent(x, labels % 3, temperature=0.1),
                 lambda x: losses.triplet_margin(x, x[::-1] / 4, x[:, ::-1] / 4)]
        for fn in cases:
            out, pullback = jax.vjp(jax.jit(fn), z)
            (grad,) = pullback(jnp.ones_like(out))
            assert out.dtype == jnp.dtype(dtype)
            assert np.all(np.isfinite(np.asarray(out, np.float64))), out
            assert np.all(np.isfinite(np.asarray(grad, np.float64))), grad
        if dtype == "float32":  # huge rows: the values too (1/max|x| is subnormal: flushed)
            x = np.asarray(z, np.float64)

            def dist(u, v):
                return np.sqrt(((u - v) ** 2).sum(-1) + 1e-6)

            want = np.maximum(dist(x, x[::-1] / 4) - dist(x, x[:, ::-1] / 4) + 1, 0)
            np.testing.assert_allclose(cases[-1](z), want, rtol=1e-5)
            # the largest entry alone (rows 0, 4), split between two equal ones (row 3)
            np.testing.assert_allclose(np.asarray(losses.sparsemax(z))[[0, 3, 4]],
                                       [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 1, 0]])


def test_representation_losses_nan_in_nan_out():
    e = RNG.normal(size=(4, 3)).astype(np.float32)
    e[0, 1] = np.nan
    assert np.isnan(losses.ntxent(e, np.array([0, 0, 1, 1]))[0])
    out = losses.triplet_margin(e, e[::-1], np.zeros_like(e))
    assert np.isnan(out[0]) and np.isnan(out[3]) and np.all(np.isfinite(out[1:3]))
