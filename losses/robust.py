"""Barron's general robust loss ρ(x, α, c), its special cases, and its adaptive NLL form.

    ρ(x, α, c) = |α-2|/α · (((x/c)²/|α-2| + 1)^(α/2) - 1)

with the limits ½(x/c)² at α = 2, log(½(x/c)² + 1) at α = 0 (Cauchy), 2(x/c)²/((x/c)² + 4) at
α = -2 (Geman-McClure), 1 - exp(-½(x/c)²) at α = -∞ (Welsch) and exp(½(x/c)²) - 1 at α = +∞.
Every ρ is ≈ ½(x/c)² for |x| ≪ c, so c is the width of the quadratic bowl; α sets the tails:
ρ grows like |x|^α for α > 0, logarithmically at α = 0, and is bounded (redescending gradient)
for α < 0. Reference: J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019
(values as google-research/robust_loss_jax `general.lossfun`).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from losses import _checks

# Below this |t| the series of (e^t - 1)/t replaces the quotient, whose autodiff derivative
# cancels catastrophically near t = 0; at this |t| the series' truncation error (t^8/9!, and
# 8t^7/9! for its derivative) is below the dtype's rounding error.
_SERIES_T = {2: 0.1, 4: 0.1, 8: 0.02}  # by itemsize: float32 (and half, upcast), float64
# Trapezoid nodes in u = log x ∈ [-30, 30] for log Z(α) (see `_log_partition`).
_LOG_X_RANGE = 30.0
_QUAD_NODES = 1201


def _expm1_over_t_series(t: jax.Array) -> jax.Array:
    """(e^t - 1)/t for |t| below `_SERIES_T`, by its series (value 1, derivative ½ at t = 0)."""
    series = 1.0
    for n in range(9, 1, -1):  # Σ_{n<8} t^n/(n+1)!, Horner form
        series = 1 + t / n * series
    return series


# Closed forms of ρ(x, α, c), each finite in value and gradient for every finite x; `top` is the
# largest finite value of the output dtype (float16's for float16 outputs computed in float32).
# Forms that grow faster than |x| saturate where they would pass it.


def _w_clamped(x: jax.Array, c: jax.Array, top: float) -> jax.Array:
    # For the forms in w² only: beyond √top, ½w² has overflowed (α ≥ 2) or the loss is flat
    # to the dtype's resolution (α = -∞), so the clip's zero gradient is the true one.
    # w = x·(1/c), not x/c: what XLA computes for `x / 1.7` with a constant scale (it rewrites
    # the division), so that jitted (traced scale) and eager calls round alike. At α = +∞ the
    # one-ulp difference in w is amplified w²-fold by the exponential: 1.5e-5 relative at
    # |x/c| = 11 against robust_loss_jax's float32 truth, whose tests allow 1e-5.
    return _checks.clamp_magnitude(_checks.ratio(x, c, reciprocal=True), math.sqrt(top))


def _rho_two(x, c, top):  # ½(x/c)²
    return 0.5 * jnp.square(_w_clamped(x, c, top))


def _rho_pos_inf(x, c, top):  # exp(½(x/c)²) - 1
    return jnp.expm1(jnp.minimum(0.5 * jnp.square(_w_clamped(x, c, top)), math.log(top) - 1))


def _rho_neg_inf(x, c, top):  # 1 - exp(-½(x/c)²)
    return -jnp.expm1(-0.5 * jnp.square(_w_clamped(x, c, top)))


def _rho_one(x, c, top):  # √((x/c)² + 1) - 1 = w·q, q = w/(1 + √(1 + w²))
    w = _checks.clamp_magnitude(_checks.ratio(x, c), top)
    return w * _checks.ratio_over_sqrt1p(x, c, one=1.0)


def _rho_zero(x, c, top):  # log(½(x/c)² + 1)
    return _checks.log1p_square(x, c, jnp.asarray(2, x.dtype))


def _rho_minus_two(x, c, top):  # 2(x/c)²/((x/c)² + 4) = 2v², v = (x/2c)/√(1 + (x/2c)²)
    return 2 * jnp.square(_checks.ratio_over_sqrt1p(x, c + c))


def _rho_general(x, c, alpha, top):
    """|α-2|/α·(((x/c)²/|α-2| + 1)^(α/2) - 1) for α ∉ {2, ±∞} (α = 0 exact).

    Written as b·(L/2)·f(αL/2), b = |α-2|, L = log(1 + (x/c)²/b), f(t) = (e^t - 1)/t: no
    division by α, L without overflow; t saturates where the value would pass `top` (with a
    margin so that the gradient's e^t·b/2 stays finite too)."""
    b = jnp.abs(alpha - 2)
    half_log = 0.5 * _checks.log1p_square(x, c, b)
    t = alpha * half_log
    # Three forms of (b/α)·expm1(t), each where it is exact, with harmless inputs elsewhere
    # (double where): the series of b·(L/2)·(e^t - 1)/t near t = 0 (α near 0, no division by
    # α); (b/α)·expm1(t), whose derivative (b/2)e^t·dL has no cancellation, elsewhere; and, where
    # the value would pass `top`, t frozen at t_sat (ρ then grows like L, value and gradient
    # finite; the margin keeps the gradient's e^t·b/2 finite too).
    small = jnp.abs(t) < _SERIES_T[jnp.dtype(x.dtype).itemsize]
    t_sat = jnp.maximum(math.log(top) - 2 - jnp.log1p(b), 1.0)
    saturated = t > t_sat
    near_zero = b * half_log * _expm1_over_t_series(jnp.where(small, t, 0))
    plain = small | saturated
    regular = b / jnp.where(plain, 1, alpha) * jnp.expm1(jnp.where(plain, 0, t))
    frozen = b * half_log * (jnp.expm1(t_sat) / t_sat)
    return jnp.where(small, near_zero, jnp.where(saturated, frozen, regular))


_CLOSED_FORMS = {
    2.0: _rho_two,
    1.0: _rho_one,
    0.0: _rho_zero,
    -2.0: _rho_minus_two,
    -np.inf: _rho_neg_inf,
    np.inf: _rho_pos_inf,
}


def _rho(x: jax.Array, alpha, c: jax.Array, top: float) -> jax.Array:
    """ρ(x, α, c) in x's dtype. α a Python float: the closed form where there is one (chosen
    at trace time); α an array (possibly traced): every branch selected per element, each fed
    a harmless α where it is not selected (double where: no NaN leaks into the gradient)."""
    if isinstance(alpha, float):
        if alpha in _CLOSED_FORMS:
            return _CLOSED_FORMS[alpha](x, c, top)
        return _rho_general(x, c, jnp.asarray(alpha, x.dtype), top)
    is_two, is_neg_inf, is_pos_inf = alpha == 2, alpha == -jnp.inf, alpha == jnp.inf
    a = jnp.where(is_two | is_neg_inf | is_pos_inf, jnp.ones_like(alpha), alpha)
    return jnp.where(
        is_two,
        _rho_two(x, c, top),
        jnp.where(
            is_neg_inf,
            _rho_neg_inf(x, c, top),
            jnp.where(is_pos_inf, _rho_pos_inf(x, c, top), _rho_general(x, c, a, top)),
        ),
    )


def _fixed_alpha(alpha: jax.typing.ArrayLike) -> float | None:
    """α as a Python float when it is one concrete number, else None (traced or an array)."""
    value = _checks.concrete(alpha)
    if value is None or value.ndim != 0:
        return None
    return float(value)


def _robust_rho(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None,
    alpha: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike,
) -> tuple[jax.Array, jnp.dtype]:
    """(ρ(predictions - targets) in the compute dtype, the output dtype); ρ is a function of
    r/c, so a residual that overflows is taken at half its size against half the scale."""
    x, halved, out_dtype = _checks.halved_residual(predictions, targets)
    top = float(jnp.finfo(out_dtype).max)
    fixed = _fixed_alpha(alpha)
    a = fixed if fixed is not None else _checks.knob(alpha, x.dtype)
    c = _checks.halve_where(_checks.knob(scale, x.dtype), halved)
    return _rho(x, a, c, top), out_dtype


def general_robust(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    alpha: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Barron's general robust loss ρ(x, α, c) = |α-2|/α·(((x/c)²/|α-2| + 1)^(α/2) - 1), x = r.

    α = 2 is ½(x/c)² (L2, ½ convention), 1 is √((x/c)² + 1) - 1 (pseudo-Huber/Charbonnier),
    0 is Cauchy, -2 Geman-McClure, -∞ Welsch, +∞ exp(½(x/c)²) - 1; these limits are used
    exactly at α ∈ {2, ±∞}, and the general formula is evaluated in a form that is exact at
    α = 0 and within 1e-9 of 0 and 2 (float32 and float64).

    Gradient dρ/dx = (x/c²)((x/c)²/|α-2| + 1)^(α/2 - 1): ≈ x/c² near 0 for every α; it grows
    like |x|^(α-1) for α > 1, is bounded for α = 1, decays to 0 for α < 1 and redescends
    (ρ bounded by |α-2|/|α|) for α < 0. Value and gradients with respect to x, α and c are
    finite for every α, including α = 0 and 2 exactly (where ρ is not differentiable in α,
    with a |α-2|·log|α-2| kink, the derivative of the closed form, 0, is returned). Values that
    would overflow saturate near the dtype's maximum instead, so gradients stay finite.

    α and c may be arrays broadcastable against x, including tracers: α can be swept over
    [-∞, +∞] with vmap inside one compiled program, or learned by gradient. Half-precision
    inputs are computed in float32 and the result cast back.

    Reference: J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019.
    """
    _checks.not_nan("alpha", alpha)
    _checks.positive("scale", scale)
    rho, out_dtype = _robust_rho(predictions, targets, alpha, scale)
    return rho.astype(out_dtype)


def _log_partition(alpha: jax.Array) -> jax.Array:
    """log Z(α) = log ∫ exp(-ρ(x, α, 1)) dx for α ≥ 0, differentiable in α.

    Trapezoid rule in u = log x (Z = 2∫₀^∞ exp(-ρ(x)) x du, the integrand being even in x) on
    u ∈ [-30, 30]: the transformed integrand decays exponentially at both ends (like 2e^{-u} for
    the heaviest tails, α = 0) and is analytic in the strip |Im u| < π/2, so the trapezoid rule
    converges exponentially in 1/h; with h = 0.05 the error is at the float rounding level.
    """
    u = np.linspace(-_LOG_X_RANGE, _LOG_X_RANGE, _QUAD_NODES)
    h = u[1] - u[0]
    x = jnp.asarray(np.exp(u), alpha.dtype)
    top = float(jnp.finfo(alpha.dtype).max)
    rho = _rho(x, alpha[..., None], jnp.ones((), alpha.dtype), top)
    # Sum in log space (logsumexp of log(2·x·h) - ρ): exp(-ρ) underflowing far out is harmless.
    log_w = jnp.asarray(np.log(2 * h) + u, alpha.dtype)
    return jax.nn.logsumexp(log_w - rho, axis=-1)


@functools.cache
def _fixed_log_partition(alpha: float, dtype: str) -> float:
    """log Z(α) for one Python-number α ≥ 0, by the same quadrature in `dtype`, evaluated once."""
    with jax.ensure_compile_time_eval():
        return float(_log_partition(jnp.asarray(alpha, dtype)))


def robust_nll(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    alpha: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Barron's adaptive loss: the negative log-likelihood ρ(x, α, c) + log c + log Z(α), α ≥ 0.

    -log p(x | α, c) of the density p ∝ exp(-ρ(x, α, c))/c, normalised by
    Z(α) = ∫ exp(-ρ(x, α, 1)) dx (Z(0) = π√2, Z(1) = 2e·K₁(1), Z(2) = √(2π)). Unlike ρ, it can
    be minimised over α and c jointly with the model: lowering α (heavier tails) or raising c
    reduces ρ but raises log Z or log c, so the data choose the robustness. At α = 2 it is the
    Gaussian NLL ½(x/c)² + log c + ½log 2π. log Z(α) is computed in JAX by quadrature on a fixed
    grid (1201 points per value of α), accurate to float rounding and differentiable in α; the
    cost is O(size(α)·1201), so α should be a scalar or a small (e.g. per-channel) array.
    α < 0 has no normalisable density: a concrete α < 0 raises, a traced one gives NaN.

    Gradients with respect to x, α and c are finite at every α ≥ 0 (see `general_robust`).

    Reference: J. T. Barron, "A General and Adaptive Robust Loss Function", CVPR 2019, Sec. 2
    (google-research/robust_loss_jax `distribution.nllfun`, which interpolates a spline of log Z).
    """
    _checks.nonnegative("alpha", alpha)
    _checks.positive("scale", scale)
    rho, out_dtype = _robust_rho(predictions, targets, alpha, scale)
    dtype = rho.dtype
    fixed, fixed_scale = _fixed_alpha(alpha), _checks.concrete(scale)
    if fixed is not None and fixed_scale is not None and fixed_scale.ndim == 0:
        # Numbers: log c + log Z(α) computed once here, a constant in the compiled program.
        offset = np.log(float(fixed_scale)) + _fixed_log_partition(fixed, jnp.dtype(dtype).name)
        return (rho + jnp.asarray(offset, dtype)).astype(out_dtype)
    alpha = _checks.knob(alpha, dtype)
    scale = _checks.knob(scale, dtype)
    alpha_ok = alpha >= 0
    log_z = _log_partition(jnp.where(alpha_ok, alpha, jnp.zeros_like(alpha)))
    log_z = jnp.where(alpha_ok, log_z, jnp.nan)
    nll = rho + jnp.log(scale) + log_z
    return nll.astype(out_dtype)


def _special_case(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None,
    scale: jax.typing.ArrayLike,
    alpha: float,
) -> jax.Array:
    _checks.positive("scale", scale)
    rho, out_dtype = _robust_rho(predictions, targets, alpha, scale)
    return rho.astype(out_dtype)


def cauchy(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    scale: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Cauchy (Lorentzian) loss log(½(r/c)² + 1): Barron's ρ at α = 0.

    Gradient r/(c² + ½r²): ≈ r/c² near 0, largest at |r| = √2·c, then decays like 2/r (a soft
    redescender) while the value grows logarithmically, unbounded. Barron's parameterisation puts
    ½ inside the log, so it is ≈ ½(r/c)² near 0 like every ρ; the textbook form log(1 + (r/c')²)
    is this one with c' = √2·c.

    Reference: Barron (CVPR 2019), α = 0; Black & Anandan (1996).
    """
    return _special_case(predictions, targets, scale, 0.0)


def geman_mcclure(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    scale: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Geman-McClure loss 2(r/c)²/((r/c)² + 4): Barron's ρ at α = -2.

    Bounded by 2; ≈ ½(r/c)² near 0. Gradient 16r/(c²((r/c)² + 4)²): peaks at |r| = 2c/√3, then
    redescends like 1/|r|³, so gross outliers are effectively ignored (the loss is non-convex).

    Reference: Barron (CVPR 2019), α = -2; Geman & McClure (1985).
    """
    return _special_case(predictions, targets, scale, -2.0)


def welsch(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    *,
    scale: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Welsch (Leclerc) loss 1 - exp(-½(r/c)²): Barron's ρ at α = -∞.

    Bounded by 1; ≈ ½(r/c)² near 0. Gradient (r/c²)exp(-½(r/c)²): peaks at |r| = c, then
    redescends exponentially fast (a Gaussian-kernel correntropy loss; non-convex).

    Reference: Barron (CVPR 2019), α = -∞; Dennis & Welsch (1978).
    """
    return _special_case(predictions, targets, scale, -np.inf)
