"""Issue 11's catalogue against independent references (scipy, optax, torch's formulas), and the
classification options (axis, per-example where, weight, pos_weight, ignore_index)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

import losses

RNG = np.random.default_rng(1)
Z = (RNG.normal(size=(7, 5)) * 2).astype(np.float32)
Y = np.array([0, 4, 1, 1, 3, 2, 0])
P = RNG.dirichlet(np.ones(5), size=7).astype(np.float32)
R = np.linspace(-6, 6, 13)


def test_gaussian_nll_torch_conventions():
    var = np.linspace(0.2, 3.0, 13)
    want = 0.5 * (np.log(var) + R**2 / var)
    np.testing.assert_allclose(losses.gaussian_nll(R, None, var), want, rtol=1e-6)
    np.testing.assert_allclose(losses.gaussian_nll(R, None, var, full=True),
                               -scipy.stats.norm.logpdf(R, scale=np.sqrt(var)), rtol=1e-6)
    # eps clamps the value; the gradient is the unclamped formula's (torch: clamp under no_grad)
    v = jnp.float32(1e-9)
    np.testing.assert_allclose(losses.gaussian_nll(jnp.ones(1), None, v, eps=1e-3),
                               0.5 * (np.log(1e-3) + 1 / 1e-3), rtol=1e-6)
    g = jax.grad(lambda v: losses.gaussian_nll(jnp.ones(1), None, v, eps=1e-3).sum())(v)
    np.testing.assert_allclose(g, 0.5 * (1 / 1e-3 - 1 / 1e-3**2), rtol=1e-5)
    with pytest.raises(ValueError, match="variance"):
        losses.gaussian_nll(R, None, -1.0)


def test_laplace_and_student_t_nll_match_scipy():
    b = 1.7
    np.testing.assert_allclose(losses.laplace_nll(R, None, b, full=True),
                               -scipy.stats.laplace.logpdf(R, scale=b), rtol=1e-6)
    np.testing.assert_allclose(losses.laplace_nll(R, None, 1.0), np.abs(R), rtol=1e-6)
    for nu in (0.5, 1.0, 3.0, 30.0):
        with jax.enable_x64(True):
            got = losses.student_t_nll(jnp.asarray(R), None, 1.3, nu=nu)
            np.testing.assert_allclose(got, -scipy.stats.t.logpdf(R, df=nu, scale=1.3),
                                       rtol=1e-12)
            # ν learned: the gradient in ν matches a central difference
            f = lambda n: losses.student_t_nll(jnp.asarray(R), None, 1.3, nu=n).sum()
            fd = (f(nu + 1e-6) - f(nu - 1e-6)) / 2e-6
            np.testing.assert_allclose(jax.grad(f)(jnp.float64(nu)), fd, rtol=1e-6)
    # heavy tails: finite at huge residuals (≈ (ν+1) log|r|)
    assert np.isfinite(losses.student_t_nll(jnp.array([1e30]), nu=3.0)[0])


def test_poisson_nll_torch_formulas():
    s, k = np.linspace(-2, 3, 6), np.array([0.0, 1, 2, 3, 7, 20])
    np.testing.assert_allclose(losses.poisson_nll(s, k), np.exp(s) - k * s, rtol=1e-6)
    lam = np.exp(s)
    np.testing.assert_allclose(losses.poisson_nll(lam, k, log_input=False),
                               lam - k * np.log(lam + 1e-8), rtol=1e-5)
    stirling = np.where(k > 1, k * np.log(np.maximum(k, 1)) - k
                        + 0.5 * np.log(2 * np.pi * np.maximum(k, 1)), 0)
    np.testing.assert_allclose(losses.poisson_nll(s, k, full=True),
                               np.exp(s) - k * s + stirling, rtol=1e-5)
    # full=True is the exact NLL up to Stirling's error: against scipy
    np.testing.assert_allclose(losses.poisson_nll(np.log(lam), k, full=True)[3:],
                               -scipy.stats.poisson.logpmf(k, lam)[3:], rtol=2e-2)


def test_kl_divergence_optax_and_torch():
    log_p = jax.nn.log_softmax(Z)
    np.testing.assert_allclose(losses.kl_divergence(log_p, P),
                               optax.losses.kl_divergence(log_p, P), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.kl_divergence(log_p, np.log(P), log_target=True),
                               optax.losses.kl_divergence_with_log_targets(log_p, np.log(P)),
                               rtol=1e-5, atol=1e-6)
    t = P.copy()
    t[:, 0] = 0  # zero target mass: 0·log 0 = 0, even against log p = -inf
    log_p = log_p.at[:, 0].set(-jnp.inf)
    got = losses.kl_divergence(log_p, t)
    want = (t[:, 1:] * (np.log(t[:, 1:]) - np.asarray(log_p)[:, 1:])).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(np.isfinite(jax.grad(lambda q: losses.kl_divergence(q, t).sum())(log_p)))


def test_binary_hinge_perceptron_match_optax():
    s, y = Z.ravel(), np.where(RNG.random(Z.size) > 0.5, 1, -1).astype(np.float32)
    np.testing.assert_allclose(losses.hinge(s, y), optax.losses.hinge_loss(s, y), rtol=1e-6)
    np.testing.assert_allclose(losses.perceptron(s, y), optax.losses.perceptron_loss(s, y),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="labels=0"):
        losses.hinge(s, np.zeros_like(s))


def test_hinge_gradient_at_the_margin_is_zero_and_nan_propagates():
    # The documented subgradient at y·s = m is 0 (jnp.maximum's tie rule gave -y/2).
    for margin, score in [(1.0, 1.0), (0.5, 0.5)]:
        g = jax.grad(lambda s: losses.hinge(s, jnp.array(1.0), margin=margin))(score)
        assert g == 0
    assert jax.grad(lambda s: losses.perceptron(s, jnp.array(-1.0)))(0.0) == 0
    np.testing.assert_array_equal(
        jax.grad(lambda s: losses.hinge(s, jnp.array([1.0, -1.0])).sum())(jnp.array([0.5, 0.5])),
        [-1.0, 1.0])
    assert np.isnan(losses.hinge(jnp.array([np.nan]), jnp.array([1.0]))[0])
    assert np.isnan(losses.perceptron(jnp.array([np.nan]), jnp.array([1.0]))[0])


def test_multiclass_hinge_matches_optax_and_differs_from_multi_margin():
    np.testing.assert_allclose(losses.multiclass_hinge(Z, Y),
                               optax.losses.multiclass_hinge_loss(Z, Y), rtol=1e-6)
    np.testing.assert_allclose(losses.multiclass_hinge(Z, np.eye(5, dtype=np.float32)[Y]),
                               optax.losses.multiclass_hinge_loss(Z, Y), rtol=1e-6)
    s = np.array([[0.1, 0.2, 0.4, 0.8]], np.float32)
    np.testing.assert_allclose(losses.multiclass_hinge(s, np.array([3])), [0.6], rtol=1e-6)
    # Gradients: -1 on the true class and +1 on the worst wrong one while the margin is
    # violated; wrong classes tied for the worst: the first gets the +1 (optax's max splits it)
    g = jax.grad(lambda z: losses.multiclass_hinge(z, Y).sum())(Z)
    np.testing.assert_allclose(g, jax.grad(
        lambda z: optax.losses.multiclass_hinge_loss(z, Y).sum())(Z))
    tied = jnp.array([[0.5, 0.5, 0.2]])
    for labels in (jnp.array([2]), jnp.array([[0.0, 0.0, 1.0]])):
        np.testing.assert_array_equal(
            jax.grad(lambda z, y=labels: losses.multiclass_hinge(z, y).sum())(tied),
            [[1.0, 0.0, -1.0]])
    # NaN scores give NaN
    assert np.isnan(losses.multiclass_hinge(jnp.array([[np.nan, 0.0]]), jnp.array([1]))[0])


@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_sigmoid_focal_matches_optax(alpha, gamma):
    y = (P > 0.2).astype(np.float32)
    np.testing.assert_allclose(
        losses.sigmoid_focal(Z, y, alpha=alpha, gamma=gamma),
        optax.losses.sigmoid_focal_loss(Z, y, alpha=alpha, gamma=gamma), rtol=1e-5, atol=1e-7)
    if alpha is None and gamma == 0:
        np.testing.assert_allclose(losses.sigmoid_focal(Z, y, gamma=0.0),
                                   losses.sigmoid_binary_cross_entropy(Z, y), rtol=1e-6)
    h = jax.hessian(lambda z: losses.sigmoid_focal(z, jnp.array(1.0), gamma=gamma))(15.0)
    assert np.isfinite(h)


def test_cosine_distance_matches_optax():
    t = RNG.normal(size=Z.shape).astype(np.float32)
    np.testing.assert_allclose(losses.cosine_distance(Z, t), optax.losses.cosine_distance(Z, t),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.cosine_distance(Z.T, t.T, axis=0),
                               optax.losses.cosine_distance(Z, t), rtol=1e-5, atol=1e-6)
    zero = jnp.zeros((1, 5))
    assert losses.cosine_distance(zero, t[:1])[0] == 1.0
    assert np.all(jax.grad(lambda p: losses.cosine_distance(p, t[:1]).sum())(zero) == 0)


def test_smooth_labels_matches_optax():
    np.testing.assert_allclose(losses.smooth_labels(P, 0.1), optax.smooth_labels(P, 0.1))
    np.testing.assert_allclose(losses.smooth_labels(Y, 0.2, num_classes=5),
                               optax.smooth_labels(np.eye(5)[Y], 0.2), rtol=1e-6)
    # cross-entropy's label_smoothing is cross-entropy against the smoothed labels
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(Z, Y, label_smoothing=0.2),
        losses.softmax_cross_entropy(Z, losses.smooth_labels(Y, 0.2, num_classes=5)), rtol=1e-6)


NAMES = ["softmax_cross_entropy", "focal", "multi_margin", "multiclass_hinge",
         "one_hot_squared_error", "squentropy"]


@pytest.mark.parametrize("name", NAMES)
def test_axis_moves_the_class_axis(name):
    fn = getattr(losses, name)
    z3 = np.stack([Z, Z[::-1]], axis=1)  # [batch, 2, classes]
    y3 = np.stack([Y, Y[::-1]], axis=1)
    want = fn(z3, y3)
    np.testing.assert_allclose(fn(np.moveaxis(z3, -1, 0), y3, axis=0), want, rtol=1e-6)
    np.testing.assert_allclose(fn(np.moveaxis(z3, -1, 1), y3, axis=1), want, rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_per_example_where_and_ignore_index(name):
    fn = getattr(losses, name)
    keep = np.array([True, False, True, True, False, True, True])
    z = Z.copy()
    z[~keep] = np.nan  # masked examples' values never reach the value or the gradient
    full = fn(Z, Y)
    got = fn(z, Y, where=keep)
    np.testing.assert_allclose(got, np.where(keep, full, 0), rtol=1e-6)
    g = jax.grad(lambda z: fn(z, Y, where=keep).sum())(jnp.asarray(z))
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[~keep] == 0)
    labels = np.where(keep, Y, -100)
    np.testing.assert_allclose(fn(Z, labels, ignore_index=-100), np.where(keep, full, 0),
                               rtol=1e-6)


def test_class_weight_torch_convention():
    w = np.array([0.5, 1.0, 2.0, 1.5, 0.1], np.float32)
    log_p = np.asarray(jax.nn.log_softmax(Z.astype(np.float64)))
    np.testing.assert_allclose(losses.softmax_cross_entropy(Z, Y, weight=w),
                               -w[Y] * log_p[np.arange(7), Y], rtol=1e-5)
    np.testing.assert_allclose(losses.softmax_cross_entropy(Z, P, weight=w),
                               -(w * P * log_p).sum(-1), rtol=1e-5)
    eps = 0.1  # torch: smoothing terms weighted too
    t = (1 - eps) * np.eye(5)[Y] + eps / 5
    np.testing.assert_allclose(losses.softmax_cross_entropy(Z, Y, weight=w, label_smoothing=eps),
                               -(w * t * log_p).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(losses.multi_margin(Z, Y, weight=w),
                               w[Y] * losses.multi_margin(Z, Y), rtol=1e-6)
    np.testing.assert_allclose(losses.focal(Z, Y, weight=w, gamma=1.0),
                               w[Y] * losses.focal(Z, Y, gamma=1.0), rtol=1e-6)


def test_pos_weight_torch_convention():
    y = (P > 0.2).astype(np.float32)
    pw = np.array([1.0, 2.0, 3.0, 0.5, 1.0], np.float32)
    log_sig = np.asarray(jax.nn.log_sigmoid(Z.astype(np.float64)))
    log_sig_neg = np.asarray(jax.nn.log_sigmoid(-Z.astype(np.float64)))
    want = -(pw * y * log_sig + (1 - y) * log_sig_neg)
    np.testing.assert_allclose(losses.sigmoid_binary_cross_entropy(Z, y, pos_weight=pw), want,
                               rtol=1e-5)
