"""Classification losses: one value per example, class axis last.

`labels` are either integer class indices, with shape `logits.shape[:-1]`, or probability
vectors (one-hot or soft), with the logits' shape; any other shape raises ValueError. Integer
labels never change the output dtype, which is the logits' dtype (half precision is computed
in float32 and cast back).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from losses import _checks


def _inputs(logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike):
    """(logits in the compute dtype, labels, whether labels are class indices, output dtype).

    Integer labels stay indices (a gather of one logit per example is cheaper than a one-hot
    product over all classes); probability labels are cast to the compute dtype.
    """
    logits = _checks.floating("logits", logits)
    labels = jnp.asarray(labels)
    if logits.ndim == 0:
        raise ValueError("logits must have a class axis (last), got a scalar")
    dtype = _checks.compute_dtype(logits.dtype)
    if labels.shape == logits.shape[:-1]:
        if not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(
                f"labels of shape {labels.shape} (logits.shape[:-1]) are class indices and must "
                f"have an integer dtype, got {labels.dtype}"
            )
        is_index = True
    elif labels.shape == logits.shape:
        labels, is_index = labels.astype(dtype), False
    else:
        raise ValueError(
            f"labels must have shape {logits.shape[:-1]} (integer classes) or {logits.shape} "
            f"(probabilities) for logits of shape {logits.shape}, got {labels.shape}"
        )
    return logits.astype(dtype), labels, is_index, logits.dtype


def _dense(labels: jax.Array, is_index: bool, logits: jax.Array) -> jax.Array:
    """Probability-vector targets: one-hot rows for class indices."""
    if is_index:
        return jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return labels


def _take(values: jax.Array, labels: jax.Array) -> jax.Array:
    """values[..., labels]: the entry of each example's true class."""
    return jnp.take_along_axis(values, labels[..., None], axis=-1)[..., 0]


def _log_softmax(logits: jax.Array, valid: jax.Array) -> jax.Array:
    """log softmax over the valid classes; finite everywhere (masked entries are not -inf)."""
    masked = jnp.where(valid, logits, -jnp.inf)
    shift = jax.lax.stop_gradient(jnp.max(masked, axis=-1, keepdims=True))
    shift = jnp.where(jnp.isfinite(shift), shift, 0)  # a row with no valid class
    # Double where: masked logits may be -inf, whose (unused) differences must not reach the grad.
    shifted = jnp.where(valid, logits - shift, 0)
    total = jnp.sum(jnp.where(valid, jnp.exp(shifted), 0), axis=-1, keepdims=True)
    return shifted - jnp.log(jnp.where(total > 0, total, 1))


def softmax_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    where: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    """Softmax cross-entropy -Σ_j t_j log softmax(z)_j, with optional label smoothing and mask.

    Targets t are the one-hot (integer labels) or given probability vectors, smoothed as in
    PyTorch: t = (1 - ε)·t + ε/C, where C counts the valid classes of the example. A class is
    valid where `where` (a boolean mask broadcastable to the logits) is True and its logit is
    not -inf; invalid classes get no target mass, are left out of the softmax, and contribute
    neither value nor gradient, so -inf logits give no NaN or inf, with or without smoothing.
    A row with no valid class has loss 0. Gradient softmax(z) - t: bounded, never saturating
    for a wrong prediction; the loss grows linearly in the logit gap.

    Reference: same values as optax.losses.softmax_cross_entropy (probabilities) and
    softmax_cross_entropy_with_integer_labels (integers); label smoothing as
    torch.nn.functional.cross_entropy(label_smoothing=ε) (Szegedy et al., 2016).
    """
    _checks.closed_unit("label_smoothing", label_smoothing)
    logits, labels, is_index, out_dtype = _inputs(logits, labels)
    smoothing = _checks.concrete(label_smoothing)
    smooth = smoothing is None or bool(smoothing.any())
    if where is None:
        # No mask: logsumexp ignores -inf logits by itself, and only products with the targets
        # need a guard (0·-inf). The integer-label path is optax's: lse - z_y.
        lse = jax.nn.logsumexp(logits, axis=-1)
        if is_index:
            loss = lse - _take(logits, labels)
        else:
            finite = logits > -jnp.inf
            label_logits = jnp.sum(jnp.where(finite, labels * logits, 0), axis=-1)
            loss = jnp.sum(labels, axis=-1) * lse - label_logits
        if smooth:
            # Σ_j t'_j(lse - z_j) with t' = (1 - ε)t + ε/C over the C classes with finite logits.
            finite = logits > -jnp.inf
            num_valid = jnp.maximum(jnp.sum(finite, axis=-1), 1).astype(logits.dtype)
            mean_logit = jnp.sum(jnp.where(finite, logits, 0), axis=-1) / num_valid
            eps = _checks.knob(label_smoothing, logits.dtype)
            loss = (1 - eps) * loss + eps * (lse - mean_logit)
        return loss.astype(out_dtype)
    valid = (logits > -jnp.inf) & jnp.broadcast_to(jnp.asarray(where, bool), logits.shape)
    targets = _dense(labels, is_index, logits)
    log_probs = _log_softmax(logits, valid)
    if smooth:
        eps = _checks.knob(label_smoothing, logits.dtype)[..., None]
        num_valid = jnp.sum(valid, axis=-1, keepdims=True).astype(logits.dtype)
        targets = (1 - eps) * targets + eps * (valid / jnp.maximum(num_valid, 1))
    loss = -jnp.sum(jnp.where(valid, targets * log_probs, 0), axis=-1)
    return loss.astype(out_dtype)


def sigmoid_binary_cross_entropy(
    logits: jax.typing.ArrayLike, labels: jax.typing.ArrayLike
) -> jax.Array:
    """Elementwise binary cross-entropy -y log σ(z) - (1 - y) log(1 - σ(z)) on logits z.

    Computed as max(z, 0) - z·y + log1p(e^{-|z|}), finite for any finite z. Gradient σ(z) - y,
    bounded; for a confidently wrong logit the loss grows linearly in |z|. Labels y ∈ [0, 1]
    (hard or soft) have the logits' shape.

    Reference: same values as optax.losses.sigmoid_binary_cross_entropy and
    torch.nn.functional.binary_cross_entropy_with_logits.
    """
    logits = _checks.floating("logits", logits)
    labels = jnp.asarray(labels)
    if labels.shape != logits.shape:
        raise ValueError(f"labels must have the logits' shape {logits.shape}, got {labels.shape}")
    dtype = _checks.compute_dtype(logits.dtype)
    z, y = logits.astype(dtype), labels.astype(dtype)
    loss = jax.nn.relu(z) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z)))
    return loss.astype(logits.dtype)


def multi_margin(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    margin: jax.typing.ArrayLike = 1.0,
    p: int = 1,
) -> jax.Array:
    """Weston-Watkins multiclass hinge Σ_{j≠y} max(0, m - s_y + s_j)^p / C, p ∈ {1, 2}.

    Every wrong class within the margin of the true one is penalised (a sum over j, divided by
    the number of classes C). This differs from optax.losses.multiclass_hinge_loss, the
    Crammer-Singer hinge max(0, max_{j≠y}(1 + s_j - s_y)), which penalises only the worst wrong
    class and does not divide by C. Gradient: piecewise constant (p = 1) or linear (p = 2) in the
    score gaps, exactly 0 once every gap exceeds m (the loss saturates at 0: no push towards
    larger margins); not differentiable where a gap equals m (p = 1). With probability labels t,
    s_y is Σ_j t_j s_j and class j is weighted by 1 - t_j (the formula above for one-hot t).

    Reference: Weston & Watkins (1999); same values as torch.nn.functional.multi_margin_loss.
    """
    _checks.one_of("p", p, (1, 2))
    _checks.nonnegative("margin", margin)
    scores, labels, is_index, out_dtype = _inputs(logits, labels)
    targets = _dense(labels, is_index, scores)
    margin = _checks.knob(margin, scores.dtype)
    true_score = jnp.sum(targets * scores, axis=-1, keepdims=True)
    hinge = jax.nn.relu(margin - true_score + scores)
    if p == 2:
        hinge = hinge * hinge
    loss = jnp.sum((1 - targets) * hinge, axis=-1) / scores.shape[-1]
    return loss.astype(out_dtype)


def focal(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    gamma: jax.typing.ArrayLike = 2.0,
) -> jax.Array:
    """Softmax focal loss -(1 - p_y)^γ log p_y, p = softmax(logits); γ = 0 is cross-entropy.

    The factor (1 - p_y)^γ down-weights well-classified examples: near p_y = 1 the loss is
    ≈ (1 - p_y)^(γ+1), so its gradient vanishes faster than cross-entropy's. log p_y comes from
    log_softmax and 1 - p_y from -expm1(log p_y), which stay accurate as p_y -> 1; the power
    uses 1 - p_y clamped at the smallest normal float, so the gradient is finite even for
    γ < 1 (where d(1-p)^γ/dp is infinite at p = 1). With probability labels t the loss is
    -Σ_j t_j (1 - p_j)^γ log p_j.

    Reference: Lin et al., "Focal Loss for Dense Object Detection" (2017), multiclass form.
    """
    _checks.nonnegative("gamma", gamma)
    logits, labels, is_index, out_dtype = _inputs(logits, labels)
    gamma = _checks.knob(gamma, logits.dtype)
    lse = jax.nn.logsumexp(logits, axis=-1, keepdims=True)
    tiny = jnp.finfo(logits.dtype).tiny

    def focal_terms(log_p):
        # 1 - p = -expm1(log p) stays accurate as p -> 1; the clamp keeps (1 - p)^γ's gradient
        # finite for γ < 1.
        return -jnp.power(jnp.maximum(-jnp.expm1(log_p), tiny), gamma) * log_p

    if is_index:
        return focal_terms(_take(logits - lse, labels)).astype(out_dtype)
    loss = jnp.sum(labels * focal_terms(logits - lse), axis=-1)
    return loss.astype(out_dtype)


def one_hot_squared_error(
    outputs: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    k: jax.typing.ArrayLike = 1.0,
    m: jax.typing.ArrayLike = 1.0,
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
    outputs, labels, is_index, out_dtype = _inputs(outputs, labels)
    targets = _dense(labels, is_index, outputs)
    k = _checks.knob(k, outputs.dtype)[..., None]
    m = _checks.knob(m, outputs.dtype)[..., None]
    weights = 1 + (k - 1) * targets
    loss = jnp.mean(weights * jnp.square(outputs - m * targets), axis=-1)
    return loss.astype(out_dtype)
