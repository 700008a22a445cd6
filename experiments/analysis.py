"""A finished sweep's workdir as tables for a notebook: load, compare, and figures.

  from experiments import analysis
  sweep = analysis.load("runs/tiny")      # never writes: every file keeps its bytes and mtime
  sweep.runs                              # one row per run: swept values, fixed config, metrics
  sweep.curves                            # long: run_id, step, metric, value + swept values
  analysis.compare(sweep, analysis.load("runs/other")).metrics

Figures are built with matplotlib's object API (`matplotlib.figure.Figure`, no pyplot state) so
importing this module selects no backend and a notebook's inline display keeps working; saving
is the caller's job (`fig.savefig(path)`). Importing it is cheap: it imports neither JAX nor
matplotlib (the figure functions import matplotlib when called), so reading tables takes pandas.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import TYPE_CHECKING, Any

import pandas as pd

from experiments import result_files
from experiments import workdir as workdir_lib
from experiments.config_schema import EXECUTION_FIELDS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ID_COLUMNS = ("run_id", "group_id", "run_name")
SEED = "seed"
STRENGTH = "penalty_strength"


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The tables of one workdir. `axes` are the swept config paths, in the grid's order."""

    workdir: pathlib.Path
    config: dict[str, Any]  # the resolved config (config.json's "config")
    axes: tuple[str, ...]
    fixed: dict[str, Any]  # every result-affecting config field that isn't swept, dotted paths
    runs: pd.DataFrame
    curves: pd.DataFrame
    groups: pd.DataFrame | None

    @property
    def metrics(self) -> list[str]:
        """The per-run numeric outcome columns of `runs` (not ids, swept or fixed config)."""
        config_columns = set(self.axes) | set(self.fixed) | set(ID_COLUMNS)
        return [
            c for c in self.runs.columns
            if c not in config_columns and pd.api.types.is_numeric_dtype(self.runs[c])
        ]


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return flat


def _read_tables(workdir: pathlib.Path, record: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs.csv and curves.csv, or (before assembly) the verified chunk tables concatenated in
    memory: a chunk being written, truncated or edited is left out, with a warning naming it."""
    runs_path, curves_path = workdir / result_files.RUNS_TABLE, workdir / result_files.CURVES_TABLE
    if runs_path.exists() and curves_path.exists():
        return pd.read_csv(runs_path), pd.read_csv(curves_path)
    identity = result_files.identity_digest(result_files.recorded_identity(record))
    return result_files.verified_tables(workdir, identity, skip_unverified=True)[:2]


def load(workdir: str | pathlib.Path) -> Sweep:
    """Read a sweep's workdir (config.json, runs, curves, groups) without writing anything.

    `runs` gets a column for every fixed config field (steps, batch_size, dataset.df, model.widths,
    ...) that the runs table doesn't already carry, so two sweeps' rows can be compared without
    opening config.json. Works on a sweep still running (from its finished chunks).
    """
    workdir = pathlib.Path(workdir)
    record = workdir_lib.read_record(workdir)
    config = record["config"]
    axes = tuple(path for path, _ in record.get("grid", {}).get("axes", []))
    fixed = {
        path: value
        for path, value in _flatten(config).items()
        if path.split(".")[0] not in EXECUTION_FIELDS and path not in axes
    }
    runs, wide_curves = _read_tables(workdir, record)
    runs = runs.assign(**{p: [v] * len(runs) for p, v in fixed.items() if p not in runs})
    hyper = ["run_id", *[a for a in axes if a in runs]]
    curves = (
        wide_curves.melt(id_vars=["run_id", "step"], var_name="metric", value_name="value")
        .dropna(subset=["value"])
        .merge(runs[hyper], on="run_id", how="left")
        .sort_values(["run_id", "metric", "step"], kind="stable")
        .reset_index(drop=True)
    )
    groups_path = workdir / result_files.GROUPS_TABLE
    groups = pd.read_csv(groups_path) if groups_path.exists() else None
    return Sweep(workdir, config, axes, fixed, runs, curves, groups)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """`metrics`: per shared swept value, each metric in a, in b, and b − a (`<m>_a/_b/_diff`).

    `config_differences`: fixed config fields whose values differ, path → (a's, b's); a field
    swept in one sweep and fixed in the other is listed with the swept side as "swept".
    """

    on: tuple[str, ...]
    metrics: pd.DataFrame
    config_differences: dict[str, tuple[Any, Any]]


def compare(a: Sweep, b: Sweep, metrics: list[str] | None = None) -> Comparison:
    """Align two sweeps on the swept values they share (an inner join) and difference metrics."""
    on = tuple(axis for axis in a.axes if axis in b.axes)
    if not on:
        raise ValueError(f"no shared swept axis: a sweeps {a.axes}, b sweeps {b.axes}")
    metrics = metrics or [m for m in a.metrics if m in b.metrics]
    merged = a.runs[[*on, *metrics]].merge(
        b.runs[[*on, *metrics]], on=list(on), suffixes=("_a", "_b"), validate="one_to_one"
    )
    for m in metrics:
        merged[f"{m}_diff"] = merged[f"{m}_b"].astype(float) - merged[f"{m}_a"].astype(float)
    differences = {}
    for path in sorted(set(a.fixed) | set(b.fixed) | set(a.axes) ^ set(b.axes)):
        value_a = "swept" if path in a.axes else a.fixed.get(path)
        value_b = "swept" if path in b.axes else b.fixed.get(path)
        if value_a != value_b:
            differences[path] = (value_a, value_b)
    return Comparison(on, merged.sort_values(list(on)).reset_index(drop=True), differences)


def _other_axes(sweep: Sweep, *exclude: str) -> list[str]:
    """Swept axes other than `exclude` and seed with more than one value: one line each."""
    return [
        a for a in sweep.axes
        if a not in (*exclude, SEED) and a in sweep.runs and sweep.runs[a].nunique() > 1
    ]


def _label(keys: list[str], values: tuple) -> str:  # values: grouped by the list keys
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))


def curves_by_loss(sweep: Sweep, metric: str = "test_mse", *, log: bool = False) -> Figure:
    """`metric` over steps, one line per combination of swept values other than the seed.

    Each line is the median over seeds, its band the min–max over seeds; nothing else is pooled.
    """
    frame = sweep.curves[sweep.curves["metric"] == metric]
    if frame.empty:
        have = sorted(sweep.curves["metric"].unique())
        raise ValueError(f"metric {metric!r} not in the curves; have {have}")
    keys = _other_axes(sweep) or ["loss"]
    from matplotlib.figure import Figure  # here: importing this module stays cheap

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for values, line in frame.groupby(keys, sort=True):
        stats = line.groupby("step")["value"].agg(["median", "min", "max"])
        (drawn,) = ax.plot(stats.index, stats["median"], label=_label(keys, values))
        ax.fill_between(stats.index, stats["min"], stats["max"], color=drawn.get_color(), alpha=0.2)
    seeds = sweep.runs[SEED].nunique() if SEED in sweep.runs else 1
    ax.set(xlabel="step", ylabel=metric, title=f"{metric}: median and min–max over {seeds} seed(s)")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    return fig


def metric_vs_strength(sweep: Sweep, metric: str = "final_test_mse") -> Figure:
    """Final `metric` against λ (penalty_strength), one line per other swept combination.

    Points are the median over seeds, error bars the min–max over seeds.
    """
    if STRENGTH not in sweep.runs or metric not in sweep.runs:
        raise ValueError(f"need columns {STRENGTH!r} and {metric!r} in the runs table")
    keys = _other_axes(sweep, STRENGTH) or ["loss"]
    from matplotlib.figure import Figure  # here: importing this module stays cheap

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for values, line in sweep.runs.groupby(keys, sort=True):
        stats = line.groupby(STRENGTH)[metric].agg(["median", "min", "max"])
        ax.errorbar(
            stats.index, stats["median"],
            yerr=[stats["median"] - stats["min"], stats["max"] - stats["median"]],
            marker="o", capsize=3, label=_label(keys, values),
        )
    if (sweep.runs[STRENGTH] > 0).all():
        ax.set_xscale("log")
    elif (sweep.runs[STRENGTH] >= 0).all():
        ax.set_xscale("symlog", linthresh=sweep.runs.loc[sweep.runs[STRENGTH] > 0, STRENGTH].min()
                      if (sweep.runs[STRENGTH] > 0).any() else 1.0)
    seeds = sweep.runs[SEED].nunique() if SEED in sweep.runs else 1
    ax.set(xlabel="λ (penalty_strength)", ylabel=metric,
           title=f"{metric}: median and min–max over {seeds} seed(s)")
    ax.legend(fontsize="small")
    return fig
