"""Claim 4: "Cross-entropy, not L2, is the common loss for classification".

That cross-entropy is the *common* choice is a fact about practice, not something an experiment
can test; the testable part is whether it is *needed*: does the square loss (Hui & Belkin 2021:
mean squared error of the raw outputs to the one-hot vector) train classifiers that are worse by
more than seed noise? Each loss is read at its own best learning rate from a grid (selected on the
test split by mean accuracy over seeds, the same for every loss: stated in the report), on digits
and MNIST-1D with an MLP and a small CNN (configs/claims/claim4_classification.py).
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from absl import logging

from configs.claims import claim4_classification as claim_config
from experiments import data as data_lib
from experiments import plots, statistics, sweep
from experiments.claims.section import Section

KEY = "claim4"
TITLE = "Cross-entropy vs the square loss for classification"
CLAIM = "Cross-entropy, not L2 (squared error), is the common loss for classification."
CE, SQUARE, HINGE = claim_config.LOSSES
CELL = ["dataset", "model"]
HUI_BELKIN_GAP = 0.005  # square loss no worse than CE by more than "about half a point"
STABILITY_COLUMNS = (
    "frac_increase", "tail_rel_std", "grad_norm_ratio", "grad_cos_mean", "n_spikes"
)


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: cell, loss, lr, seed, test accuracy and loss, stability diagnostics."""
    out = pd.DataFrame({
        "dataset": runs["dataset.name"],
        "model": runs["model.name"],
        "loss": runs["loss"],
        "learning_rate": runs["learning_rate"].astype(float),
        "seed": runs["seed"].astype(int),
        "test_accuracy": runs["final_test_accuracy"].astype(float),
        "test_loss": runs["final_test_loss"].astype(float),
        "diverged": runs["diverged"].astype(bool),
    })
    for column in STABILITY_COLUMNS:
        if column in runs:
            out[column] = runs[column].astype(float)
    return out.sort_values([*CELL, "loss", "learning_rate", "seed"], ignore_index=True)


def _where(frame: pd.DataFrame, dataset: str, model: str, loss: str) -> pd.Series:
    return (frame["dataset"] == dataset) & (frame["model"] == model) & (frame["loss"] == loss)


def lr_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss × learning rate: accuracy mean / std over seeds and divergence rate."""
    return runs.groupby([*CELL, "loss", "learning_rate"], sort=True).agg(
        seeds=("seed", "size"),
        acc_mean=("test_accuracy", "mean"),
        acc_std=("test_accuracy", "std"),
        divergence_rate=("diverged", "mean"),
    ).reset_index()


def best_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss at its best learning rate (highest mean test accuracy over seeds).

    Seed spread (std, min, max) and the stability diagnostics are of the runs at that rate;
    divergence_rate and max_stable_lr are over the whole grid.
    """
    by_lr = lr_table(runs)
    rows = []
    for (dataset, model, loss), frame in by_lr.groupby([*CELL, "loss"], sort=True):
        best_lr = float(frame.loc[frame["acc_mean"].idxmax(), "learning_rate"])
        mine = runs[_where(runs, dataset, model, loss)]
        at_best = mine[mine["learning_rate"] == best_lr]
        stable = frame.loc[frame["divergence_rate"] == 0, "learning_rate"]
        row = {
            "dataset": dataset,
            "model": model,
            "loss": loss,
            "best_lr": best_lr,
            "seeds": len(at_best),
            "acc_mean": at_best["test_accuracy"].mean(),
            "acc_std": at_best["test_accuracy"].std(ddof=1),
            "acc_min": at_best["test_accuracy"].min(),
            "acc_max": at_best["test_accuracy"].max(),
            "divergence_rate": mine["diverged"].mean(),
            "max_stable_lr": float(stable.max()) if len(stable) else np.nan,
        }
        for column in STABILITY_COLUMNS:
            if column in at_best:
                row[column] = at_best[column].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(
    best: pd.DataFrame, runs: pd.DataFrame, n_test: dict[str, int]
) -> pd.DataFrame:
    """Per cell: square loss and hinge against cross-entropy, each at its own best lr.

    gap = acc(loss) − acc(CE) in accuracy (fraction), paired over the seeds the two share
    (seed = initialization and minibatch order), with the test set's binomial noise
    (experiments.statistics.with_test_noise; n_test examples per dataset); noise = the 95%
    interval's half-width, gap_*_low / gap_*_high its ends.
    """
    rows = []
    for (dataset, model), frame in best.groupby(CELL, sort=True):
        at = frame.set_index("loss")
        ce = at.loc[CE]

        def at_best(loss, dataset=dataset, model=model, at=at):
            mine = runs[_where(runs, dataset, model, loss)]
            mine = mine[mine["learning_rate"] == at.loc[loss, "best_lr"]]
            return mine.set_index("seed")["test_accuracy"]

        ce_seeds = at_best(CE)
        row = {"dataset": dataset, "model": model,
               "acc_ce": ce["acc_mean"], "std_ce": ce["acc_std"]}
        for loss, name in ((SQUARE, "sq"), (HINGE, "hinge")):
            other = at.loc[loss]
            shared = at_best(loss).index.intersection(ce_seeds.index)
            iv = statistics.with_test_noise(at_best(loss)[shared].to_numpy(),
                                            ce_seeds[shared].to_numpy(), n_test[dataset])
            row.update({
                f"acc_{name}": other["acc_mean"],
                f"std_{name}": other["acc_std"],
                f"gap_{name}": iv.estimate,
                f"gap_{name}_low": iv.low,
                f"gap_{name}_high": iv.high,
                f"noise_{name}": iv.half_width,
            })
        # "Better" only where the paired interval excludes zero.
        row["ce_beats_sq"] = row["gap_sq_high"] < 0
        row["sq_beats_ce"] = row["gap_sq_low"] > 0
        row["sq_within_half_point"] = row["gap_sq"] >= -HUI_BELKIN_GAP
        row["std_sq_le_ce"] = row["std_sq"] <= row["std_ce"]
        row["agrees_hui_belkin"] = row["sq_within_half_point"] and row["std_sq_le_ce"]
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(comparison: pd.DataFrame) -> str:
    """supported: CE beats the square loss by more than noise in a majority of cells;
    refuted: the square loss beats CE by more than noise in a majority; qualified otherwise."""
    cells = len(comparison)
    if int(comparison["ce_beats_sq"].sum()) * 2 > cells:
        return "supported"
    if int(comparison["sq_beats_ce"].sum()) * 2 > cells:
        return "refuted"
    return "qualified"


RULE = (
    "Each loss is taken at its own best learning rate. In each dataset × model cell the gap "
    "acc(square) − acc(CE) gets a 95% interval, paired over the shared seeds and including the "
    "test set's binomial sampling noise; a loss beats the other where that interval excludes 0. "
    "**supported** (cross-entropy is needed) if CE beats the square loss "
    f"in a majority of cells; **refuted** if the square loss beats CE in a majority; "
    f"**qualified** otherwise (the square loss is within noise, or the "
    f"cells disagree: cross-entropy is common by convention, not necessity). Hui & Belkin's "
    f"finding (the square loss comparable to or better than CE) counts as reproduced in a cell "
    f"when the square loss is at most {100 * HUI_BELKIN_GAP:g} points below CE (gap ≥ "
    f"−{100 * HUI_BELKIN_GAP:g} pt) and its seed std is no larger than CE's."
)


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def findings(best: pd.DataFrame, comparison: pd.DataFrame, result: str) -> str:
    cells = len(comparison)
    lines = []
    for row in comparison.itertuples(index=False):
        if row.ce_beats_sq:
            word = "CE better than square by more than noise"
        elif row.sq_beats_ce:
            word = "square better than CE by more than noise"
        else:
            word = "within noise"
        lines.append(
            f"- {row.dataset} / {row.model}: CE {100 * row.acc_ce:.2f} ± {100 * row.std_ce:.2f}, "
            f"square {100 * row.acc_sq:.2f} ± {100 * row.std_sq:.2f}, "
            f"hinge {100 * row.acc_hinge:.2f} ± {100 * row.std_hinge:.2f} % "
            f"(square − CE {_points(row.gap_sq)} pt, paired 95% interval with test noise "
            f"[{_points(row.gap_sq_low)}, {_points(row.gap_sq_high)}] pt: {word})."
        )
    ce_wins, sq_wins = int(comparison["ce_beats_sq"].sum()), int(comparison["sq_beats_ce"].sum())
    agree = int(comparison["agrees_hui_belkin"].sum())
    within = int(comparison["sq_within_half_point"].sum())
    lower_std = int(comparison["std_sq_le_ce"].sum())
    hinge_behind = int((comparison["gap_hinge"] < -comparison["noise_hinge"]).sum())
    lines.append(
        f"- Over {cells} cells: CE beats the square loss beyond noise in {ce_wins}, the square "
        f"loss beats CE beyond noise in {sq_wins}; mean gap (square − CE) "
        f"{_points(comparison['gap_sq'].mean())} pt. Verdict: **{result}**."
    )
    lines.append(
        f"- Hui & Belkin (square at most ~0.5 pt below CE or better, with equal or smaller seed "
        f"variance): "
        f"the accuracy part holds in {within}/{cells} cells, the variance part in "
        f"{lower_std}/{cells}, both in {agree}/{cells}: losslab's numbers "
        + ("agree." if agree * 2 > cells else "agree only partly." if agree else "do not agree.")
    )
    lines.append(
        f"- The multiclass hinge trails CE beyond noise in {hinge_behind}/{cells} cells "
        f"(mean gap {_points(comparison['gap_hinge'].mean())} pt)."
    )
    top = best["best_lr"] == best["best_lr"].max()
    if top.any():
        lines.append(
            f"- {int(top.sum())}/{len(best)} (cell, loss) pairs have their best lr at the top of "
            f"the grid ({best['best_lr'].max():g}): a larger lr might do better for those."
        )
    diverged = best.groupby("loss")["divergence_rate"].mean()
    lines.append(
        "- Divergence over the whole lr grid: "
        + ", ".join(f"{loss} {100 * rate:.0f}%" for loss, rate in diverged.items())
        + "; at the best lr, mean frac_increase of the train objective (second half of training) "
        + ", ".join(
            f"{loss} {value:.2f}"
            for loss, value in best.groupby("loss")["frac_increase"].mean().items()
        )
        + "."
    )
    return "\n".join(lines)


def accuracy_plot(runs: pd.DataFrame, best: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Test accuracy per cell and loss at its best lr: mean ± std bars and every seed as a dot."""
    cells = best[CELL].drop_duplicates().values.tolist()
    losses = [CE, SQUARE, HINGE]
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.2), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], cells, strict=True):
        for i, loss in enumerate(losses):
            row = best[_where(best, dataset, model, loss)].iloc[0]
            seeds = runs[_where(runs, dataset, model, loss)
                         & (runs["learning_rate"] == row["best_lr"])]
            ax.bar(i, 100 * row["acc_mean"], yerr=100 * row["acc_std"], color=f"C{i}", alpha=0.6,
                   capsize=4)
            ax.plot(np.full(len(seeds), i), 100 * seeds["test_accuracy"], "k.", ms=4)
        values = 100 * best[(best["dataset"] == dataset) & (best["model"] == model)]["acc_mean"]
        ax.set_ylim(max(0.0, values.min() - 8), min(100.0, values.max() + 3))
        ax.set_xticks(range(len(losses)), ["CE", "square", "hinge"])
        ax.set_title(f"{dataset} / {model}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy (%) at each loss's best lr")
    return plots.save_png(fig, path)


def lr_plot(by_lr: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Mean test accuracy against learning rate per loss, one panel per cell."""
    cells = by_lr[CELL].drop_duplicates().values.tolist()
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.0), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], cells, strict=True):
        cell = by_lr[(by_lr["dataset"] == dataset) & (by_lr["model"] == model)]
        for loss, frame in cell.groupby("loss", sort=False):
            ax.errorbar(frame["learning_rate"], 100 * frame["acc_mean"], 100 * frame["acc_std"],
                        marker="o", color=f"C{[CE, SQUARE, HINGE].index(loss)}", label=loss,
                        capsize=3)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (Adam)")
        ax.set_title(f"{dataset} / {model}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    return plots.save_png(fig, path)


def setup_text(config) -> str:
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    return (
        f"Datasets {', '.join(config.sweep.dataset.name)} (10 classes; fixed train/test splits) × "
        f"models {', '.join(config.sweep.model.name)} (MLP {tuple(config.model.widths)}, CNN "
        f"channels {tuple(config.model.channels)} + dense {config.model.dense_width}) × losses "
        f"softmax_cross_entropy, one_hot_squared_error (raw outputs, k = M = 1) and "
        f"multi_margin (margin {config.loss_knobs.margin:g}); Adam, minibatch "
        f"{config.batch_size}, {config.steps} steps, no penalty, lr ∈ {{{lrs}}} × "
        f"{len(config.sweep.seed)} seeds (initialization and minibatch order). Each loss is read "
        f"at its own best lr, **selected on the test split** by mean accuracy over the same seeds "
        f"that are reported (there is no validation split; the selection is identical for every "
        f"loss, so it favours none). Test accuracy is the final step's. The training budget is "
        f"short ({config.steps} × {config.batch_size} examples); Hui & Belkin report that the "
        f"square loss may need more epochs than cross-entropy."
    )


def summary(comparison: pd.DataFrame) -> str:
    """Square loss minus cross-entropy per cell, for the report's verdict table."""
    cells = [
        f"{row['dataset']}/{row['model']} {100 * row['gap_sq']:+.2f} pt "
        f"[{_points(row['gap_sq_low'])}, {_points(row['gap_sq_high'])}]"
        for row in comparison.to_dict("records")
    ]
    ce_wins = int(comparison["ce_beats_sq"].sum())
    sq_wins = int(comparison["sq_beats_ce"].sum())
    return (
        f"square-loss accuracy minus cross-entropy's at each loss's best lr: {', '.join(cells)}; "
        f"cross-entropy better beyond noise in {ce_wins} of {len(comparison)} cells, square loss "
        f"in {sq_wins}."
    )


def run(workdir: pathlib.Path, quick: bool) -> Section:
    outdir = pathlib.Path(workdir) / KEY
    size = "quick" if quick else "default"
    config = claim_config.get_config(size)
    # Same config: resumes (finished chunks are kept); changed config: the old sweep is moved aside.
    result = sweep.run_sweep(config, outdir / f"sweep-{size}", overwrite=True)
    runs = runs_table(result.runs)
    by_lr = lr_table(runs)
    best = best_table(runs)
    n_test = {name: data_lib.load({**config.dataset.to_dict(), "name": name}).x_test.shape[0]
              for name in runs["dataset"].unique()}
    comparison = comparison_table(best, runs, n_test)
    outcome = verdict(comparison)
    logging.info("%s: %s\n%s", KEY, outcome, comparison.to_string())
    figures = {
        "accuracy": accuracy_plot(runs, best, outdir / "accuracy.png"),
        "accuracy_vs_lr": lr_plot(by_lr, outdir / "accuracy_vs_lr.png"),
    }
    return Section(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        setup=setup_text(config),
        rule=RULE,
        verdict=outcome,
        findings=findings(best, comparison, outcome),
        summary=summary(comparison),
        tables={"comparison": comparison, "best_lr": best, "by_lr": by_lr, "runs": runs},
        plots=figures,
    )
