"""Negative log-likelihoods with a predicted (learned) spread: the likelihood family.

Each is -log p(targets | predictions, spread) elementwise, for a mean (or log-rate) prediction and
a spread (variance, scale, ν) that may be a knob or an array the model predicts (any shape that
broadcasts against the residual), differentiable in all of them. Conventions follow torch where
torch has the loss (`full=False` drops the additive constants that do not depend on any input).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from losses import _checks

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_nll(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    variance: jax.typing.ArrayLike = 1.0,
    *,
    eps: float = 1e-6,
    full: bool = False,
) -> jax.Array:
    """Gaussian NLL ½(log max(σ², ε) + r²/max(σ², ε)) [+ ½ log 2π if `full`], r = pred - target.

    `variance` σ² is predicted (learned) or fixed; as in torch, it is clamped at ε for the value
    only: the gradient with respect to σ² is the unclamped formula's (torch clamps under
    no_grad), so a variance driven below ε still receives a gradient. Its shape follows torch:
    the residual's, or the residual's less the last axis (one variance per example: [N] for
    [N, D]), or anything that broadcasts against the residual (a scalar, [N, 1]); another shape
    raises ValueError naming `variance`.
    ∂/∂pred = r/σ²; ∂/∂σ² = (1 - r²/σ²)/(2σ²), zero at σ² = r²: jointly minimising over σ² gives
    ½ log r² (the loss is unbounded below as r -> 0 with σ² free, hence ε). With σ² = 1 it is
    ½·squared_error (+ constant).

    Reference: torch.nn.functional.gaussian_nll_loss(reduction="none") (same values: eps, full);
    Nix & Weigend (1994).
    """
    _checks.positive("eps", eps)
    _checks.nonnegative("variance", variance)
    r, out_dtype = _checks.residual_in_compute_dtype(predictions, targets)
    var = jnp.asarray(variance, r.dtype)
    if var.ndim and var.shape != r.shape and var.shape == r.shape[:-1]:
        var = var[..., None]  # torch: one fewer dimension is one variance per example
    var = _checks.spread("variance", var, r)
    var = var + jax.lax.stop_gradient(jnp.maximum(var, eps) - var)
    # (r/σ)², not r²/σ²: r² overflows (r = σ² = 1e30 in float32) where the quotient does not.
    loss = 0.5 * (jnp.log(var) + jnp.square(r / jnp.sqrt(var)))
    if full:
        loss = loss + _HALF_LOG_2PI
    return loss.astype(out_dtype)


def laplace_nll(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    scale: jax.typing.ArrayLike = 1.0,
    *,
    full: bool = False,
) -> jax.Array:
    """Laplace NLL log b + |r|/b [+ log 2 if `full`], scale b > 0 predicted or fixed.

    ∂/∂pred = sign(r)/b (bounded: L1's robustness); ∂/∂b = (1 - |r|/b)/b, zero at b = |r|, so
    the learned scale tracks the mean absolute residual. With b = 1 it is absolute_error.

    Reference: scipy.stats.laplace.logpdf (full=True, same values); the "L1 with learned
    uncertainty" of Kendall & Gal (2017).
    """
    _checks.positive("scale", scale)
    r, halved, out_dtype = _checks.halved_residual(predictions, targets)
    b = _checks.spread("scale", scale, r)
    loss = jnp.log(b) + jnp.abs(r) / _checks.halve_where(b, halved)
    if full:
        loss = loss + math.log(2.0)
    return loss.astype(out_dtype)


def student_t_nll(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike | None = None,
    scale: jax.typing.ArrayLike = 1.0,
    *,
    nu: jax.typing.ArrayLike = 3.0,
) -> jax.Array:
    """Student-t NLL with ν degrees of freedom and scale σ, the full normalised density:

        log σ + ½ log(νπ) + lgamma(ν/2) - lgamma((ν+1)/2) + (ν+1)/2 · log(1 + (r/σ)²/ν).

    ν (a knob or learned, > 0) sets the tails: ν -> ∞ is the Gaussian NLL with variance σ²,
    ν = 1 the Cauchy. ∂/∂pred = (ν+1)r/(νσ² + r²): redescending (it falls like (ν+1)/r), so
    outliers lose their pull. The log term is written without (r/σ)² for large |r| (finite for
    every finite r). The constants are kept (`full` always): they depend on ν, which may be
    learned.

    Reference: scipy.stats.t.logpdf(x, df=ν, loc, scale) (same values); Lange, Little & Taylor,
    "Robust statistical modeling using the t distribution" (1989).
    """
    _checks.positive("scale", scale)
    _checks.positive("nu", nu)
    r, halved, out_dtype = _checks.halved_residual(predictions, targets)
    sigma = _checks.spread("scale", scale, r)
    nu = _checks.spread("nu", nu, r)
    log_norm = (
        jnp.log(sigma) + 0.5 * jnp.log(nu * math.pi)
        + jax.scipy.special.gammaln(0.5 * nu) - jax.scipy.special.gammaln(0.5 * (nu + 1))
    )
    log_term = _checks.log1p_square(r, _checks.halve_where(sigma, halved), nu)
    loss = log_norm + 0.5 * (nu + 1) * log_term
    return loss.astype(out_dtype)


def poisson_nll(
    predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
) -> jax.Array:
    """Poisson NLL of counts k under rate λ: λ - k log λ [+ log k! via Stirling if `full`].

    `log_input=True` (torch's default): predictions are log λ, the loss is exp(s) - k·s, convex
    in s with gradient exp(s) - k (the canonical link; grows exponentially for s ≫ log k).
    `log_input=False`: predictions are λ ≥ 0 and the loss is λ - k·log(λ + eps), gradient
    1 - k/(λ + eps). `full` adds torch's Stirling term k log k - k + ½ log(2πk) where k > 1.

    Reference: torch.nn.functional.poisson_nll_loss(reduction="none") (same values: log_input,
    full, eps); keras.losses.Poisson is the log_input=False form with predictions λ.
    """
    _checks.positive("eps", eps)
    p = _checks.floating("predictions", predictions)
    out_dtype, dtype = p.dtype, _checks.compute_dtype(p.dtype)
    k = jnp.asarray(targets)
    if k.shape != p.shape:
        raise ValueError(f"targets must have the predictions' shape {p.shape}, got {k.shape}")
    p, k = p.astype(dtype), k.astype(dtype)
    loss = jnp.exp(p) - k * p if log_input else p - k * jnp.log(p + eps)
    if full:
        big = k > 1
        ks = jnp.where(big, k, 2)  # double where: log of k ≤ 1 never reaches the gradient
        stirling = ks * jnp.log(ks) - ks + 0.5 * jnp.log(2 * math.pi * ks)
        loss = loss + jnp.where(big, stirling, 0)
    return loss.astype(out_dtype)
