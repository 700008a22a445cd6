"""Determinism on CPU, and `experiments.reproduce`: rerun a finished sweep, compare every column."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from configs import tiny
from experiments import engine, grid, plan, reproduce, result_files

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_config_round_trips_through_config_json():
    config = tiny.get_config()
    config.sweep.model.widths = ((16,), (8, 8))
    config.loss_knobs.alpha = float("-inf")
    record = json.loads(json.dumps({"config": config.to_dict()}, default=list))
    rebuilt = plan.config_from_record(record)
    assert grid.flatten(rebuilt) == grid.flatten(config)
    assert rebuilt.sweep.model.widths == ((16,), (8, 8)) and rebuilt.model.widths == (16,)


def test_unknown_field_in_config_json_is_named():
    with pytest.raises(ValueError, match=r"dataset\.colour is not in this version's config schema"):
        plan.config_from_record({"config": {"dataset": {"colour": "red"}}})


def test_compare_tables_exact_close_and_mismatch():
    recorded = pd.DataFrame({"run_id": [0, 1, 2], "loss": ["huber"] * 3,
                             "final_loss": [1.0, np.nan, 3.0], "diverged": [False, True, False]})
    rerun = recorded.copy()
    rerun["final_loss"] = [1.0, np.nan, 3.0 * (1 + 1e-6)]
    by_column = {c.column: c for c in reproduce.compare_tables("runs.csv", recorded, rerun,
                                                               rtol=1e-4, atol=0.0)}
    assert {c: by_column[c].status for c in ("run_id", "loss", "diverged")} == dict.fromkeys(
        ("run_id", "loss", "diverged"), "exact")
    assert by_column["final_loss"].status == "close"
    np.testing.assert_allclose(by_column["final_loss"].max_rel, 1e-6, rtol=1e-4)
    rerun.loc[0, "final_loss"] = 1.1
    rerun.loc[1, "loss"] = "cauchy"
    by_column = {c.column: c for c in reproduce.compare_tables("runs.csv", recorded, rerun,
                                                               rtol=1e-4, atol=0.0)}
    assert (by_column["final_loss"].status, by_column["final_loss"].mismatched) == ("MISMATCH", 1)
    np.testing.assert_allclose(by_column["final_loss"].max_abs, 0.1, rtol=1e-9)
    assert (by_column["loss"].status, by_column["loss"].mismatched) == ("MISMATCH", 1)
    (rows,) = reproduce.compare_tables("runs.csv", recorded, rerun.iloc[:2], rtol=1e-4, atol=0.0)
    assert rows.status == "MISMATCH" and "1 missing" in rows.note


@pytest.mark.slow
def test_reruns_are_bit_identical_and_reproduce_reports_tampering(tmp_path):
    config = tiny.get_config()
    config.tensorboard = config.plots = config.progress = False
    original = tmp_path / "tiny"
    engine.run_sweep(config, original)

    # Determinism: a second run in a fresh process writes the same bytes.
    into = tmp_path / "tiny-reproduce"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.reproduce", f"--workdir={original}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for table in (result_files.RUNS_TABLE, result_files.CURVES_TABLE):
        assert (original / table).read_bytes() == (into / table).read_bytes()
    assert "REPRODUCED: " in proc.stdout and " 0 close, 0 mismatched" in proc.stdout
    recorded_columns = pd.read_csv(original / result_files.RUNS_TABLE).columns
    assert all(f"runs.csv    {c:<28} exact" in proc.stdout for c in recorded_columns)

    # A changed number, and a changed library version in the record.
    runs = pd.read_csv(original / result_files.RUNS_TABLE)
    runs.loc[3, "final_test_loss"] *= 1.01
    runs.to_csv(original / result_files.RUNS_TABLE, index=False)
    record = json.loads((original / "config.json").read_text())
    record["versions"]["jax"] = "0.0.1"
    (original / "config.json").write_text(json.dumps(record))
    proc = subprocess.run(  # `into` is moved aside and the sweep rerun
        [sys.executable, "-m", "experiments.reproduce", f"--workdir={original}", f"--into={into}",
         "--overwrite"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if " final_test_loss " in ln]
    assert "MISMATCH" in line and line.split()[-1] == "1"
    assert "WARNING: library versions differ from the recorded: versions.jax: '0.0.1' ->" in (
        proc.stdout)
    assert "NOT REPRODUCED: " in proc.stdout and " 1 mismatched" in proc.stdout

    # Within a tolerance: reported as close, with its max relative difference, and exit status 0.
    rerun_value = pd.read_csv(into / result_files.RUNS_TABLE).loc[3, "final_test_loss"]
    runs.loc[3, "final_test_loss"] = rerun_value * (1 + 1e-6)
    runs.to_csv(original / result_files.RUNS_TABLE, index=False)
    report = reproduce.compare(original, into, rtol=1e-4, atol=0.0)
    assert report.ok and any("versions.jax" in w for w in report.warnings)
    (column,) = [c for c in report.columns
                 if (c.table, c.column) == (result_files.RUNS_TABLE, "final_test_loss")]
    assert column.status == "close"
    np.testing.assert_allclose(column.max_rel, 1e-6, rtol=1e-3)


def test_reproduce_asks_for_the_recorded_cpu_device_count(monkeypatch):
    # Item 5 of issue 33: a sweep recorded on 2 CPU devices was rerun on 1 (XLA's default).
    config = tiny.get_config()
    record = json.loads(json.dumps({"config": config.to_dict(), "machine": {
        "jax_backend": "cpu", "device_count": 3, "xla_flags": ""}}, default=list))
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    reproduce.use_recorded_devices(record)
    flags = os.environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_cpu_enable_fast_math=false"  # the user's flags are kept
    assert "--xla_force_host_platform_device_count=3" in flags
    assert "--xla_gpu_deterministic_ops=true" in flags  # and the config's own XLA flags
    # a count already in XLA_FLAGS is kept; a GPU sweep's count says nothing about CPU devices
    reproduce.use_recorded_devices(dict(record, machine={"jax_backend": "cpu", "device_count": 5}))
    assert "count=3" in os.environ["XLA_FLAGS"] and "count=5" not in os.environ["XLA_FLAGS"]
    monkeypatch.setenv("XLA_FLAGS", "")
    reproduce.use_recorded_devices(dict(record, machine={"jax_backend": "gpu", "device_count": 8}))
    assert "device_count=8" not in os.environ["XLA_FLAGS"]
