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


def positive(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is > 0."""
    v = concrete(value)
    if v is not None and not np.all(v > 0):
        _fail(name, value, "> 0")


def nonnegative(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is >= 0."""
    v = concrete(value)
    if v is not None and not np.all(v >= 0):
        _fail(name, value, ">= 0")


def open_unit(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is in (0, 1)."""
    v = concrete(value)
    if v is not None and not np.all((v > 0) & (v < 1)):
        _fail(name, value, "in the open interval (0, 1)")


def closed_unit(name: str, value: object) -> None:
    """Raises ValueError unless every element of a concrete `value` is in [0, 1]."""
    v = concrete(value)
    if v is not None and not np.all((v >= 0) & (v <= 1)):
        _fail(name, value, "in the closed interval [0, 1]")


def not_nan(name: str, value: object) -> None:
    """Raises ValueError if a concrete `value` has a NaN (infinities are allowed)."""
    v = concrete(value)
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
