r"""Convergence-stability diagnostics: per run inside the compiled program, per group on the host.

Per run (columns of the runs table; computed in-program by `run_summary` from the logged curves,
so a sweep's diagnostics are part of its one compiled, vectorized program):

  initial_loss        train objective ℓ_0 at step 0 (data loss + λ·penalty, full training set)
  steps_to_target     first logged step with ℓ_t <= target_loss (config.target_loss >= 0), else
                      the first with ℓ_t <= (1 + target_tolerance)·ℓ_T; -1 if never
  frac_increase       fraction of logged steps in the second half of training where ℓ rose
  tail_rel_std        std/mean of ℓ over the last 10% of logged steps (at least 2 points)
  tv_ratio            Σ|log ℓ_{t+1} − log ℓ_t| / |log ℓ_T − log ℓ_0| (1 for a monotone curve;
                      large when the curve oscillates)
  n_spikes            logged steps where ℓ_t > (1 + τ)·EMA_{t−1}(ℓ), τ = config.spike_tolerance
  grad_norm_final     ‖∇ objective‖ on the fixed evaluation batch at the last step
  grad_norm_ratio     grad_norm_final / grad_norm at step 0. At a minimizer of a smooth loss
                      this tends to 0; absolute error's gradient sign(r)·∇f does not vanish
                      at the optimum (it is a subgradient selection), so the ratio stays O(1)
  grad_cos_mean       mean cosine between successive minibatch gradients (strongly negative:
                      the iterate bounces across a valley)
  sharpness_max/final top Hessian eigenvalue of the training objective on the evaluation batch
                      (config.sharpness_every > 0), L2 term INCLUDED: with penalty_mask='all'
                      it adds λ to every eigenvalue, with 'kernels' to the kernel directions.
                      Absolute error and the L1 penalty have a Hessian that is zero almost
                      everywhere in the predictions / weights, so their sharpness reflects only
                      the model's curvature (and is exactly 0 for a linear model + L1).
  stability_ratio     lr·sharpness_max / (2 + 2β) — Cohen et al. 2021's edge of stability: GD
                      (β = 0) on a quadratic diverges iff lr > 2/sharpness, heavy-ball momentum β
                      iff lr > (2 + 2β)/sharpness; > 1 means past the edge. (For Adam this plain
                      ratio ignores the preconditioner and is only indicative.)
  param_error_to_oracle  ‖θ − θ*‖/‖θ*‖ where a closed form exists (experiments.oracles).

Per group (`group_table`): divergence rate, seed spread of the final test metric, the largest
stable learning rate, and LR sensitivity (Wortsman et al. 2024).

`bisect_max_stable_lr`: the largest stable learning rate of many runs at once by bisection, each
round one vectorized training at per-run lrs (experiments/claims/claim1_smoothness.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

_TINY = 1e-30


# --- Hessian ---------------------------------------------------------------------------------


def hvp(f: Callable, params, v):
    """Hessian-vector product ∇²f(params)·v, forward-over-reverse (jvp of grad)."""
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def tree_vdot(a, b) -> jax.Array:
    """Σ over leaves of ⟨a, b⟩ for two pytrees of the same structure."""
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def top_hessian_eigenvalue(f: Callable, params, v0, iters: int):
    """Power iteration on ∇²f: returns (Rayleigh quotient vᵀHv, unit v) after `iters` steps.

    Converges to the eigenvalue of largest magnitude (the top one whenever it dominates any
    negative curvature, as along a training trajectory). Warm-start v0 with the previous
    estimate's vector to make a few iterations per evaluation enough.
    """

    def normalize(v):
        norm = jnp.sqrt(tree_vdot(v, v))
        return jax.tree.map(lambda x: x / jnp.maximum(norm, _TINY), v)

    def body(_, v):
        return normalize(hvp(f, params, v))

    v = jax.lax.fori_loop(0, iters, body, normalize(v0))
    return tree_vdot(v, hvp(f, params, v)), v


# --- Curve summaries (jnp, run in-program; inputs are 1-D arrays over logged steps) ---------


def frac_increase(objective: jax.Array) -> jax.Array:
    half = objective[objective.shape[0] // 2 :]
    return jnp.mean(jnp.diff(half) > 0)


def tail_rel_std(objective: jax.Array) -> jax.Array:
    n = max(2, int(np.ceil(0.1 * objective.shape[0])))
    tail = objective[-n:]
    return jnp.std(tail) / jnp.maximum(jnp.abs(jnp.mean(tail)), _TINY)


def tv_ratio(objective: jax.Array) -> jax.Array:
    log = jnp.log(jnp.maximum(objective, _TINY))
    return jnp.sum(jnp.abs(jnp.diff(log))) / jnp.maximum(jnp.abs(log[-1] - log[0]), _TINY)


def n_spikes(objective: jax.Array, tolerance: float, ema_decay: float) -> jax.Array:
    def step(ema, value):
        spike = value > (1.0 + tolerance) * ema
        return ema_decay * ema + (1.0 - ema_decay) * value, spike

    _, spikes = jax.lax.scan(step, objective[0], objective[1:])
    return jnp.sum(spikes).astype(jnp.int32)


def steps_to_target(
    objective: jax.Array, steps: jax.Array, target: float, tolerance: float
) -> jax.Array:
    threshold = target if target >= 0 else (1.0 + tolerance) * objective[-1]
    hit = objective <= threshold
    return jnp.where(jnp.any(hit), steps[jnp.argmax(hit)], -1).astype(jnp.int32)


def run_summary(metrics: dict[str, jax.Array], steps: Sequence[int], config, hyper) -> dict:
    """Per-run scalar diagnostics from the logged curves (see the module docstring)."""
    objective = metrics["objective"]
    out = {
        "initial_loss": objective[0],
        "steps_to_target": steps_to_target(
            objective, jnp.asarray(steps), float(config.target_loss), float(config.target_tolerance)
        ),
        "frac_increase": frac_increase(objective),
        "tail_rel_std": tail_rel_std(objective),
        "tv_ratio": tv_ratio(objective),
        "n_spikes": n_spikes(objective, float(config.spike_tolerance), float(config.spike_ema)),
        "grad_norm_final": metrics["grad_norm"][-1],
        "grad_norm_ratio": metrics["grad_norm"][-1] / jnp.maximum(metrics["grad_norm"][0], _TINY),
    }
    if "sharpness" in metrics:
        sharp = metrics["sharpness"]
        beta = hyper["momentum"] if config.optimizer == "momentum" else 0.0
        out["sharpness_max"] = jnp.nanmax(sharp)
        out["sharpness_final"] = sharp[
            jnp.max(jnp.where(jnp.isfinite(sharp), jnp.arange(sharp.shape[0]), -1))
        ]
        out["stability_ratio"] = hyper["learning_rate"] * out["sharpness_max"] / (2.0 + 2.0 * beta)
    return out


# --- Per group (host) -----------------------------------------------------------------------

GROUP_EXCLUDE = ("seed",)


MEAN_COLUMNS = (
    "frac_increase", "tail_rel_std", "tv_ratio", "n_spikes", "grad_norm_ratio", "grad_cos_mean",
    "sharpness_max", "stability_ratio", "param_error_to_oracle", "hessian_eig_1_max",
    "hessian_trace_max", "preconditioned_sharpness_max", "preconditioned_stability_ratio",
)
# Per-run results (never group keys): MEAN_COLUMNS and the other per-run columns.
_RUN_COLUMNS = {
    *MEAN_COLUMNS, "diverged", "diverge_step", "initial_loss", "steps_to_target",
    "grad_norm_final", "sharpness_final", "update_norm_final", "param_norm_final",
    "minibatch_grad_norm_final", "adam_threshold", "gradient_noise_scale_final",
}


def default_group_keys(runs: pd.DataFrame) -> list[str]:
    """loss, λ, and every other swept column except seed: a group's runs differ only by seed."""
    keys = ["loss", "penalty_strength"]
    skip = {"run_id", "group_id", "run_name", *keys, *GROUP_EXCLUDE, *_RUN_COLUMNS}
    return keys + [
        c for c in runs.columns
        if c not in skip and not c.startswith(("final_", "best_"))
        and runs[c].nunique(dropna=False) > 1
    ]


def test_metric_column(runs: pd.DataFrame) -> tuple[str, bool]:
    """(column, higher_is_better) of the held-out metric compared across losses."""
    if "final_test_mse" in runs and runs["final_test_mse"].notna().any():
        return "final_test_mse", False
    return "final_test_accuracy", True


def group_table(runs: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per group of runs (default keys: default_group_keys, i.e. runs differing only by
    seed, with learning_rate a key when swept):

    runs, divergence_rate (fraction of the group's runs that diverged), test_mean / test_std /
    test_iqr (the test metric over the group's seeds), the mean of each per-run diagnostic in
    MEAN_COLUMNS, and three columns about the lr grid of the row's other keys (the same on each
    of its lr rows; over the group's own lrs when learning_rate isn't a key): best_lr (lr with
    the best median test metric among lrs where no seed diverged), max_stable_lr (largest lr at
    which no seed diverged; NaN if none), lr_sensitivity (Wortsman et al. 2024: mean over the lr
    grid of min(ℓ(lr), ℓ_0) − min_lr ℓ(lr), ℓ = median over seeds of the final train objective,
    ℓ_0 the median initial objective). When learning_rate isn't a key, test_* are at best_lr.
    """
    by = list(by) if by is not None else default_group_keys(runs)
    lr_is_key = "learning_rate" in by
    outer = [k for k in by if k != "learning_rate"]
    metric, higher = test_metric_column(runs)
    rows = []
    for key, frame in runs.groupby(by, sort=True, dropna=False):  # key: a tuple (by is a list)
        row = dict(zip(by, key, strict=True))
        grid = frame
        if lr_is_key:
            grid = runs
            for k in outer:
                grid = grid[grid[k].isna()] if pd.isna(row[k]) else grid[grid[k] == row[k]]
        per_lr = grid.groupby("learning_rate", sort=True)
        stable = per_lr["diverged"].apply(lambda d: not d.astype(bool).any())
        median_metric = per_lr[metric].median()
        candidates = median_metric[stable]
        pick = candidates.idxmax if higher else candidates.idxmin
        best_lr = pick() if len(candidates) else np.nan
        at = frame[metric] if lr_is_key else frame[frame["learning_rate"] == best_lr][metric]
        final = per_lr["final_loss"].median()
        init = float(grid["initial_loss"].median()) if "initial_loss" in grid else np.inf
        capped = np.minimum(final.to_numpy(dtype=float), init)
        capped = np.where(np.isfinite(capped), capped, init)
        row.update(
            runs=len(frame),
            divergence_rate=float(frame["diverged"].astype(bool).mean()),
            best_lr=best_lr,
            test_mean=float(at.mean()) if len(at) else np.nan,
            test_std=float(at.std(ddof=1)) if len(at) > 1 else np.nan,
            test_iqr=float(at.quantile(0.75) - at.quantile(0.25)) if len(at) else np.nan,
            max_stable_lr=float(stable[stable].index.max()) if stable.any() else np.nan,
            lr_sensitivity=float(np.mean(capped - capped.min())),
        )
        for column in MEAN_COLUMNS:
            if column in frame:
                row[f"mean_{column}"] = float(frame[column].mean())
        rows.append(row)
    return pd.DataFrame(rows)


# --- Max stable learning rate by bisection (host) --------------------------------------------


def bisect_max_stable_lr(
    is_stable: Callable[[np.ndarray], np.ndarray], low, high, rounds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brackets [low, high] of the largest stable learning rate of many problems at once.

    `is_stable(lrs) -> bool array`: one training of every problem at its own lr (a vectorized
    sweep, lr a traced per-run value, so each round reuses one compiled program). Each round
    tests the geometric midpoint √(low·high) and keeps the half where stability changes, so
    after `rounds` rounds high/low = (high₀/low₀)^(2^−rounds). The bracket is only meaningful
    where `low` is stable and `high` is not (the caller checks the ends): stability is assumed
    monotone in lr (for gradient descent on a quadratic it is: stable iff lr < 2/λ_max).
    """
    low = np.asarray(low, np.float64).copy()
    high = np.broadcast_to(np.asarray(high, np.float64), low.shape).copy()
    for _ in range(rounds):
        mid = np.sqrt(low * high)
        stable = np.asarray(is_stable(mid), bool)
        low, high = np.where(stable, mid, low), np.where(stable, high, mid)
    return low, high
