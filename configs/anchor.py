r"""The anchor sweep that `scripts/bench_sweep.py` times: 96 runs in one compiled program.

  python -m experiments.sweep --config=configs/anchor.py --workdir=runs/anchor
  python scripts/bench_sweep.py            # the same sweep against a naive JAX loop and PyTorch

An MLP (16 -> 64 -> 1, ReLU) fitted to the synthetic nonlinear teacher (2,048 training points,
Gaussian noise of std 0.5) with Adam (lr 1e-3), minibatches of 256, 1,000 steps; losses
{squared_error, absolute_error, huber} × 8 values of λ log-spaced in [1e-6, 1e-1] (coupled L2,
½‖kernels‖²) × 4 seeds = 96 runs. A few seconds of training on 2 CPU cores.

The three losses share one program (config.fuse_losses), run in 4 chunks of 24, two at a time
on a 2-core machine (config.cpu_devices; whole waves on 1, 2 or 4 devices).
"""

import numpy as np

from experiments.config_schema import base_config

LOSSES = ("squared_error", "absolute_error", "huber")
PENALTY_STRENGTHS = tuple(float(v) for v in np.logspace(-6, -1, 8))
SEEDS = (0, 1, 2, 3)


def get_config():
    config = base_config()
    config.dataset.name = "synthetic"
    config.dataset.teacher = "nonlinear"
    config.dataset.n_train = 2048
    config.dataset.dim = 16
    config.dataset.noise = "gaussian"
    config.dataset.noise_scale = 0.5
    config.model.name = "mlp"
    config.model.widths = (64,)
    config.model.activation = "relu"
    config.penalty = "l2"
    config.penalty_mask = "kernels"
    config.l2_mode = "coupled"
    config.optimizer = "adam"
    config.learning_rate = 1e-3
    config.steps = 1000
    config.batch_size = 256
    config.log_every = 20
    config.chunk_size = len(LOSSES) * len(PENALTY_STRENGTHS)

    config.sweep.loss = LOSSES
    config.sweep.penalty_strength = PENALTY_STRENGTHS
    config.sweep.seed = SEEDS
    return config
