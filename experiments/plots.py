"""Plots of a sweep (PNG) and the summary table printed at its end.

sweep_plots writes:
  test_metric_heatmap.png  loss × λ, median over seeds of the final test metric (test MSE for
                           regression, test accuracy for classification), one panel per noise
  test_metric_curves.png   the test metric over steps per loss, median and min–max band over seeds
  grad_norm_curves.png     minibatch gradient norm over steps per loss, log scale
Curves are drawn at the smallest λ in the sweep (usually λ = 0), one panel per noise family.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments import results

FACET = "dataset.noise"


def test_metric(runs: pd.DataFrame) -> str:
    """The comparable held-out metric: test MSE (regression) or test accuracy (classification)."""
    if "final_test_mse" in runs and runs["final_test_mse"].notna().any():
        return "test_mse"
    return "test_accuracy"


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds of the final test metric and divergence rate per loss × λ (× noise)."""
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


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    results.atomic_write(path, lambda p: fig.savefig(p, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
    return path


def heatmap(runs: pd.DataFrame, outdir: pathlib.Path) -> pathlib.Path:
    metric = test_metric(runs)
    facets = _facets(runs)
    fig, axes = plt.subplots(1, len(facets), figsize=(5.5 * len(facets), 3.8), squeeze=False)
    for ax, (title, frame) in zip(axes[0], facets, strict=True):
        table = frame.pivot_table(
            index="loss", columns="penalty_strength", values=f"final_{metric}", aggfunc="median"
        )
        image = ax.imshow(
            table.to_numpy(),
            aspect="auto",
            cmap="viridis_r" if metric != "test_accuracy" else "viridis",
        )
        ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns], rotation=45)
        ax.set_yticks(range(table.shape[0]), table.index)
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color="w")
        ax.set_xlabel("λ (penalty_strength)")
        ax.set_title(f"final {metric}, median over seeds {title}".strip())
        fig.colorbar(image, ax=ax)
    return _save(fig, outdir / "test_metric_heatmap.png")


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
    return _save(fig, outdir / filename)


def sweep_plots(runs: pd.DataFrame, curves: pd.DataFrame, outdir) -> dict[str, pathlib.Path]:
    outdir = pathlib.Path(outdir)
    metric = test_metric(runs)
    return {
        "heatmap": heatmap(runs, outdir),
        "test_curves": _curves(
            runs, curves, metric, outdir, "test_metric_curves.png", log=metric != "test_accuracy"
        ),
        "grad_norm": _curves(runs, curves, "grad_norm", outdir, "grad_norm_curves.png", log=True),
    }
