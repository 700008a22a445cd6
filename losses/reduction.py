"""Reduction of elementwise or per-example loss values to the number an optimizer minimises."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses import _checks

_REDUCTIONS = ("mean", "sum", "none")


def reduce(
    values: jax.typing.ArrayLike,
    reduction: str = "mean",
    *,
    weights: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Reduces loss values: "mean" Σw·v/Σw, "sum" Σw·v, or "none" (w·v elementwise).

    `weights` (default 1) and the boolean `where` (default all True) broadcast against `values`;
    elements where `where` is False count as weight 0 and their values (even NaN or inf) are
    never used, in the value or the gradient. A mean with no weight (every element masked) is 0,
    not NaN, with a finite (zero) gradient. "none" returns w·v with masked elements set to 0.
    Sums of half-precision values accumulate in float32; the result has the values' dtype.
    """
    _checks.one_of("reduction", reduction, _REDUCTIONS)
    values = jnp.asarray(values)
    out_dtype = values.dtype
    dtype = _checks.compute_dtype(values.dtype)
    v = values.astype(dtype)
    w = jnp.ones((), dtype) if weights is None else jnp.asarray(weights).astype(dtype)
    if where is not None:
        mask = jnp.asarray(where, bool)
        v = jnp.where(mask, v, 0)  # double where: masked NaN/inf never reach the product's grad
        w = jnp.where(mask, w, 0)
    weighted = jnp.broadcast_to(w * v, jnp.broadcast_shapes(jnp.shape(w), v.shape))
    if reduction == "none":
        return weighted.astype(out_dtype)
    total = jnp.sum(weighted)
    if reduction == "sum":
        return total.astype(out_dtype)
    weight = jnp.sum(jnp.broadcast_to(w, weighted.shape))
    weight = jnp.where(weight == 0, 1, weight)
    # Σw·v overflows where the mean does not (values near the dtype's max): there the mean is
    # Σ(w/Σw)·v; elsewhere Σw·v/Σw, whose rounding training results were computed with.
    shares = jnp.broadcast_to(w / weight, weighted.shape)
    mean = jnp.where(jnp.isinf(total), jnp.sum(shares * v), total / weight)
    return mean.astype(out_dtype)
