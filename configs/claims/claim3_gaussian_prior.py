r"""Claim 3: "An L2 penalty is a Gaussian prior: the trained model is the MAP estimate".

  python -m experiments.claims --workdir=runs/claims --only=claim3 [--quick]

* `map`: a linear model y = x·w + b + ε, ε ~ N(0, σ²) with σ = `dataset.noise_scale` = 1, on a
  fixed design of n = 100 points in 10 dimensions, prior w ~ N(0, τ² I) and a flat prior on b.
  losslab's objective is mean((f − y)²) + λ·½‖w‖² (kernel only, bias unpenalized), which is
  2σ²/n × the negative log posterior when λ = 2σ²/(nτ²); the λ sweep below is that formula
  applied to `prior_stds` (plus λ = 0, a flat prior). Full-batch gradient descent (lr 0.07 < 2 /
  the largest Hessian eigenvalue ≈ 2·(1 + √(d/n))² + λ_max) to convergence, a few noise seeds.
* `sgd_pair`: the MLP task (synthetic nonlinear teacher, 16 -> 64 -> 1) with minibatch SGD,
  coupled L2 vs decoupled weight decay at the same λ and lr (l2_mode is a sweep axis).
* `prescription` (claim 3a, numpy only, on the `map` design): true weights drawn from N(0, τ²) per
  dataset; ridge over a fine λ grid around λ* = 2σ²/(nτ²), expected test MSE per λ, and the
  marginal likelihood (empirical Bayes) over a fine τ grid with σ known.
* `adam_pair` (claim 3b): the same MLP task with Adam + coupled L2 vs AdamW (decoupled decay),
  (lr, λ) swept jointly on half-decade grids × seeds, selected on a validation split (25% of the
  training data). Seed k also redraws the data (design, teacher, noise and validation carve:
  `dataset.data_seed` = `validation_seed` = k), one program per seed with shared compilations.

2026-12-07, on a 2-core machine shared with other jobs (about 6× slower than idle): default
303 s (840 Adam runs of 1,500 steps, 12 programs), quick 86 s against 75 s for the previous
grid; roughly 1 minute and 15 s idle.
"""

import copy

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")


def _half_decades(low: float, high: float, step: float = 0.5) -> tuple[float, ...]:
    """10^low, 10^(low + step), ..., 10^high (rounded to 3 significant digits)."""
    exponents = [low + step * k for k in range(round((high - low) / step) + 1)]
    return tuple(float(f"{10.0**e:.3g}") for e in exponents)


def _quiet(config: config_dict.ConfigDict) -> config_dict.ConfigDict:
    config.tensorboard = False
    config.plots = False
    config.progress = False
    config.diagnostics = False  # a cheaper program; adam_pair turns it on for grad_norm
    return config


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim3 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.tolerance = 1e-4  # max |θ_trained − θ_closed_form| and |θ_ridge − θ_posterior|
    c.prior_stds = (3.0, 1.0, 0.3, 0.1, 0.03)  # τ; λ = 2σ²/(nτ²)

    c.map = _quiet(base_config())
    c.map.dataset.name = "synthetic"
    c.map.dataset.teacher = "linear"
    c.map.dataset.n_train = 100
    c.map.dataset.n_test = 100
    c.map.dataset.dim = 10
    c.map.dataset.noise = "gaussian"
    c.map.dataset.noise_scale = 1.0  # σ
    c.map.model.name = "linear"
    c.map.loss = "squared_error"
    c.map.penalty = "l2"
    c.map.penalty_mask = "kernels"
    c.map.optimizer = "sgd"
    c.map.learning_rate = 0.07
    c.map.batch_size = 0
    c.map.steps = 800
    c.map.log_every = 100
    n, sigma = c.map.dataset.n_train, c.map.dataset.noise_scale
    c.map.sweep.penalty_strength = (0.0, *(2.0 * sigma**2 / (n * tau**2) for tau in c.prior_stds))
    c.map.sweep.seed = (0, 1) if quick else (0, 1, 2, 3)
    c.map.chunk_size = 64

    mlp = _quiet(base_config())
    mlp.dataset.name = "synthetic"
    mlp.dataset.teacher = "nonlinear"
    mlp.dataset.n_train = 512
    mlp.dataset.n_test = 1024
    mlp.dataset.dim = 16
    mlp.dataset.noise_scale = 0.5
    mlp.model.name = "mlp"
    mlp.model.widths = (64,)
    mlp.loss = "squared_error"
    mlp.penalty = "l2"
    mlp.batch_size = 64
    mlp.chunk_size = 64

    c.sgd_pair = copy.deepcopy(mlp)
    c.sgd_pair.optimizer = "sgd"
    c.sgd_pair.learning_rate = 0.05
    c.sgd_pair.steps = 200 if quick else 1000
    c.sgd_pair.log_every = 10
    c.sgd_pair.sweep.l2_mode = ("coupled", "decoupled")
    c.sgd_pair.sweep.penalty_strength = (1e-3, 1e-2, 1e-1)
    c.sgd_pair.sweep.seed = (0,) if quick else (0, 1)

    c.prescription = config_dict.ConfigDict()
    c.prescription.prior_std = 0.3  # τ: λ* = 2σ²/(nτ²) ≈ 0.22 at σ = 1, n = 100
    c.prescription.datasets = 200 if quick else 1000  # weight draws w ~ N(0, τ²I), one noise each
    c.prescription.lambda_points = 41  # log grid λ*/30 .. 30·λ*
    c.prescription.tau_points = 401  # log grid τ/30 .. 30·τ for the marginal likelihood
    c.prescription.seed = 0
    c.prescription.coverage_floor = 0.9  # likelihood intervals cover τ this often (nominal 95%)

    c.adam_pair = copy.deepcopy(mlp)
    c.adam_pair.dataset.validation_fraction = 0.25  # selection of (lr, λ) never sees test
    c.adam_pair.diagnostics = True  # grad_norm: ‖∇(data loss + λ·½‖θ‖²)‖ on the training set
    c.adam_pair.sharpness_batch = mlp.dataset.n_train
    c.adam_pair.optimizer = "adam"
    c.adam_pair.learning_rate = 3e-3
    c.adam_pair.schedule = "cosine"
    c.adam_pair.steps = 500 if quick else 1500
    # AdamW's decay per step is lr·λ: (lr, λ) are tuned jointly for both modes. Half-decade
    # grids (10^(k/2)). The old grid's floor 10^-3 held AdamW's selection (2026-12-06 review);
    # 10^-4 .. 10^-1.5 (2026-12-07) then put Adam + L2's at the top, 10^-1.5, and at 10^-4 both
    # underfit (AdamW's best λ sat at the grid's bottom: a flat surface), hence 10^-3.5 .. 10^-1.
    lr_low, lr_high = (-3.5, -2.0) if quick else (-3.5, -1.0)
    c.adam_pair.sweep.learning_rate = _half_decades(lr_low, lr_high)
    c.adam_pair.log_every = 50
    c.adam_pair.sweep.l2_mode = ("coupled", "decoupled")
    # Wide enough that each mode's best λ is inside the grid at every lr (AdamW's lies ~10-100×
    # higher than Adam + L2's, and moves as 1/lr if L&H's normalized decay lr·λ is what matters).
    c.adam_pair.sweep.penalty_strength = (0.0, *_half_decades(-4.0, 1.0 if quick else 2.0,
                                                             step=1.0 if quick else 0.5))
    c.adam_pair.sweep.seed = (0, 1) if quick else (0, 1, 2, 3, 4)
    return c
