"""Fenchel-Young losses: cross-entropy and the sparsemax (square) loss as one construction.

A regularizer Ω on the probability simplex gives a prediction map and a loss (Blondel, Martins &
Niculae, "Learning with Fenchel-Young Losses", JMLR 2020):

    ŷ_Ω(z) = argmax_{p ∈ Δ} ⟨z, p⟩ - Ω(p),      L_Ω(z; y) = Ω*(z) + Ω(y) - ⟨z, y⟩ ≥ 0,

with gradient ∇_z L_Ω = ŷ_Ω(z) - y, zero exactly when the prediction is the target. Ω = the
negative Shannon entropy Σ p log p gives ŷ = softmax and L = KL(y ‖ softmax z): the softmax
cross-entropy (for one-hot y); Ω = ½‖p‖² gives ŷ = sparsemax (the Euclidean projection onto the
simplex) and the sparsemax loss, a square loss: on the support it is ½‖y - ŷ‖² plus a linear
term. The report's question (cross-entropy or the square loss?) is the choice of Ω here.

Inputs follow the multiclass conventions of `losses.classification` (logits with a class axis,
integer labels or probability vectors, `axis`, per-example `where`, `ignore_index`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses import _checks
from losses.classification import _Axis, _class_axes, _class_last, _log_softmax, _prepare

REGULARIZERS = ("shannon", "squared")


def _sparsemax_last(z: jax.Array) -> jax.Array:
    """sparsemax over the last axis of z (compute dtype): relu(s - τ), s = z - max z.

    τ = (Σ_{j ≤ k} s_(j) - 1)/k over the k largest entries, k the largest with 1 + k·s_(k) >
    Σ_{j ≤ k} s_(j) (Martins & Astudillo 2016, Alg. 1). Plain autodiff of this formula is the
    sparsemax Jacobian diag(σ) - σσᵀ/k (σ the support): k is an integer (no derivative) and τ
    is a gather from a cumulative sum. Entries below max - 2 are never in the support
    (p_max ≤ 1 means τ ≥ max - 1): they are clamped to -2 before the sum, so that neither the
    cumulative sum nor k·s overflows for logits spread over the whole float range."""
    top = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    s = z - top
    clamped = jnp.maximum(s, -2)
    ordered = -jnp.sort(-clamped, axis=-1)
    cumulative = jnp.cumsum(ordered, axis=-1)
    rank = jnp.arange(1, z.shape[-1] + 1, dtype=z.dtype)
    support = jnp.sum(1 + rank * ordered > cumulative, axis=-1, keepdims=True)
    k = jnp.maximum(support, 1)  # NaN rows: no support; the NaN reaches the output anyway
    tau = (jnp.take_along_axis(cumulative, k - 1, axis=-1) - 1) / k.astype(z.dtype)
    return jax.nn.relu(s - tau)


def sparsemax(logits: jax.typing.ArrayLike, axis: _Axis = -1) -> jax.Array:
    """sparsemax(z) = argmin_{p ∈ Δ} ‖p - z‖²: the Euclidean projection onto the simplex.

    Like softmax, a probability vector that is invariant to adding a constant to z; unlike it,
    exactly 0 on classes more than a threshold τ below the top (z_j ≤ τ), linear in z on the
    support: p = relu(z - τ). Jacobian diag(σ) - σσᵀ/|σ| on the support σ (piecewise constant,
    not differentiable where a class enters the support). Finite for every finite input; the
    logits' dtype and shape (class axis `axis`, an int or a tuple of axes).

    Reference: Martins & Astudillo, "From Softmax to Sparsemax" (ICML 2016); same values as
    jax.nn / optax.projections.projection_simplex applied per row.
    """
    z = _checks.floating("logits", logits)
    axes = _class_axes(axis, z.ndim)
    dtype = _checks.compute_dtype(z.dtype)
    moved = jnp.moveaxis(z, axes, tuple(range(z.ndim - len(axes), z.ndim)))
    p = _sparsemax_last(_class_last(z, axes).astype(dtype)).astype(z.dtype)
    return jnp.moveaxis(p.reshape(moved.shape), tuple(range(z.ndim - len(axes), z.ndim)), axes)


def sparsemax_loss(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Sparsemax loss ⟨z, p - y⟩ - ½‖p‖² + ½‖y‖², p = sparsemax(z): Fenchel-Young with ½‖p‖².

    Non-negative, 0 exactly when sparsemax(z) = y (reachable with finite logits, unlike
    cross-entropy's). Gradient p - y: bounded, piecewise linear in z (a square loss on the
    support, linear in the logit gap outside it), exactly 0 once the true class leads the
    others by 1 (saturates, like a hinge). Computed on shifted logits s = z - max z with the
    terms of classes where p_j = y_j left out, so huge logit gaps lose no precision. Labels:
    integer classes or probability vectors; `where`, `ignore_index`, `axis` as in
    `losses.classification`.

    Reference: Martins & Astudillo (2016), eq. 19; Blondel et al. (2020); same values as
    optax.losses.multiclass_sparsemax_loss (integer labels). optax's `sparsemax_loss` is the
    binary case: this loss on the logits [0, z] of two classes.
    """
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    z = batch.logits
    top = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    s = z - top
    p = _sparsemax_last(z)
    y = batch.dense()
    gap = p - y
    # ⟨s, p - y⟩ = ⟨z, p - y⟩ (Σ(p - y) = 0); the where keeps s = -inf (an overflowed gap) of
    # a class with p = y = 0 out of the product and its gradient.
    linear = jnp.sum(jnp.where(gap != 0, s, 0) * gap, axis=-1)
    loss = linear - 0.5 * jnp.sum(p * p, axis=-1) + 0.5 * jnp.sum(y * y, axis=-1)
    return batch.finish(loss)


def fenchel_young(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    regularizer: str = "shannon",
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Fenchel-Young loss L_Ω(z; y) = Ω*(z) + Ω(y) - ⟨z, y⟩, per example.

    This is the report's question in one formula: cross-entropy and the square loss are the
    same construction, differing only in the regularizer Ω of the predicted distribution.

      * regularizer="shannon": Ω(p) = Σ p log p, Ω* = logsumexp, prediction softmax(z):
        L = KL(y ‖ softmax z) = softmax cross-entropy - H(y); equal to
        `softmax_cross_entropy` for one-hot (integer) labels.
      * regularizer="squared": Ω(p) = ½‖p‖² on the simplex, prediction sparsemax(z): the
        sparsemax loss (`sparsemax_loss`), a square loss on the support.

    Gradient ŷ_Ω(z) - y in both cases (bounded; Shannon's never exactly 0 for finite logits,
    the squared one's 0 once the true class leads by 1). Ω(y) is included (the paper's
    convention, L ≥ 0 with equality at ŷ = y); optax's make_fenchel_young_loss(max_fun) leaves
    it out (Ω*(z) - ⟨z, y⟩): the same for one-hot labels with either Ω, since Ω(one-hot) = 0 for
    Shannon and the ½ of the squared Ω is included in optax's multiclass_sparsemax_loss.

    Reference: Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses" (JMLR 2020),
    Table 1; optax.losses.make_fenchel_young_loss (logsumexp: same values on one-hot labels).
    """
    _checks.one_of("regularizer", regularizer, REGULARIZERS)
    if regularizer == "squared":
        return sparsemax_loss(logits, labels, where=where, ignore_index=ignore_index, axis=axis)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    log_p, row_ok = _log_softmax(batch.logits)
    y = batch.dense()
    nonzero = y != 0
    # Σ y (log y - log p) with 0·log 0 = 0 (double where: no NaN in either gradient)
    log_y = jnp.log(jnp.where(nonzero, y, 1))
    terms = jnp.where(nonzero, y * (log_y - jnp.where(nonzero, log_p, 0)), 0)
    return batch.finish(jnp.where(row_ok, jnp.sum(terms, axis=-1), 0))
