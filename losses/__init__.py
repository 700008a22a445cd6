"""Pure-function JAX losses, reductions and penalties (depends on jax only).

Regression losses are elementwise in r = predictions - targets; the likelihood family adds a
predicted spread; multiclass losses give one value per example, binary ones one per element;
`reduce` turns values into a scalar; the registry binds a loss's knobs by name for configs.
"""

# One public name per line, as optax.losses does (hence no isort merging).
from losses.classification import focal  # noqa: I001
from losses.classification import hinge
from losses.classification import kl_divergence
from losses.classification import multi_margin
from losses.classification import multiclass_hinge
from losses.classification import one_hot_squared_error
from losses.classification import perceptron
from losses.classification import sigmoid_binary_cross_entropy
from losses.classification import sigmoid_focal
from losses.classification import smooth_labels
from losses.classification import softmax_cross_entropy
from losses.classification import squentropy
from losses.likelihood import gaussian_nll
from losses.likelihood import laplace_nll
from losses.likelihood import poisson_nll
from losses.likelihood import student_t_nll
from losses.penalties import decay_mask
from losses.penalties import decoupled_weight_decay
from losses.penalties import elastic_net
from losses.penalties import l1_penalty
from losses.penalties import l2_penalty
from losses.reduction import reduce
from losses.classification import bi_tempered_logistic
from losses.classification import dice
from losses.classification import generalized_kl_divergence
from losses.classification import nll_loss
from losses.classification import poly_loss_cross_entropy
from losses.fenchel_young import fenchel_young
from losses.fenchel_young import sparsemax
from losses.fenchel_young import sparsemax_loss
from losses.noise_robust import generalized_cross_entropy
from losses.noise_robust import mae_probabilities
from losses.noise_robust import symmetric_cross_entropy
from losses.registry import ALIASES
from losses.registry import canonical
from losses.registry import get
from losses.registry import knobs
from losses.registry import names
from losses.registry import register
from losses.registry import task
from losses.regression import absolute_error
from losses.regression import cosine_distance
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
from losses.regression import mean_absolute_percentage_error
from losses.regression import mean_squared_log_error
from losses.representation import ntxent
from losses.representation import triplet_margin

__all__ = [
    "ALIASES",
    "absolute_error",
    "bi_tempered_logistic",
    "canonical",
    "cauchy",
    "cosine_distance",
    "decay_mask",
    "decoupled_weight_decay",
    "dice",
    "elastic_net",
    "fenchel_young",
    "focal",
    "gaussian_nll",
    "geman_mcclure",
    "general_robust",
    "generalized_cross_entropy",
    "generalized_kl_divergence",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "knobs",
    "l1_penalty",
    "l2_penalty",
    "laplace_nll",
    "log_cosh",
    "mae_probabilities",
    "mean_absolute_percentage_error",
    "mean_squared_log_error",
    "multi_margin",
    "multiclass_hinge",
    "names",
    "nll_loss",
    "ntxent",
    "one_hot_squared_error",
    "perceptron",
    "poisson_nll",
    "poly_loss_cross_entropy",
    "pseudo_huber",
    "quantile",
    "reduce",
    "register",
    "robust_nll",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal",
    "smooth_l1",
    "smooth_labels",
    "softmax_cross_entropy",
    "sparsemax",
    "sparsemax_loss",
    "squared_error",
    "squentropy",
    "student_t_nll",
    "symmetric_cross_entropy",
    "task",
    "triplet_margin",
    "welsch",
]
