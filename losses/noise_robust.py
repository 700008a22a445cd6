"""Classification losses robust to label noise: bounded functions of the softmax probabilities.

Cross-entropy -log p_y is unbounded: an example whose (wrong) label the model finds unlikely
gets a large loss and a gradient that does not fade, so flipped labels are fitted. The losses
here are bounded in p_y (Ghosh et al. 2017: a loss whose sum over the C labels is constant is
tolerant of symmetric noise below (C-1)/C; MAE is such a loss), or mix a bounded term into
cross-entropy. For integer labels y, with p = softmax(z) and p_y = exp(log p_y):

  * `mae_probabilities`:        Σ_j |p_j - onehot(y)_j| = 2(1 - p_y)  ∈ [0, 2]
  * `generalized_cross_entropy`: (1 - p_y^q)/q                         ∈ [0, 1/q]
    (q → 0: -log p_y, cross-entropy; q = 1: 1 - p_y, half of mae_probabilities)
  * `symmetric_cross_entropy`:  α·(-log p_y) + β·(-A)(1 - p_y)   (reverse CE -Σ_j p_j log t_j
    with log 0 clamped to A < 0)

Every loss takes logits with a class axis and labels as class indices or probability vectors,
with `where`, `ignore_index` and `axis` as the losses in `losses.classification` (see its
module docstring): the output has the logits' dtype and their shape less the class axis. Values
are computed from log p_y = s_y - log Σ exp(s) on shifted logits s = z - max z, and 1 - p_y as
-expm1(log p_y), so neither loses precision as p_y → 1 or under huge logits. A -inf logit is
probability 0: target mass there gives a finite value for the bounded losses (cross-entropy's
+inf for the α term of symmetric_cross_entropy). A row with no class of nonzero probability
gives 0 with a zero gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from losses import _checks
from losses.classification import _Axis, _Batch, _log_softmax, _prepare, _shifted_lse, _xlogy_sum


def _log_p_true(batch: _Batch) -> tuple[jax.Array, jax.Array]:
    """(log p_y per example, row_ok) for integer labels, from the shifted log-sum-exp."""
    _, lse, row_ok, shift = _shifted_lse(batch.logits)
    return batch.take(batch.logits) - shift[..., 0] - lse[..., 0], row_ok


def _check_finite(name: str, value: object, ok, rule: str) -> None:
    """ValueError naming the knob unless a concrete value is finite and passes `ok`."""
    v = _checks.number(name, value)
    if v is not None and not np.all(np.isfinite(v) & ok(v)):
        raise ValueError(f"{name} must be {rule}, got {name}={value!r}")


def _one_minus_exp(log_p: jax.Array) -> jax.Array:
    """1 - p from log p, exact near p = 1 (where 1 - exp would cancel)."""
    return -jnp.expm1(log_p)


def mae_probabilities(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Mean absolute error of the softmax probabilities to the target: Σ_j |p_j - t_j|.

    For a one-hot target (integer labels) this is 2(1 - p_y), computed as -2·expm1(log p_y).
    Bounded in [0, 2], and Σ_y over the C labels is 2(C - 1), a constant: Ghosh et al.'s
    symmetric condition, so the minimizer of the risk under symmetric label noise of rate
    η < (C-1)/C is the clean one. Gradient in the logits -2 p_y (onehot - p): it vanishes where
    p_y → 0 as well as where p_y → 1, so badly classified examples barely train (the
    underfitting Zhang & Sabuncu report with many classes). With probability targets the
    gradient of |p_j - t_j| at p_j = t_j is sign(0) = 0 (jnp.abs's).

    Reference: Ghosh, Kumar & Sastry, "Robust Loss Functions under Label Noise for Deep Neural
    Networks", AAAI 2017 (MAE on probabilities, the symmetric-loss theorem).
    """
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    if batch.is_index:
        log_p_y, row_ok = _log_p_true(batch)
        loss = 2 * _one_minus_exp(log_p_y)
    else:
        log_p, row_ok = _log_softmax(batch.logits)
        loss = jnp.sum(jnp.abs(jnp.exp(log_p) - batch.labels), axis=-1)
    return batch.finish(jnp.where(row_ok, loss, 0))


def generalized_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    q: jax.typing.ArrayLike = 0.7,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Generalized cross-entropy L_q = Σ_j t_j (1 - p_j^q)/q, i.e. (1 - p_y^q)/q for a label y.

    q ∈ [0, 1]: the Box-Cox transform of p_y. q = 0 is cross-entropy -log p_y exactly (the limit,
    computed as such; a traced q may be 0); q = 1 is 1 - p_y, half of `mae_probabilities`.
    Computed as -expm1(q·log p_y)/q: no cancellation for p_y near 1 or q near 0. Bounded by 1/q
    for q > 0. Gradient in the logits p_y^q·(p - onehot): cross-entropy's gradient weighted by
    p_y^q, so examples the model finds unlikely (often the mislabelled ones) weigh less; finite
    for every finite input (0 where p_y underflows to 0).

    Reference: Zhang & Sabuncu, "Generalized Cross Entropy Loss for Training Deep Neural
    Networks with Noisy Labels", NeurIPS 2018 (q = 0.7 in their experiments, the default here);
    keras.losses.CategoricalGeneralizedCrossEntropy(q) (probabilities in, q ∈ (0, 1), same
    values for softmax(logits)).
    """
    _checks.closed_unit("q", q)
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    q = _checks.knob(q, batch.logits.dtype)
    positive = q > 0
    safe_q = jnp.where(positive, q, 1)  # double where: q = 0 reaches no division

    def box_cox(log_p):
        qq, ok = (safe_q, positive) if batch.is_index else (safe_q[..., None], positive[..., None])
        return jnp.where(ok, -jnp.expm1(qq * log_p) / qq, -log_p)

    if batch.is_index:
        log_p_y, row_ok = _log_p_true(batch)
        loss = box_cox(log_p_y)
    else:
        log_p, row_ok = _log_softmax(batch.logits)
        # 0·(+inf) at a zero-mass class with a -inf logit (q = 0) is 0, as in cross-entropy.
        terms = box_cox(jnp.where(batch.labels > 0, log_p, 0))
        loss = jnp.sum(batch.labels * terms, axis=-1)
    return batch.finish(jnp.where(row_ok, loss, 0))


def symmetric_cross_entropy(
    logits: jax.typing.ArrayLike,
    labels: jax.typing.ArrayLike,
    *,
    alpha: jax.typing.ArrayLike = 1.0,
    beta: jax.typing.ArrayLike = 1.0,
    log_zero: jax.typing.ArrayLike = -4.0,
    where: jax.typing.ArrayLike | None = None,
    ignore_index: int | None = None,
    axis: _Axis = -1,
) -> jax.Array:
    """Symmetric cross-entropy α·CE + β·RCE, RCE = -Σ_j p_j·max(log t_j, A) with A = log_zero.

    CE = -Σ_j t_j log p_j (softmax cross-entropy); RCE, the reverse cross-entropy, swaps the
    roles of prediction and target, and log 0 = -inf is clamped to A (< 0; Wang et al. use
    A = -4). For a label y, RCE = -A(1 - p_y): a scaled MAE, bounded and noise-tolerant; the CE
    term keeps fitting the hard classes that MAE alone underfits. Gradient in the logits
    α(p - onehot) + β·A·p_y(onehot - p); finite wherever p_y > 0 (and the α term's +inf value at a
    -inf true-class logit, as cross-entropy's). Probability targets take max(log t_j, A) per
    class (log t_j itself where t_j > e^A).

    Reference: Wang, Ma, Chen, Luo, Yi & Bailey, "Symmetric Cross Entropy for Robust Learning
    with Noisy Labels", ICCV 2019 (α = 0.1, β = 1 on CIFAR-10; α = 6, β = 0.1 on CIFAR-100; the
    defaults here are α = β = 1).
    """
    for name, value in (("alpha", alpha), ("beta", beta)):
        _check_finite(name, value, lambda v: v >= 0, "finite and >= 0")
    _check_finite("log_zero", log_zero, lambda v: v < 0, "finite and < 0")
    batch, _ = _prepare(logits, labels, axis, where, ignore_index)
    dtype = batch.logits.dtype
    alpha, beta, a = (_checks.knob(v, dtype) for v in (alpha, beta, log_zero))
    if batch.is_index:
        log_p_y, row_ok = _log_p_true(batch)
        ce, rce = -log_p_y, -a * _one_minus_exp(log_p_y)
    else:
        log_p, row_ok = _log_softmax(batch.logits)
        t = batch.labels
        positive = t > 0
        log_t = jnp.where(positive, jnp.log(jnp.where(positive, t, 1)), a[..., None])
        ce = _xlogy_sum(t, log_p)
        rce = -jnp.sum(jnp.exp(log_p) * jnp.maximum(log_t, a[..., None]), axis=-1)
    return batch.finish(jnp.where(row_ok, alpha * ce + beta * rce, 0))
