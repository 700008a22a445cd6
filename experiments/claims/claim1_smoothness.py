"""Claim 1: "L2 is continuously differentiable, unlike L1, so gradient training is more stable".

Full-batch gradient descent with the same model, data and learning-rate grid for five losses
(configs/claims/claim1_smoothness.py), at two residual scales, with a constant and a cosine
learning rate. Three questions, each answered from the stability diagnostics of
experiments.stability: does squared error settle where absolute error bounces (constant lr)?
does a decaying lr close that gap? does squared error tolerate the smallest learning rate
(its gradient grows with the residual)?
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from absl import logging

from configs.claims import claim1_smoothness as claim_config
from experiments import plots, sweep
from experiments.claims.section import Section

KEY = "claim1"
TITLE = "Smoothness of L2 and the stability of gradient training"
CLAIM = (
    "L2 (squared error) is continuously differentiable, unlike L1 (absolute error), so gradient "
    "training with it is more stable."
)
L2, L1 = "squared_error", "absolute_error"
# Thresholds of the verdict rule (stated in RULE).
VANISHED = 0.1  # grad_norm_ratio below this: the gradient vanished; at or above: it did not
EDGE = 1.0  # GD's stability limit for lr·sharpness/2; the reference lr keeps L2 below it
GAP_CLOSED = 0.1  # with decay, L1's frac_increase exceeds L2's by at most this: the gap closed
DIAGNOSTICS = (
    "frac_increase", "tail_rel_std", "tv_ratio", "grad_norm_ratio", "grad_cos_mean",
    "sharpness_max", "sharpness_final", "stability_ratio",
)
SLICE = ["schedule", "noise_scale"]


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: schedule, noise level, loss, lr, seed, divergence, diagnostics, test MSE."""
    out = pd.DataFrame({
        "schedule": runs["schedule"],
        "noise_scale": runs["dataset.noise_scale"].astype(float),
        "loss": runs["loss"],
        "learning_rate": runs["learning_rate"].astype(float),
        "seed": runs["seed"].astype(int),
        "run_id": runs["run_id"].astype(int),
        "diverged": runs["diverged"].astype(bool),
        "initial_loss": runs["initial_loss"].astype(float),
        "final_loss": runs["final_loss"].astype(float),
        "test_mse": runs["final_test_mse"].astype(float),
    })
    for column in DIAGNOSTICS:
        out[column] = runs[column].astype(float)
    return out.sort_values([*SLICE, "loss", "learning_rate", "seed"], ignore_index=True)


def lr_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per schedule × noise × loss × lr: divergence rate, then seed means (std for test MSE) of
    the diagnostics over the seeds that did not diverge (a frozen run's curve is not training)."""
    rows = []
    for key, frame in runs.groupby([*SLICE, "loss", "learning_rate"], sort=True):
        ok = frame[~frame["diverged"]]
        row = dict(zip([*SLICE, "loss", "learning_rate"], key, strict=True))
        row.update(seeds=len(frame), divergence_rate=float(frame["diverged"].mean()))
        for column in (*DIAGNOSTICS, "test_mse"):
            row[column] = float(ok[column].mean()) if len(ok) else np.nan
        row["test_mse_std"] = float(ok["test_mse"].std(ddof=1)) if len(ok) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def max_stable_lr(by_lr: pd.DataFrame) -> pd.DataFrame:
    """Per schedule × noise × loss: the largest lr of the grid at which no seed diverged, whether
    that is the top of the grid (censored: the true limit is higher), and lr·sharpness_max/2 there
    and at the next lr (GD on a quadratic diverges iff this exceeds 1)."""
    rows = []
    top = by_lr["learning_rate"].max()
    for key, frame in by_lr.groupby([*SLICE, "loss"], sort=True):
        frame = frame.sort_values("learning_rate")
        stable = frame[frame["divergence_rate"] == 0]["learning_rate"]
        best = float(stable.max()) if len(stable) else np.nan
        above = frame[frame["learning_rate"] > best]
        row = dict(zip([*SLICE, "loss"], key, strict=True))
        row.update(
            max_stable_lr=best,
            censored=bool(best == top),
            stability_ratio_at_max=float(
                frame.loc[frame["learning_rate"] == best, "stability_ratio"].iloc[0]
            ) if len(stable) else np.nan,
            first_unstable_lr=float(above["learning_rate"].min()) if len(above) else np.nan,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def reference_lrs(by_lr: pd.DataFrame) -> dict[float, float]:
    """Per noise level, constant lr: the largest lr of the grid at which L2 and L1 train on every
    seed and L2 stays below GD's stability limit for the whole run (seed-mean
    lr·sharpness_max/2 < EDGE), so an oscillation there is the loss's, not the edge of
    stability's; the smallest lr if none.
    """
    constant = by_lr[by_lr["schedule"] == "constant"]
    refs = {}
    for noise, frame in constant.groupby("noise_scale", sort=True):
        l2 = frame[frame["loss"] == L2].set_index("learning_rate")
        l1 = frame[frame["loss"] == L1].set_index("learning_rate")
        ok = l2.index[(l2["divergence_rate"] == 0) & (l1.loc[l2.index, "divergence_rate"] == 0)
                      & (l2["stability_ratio"] < EDGE)]
        refs[float(noise)] = float(ok.max()) if len(ok) else float(l2.index.min())
    return refs


def comparison_table(by_lr: pd.DataFrame, limits: pd.DataFrame) -> pd.DataFrame:
    """One row per noise level: L2 against L1 at the reference lr under both schedules, at L2's
    edge (its max stable lr) for contrast, and the max stable lr of L2 against the other losses
    (constant lr). The rule's inputs."""
    refs = reference_lrs(by_lr)
    at = by_lr.set_index(["schedule", "noise_scale", "loss", "learning_rate"])
    lim = limits[limits["schedule"] == "constant"].set_index(["noise_scale", "loss"])
    decayed = sorted(s for s in by_lr["schedule"].unique() if s != "constant")[0]
    rows = []
    for noise, lr in refs.items():
        def value(schedule, loss, column, noise=noise, lr=lr):
            return float(at.loc[(schedule, noise, loss, lr), column])

        others = [loss for loss in lim.loc[noise].index if loss != L2]
        other_limit = float(min(lim.loc[(noise, loss), "max_stable_lr"] for loss in others))
        row = {
            "noise_scale": noise,
            "reference_lr": lr,
            "frac_increase_l2": value("constant", L2, "frac_increase"),
            "frac_increase_l1": value("constant", L1, "frac_increase"),
            "tail_rel_std_l2": value("constant", L2, "tail_rel_std"),
            "tail_rel_std_l1": value("constant", L1, "tail_rel_std"),
            "grad_norm_ratio_l2": value("constant", L2, "grad_norm_ratio"),
            "grad_norm_ratio_l1": value("constant", L1, "grad_norm_ratio"),
            "stability_ratio_l2": value("constant", L2, "stability_ratio"),
            "test_mse_l2": value("constant", L2, "test_mse"),
            "test_mse_std_l2": value("constant", L2, "test_mse_std"),
            "test_mse_l1": value("constant", L1, "test_mse"),
            "test_mse_std_l1": value("constant", L1, "test_mse_std"),
            "edge_lr": float(lim.loc[(noise, L2), "max_stable_lr"]),
            "decayed_schedule": decayed,
            "decayed_frac_increase_l2": value(decayed, L2, "frac_increase"),
            "decayed_frac_increase_l1": value(decayed, L1, "frac_increase"),
            "decayed_tail_rel_std_l2": value(decayed, L2, "tail_rel_std"),
            "decayed_tail_rel_std_l1": value(decayed, L1, "tail_rel_std"),
            "max_stable_lr_l2": float(lim.loc[(noise, L2), "max_stable_lr"]),
            "min_max_stable_lr_others": other_limit,
        }
        both = sorted(
            lr for lr in by_lr["learning_rate"].unique()
            if value("constant", L2, "divergence_rate", lr=lr) == 0
            and value("constant", L1, "divergence_rate", lr=lr) == 0
        )
        calmer = [value("constant", L2, "frac_increase", lr=lr)
                  - value("constant", L1, "frac_increase", lr=lr) for lr in both]
        row["lrs_both_stable"] = len(both)
        row["lrs_l2_calmer"] = int(sum(d < 0 for d in calmer))
        row["lrs_l1_calmer"] = int(sum(d > 0 for d in calmer))
        edge = row["edge_lr"]
        row["edge_frac_increase_l2"] = value("constant", L2, "frac_increase", lr=edge)
        row["edge_frac_increase_l1"] = value("constant", L1, "frac_increase", lr=edge)
        row["edge_stability_ratio_l2"] = value("constant", L2, "stability_ratio", lr=edge)
        row["l2_settles"] = bool(
            row["frac_increase_l2"] < row["frac_increase_l1"]
            and row["grad_norm_ratio_l2"] < VANISHED <= row["grad_norm_ratio_l1"]
        )
        row["gap_closes_with_decay"] = bool(
            row["decayed_frac_increase_l1"] - row["decayed_frac_increase_l2"] <= GAP_CLOSED
        )
        row["l2_lowest_max_stable_lr"] = bool(row["max_stable_lr_l2"] < other_limit)
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(comparison: pd.DataFrame) -> str:
    """The rule stated in RULE, applied to the comparison table."""
    settles = comparison["l2_settles"]
    if not settles.any():
        return "refuted"
    if (settles.all() and not comparison["l2_lowest_max_stable_lr"].any()
            and not comparison["gap_closes_with_decay"].any()):
        return "supported"
    return "qualified"


RULE = (
    "For each residual scale, the *reference lr* is the largest lr of the grid at which both "
    "squared_error (L2) and absolute_error (L1) train without divergence on every seed, constant "
    "lr, and L2 stays below gradient descent's stability limit for the whole run (seed-mean "
    f"lr·sharpness_max/2 < {EDGE:g}; past it any loss oscillates at the edge of stability, which "
    "is not what the claim is about). There, **L2 settles** if its frac_increase (fraction of "
    "logged steps in the second half where the training objective rose) is lower than L1's and "
    "its gradient norm has vanished "
    f"(grad_norm_ratio = final/initial < {VANISHED:g}) while L1's has not (≥ {VANISHED:g}). "
    f"The **gap closes with decay** if, with the decaying schedule at the same lr, L1's "
    f"frac_increase exceeds L2's by at most {GAP_CLOSED:g}. **supported** if L2 settles at every "
    "residual scale, the gap does not close with decay, and L2's max stable lr is not the lowest "
    "of the five losses at any scale; **refuted** if L2 settles at no residual scale (L1 is as "
    "stable); **qualified** otherwise (L2 settles somewhere, but its advantage vanishes with a "
    "decaying lr, or at large residuals, or it has the lowest max stable lr)."
)


def _fmt_lr(lr: float, censored: bool) -> str:
    return f"≥ {lr:g} (never diverged)" if censored else f"{lr:g}"


def findings(comparison: pd.DataFrame, limits: pd.DataFrame, result: str) -> str:
    lines = []
    for row in comparison.itertuples(index=False):
        lines.append(
            f"- Residual scale s = {row.noise_scale:g}, reference lr {row.reference_lr:g} "
            f"(constant): frac_increase L2 {row.frac_increase_l2:.2f} vs L1 "
            f"{row.frac_increase_l1:.2f}; tail_rel_std L2 {row.tail_rel_std_l2:.2g} vs L1 "
            f"{row.tail_rel_std_l1:.2g}; grad_norm_ratio L2 {row.grad_norm_ratio_l2:.3g} vs L1 "
            f"{row.grad_norm_ratio_l1:.3g}; L2's lr·sharpness_max/2 = "
            f"{row.stability_ratio_l2:.2f} → "
            + ("**L2 settles, L1 keeps bouncing** (as the claim expects)." if row.l2_settles
               else "**L2 does not settle better than L1** here"
               + (" (L2 is at the edge of stability: lr·sharpness/2 ≈ 1)."
                  if row.stability_ratio_l2 > 0.9 else ".")),
        )
        lines.append(
            f"  Seed spread there: test MSE against the clean teacher L2 {row.test_mse_l2:.3g} ± "
            f"{row.test_mse_std_l2:.2g}, L1 {row.test_mse_l1:.3g} ± {row.test_mse_std_l1:.2g} "
            "(mean ± std over seeds)."
        )
        lines.append(
            f"  Over all {row.lrs_both_stable} constant lrs where both train: L2's frac_increase "
            f"is lower at {row.lrs_l2_calmer}, L1's at {row.lrs_l1_calmer} (equal elsewhere)."
        )
        lines.append(
            f"  At L2's edge (its max stable lr {row.edge_lr:g}, lr·sharpness_max/2 = "
            f"{row.edge_stability_ratio_l2:.2f}): frac_increase L2 {row.edge_frac_increase_l2:.2f}"
            f" vs L1 {row.edge_frac_increase_l1:.2f}."
        )
        lines.append(
            f"  With {row.decayed_schedule} decay at the reference lr: frac_increase L2 "
            f"{row.decayed_frac_increase_l2:.2f} vs L1 {row.decayed_frac_increase_l1:.2f}, "
            f"tail_rel_std L2 {row.decayed_tail_rel_std_l2:.2g} vs L1 "
            f"{row.decayed_tail_rel_std_l1:.2g} → the gap "
            + ("**closes**." if row.gap_closes_with_decay else "**does not close**.")
        )
        constant = limits[(limits["schedule"] == "constant")
                          & (limits["noise_scale"] == row.noise_scale)]
        lines.append(
            "  Max stable lr (constant): "
            + ", ".join(f"{r.loss} {_fmt_lr(r.max_stable_lr, r.censored)}"
                        for r in constant.itertuples(index=False))
            + (" → **L2 has the lowest**." if row.l2_lowest_max_stable_lr
               else " → L2's is not the lowest.")
        )
    l2 = limits[(limits["schedule"] == "constant") & (limits["loss"] == L2)]
    l2 = l2.sort_values("noise_scale")
    if len(l2) > 1:
        lines.append(
            "- L2's max stable lr against the residual scale: "
            + ", ".join(f"s = {r.noise_scale:g}: {_fmt_lr(r.max_stable_lr, r.censored)}"
                        for r in l2.itertuples(index=False))
            + ". Note the convention: squared_error is r² (curvature 2), huber / pseudo_huber / "
            "log_cosh are ≈ ½r² near 0 (curvature 1), so a factor 2 in max stable lr is the "
            "convention, not smoothness."
        )
    lines.append(f"- Verdict: **{result}**.")
    return "\n".join(lines)


def _curves_at(curves: pd.DataFrame, runs: pd.DataFrame, schedule: str, noise: float,
               loss: str, lr: float) -> pd.DataFrame:
    ids = runs[(runs["schedule"] == schedule) & (runs["noise_scale"] == noise)
               & (runs["loss"] == loss) & (runs["learning_rate"] == lr)]["run_id"]
    return curves[curves["run_id"].isin(ids)]


def _panels(runs, refs, curves, metric, ylabel, path, relative=False, lr_line=False):
    schedules = sorted(runs["schedule"].unique(), key=lambda s: s != "constant")
    noises = sorted(refs)
    losses = list(claim_config.LOSSES)
    fig, axes = plt.subplots(len(noises), len(schedules), figsize=(5 * len(schedules),
                             3.2 * len(noises)), squeeze=False, sharey="row")
    for i, noise in enumerate(noises):
        lr = refs[noise]
        for j, schedule in enumerate(schedules):
            ax = axes[i][j]
            for k, loss in enumerate(losses):
                sub = _curves_at(curves, runs, schedule, noise, loss, lr)
                sub = sub[np.isfinite(sub[metric])]
                if sub.empty:
                    continue
                median = sub.groupby("step")[metric].median()
                if relative:
                    median = median / median.iloc[0]
                ax.plot(median.index, median.values, color=f"C{k}", label=loss,
                        marker="." if metric == "sharpness" else None)
            if lr_line:
                ax.axhline(2.0 / lr, color="k", ls="--", lw=1, label="2/lr (GD limit)")
            if metric == "sharpness":  # L1's Hessian is ~0 and its estimate can dip below 0
                ax.set_yscale("symlog", linthresh=1e-2)
            else:
                ax.set_yscale("log")
            ax.set_title(f"{schedule} lr {lr:g}, residual scale s = {noise:g}", fontsize=9)
            ax.set_xlabel("step")
        axes[i][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return plots.save_png(fig, path)


def max_stable_plot(limits: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    constant = limits[limits["schedule"] == "constant"]
    noises = sorted(constant["noise_scale"].unique())
    losses = list(claim_config.LOSSES)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / len(noises)
    for i, noise in enumerate(noises):
        sub = constant[constant["noise_scale"] == noise].set_index("loss").loc[losses]
        bars = ax.bar(np.arange(len(losses)) + i * width, sub["max_stable_lr"], width,
                      label=f"s = {noise:g}", color=f"C{i}")
        for bar, censored in zip(bars, sub["censored"], strict=True):
            if censored:
                bar.set_hatch("//")
    ax.set_xticks(np.arange(len(losses)) + width * (len(noises) - 1) / 2, losses, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("max stable lr (constant; hatched: top of grid)")
    ax.legend(fontsize=8)
    return plots.save_png(fig, path)


def setup_text(config) -> str:
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    return (
        f"Full-batch gradient descent (plain SGD, no momentum, {config.steps} steps) on a tanh MLP "
        f"{config.dataset.dim} → {config.model.widths[0]} → 1 (a smooth model, so the only "
        f"non-smoothness is the loss's), {config.dataset.n_train} training points from a fixed "
        f"random teacher with contaminated Gaussian noise (90% N(0, s²), "
        f"{100 * config.dataset.contamination:g}% N(0, ({config.dataset.outlier_scale:g}s)²)), "
        f"residual scale s ∈ {{{', '.join(f'{s:g}' for s in config.sweep.dataset.noise_scale)}}}. "
        f"Losses {', '.join(config.sweep.loss)} (δ = {config.loss_knobs.delta:g}); lr ∈ "
        f"{{{lrs}}} × {len(config.sweep.seed)} seeds (initialization and noise draw), schedules "
        f"{', '.join(config.sweep.schedule)} (cosine decays to 0). Divergence: objective "
        f"non-finite or > {config.diverge_threshold:g}× its initial value. Sharpness = top "
        f"Hessian eigenvalue of the full training objective ({config.sharpness_iters} power "
        f"iterations every {config.sharpness_every} steps); lr·sharpness/2 > 1 is past GD's "
        f"stability limit. Diagnostics are seed means over the runs that did not diverge."
    )


def summary(comparison: pd.DataFrame) -> str:
    """One sentence of key numbers per residual scale, for the report's verdict table."""
    parts = []
    for row in comparison.to_dict("records"):
        settles = "L2 settles, L1 bounces" if row["l2_settles"] else "L2 no calmer than L1"
        parts.append(
            f"s = {row['noise_scale']:g}: {settles} (frac_increase {row['frac_increase_l2']:.2f} "
            f"vs {row['frac_increase_l1']:.2f}, grad-norm ratio {row['grad_norm_ratio_l2']:.2g} "
            f"vs {row['grad_norm_ratio_l1']:.2g}); L2's max stable lr {row['max_stable_lr_l2']:g} "
            f"vs ≥ {row['min_max_stable_lr_others']:g} for the others"
        )
    closes = bool(comparison["gap_closes_with_decay"].all())
    return "; ".join(parts) + ("; with a decaying lr the gap closes." if closes else ".")


def run(workdir: pathlib.Path, quick: bool) -> Section:
    outdir = pathlib.Path(workdir) / KEY
    size = "quick" if quick else "default"
    config = claim_config.get_config(size)
    # Same config: resumes (finished chunks are kept); changed config: the old sweep is moved aside.
    result = sweep.run_sweep(config, outdir / f"sweep-{size}", overwrite=True)
    runs = runs_table(result.runs)
    by_lr = lr_table(runs)
    limits = max_stable_lr(by_lr)
    comparison = comparison_table(by_lr, limits)
    outcome = verdict(comparison)
    logging.info("%s: %s\n%s", KEY, outcome, comparison.to_string())
    refs = reference_lrs(by_lr)
    curves = result.curves
    figures = {
        "objective": _panels(runs, refs, curves, "objective", "train objective / initial",
                             outdir / "objective.png", relative=True),
        "grad_norm": _panels(runs, refs, curves, "grad_norm", "full-batch gradient norm",
                             outdir / "grad_norm.png"),
        "sharpness": _panels(runs, refs, curves, "sharpness", "sharpness (top Hessian eigenvalue)",
                             outdir / "sharpness.png", lr_line=True),
        "max_stable_lr": max_stable_plot(limits, outdir / "max_stable_lr.png"),
    }
    return Section(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        setup=setup_text(config),
        rule=RULE,
        verdict=outcome,
        findings=findings(comparison, limits, outcome),
        summary=summary(comparison),
        tables={"comparison": comparison, "max_stable_lr": limits, "by_lr": by_lr, "runs": runs},
        plots=figures,
    )
