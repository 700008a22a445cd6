r"""Claim 5: "An L2 penalty can be used with any loss (MSE or cross-entropy)".

  python -m experiments.claims --workdir=runs/claims --only=claim5 [--quick]

The same λ sweep, coupled L2 (Adam + λ·½‖θ‖² in the loss) and decoupled weight decay (AdamW,
same λ), under two losses:

* `regression`: squared error on diabetes (442 patients, 10 standardized features, standardized
  target, 25% held out), MLP 10 -> 128 -> 1;
* `classification`: softmax cross-entropy on digits as flat 64-vectors with 75% held out (450
  training images: a data-limited regime, where a regularizer has something to do), MLP
  64 -> 128 -> 10.

Both: Adam lr 3e-3 with cosine decay, minibatch 64, λ ∈ {0, 1e-4, …, 10} × 3 seeds (seed =
initialization and minibatch order; the split is fixed). Kernels are penalized, biases are not.
About 40 s on 2 CPU cores (quick: ~30 s), most of it compiling 4 programs.
"""

import copy

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim5 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.noise_multiple = 2.0  # an improvement counts if it exceeds this many standard errors

    common = base_config()
    common.tensorboard = False
    common.plots = False
    common.progress = False
    common.diagnostics = False  # stability diagnostics are not needed here: a cheaper program
    common.penalty = "l2"
    common.penalty_mask = "kernels"
    common.optimizer = "adam"
    common.learning_rate = 3e-3
    common.schedule = "cosine"
    common.batch_size = 64
    common.model.name = "mlp"
    common.model.widths = (128,)
    common.chunk_size = 64
    common.sweep.l2_mode = ("coupled", "decoupled")
    common.sweep.penalty_strength = (
        (0.0, 1e-3, 1e-1, 10.0) if quick else (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
    )
    common.sweep.seed = (0, 1) if quick else (0, 1, 2, 3, 4)

    c.regression = copy.deepcopy(common)
    c.regression.dataset.name = "diabetes"
    c.regression.dataset.test_fraction = 0.25
    c.regression.loss = "squared_error"
    c.regression.steps = 300 if quick else 1000
    c.regression.log_every = 50

    c.classification = copy.deepcopy(common)
    c.classification.dataset.name = "digits"
    c.classification.dataset.image = False
    c.classification.dataset.test_fraction = 0.75
    c.classification.loss = "softmax_cross_entropy"
    c.classification.steps = 300 if quick else 1500
    c.classification.log_every = 50
    return c
