"""Classification losses: one value per example (multiclass) or per element (binary).

Multiclass losses take `logits` with a class axis (`axis`, last by default; a tuple of axes is
one class axis, their row-major flattening, as in optax) and `labels` that are either integer
class indices, with the logits' shape less the class axis, or probability vectors (one-hot or
soft) with the logits' shape; any other shape raises ValueError. The output has the
logits' dtype (half precision is computed in float32 and cast back) and their shape less the
class axis. Options shared by the multiclass losses:

  * `where`: a boolean per-example mask with the output's shape (optax's `where` of shape
    [batch]): masked examples give 0 with a zero gradient, whatever their logits (NaN included).
    `softmax_cross_entropy` also takes a class mask with the logits' shape (see there).
  * `ignore_index`: integer labels equal to it give 0 with a zero gradient (torch's convention for
    padding; torch's mean then divides by the kept examples: `reduce(values, where=labels != i)`).
  * integer labels outside [0, C): concrete labels raise ValueError naming the value, checked
    before jax converts them (an int64 beyond int32 would wrap to a valid class); traced labels
    (inside jit) give NaN for that example, never a silent wrap-around to another class (without
    x64, jax converts int64 labels passed into jit to int32 before any loss sees them: check
    such labels outside the trace).
  * `weight` (where offered): a per-class weight of shape [C], torch's `weight`: the term of
    class j is multiplied by weight[j] (for integer labels: weight[y]); torch's mean reduction
    divides by Σ weight[y], i.e. `reduce(values, weights=weight[labels])` of the unweighted values.

A -inf logit means probability exactly 0 (as in optax's `safe_softmax_cross_entropy`): a class
with no target mass contributes nothing (0·log 0 = 0), and target mass on it gives +inf.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from losses import _checks


@dataclasses.dataclass(frozen=True)
class _Batch:
    """Logits with the class axis last, in the compute dtype, and how to finish each loss."""

    logits: jax.Array
    labels: jax.Array  # class indices (safe: out-of-range replaced by 0) or probabilities
    is_index: bool
    out_dtype: jnp.dtype
    keep: jax.Array | None  # per-example: False where the value must be 0 (mask, ignore_index)
    bad: jax.Array | None  # per-example: True where a traced label is out of range (NaN)

    @property
    def num_classes(self) -> int:
        return self.logits.shape[-1]

    def dense(self) -> jax.Array:
        """Probability-vector targets: one-hot rows for class indices."""
        if self.is_index:
            return jax.nn.one_hot(self.labels, self.num_classes, dtype=self.logits.dtype)
        return self.labels

    def take(self, values: jax.Array) -> jax.Array:
        """values[..., labels]: each example's entry at its class (integer labels only)."""
        return jnp.take_along_axis(values, self.labels[..., None], axis=-1)[..., 0]

    def finish(self, loss: jax.Array) -> jax.Array:
        if self.bad is not None:
            loss = jnp.where(self.bad, jnp.nan, loss)
        if self.keep is not None:
            loss = jnp.where(self.keep, loss, 0)
        return loss.astype(self.out_dtype)


def _check_label_range(
    labels: jax.typing.ArrayLike, num_classes: int, ignore_index: int | None
) -> None:
    """ValueError naming the first concrete label outside [0, C) (not ignore_index); called on
    the labels as given, before jnp.asarray turns an int64 beyond int32 into another class."""
    value = _checks.concrete(labels)
    if value is None:
        return
    bad = (value < 0) | (value >= num_classes)
    if ignore_index is not None:
        bad &= value != ignore_index
    if np.any(bad):
        first = int(value[bad].flat[0])
        raise ValueError(
            f"labels must be class indices in [0, {num_classes})"
            + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
            + f", got labels={first}"
        )


def _index_labels(
    labels: jax.typing.ArrayLike, num_classes: int, index_shape: tuple, ignore_index: int | None
) -> jax.Array:
    """The labels as a jax array, concrete integer class indices checked first: jnp.asarray
    wraps an int64 beyond int32 (without x64) to another, valid class, or refuses a Python int
    with an OverflowError that names no argument."""
    value = _checks.concrete(labels)
    if value is not None and value.dtype.kind in "iu" and value.shape == index_shape:
        _check_label_range(value, num_classes, ignore_index)
    return jnp.asarray(labels)


_Axis = int | tuple[int, ...]  # one class axis, or several flattened into one


def _class_axes(axis: _Axis, ndim: int) -> tuple[int, ...]:
    """The class axes as nonnegative ints, in the given order (a tuple: classes are their
    row-major flattening, as optax's `axis`)."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not axes or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"axis must name axes of the {ndim}-d logits, got axis={axis}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis has a repeated axis: axis={axis}")
    return axes


def _class_last(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """x with its class axes moved last, in the given order, and flattened into one."""
    k = len(axes)
    moved = jnp.moveaxis(x, axes, tuple(range(x.ndim - k, x.ndim)))
    return moved.reshape((*moved.shape[: x.ndim - k], math.prod(moved.shape[x.ndim - k :])))


def _prepare(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    axis: _Axis = -1,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    class_mask_ok: bool = False,
) -> tuple[_Batch, jax.Array | None]:
    """The batch, and a class mask (`where` with the logits' ndim, only if `class_mask_ok`)."""
    logits = _checks.floating("logits", logits)
    if logits.ndim == 0:
        raise ValueError("logits must have a class axis, got a scalar")
    axes = _class_axes(axis, logits.ndim)
    out_dtype, dtype = logits.dtype, _checks.compute_dtype(logits.dtype)
    z = _class_last(logits, axes).astype(dtype)
    num_classes = z.shape[-1]
    index_shape = z.shape[:-1]
    labels = _index_labels(labels, num_classes, index_shape, ignore_index)
    if labels.shape == index_shape:
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(
                f"labels of shape {labels.shape} (the logits' shape less the class axis) are "
                f"class indices and must have an integer dtype, got {labels.dtype}"
            )
        is_index = True
    elif labels.shape == logits.shape:
        labels, is_index = _class_last(labels, axes).astype(dtype), False
    else:
        raise ValueError(
            f"labels must have shape {index_shape} (integer classes) or {logits.shape} "
            f"(probabilities) for logits of shape {logits.shape} (class axis {axis}), got "
            f"{labels.shape}"
        )
    keep = bad = class_mask = None
    if where is not None:
        where = jnp.asarray(where, bool)
        if where.ndim == logits.ndim and class_mask_ok:
            class_mask = _class_last(jnp.broadcast_to(where, logits.shape), axes)
        elif where.shape == index_shape:
            keep = where
        else:
            raise ValueError(
                f"where must have shape {index_shape} (one flag per example)"
                + (" or the logits' ndim (class mask)" if class_mask_ok else "")
                + f", got {where.shape}"
            )
    if is_index:
        in_range = (labels >= 0) & (labels < num_classes)
        if ignore_index is not None:
            ignored = labels == ignore_index
            keep = ~ignored if keep is None else keep & ~ignored
            in_range |= ignored
        bad = ~in_range
        labels = jnp.where(in_range & (keep if keep is not None else True), labels, 0)
    if keep is not None:
        z = jnp.where(keep[..., None], z, 0)  # double where: masked NaN reach no grad
        if not is_index:
            labels = jnp.where(keep[..., None], labels, 0)
    return _Batch(z, labels, is_index, out_dtype, keep, bad), class_mask


def _class_weight(weight: jax.typing.ArrayLike | None, batch: _Batch) -> jax.Array | None:
    if weight is None:
        return None
    _checks.nonnegative("weight", weight)
    weight = jnp.asarray(weight, batch.logits.dtype)
    if weight.shape != (batch.num_classes,):
        raise ValueError(f"weight must have shape ({batch.num_classes},), got {weight.shape}")
    return weight


def _shifted_lse(
    z: jax.Array, valid: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(s = z - max z over the valid classes (-inf elsewhere), log Σ exp(s) [..., 1], row_ok,
    the shift [..., 1]).

    A row with no class of nonzero probability (all -inf or masked) has Σ exp(s) = 0: its shift
    is clamped to the dtype's lowest finite value (s stays -inf, never NaN) and its log-sum to
    log(tiny), so value and gradient stay finite and the callers zero the row by row_ok. The
    clamps are maxima, not a select on `max z > -inf`: XLA:CPU fuses them, and the select made
    value+grad 1.36× optax's (0.88× with the clamps; 1e5 × 10 logits, 2026-12-03)."""
    masked = z if valid is None else jnp.where(valid, z, -jnp.inf)
    finfo = jnp.finfo(z.dtype)
    top = jax.lax.stop_gradient(jnp.max(masked, axis=-1, keepdims=True))
    shift = jnp.maximum(top, finfo.min)
    shifted = masked - shift
    total = jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True)
    row_ok = total != 0  # NaN (a +inf or NaN logit) stays NaN through the callers
    return shifted, jnp.log(jnp.maximum(total, finfo.tiny)), row_ok[..., 0], shift


def _log_softmax(z: jax.Array, valid: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(log softmax over the valid classes, whether the row has a class of nonzero probability).

    The shift by the row's maximum makes the shifted logits exact (the largest is 0), so
    log p_j = s_j - log Σ exp(s) has no cancellation however large the logits; -inf logits and
    masked classes get log p = -inf; a row with no such class gets -inf everywhere, with
    gradients that stay finite (the sum is replaced before its log).
    """
    shifted, lse, row_ok, _ = _shifted_lse(z, valid)
    return shifted - lse, row_ok


def _zero_mass_safe(targets: jax.Array, scores: jax.Array) -> jax.Array:
    """The scores (log p or s), with 0 where a class has no target mass and a -inf score, so
    that t·score is 0 there (0·log 0 = 0) with no NaN in either gradient, while the derivative
    in t_j stays score_j at every other class, zero mass included (optax's; distillation and
    learned labels differentiate through the targets). At a -inf score with no mass the
    derivative, +inf, is returned as 0."""
    return jnp.where((targets == 0) & (scores == -jnp.inf), 0, scores)


def _xlogy_sum(targets: jax.Array, log_p: jax.Array) -> jax.Array:
    """-Σ_j t_j log p_j with 0·log 0 = 0; its derivative in t_j is -log p_j."""
    return -jnp.sum(targets * _zero_mass_safe(targets, log_p), axis=-1)


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
    weight: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Softmax cross-entropy -Σ_j w_j t_j log softmax(z)_j, computed from the log-softmax.

    Targets t are the one-hot (integer labels) or given probability vectors, smoothed as in
    torch: t = (1 - ε)·t + ε/C over the C kept classes. `where` with the logits' ndim is a
    class mask (optax's `where`): masked classes are left out of the softmax and their target
    mass is dropped (padding classes, action masking); C counts the kept classes. `where` of
    the output's shape masks examples (see the module docstring). A -inf logit is probability 0:
    no target mass there contributes 0, target mass there (including smoothing mass) gives +inf,
    with or without `where` — to drop classes, mask them. A row with no class of nonzero
    probability (all -inf or all masked) gives 0 with a zero gradient.

    Computed from shifted logits s = z - max(z), so that huge logits lose no precision (no
    lse - z_y cancellation). Gradient softmax(z) - t (times the weights): bounded, never
    saturating for a wrong prediction; the loss grows linearly in the logit gap. The derivative
    in probability labels is -log p_j at every class, zero-mass ones included (optax's; 0 at a
    -inf logit without mass, whose true derivative is +inf).

    Reference: optax.losses.softmax_cross_entropy / softmax_cross_entropy_with_integer_labels /
    safe_softmax_cross_entropy (same values), torch.nn.functional.cross_entropy (label_smoothing,
    weight, ignore_index), keras.losses.CategoricalCrossentropy(from_logits=True); label
    smoothing: Szegedy et al. (2016).
    """
    _checks.closed_unit("label_smoothing", label_smoothing)
    batch, class_mask = _prepare(logits, labels, axis, where, ignore_index, class_mask_ok=True)
    z = batch.logits
    weight = _class_weight(weight, batch)
    smoothing = _checks.concrete(label_smoothing)
    smooth = smoothing is None or bool(smoothing.any())
    if batch.is_index and not smooth and class_mask is None:
        # log Σ exp(s) - s_y, both of size ~log C; s_y = z_y - shift rounds as the gathered s
        # would, but gathering z lets XLA fuse the shift into the exp, so s is never stored
        # (value+grad 1.08x -> 0.97x optax's, one core, 1e5 x 10 logits).
        _, lse, row_ok, shift = _shifted_lse(z)
        loss = lse[..., 0] - (batch.take(z) - shift[..., 0])
        if weight is not None:
            loss = loss * weight[batch.labels]
    else:
        log_p, row_ok = _log_softmax(z, class_mask)
        targets = batch.dense()
        kept = jnp.ones_like(z) if class_mask is None else class_mask.astype(z.dtype)
        if class_mask is not None:
            targets = jnp.where(class_mask, targets, 0)
        if smooth:
            eps = _checks.knob(label_smoothing, z.dtype)[..., None]
            num_kept = jnp.maximum(jnp.sum(kept, axis=-1, keepdims=True), 1)
            targets = (1 - eps) * targets + eps * kept / num_kept
        if weight is not None:
            targets = targets * weight
        loss = _xlogy_sum(targets, log_p)
    return batch.finish(jnp.where(row_ok, loss, 0))


def kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    log_target: bool = False,
    axis: _Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """KL(t ‖ p) = Σ_j t_j (log t_j - log p_j) from log-probabilities log p, per example.

    `log_predictions` are log-probabilities (e.g. log_softmax outputs; torch's and optax's
    convention: the input is *not* normalised here); `targets` are probabilities, or
    log-probabilities with `log_target=True` (torch's `log_target`, optax's
    `kl_divergence_with_log_targets` input). 0·log 0 = 0: classes with no target mass
    contribute nothing, also where log p = -inf; target mass where log p = -inf gives +inf.
    Gradient -t with respect to log p (and log t - log p + 1 with respect to t). `axis` is the
    class axis (or a tuple of axes); `where` with the inputs' ndim (broadcastable) leaves
    entries out of the sum (optax's `where`: the value of the vectors without them, zero
    gradient there whatever they hold), with the output's shape it masks examples (0, zero
    gradient). Keras' `KLDivergence` takes probabilities for both and clips them to [1e-7, 1]:
    pass log of the clipped predictions for its values.

    Reference: optax.losses.kl_divergence / kl_divergence_with_log_targets (same values, `axis`,
    `where`), torch.nn.functional.kl_div(reduction="none").sum(-1) (reduction="batchmean" is
    `reduce` of these), keras.losses.KLDivergence.
    """
    log_p = _checks.floating("log_predictions", log_predictions)
    out_dtype, dtype = log_p.dtype, _checks.compute_dtype(log_p.dtype)
    t = jnp.asarray(targets)
    if t.shape != log_p.shape:
        raise ValueError(f"targets must have the predictions' shape {log_p.shape}, got {t.shape}")
    axes = _class_axes(axis, log_p.ndim)
    shape = log_p.shape
    log_p, t = _class_last(log_p, axes).astype(dtype), _class_last(t, axes).astype(dtype)
    used = None  # entries that enter the sum (None: all)
    keep = None  # examples that count (None: all)
    if where is not None:
        where = jnp.asarray(where, bool)
        if where.ndim == len(shape):
            used = _class_last(jnp.broadcast_to(where, shape), axes)
        elif where.shape == log_p.shape[:-1]:
            keep = where
            used = jnp.broadcast_to(where[..., None], log_p.shape)
        else:
            raise ValueError(
                f"where must have the inputs' ndim ({len(shape)}, entries) or shape "
                f"{log_p.shape[:-1]} (examples), got {where.shape}"
            )
        # Left-out entries become "no target mass" before any arithmetic (double where).
        t = jnp.where(used, t, -jnp.inf if log_target else 0)
        log_p = jnp.where(used, log_p, 0)
    if log_target:
        log_t, t = t, jnp.exp(t)
    else:
        log_t = jnp.log(jnp.where(t > 0, t, 1))
    nonzero = t != 0
    loss = jnp.sum(jnp.where(nonzero, t * (log_t - jnp.where(nonzero, log_p, 0)), 0), axis=-1)
    if keep is not None:
        loss = jnp.where(keep, loss, 0)
    return loss.astype(out_dtype)


def smooth_labels(
    labels: jax.typing.ArrayLike, alpha: jax.typing.ArrayLike, num_classes: int | None = None
) -> jax.Array:
    """(1 - α)·t + α/C: probability targets smoothed towards the uniform distribution.

    `labels` are probability vectors (class axis last) or, with `num_classes`, integer class
    indices (one-hot first). The targets `softmax_cross_entropy(label_smoothing=α)` uses.
    Reference: optax.smooth_labels (same formula); Szegedy et al. (2016).
    """
    _checks.closed_unit("alpha", alpha)
    if num_classes is not None:
        _check_label_range(labels, num_classes, None)
        labels = jax.nn.one_hot(jnp.asarray(labels), num_classes)
    labels = _checks.floating("labels", labels)
    alpha = _checks.knob(alpha, labels.dtype)
    return (1 - alpha) * labels + alpha / labels.shape[-1]


def _binary_inputs(logits, labels, name="labels"):
    logits = _checks.floating("logits", logits)
    labels = jnp.asarray(labels)
    if labels.shape != logits.shape:
        raise ValueError(f"{name} must have the logits' shape {logits.shape}, got {labels.shape}")
    dtype = _checks.compute_dtype(logits.dtype)
    return logits.astype(dtype), labels.astype(dtype), logits.dtype


def _check_unit_labels(labels: jax.typing.ArrayLike) -> None:
    """ValueError naming the first concrete label outside [0, 1] (NaN included): outside, the
    binary losses' formulas give values below their minimum (negative cross-entropy). Traced
    labels are not checked (inside jit they give the formula's value)."""
    value = _checks.concrete(labels)
    if value is None:
        return
    bad = ~((value >= 0) & (value <= 1))
    if np.any(bad):
        raise ValueError(
            f"labels must be in [0, 1] (probabilities), got labels={float(value[bad].flat[0]):g}"
        )


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    pos_weight: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Elementwise binary cross-entropy -p_w·y log σ(z) - (1 - y) log(1 - σ(z)) on logits z.

    Computed as log1p(e) + ŷ·|z| with e = exp(-|z|) and ŷ the label weight of the likelier side
    (1 - y for z ≥ 0, y for z < 0): the same value as softplus(z) - y·z, but with no
    cancellation where the loss is small (a confident correct logit: z = 20, y = 1 gives
    2.06e-9, where softplus(20) - 20 rounds to 0 in float32). Finite for every finite z;
    gradient exactly σ(z) - y, including at z = 0 where a zero-initialised output layer starts
    (|z| is a select with slope ±1 on each side). Bounded gradient; for a confidently wrong
    logit the loss grows linearly in |z|. Labels y ∈ [0, 1] (hard or soft; concrete labels
    outside raise ValueError) have the logits' shape; `pos_weight` (torch's, broadcastable,
    e.g. per class) weighs the positive term: n_neg/n_pos balances classes.

    Reference: optax.losses.sigmoid_binary_cross_entropy, torch.nn.functional.
    binary_cross_entropy_with_logits (pos_weight), keras.losses.BinaryCrossentropy(
    from_logits=True) (same values).
    """
    z, y, out_dtype = _binary_inputs(logits, labels)
    _check_unit_labels(labels)
    if pos_weight is None:
        return _sigmoid_parts(z, y)[-1].astype(out_dtype)
    _checks.nonnegative("pos_weight", pos_weight)
    w = _checks.knob(pos_weight, z.dtype)
    loss = w * y * jax.nn.softplus(-z) + (1 - y) * jax.nn.softplus(z)
    return loss.astype(out_dtype)


def _sigmoid_parts(z: jax.Array, y: jax.Array) -> tuple[jax.Array, ...]:
    """(|z|, e = exp(-|z|), log1p(e), ŷ, cross-entropy log1p(e) + ŷ·|z|), ŷ = 1 - y for z ≥ 0
    and y for z < 0: log σ(|z|) = -log1p(e) and log σ(-|z|) = -|z| - log1p(e) from one exp.

    |z| is a select with slope ±1 on each side (jnp.abs has slope 0 at 0), so that each side is
    an analytic formula and the derivatives at z = 0 are exact."""
    positive = z >= 0
    a = jnp.where(positive, z, -z)
    e = jnp.exp(-a)
    log1p_e = jnp.log1p(e)
    near = jnp.where(positive, 1 - y, y)
    return a, e, log1p_e, near, log1p_e + near * a


def sigmoid_focal(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    alpha: jax.typing.ArrayLike | None = None,
    gamma: jax.typing.ArrayLike = 2.0,
) -> jax.Array:
    """Binary focal loss α_t·(1 - p_t)^γ·BCE(z, y), elementwise (Lin et al. 2017, eq. 5).

    p_t = σ(z) for y = 1 and 1 - σ(z) for y = 0 (soft labels interpolate); α_t = α·y +
    (1 - α)(1 - y), no weighting when `alpha` is None. (1 - p_t)^γ is exp(γ·log(1 - p_t)) with
    log(1 - p_t) from log-sigmoids, so value, gradient and Hessian stay finite for confident
    logits and any γ ≥ 0 (γ < 1 included). γ = 0, α = None is `sigmoid_binary_cross_entropy`.
    The cross-entropy and log(1 - p_t) share one exp(-|z|): four transcendental functions per
    element where optax's form (stacked log-sigmoids and a logsumexp) needs about nine
    (`scripts/bench_losses.py`: value+grad ~0.3x optax's).

    Reference: optax.losses.sigmoid_focal_loss (same values), torchvision.ops.sigmoid_focal_loss,
    keras.losses.BinaryFocalCrossentropy(from_logits=True, apply_class_balancing=alpha given).
    """
    _checks.nonnegative("gamma", gamma)
    z, y, out_dtype = _binary_inputs(logits, labels)
    _check_unit_labels(labels)
    gamma = _checks.knob(gamma, z.dtype)
    a, e, log1p_e, near, ce = _sigmoid_parts(z, y)
    # 1 - p_t = y·σ(-z) + (1 - y)·σ(z) = q/(1 + e), q = near + (1 - near)·e, logged without
    # cancellation. A hard label on the likelier side (near = 0) has log q = -|z| exactly: the
    # log of q = e would underflow for large |z|, and its second derivative (e²/q²) sooner.
    hard = near == 0
    log_q = jnp.where(hard, -a, jnp.log(jnp.where(hard, 1, near + (1 - near) * e)))
    log_1m_pt = log_q - log1p_e
    loss = ce * _power_of_log(log_1m_pt, gamma)
    if alpha is not None:
        _checks.closed_unit("alpha", alpha)
        alpha = _checks.knob(alpha, z.dtype)
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss.astype(out_dtype)


def _power_of_log(log_q: jax.Array, gamma: jax.Array) -> jax.Array:
    """q^γ = exp(γ log q), with 0^0 = 1 and finite gradients where q = 0."""
    zero = log_q == -jnp.inf
    power = jnp.exp(gamma * jnp.where(zero, 0, log_q))
    return jnp.where(zero, jnp.where(gamma == 0, 1, 0).astype(log_q.dtype), power)


def focal(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    gamma: jax.typing.ArrayLike = 2.0,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Softmax focal loss -(1 - p_y)^γ log p_y, p = softmax(logits); γ = 0 is cross-entropy.

    The factor (1 - p_y)^γ down-weights well-classified examples: near p_y = 1 the loss is
    ≈ (1 - p_y)^(γ+1), so its gradient vanishes faster than cross-entropy's. log p from the
    shifted log-softmax; log(1 - p_j) is log Σ_{k≠j} p_k for the most probable class (exact as
    p -> 1, so value, gradient and Hessian are finite for confident logits and any γ ≥ 0) and
    log1p(-p_j) for the others (p_j ≤ ½). With probability labels t the loss is
    -Σ_j t_j (1 - p_j)^γ log p_j; -inf logits follow cross-entropy's convention (0 without target
    mass, +inf with). `weight`, `where`, `ignore_index`, `axis`: see the module docstring.

    Reference: Lin et al., "Focal Loss for Dense Object Detection" (2017), multiclass form (the
    binary form is `sigmoid_focal`); no α here (use `weight`).
    """
    _checks.nonnegative("gamma", gamma)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    z = batch.logits
    weight = _class_weight(weight, batch)
    gamma = _checks.knob(gamma, z.dtype)[..., None]
    log_p, row_ok = _log_softmax(z)
    classes = jnp.arange(batch.num_classes)
    is_top = classes == jnp.argmax(z, axis=-1)[..., None]
    # log(1 - p_top) = log Σ_{k≠top} p_k, as a logsumexp of log p shifted by its largest term:
    # the sum is then ≥ 1, so the log's derivatives (1/Σ, 1/Σ²) stay finite where Σ p_k is tiny
    # (its square underflowed to 0 at a logit gap of 50 in float32: a NaN Hessian for γ < 1).
    rest = jnp.where(is_top, -jnp.inf, log_p)
    peak = jax.lax.stop_gradient(jnp.max(rest, axis=-1, keepdims=True))
    shifted_sum = jnp.sum(jnp.exp(rest - jnp.where(jnp.isfinite(peak), peak, 0)), -1, keepdims=True)
    has_rest = shifted_sum > 0
    log_others = jnp.where(
        has_rest, peak + jnp.log(jnp.where(has_rest, shifted_sum, 1)), -jnp.inf
    )
    log_1m_p = jnp.where(is_top, log_others, jnp.log1p(-jnp.where(is_top, 0, jnp.exp(log_p))))
    modulated = _power_of_log(log_1m_p, gamma)
    if batch.is_index:
        terms = -batch.take(modulated) * batch.take(log_p)
        loss = terms if weight is None else terms * weight[batch.labels]
    else:
        targets = batch.labels if weight is None else batch.labels * weight
        loss = _xlogy_sum(targets * modulated, log_p)
    return batch.finish(jnp.where(row_ok, loss, 0))


def _true_score(batch: _Batch) -> jax.Array:
    """s_y: the gathered score, or Σ_j t_j s_j with 0·(-inf) = 0 for probability labels."""
    s = batch.logits
    if batch.is_index:
        return batch.take(s)[..., None]
    t = batch.labels
    return jnp.sum(t * _zero_mass_safe(t, s), axis=-1, keepdims=True)


def multi_margin(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    margin: jax.typing.ArrayLike = 1.0,
    p: int = 1,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Weston-Watkins multiclass hinge w_y·Σ_{j≠y} max(0, m - s_y + s_j)^p / C, p ∈ {1, 2}.

    Every wrong class within the margin of the true one is penalised (a sum over j, divided by
    the number of classes C); `multiclass_hinge` is Crammer-Singer's, which penalises only the
    worst wrong class. Gradient: piecewise constant (p = 1) or linear (p = 2) in the score gaps,
    exactly 0 once every gap exceeds m (the loss saturates at 0: no push towards larger
    margins); not differentiable where a gap equals m (p = 1). With probability labels t, s_y is
    Σ_j t_j s_j and class j is weighted by 1 - t_j (the formula above for one-hot t). A wrong
    class scored -inf is never within the margin (contributes 0); a true class scored -inf gives
    +inf. `weight` (torch's, per class, applied as w_y), `where`, `ignore_index`, `axis`: see the
    module docstring.

    Reference: Weston & Watkins (1999); same values as torch.nn.functional.multi_margin_loss.
    """
    _checks.one_of("p", p, (1, 2))
    _checks.nonnegative("margin", margin)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    s = batch.logits
    weight = _class_weight(weight, batch)
    margin = _checks.knob(margin, s.dtype)[..., None]
    scored = s != -jnp.inf  # NaN is scored: it stays NaN
    gap = margin - _true_score(batch) + jnp.where(scored, s, 0)
    hinge = jnp.where(scored, jax.nn.relu(gap), 0)
    if p == 2:
        hinge = hinge * hinge
    targets = batch.dense()
    # Divided by C before the sum: the sum of C terms near the dtype's max overflows where
    # their mean does not (issue 36, item 19: logits of ±3e37 in float32).
    loss = jnp.sum((1 - targets) * (hinge / batch.num_classes), axis=-1)
    if weight is not None:
        loss = loss * (weight[batch.labels] if batch.is_index else targets @ weight)
    return batch.finish(loss)


def multiclass_hinge(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    margin: jax.typing.ArrayLike = 1.0,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Crammer-Singer multiclass hinge max(0, m + max_{j≠y} s_j - s_y), per example.

    Penalises only the worst wrong class, and only while it is within the margin m of the true
    class; not divided by C (compare `multi_margin`, Weston-Watkins). Gradient: +1 on the worst
    wrong class and -1 on the true class while the margin is violated, else 0 (saturates; not
    differentiable at ties: where wrong classes tie for the worst, the first of them gets the +1,
    a subgradient, where optax's max splits it; at a gap of exactly 0 the gradient is 0). With
    probability labels t, s_y is Σ_j t_j s_j and the max runs over classes with t_j = 0. -inf
    scores: a wrong class scored -inf is never the worst unless every wrong class is (then the
    loss is 0); a true class scored -inf gives +inf. A NaN score gives NaN.

    Reference: Crammer & Singer (2001); same values as optax.losses.multiclass_hinge_loss
    (margin 1; its multiclass_perceptron_loss is margin 0). keras.losses.CategoricalHinge
    takes its max over (1 - t)·s, where the true class counts as a score of 0: it is
    relu(1 + max(0, worst) - s_y), the same as this one where the worst wrong score is ≥ 0.
    """
    _checks.nonnegative("margin", margin)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    s = batch.logits
    margin = _checks.knob(margin, s.dtype)
    if batch.is_index:
        wrong = jnp.arange(batch.num_classes) != batch.labels[..., None]
        true_score = batch.take(s)
    else:
        wrong, true_score = batch.labels == 0, _true_score(batch)[..., 0]
    # The worst wrong score gathered at its argmax: autodiff of jnp.max splits the gradient
    # among ties (compare, count, divide: passes over the scores); the gather's derivative puts
    # it on the first maximiser, a subgradient (value+grad 0.60x optax's, one core).
    masked = jnp.where(wrong, s, -jnp.inf)
    first = jax.lax.stop_gradient(jnp.argmax(masked, axis=-1))
    worst = jnp.take_along_axis(masked, first[..., None], axis=-1)[..., 0]
    gap = margin + worst - true_score
    return batch.finish(jnp.where(worst == -jnp.inf, 0, jax.nn.relu(gap)))  # NaN stays NaN


def one_hot_squared_error(
    outputs: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    k: jax.typing.ArrayLike = 1.0,
    m: jax.typing.ArrayLike = 1.0,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Square loss for classification (1/C)[k(f_y - M)² + Σ_{j≠y} f_j²] on raw outputs f.

    Regression of the outputs (no softmax) onto M·one_hot(y), the true class weighted by k;
    k = M = 1 is the plain mean squared error to the one-hot vector. Gradient
    (2/C)·w_j(f_j - M t_j), linear and unbounded (no saturation, unlike cross-entropy's). With
    probability labels t the weight is w_j = 1 + (k - 1)t_j and the target M·t_j.

    Reference: Hui & Belkin, "Evaluation of Neural Architectures Trained with Square Loss vs
    Cross-Entropy in Classification Tasks", ICLR 2021 (k and M rescalings for many classes).
    """
    _checks.positive("k", k)
    _checks.positive("m", m)
    batch, _ = _prepare(outputs, labels, axis, where, ignore_index)
    f = batch.logits
    targets = batch.dense()
    k = _checks.knob(k, f.dtype)[..., None]
    m = _checks.knob(m, f.dtype)[..., None]
    weights = 1 + (k - 1) * targets
    # The mean as a sum of terms divided by C first (a sum near the max would overflow).
    terms = weights * jnp.square(f - m * targets) / batch.num_classes
    return batch.finish(jnp.sum(terms, axis=-1))


def squentropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Squentropy: softmax cross-entropy plus the mean square of the wrong-class logits,
    -log softmax(z)_y + (1/(C-1)) Σ_{j≠y} z_j², on raw logits z (C ≥ 2 classes).

    The square term pulls every wrong-class logit towards 0 (as the square loss does), so the
    logits cannot grow without bound the way cross-entropy alone lets them; the true class is
    left to cross-entropy. With probability labels t the terms are -Σ_j t_j log p_j and
    (1/(C-1)) Σ_j (1 - t_j) z_j² (the one-hot case above). Gradient softmax(z) - t from the
    cross-entropy plus (2/(C-1))(1 - t_j) z_j: bounded in the true class, linear and unbounded
    in a wrong one (no saturation). Value ~ z² for large logits: finite while z_j² is.

    Reference: Hui, Belkin & Wright, "Cut your losses with squentropy", ICML 2023, eq. (1):
    the authors' code divides the sum of squares over the wrong classes by C - 1 and adds
    torch's cross-entropy (same values).
    """
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    if batch.num_classes < 2:
        raise ValueError(f"squentropy needs at least 2 classes (the wrong-class mean divides "
                         f"by C - 1), got C={batch.num_classes}")
    z = batch.logits
    log_p, row_ok = _log_softmax(z)
    targets = batch.dense()
    cross_entropy = jnp.where(row_ok, _xlogy_sum(targets, log_p), 0)
    # Divided by C - 1 term by term (a sum near the max would overflow first); a class with
    # all the target mass adds exactly 0 (0·inf would make a -inf true logit NaN, not +inf).
    squares = jnp.square(z) / (batch.num_classes - 1)
    wrong_squares = jnp.sum(jnp.where(targets == 1, 0, (1 - targets) * squares), axis=-1)
    return batch.finish(cross_entropy + wrong_squares)


def _signed_labels(logits, labels):
    z, y, out_dtype = _binary_inputs(logits, labels)
    value = _checks.concrete(labels)
    if value is not None and not np.all(np.isin(value, (-1, 1))):
        bad = value[~np.isin(value, (-1, 1))].flat[0]
        raise ValueError(f"labels must be -1 or +1, got labels={float(bad):g}")
    return z, y, out_dtype


def hinge(
    scores: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    margin: jax.typing.ArrayLike = 1.0,
) -> jax.Array:
    """Binary hinge max(0, m - y·s), elementwise, labels y ∈ {-1, +1}.

    Gradient -y while y·s < m, else 0 (exactly 0 once the margin is met: no push beyond it; not
    differentiable at y·s = m, where the gradient is 0, the subgradient torch's relu gives;
    optax's `jnp.maximum` form gives -y/2 there). Written as a select on m - y·s ≤ 0, which
    XLA:CPU compiles to less work than jnp.maximum's tie-splitting derivative (value+grad
    0.86x optax's, one core); a NaN score stays NaN. Labels in {0, 1} must be mapped by
    2y - 1 first (Keras does that itself).

    Reference: optax.losses.hinge_loss (m = 1, same values), keras.losses.Hinge (mean over the
    last axis of these values), torch.nn.functional.soft_margin_loss is the smooth counterpart.
    """
    _checks.nonnegative("margin", margin)
    s, y, out_dtype = _signed_labels(scores, labels)
    slack = _checks.knob(margin, s.dtype) - y * s
    return jnp.where(slack <= 0, 0, slack).astype(out_dtype)


def perceptron(scores: jax.typing.ArrayLike, labels: jax.typing.ArrayLike) -> jax.Array:
    """Perceptron loss max(0, -y·s), elementwise, labels y ∈ {-1, +1}: `hinge` with margin 0.

    Gradient -y on a misclassified example, 0 on a correct one (any positive margin suffices, so
    the loss does not choose among separating solutions).

    Reference: optax.losses.perceptron_loss (same values); Rosenblatt (1958).
    """
    return hinge(scores, labels, margin=0.0)


def nll_loss(
    log_probs: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    weight: jax.typing.ArrayLike | None = None,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Negative log-likelihood -w_y·log p_y from log-probabilities, per example (no softmax).

    The input is taken as given (torch's NLLLoss convention: the output of a log_softmax, or
    any log-probabilities); on logits it is -z_y, unbounded below. Gradient -w_y on the true
    class, 0 elsewhere: constant, never saturating. With probability labels t it is
    -Σ_j w_j t_j log p_j (0·log 0 = 0: a class with no target mass contributes 0 even where
    log p = -inf; target mass there gives +inf); a NaN anywhere in the row gives NaN (torch
    gives the finite -w_y·log p_y there). `weight`, `where`, `ignore_index`, `axis`: see the
    module docstring; torch's mean divides by Σ w_y over the kept examples:
    `reduce(values, weights=weight[labels], where=labels != ignore_index)` of the unweighted
    values.

    Reference: torch.nn.functional.nll_loss (same values, reduction="none"); the composition
    nll_loss(log_softmax(z)) is `softmax_cross_entropy(z)` (the alias "nll" names that one).
    """
    batch, _ = _prepare(log_probs, labels, axis, where, ignore_index)
    weight = _class_weight(weight, batch)
    if batch.is_index:
        loss = -batch.take(batch.logits)
        if weight is not None:
            loss = loss * weight[batch.labels]
    else:
        targets = batch.labels if weight is None else batch.labels * weight
        loss = _xlogy_sum(targets, batch.logits)
    # a NaN anywhere in the row is a NaN value (divergence must show), not only at the label
    return batch.finish(jnp.where(jnp.any(jnp.isnan(batch.logits), axis=-1), jnp.nan, loss))


def poly_loss_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike = 2.0,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Poly-1 loss: cross-entropy + ε·(1 - p_t), p_t = Σ_j t_j softmax(z)_j (Leng et al. 2022).

    The first term of cross-entropy's expansion -log p_t = Σ_k (1 - p_t)^k / k re-weighted:
    ε > 0 adds a bounded push on confident examples (gradient of the extra term -ε ∂p_t,
    vanishing as p_t -> 0 or 1), ε = -1 removes the first polynomial term, ε = 0 is
    `softmax_cross_entropy`. Gradient softmax(z) - t - ε·p_t·(t - softmax(z)) for one-hot t:
    bounded. For integer labels 1 - p_t is -expm1(-CE), exact where p_t -> 1. `where` with the
    logits' ndim is a class mask (optax's `where`: classes left out of the softmax and the
    sum), with the output's shape it masks examples; `ignore_index`, `axis`: see the module
    docstring.

    Reference: Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
    Functions" (ICLR 2022), eq. 3; same values as optax.losses.poly_loss_cross_entropy.
    """
    batch, class_mask = _prepare(logits, labels, axis, where, ignore_index, class_mask_ok=True)
    eps = _checks.knob(epsilon, batch.logits.dtype)
    log_p, row_ok = _log_softmax(batch.logits, class_mask)
    targets = batch.dense()
    if class_mask is not None:
        targets = jnp.where(class_mask, targets, 0)
    ce = _xlogy_sum(targets, log_p)
    if batch.is_index and class_mask is None:
        one_minus_pt = -jnp.expm1(-ce)  # p_t = exp(-CE) for one-hot targets
    else:
        one_minus_pt = 1 - jnp.sum(targets * jnp.exp(log_p), axis=-1)
    return batch.finish(jnp.where(row_ok, ce + eps * one_minus_pt, 0))


def generalized_kl_divergence(
    log_predictions: jax.typing.ArrayLike,
    targets: jax.typing.ArrayLike,
    *,
    axis: _Axis = -1,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Generalized KL Σ_j [t_j (log t_j - log p_j) - t_j + p_j] for unnormalised p, t ≥ 0.

    The Bregman divergence of x log x - x: non-negative for any non-negative vectors, 0 exactly
    at p = t; equal to `kl_divergence` when p and t both sum to 1. Gradient with respect to
    log p: p - t (bounded below, growing like p: the true value is representable only for
    log p ≤ log(max)). `log_predictions` are log p (the exp is taken here), `targets` are t;
    `axis` and `where` as `kl_divergence` (a mask of the inputs' ndim leaves entries out of
    both sums, one of the output's shape masks examples).

    Reference: optax.losses.generalized_kl_divergence (same values); Boyd & Vandenberghe,
    Convex Optimization, p. 90; torch's PoissonNLLLoss(log_input=True) is its sum up to the
    t log t - t terms, constant in p.
    """
    kl = kl_divergence(log_predictions, targets, axis=axis, where=where)
    log_p = _checks.floating("log_predictions", log_predictions)
    out_dtype, dtype = log_p.dtype, _checks.compute_dtype(log_p.dtype)
    axes = _class_axes(axis, log_p.ndim)
    log_p, t = log_p.astype(dtype), jnp.asarray(targets).astype(dtype)
    if where is not None:  # left-out entries are 0 before the exp (double where)
        where = jnp.asarray(where, bool)
        if where.ndim != log_p.ndim:  # per example: broadcast over the class axes
            where = jnp.expand_dims(where, axes)
        where = jnp.broadcast_to(where, log_p.shape)
        log_p, t = jnp.where(where, log_p, -jnp.inf), jnp.where(where, t, 0)
    mass = jnp.sum(_class_last(jnp.exp(log_p) - t, axes), axis=-1)
    return (kl.astype(dtype) + mass).astype(out_dtype)


def _check_t2(t2: jax.typing.ArrayLike) -> None:
    value = _checks.concrete(t2)
    if value is not None and not np.all(value >= 1):
        raise ValueError(f"t2 must be >= 1, got t2={t2!r}")


def _tempered_log_softmax(z: jax.Array, t2: jax.Array, num_iters: int) -> jax.Array:
    """log p, p = exp_t2(z - λ) with Σ p = 1 (t2 ≥ 1; t2 = 1 is log_softmax), class axis last.

    exp_t(u) = (1 + (1 - t)u)^(1/(1 - t)): a heavy-tailed exp. λ is found by Amid et al.'s
    fixed point on z - max z, `num_iters` steps (a static count: the same program for every
    t2), under stop_gradient; its derivative enters through λ + Σ_j w_j (z_j - sg(z_j)) with
    the escort weights w = p^t2 / Σ p^t2, which is ∂λ/∂z at the fixed point (implicit
    function theorem), so the gradient is the exact normalisation's, not the truncated
    iteration's. log p = log1p((1 - t2)u)/(1 - t2): no underflow of p in heavy tails."""
    unit = t2 == 1
    one_minus = jnp.where(unit, -1, 1 - t2)  # a safe divisor where t2 = 1 (double where)

    def log_exp_t(u):
        return jnp.where(unit, u, jnp.log1p(jnp.where(unit, 0, one_minus * u)) / one_minus)

    top = jax.lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
    s0 = jax.lax.stop_gradient(z - top)
    s = s0
    for _ in range(num_iters):
        partition = jnp.sum(jnp.exp(log_exp_t(s)), axis=-1, keepdims=True)
        s = s0 * jnp.exp(jnp.log(partition) * (1 - t2))
    log_partition = jnp.log(jnp.sum(jnp.exp(log_exp_t(s)), axis=-1, keepdims=True))
    # λ = -log_t(1/Z) = (Z^(t2-1) - 1)/(t2 - 1), log Z at t2 = 1
    lam = jnp.where(unit, log_partition, jnp.expm1(log_partition * (t2 - 1)) / -one_minus)
    lam = jax.lax.stop_gradient(lam)
    escort = jax.lax.stop_gradient(jax.nn.softmax(t2 * log_exp_t(s0 - lam), axis=-1))
    shifted = z - top
    lam = lam + jnp.sum(escort * (shifted - jax.lax.stop_gradient(shifted)), -1, keepdims=True)
    return log_exp_t(shifted - lam)


def bi_tempered_logistic(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    t1: jax.typing.ArrayLike = 0.8,
    t2: jax.typing.ArrayLike = 1.2,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    num_iters: int = 5,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Bi-tempered logistic loss, per example (Amid et al. 2019):

        Σ_j [y_j (log_t1 y_j - log_t1 p_j) - (y_j^(2-t1) - p_j^(2-t1))/(2-t1)].

    p = tempered_softmax_t2(z) (heavy-tailed for t2 > 1, so a mislabelled example far from its
    label does not pull hard), log_t(x) = (x^(1-t) - 1)/(1 - t) (bounded below for t1 < 1: the
    loss of any example is at most 1/(1 - t1) + 1/(2 - t1), robust to label noise). t1 = t2 = 1
    is KL(y ‖ softmax z), i.e. `softmax_cross_entropy` on one-hot labels. The normalisation of
    p is a fixed point run for `num_iters` steps (a static count, the reference's 5: no Python
    control flow on traced values; t1, t2 and the smoothing are traceable knobs); its
    gradient is the exact normalisation's formula at that p (see `_tempered_log_softmax`),
    the reference's custom gradient (within 1e-7 of it at 5 steps). t1 ∈ [0, 1],
    t2 ≥ 1 (the reference's binary search for t2 < 1 is not offered). Label smoothing is the
    reference's: y -> (1 - C/(C-1)·ε)·y + ε/(C-1) (not torch's (1 - ε)y + ε/C). `where`,
    `ignore_index`, `axis`: see the module docstring. The knob defaults (0.8, 1.2) are
    illustrative; the reference has none.

    Reference: Amid, Warmuth, Anil & Koren, "Robust Bi-Tempered Logistic Loss Based on
    Bregman Divergences" (NeurIPS 2019); the formula of google/bi-tempered-loss (jax/loss.py)
    that init2winit's bi_tempered_cross_entropy calls (same values; init2winit's mean is
    `losses.reduce(values, weights=w)`, its sigmoid variant the two-class loss on [0, z]).
    tensorflow/loss.py differs at t1 = t2 = 1 only: the cross-entropy -Σ y log p there, this
    KL (equal for one-hot labels; soft labels differ by their entropy).
    """
    _checks.closed_unit("t1", t1)
    _check_t2(t2)
    _checks.closed_unit("label_smoothing", label_smoothing)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    z = batch.logits
    t1, t2, eps = (_checks.knob(k, z.dtype)[..., None] for k in (t1, t2, label_smoothing))
    others = max(batch.num_classes - 1, 1)
    y = (1 - batch.num_classes / others * eps) * batch.dense() + eps / others
    log_p = _tempered_log_softmax(z, t2, num_iters)
    unit = t1 == 1
    one_minus = jnp.where(unit, 1, 1 - t1)

    def log_t1(log_x):  # log_t1(x) from log x; x = 0 gives -1/(1 - t1) (-inf at t1 = 1)
        return jnp.where(unit, log_x, jnp.expm1(jnp.where(unit, 0, one_minus * log_x)) / one_minus)

    nonzero = y != 0
    log_y = jnp.log(jnp.where(nonzero, y, 1))
    cross = jnp.where(nonzero, y * (log_t1(log_y) - log_t1(jnp.where(nonzero, log_p, 0))), 0)
    power = (jnp.exp((2 - t1) * log_y) * nonzero - jnp.exp((2 - t1) * log_p)) / (2 - t1)
    return batch.finish(jnp.sum(cross - power, axis=-1))


def dice(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    smooth: jax.typing.ArrayLike = 1.0,
    alpha: jax.typing.ArrayLike = 0.5,
    beta: jax.typing.ArrayLike = 0.5,
    class_weight: jax.typing.ArrayLike | None = None,
    from_logits: bool = True,
    spatial_axes: tuple[int, ...] | None = None,
) -> jax.Array:
    """Soft Dice (Tversky) loss, mean over classes of 1 - (I + s)/(I + α·FP + β·FN + s).

    Per class c, over the spatial axes: I = Σ p·t, FP = Σ p - I, FN = Σ t - I, with p the
    softmax of the logits over the class axis (last; a sigmoid for a single class; the inputs
    themselves with from_logits=False) and t the one-hot (integer labels, the logits' shape
    less the class axis) or given targets. α = β = ½ is Dice, 1 - (2I + 2s)/(Σp + Σt + 2s);
    other α, β is the Tversky index. `spatial_axes` default: every axis but the first (batch)
    and the last (class), optax's default; the output has the remaining shape. `class_weight`
    multiplies each class's term before the mean. Values in [0, 1]; a class with
    I + α·FP + β·FN + s = 0 (nothing predicted, nothing there, s = 0) counts as 0. Gradient
    bounded (a ratio of sums, each p ∈ [0, 1]); it vanishes for classes whose p saturates.

    Reference: Milletari et al., "V-Net" (2016); same values as optax.losses.dice_loss
    (reduction="mean", class_weights, alpha, beta, smooth); keras.losses.Dice (probabilities,
    every axis one set, s = 0 with 1e-7 in the denominator) is from_logits=False, smooth=0 on
    one class.
    """
    _checks.nonnegative("smooth", smooth)
    _checks.nonnegative("alpha", alpha)
    _checks.nonnegative("beta", beta)
    z = _checks.floating("logits", logits)
    if z.ndim == 0:
        raise ValueError("logits must have a class axis, got a scalar")
    out_dtype, dtype = z.dtype, _checks.compute_dtype(z.dtype)
    z = z.astype(dtype)
    labels = jnp.asarray(labels)
    num_classes = z.shape[-1]
    if labels.shape == z.shape[:-1] and jnp.issubdtype(labels.dtype, jnp.integer):
        _check_label_range(labels, num_classes, None)
        labels = jax.nn.one_hot(labels, num_classes, dtype=dtype)  # out of range: all 0
    elif labels.shape != z.shape:
        raise ValueError(
            f"labels must have shape {z.shape[:-1]} (integer classes) or {z.shape} (targets), "
            f"got {labels.shape}"
        )
    t = labels.astype(dtype)
    if not from_logits:
        p = z
    elif num_classes == 1:
        p = jax.nn.sigmoid(z)
    else:
        p = jax.nn.softmax(z, axis=-1)
    axes = tuple(range(1, z.ndim - 1)) if spatial_axes is None else spatial_axes
    intersection = jnp.sum(p * t, axis=axes)
    smooth, alpha, beta = (_checks.knob(k, dtype) for k in (smooth, alpha, beta))
    denominator = (intersection + alpha * (jnp.sum(p, axis=axes) - intersection)
                   + beta * (jnp.sum(t, axis=axes) - intersection) + smooth)
    empty = denominator == 0
    loss = 1 - jnp.where(empty, 1, (intersection + smooth) / jnp.where(empty, 1, denominator))
    if class_weight is not None:
        _checks.nonnegative("class_weight", class_weight)
        loss = loss * jnp.asarray(class_weight, dtype)
    return jnp.mean(loss, axis=-1).astype(out_dtype)
