"""From a chunk's stacked metric arrays to rows of the runs table and the curves table.

Runs table: one row per run with its identity (run_id, group_id, run_name), every swept value
and the main fields (loss, optimizer, λ, lr, seed, noise), then per-run results (a curve's are
its `final` and `best` columns in experiments.curve_table):
  final_loss / best_loss        train objective (data loss + λ·penalty, full training set)
  final_data_loss               data loss alone
  final_test_loss / best_test_loss   the run's own loss on the held-out split
  final_test_mse                regression: squared error against the noise-free teacher
                                (synthetic data) or the held-out targets (real data)
  final_test_accuracy           classification
  final_val_mse / final_val_accuracy   the same on the validation split (when
                                config.dataset.validation_fraction > 0): what selection reads
  diverged, diverge_step        see experiments.training (diverge_step = -1 if never)
  update_norm_final, param_norm_final
  stability diagnostics         see experiments.stability (frac_increase, grad_norm_ratio, ...)
Curves table: one row per run per logged step (step 0 included) with every metric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments import curve_table
from experiments.grid import Group, Run, flatten

# Always in the runs table, swept or not, so tables from different sweeps line up.
IDENTITY_FIELDS = (
    "loss", "optimizer", "l2_mode", "penalty", "penalty_strength", "learning_rate", "seed",
    "dataset.name", "dataset.noise", "model.name",
)


def chunk_tables(config, group: Group, runs: list[Run], metrics: dict[str, np.ndarray],
                 steps: list[int], extra: dict[str, np.ndarray] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Curves `metrics[name]` are (chunk_size, len(steps)), per-run diagnostics (chunk_size,);
    padded members beyond len(runs) are dropped. `config` is the sweep's: it holds the identity
    fields a run doesn't sweep (the group's holds no per-run field).

    `extra` holds per-run scalar columns computed elsewhere (e.g. stability diagnostics).
    """
    n = len(runs)
    base = flatten(config)
    rows = []
    for run in runs:
        row = {"run_id": run.run_id, "group_id": group.group_id, "run_name": run.name}
        for path in IDENTITY_FIELDS:  # a swept one gets the run's value below, in this place
            row[path] = base[path]
        for path, value in run.swept:
            row[path] = "x".join(map(str, value)) if isinstance(value, tuple) else value
        rows.append(row)
    runs_df = pd.DataFrame(rows)

    m = {k: np.asarray(v)[:n] for k, v in metrics.items() if np.ndim(v) == 2}
    scalars = {k: np.asarray(v)[:n] for k, v in metrics.items() if np.ndim(v) == 1}
    for curve in curve_table.CURVES:  # each curve's final / best columns
        values = m.get(curve.name)
        if values is None:
            continue
        if curve.final:
            runs_df[curve.final] = values[:, -1].astype(np.float64)
        if curve.best:
            best = np.nanmax if curve.direction == "higher" else np.nanmin
            runs_df[curve.best] = best(values, axis=1).astype(np.float64)
    for name, values in (extra or {}).items():
        values = np.asarray(values)[:n]
        if name in scalars:  # fill the in-program column where the host computed a value
            values = np.where(np.isnan(values), scalars[name], values)
        scalars[name] = values
    for name, values in scalars.items():
        runs_df[name] = values.astype(np.float64) if values.dtype == np.float32 else values

    curves = {
        "run_id": np.repeat(runs_df["run_id"].to_numpy(), len(steps)),
        "step": np.tile(np.asarray(steps), n),
    }
    for name, values in m.items():
        curves[name] = values.reshape(-1).astype(np.float64 if values.dtype != bool else bool)
    return runs_df, pd.DataFrame(curves)
