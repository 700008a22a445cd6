r"""Claim 5: "An L2 penalty can be used with any loss (MSE or cross-entropy)".

  python -m experiments.claims --workdir=runs/claims --only=claim5 [--quick]

What the claim predicts differs by loss (Soudry et al. 2018): without a penalty, cross-entropy
on separable data has no finite minimizer and its weight and logit norms keep growing, while
the square loss's stay bounded; with the penalty both converge and shrink. The runs measure the
parameter norm (and its growth over the second half of training), the logit norm, test NLL and
ECE against λ for every loss on the same data. De-confounded: every dataset is trained with
several losses, so loss and data are not tied.

* classification: `digits` (flat 64-vectors, MLP 64 -> 64 -> 10) and `mnist1d` (MLP 40 -> 64 -> 10),
  each with softmax cross-entropy and the square loss (one_hot_squared_error).
* regression: `diabetes` (MLP 10 -> 64 -> 1) and the synthetic nonlinear teacher (16 -> 64 -> 1,
  n = 256, Gaussian noise 0.5), each with squared error, absolute error (L1) and Huber (δ = 1);
  metric: test MSE (against the noise-free teacher for synthetic data).

All: Adam lr 3e-3, cosine decay, minibatch 64, coupled L2 penalty λ·½‖W‖² on the kernels (the
penalty in the loss: what the claim is about; decoupled decay is claim 3b's subject), λ ∈ {0,
1e-4, 1e-3, 1e-2, 1e-1, 1} (quick: 0, 1e-3, 1e-1, 1) × 2 seeds × 5 data splits (diabetes, digits:
split_seed; mnist1d, synthetic: data_seed, a fresh draw of the data; quick: 2). λ is selected on a
validation split (20% of each training split) for the reported test metric; the verdict reads
the largest λ without collapse (experiments/claims/claim5_penalty_any_loss.py). About 3 minutes
on 2 CPU cores (quick: ~40 s).
"""

import copy

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")
CLASSIFICATION = ("softmax_cross_entropy", "one_hot_squared_error")
REGRESSION = ("squared_error", "absolute_error", "huber")


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim5 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.splits = 2 if quick else 5  # data splits / draws per dataset (the outer resampling unit)
    c.chance_margin = 0.02  # accuracy within this of 1/classes counts as collapse
    # regression: validation MSE ≥ (1 − this)·Var(y_val) counts as collapse (a constant's MSE)
    c.variance_margin = 0.05

    common = base_config()
    common.tensorboard = False
    common.plots = False
    common.progress = False
    common.diagnostics = False
    common.penalty = "l2"
    common.penalty_mask = "kernels"
    common.l2_mode = "coupled"
    common.optimizer = "adam"
    common.learning_rate = 3e-3
    common.schedule = "cosine"
    common.batch_size = 64
    common.model.name = "mlp"
    common.model.widths = (64,)
    common.chunk_size = 64
    common.loss_knobs.delta = 1.0
    common.loss_knobs.k = 1.0
    common.loss_knobs.m = 1.0
    common.dataset.validation_fraction = 0.2
    common.steps = 300 if quick else 800
    common.log_every = 50
    common.sweep.penalty_strength = (
        (0.0, 1e-3, 1e-1, 1.0) if quick else (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    )
    common.sweep.seed = (0, 1)

    c.tasks = config_dict.ConfigDict()
    digits = copy.deepcopy(common)
    digits.dataset.name = "digits"
    digits.dataset.image = False
    digits.sweep.loss = CLASSIFICATION
    digits.sweep.dataset.split_seed = tuple(range(c.splits))
    c.tasks.digits = digits

    mnist1d = copy.deepcopy(common)
    mnist1d.dataset.name = "mnist1d"
    mnist1d.dataset.num_samples = 2000
    mnist1d.sweep.loss = CLASSIFICATION
    mnist1d.sweep.dataset.data_seed = tuple(range(c.splits))
    c.tasks.mnist1d = mnist1d

    diabetes = copy.deepcopy(common)
    diabetes.dataset.name = "diabetes"
    diabetes.sweep.loss = REGRESSION
    diabetes.sweep.dataset.split_seed = tuple(range(c.splits))
    c.tasks.diabetes = diabetes

    synthetic = copy.deepcopy(common)
    synthetic.dataset.name = "synthetic"
    synthetic.dataset.teacher = "nonlinear"
    synthetic.dataset.n_train = 256
    synthetic.dataset.n_test = 1024
    synthetic.dataset.dim = 16
    synthetic.dataset.noise_scale = 0.5
    synthetic.sweep.loss = REGRESSION
    synthetic.sweep.dataset.data_seed = tuple(range(c.splits))
    c.tasks.synthetic = synthetic
    return c
