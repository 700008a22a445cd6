"""Property (issue 11, item 8): every loss gives a finite value and a finite gradient for every
finite input of float16, bfloat16, float32 and float64, in every knob regime.

"Every finite input" is the dtype's whole finite range wherever the true value is representable:
losses that grow at most linearly are tested over [-max, max]; squared_error, the p = 2 hinge,
the one-hot square loss and the Gaussian NLL (true value ~ x², not representable beyond √max)
over [-√max/4, √max/4]; classification logits over [-max/4, max/4] (the logit gaps, which the
losses grow with, must be finite); Poisson log-rates over ±log(max)/2 (the loss is e^s).
cosine_distance's gradient is ~1/‖p‖: its vectors are nonzero with a normal largest entry, or
exactly zero (both kinds are drawn). One compilation per loss, knob regime and dtype;
hypothesis draws batches of inputs, and every batch is checked with the extremes (±max, ±tiny,
0) added.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import losses

DTYPES = ["float16", "bfloat16", "float32", "float64"]
N = 24
ALPHAS = [-np.inf, -1e3, -2.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0, np.inf]
SETTINGS = settings(max_examples=6, deadline=None, database=None)

# (name, knobs, domain): "full" = [-max, max], "sqrt" = [-√max/4, √max/4], "logits" = max/4.
REGRESSION = [
    ("squared_error", {}, "sqrt"),
    ("absolute_error", {}, "full"),
    ("huber", {"delta": 1.0}, "full"),
    ("smooth_l1", {"beta": 0.1}, "full"),
    ("smooth_l1", {"beta": 3.0}, "full"),
    ("smooth_l1", {"beta": 0.0}, "full"),
    ("pseudo_huber", {"delta": 1.0}, "full"),
    ("log_cosh", {}, "full"),
    ("quantile", {"tau": 0.1}, "full"),
    ("quantile", {"tau": 0.9}, "full"),
    ("cauchy", {"scale": 0.5}, "full"),
    ("geman_mcclure", {"scale": 0.5}, "full"),
    ("welsch", {"scale": 0.5}, "full"),
    *[("general_robust", {"alpha": a, "scale": 1.0}, "full") for a in ALPHAS],
    *[("general_robust", {"alpha": a, "scale": 3.0}, "full") for a in (-2.0, 0.0, 1.0, 2.0)],
    *[("robust_nll", {"alpha": a, "scale": 1.0}, "full") for a in (0.0, 0.5, 1.0, 2.0, 3.0)],
    ("gaussian_nll", {"variance": 0.5}, "sqrt"),
    ("laplace_nll", {"scale": 2.0}, "full"),  # |r|/b: finite for b ≥ 1 only
    ("student_t_nll", {"scale": 0.5}, "full"),
    ("student_t_nll", {"scale": 2.0, "nu": 0.5}, "full"),
    ("mean_squared_log_error", {}, "full"),
]
CLASSIFICATION = [
    ("softmax_cross_entropy", {}, "logits"),
    ("softmax_cross_entropy", {"label_smoothing": 0.1}, "logits"),
    ("focal", {"gamma": 0.5}, "logits"),
    ("focal", {"gamma": 2.0}, "logits"),
    ("multi_margin", {"p": 1}, "logits"),
    ("multi_margin", {"p": 2}, "sqrt"),
    ("one_hot_squared_error", {}, "sqrt"),
    ("squentropy", {}, "sqrt"),
    ("sigmoid_binary_cross_entropy", {}, "logits"),
    ("sigmoid_focal", {"gamma": 0.5}, "logits"),
    ("sigmoid_focal", {"gamma": 2.0, "alpha": 0.25}, "logits"),
    ("hinge", {}, "logits"),
    ("perceptron", {}, "logits"),
    ("multiclass_hinge", {}, "logits"),
    ("kl_divergence", {}, "logits"),
    # issue 32 (mean_absolute_percentage_error, fenchel_young, ntxent, triplet_margin:
    # tests/test_losses_v3.py)
    ("sparsemax_loss", {}, "logits"),
    ("nll_loss", {}, "logits"),
    ("poly_loss_cross_entropy", {"epsilon": 2.0}, "logits"),
    ("poly_loss_cross_entropy", {"epsilon": -1.0}, "logits"),
    ("bi_tempered_logistic", {"t1": 0.8, "t2": 1.2}, "logits"),
    ("bi_tempered_logistic", {"t1": 1.0, "t2": 1.0}, "logits"),
    ("bi_tempered_logistic", {"t1": 0.5, "t2": 2.0, "label_smoothing": 0.1}, "logits"),
    ("generalized_kl_divergence", {}, "log"),
    ("dice", {"smooth": 1.0}, "logits"),
    ("dice", {"smooth": 0.0}, "logits"),
]


def _bound(dtype, domain):
    top = float(jnp.finfo(dtype).max)
    return {"full": top, "sqrt": math.sqrt(top) / 4, "logits": top / 4,
            "log": math.log(top) / 2}[domain]


def _batches(dtype, domain):
    """Hypothesis batches of N finite numbers of `dtype` within the domain (as float64)."""
    width = {"float16": 16, "float64": 64}.get(dtype, 32)
    bound = {16: np.float16, 32: np.float32, 64: np.float64}[width](_bound(dtype, domain))
    bound = float(np.nextafter(bound, 0) if bound > _bound(dtype, domain) else bound)
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=width)
    return hnp.arrays(np.float64, N, elements=elements)


def _with_extremes(x, dtype, domain):
    bound, tiny = _bound(dtype, domain), float(jnp.finfo(dtype).tiny)
    extremes = np.array([bound, -bound, tiny, -tiny, 0.0, 1.0, -1.0, 1e-3])
    return np.concatenate([x[: N - extremes.size], extremes])


def _cast(x, dtype):
    bound = float(jnp.finfo(dtype).max)
    return jnp.asarray(np.clip(x, -bound, bound), dtype)  # rounding must not leave the range


def _assert_finite(fn, x, *args):
    values, pullback = jax.vjp(fn, x, *args)
    (grad, *_) = pullback(jnp.ones_like(values))
    assert np.all(np.isfinite(np.asarray(values, np.float64))), (x, values)
    assert np.all(np.isfinite(np.asarray(grad, np.float64))), (x, grad)


def _ids(cases):
    return [f"{n}-{'-'.join(f'{k}={v}' for k, v in kn.items())}" for n, kn, _ in cases]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,knobs,domain", REGRESSION, ids=_ids(REGRESSION))
def test_regression_losses_finite_over_the_whole_range(name, knobs, domain, dtype):
    with jax.enable_x64(dtype == "float64"):
        fn = jax.jit(lambda p: losses.get(name, **knobs)(p))

        @SETTINGS
        @given(x=_batches(dtype, domain))
        def check(x):
            _assert_finite(fn, _cast(_with_extremes(x, dtype, domain), dtype))

        check()


@pytest.mark.parametrize("dtype", DTYPES)
def test_traced_alpha_finite_over_the_whole_range(dtype):
    # α swept as a traced value (the sweep engine's case): one program for every α.
    with jax.enable_x64(dtype == "float64"):
        fn = jax.jit(lambda p, a: losses.general_robust(p, alpha=a))
        nll = jax.jit(lambda p, a: losses.robust_nll(p, alpha=a))

        @SETTINGS
        @given(x=_batches(dtype, "full"),
               alpha=st.sampled_from(ALPHAS) | st.floats(-20, 20, allow_nan=False))
        def check(x, alpha):
            p = _cast(_with_extremes(x, dtype, "full"), dtype)
            a = jnp.asarray(alpha, jnp.promote_types(dtype, jnp.float32))
            _assert_finite(fn, p, a)
            if alpha >= 0:
                _assert_finite(nll, p, a)

        check()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,knobs,domain", CLASSIFICATION, ids=_ids(CLASSIFICATION))
def test_classification_losses_finite_over_the_whole_range(name, knobs, domain, dtype):
    with jax.enable_x64(dtype == "float64"):
        bits = (np.arange(N) % 2).astype(np.float32).reshape(6, 4)
        labels = {
            "sigmoid_binary_cross_entropy": bits,
            "sigmoid_focal": np.where(np.arange(N).reshape(6, 4) % 3 == 2, 0.3, bits),  # soft too
            "hinge": 2 * bits - 1,
            "perceptron": 1 - 2 * bits,
            "kl_divergence": np.tile(np.array([0.0, 0.2, 0.3, 0.5], np.float32), (6, 1)),
            "generalized_kl_divergence": np.tile(np.array([0.0, 0.2, 3.0, 50], np.float32),
                                                 (6, 1)),
        }.get(name, np.array([0, 1, 2, 3, 0, 1]))
        fn = jax.jit(lambda z: getattr(losses, name)(z, labels, **knobs))  # alpha: no knob

        @SETTINGS
        @given(x=_batches(dtype, domain))
        @example(x=_true_class_far_below(labels, _bound(dtype, domain)))
        def check(x):
            _assert_finite(fn, _cast(_with_extremes(x, dtype, domain), dtype).reshape(6, 4))

        check()


def _true_class_far_below(labels, bound):
    """Logits near ±bound, each example's class at -0.9·bound and the others at +0.9·bound (as
    float64; multi_margin, p = 1, summed three gaps of 1.8·bound before dividing by C: inf in
    float32, hypothesis's draw of ±3e37-8e37 in issue 36, item 19)."""
    classes = np.asarray(labels).reshape(6, -1).argmax(-1) if np.ndim(labels) == 2 else labels
    x = np.full((6, 4), 0.9 * bound)
    x[np.arange(6), np.asarray(classes) % 4] = -0.9 * bound
    return x.reshape(N)


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_nll_finite_over_log_rates(dtype):
    with jax.enable_x64(dtype == "float64"):
        counts = np.tile(np.array([0.0, 1.0, 3.0, 40.0]), N // 4)
        fns = [jax.jit(lambda s, full=full: losses.poisson_nll(s, counts, full=full))
               for full in (False, True)]

        @SETTINGS
        @given(x=_batches(dtype, "log"))
        def check(x):
            for fn in fns:
                _assert_finite(fn, _cast(_with_extremes(x, dtype, "log"), dtype))

        check()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("epsilon", [0.0, 1e-6])
def test_cosine_distance_finite_over_the_whole_range(dtype, epsilon):
    # Rows of 4: huge, tiny, mixed and zero vectors; the value must also be right: equal to
    # the cosine of the same vectors rescaled by a power of two into float64's easy range.
    with jax.enable_x64(dtype == "float64"):
        fn = jax.jit(lambda p, t: losses.cosine_distance(p, t, epsilon=epsilon))
        tiny = float(jnp.finfo(dtype).tiny)

        @SETTINGS
        @given(x=_batches(dtype, "full"), y=_batches(dtype, "full"))
        def check(x, y):
            p = _cast(_with_extremes(x, dtype, "full"), dtype).reshape(6, 4)
            t = _cast(y, dtype).reshape(6, 4)
            # a subnormal-only vector's true gradient (~1/‖p‖) is beyond the dtype: make it 0
            p = jnp.where(jnp.max(jnp.abs(p), -1, keepdims=True) < tiny, 0, p)
            t = jnp.where(jnp.max(jnp.abs(t), -1, keepdims=True) < tiny, 0, t)
            _assert_finite(fn, p, t)
            if epsilon == 0 and dtype == "float32":
                pairs = zip(np.asarray(p), np.asarray(t), strict=True)
                want = [_cosine_distance_exact(a, b) for a, b in pairs]
                np.testing.assert_allclose(fn(p, t), want, rtol=1e-5, atol=1e-6)

        check()


def _cosine_distance_exact(p, t):
    """1 - cos in float64 after scaling each vector by a power of two (exact)."""
    def unit(v):
        v = np.asarray(v, np.float64)
        top = np.max(np.abs(v))
        return np.zeros_like(v) if top == 0 else v * 2.0 ** -np.frexp(top)[1]
    a, b = unit(p), unit(t)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return 1.0 if na == 0 or nb == 0 else 1 - a @ b / (na * nb)
