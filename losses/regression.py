"""Regression losses: elementwise functions of the residual r = predictions - targets.

Every loss has the signature `loss(predictions, targets=None, *, knobs) -> values`: `targets=None`
means `predictions` already are the residuals; predictions and targets must have the same shape
(no silent broadcasting); the values have the predictions' shape and dtype, with no reduction
(see `losses.reduce`). Knobs may be Python numbers or (traced) arrays broadcastable against r.

Conventions, which differ between libraries and are easy to get wrong:
  * `squared_error` is r² with no ½. optax's `l2_loss` is ½r² (Bishop's convention, whose gradient
    is r); `losses.huber` is ½r² inside δ, so huber -> ½·squared_error as δ -> ∞.
  * `huber` matches optax, PyTorch's `huber_loss` and Keras; `smooth_l1` is PyTorch's
    `smooth_l1_loss`, huber(δ=β)/β, whose linear part has slope 1 whatever β.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from losses import _checks

_LOG2 = math.log(2.0)


def squared_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Squared error r² (no ½).

    Gradient 2r: linear in the residual and unbounded, so one outlier can dominate a mean.
    The ½r² convention (optax's `l2_loss`, gradient r) is `0.5 * squared_error`. The one loss
    here whose value leaves the dtype's range for large finite r (|r| > √max, e.g. 256 in
    float16): it is then inf (never NaN), as optax's; its gradient 2r stays finite up to max/2.

    Reference: optax.losses.squared_error (same values), torch.nn.functional.mse_loss and
    keras.losses.MeanSquaredError (means of these values).
    """
    r = _checks.residual(predictions, targets)
    return jnp.square(r)


def absolute_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Absolute error |r|.

    Gradient sign(r): bounded (every residual pulls with the same force) and not differentiable
    at r = 0, where JAX returns 1. Its minimiser over a constant is the median.

    Reference: torch.nn.functional.l1_loss
    and keras.losses.MeanAbsoluteError (means of these values).
    """
    r = _checks.residual(predictions, targets)
    return jnp.abs(r)


def _huber(r: jax.Array, delta: jax.Array) -> jax.Array:
    # With q = min(|r|, δ), ½r² inside and δ(|r| - ½δ) outside are both q·(|r| - ½q).
    a = jnp.abs(r)
    q = jnp.minimum(a, delta)
    return q * (a - 0.5 * q)


def huber(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    delta: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Huber loss: ½r² if |r| ≤ δ, else δ(|r| - ½δ).

    Gradient clip(r, -δ, δ): r inside the quadratic zone, ±δ outside, so gradient descent on
    Huber is gradient descent on ½r² with the per-residual gradient clipped to δ. Continuously
    differentiable (the second derivative jumps at |r| = δ); grows linearly for large |r|.
    Uses the ½ convention: huber -> ½r² as δ -> ∞ and -> δ|r| (up to a constant) as δ -> 0.

    Reference: Huber (1964); same values as optax.losses.huber_loss, torch.nn.functional.huber_loss
    and keras.losses.Huber.
    """
    _checks.positive("delta", delta)
    r = _checks.residual(predictions, targets)
    return _huber(r, _checks.knob(delta, r.dtype))


def smooth_l1(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    beta: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Smooth L1: ½r²/β if |r| ≤ β, else |r| - ½β; i.e. huber(δ=β)/β; β = 0 is |r|.

    Gradient clip(r/β, -1, 1): slope r/β inside, ±1 outside whatever β (unlike Huber, whose
    outer slope is δ). As β -> 0 it tends to |r|, which β = 0 gives exactly (torch's
    convention; value and gradient those of absolute_error).

    Reference: Girshick, Fast R-CNN (2015); same values as torch.nn.functional.smooth_l1_loss.
    """
    _checks.nonnegative("beta", beta)
    r = _checks.residual(predictions, targets)
    beta = _checks.knob(beta, r.dtype)
    a = jnp.abs(r)
    q = jnp.minimum(a, beta)
    # huber(δ=β)/β as (|r| - q) + ½q·(q/β), q = min(|r|, β): no term overflows for large |r|
    # (nor does a cotangent: none is multiplied by 1/β before min's selection). β = 0 selects
    # |r| itself, with β = 1 in the unused branch (double where: no 0/0 in either gradient).
    positive = beta > 0
    smooth = (a - q) + 0.5 * q * (q / jnp.where(positive, beta, 1))
    return jnp.where(positive, smooth, a)


def pseudo_huber(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    delta: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Pseudo-Huber loss δ²(√(1 + (r/δ)²) - 1).

    A smooth (C∞) Huber: ≈ ½r² for |r| ≪ δ and ≈ δ|r| for |r| ≫ δ. Gradient r/√(1 + (r/δ)²),
    bounded by δ in magnitude and approaching ±δ only asymptotically. Computed as r·δ·q with
    q = (r/δ)/(1 + √(1 + (r/δ)²)) ∈ (-1, 1), written without (r/δ)² for large |r|: no
    cancellation for small r, no overflow for large r (finite value and gradient for every
    finite r in every float dtype; half precision is computed in float32).

    Reference: Charbonnier et al. (1994); Hartley & Zisserman, Multiple View Geometry (A6.8).
    Barron's general_robust at α = 1 is pseudo_huber/δ² with scale c = δ.
    """
    _checks.positive("delta", delta)
    r, out_dtype = _checks.residual_in_compute_dtype(predictions, targets)
    delta = _checks.knob(delta, r.dtype)
    return (r * delta * _checks.ratio_over_sqrt1p(r, delta, one=1.0)).astype(out_dtype)


def log_cosh(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Log-cosh loss log(cosh r).

    ≈ ½r² for small r and |r| - log 2 for large |r|: a twice-differentiable Huber with δ = 1.
    Gradient tanh(r), bounded by 1 and smooth; second derivative sech² r (1 at r = 0).

    Computed from one e = expm1(|r|): sinh|r| = e(2 + e) / (2(1 + e)), log cosh = ½ log1p(sinh²)
    (accurate for small r, where log(e^r + e^-r) - log 2 cancels), and |r| - log 2 beyond
    T = 15 (20 in float64), where e^{-2|r|} is below the dtype's resolution. The derivative is
    given as tanh r = e(2 + e) / ((1 + e)² + 1) from the same e (a custom JVP: one transcendental
    for value and gradient, where autodiff of the formula needs cosh and sinh, and optax's
    logaddexp form three exponentials; `scripts/bench_losses.py`: value+grad 0.9x optax's).

    Reference: Chen et al., "Log Hyperbolic Cosine Loss Improves Variational Auto-Encoder" (2019);
    same values as optax.losses.log_cosh and keras.losses.LogCosh (mean of these values).
    """
    r, out_dtype = _checks.residual_in_compute_dtype(predictions, targets)
    return _log_cosh(r).astype(out_dtype)


def _log_cosh_and_tanh(r: jax.Array) -> tuple[jax.Array, jax.Array]:
    positive = r >= 0
    a = jnp.where(positive, r, -r)  # |r| with slope ±1 at 0 (jnp.abs has 0 there: sech²(0) lost)
    cut = 20.0 if r.dtype == jnp.float64 else 15.0
    e = jnp.expm1(jnp.minimum(a, cut))
    sinh = 0.5 * e * (2 + e) / (1 + e)
    value = jnp.where(a < cut, 0.5 * jnp.log1p(sinh * sinh), a - jnp.asarray(_LOG2, r.dtype))
    tanh = e * (2 + e) / (jnp.square(1 + e) + 1)
    return value, jnp.where(positive, tanh, -tanh)


@jax.custom_jvp
def _log_cosh(r: jax.Array) -> jax.Array:
    return _log_cosh_and_tanh(r)[0]


@_log_cosh.defjvp
def _log_cosh_jvp(primals, tangents):
    value, tanh = _log_cosh_and_tanh(primals[0])
    return value, tanh * tangents[0]


def quantile(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    tau: jax.typing.ArrayLike = 0.5,
) -> jax.Array:
    """Quantile (pinball) loss max(τu, (τ - 1)u) on u = targets - predictions.

    Its minimiser over a constant prediction is the τ-quantile of the targets; τ = ½ gives
    ½|r|. Gradient with respect to the predictions is -τ where the target is above (u > 0) and
    1 - τ where below: bounded, asymmetric, not differentiable at u = 0 (JAX returns τ - ½ there).
    With `targets=None`, u = -predictions (predictions are the residuals r = -u). Half precision
    is computed in float32, and u from t/2 - p/2 where t - p overflows: the value is finite
    wherever it is representable (τ = ½ at t = -p = 6e4 in float16).

    Reference: Koenker & Bassett, "Regression Quantiles" (1978).
    """
    _checks.open_unit("tau", tau)
    r, halved, out_dtype = _checks.halved_residual(predictions, targets)
    u = -r  # half of u where u overflows: the loss, linear in u, is doubled back
    tau = _checks.knob(tau, u.dtype)
    return _checks.double_where(jnp.maximum(tau * u, (tau - 1) * u), halved).astype(out_dtype)


def cosine_distance(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    axis: int | tuple[int, ...] | None = -1,
    epsilon: float = 0.0,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Cosine distance 1 - ⟨p, t⟩/(√max(‖p‖², ε)·√max(‖t‖², ε)) along `axis`, in [0, 2].

    Scale-invariant in each vector: the gradient with respect to p is orthogonal to p,
    -(t̂ - (t̂·p̂)p̂)/‖p‖, large for short vectors. A zero vector has cosine 0 (distance 1) and,
    with ε = 0, a zero gradient (optax gives NaN); ε > 0 clamps the *squared* norms at ε, as
    optax's `epsilon` (torch's `eps` clamps the norms: torch eps = e is epsilon = e²).
    `axis` may be an int, a tuple of axes or None (all). `where` (broadcastable against the
    inputs) leaves entries out of both vectors: value and gradient are those of the vectors
    without them (zero gradient there, even where an entry is NaN or inf); an unmasked NaN or
    inf gives NaN.

    Correct for every finite input: the sums of squares are formed directly when every vector's
    lies in the normal range, else (a zero, tiny or huge vector anywhere in the batch) from the
    vectors rescaled by about 1/(their largest magnitude) (`lax.cond`: the common case pays one
    pass of sums over the data, value+grad 0.4-0.5x optax's; under vmap both are computed).

    Reference: optax.losses.cosine_distance (same values, `epsilon`, `axis`, `where`),
    keras.losses.CosineSimilarity (its negative cosine: distance - 1),
    torch.nn.functional.cosine_similarity (1 - distance).
    """
    _checks.nonnegative("epsilon", epsilon)
    p = _checks.floating("predictions", predictions)
    t = _checks._targets(p, targets)
    out_dtype, dtype = p.dtype, _checks.compute_dtype(p.dtype)
    p, t = p.astype(dtype), t.astype(dtype)
    if where is not None:
        mask = jnp.broadcast_to(jnp.asarray(where, bool), p.shape)
        p, t = jnp.where(mask, p, 0), jnp.where(mask, t, 0)  # masked NaN reach no gradient
    epsilon = float(epsilon)
    sums = tuple(jnp.sum(a * b, axis=axis) for a, b in ((p, p), (t, t), (p, t)))
    finfo = jnp.finfo(dtype)
    # Squares below tiny lose bits; with Σp² ≥ 2^40·tiny what they lose is below the rounding.
    low, high = float(finfo.tiny) * 2.0**40, float(finfo.max)
    normal = jnp.all((sums[0] >= low) & (sums[0] <= high) & (sums[1] >= low) & (sums[1] <= high))
    cosine = jax.lax.cond(
        normal,
        lambda p, t, sums: _cosine_of_sums(*sums, epsilon),
        lambda p, t, sums: _cosine_rescaled(p, t, axis, epsilon),
        p, t, sums,
    )
    return (1 - cosine).astype(out_dtype)


def _cosine_of_sums(pp: jax.Array, tt: jax.Array, pt: jax.Array, epsilon: float) -> jax.Array:
    # Σp², Σt² in the normal range here (no guard for a zero vector needed).
    if epsilon > 0:
        pp, tt = jnp.maximum(pp, epsilon), jnp.maximum(tt, epsilon)
    return pt * jax.lax.rsqrt(pp) * jax.lax.rsqrt(tt)


def _cosine_rescaled(p: jax.Array, t: jax.Array, axis, epsilon: float) -> jax.Array:
    """The cosine from a = p·r, b = t·r', r ≈ 1/max|p| (so no square overflows and the largest
    does not underflow). The scales are constants to autodiff: the cosine is invariant to
    them (so is the ε clamp, scaled along). XLA:CPU flushes subnormals to zero (1/max|p| is
    one above 2^126, and so is its division, a product with the reciprocal): r is kept at
    or above the smallest normal, which leaves max|a| ≤ 4."""
    tiny = jnp.finfo(p.dtype).tiny

    def scaled(v):
        top = jax.lax.stop_gradient(jnp.max(jnp.abs(v), axis=axis, keepdims=True))
        scale = jnp.maximum(1 / jnp.maximum(top, tiny), tiny)
        scale = jnp.where(top > 0, scale, 1)  # a zero vector: no scale (the ε clamp's 1)
        return v * scale, jnp.squeeze(scale, axis) if axis is not None else scale.reshape(())

    (a, scale_a), (b, scale_b) = scaled(p), scaled(t)
    aa, bb, ab = (jnp.sum(x * y, axis=axis) for x, y in ((a, a), (b, b), (a, b)))
    if epsilon > 0:
        # √max(Σp², ε)·r = max(√Σa², √ε·r), as a double where (√0 has no derivative), never
        # forming (√ε·r)² where it overflows; the quotient in two steps (no overflow either).
        def clamped_norm(sq, scale):
            floor = math.sqrt(epsilon) * scale
            above = sq > floor * floor
            return jnp.where(above, jnp.sqrt(jnp.where(above, sq, 1)), floor)

        return ab / clamped_norm(aa, scale_a) / clamped_norm(bb, scale_b)
    nonzero = (aa != 0) & (bb != 0)  # NaN stays NaN
    aa, bb = jnp.where(nonzero, aa, 1), jnp.where(nonzero, bb, 1)
    return jnp.where(nonzero, ab * jax.lax.rsqrt(aa) * jax.lax.rsqrt(bb), 0)


# Keras' backend.epsilon(): the floor of the logged values and of the percentage's denominator.
_KERAS_EPSILON = 1e-7


def mean_squared_log_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Squared log error (log(1 + max(p, ε)) - log(1 + max(t, ε)))², ε = 1e-7, elementwise.

    A squared error on the log1p scale: relative errors count, not absolute ones, for
    non-negative quantities (counts, prices). Gradient 2(log1p p - log1p t)/(1 + p) for p > ε:
    bounded for p ≥ 0 and decaying like log(p)/p for large p; 0 for p < ε (negative predictions
    are floored, as in Keras, so they get no gradient). `targets=None` means zero targets.
    Finite for every finite input. Half precision is computed in float32.

    Reference: keras.losses.MeanSquaredLogarithmicError (the mean over the last axis of these
    values; same ε).
    """
    p, t = _checks.operands(predictions, targets)
    dtype = _checks.compute_dtype(p.dtype)
    eps = _checks.knob(_KERAS_EPSILON, dtype)
    log_p, log_t = (jnp.log1p(jnp.maximum(x.astype(dtype), eps)) for x in (p, t))
    gap = log_p - log_t
    return jnp.square(gap).astype(p.dtype)


def mean_absolute_percentage_error(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None = None
) -> jax.Array:
    """Absolute percentage error 100·|p - t| / max(|t|, ε), ε = 1e-7, elementwise.

    An L1 loss weighted by 1/|t|: its minimiser over a constant is a weighted median that
    favours under-prediction; unbounded for targets near 0 (the ε floor keeps it finite: a
    zero target gives 1e9·|p|). Gradient ±100/max(|t|, ε): constant in p, not differentiable at
    p = t (JAX's |x| gives +). The value is representable while |p - t|/max(|t|, ε) ≤ max/100;
    half precision is computed in float32 and cast back (inf beyond the half's range).

    Reference: keras.losses.MeanAbsolutePercentageError (the mean over the last axis of these
    values; same ε).
    """
    p, t = _checks.operands(predictions, targets)
    dtype = _checks.compute_dtype(p.dtype)
    p32, t32 = p.astype(dtype), t.astype(dtype)
    scale = jnp.maximum(jnp.abs(t32), _checks.knob(_KERAS_EPSILON, dtype))
    # p - t is exact near p = t; where it overflows (huge p, t of opposite signs) the value is
    # p/s - t/s, which cannot overflow before the true value does (double where).
    r = p32 - t32
    finite = jnp.isfinite(r)
    apart = jnp.where(finite, 0, p32) / scale - jnp.where(finite, 0, t32) / scale
    ratio = jnp.where(finite, jnp.where(finite, r, 0) / scale, apart)
    return (100 * jnp.abs(ratio)).astype(p.dtype)
