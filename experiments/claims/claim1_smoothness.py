"""Claim 1: "L2 is continuously differentiable, unlike L1, so gradient training is more stable".

Full-batch gradient descent with the same model, data and learning-rate grid for five losses
(configs/claims/claim1_smoothness.py), Gaussian noise at several residual scales (the target-scale
sweep), trained by the engine with the validation split in the held-out slot
(trained_runs.train(on_validation=True)); test error is computed from the final parameters.

Definitions (stated in the report):
* **stable**: the run's objective stayed finite and its final value is below its initial one.
  The engine's divergence guard (objective > diverge_threshold × initial) counts a run that ends
  at 365× its initial objective as fine; this claim does not.
* **settling**: the rebound, (final − lowest) / lowest, of the objective over the run's own
  trajectory. A run that converges ends at its lowest value (rebound 0) whatever its speed; one
  that bounces ends above it. This is not true by definition for L1 (unlike the old
  gradient-norm ratio: |r|'s subgradient never vanishes, so its final/initial gradient norm is
  large even at the minimizer) and, unlike the distance from the best value reached at any lr
  (also reported, `relative_excess`), it does not count slow convergence at a small tuned lr as
  instability.
* **tuned lr**: per loss and residual scale, the stable lr with the lowest mean validation MSE
  (against the noise-free teacher on the validation inputs); the test split is not read.
* **matched initial step**: each loss at the lr with lr·‖∇ℓ(θ₀)‖ equal to L2's at its tuned lr
  (‖∇ℓ(θ₀)‖ = the full-batch gradient norm at initialization, seed mean), trained in a second
  pass; this removes the r² vs ½r² convention and the residual scale from the comparison.
"""

from __future__ import annotations

import copy
import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from absl import logging

from configs.claims import claim1_smoothness as claim_config
from experiments import plots, statistics
from experiments.claims import trained_runs
from experiments.claims.section import Section

KEY = "claim1"
TITLE = "Smoothness of L2 and the stability of gradient training"
CLAIM = (
    "L2 (squared error) is continuously differentiable, unlike L1 (absolute error), so gradient "
    "training with it is more stable."
)
L2, L1 = "squared_error", "absolute_error"
TAIL = 0.1  # the last 10% of logged steps: the oscillation amplitude is measured there


def runs_frame(groups: list[trained_runs.TrainedGroup]) -> pd.DataFrame:
    """One row per run: loss, residual scale, lr, seed, stability, settling inputs, errors."""
    frames = []
    for g in groups:
        objective = np.asarray(g.metrics["objective"], np.float64)
        tail = max(1, round(TAIL * objective.shape[1]))
        finite = np.isfinite(objective).all(1)
        with np.errstate(invalid="ignore"):
            tail_part = objective[:, -tail:]
            oscillation = tail_part.std(1) / np.abs(tail_part.mean(1))
        frames.append(pd.DataFrame({
            "loss": g.config.loss,
            "noise_scale": g.hyper["dataset.noise_scale"].astype(np.float64),
            "learning_rate": g.hyper["learning_rate"].astype(np.float64),
            "seed": g.hyper["seed"].astype(int),
            "initial_objective": objective[:, 0],
            "final_objective": objective[:, -1],
            "min_objective": np.nanmin(objective, 1),
            "rebound": (objective[:, -1] - np.nanmin(objective, 1)) / np.nanmin(objective, 1),
            "stable": finite & ~np.asarray(g.metrics["diverged"], bool)
            & (objective[:, -1] < objective[:, 0]),
            "final_over_initial": objective[:, -1] / objective[:, 0],
            "tail_oscillation": oscillation,
            "initial_grad_norm": np.asarray(g.metrics["grad_norm"], np.float64)[:, 0],
            "val_mse": np.asarray(g.metrics["val_mse"], np.float64)[:, -1],
            "test_mse": g.test_metrics()["test_mse"],
        }))
    return pd.concat(frames, ignore_index=True)


def add_excess(runs: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """relative_excess = (final − best) / best, best = the lowest objective the same loss reached
    for the same residual scale and seed at any lr of `reference` (default: `runs`), stable runs
    only (an unstable run's excess is NaN)."""
    reference = runs if reference is None else reference
    keys = ["loss", "noise_scale", "seed"]
    best = reference[reference["stable"]].groupby(keys)["min_objective"].min().rename("best")
    out = runs.drop(columns=["best"], errors="ignore").join(best, on=keys)
    out["relative_excess"] = np.where(out["stable"], (out["final_objective"] - out["best"])
                                      / out["best"], np.nan)
    return out


def max_stable_lr(runs: pd.DataFrame) -> pd.DataFrame:
    """Per residual scale × loss: the largest grid lr at which every seed is stable (NaN if none),
    and whether it is the top of the grid (censored: the true limit is higher)."""
    top = runs["learning_rate"].max()
    rows = []
    for (noise, loss), frame in runs.groupby(["noise_scale", "loss"], sort=True):
        all_stable = frame.groupby("learning_rate")["stable"].all()
        ok = all_stable[all_stable].index
        # The largest lr below which every lr is stable (a stable lr above an unstable one is luck).
        below = [lr for lr in sorted(all_stable.index) if not all_stable[lr]]
        limit = max((lr for lr in ok if not below or lr < min(below)), default=np.nan)
        rows.append({"noise_scale": noise, "loss": loss, "max_stable_lr": float(limit),
                     "censored": bool(limit == top)})
    return pd.DataFrame(rows)


def tuned_lrs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per residual scale × loss: the lr whose every seed is stable with the lowest mean
    validation MSE (the test split is not read)."""
    rows = []
    for (noise, loss), frame in runs.groupby(["noise_scale", "loss"], sort=True):
        per_lr = frame.groupby("learning_rate").agg(stable=("stable", "all"),
                                                    val_mse=("val_mse", "mean"))
        ok = per_lr[per_lr["stable"]]
        lr = float(ok["val_mse"].idxmin()) if len(ok) else float(per_lr.index.min())
        rows.append({"noise_scale": noise, "loss": loss, "tuned_lr": lr,
                     "val_mse": float(per_lr.loc[lr, "val_mse"]),
                     "initial_grad_norm": float(frame["initial_grad_norm"].mean())})
    return pd.DataFrame(rows)


def matched_lrs(tuned: pd.DataFrame) -> pd.DataFrame:
    """lr per loss with lr·‖∇ℓ(θ₀)‖ = L2's at its tuned lr, per residual scale."""
    out = []
    for noise, frame in tuned.groupby("noise_scale"):
        at = frame.set_index("loss")
        step = at.loc[L2, "tuned_lr"] * at.loc[L2, "initial_grad_norm"]
        for loss, row in at.iterrows():
            out.append({"noise_scale": noise, "loss": loss,
                        "matched_lr": float(step / row["initial_grad_norm"]),
                        "initial_step": float(step)})
    return pd.DataFrame(out)


def _at(runs: pd.DataFrame, noise: float, loss: str, lr: float) -> pd.DataFrame:
    part = runs[(runs["noise_scale"] == noise) & (runs["loss"] == loss)
                & np.isclose(runs["learning_rate"], lr, rtol=1e-6)]
    return part.sort_values("seed").set_index("seed")


def comparison_table(runs: pd.DataFrame, tuned: pd.DataFrame,
                     matched: pd.DataFrame | None) -> pd.DataFrame:
    """Per residual scale: L2 − L1 paired over seeds at each one's tuned lr (and at matched
    initial step when `matched` runs are given): relative excess, tail oscillation, test MSE."""
    t = tuned.set_index(["noise_scale", "loss"])["tuned_lr"]
    rows = []
    for noise in sorted(runs["noise_scale"].unique()):
        row = {"noise_scale": noise, "tuned_lr_l2": t[(noise, L2)], "tuned_lr_l1": t[(noise, L1)]}
        settings = {"tuned": (runs, t[(noise, L2)], runs, t[(noise, L1)])}
        if matched is not None and len(matched):
            lr1 = float(matched.loc[(matched["noise_scale"] == noise)
                                    & (matched["loss"] == L1), "learning_rate"].iloc[0])
            settings["matched"] = (runs, t[(noise, L2)], matched, lr1)
            row["matched_lr_l1"] = lr1
        for name, (r2, lr2, r1, lr1) in settings.items():
            a, b = _at(r2, noise, L2, lr2), _at(r1, noise, L1, lr1)
            seeds = a.index.intersection(b.index)
            a, b = a.loc[seeds], b.loc[seeds]
            row[f"{name}_l2_stable"] = bool(a["stable"].all())
            row[f"{name}_l1_stable"] = bool(b["stable"].all())
            for column in ("rebound", "relative_excess", "tail_oscillation", "test_mse"):
                iv = statistics.paired_difference(a[column].to_numpy(), b[column].to_numpy())
                row.update(iv.as_columns(f"{name}_{column}_l2_minus_l1"))
                row[f"{name}_{column}_l2"] = float(a[column].mean())
                row[f"{name}_{column}_l1"] = float(b[column].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _better(row, name: str, column: str) -> str:
    """'l2', 'l1' or 'tie': which is lower, by the paired interval of L2 − L1."""
    if row[f"{name}_{column}_l2_minus_l1_high"] < 0:
        return "l2"
    if row[f"{name}_{column}_l2_minus_l1_low"] > 0:
        return "l1"
    return "tie"


def verdict(comparison: pd.DataFrame) -> str:
    """The rule stated in RULE."""
    settings = [s for s in ("tuned", "matched") if f"{s}_rebound_l2_minus_l1" in comparison]
    calmer = [all(_better(row, s, "rebound") == "l2" for s in settings)
              for _, row in comparison.iterrows()]
    l1_calmer = [any(_better(row, s, "rebound") == "l1" for s in settings)
                 for _, row in comparison.iterrows()]
    worse_test = [_better(row, "tuned", "test_mse") == "l1" for _, row in comparison.iterrows()]
    if all(calmer) and not any(worse_test):
        return "supported"
    if not any(calmer) and (any(l1_calmer) or any(worse_test)):
        return "refuted"
    return "qualified"


RULE = (
    "Stable = the objective stayed finite and ended below its initial value. Each loss is read "
    "at its own tuned lr (stable on every seed, lowest validation MSE) and, in a second pass, at "
    "a matched initial step size (lr·‖∇ℓ(θ₀)‖ equal to L2's). At each residual scale, L2 is "
    "**calmer** if its rebound ((final − lowest)/lowest objective along the run: 0 for a run "
    "that settles, > 0 for one that bounces) is lower than L1's at both settings, by the paired "
    "95% interval of "
    "L2 − L1 over seeds excluding 0. **supported** if L2 is calmer at every residual scale and "
    "its test MSE is not worse than L1's at any (paired interval); **refuted** if L2 is calmer "
    "at no scale and L1 is calmer or more accurate somewhere; **qualified** otherwise. Max "
    "stable lrs are reported per scale (squared_error is r², curvature 2; huber, pseudo_huber, "
    "log_cosh are ½r² near 0, so a factor 2 is the convention), not used in the verdict."
)


def _fmt_lr(lr: float, censored: bool) -> str:
    if not np.isfinite(lr):
        return "none"
    return f"≥ {lr:g}" if censored else f"{lr:g}"


def _fmt_iv(row, name, column, spec=".3g") -> str:
    prefix = f"{name}_{column}_l2_minus_l1"
    return statistics.Interval(row[prefix], row[f"{prefix}_low"], row[f"{prefix}_high"]).format(
        spec)


def findings(comparison: pd.DataFrame, limits: pd.DataFrame, result: str) -> str:
    lines = []
    words = {"l2": "L2 lower", "l1": "L1 lower", "tie": "no difference beyond noise"}
    for row in comparison.to_dict("records"):
        noise = row["noise_scale"]
        line = (
            f"- **Residual scale s = {noise:g}.** Tuned lr L2 {row['tuned_lr_l2']:g}, L1 "
            f"{row['tuned_lr_l1']:g}. Rebound L2 {row['tuned_rebound_l2']:.3g} vs L1 "
            f"{row['tuned_rebound_l1']:.3g}, paired L2 − L1 {_fmt_iv(row, 'tuned', 'rebound')} "
            f"({words[_better(row, 'tuned', 'rebound')]}); excess over the best any lr reached "
            f"L2 − L1 {_fmt_iv(row, 'tuned', 'relative_excess')}; tail oscillation L2 − L1 "
            f"{_fmt_iv(row, 'tuned', 'tail_oscillation')}; **test MSE** L2 "
            f"{row['tuned_test_mse_l2']:.4g} vs L1 {row['tuned_test_mse_l1']:.4g}, L2 − L1 "
            f"{_fmt_iv(row, 'tuned', 'test_mse', '.4g')} "
            f"({words[_better(row, 'tuned', 'test_mse')]})."
        )
        if "matched_relative_excess_l2_minus_l1" in row:
            line += (
                f" At matched initial step (L1 lr {row['matched_lr_l1']:.3g}): rebound "
                f"L2 − L1 {_fmt_iv(row, 'matched', 'rebound')} "
                f"({words[_better(row, 'matched', 'rebound')]}), test MSE L2 − L1 "
                f"{_fmt_iv(row, 'matched', 'test_mse', '.4g')}"
                + ("" if row["matched_l1_stable"] else " (L1 unstable there)") + "."
            )
        lines.append(line)
        here = limits[limits["noise_scale"] == noise]
        lines.append(
            "  Max stable lr (stable = finite, final < initial): "
            + ", ".join(f"{r.loss} {_fmt_lr(r.max_stable_lr, r.censored)}"
                        for r in here.itertuples(index=False)) + "."
        )
    for loss in (L2, L1):
        mine = limits[limits["loss"] == loss].sort_values("noise_scale")
        lines.append(
            f"- **{loss}'s max stable lr against the residual scale:** "
            + ", ".join(f"s = {r.noise_scale:g}: {_fmt_lr(r.max_stable_lr, r.censored)}"
                        for r in mine.itertuples(index=False)) + "."
        )
    lines.append(f"- Verdict: **{result}**.")
    return "\n".join(lines)


def summary(comparison: pd.DataFrame, limits: pd.DataFrame) -> str:
    parts = []
    lim = limits.set_index(["noise_scale", "loss"])
    for row in comparison.to_dict("records"):
        s = row["noise_scale"]
        parts.append(
            f"s = {s:g}: rebound L2 − L1 {_fmt_iv(row, 'tuned', 'rebound')}, "
            f"test MSE L2 − L1 {_fmt_iv(row, 'tuned', 'test_mse', '.3g')}, max stable lr L2 "
            f"{_fmt_lr(lim.loc[(s, L2), 'max_stable_lr'], lim.loc[(s, L2), 'censored'])} vs L1 "
            f"{_fmt_lr(lim.loc[(s, L1), 'max_stable_lr'], lim.loc[(s, L1), 'censored'])}"
        )
    return "; ".join(parts) + "."


def max_stable_plot(limits: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for k, (loss, part) in enumerate(limits.groupby("loss")):
        part = part.sort_values("noise_scale")
        ax.plot(part["noise_scale"], part["max_stable_lr"], "-o", color=f"C{k}", label=loss)
        cens = part[part["censored"]]
        ax.plot(cens["noise_scale"], cens["max_stable_lr"], "^", color=f"C{k}", ms=10)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("residual scale s (noise std)")
    ax.set_ylabel("max stable lr (▲: top of grid)")
    ax.legend(fontsize=7)
    ax.set_title("Stable = finite and final objective < initial")
    fig.tight_layout()
    return plots.save_png(fig, path)


def excess_plot(runs: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    noises = sorted(runs["noise_scale"].unique())
    fig, axes = plt.subplots(1, len(noises), figsize=(4 * len(noises), 3.3), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, noise in zip(axes, noises, strict=True):
        for k, (loss, part) in enumerate(runs[runs["noise_scale"] == noise].groupby("loss")):
            mean = part.groupby("learning_rate")["relative_excess"].mean()
            ax.plot(mean.index, mean.values + 1e-6, "-o", ms=3, color=f"C{k}", label=loss)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("lr")
        ax.set_title(f"s = {noise:g}", fontsize=9)
    axes[0].set_ylabel("(final − best) / best (+1e-6)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return plots.save_png(fig, path)


def setup_text(config, matched: pd.DataFrame) -> str:
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    scales = ", ".join(f"{s:g}" for s in config.sweep.dataset.noise_scale)
    return (
        f"Full-batch gradient descent (plain SGD, no momentum, constant lr, {config.steps} steps) "
        f"on a tanh MLP {config.dataset.dim} → {config.model.widths[0]} → 1 (a smooth model, so "
        f"the only non-smoothness is the loss's), {config.dataset.n_train} points from a fixed "
        f"random teacher ({config.dataset.validation_fraction:.0%} held out for validation) with "
        f"Gaussian noise of std s ∈ {{{scales}}} "
        f"(the residual-scale sweep). Losses {', '.join(config.sweep.loss)} (δ = "
        f"{config.loss_knobs.delta:g}); lr ∈ {{{lrs}}} × {len(config.sweep.seed)} seeds "
        f"(initialization and noise draw, shared by all losses: comparisons are paired). Matched "
        f"initial step pass: {len(matched)} (loss, s) settings. Intervals: 95%, paired bootstrap "
        f"over seeds (experiments.statistics)."
    )


def run(workdir: pathlib.Path, quick: bool) -> Section:
    outdir = pathlib.Path(workdir) / KEY
    outdir.mkdir(parents=True, exist_ok=True)
    config = claim_config.get_config("quick" if quick else "default")
    runs = runs_frame(trained_runs.train(config, on_validation=True))
    runs = add_excess(runs)
    limits = max_stable_lr(runs)
    tuned = tuned_lrs(runs)
    targets = matched_lrs(tuned)
    # Second pass: L1 at the lr matching L2's initial step, per residual scale.
    matched_parts = []
    for noise, part in targets[targets["loss"] == L1].groupby("noise_scale"):
        c = copy.deepcopy(config)
        c.sweep.loss = None
        c.loss = L1
        c.sweep.dataset.noise_scale = (float(noise),)
        c.sweep.learning_rate = (float(part["matched_lr"].iloc[0]),)
        matched_parts.append(runs_frame(trained_runs.train(c, on_validation=True)))
    matched = add_excess(pd.concat(matched_parts, ignore_index=True), reference=runs)
    comparison = comparison_table(runs, tuned, matched)
    outcome = verdict(comparison)
    logging.info("%s: %s\n%s", KEY, outcome, comparison.to_string())
    figures = {
        "max_stable_lr": max_stable_plot(limits, outdir / "max_stable_lr.png"),
        "relative_excess": excess_plot(runs, outdir / "relative_excess.png"),
    }
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(config, targets), rule=RULE,
        verdict=outcome, findings=findings(comparison, limits, outcome),
        summary=summary(comparison, limits),
        tables={"comparison": comparison, "max_stable_lr": limits, "tuned_lr": tuned,
                "matched_step": targets, "runs": runs},
        plots=figures,
    )
