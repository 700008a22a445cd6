r"""Claim 4: "Cross-entropy, not L2, is the common loss for classification".

  python -m experiments.claims --workdir=runs/claims --only=claim4 [--quick]
  python -m experiments.sweep --config=configs/claims/claim4_classification.py --workdir=runs/claim4
  python -m experiments.sweep --config=configs/claims/claim4_classification.py:quick \
      --workdir=runs/claim4-quick

Softmax cross-entropy vs the square loss on raw outputs (`one_hot_squared_error`, Hui & Belkin
2021, k = M = 1: plain mean squared error to the one-hot vector, as they use for <= 10 classes) vs
the Weston-Watkins multiclass hinge (`multi_margin`), on two small 10-class tasks (digits 8×8
images: 1,347 train / 450 test; MNIST-1D: 3,200 / 800 length-40 signals) with two models (MLP
in -> 64 -> 10; CNN conv 8 -> pool -> conv 16 -> pool -> dense 32 -> 10). Adam with cosine
decay, minibatch 64, no penalty, a learning-rate grid × 5 seeds (seed = initialization and
minibatch order; the splits are fixed); each loss is then read at its own best learning rate,
selected on a validation split (20% of the training data, stratified); the budget check needs
every loss's validation accuracy to move by < 0.1 point over the last 10% of steps, and a cell
that fails it is retrained alone at the next budget of BUDGETS (the budget, like the lr, chosen on
validation). What it
shows: whether the square loss trails cross-entropy by more than seed noise (the claim's
testable part: is cross-entropy needed, or only customary?).

Default: 2 datasets × 2 models × 3 losses × 3 learning rates × 5 seeds = 180 runs of 1200 steps
in 4 compiled programs (the losses of a cell share one), then 2400 and 4800 steps for a cell that
has not settled. `quick`: the MLP only, 2 learning rates × 3 seeds, 300 steps, no second budget
(about 20 s). The sweep commands above train the first budget only.
"""

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")
LOSSES = ("softmax_cross_entropy", "one_hot_squared_error", "multi_margin")
# Budgets (steps) tried in turn for a cell whose validation accuracy has not settled.
BUDGETS = {"default": (1200, 2400, 4800), "quick": (300,)}


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim4 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = base_config()
    c.tensorboard = False
    c.plots = False
    c.progress = False
    c.dataset.image = True  # digits as 8×8×1 for the CNN; the MLP flattens its input
    c.dataset.num_samples = 4000  # MNIST-1D: 3,200 train / 800 test
    c.dataset.validation_fraction = 0.2  # lr selection and the budget check read this split
    c.model.widths = (64,)
    c.model.channels = (8, 16)
    c.model.dense_width = 32
    c.loss_knobs.k = 1.0  # Hui & Belkin's rescaling is for many classes; k = M = 1 for 10
    c.loss_knobs.m = 1.0
    c.loss_knobs.margin = 1.0
    c.penalty = "none"
    c.optimizer = "adam"
    # Cosine decay to 0 over the budget: every loss ends at its annealed point, so the budget
    # check (< 0.1 point over the last 10% of steps) can pass; with a constant lr the square
    # loss was still rising at 1,200 steps (a budget effect, not a loss effect).
    c.schedule = "cosine"
    c.batch_size = 64
    c.steps = BUDGETS[size][0]
    # Metrics (the validation curve the budget check reads) every 25 steps: the check compares
    # the last point with the one ceil(10% of the logged intervals) earlier (125 of 1,200 steps).
    # At 60 (a 120-step window, 2026-12-03) MNIST-1D's CNN moved >= 0.1 pt, was retrained at
    # 2,400 steps and the report took ~1,150 s: the check sits at its noise floor there.
    c.log_every = 25
    c.diagnostics = False  # claim 4 reads no gradient diagnostics; numbers unchanged, ~5% faster
    c.chunk_size = 64

    c.sweep.dataset.name = ("digits", "mnist1d")
    c.sweep.model.name = ("mlp",) if quick else ("mlp", "cnn")
    c.sweep.loss = LOSSES
    c.sweep.learning_rate = (1e-2, 3e-2) if quick else (3e-3, 1e-2, 3e-2)
    c.sweep.seed = (0, 1, 2) if quick else (0, 1, 2, 3, 4)
    return c
