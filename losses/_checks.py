"""Validation shared by the losses: knob ranges, shapes and dtypes.

A knob is checked only when its value is concrete (a Python or numpy number, or a jax array
outside a trace). Inside `jit`, `vmap` or `grad` a knob is a tracer and the check is skipped,
so that a knob can be swept as an array inside one compiled program.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def concrete(value: object) -> np.ndarray | None:
    """The value as a numpy array, or None when it is a tracer (no check possible)."""
    if isinstance(value, jax.core.Tracer):
        return None
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value)):
        return None
    return np.asarray(value)


def _fail(name: str, value: object, requirement: str) -> None:
    raise ValueError(f"{name} must be {requirement}, got {name}={value!r}")


def number(name: str, value: object) -> np.ndarray | None:
    """A concrete knob as a numeric numpy array, None when it is a tracer; TypeError naming the
    knob when it is not a number or an array of numbers (a string, None, a dict), where numpy's
    own comparison error would name neither."""
    try:
        v = concrete(value)
    except (TypeError, ValueError):  # a ragged list
        v = np.asarray(None)
    if v is not None and v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a number or an array of numbers, got {name}={value!r}")
    return v


def positive(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is > 0."""
    v = number(name, value)
    if v is not None and not np.all(v > 0):
        _fail(name, value, "> 0")


def nonnegative(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is >= 0."""
    v = number(name, value)
    if v is not None and not np.all(v >= 0):
        _fail(name, value, ">= 0")


def open_unit(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is in (0, 1)."""
    v = number(name, value)
    if v is not None and not np.all((v > 0) & (v < 1)):
        _fail(name, value, "in the open interval (0, 1)")


def closed_unit(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is in [0, 1]."""
    v = number(name, value)
    if v is not None and not np.all((v >= 0) & (v <= 1)):
        _fail(name, value, "in the closed interval [0, 1]")


def not_nan(name: str, value: object) -> None:
    """Raises ValueError if a concrete `value` has a NaN (infinities are allowed)."""
    v = number(name, value)
    if v is not None and np.any(np.isnan(v)):
        _fail(name, value, "a number (not NaN)")


def one_of(name: str, value: object, allowed: tuple) -> None:
    """Raises ValueError unless `value` (a static Python value) is in `allowed`."""
    if value not in allowed:
        _fail(name, value, f"one of {allowed}")


def floating(name: str, x: jax.typing.ArrayLike) -> jax.Array:
    """`x` as a jax array; raises TypeError unless its dtype is floating."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return x


def _targets(predictions: jax.Array, targets: jax.typing.ArrayLike) -> jax.Array:
    targets = jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            "predictions and targets must have the same shape (no broadcasting), got "
            f"{predictions.shape} and {targets.shape}"
        )
    return targets


def residual(predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None) -> jax.Array:
    """predictions - targets, refusing to broadcast; predictions alone when targets is None."""
    predictions = floating("predictions", predictions)
    if targets is None:
        return predictions
    return (predictions - _targets(predictions, targets)).astype(predictions.dtype)


def residual_in_compute_dtype(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None
) -> tuple[jax.Array, jnp.dtype]:
    """(predictions - targets in the compute dtype, the predictions' dtype to cast back to):
    half precision is computed in float32, where a residual of two finite halves is finite."""
    predictions = floating("predictions", predictions)
    dtype = compute_dtype(predictions.dtype)
    r = predictions.astype(dtype)
    if targets is not None:
        r = r - _targets(predictions, targets).astype(dtype)
    return r, predictions.dtype


def halved_residual(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None
) -> tuple[jax.Array, jax.Array | None, jnp.dtype]:
    """(x, halved, output dtype): the residual r = predictions - targets in the compute dtype as
    r = x where `halved` is False and r = 2x where it is True, which is where p - t overflows
    though p and t are finite (then x = p/2 - t/2, whose halvings are exact at that size).

    For losses whose value stays representable beyond an overflowing residual (logarithmic or
    fractional-power tails, slopes below 1): a loss of x/c takes x/`halve_where`(c, halved), a
    loss linear in r doubles its value (`double_where`). `halved` is None without targets."""
    r, out_dtype = residual_in_compute_dtype(predictions, targets)
    if targets is None:
        return r, None, out_dtype
    dtype = r.dtype
    half = 0.5 * jnp.asarray(predictions).astype(dtype) - 0.5 * jnp.asarray(targets).astype(dtype)
    halved = jnp.isinf(r) & jnp.isfinite(half)
    return jnp.where(halved, half, r), halved, out_dtype


def halve_where(c: jax.Array, halved: jax.Array | None) -> jax.Array:
    """c/2 where `halved` (see `halved_residual`), else c: x/(c/2) is r/c."""
    return c if halved is None else jnp.where(halved, 0.5 * c, c)


def double_where(value: jax.Array, halved: jax.Array | None) -> jax.Array:
    """2·value where `halved` (see `halved_residual`), else value."""
    return value if halved is None else jnp.where(halved, 2 * value, value)


def spread(name: str, value: jax.typing.ArrayLike, r: jax.Array) -> jax.Array:
    """A likelihood's spread (variance, scale, ν) in r's dtype; ValueError naming it unless its
    shape broadcasts against the residual's."""
    value = jnp.asarray(value, r.dtype)
    try:
        jnp.broadcast_shapes(value.shape, r.shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {value.shape} does not broadcast against the residual of shape "
            f"{r.shape}"
        ) from None
    return value


def operands(
    predictions: jax.typing.ArrayLike, targets: jax.typing.ArrayLike | None
) -> tuple[jax.Array, jax.Array]:
    """(predictions, targets) of one shape in the predictions' floating dtype, refusing to
    broadcast; zero targets when `targets` is None (the predictions are then the residuals)."""
    predictions = floating("predictions", predictions)
    if targets is None:
        return predictions, jnp.zeros_like(predictions)
    return predictions, _targets(predictions, targets).astype(predictions.dtype)


def knob(value: jax.typing.ArrayLike, dtype: jnp.dtype) -> jax.Array:
    """A knob in the computation's dtype, so that a float64 knob does not upcast the loss."""
    return jnp.asarray(value, dtype=dtype)


def compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """float32 for half-precision inputs (bfloat16, float16), else the dtype itself."""
    return jnp.promote_types(dtype, jnp.float32)


def max_exponent(dtype: jnp.dtype) -> float:
    """A t below which exp(t) / t and its derivative stay finite in `dtype`."""
    return math.log(float(jnp.finfo(dtype).max)) - 1.0


def big(dtype: jnp.dtype) -> float:
    """A magnitude whose square (and a few multiples of it) stays far from overflow in `dtype`:
    where a form in w² is replaced by its large-|w| asymptotic form."""
    return float(jnp.finfo(dtype).max) ** 0.25


def split(x: jax.Array, small: jax.Array, fill: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """(x where `small` else 0, x where not `small` else `fill`): the inputs of the two branches
    of a jnp.where, each safe in the other's domain, so that neither branch's (unused) gradient
    can be NaN (the double-where trick)."""
    return jnp.where(small, x, 0), jnp.where(small, fill, x)


def ratio(x: jax.Array, c: jax.Array, reciprocal: bool = False) -> jax.Array:
    """x/c (x·(1/c) with `reciprocal`, which rounds as XLA's rewrite of a division by a
    constant), computed as (x·k)/(c·k) with k a power of two that brings c·k into [½, 1): the
    same value bit for bit (barring over- and underflow), but autodiff's derivative in c,
    -(x·k)·k/(c·k)², forms no c², which overflows for a tiny c (1e-20 in float32: an inf, then
    NaN) though x/c and its derivative are finite."""
    _, exponent = jnp.frexp(jax.lax.stop_gradient(c))
    k = jnp.ldexp(jnp.ones_like(c), -exponent)
    xk, ck = x * k, c * k
    return xk * (1 / ck) if reciprocal else xk / ck


def log1p_square(x: jax.Array, c: jax.Array, b: jax.Array) -> jax.Array:
    """log(1 + (x/c)²/b) for every finite x (and c, b > 0), with its exact gradient.

    For large |x/c| the square would overflow: there it is 2 log|x| - 2 log c - log b +
    log1p(b(c/x)²), which also never forms x/c (finite even where x/c overflows)."""
    small = jnp.abs(x) < big(x.dtype) * c * jnp.sqrt(b)
    xs, xl = split(x, small)
    ws = ratio(xs, c)
    large = 2 * (jnp.log(jnp.abs(xl)) - jnp.log(c)) - jnp.log(b) + jnp.log1p(b * jnp.square(c / xl))
    return jnp.where(small, jnp.log1p(jnp.square(ws) / b), large)


def ratio_over_sqrt1p(x: jax.Array, c: jax.Array, one: float = 0.0) -> jax.Array:
    """w / (one + √(1 + w²)), w = x/c, for every finite x, without forming w² for large |w|
    (one = 0: w/√(1 + w²) ∈ (-1, 1); one = 1: pseudo-Huber's (√(1 + w²) - 1)/w)."""
    small = jnp.abs(x) < big(x.dtype) * c
    xs, xl = split(x, small)
    ws = ratio(xs, c)
    inv = c / xl  # 1/w, tiny
    large = jnp.sign(xl) / (one * jnp.abs(inv) + jnp.sqrt(1 + jnp.square(inv)))
    return jnp.where(small, ws / (one + jnp.sqrt(1 + jnp.square(ws))), large)


def clamp_magnitude(x: jax.Array, bound: float) -> jax.Array:
    """x clipped to [-bound, bound] (inf included): where a loss has saturated to within its
    dtype's resolution, so the gradient 0 of the clip is the true one rounded."""
    return jnp.maximum(jnp.minimum(x, bound), -bound)
