r"""Claim 2: "MSE is ordinary least squares, the BLUE under Gauss-Markov" — and where it stops.

  python -m experiments.claims --workdir=runs/claims --only=claim2 [--quick]

A linear model y = x·β + ε on a fixed design (n_train = 200 points in 5 dimensions, true
intercept 0, β = dataset.true_coef, a unit vector), with 1000 Monte Carlo datasets (quick: 200):
one per seed, the noise ε drawn in the compiled program from the seed, so each noise family is ONE
vectorized sweep of 1000 runs.

* `ols`: squared error trained by full-batch gradient descent (sgd, lr 0.3, 300 steps: the
  Hessian 2/n·ZᵀZ has eigenvalues in about [1.4, 2.7], so the contraction per step is ≤ 0.6 and
  300 steps reach float32 precision), under every noise family in `noise_families`.
* `robust`: absolute error (L1, least absolute deviations) and Huber (δ = 1.345, 95% Gaussian
  efficiency at noise std 1) trained by full-batch Adam with a cosine decay to 0 (L1's gradient
  does not vanish at the optimum, so a constant step would keep bouncing), under
  `robust_families`.

Numpy/scipy references on the same targets: lstsq, weighted least squares with wrong weights
(10^U(-1, 1), fixed by `wrong_weights_seed`) and with the true weights 1/σᵢ² (heteroscedastic
noise), the L1 linear program (scipy linprog, HiGHS) and fixed-scale Huber (scipy L-BFGS-B) on
the first `reference_datasets` datasets. Quick: noise families gaussian, laplace, heteroscedastic
(robust losses under laplace only). About 1.5 minutes on 2 CPU cores (quick: ~30 s), compiling
included; a rerun hits JAX's persistent compilation cache.
"""

from ml_collections import config_dict

from experiments.config_schema import base_config

SIZES = ("default", "quick")


def _engine_config(datasets: int) -> config_dict.ConfigDict:
    config = base_config()
    config.dataset.name = "synthetic"
    config.dataset.teacher = "linear"
    config.dataset.n_train = 200
    config.dataset.n_test = 100
    config.dataset.dim = 5
    config.dataset.noise_scale = 1.0
    config.dataset.df = 2.0  # student_t: infinite variance
    config.dataset.contamination = 0.1
    config.dataset.outlier_scale = 10.0
    config.model.name = "linear"
    config.penalty = "none"
    config.batch_size = 0  # full-batch gradient descent: a deterministic estimator of the data
    config.chunk_size = datasets  # all Monte Carlo datasets of a group in one call
    config.tensorboard = False
    config.plots = False
    config.progress = False
    config.diagnostics = False  # stability diagnostics are not needed here: a cheaper program
    config.sweep.seed = tuple(range(datasets))
    return config


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim2 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.datasets = 200 if quick else 1000  # Monte Carlo datasets (= seeds); the claim needs >= 200
    c.noise_families = (
        ("gaussian", "laplace", "heteroscedastic")  # Student-t's sampler compiles slowly
        if quick
        else ("gaussian", "laplace", "student_t", "contaminated", "heteroscedastic")
    )
    c.robust_families = (
        ("laplace",) if quick else ("gaussian", "laplace", "student_t", "contaminated")
    )
    c.wrong_weights_seed = 0
    c.reference_datasets = 10 if quick else 100  # LP / L-BFGS references are per dataset, on host
    c.identity_tolerance = 1e-4  # max |θ_trained − θ_lstsq| per dataset
    c.confidence = 0.95  # simultaneous (Bonferroni) interval for the Monte Carlo mean
    c.family_members = 40  # linear unbiased estimators whose exact covariance is compared with OLS
    c.instability_parts = 4  # Student-t(2): disjoint parts of the datasets, to show no convergence

    c.ols = _engine_config(c.datasets)
    c.ols.loss = "squared_error"
    c.ols.optimizer = "sgd"
    c.ols.learning_rate = 0.3
    c.ols.steps = 300
    c.ols.log_every = 50
    c.ols.sweep.dataset.noise = c.noise_families

    c.robust = _engine_config(c.datasets)
    c.robust.optimizer = "adam"
    c.robust.learning_rate = 0.05 if quick else 0.02
    c.robust.schedule = "cosine"
    c.robust.steps = 1500 if quick else 4000
    c.robust.log_every = c.robust.steps // 10
    c.robust.loss_knobs.delta = 1.345
    c.robust.sweep.loss = ("absolute_error", "huber")
    c.robust.sweep.dataset.noise = c.robust_families
    return c
