"""Figures of a sweep and the summary printed at its end. Nothing here selects a backend.

Every figure is a `matplotlib.figure.Figure` built with the object API (no pyplot state), so a
notebook can display it; `sweep_plots` saves them as PNGs (`save_png`). Aggregation is honest:
each cell, line or bar pools exactly the seeds of one combination of the other swept axes, which
are panels (facets) when they are not on the figure's axes, and every title says what is pooled.

sweep_plots writes:
  test_metric_heatmap.png  loss × λ, median over seeds of the final test metric (test MSE for
                           regression, test accuracy for classification), one panel per
                           combination of the other swept axes (noise, lr, ...), one colour scale
  divergence_heatmap.png   loss × λ, fraction of seeds that diverged (0…1 scale); only when a
                           run diverged (all zeros says nothing: the summary says 0 of N)
  frac_increase_heatmap.png  loss × λ, median over seeds of the fraction of logged steps where
                           the objective rose
  test_metric_curves.png   the test metric over steps per loss, median and min–max band over seeds
  grad_norm_curves.png     full-batch (evaluation batch) gradient norm per loss, log scale
  sharpness_curves.png     top Hessian eigenvalue over steps per loss (and Adam's preconditioned
                           sharpness) against the edges of stability that apply: 2/lr for SGD,
                           (2+2β)/lr for momentum, 38/lr for Adam's preconditioned sharpness at
                           β1 = 0.9; one panel per lr (config.sharpness_every or spectrum_every)
  max_stable_lr.png        largest lr with no diverged seed, per loss (when lr is swept); a bar
                           at the largest lr swept, or with no stable lr, is censored: hatched
Curves are drawn at the smallest λ in the sweep (usually λ = 0).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from experiments import result_files, stability

SEED = "seed"
STRENGTH = "penalty_strength"
# Loss i gets LINESTYLES[i % 4] and MARKERS[i % 5]: 20 distinct pairs, so lines that coincide
# (huber under log_cosh) stay distinguishable, by dash pattern alone for up to 4 losses.
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "x")


def test_metric(runs: pd.DataFrame) -> str:
    """The comparable held-out metric: test MSE (regression) or test accuracy (classification)."""
    return stability.test_metric_column(runs)[0].removeprefix("final_")


def cell_keys(runs: pd.DataFrame) -> list[str]:
    """Every swept axis but seed (loss and λ always): a cell's runs differ only by seed."""
    return [k for k in stability.default_group_keys(runs) if k in runs]


def seeds_phrase(runs: pd.DataFrame) -> str:
    """'over 2 seeds' (or 'over 1–3 seeds' where cells differ)."""
    counts = runs.groupby(cell_keys(runs), dropna=False).size() if len(runs) else pd.Series([0])
    lo, hi = int(counts.min()), int(counts.max())
    return f"over {lo} seed{'s' * (hi != 1)}" if lo == hi else f"over {lo}–{hi} seeds"


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell (every swept axis but seed): median final test metric, divergence rate, seeds."""
    metric = f"final_{test_metric(runs)}"
    return runs.groupby(cell_keys(runs), sort=True, dropna=False).agg(
        **{metric: (metric, "median")},
        diverged=("diverged", "mean"),
        seeds=("run_id", "count"),
    )


def _facets(frame: pd.DataFrame, shown: tuple[str, ...]) -> list[tuple[str, pd.DataFrame]]:
    """One panel per combination of the swept axes not `shown` (and not seed)."""
    keys = [k for k in cell_keys(frame) if k not in shown and frame[k].nunique(dropna=False) > 1]
    if not keys:
        return [("", frame)]
    return [  # grouped by a list, so every key is a tuple (pandas >= 2)
        (", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True)), part)
        for key, part in frame.groupby(keys, sort=True, dropna=False)
    ]


def save_png(fig: Figure, path: pathlib.Path) -> pathlib.Path:
    """Write `fig` as a PNG atomically (temporary file, then rename) and release it.

    A figure with a layout engine (this module's are constrained) already fits its canvas and
    is drawn once; others are cropped to their contents (bbox_inches="tight", a second draw).
    """
    tight = "tight" if fig.get_layout_engine() is None else None
    result_files.atomic_write(
        path, lambda p: fig.savefig(p, dpi=110, bbox_inches=tight, format="png")
    )
    import matplotlib.pyplot as plt  # only to release figures made with pyplot (claims)

    plt.close(fig)
    return path


def colour_limits(values: np.ndarray, bounds: tuple[float, float] | None = None):
    """(vmin, vmax) over the finite values; a constant map gets a unit-wide range from it
    (all zeros: 0…1), `bounds` (e.g. a rate's 0…1) when given."""
    if bounds is not None:
        return bounds
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return (lo, lo + 1.0) if lo >= 0 else (lo - 1.0, lo)
    return lo, hi


def heatmap(
    runs: pd.DataFrame,
    column: str | None = None,
    title: str | None = None,
    higher_is_better: bool | None = None,
    bounds: tuple[float, float] | None = None,
    how: str = "median",
) -> Figure:
    """loss × λ heatmap of the `how` (median, mean) over seeds of `column` (default: the test
    metric), one panel per combination of the other swept axes, all on one colour scale."""
    metric = test_metric(runs)
    column = column or f"final_{metric}"
    if higher_is_better is None:
        higher_is_better = metric == "test_accuracy" and column == f"final_{metric}"
    facets = _facets(runs, ("loss", STRENGTH))
    tables = [
        f.pivot_table(index="loss", columns=STRENGTH, values=column, aggfunc=how, dropna=False)
        for _, f in facets
    ]
    values = np.concatenate([t.to_numpy(dtype=float).ravel() for t in tables])
    norm = Normalize(*colour_limits(values, bounds))
    cmap = "viridis" if higher_is_better else "viridis_r"
    fig = Figure(figsize=(5.5 * len(facets) + 1.0, 3.8), layout="constrained")
    axes = fig.subplots(1, len(facets), squeeze=False)[0]
    for ax, (facet, _), table in zip(axes, facets, tables, strict=True):
        grid = table.to_numpy(dtype=float)
        image = ax.imshow(grid, aspect="auto", cmap=cmap, norm=norm)
        ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns], rotation=45)
        ax.set_yticks(range(table.shape[0]), table.index)
        for (i, j), value in np.ndenumerate(grid):
            bright = norm(value) > 0.5 if higher_is_better else norm(value) < 0.5
            color = "k" if bright else "w"  # readable on viridis' yellow end
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7, color=color)
        ax.set_xlabel("λ (penalty_strength)")
        ax.set_title(f"{facet}".strip() or None, fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.9)  # one bar: the panels share `norm`
    fig.suptitle(f"{title or column}: {how} {seeds_phrase(runs)}", fontsize=10)
    return fig


def _style(i: int) -> dict:
    return {"linestyle": LINESTYLES[i % len(LINESTYLES)], "marker": MARKERS[i % len(MARKERS)],
            "markevery": 0.1, "markersize": 4}


def _at_smallest_strength(runs: pd.DataFrame):
    """(smallest λ, its runs, their panels): what the curve figures draw."""
    lam = runs[STRENGTH].min()
    chosen = runs[runs[STRENGTH] == lam]
    return lam, chosen, _facets(chosen, ("loss", STRENGTH))


def curves_figure(runs: pd.DataFrame, curves: pd.DataFrame, column: str, log: bool) -> Figure:
    """`column` over steps at the smallest λ: per loss the median over seeds, band min–max over
    seeds; one panel per combination of the other swept axes."""
    lam, chosen, facets = _at_smallest_strength(runs)
    fig = Figure(figsize=(5.5 * len(facets), 3.8), layout="constrained")
    axes = fig.subplots(1, len(facets), squeeze=False, sharey=True)[0]
    for ax, (facet, frame) in zip(axes, facets, strict=True):
        for i, (loss, members) in enumerate(frame.groupby("loss", sort=True)):
            by_step = curves[curves["run_id"].isin(members["run_id"])].groupby("step")[column]
            median = by_step.median()
            (line,) = ax.plot(median.index, median.to_numpy(), label=loss, **_style(i))
            ax.fill_between(median.index, by_step.min().to_numpy(), by_step.max().to_numpy(),
                            color=line.get_color(), alpha=0.15)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(column)
        ax.set_title(facet or None, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{column} at λ={lam:g}: median and min–max {seeds_phrase(chosen)}", fontsize=10)
    return fig


def _curvature_series(curves: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, label suffix) of the curvature curves present: the power iteration's sharpness
    (else Lanczos's top eigenvalue) and Adam's preconditioned sharpness."""
    top = "sharpness" if "sharpness" in curves else "hessian_eig_1"
    out = [(top, "")]
    if "preconditioned_sharpness" in curves and curves["preconditioned_sharpness"].notna().any():
        out.append(("preconditioned_sharpness", ", P^-1/2 H P^-1/2"))
    return out


def _stability_thresholds(frame: pd.DataFrame) -> list[tuple[float, str]]:
    """(value, label) of each edge of stability that applies to the panel's runs: 2/lr for SGD
    (Cohen et al. 2021), (2+2β)/lr for heavy-ball momentum when β is in the table, Adam's
    preconditioned threshold (2+2β1)/((1−β1)·lr) (Cohen et al. 2022; 38/lr at β1 = 0.9)."""
    out = []
    for (optimizer, lr), members in frame.groupby(["optimizer", "learning_rate"], sort=True):
        if optimizer == "sgd":
            out.append((2.0 / lr, f"2/lr ({lr:g})"))
        elif optimizer == "momentum" and "momentum" in members:
            for beta in sorted(members["momentum"].unique()):
                out.append(((2.0 + 2.0 * beta) / lr, f"(2+2β)/lr ({lr:g}, β={beta:g})"))
        elif "adam_threshold" in members:
            for value in sorted(members["adam_threshold"].dropna().unique()):
                out.append((value, f"Adam (2+2β1)/((1−β1)lr) ({lr:g})"))
    return out


def sharpness_curves(runs: pd.DataFrame, curves: pd.DataFrame) -> Figure:
    """Top Hessian eigenvalue (and, for Adam, the preconditioned sharpness, dotted-thin) over
    steps per loss (median over seeds) against each edge of stability that applies (no 2/lr for
    adaptive optimizers), one panel per combination of the other swept axes (lr among them)."""
    lam, chosen, facets = _at_smallest_strength(runs)
    series = _curvature_series(curves)
    fig = Figure(figsize=(4.8 * len(facets), 3.6), layout="constrained")
    axes = fig.subplots(1, len(facets), squeeze=False)[0]
    for ax, (facet, frame) in zip(axes, facets, strict=True):
        for i, (loss, members) in enumerate(frame.groupby("loss", sort=True)):
            mine = curves[curves["run_id"].isin(members["run_id"])]
            for j, (column, suffix) in enumerate(series):
                median = mine.dropna(subset=[column]).groupby("step")[column].median()
                ax.plot(median.index, median.to_numpy(), label=loss + suffix,
                        **_style(i), lw=1.5 / (1 + j))
        for value, label in _stability_thresholds(frame):
            ax.axhline(value, color="k", ls="--", lw=1, label=label)
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("step")
        ax.set_ylabel("top Hessian eigenvalue (L2 term included)")
        ax.set_title(facet or None, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"sharpness at λ={lam:g}: median {seeds_phrase(chosen)}", fontsize=10)
    return fig


# Hatches of a censored max-stable-lr bar and their legend entries: the true limit lies outside
# the swept lr range, so the bar is a bound, not a measurement.
CENSORED_ABOVE = ("//", "at the edge of the swept range (limit ≥ the bar)")
CENSORED_BELOW = ("xx", "every lr diverged (limit < the smallest lr swept)")


def _censoring(values: np.ndarray, lrs: np.ndarray) -> tuple[np.ndarray, list]:
    """(bar heights, hatch per bar): a limit at the largest lr swept is censored above; NaN (no
    stable lr) is drawn to the smallest lr swept, censored below."""
    heights = np.where(np.isnan(values), lrs.min(), values)
    hatches = [CENSORED_BELOW[0] if np.isnan(v) else CENSORED_ABOVE[0] if v >= lrs.max()
               else None for v in values]
    return heights, hatches


def max_stable_lr_bars(groups: pd.DataFrame) -> Figure:
    """Largest lr in the grid at which no seed diverged, per loss at the smallest λ, one bar per
    combination of the other swept axes (groups.csv's max_stable_lr). A bar at the largest lr
    swept (the limit is at least that) or with no stable lr (below the smallest) is censored:
    hatched, with a legend entry saying which."""
    lam = groups[STRENGTH].min()
    lrs = groups["learning_rate"].to_numpy(dtype=float)
    frame = groups[groups[STRENGTH] == lam].drop(columns="learning_rate", errors="ignore")
    keys = groups.columns[: groups.columns.get_loc("runs")]  # group_table puts its keys first
    other = [k for k in keys if k not in ("loss", STRENGTH, "learning_rate")
             and frame[k].nunique(dropna=False) > 1]
    table = frame.drop_duplicates(["loss", *other]).pivot_table(
        index="loss", columns=other or None, values="max_stable_lr", aggfunc="first",
        dropna=False) if other else frame.groupby("loss", sort=True)[["max_stable_lr"]].first()
    fig = Figure(figsize=(1.2 * len(table) * max(1, table.shape[1]) ** 0.5 + 2, 3.6),
                 layout="constrained")
    ax = fig.subplots()
    width = 0.8 / table.shape[1]
    used = set()
    for j, name in enumerate(table.columns):
        heights, hatches = _censoring(table[name].to_numpy(dtype=float), lrs)
        bars = ax.bar(np.arange(len(table)) + j * width, heights, width,
                      label=str(name) if other else None)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        used |= set(hatches)
    ax.set_xticks(np.arange(len(table)) + 0.4 - width / 2, table.index, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("max stable learning rate")
    handles = ax.get_legend_handles_labels()[0] if other else []
    handles += [Patch(facecolor="none", edgecolor="k", hatch=hatch, label=label)
                for hatch, label in (CENSORED_ABOVE, CENSORED_BELOW) if hatch in used]
    if handles:
        ax.legend(handles=handles, title=", ".join(other) or None, fontsize=7)
    ax.set_title(f"max stable lr per loss (λ={lam:g}; no seed diverged)", fontsize=9)
    return fig


def sweep_figures(runs: pd.DataFrame, curves: pd.DataFrame, groups: pd.DataFrame | None = None
                  ) -> dict[str, tuple[str, Figure]]:
    """Every figure that applies to this sweep: name -> (PNG filename, Figure)."""
    metric = test_metric(runs)
    out = {"heatmap": ("test_metric_heatmap.png", heatmap(runs))}
    if runs["diverged"].astype(bool).any():  # all zeros says nothing; the summary says 0
        out["divergence_heatmap"] = ("divergence_heatmap.png", heatmap(
            runs.assign(diverged=runs["diverged"].astype(float)), "diverged",
            "fraction diverged", higher_is_better=False, bounds=(0.0, 1.0), how="mean",
        ))
    out |= {
        "frac_increase_heatmap": ("frac_increase_heatmap.png", heatmap(
            runs, "frac_increase", "frac_increase (2nd half)", higher_is_better=False,
        )),
        "test_curves": ("test_metric_curves.png",
                        curves_figure(runs, curves, metric, log=metric != "test_accuracy")),
        "grad_norm": ("grad_norm_curves.png", curves_figure(runs, curves, "grad_norm", log=True)),
    }
    if any(c in curves and curves[c].notna().any() for c in ("sharpness", "hessian_eig_1")):
        out["sharpness"] = ("sharpness_curves.png", sharpness_curves(runs, curves))
    if groups is not None and runs["learning_rate"].nunique() > 1:
        out["max_stable_lr"] = ("max_stable_lr.png", max_stable_lr_bars(groups))
    return out


def sweep_plots(runs: pd.DataFrame, curves: pd.DataFrame, outdir,
                groups: pd.DataFrame | None = None) -> dict[str, pathlib.Path]:
    """Save every figure of `sweep_figures` under `outdir` as PNG; name -> path."""
    outdir = pathlib.Path(outdir)
    return {
        name: save_png(fig, outdir / filename)
        for name, (filename, fig) in sweep_figures(runs, curves, groups).items()
    }


def selection_metric(runs: pd.DataFrame) -> tuple[str | None, bool]:
    """(runs column λ is selected on, higher_is_better): the validation metric, None without
    a validation split (the test split is never used to select)."""
    for column, higher in (("final_val_mse", False), ("final_val_accuracy", True)):
        if column in runs and runs[column].notna().any():
            return column, higher
    return None, False


def best_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """Per loss (× every swept axis but seed, λ and lr) the (λ, lr) cell with the best median
    validation metric over seeds among cells where no seed diverged; its test metric's median,
    min and max over the same seeds."""
    select, higher = selection_metric(runs)
    test = f"final_{test_metric(runs)}"
    keys = cell_keys(runs)
    tuned = [k for k in (STRENGTH, "learning_rate") if k in keys]
    outer = [k for k in keys if k not in tuned]
    cells = runs.groupby(keys, sort=True, dropna=False).agg(
        val=(select, "median"), test=(test, "median"), test_min=(test, "min"),
        test_max=(test, "max"), seeds=("run_id", "count"),
        diverged=("diverged", lambda d: int(d.astype(bool).sum())),
    ).reset_index()
    rows = []
    for _, part in cells.groupby(outer, sort=True, dropna=False):
        ok = part[part["diverged"] == 0]
        if ok.empty:  # a row of NaN settings: the summary says every cell diverged
            rows.append(part.iloc[0].copy()[outer].reindex(part.columns))
            continue
        rows.append(ok.loc[ok["val"].idxmax() if higher else ok["val"].idxmin()])
    return pd.DataFrame(rows).reset_index(drop=True)


def end_of_run_summary(runs: pd.DataFrame, workdir, paths: dict, max_lines: int = 25) -> list[str]:
    """At most `max_lines` lines: per loss the best λ (on validation) with its test metric and
    seed spread, the divergences, and where every output is."""
    select, _ = selection_metric(runs)
    test = test_metric(runs)
    n_div = int(runs["diverged"].astype(bool).sum())
    lines = []
    if select is None:
        lines.append("best λ: not selected — no validation split (set "
                     "--config.dataset.validation_fraction=0.2); the test split never selects")
    else:
        best = best_settings(runs)
        tuned = [k for k in (STRENGTH, "learning_rate") if k in cell_keys(runs)]
        lines.append(f"best {' and '.join('λ' if k == STRENGTH else 'lr' for k in tuned)} per "
                     f"loss on median {select[len('final_'):]} {seeds_phrase(runs)}; "
                     f"{test} at it: median [min, max] over the same seeds")
        outer = [k for k in cell_keys(runs) if k not in tuned]
        budget = max_lines - 4 - sum(not n.startswith("plot:") for n in paths) - 2
        for i, row in best.iterrows():
            if i == budget and len(best) > budget + 1:
                lines.append(f"  … {len(best) - budget} more: groups.csv")
                break
            where = " ".join(f"{k}={row[k]}" for k in outer)
            if pd.isna(row["val"]):
                lines.append(f"  {where}: a seed diverged in every cell; nothing selected")
                continue
            at = "  ".join(f"{'λ' if k == STRENGTH else 'lr'}={row[k]:g}" for k in tuned)
            lines.append(f"  {where}: {at}  {select[6:]} {row['val']:.4g}  {test} "
                         f"{row['test']:.4g} [{row['test_min']:.4g}, {row['test_max']:.4g}]")
    lines.append(f"divergences: {n_div} of {len(runs)} runs" + (
        " (per cell: groups.csv divergence_rate)" if n_div
        else " (no divergence heatmap: nothing diverged)"))
    plots = [pathlib.Path(p) for n, p in paths.items() if n.startswith("plot:")]
    lines.append("outputs:")
    lines += [f"  {name}: {path}" for name, path in paths.items() if not name.startswith("plot:")]
    if plots:
        lines.append(f"  plots: {plots[0].parent}/ " + ", ".join(p.name for p in plots))
    return lines[:max_lines]
