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
    """Smooth L1: ½r²/β if |r| ≤ β, else |r| - ½β; i.e. huber(δ=β)/β.

    Gradient clip(r/β, -1, 1): slope r/β inside, ±1 outside whatever β (unlike Huber, whose
    outer slope is δ). As β -> 0 it tends to |r|.

    Reference: Girshick, Fast R-CNN (2015); same values as torch.nn.functional.smooth_l1_loss.
    """
    _checks.positive("beta", beta)
    r = _checks.residual(predictions, targets)
    beta = _checks.knob(beta, r.dtype)
    a = jnp.abs(r)
    q = jnp.minimum(a, beta)
    # huber(δ=β)/β as (|r| - q) + ½q·(q/β), q = min(|r|, β): no term overflows for large |r|
    # (nor does a cotangent: none is multiplied by 1/β before min's selection).
    return (a - q) + 0.5 * q * (q / beta)


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
    With `targets=None`, u = -predictions (predictions are the residuals r = -u).

    Reference: Koenker & Bassett, "Regression Quantiles" (1978).
    """
    _checks.open_unit("tau", tau)
    u = -_checks.residual(predictions, targets)
    tau = _checks.knob(tau, u.dtype)
    return jnp.maximum(tau * u, (tau - 1) * u)


def cosine_distance(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    axis: int = -1,
    epsilon: float = 0.0,
) -> jax.Array:
    """Cosine distance 1 - ⟨p, t⟩/(max(‖p‖, ε)·max(‖t‖, ε)) along `axis`, in [0, 2].

    Scale-invariant in each vector: the gradient with respect to p is orthogonal to p
    (-(t̂ - (t̂·p̂)p̂)/‖p‖), large for short vectors. A zero vector has cosine 0 here (distance 1)
    with a zero gradient instead of optax's NaN; ε > 0 clamps the norms as optax's `epsilon`.

    Reference: optax.losses.cosine_distance (same values for nonzero vectors),
    keras.losses.CosineSimilarity (its negative cosine: distance - 1),
    torch.nn.functional.cosine_similarity (1 - distance; eps clamps the norms' product).
    """
    p = _checks.floating("predictions", predictions)
    t = _checks._targets(p, targets)
    out_dtype, dtype = p.dtype, _checks.compute_dtype(p.dtype)
    p, t = p.astype(dtype), t.astype(dtype)

    def unit(v):
        sq = jnp.sum(jnp.square(v), axis=axis, keepdims=True)
        norm = jnp.sqrt(jnp.where(sq > 0, sq, 1))  # double where: no 1/0 in the gradient
        return jnp.where(sq > 0, v / jnp.maximum(norm, epsilon), 0)

    return (1 - jnp.sum(unit(p) * unit(t), axis=axis)).astype(out_dtype)
