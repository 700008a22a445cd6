"""The Hessian spectral density (experiments.spectrum, config.spectrum_density) as a table and
one plot per group.

spectrum_density.csv: one row per run per measurement (every config.spectrum_every steps, step 0
included) per point of its eigenvalue grid: run_id, step, eigenvalue, density. Each measurement
has its own grid (the nodes' range ± 5σ, config.density_grid points), so a run's densities
at two steps are compared as curves, not column by column. The trapezoid rule over a
measurement's grid integrates its density to 1.

plots/spectrum_density_g<G>.png: per group, the density at the first, middle and last
measurement, one line per run, on a log density axis (the bulk near 0 and the outliers differ
by orders of magnitude, as in Ghorbani, Krishnan & Xiao 2019).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments import plots
from experiments.grid import Run
from experiments.spectrum import DENSITY, DENSITY_GRID

TABLE = "spectrum_density"  # chunks/g<G>-c<C>.spectrum_density.csv, spectrum_density.csv
# Below this the log axis would spend its decades on the Gaussians' tails.
_DENSITY_FLOOR = 1e-6


def chunk_tables(runs: list[Run], metrics: dict[str, np.ndarray], steps: list[int]
                 ) -> dict[str, pd.DataFrame]:
    """{TABLE: the chunk's rows} when its program measured the density, else {} (the chunk's
    files and manifest are then exactly as without this module). `metrics[DENSITY]` is
    (runs, logged steps, grid), NaN at the steps between measurements; padded runs dropped."""
    if DENSITY not in metrics:
        return {}
    grid = np.asarray(metrics[DENSITY_GRID])[: len(runs)]
    density = np.asarray(metrics[DENSITY])[: len(runs)]
    run_index, step_index = np.nonzero(~np.isnan(grid).all(axis=2))
    size = grid.shape[2]
    return {TABLE: pd.DataFrame({
        "run_id": np.repeat([runs[i].run_id for i in run_index], size),
        "step": np.repeat(np.asarray(steps)[step_index], size),
        "eigenvalue": grid[run_index, step_index].reshape(-1).astype(np.float64),
        "density": density[run_index, step_index].reshape(-1).astype(np.float64),
    })}


def outputs(workdir: pathlib.Path, runs: pd.DataFrame, *, plot: bool
            ) -> dict[str, pathlib.Path]:
    """The assembled spectrum_density.csv and (with `plot`) one PNG per group: name -> path
    ({} when the sweep has no density)."""
    path = pathlib.Path(workdir) / f"{TABLE}.csv"
    if not path.exists():
        return {}
    out = {TABLE: path}
    if not plot:
        return out
    table = pd.read_csv(path).merge(runs[["run_id", "group_id", "run_name"]], on="run_id")
    for group_id, rows in table.groupby("group_id", sort=True):
        name = f"{TABLE}_g{int(group_id)}"
        out[f"plot:{name}"] = plots.save_png(
            group_figure(rows), pathlib.Path(workdir) / "plots" / f"{name}.png"
        )
    return out


def group_figure(rows: pd.DataFrame) -> Figure:
    """The density at the group's first, middle and last measured step, a line per run."""
    measured = np.unique(rows["step"])
    shown = sorted({measured[0], measured[len(measured) // 2], measured[-1]})
    fig = Figure(figsize=(4.2 * len(shown), 3.4), layout="constrained")
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    labelled = rows["run_id"].nunique() <= 8  # a legend for more would hide the curves
    for ax, step in zip(axes, shown, strict=True):
        for (_, run_name), curve in rows[rows["step"] == step].groupby(["run_id", "run_name"]):
            ax.plot(curve["eigenvalue"], np.maximum(curve["density"], _DENSITY_FLOOR),
                    lw=1, label=run_name if labelled else None)
        ax.set_yscale("log")
        ax.set_ylim(bottom=_DENSITY_FLOOR)
        ax.set_xlabel("Hessian eigenvalue")
        ax.set_title(f"step {int(step)}")
    axes[0].set_ylabel("density (SLQ, Gaussian-broadened)")
    if labelled:  # beside the panels: inside, it hides the outliers' bumps
        fig.legend(*axes[-1].get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    return fig
