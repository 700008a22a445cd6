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

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from losses import _checks, _separate

# Below this |t| the series of (e^t - 1)/t replaces the quotient, whose autodiff derivative
# cancels catastrophically near t = 0; at this |t| the series' truncation error (t^8/9!, and
# 8t^7/9! for its derivative) is below the dtype's rounding error.
_SERIES_T = {2: 0.1, 4: 0.1, 8: 0.02}  # by itemsize: float32 (and half, upcast), float64
# Trapezoid nodes in u = log x ∈ [-30, 30] for log Z(α) (see `_log_partition`).
_LOG_X_RANGE = 30.0
_QUAD_NODES = 1201


def _expm1_over_t(t: jax.Array) -> jax.Array:
    """(e^t - 1)/t, with value 1 and derivative ½ at t = 0, finite for t below overflow."""
    t0 = _SERIES_T[jnp.dtype(t.dtype).itemsize]
    small = jnp.abs(t) < t0
    t_safe = jnp.where(small, t0, t)  # double where: no 0/0 in the unused branch's grad
    series = 1.0
    for n in range(9, 1, -1):  # Σ_{n<8} t^n/(n+1)!, Horner form
        series = 1 + t / n * series
    return jnp.where(small, series, jnp.expm1(t_safe) / t_safe)


def _rho(x: jax.Array, alpha: jax.Array, scale: jax.Array) -> jax.Array:
    """ρ(x, α, c) in x's dtype, for α and c arrays broadcastable against x (possibly traced)."""
    y = jnp.square(x / scale)
    is_two = alpha == 2
    is_neg_inf = alpha == -jnp.inf
    is_pos_inf = alpha == jnp.inf
    # The general branch sees a harmless α (1) where a closed form is used, so that neither its
    # value nor its gradient can be NaN there (NaN·0 would leak through jnp.where's gradient).
    a = jnp.where(is_two | is_neg_inf | is_pos_inf, jnp.ones_like(alpha), alpha)
    b = jnp.abs(a - 2)
    # ρ = (b/α)·expm1(α/2·L) with L = log1p(y/b), written as b·(L/2)·f(αL/2), f(t) = (e^t - 1)/t:
    # no division by α, so α = 0 (Cauchy) and α within 1e-9 of 0 are exact and differentiable.
    half_log = 0.5 * jnp.log1p(y / b)
    t_max = _checks.max_exponent(x.dtype)
    general = b * half_log * _expm1_over_t(jnp.minimum(a * half_log, t_max))
    half_y = 0.5 * y
    return jnp.where(
        is_two,
        half_y,
        jnp.where(
            is_neg_inf,
            -jnp.expm1(-half_y),
            jnp.where(is_pos_inf, jnp.expm1(jnp.minimum(half_y, t_max)), general),
        ),
    )


def _fixed_alpha(alpha: jax.typing.ArrayLike) -> float | None:
    """α as a Python float when it is one concrete number, else None (traced or an array)."""
    value = _checks.concrete(alpha)
    if value is None or value.ndim != 0:
        return None
    return float(value)


def _rho_of_y(y: jax.Array, alpha: float) -> jax.Array:
    """ρ as a function of y = (x/c)² for a fixed α: the exact closed form where there is one."""
    half_y = 0.5 * y
    if alpha == 2:
        return half_y
    if alpha == 1:
        return y / (1 + jnp.sqrt(1 + y))  # √(y + 1) - 1 without cancellation
    if alpha == 0:
        return jnp.log1p(half_y)
    if alpha == -2:
        return 2 * y / (y + 4)
    if alpha == -np.inf:
        return -jnp.expm1(-half_y)
    t_max = _checks.max_exponent(y.dtype)
    if alpha == np.inf:
        return jnp.expm1(jnp.minimum(half_y, t_max))
    a = jnp.asarray(alpha, y.dtype)
    b = jnp.abs(a - 2)
    half_log = 0.5 * jnp.log1p(y / b)  # the general branch of `_rho`
    return b * half_log * _expm1_over_t(jnp.minimum(a * half_log, t_max))


def _closed_form_slope(x: jax.Array, c: jax.Array, alpha: float) -> jax.Array | None:
    """dρ/dx at the α with a closed form, written without the value's literal constants (see
    losses._separate), or None for other α."""
    if alpha == 2:
        return x / (c * c)
    if alpha == 1:  # (x/c²)/√(1 + (x/c)²)
        return x * lax.rsqrt(c * c + x * x) / c
    if alpha == 0:  # (x/c²)/(1 + ½(x/c)²)
        c2 = c * c
        return (x + x) / (c2 + c2 + x * x)
    if alpha == -2:  # 16x/(c²((x/c)² + 4)²), with h = 2c
        h = c + c
        return x * jnp.square((h + h) / (x * x + h * h))
    if alpha == -np.inf:  # (x/c²)·exp(-½(x/c)²)
        z = x / c
        return z * jnp.exp(-_separate.opaque(0.5, x.dtype) * z * z) / c
    return None


@functools.cache
def _fixed_rho(alpha: float):
    """ρ(predictions - targets, α, c) for one Python-number α: no per-element branch selection,
    closed-form derivatives with respect to x and c, value and derivative compiled apart."""

    def value(x, c):
        y = jnp.square(x / c)
        return _rho_of_y(y, alpha)

    def slope(x, c):
        closed = _closed_form_slope(x, c, alpha)
        if closed is not None:
            return closed
        # The traced-α slope; with α a constant, XLA folds its per-element branch selection.
        return _traced_slope(x, jnp.asarray(alpha, x.dtype), c)

    def scale_slope(x, c):
        return (-slope(x, c) * x / c,)  # ρ depends on x/c: ∂ρ/∂c = -(∂ρ/∂x)·x/c

    return _separate.residual_loss(value, slope, scale_slope)


def _traced_slope_of_y(y: jax.Array, alpha: jax.Array) -> jax.Array:
    """dρ/dy, y = (x/c)², for α an array (possibly traced): every closed form, selected per
    element as in `_rho` (whose value saturates where it would overflow; so does this)."""
    is_two = alpha == 2
    is_neg_inf = alpha == -jnp.inf
    is_pos_inf = alpha == jnp.inf
    a = jnp.where(is_two | is_neg_inf | is_pos_inf, jnp.ones_like(alpha), alpha)
    b = jnp.abs(a - 2)
    log_u1 = jnp.log1p(y / b)  # log(y/b + 1)
    t_max = _checks.max_exponent(y.dtype)
    t = 0.5 * a * log_u1
    # ½(y/b + 1)^(α/2 - 1); where t saturates in `_rho`, ρ is linear in log(y/b + 1) instead.
    saturated = 0.5 * jnp.expm1(t_max) / t_max / (1 + y / b)
    general = jnp.where(t > t_max, saturated, 0.5 * jnp.exp((0.5 * a - 1) * log_u1))
    half_y = 0.5 * y
    pos_inf = jnp.where(half_y < t_max, 0.5 * jnp.exp(jnp.minimum(half_y, t_max)), 0)
    return jnp.where(
        is_two,
        jnp.full_like(y, 0.5),
        jnp.where(is_neg_inf, 0.5 * jnp.exp(-half_y), jnp.where(is_pos_inf, pos_inf, general)),
    )


def _traced_slope(x: jax.Array, alpha: jax.Array, c: jax.Array) -> jax.Array:
    w = x / c
    return 2 * _traced_slope_of_y(jnp.square(w), alpha) * w / c


def _traced_knob_slopes(x: jax.Array, alpha: jax.Array, c: jax.Array):
    # ∂ρ/∂α by forward-mode autodiff of `_rho` (only when α is differentiated, e.g. learned);
    # ∂ρ/∂c = -(∂ρ/∂x)·x/c since ρ depends on x/c.
    d_alpha = jax.jvp(lambda a: _rho(x, a, c), (alpha,), (jnp.ones_like(alpha),))[1]
    return d_alpha, -_traced_slope(x, alpha, c) * x / c


# ρ(predictions - targets, α, c) for α an array (possibly traced): `_rho`'s value, closed-form
# ∂/∂x and ∂/∂c (all branches selected per element), compiled apart from the value.
_traced_rho = _separate.residual_loss(_rho, _traced_slope, _traced_knob_slopes)


def _robust_rho(
    predictions: jax.Array,
    targets: jax.Array,
    alpha: jax.typing.ArrayLike,
    scale: jax.typing.ArrayLike,
) -> jax.Array:
    """ρ(predictions - targets) in their dtype: specialised to α when α is one concrete number,
    else every branch selected per element (differentiable in α)."""
    fixed = _fixed_alpha(alpha)
    scale = _checks.knob(scale, predictions.dtype)
    if fixed is None:
        return _traced_rho(predictions, targets, _checks.knob(alpha, predictions.dtype), scale)
    return _fixed_rho(fixed)(predictions, targets, scale)


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
    p, t = _checks.operands(predictions, targets)
    dtype = _checks.compute_dtype(p.dtype)
    return _robust_rho(p.astype(dtype), t.astype(dtype), alpha, scale).astype(p.dtype)


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
    rho = _rho(x, alpha[..., None], jnp.ones((), alpha.dtype))
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
    p, t = _checks.operands(predictions, targets)
    dtype = _checks.compute_dtype(p.dtype)
    rho = _robust_rho(p.astype(dtype), t.astype(dtype), alpha, scale)
    fixed, fixed_scale = _fixed_alpha(alpha), _checks.concrete(scale)
    if fixed is not None and fixed_scale is not None and fixed_scale.ndim == 0:
        # Numbers: log c + log Z(α) computed once here, a constant in the compiled program.
        offset = np.log(float(fixed_scale)) + _fixed_log_partition(fixed, jnp.dtype(dtype).name)
        return (rho + jnp.asarray(offset, dtype)).astype(p.dtype)
    alpha = _checks.knob(alpha, dtype)
    scale = _checks.knob(scale, dtype)
    alpha_ok = alpha >= 0
    log_z = _log_partition(jnp.where(alpha_ok, alpha, jnp.zeros_like(alpha)))
    log_z = jnp.where(alpha_ok, log_z, jnp.nan)
    nll = rho + jnp.log(scale) + log_z
    return nll.astype(p.dtype)


def _special_case(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None,
    scale: jax.typing.ArrayLike,
    alpha: float,
) -> jax.Array:
    _checks.positive("scale", scale)
    p, t = _checks.operands(predictions, targets)
    return _fixed_rho(alpha)(p, t, _checks.knob(scale, p.dtype))


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
