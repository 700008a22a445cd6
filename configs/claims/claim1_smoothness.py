r"""Claim 1: "L2 is continuously differentiable, unlike L1, so gradient training is more stable".

  python -m experiments.claims --workdir=runs/claims --only=claim1 [--quick]
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py --workdir=runs/claim1
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py:quick \
      --workdir=runs/claim1-quick

Same model, data and optimizer for every loss: full-batch gradient descent (plain `sgd`,
batch_size 0, so Cohen et al.'s edge-of-stability threshold lr·sharpness/2 = 1 applies) on a
smooth tanh MLP 16 -> 32 -> 1 fitted to a fixed random teacher with contaminated Gaussian noise
(90% N(0, s²), 10% N(0, (10 s)²)). Two residual scales: noise level s = 0.1 (small residuals) and
s = 1 (large residuals: outliers of std 10 at init and at the optimum); `noise_scale` is a traced
axis, so it costs no compilation. Losses squared_error (r², no ½), absolute_error |r|, huber and
pseudo_huber (δ = 1, ½r² inside), log_cosh; a log-spaced grid of learning rates from stable to
divergent × seeds (seed = initialization and the noise draw), with a constant learning rate and
with cosine decay to 0. Sharpness (top Hessian eigenvalue of the full training objective, 20
power iterations) every 100 steps.

What it shows: oscillation at the end of training (frac_increase, tail_rel_std), whether the
gradient vanishes (grad_norm_ratio), the largest stable learning rate per loss, lr·sharpness/2
against the GD threshold 1, and the spread over seeds — with a constant and a decaying rate.

Default: 2 schedules × 5 losses × 2 noise levels × 10 lrs × 3 seeds = 600 runs of 500 steps in
2 compiled programs (the losses of a schedule share one): 95 s of CPU time, 1.5-2.5 minutes on
2 CPU cores. `quick`: 5 lrs × 2 seeds, 300 steps (35-50 s).
"""

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")
LOSSES = ("squared_error", "absolute_error", "huber", "pseudo_huber", "log_cosh")
SCHEDULES = ("constant", "cosine")
NOISE_SCALES = (0.1, 1.0)


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
    c.dataset.noise = "contaminated"
    c.dataset.contamination = 0.1
    c.dataset.outlier_scale = 10.0
    c.model.name = "mlp"
    c.model.widths = (32,)
    c.model.activation = "tanh"  # a smooth model: any non-smoothness is the loss's
    c.loss_knobs.delta = 1.0
    c.penalty = "none"
    c.optimizer = "sgd"
    c.batch_size = 0  # full batch: gradient descent
    c.steps = 300 if quick else 500
    c.log_every = 10
    c.sharpness_every = 100
    c.sharpness_iters = 20
    c.sharpness_batch = c.dataset.n_train  # the full training objective that GD descends
    c.chunk_size = 256

    c.sweep.schedule = SCHEDULES
    c.sweep.loss = LOSSES
    c.sweep.dataset.noise_scale = NOISE_SCALES
    c.sweep.learning_rate = (
        (0.03, 0.2, 0.5, 1.0, 10.0) if quick
        else (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0, 10.0, 30.0)
    )
    c.sweep.seed = (0, 1) if quick else (0, 1, 2)
    return c
