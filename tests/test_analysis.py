"""experiments.analysis: read-only load, fixed config in runs, long curves, compare, Figures."""

import os
import pathlib

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from configs import tiny
from experiments import analysis, engine


def _tiny(workdir, steps):
    config = tiny.get_config()
    config.steps, config.log_every = steps, 10
    config.plots = config.tensorboard = config.progress = False
    engine.run_sweep(config, workdir)
    return workdir


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    return _tiny(root / "a", 20), _tiny(root / "b", 30)


def _snapshot(workdir: pathlib.Path) -> dict:
    return {
        p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in workdir.rglob("*") if p.is_file()
    }


def test_load_is_read_only_and_carries_config(workdirs):
    workdir = workdirs[0]
    before = _snapshot(workdir)
    loaded = analysis.load(workdir)
    assert _snapshot(workdir) == before  # same files, same bytes, same mtimes
    assert loaded.axes == ("loss", "penalty_strength", "seed")
    runs = loaded.runs
    assert len(runs) == 8
    assert (runs["steps"] == 20).all() and (runs["batch_size"] == 32).all()
    assert (runs["dataset.df"] == loaded.config["dataset"]["df"]).all()
    assert set(runs["loss"]) == {"squared_error", "huber"}  # swept values are per run, not fixed
    assert "loss" not in loaded.fixed and loaded.fixed["steps"] == 20
    assert "plots" not in loaded.fixed  # execution-only fields aren't comparison fields
    assert len(loaded.groups) == len(pd.read_csv(workdir / "groups.csv"))


def test_curves_are_long_with_hyperparameters(workdirs):
    workdir = workdirs[0]
    loaded = analysis.load(workdir)
    wide = pd.read_csv(workdir / "curves.csv")
    runs = pd.read_csv(workdir / "runs.csv")
    long = loaded.curves.set_index(["run_id", "step", "metric"])
    for run_id, step in [(0, 0), (5, 10)]:
        row = wide[(wide.run_id == run_id) & (wide.step == step)].iloc[0]
        assert long.loc[(run_id, step, "test_mse"), "value"] == row["test_mse"]
        assert long.loc[(run_id, step, "test_mse"), "loss"] == runs.loc[run_id, "loss"]
    assert len(loaded.curves) == wide.drop(columns=["run_id", "step"]).notna().sum().sum()


def test_compare_aligns_on_swept_values_and_names_config_differences(workdirs):
    a, b = (analysis.load(w) for w in workdirs)
    comparison = analysis.compare(a, b)
    assert comparison.on == ("loss", "penalty_strength", "seed")
    assert comparison.config_differences == {"steps": (20, 30)}
    frame = comparison.metrics.set_index(list(comparison.on))
    key = ("huber", 0.01, 1)
    value_a = a.runs.set_index(list(comparison.on)).loc[key, "final_test_mse"]
    value_b = b.runs.set_index(list(comparison.on)).loc[key, "final_test_mse"]
    np.testing.assert_allclose(frame.loc[key, "final_test_mse_diff"], value_b - value_a)
    assert len(frame) == 8
    same = analysis.compare(a, a)
    assert same.config_differences == {} and (same.metrics["final_test_mse_diff"] == 0).all()


def test_plots_return_figures(workdirs):
    loaded = analysis.load(workdirs[0])
    fig = analysis.curves_by_loss(loaded, "test_mse")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4  # loss × λ, seeds aggregated (and said so in the title)
    assert "2 seed(s)" in ax.get_title()
    fig = analysis.metric_vs_strength(loaded)
    assert len(fig.axes[0].get_legend().get_texts()) == 2  # one line per loss
    with pytest.raises(ValueError, match="nope"):
        analysis.curves_by_loss(loaded, "nope")


def test_importing_analysis_is_cheap_it_imports_no_jax():
    # Reading tables needs pandas only; JAX (~1-9 s to import) comes with the engine.
    import subprocess
    import sys

    code = ("import sys, experiments.analysis; "
            "print(sorted(m for m in ('jax', 'flax', 'optax', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=pathlib.Path(__file__).parent.parent,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", proc.stdout


def test_tiny_docstring_counts_its_runs_and_programs():
    import re

    from experiments import plan

    described = re.search(r"= (\d+) runs in (\d+) compiled program", tiny.__doc__)
    resolved = plan.SweepPlan.resolve(tiny.get_config())
    assert described, tiny.__doc__
    assert int(described.group(1)) == sum(len(p.runs) for p in resolved.groups)
    assert int(described.group(2)) == len(resolved.groups)
