"""Parameter-norm penalties on pytrees, the decay mask, and decoupled weight decay.

Conventions: `l2_penalty` is ½‖θ‖² (gradient θ), so adding λ·l2_penalty to the loss and taking
an SGD step is exactly SGD with weight decay λ; `l1_penalty` is ‖θ‖₁; elastic_net mixes them as
scikit-learn's ElasticNet does (l1_ratio·‖θ‖₁ + (1 - l1_ratio)·½‖θ‖²).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from losses import _checks

if TYPE_CHECKING:
    import optax

Mask = Any | Callable[[Any], Any] | None


def _masked_leaves(params: Any, mask: Mask) -> list[jax.Array]:
    """The leaves selected by `mask`: a leaf whose mask is False contributes zeros."""
    leaves = [jnp.asarray(leaf) for leaf in jax.tree.leaves(params)]
    if mask is None:
        return leaves
    if callable(mask):
        mask = mask(params)
    masks = jax.tree.structure(params).flatten_up_to(mask)
    selected = []
    for leaf, m in zip(leaves, masks, strict=True):
        if isinstance(m, bool):
            if m:
                selected.append(leaf)
        else:  # a boolean array: an elementwise mask for this leaf
            selected.append(jnp.where(jnp.asarray(m, bool), leaf, 0))
    return selected


def _total(terms: list[jax.Array]) -> jax.Array:
    if not terms:
        return jnp.zeros((), jnp.float32)
    return sum(terms[1:], terms[0])


def _abs_sum(leaf: jax.Array) -> jax.Array:
    """Σ|θ| as Σθ·sign(θ): the same value, with derivative sign(θ), 0 at θ = 0 (jnp.abs's is 1
    there, which pushes a zero-initialised parameter away from 0)."""
    return jnp.sum(leaf * jnp.sign(leaf))


def l2_penalty(params: Any, mask: Mask = None) -> jax.Array:
    """½Σθ² over the masked leaves of a pytree (the ½ convention: its gradient is θ).

    `mask` is a pytree of bools with the structure of `params` (True = penalised), or a callable
    params -> such a pytree, like optax's masks (e.g. `decay_mask`); None penalises every leaf.
    The gradient is θ on masked leaves and 0 elsewhere, so SGD on loss + λ·l2_penalty is SGD with
    weight decay λ (see `decoupled_weight_decay` for when that stops being true).
    """
    return _total([0.5 * jnp.sum(jnp.square(leaf)) for leaf in _masked_leaves(params, mask)])


def l1_penalty(params: Any, mask: Mask = None) -> jax.Array:
    """Σ|θ| over the masked leaves (see `l2_penalty` for `mask`).

    Gradient sign(θ) (0 at θ = 0, where it is not differentiable): a constant pull towards 0 that
    produces exact zeros only with a proximal step, not with plain (sub)gradient descent.
    """
    return _total([_abs_sum(leaf) for leaf in _masked_leaves(params, mask)])


def elastic_net(params: Any, l1_ratio: jax.typing.ArrayLike, mask: Mask = None) -> jax.Array:
    """l1_ratio·l1_penalty + (1 - l1_ratio)·l2_penalty, l1_ratio ∈ [0, 1].

    The mixing of scikit-learn's ElasticNet (Zou & Hastie, 2005), with the ½ on the L2 part.
    Gradient l1_ratio·sign(θ) + (1 - l1_ratio)·θ: 0 at θ = 0 (see `l1_penalty`).
    """
    _checks.closed_unit("l1_ratio", l1_ratio)
    leaves = _masked_leaves(params, mask)
    l1 = _total([_abs_sum(leaf) for leaf in leaves])
    l2 = _total([0.5 * jnp.sum(jnp.square(leaf)) for leaf in leaves])
    return l1_ratio * l1 + (1 - l1_ratio) * l2


def decay_mask(params: Any) -> Any:
    """True for leaves with ndim ≥ 2 (kernels), False for biases and normalisation scales.

    The usual choice of what to decay: penalising biases and norm scales constrains no capacity
    worth constraining and can hurt (e.g. it pulls LayerNorm scales to 0).
    """
    return jax.tree.map(lambda leaf: jnp.ndim(leaf) >= 2, params)


def decoupled_weight_decay(
    strength: jax.typing.ArrayLike, mask: Mask = None
) -> optax.GradientTransformation:
    """An optax transformation adding strength·θ to the update (decoupled weight decay).

    Returns `optax.add_decayed_weights(strength, mask)`; optax is imported when this is called,
    so importing `losses` needs jax only. Chain it before the learning-rate scaling.

    With plain SGD, `optax.chain(decoupled_weight_decay(λ), optax.sgd(lr))` is identical to SGD on
    loss + λ·l2_penalty: both update θ by -lr·(g + λθ). With an adaptive optimizer such as Adam
    they differ: the penalty's gradient λθ goes through the preconditioner (heavily rescaled, so
    weights with large gradients are barely regularised), while decoupled decay placed after the
    preconditioner shrinks every weight at the same rate λ·lr (AdamW; Loshchilov & Hutter,
    "Decoupled Weight Decay Regularization", ICLR 2019).
    """
    _checks.nonnegative("strength", strength)
    import optax  # lazy: importing losses must need jax only

    return optax.add_decayed_weights(strength, mask)
