r"""A tiny sweep for smoke tests and for trying flags: seconds on 2 CPU cores.

  python -m experiments.sweep --config=configs/tiny.py --workdir=runs/tiny

A linear teacher in 8 dimensions with Student-t noise, an MLP 8 -> 16 -> 1, Adam, 100 steps;
losses {squared_error, huber} × λ ∈ {0, 1e-2} × seeds {0, 1} = 8 runs in 1 compiled program (the
losses of a task share one: config.fuse_losses), in 2 chunks of 4.
"""

from experiments.config_schema import base_config


def get_config():
    config = base_config()
    config.dataset.teacher = "linear"
    config.dataset.n_train = 256
    config.dataset.n_test = 128
    config.dataset.dim = 8
    config.dataset.noise = "student_t"
    config.model.widths = (16,)
    config.learning_rate = 1e-2
    config.steps = 100
    config.batch_size = 32
    config.log_every = 10
    config.chunk_size = 4
    config.dataset.validation_fraction = 0.2  # λ is selected on this split, test only reported
    config.sweep.loss = ("squared_error", "huber")
    config.sweep.penalty_strength = (0.0, 1e-2)
    config.sweep.seed = (0, 1)
    return config
