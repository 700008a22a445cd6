"""The engine as a library: importing it, or what the claims import, defines no flag; one
table of curves that the program, the tables and TensorBoard read."""

from __future__ import annotations

import json
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_tensorboard import read_run

from configs import tiny
from experiments import curve_table, engine, result_files, tensorboard_events
from experiments.plan import SweepPlan

# Run in a fresh interpreter: this process has imported experiments.sweep (other tests), whose
# flags would be counted. Prints {module: [flag names]} for every experiments.* module that
# defined an absl flag, after importing the engine, the claims' trained runs and every claim.
_FLAGS_DEFINED = """
import importlib, json
from absl import flags
import experiments.engine, experiments.claims.trained_runs
from experiments.claims.__main__ import CLAIMS
for module in CLAIMS.values():
    importlib.import_module(module)
print(json.dumps({module: [flag.name for flag in defined]
                  for module, defined in flags.FLAGS.flags_by_module_dict().items()
                  if module.startswith("experiments")}))
"""


def test_importing_the_engine_and_the_claims_defines_no_flag():
    out = subprocess.run([sys.executable, "-c", _FLAGS_DEFINED], capture_output=True, text=True,
                         check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


def test_a_curve_added_to_the_table_reaches_curves_runs_and_tensorboard(tmp_path, monkeypatch):
    """Issue 34 item 2: one entry in curve_table.CURVES, nothing else, and the curve is in
    curves.csv, its final and best values in runs.csv and it is in TensorBoard."""
    worst = curve_table.Curve(
        "test_max_abs_error", "test/max_abs_error", "lower", "target units",
        lambda at: jnp.max(jnp.abs(at.test_predictions - at.clean_test_targets)),
        curve_table.for_task("regression"),
        final="final_test_max_abs_error", best="best_test_max_abs_error",
    )
    monkeypatch.setattr(curve_table, "CURVES", (*curve_table.CURVES, worst))
    config = tiny.get_config()
    config.update_from_flattened_dict({"steps": 20, "log_every": 10, "plots": False,
                                       "progress": False, "compilation_cache_dir": ""})
    workdir = tmp_path / "w"
    engine.run_sweep(config, workdir)
    curves = pd.read_csv(workdir / result_files.CURVES_TABLE)
    runs = pd.read_csv(workdir / result_files.RUNS_TABLE).set_index("run_id")
    by_run = curves.groupby("run_id")["test_max_abs_error"]
    # The largest error is at least the root mean square one (test_mse is over the same split).
    assert (curves["test_max_abs_error"] ** 2 >= curves["test_mse"] * (1 - 1e-6)).all()
    np.testing.assert_array_equal(runs["final_test_max_abs_error"], by_run.last())
    np.testing.assert_array_equal(runs["best_test_max_abs_error"], by_run.min())
    row = runs.iloc[0]
    run = read_run(workdir / tensorboard_events.TB_DIR / row["run_name"])
    mine = curves[curves["run_id"] == runs.index[0]]
    assert run["scalars"]["test/max_abs_error"] == [
        (s, pytest.approx(v, rel=1e-6))
        for s, v in zip(mine["step"], mine["test_max_abs_error"], strict=True)
    ]
    assert run["scalars"]["results/final_test_max_abs_error"] == [
        (20, pytest.approx(row["final_test_max_abs_error"], rel=1e-6))
    ]


def test_a_groups_config_holds_its_structure_and_no_per_run_value():
    """Issue 34 item 3: a group's config was its first run's, so `group.config.learning_rate`
    silently read run 0's learning rate. Per-run values are only in `group.hyper` (and a fused
    group's losses and noise families only in `group.losses` / `group.noises`)."""
    config = tiny.get_config()
    config.sweep.learning_rate = (1e-3, 1e-2)
    config.sweep.loss_knobs.delta = (0.5, 2.0)
    config.sweep.dataset.noise = ("gaussian", "laplace")
    config.fuse_noise = True
    (group,) = SweepPlan.resolve(config).groups
    for path in ("learning_rate", "penalty_strength", "seed", "loss_knobs.delta",
                 "dataset.noise_scale", "loss", "dataset.noise"):
        node, _, leaf = path.rpartition(".")
        with pytest.raises(AttributeError, match=leaf):
            getattr(group.config[node] if node else group.config, leaf)
    assert set(group.hyper["learning_rate"]) == {np.float32(1e-3), np.float32(1e-2)}
    assert set(group.hyper["loss_knobs.delta"]) == {0.5, 2.0}
    assert group.losses == ("squared_error", "huber")
    assert group.noises == ("gaussian", "laplace")
    assert group.config.model.widths == (16,) and group.config.optimizer == "adam"
