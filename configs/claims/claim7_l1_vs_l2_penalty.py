r"""Claim 7: "L1 vs L2 penalty: sparsity vs shrinkage".

  python -m experiments.claims --workdir=runs/claims --only=claim7 [--quick]

Two teachers, both with unit signal variance: *sparse* (k nonzero coefficients / relevant inputs)
and *dense* (every input relevant, k = dim). The teacher (support and values) and the noise are
redrawn per dataset (linear) or seed (MLP), in-program; k is a traced number, so both teachers,
both penalties, every λ and every dataset run in ONE jit(vmap) program per model. The data loss
is mean(losses.squared_error) and the penalty λ·losses.l1_penalty or λ·losses.l2_penalty (½‖θ‖²).

* `linear`: y = x·w + ε (no intercept) on a fixed design (experiments.data.synthetic_regression,
  n_train + n_val rows, half carved for validation by experiments.data.split_validation). L1: the
  exact lasso solution by FISTA with restarts (proximal gradient, `fista_steps` iterations); L2:
  the closed form. Both checked against scikit-learn's Lasso and Ridge at the mapped λ.
* `mlp`: dim → width → 1 (tanh) on a random tanh-network teacher of the k relevant inputs,
  penalty on the kernels (losses.decay_mask). Arms: L1 and L2 by full-batch Adam with a cosine
  schedule, and L1 by proximal gradient descent (`prox_learning_rate`, `prox_steps`: a gradient
  step on the data loss, then soft-thresholding by lr·λ), whose zeros are exact: rule (C) reads
  its support (an input is dropped when its first-layer row is all zeros). Adam gives
  approximate zeros only; its arms' supports (row norm ≥ `support_threshold` × the largest) are
  reported, not counted.

Each arm's λ comes from its own grid of `lambdas` values (the same number of values for both
arms: the same tuning budget), chosen per dataset / seed by the validation MSE (noisy targets);
the test MSE is against the noise-free teacher.
About 60 s on 2 heavily loaded CPU cores (load average ~13; quick: 25 s); the proximal arm's
program costs about as much as the two Adam arms' (26 vs 30 s, loaded, default sizes).
"""

from ml_collections import config_dict

SIZES = ("default", "quick")


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim7 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.recall_floor = 0.9  # rule (C): the L1 fit's mean support recall must stay above this
    c.resamples = 1000 if quick else 2000
    c.sklearn_tolerance = 1e-3  # max |ŵ − ŵ_sklearn| allowed at matched λ
    c.sklearn_datasets = 4  # datasets per teacher refitted by scikit-learn in the run

    c.linear = config_dict.ConfigDict()
    c.linear.datasets = 100 if quick else 300  # per teacher
    c.linear.dim = 40
    c.linear.sparse_k = 4
    c.linear.n_train = 200  # before the validation carve
    c.linear.validation_fraction = 0.5
    c.linear.n_test = 1000
    c.linear.noise_scale = 1.0
    c.linear.data_seed = 0
    c.linear.lambdas = 12 if quick else 16  # grid size per arm (the tuning budget)
    c.linear.l1_range = (1e-3, 2.0)  # λ of losslab's objective (mean r² + λ‖w‖₁)
    c.linear.l2_range = (1e-3, 1e2)  # λ of mean r² + λ·½‖w‖²
    c.linear.fista_steps = 200 if quick else 400

    c.mlp = config_dict.ConfigDict()
    c.mlp.seeds = 4 if quick else 12  # per teacher
    c.mlp.dim = 20
    c.mlp.sparse_k = 3
    c.mlp.teacher_width = 16
    c.mlp.n_train = 384  # before the validation carve
    c.mlp.validation_fraction = 1 / 3
    c.mlp.n_test = 1024
    c.mlp.noise_scale = 0.5
    c.mlp.data_seed = 0
    c.mlp.model = config_dict.ConfigDict({"name": "mlp", "widths": (32,), "activation": "tanh"})
    c.mlp.learning_rate = 1e-2
    c.mlp.steps = 250 if quick else 500
    c.mlp.lambdas = 5 if quick else 6
    c.mlp.l1_range = (3e-4, 0.3)
    c.mlp.l2_range = (1e-3, 3.0)
    c.mlp.support_threshold = 0.1  # Adam arms: selected input = row norm ≥ 0.1 × the largest
    # The proximal L1 arm (exact zeros): full-batch proximal gradient descent, constant step
    # (ISTA needs step ≤ 1/L of the data loss's gradient; Adam's adaptive step has no prox).
    c.mlp.prox_learning_rate = 0.3
    c.mlp.prox_steps = c.mlp.steps * 2
    return c
