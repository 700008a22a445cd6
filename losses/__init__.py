"""Pure-function JAX losses, reductions and penalties (depends on jax only).

Regression losses are elementwise in r = predictions - targets; classification losses give one
value per example (class axis last); `reduce` turns values into a scalar; the registry binds a
loss's knobs by name for configs.
"""

# One public name per line, as optax.losses does (hence no isort merging).
from losses.classification import focal  # noqa: I001
from losses.classification import multi_margin
from losses.classification import one_hot_squared_error
from losses.classification import sigmoid_binary_cross_entropy
from losses.classification import softmax_cross_entropy
from losses.penalties import decay_mask
from losses.penalties import decoupled_weight_decay
from losses.penalties import elastic_net
from losses.penalties import l1_penalty
from losses.penalties import l2_penalty
from losses.reduction import reduce
from losses.registry import get
from losses.registry import knobs
from losses.registry import names
from losses.registry import task
from losses.regression import absolute_error
from losses.regression import huber
from losses.regression import log_cosh
from losses.regression import pseudo_huber
from losses.regression import quantile
from losses.regression import smooth_l1
from losses.regression import squared_error
from losses.robust import cauchy
from losses.robust import general_robust
from losses.robust import geman_mcclure
from losses.robust import robust_nll
from losses.robust import welsch

__all__ = [
    "absolute_error",
    "cauchy",
    "decay_mask",
    "decoupled_weight_decay",
    "elastic_net",
    "focal",
    "geman_mcclure",
    "general_robust",
    "get",
    "huber",
    "knobs",
    "l1_penalty",
    "l2_penalty",
    "log_cosh",
    "multi_margin",
    "names",
    "one_hot_squared_error",
    "pseudo_huber",
    "quantile",
    "reduce",
    "robust_nll",
    "sigmoid_binary_cross_entropy",
    "smooth_l1",
    "softmax_cross_entropy",
    "squared_error",
    "task",
    "welsch",
]
