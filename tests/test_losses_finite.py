"""Property (issue 11, item 8): every loss gives a finite value and a finite gradient for every
finite input of float16, bfloat16, float32 and float64, in every knob regime.

"Every finite input" is the dtype's whole finite range wherever the true value is representable:
losses that grow at most linearly are tested over [-max, max]; squared_error, the p = 2 hinge
and the one-hot square loss (true value ~ x², not representable beyond √max) over
[-√max/4, √max/4]; classification logits over [-max/4, max/4] (the logit gaps, which the
losses grow with, must be finite). One compilation per loss, knob regime and dtype; hypothesis
draws batches of inputs, and every batch is checked with the extremes (±max, ±tiny, 0) added.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
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
]
CLASSIFICATION = [
    ("softmax_cross_entropy", {}, "logits"),
    ("softmax_cross_entropy", {"label_smoothing": 0.1}, "logits"),
    ("focal", {"gamma": 0.5}, "logits"),
    ("focal", {"gamma": 2.0}, "logits"),
    ("multi_margin", {"p": 1}, "logits"),
    ("multi_margin", {"p": 2}, "sqrt"),
    ("one_hot_squared_error", {}, "sqrt"),
    ("sigmoid_binary_cross_entropy", {}, "logits"),
]


def _bound(dtype, domain):
    top = float(jnp.finfo(dtype).max)
    return {"full": top, "sqrt": math.sqrt(top) / 4, "logits": top / 4}[domain]


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
        binary = name == "sigmoid_binary_cross_entropy"
        labels = (np.arange(N) % 2).astype(np.float32).reshape(6, 4) if binary else \
            np.array([0, 1, 2, 3, 0, 1])
        fn = jax.jit(lambda z: losses.get(name, **knobs)(z, labels))

        @SETTINGS
        @given(x=_batches(dtype, domain))
        def check(x):
            _assert_finite(fn, _cast(_with_extremes(x, dtype, domain), dtype).reshape(6, 4))

        check()
