r"""Claim 1: "L2 is continuously differentiable, unlike L1, so gradient training is more stable".

  python -m experiments.claims --workdir=runs/claims --only=claim1 [--quick]
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py --workdir=runs/claim1
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py:quick \
      --workdir=runs/claim1-quick

Same model, data and optimizer for every loss: full-batch gradient descent (plain `sgd`,
batch_size 0, constant lr) on a smooth tanh MLP 16 -> 32 -> 1 fitted to a fixed random teacher
with Gaussian noise of std s (the residual-scale sweep: s = 0.1 small residuals, s = 1 and 3
large ones; `noise_scale` is a traced axis, so it costs no compilation). 20% of the training
points are a validation split, on which each loss's lr is tuned. Losses squared_error (r², no ½),
absolute_error |r|, huber and pseudo_huber (δ = 1, ½r² inside), log_cosh; a log-spaced lr grid
from stable to unstable × seeds (seed = initialization and the noise draw, shared by all
losses). Diagnostics: the full-batch gradient norm (its value at step 0 sets the matched initial
step of the second pass) and the objective curve.

Default: 5 losses × 3 residual scales × 8 lrs × 5 seeds = 600 runs of 400 steps in one fused
program, plus one small program per residual scale for L1 at the matched step; about 2 minutes
on 2 CPU cores. `quick`: 2 scales × 5 lrs × 3 seeds, 200 steps.
"""

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")
LOSSES = ("squared_error", "absolute_error", "huber", "pseudo_huber", "log_cosh")
NOISE_SCALES = (0.1, 1.0, 3.0)


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim1 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = base_config()
    c.tensorboard = False
    c.plots = False
    c.progress = False
    c.dataset.name = "synthetic"
    c.dataset.teacher = "nonlinear"
    c.dataset.dim = 16
    c.dataset.n_train = 1024
    c.dataset.n_test = 1024
    c.dataset.noise = "gaussian"  # large residuals from the scale, not from outliers
    c.dataset.validation_fraction = 0.2
    c.model.name = "mlp"
    c.model.widths = (32,)
    c.model.activation = "tanh"  # a smooth model: any non-smoothness is the loss's
    c.loss_knobs.delta = 1.0
    c.penalty = "none"
    c.optimizer = "sgd"
    c.batch_size = 0  # full batch: gradient descent
    c.schedule = "constant"
    c.steps = 200 if quick else 400
    c.log_every = 10
    c.diagnostics = True  # grad_norm: the initial gradient norm sets the matched step
    c.sharpness_every = 0
    c.chunk_size = 256

    c.sweep.loss = LOSSES
    c.sweep.dataset.noise_scale = NOISE_SCALES[:2] if quick else NOISE_SCALES
    c.sweep.learning_rate = (
        (0.03, 0.3, 1.0, 3.0, 10.0) if quick
        else (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    )
    c.sweep.seed = (0, 1, 2) if quick else (0, 1, 2, 3, 4)
    return c
