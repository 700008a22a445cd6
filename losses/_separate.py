"""Elementwise losses of r = predictions - targets whose value and derivative compile apart.

`residual_loss(value, slope, knob_slopes)` builds `loss(predictions, targets, *knobs)` =
`value(predictions - targets, *knobs)` with a closed-form JVP: ∂/∂predictions = slope(r, *knobs),
∂/∂targets = -slope, ∂/∂knobs[i] = knob_slopes(r, *knobs)[i] (None: not differentiable there).

Why: `value_and_grad` of `sum(loss)` compiles to a reduction (the value) and an elementwise loop
(the gradient). When the two share an intermediate, be it the residual, a square root or only a
broadcast constant, XLA:CPU writes that intermediate to memory as an array of its own, which costs
as much as a whole loop; without one, the reduction (a YNNPACK fusion on CPU) and the gradient's
loop each read just the inputs, the cost of `squared_error`. So the derivative is computed from
copies of the inputs and knobs behind `lax.optimization_barrier` (common-subexpression
elimination cannot merge across it), and the slope functions are written with the knobs rather
than the literal constants the value uses (a literal of the same value would be merged), or with
`opaque` constants. Tangents of knobs that are not differentiated are symbolic zeros: their slopes
are never computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

Slope = Callable[..., jax.Array]
KnobSlopes = Callable[..., Sequence[jax.Array | None]]


def _no_knob_slopes(r: jax.Array, *knobs: jax.Array) -> tuple[None, ...]:
    return (None,) * len(knobs)


def residual_loss(
    value: Callable[..., jax.Array], slope: Slope, knob_slopes: KnobSlopes = _no_knob_slopes
) -> Callable[..., jax.Array]:
    """loss(predictions, targets, *knobs) = value(predictions - targets, *knobs), custom JVP.

    predictions and targets must have one shape and dtype, knobs arrays of that dtype that
    broadcast against them (the public losses check this before calling).
    """

    @jax.custom_jvp
    def loss(predictions: jax.Array, targets: jax.Array, *knobs: jax.Array) -> jax.Array:
        return value(predictions - targets, *knobs)

    def loss_jvp(primals, tangents):
        predictions, targets, *knobs = primals
        p_dot, t_dot, *knob_dots = tangents
        out = loss(predictions, targets, *knobs)
        p, t, *k = lax.optimization_barrier((predictions, targets, *knobs))
        r = p - t
        terms = []
        if not _zero(p_dot) or not _zero(t_dot):
            d_r = slope(r, *k)
            if not _zero(p_dot):
                terms.append(d_r * p_dot)
            if not _zero(t_dot):
                terms.append(-d_r * t_dot)
        if any(not _zero(dot) for dot in knob_dots):
            for d_k, dot in zip(knob_slopes(r, *k), knob_dots, strict=True):
                if _zero(dot):
                    continue
                if d_k is None:
                    raise TypeError("this loss is not differentiable with respect to that knob")
                terms.append(d_k * dot)
        tangent = sum(terms[1:], terms[0]) if terms else jnp.zeros_like(out)
        return out, jnp.broadcast_to(tangent, out.shape).astype(out.dtype)

    loss.defjvp(loss_jvp, symbolic_zeros=True)
    return loss


def opaque(value: float, dtype: jnp.dtype) -> jax.Array:
    """The constant `value` as an array XLA cannot merge with an equal literal (see above)."""
    return lax.optimization_barrier(jnp.asarray(value, dtype))


def _zero(tangent: object) -> bool:
    return isinstance(tangent, SymbolicZero)
