r"""Claim 1: "L2 is continuously differentiable, unlike L1, so gradient training is more stable".

  python -m experiments.claims --workdir=runs/claims --only=claim1 [--quick]
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py --workdir=runs/claim1
  python -m experiments.sweep --config=configs/claims/claim1_smoothness.py:quick,linear \
      --workdir=runs/claim1-linear-quick

`get_config("<size>[,<model>]")`: size default | quick, model mlp (the default) | linear.
Same data and optimizer for both losses: full-batch gradient descent (plain `sgd`, batch_size 0)
with squared error (r², no ½) and absolute error |r|, Gaussian noise of std s (the residual-scale
sweep: s = 0.1 small residuals, 1 and 3 large ones; `noise_scale` is traced), seeds shared by
both losses (initialization and noise draw: comparisons are paired).

* linear: a linear model on a linear teacher, 16 inputs, 1,024 points. The squared-error
  objective's Hessian is 2/n·ZᵀZ (Z = [x, 1]) whatever the targets, so gradient descent on it
  diverges exactly when lr > 2/λ_max; its optimum is least squares, absolute error's the LP
  (experiments.oracles). Sharpness (the top Hessian eigenvalue, in-program) at steps 0 and end.
* mlp: a tanh MLP 16 -> 32 -> 1 on a nonlinear teacher (smooth, so any non-smoothness is the
  loss's); sharpness every 40 steps: the edge-of-stability picture (Cohen et al. 2021).

The sweep here is the grid the claim's runs share (loss × s × seed at one lr); the claim
(experiments/claims/claim1_smoothness.py) sets each run's lr itself: a bisection of the largest
stable lr (ROUNDS rounds in LR_BRACKET), then a grid of fractions of L2's limit under a constant
and a cosine schedule. Default: 2 losses × 3 scales × 5 seeds per model; quick: 2 scales × 3
seeds, fewer rounds and steps. Measured on the 2-core machine while 7 other jobs shared it (load
average ~12): default 344 s, quick 126 s wall (39 s of CPU time; not measured idle).
"""

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")
MODELS = ("mlp", "linear")
LOSSES = ("squared_error", "absolute_error")
NOISE_SCALES = (0.1, 1.0, 3.0)
SCHEDULES = ("constant", "cosine")  # cosine: L1's band should shrink with the step
LR_BRACKET = (1e-2, 1e2)  # the bisection's initial bracket of the max stable lr
ROUNDS = {"default": 7, "quick": 5}  # halvings of log(high/low): ratio 1.08 (default), 1.33
# The constant-lr floor grid: these fractions of L2's measured max stable lr (every seed's).
# The MLP's runs do not converge (its excess only shows the step budget), so it gets fewer.
FLOOR_FRACTIONS = {("default", "linear"): (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4),
                   ("default", "mlp"): (1 / 16, 1 / 4, 3 / 4),
                   ("quick", "linear"): (1 / 16, 1 / 4, 3 / 4),
                   ("quick", "mlp"): (1 / 16, 1 / 4, 3 / 4)}
BLOW_UP_FACTOR = 2.0  # runs at this × the bracket's top show how far training blows up


def parse(arg: str) -> tuple[str, str]:
    """'quick,linear' -> ('quick', 'linear'); ValueError naming a bad size or model."""
    size, _, model = arg.partition(",")
    model = model or "mlp"
    if size not in SIZES:
        raise ValueError(f"claim1 config size must be one of {SIZES}, got {size!r}")
    if model not in MODELS:
        raise ValueError(f"claim1 config model must be one of {MODELS}, got {model!r}")
    return size, model


DIVERGE_THRESHOLD = 1e6  # the engine freezes a run past this × its initial objective

def get_config(arg: str = "default") -> config_dict.ConfigDict:
    size, model = parse(arg)
    quick = size == "quick"
    linear = model == "linear"
    c = base_config()
    c.tensorboard = False
    c.plots = False
    c.progress = False
    c.dataset.name = "synthetic"
    c.dataset.teacher = "linear" if linear else "nonlinear"
    c.dataset.dim = 16
    c.dataset.n_train = 1024
    c.dataset.n_test = 256
    c.dataset.noise = "gaussian"  # large residuals from the scale, not from outliers
    c.model.name = model
    c.model.widths = (32,)
    c.model.activation = "tanh"  # a smooth model: any non-smoothness is the loss's
    c.penalty = "none"
    c.optimizer = "sgd"
    c.batch_size = 0  # full batch: gradient descent
    c.schedule = "constant"
    # Linear: L1's subgradient steps need many steps to reach their band at a small lr.
    c.steps = (500 if quick else 1000) if linear else (200 if quick else 400)
    c.log_every = 10
    c.diagnostics = True  # the sharpness needs them
    # Step 0 (the prediction) and, for the MLP, over time (its main cost: 20 Hessian-vector
    # products per measurement, warm-started from the last one).
    c.sharpness_every = c.steps if linear else 40
    c.sharpness_iters = 20
    c.sharpness_batch = c.dataset.n_train  # the full objective's Hessian, not a subset's
    c.diverge_threshold = DIVERGE_THRESHOLD
    c.chunk_size = 256
    c.learning_rate = 0.1  # a placeholder: the claim sets each run's lr

    c.sweep.loss = LOSSES
    c.sweep.dataset.noise_scale = NOISE_SCALES[:2] if quick else NOISE_SCALES
    c.sweep.seed = (0, 1, 2) if quick else (0, 1, 2, 3, 4)
    return c
