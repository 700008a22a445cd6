r"""Claim 8: "BLUE is not best": shrinkage (ridge, James–Stein) beats OLS in parameter MSE.

  python -m experiments.claims --workdir=runs/claims --only=claim8 [--quick]

A linear model y = Xβ + ε, ε ~ N(0, σ²I), on two fixed designs: orthogonal columns
(XᵀX = nI, so OLS is the canonical Gaussian mean problem and James–Stein's risk formula
applies exactly: the theorem part, ridge at the oracle Bayes λ and James–Stein) and AR(1)
correlated columns (ρ = 0.9), where ridge with λ chosen from each dataset by GCV (the empirical
part, which decides the verdict) is compared with OLS. β is fixed with ‖β‖² = SNR·σ²tr((XᵀX)⁻¹)
(SNR per design: the signal over OLS's risk on that design, so both designs are at the same
effective SNR and predicting β̂ = 0, reported in every cell, has SNR × OLS's risk).
Monte Carlo over `datasets` noise draws, vectorized in numpy; every
estimator sees the same datasets (paired intervals). The sweep over p and SNR shows where the
claim stops holding. About 15 s on 2 CPU cores (quick: ~5 s).
"""

from ml_collections import config_dict

SIZES = ("default", "quick")


def get_config(size: str = "default") -> config_dict.ConfigDict:
    if size not in SIZES:
        raise ValueError(f"claim8 config size must be one of {SIZES}, got {size!r}")
    quick = size == "quick"
    c = config_dict.ConfigDict()
    c.datasets = 1000 if quick else 4000  # Monte Carlo datasets; the claim needs >= 1000
    c.n = 50  # design rows
    c.p = 5  # coefficients at the headline cell (James–Stein needs p >= 3)
    c.sigma = 1.0  # noise std
    c.snr = 1.0  # ‖β‖²/p over σ²/n at the headline cell
    c.sweep_p = (2, 3, 5, 10, 20)
    c.sweep_snr = (0.1, 1.0, 10.0, 30.0) if quick else (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    c.oracle_alpha = 0.05  # family-wise error of the closed-form checks (Bonferroni over all)
    c.resamples = 1000 if quick else 2000
    c.seed = 0
    c.rho = 0.9  # the correlated design's AR(1) correlation between neighbouring columns
    c.gcv_points = 41  # log-spaced λ/n in [10^-decades, 10^decades], plus λ = 0 (OLS)
    c.gcv_decades = 4.0
    return c
