"""Plots of a sweep (PNG) and the summary table printed at its end.

sweep_plots writes:
  test_metric_heatmap.png  loss × λ, median over seeds of the final test metric (test MSE for
                           regression, test accuracy for classification), one panel per noise
  divergence_heatmap.png   loss × λ, fraction of runs that diverged
  frac_increase_heatmap.png  loss × λ, median fraction of logged steps where the objective rose
  test_metric_curves.png   the test metric over steps per loss, median and min–max band over seeds
  grad_norm_curves.png     full-batch (evaluation batch) gradient norm per loss, log scale
  sharpness_curves.png     top Hessian eigenvalue over steps per loss against 2/lr, one panel per
                           lr (when config.sharpness_every > 0)
  max_stable_lr.png        largest lr with no diverged seed, per loss (when lr is swept)
Curves are drawn at the smallest λ in the sweep (usually λ = 0), one panel per noise family.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments import result_files

FACET = "dataset.noise"


def test_metric(runs: pd.DataFrame) -> str:
    """The comparable held-out metric: test MSE (regression) or test accuracy (classification)."""
    if "final_test_mse" in runs and runs["final_test_mse"].notna().any():
        return "test_mse"
    return "test_accuracy"


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Median final test metric and divergence rate per loss × λ (× noise), over seeds."""
    metric = f"final_{test_metric(runs)}"
    keys = [k for k in (FACET, "loss", "penalty_strength") if k in runs and runs[k].nunique() > 1]
    keys = keys or ["loss"]
    return runs.groupby(keys, sort=True).agg(
        **{metric: (metric, "median")},
        diverged=("diverged", "mean"),
        runs=("run_id", "count"),
    )


def _facets(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    if FACET in frame and frame[FACET].nunique() > 1:
        return [(f"noise={v}", f) for v, f in frame.groupby(FACET, sort=True)]
    return [("", frame)]


def save_png(fig, path: pathlib.Path) -> pathlib.Path:
    """Write `fig` as a PNG atomically (temporary file, then rename) and close it."""
    result_files.atomic_write(
        path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png")
    )
    plt.close(fig)
    return path


def heatmap(
    runs: pd.DataFrame,
    outdir: pathlib.Path,
    column: str | None = None,
    filename: str = "test_metric_heatmap.png",
    title: str | None = None,
    higher_is_better: bool | None = None,
) -> pathlib.Path:
    """loss × λ heatmap of the median of `column` over each cell's runs (default: test metric)."""
    metric = test_metric(runs)
    column = column or f"final_{metric}"
    if higher_is_better is None:
        higher_is_better = metric == "test_accuracy" and column == f"final_{metric}"
    facets = _facets(runs)
    fig, axes = plt.subplots(1, len(facets), figsize=(5.5 * len(facets), 3.8), squeeze=False)
    for ax, (facet, frame) in zip(axes[0], facets, strict=True):
        table = frame.pivot_table(
            index="loss", columns="penalty_strength", values=column, aggfunc="median"
        )
        cmap = "viridis" if higher_is_better else "viridis_r"
        image = ax.imshow(table.to_numpy(dtype=float), aspect="auto", cmap=cmap)
        ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns], rotation=45)
        ax.set_yticks(range(table.shape[0]), table.index)
        for (i, j), value in np.ndenumerate(table.to_numpy(dtype=float)):
            bright = image.norm(value) > 0.5 if higher_is_better else image.norm(value) < 0.5
            color = "k" if bright else "w"  # readable on viridis' yellow end
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color=color)
        ax.set_xlabel("λ (penalty_strength)")
        ax.set_title(f"{title or column + ', median'} {facet}".strip(), fontsize=9)
        fig.colorbar(image, ax=ax)
    return save_png(fig, outdir / filename)


def sharpness_curves(runs: pd.DataFrame, curves: pd.DataFrame, outdir) -> pathlib.Path:
    """Sharpness over steps per loss (median over runs) against the 2/lr edge of stability."""
    lam = runs["penalty_strength"].min()
    chosen = runs[runs["penalty_strength"] == lam]
    lrs = sorted(chosen["learning_rate"].unique())
    fig, axes = plt.subplots(1, len(lrs), figsize=(4.8 * len(lrs), 3.6), squeeze=False)
    for ax, lr in zip(axes[0], lrs, strict=True):
        for loss, members in chosen[chosen["learning_rate"] == lr].groupby("loss", sort=True):
            c = curves[curves["run_id"].isin(members["run_id"])].dropna(subset=["sharpness"])
            median = c.groupby("step")["sharpness"].median()
            ax.plot(median.index, median.to_numpy(), marker=".", label=loss)
        ax.axhline(2.0 / lr, color="k", ls="--", lw=1, label="2/lr")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("step")
        ax.set_ylabel("top Hessian eigenvalue (L2 term included)")
        ax.set_title(f"lr={lr:g}, λ={lam:g}", fontsize=9)
        ax.legend(fontsize=7)
    return save_png(fig, outdir / "sharpness_curves.png")


def max_stable_lr_bars(groups: pd.DataFrame, outdir) -> pathlib.Path:
    """Largest lr in the grid at which no seed diverged, per loss (at the smallest λ)."""
    lam = groups["penalty_strength"].min()
    frame = groups[groups["penalty_strength"] == lam]
    per_loss = frame.groupby("loss", sort=True)["max_stable_lr"].min()
    fig, ax = plt.subplots(figsize=(1.2 * len(per_loss) + 2, 3.6))
    ax.bar(range(len(per_loss)), per_loss.to_numpy(dtype=float))
    ax.set_xticks(range(len(per_loss)), per_loss.index, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("max stable learning rate")
    ax.set_title(f"max stable lr per loss (λ={lam:g}; min over other axes)", fontsize=9)
    return save_png(fig, outdir / "max_stable_lr.png")


def _curves(runs, curves, column: str, outdir, filename: str, log: bool) -> pathlib.Path:
    lam = runs["penalty_strength"].min()
    chosen = runs[runs["penalty_strength"] == lam]
    facets = _facets(chosen)
    fig, axes = plt.subplots(1, len(facets), figsize=(5.5 * len(facets), 3.8), squeeze=False)
    for ax, (title, frame) in zip(axes[0], facets, strict=True):
        for loss, members in frame.groupby("loss", sort=True):
            c = curves[curves["run_id"].isin(members["run_id"])]
            by_step = c.groupby("step")[column]
            median = by_step.median()
            ax.plot(median.index, median.to_numpy(), label=loss)
            ax.fill_between(
                median.index, by_step.min().to_numpy(), by_step.max().to_numpy(), alpha=0.2
            )
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(column)
        ax.set_title(
            f"{column} at λ={lam:g} (median, min–max over seeds) {title}".strip(), fontsize=9
        )
        ax.legend(fontsize=7)
    return save_png(fig, outdir / filename)


def sweep_plots(
    runs: pd.DataFrame,
    curves: pd.DataFrame,
    outdir,
    groups: pd.DataFrame | None = None,
) -> dict[str, pathlib.Path]:
    """Every plot that applies to this sweep (see the module docstring); name -> path."""
    outdir = pathlib.Path(outdir)
    metric = test_metric(runs)
    out = {
        "heatmap": heatmap(runs, outdir),
        "divergence_heatmap": heatmap(
            runs.assign(diverged=runs["diverged"].astype(float)), outdir, "diverged",
            "divergence_heatmap.png", "divergence rate", higher_is_better=False,
        ),
        "frac_increase_heatmap": heatmap(
            runs, outdir, "frac_increase", "frac_increase_heatmap.png",
            "frac_increase (2nd half), median", higher_is_better=False,
        ),
        "test_curves": _curves(
            runs, curves, metric, outdir, "test_metric_curves.png", log=metric != "test_accuracy"
        ),
        "grad_norm": _curves(runs, curves, "grad_norm", outdir, "grad_norm_curves.png", log=True),
    }
    if "sharpness" in curves and curves["sharpness"].notna().any():
        out["sharpness"] = sharpness_curves(runs, curves, outdir)
    if groups is not None and runs["learning_rate"].nunique() > 1:
        out["max_stable_lr"] = max_stable_lr_bars(groups, outdir)
    return out
