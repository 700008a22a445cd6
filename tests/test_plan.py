"""Resolving a config once: the checks of every layer fire first, then one grid expansion.

Regression tests for issue 12's bugs: a sharded sweep with chunk_size past the largest group, a
config refused only after config.json was written, the claims' second engine loop failing with
checkpoints, an override of a swept field silently ignored.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from configs import tiny
from experiments import engine, grid, parts, validation
from experiments.claims import trained_runs
from experiments.plan import SweepPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _config(**fields):
    """configs/tiny.py, quiet and short, with dotted fields set."""
    config = tiny.get_config()
    config.update_from_flattened_dict(
        {"tensorboard": False, "plots": False, "progress": False, "steps": 20, **fields}
    )
    return config


def _two_groups(**fields):
    """Two structural groups of 4 runs (model widths), losses fused away."""
    return _config(**{"sweep.loss": None, "sweep.model.widths": ((16,), (8,)), **fields})


def test_shards_with_chunk_size_beyond_the_largest_group_run_and_assemble(tmp_path):
    # Bug 1: sweep.py capped chunk_size at the largest group, parts.py did not.
    workdir = tmp_path / "w"
    for shard in (0, 1):
        result = engine.run_sweep(_two_groups(chunk_size=96, num_shards=2, shard=shard), workdir)
    assert sorted(result.runs["run_id"]) == list(range(8))  # the last shard assembled them all
    chunks = sorted(p.name for p in (workdir / "chunks").glob("*.runs.csv"))
    assert chunks == ["g000-c00000.runs.csv", "g001-c00000.runs.csv"]


# Bug 2: checks that lived in training.make_program and sweep.py, reached after config.json.
LATE_CHECKS = {
    "sharpness_every not a multiple of log_every": (
        {"sharpness_every": 7}, r"config\.sharpness_every=7 must be 0 \(off\) or a multiple"
    ),
    "sharpness_every not dividing steps": (
        {"sharpness_every": 40, "steps": 60},
        r"config\.sharpness_every=40 .* divides config\.steps=60",
    ),
    "sharpness without diagnostics": (
        {"sharpness_every": 10, "diagnostics": False}, r"config\.sharpness_every=10 needs"
    ),
    "spectrum_every not a multiple of log_every": (
        {"spectrum_every": 7}, r"config\.spectrum_every=7 must be 0 \(off\) or a multiple"
    ),
    "more eigenvalues than Lanczos steps": (
        {"spectrum_k": 6, "lanczos_steps": 5},
        r"config\.spectrum_k=6 must not exceed config\.lanczos_steps=5",
    ),
    "no Hutchinson probes": (
        {"hutchinson_probes": 0}, r"config\.hutchinson_probes=0 must be at least 1"
    ),
    "a density without the spectrum": (
        {"spectrum_density": True}, r"config\.spectrum_density=True needs config\.spectrum_every"
    ),
    "a one-point density grid": (
        {"density_grid": 1}, r"config\.density_grid=1 must be at least 2"
    ),
    "a zero density width": ({"density_sigma": 0.0}, r"config\.density_sigma=0.0 must be positive"),
    "no density probes": (
        {"density_probes": 0}, r"config\.density_probes=0 must be at least 1"
    ),
    "checkpoint_every not a multiple of log_every": (
        {"checkpoint_every": 15},
        r"config\.checkpoint_every=15 must be a multiple of config\.log_every=10",
    ),
    "checkpoint_every not dividing steps": (
        {"checkpoint_every": 30}, r"config\.checkpoint_every=30 .* divides config\.steps=20"
    ),
    "shard out of range": ({"num_shards": 2, "shard": 2}, r"config\.shard=2 must be in"),
    # Bug 4: --config.loss=cauchy on a config that sweeps loss was silently ignored.
    "override of a swept field": (
        {"loss": "cauchy"},
        r"config\.loss='cauchy' is ignored: config\.sweep\.loss=\('squared_error', 'huber'\) sets"
        r" it; for one value give a one-value axis: --config\.sweep\.loss=\"\('cauchy',\)\"",
    ),
}


@pytest.mark.parametrize("case", list(LATE_CHECKS))
def test_every_check_fires_before_anything_is_written(case, tmp_path):
    fields, message = LATE_CHECKS[case]
    workdir = tmp_path / "w"
    with pytest.raises(validation.ConfigError, match=message) as info:
        engine.run_sweep(_config(**fields), workdir, overridden=fields)
    assert "\n" not in str(info.value)
    assert not workdir.exists()


def test_trained_runs_with_checkpoints_equal_those_without():
    # Bug 3: claims' own engine loop called program(hyper, data), a TypeError with checkpoints.
    config = _config(**{"sweep.loss": ("squared_error",), "sweep.penalty_strength": (0.0,)})
    (plain,) = trained_runs.train(config)
    config.checkpoint_every = 10
    (segmented,) = trained_runs.train(config)
    for a, b in zip(
        jax_leaves(plain.params), jax_leaves(segmented.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(plain.frame(), segmented.frame())


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_a_sweep_in_parts_expands_its_grid_once_per_process(tmp_path, monkeypatch):
    calls = []
    real_expand = grid.expand

    def counted(config):
        calls.append(1)
        return real_expand(config)

    monkeypatch.setattr(grid, "expand", counted)
    workdir = tmp_path / "w"
    for shard in (0, 1):
        calls.clear()
        engine.run_sweep(_two_groups(chunk_size=3, num_shards=2, shard=shard), workdir)
        assert len(calls) == 1, f"shard {shard} expanded the grid {len(calls)} times"
    calls.clear()
    merged = SweepPlan.from_record(parts.record_of(workdir))  # what merge resolves
    assert len(calls) == 1 and merged.keys == [(0, 0), (0, 1), (1, 0), (1, 1)]
    calls.clear()
    trained = trained_runs.train(_two_groups())
    assert len(calls) == 1 and sum(len(g.runs) for g in trained) == 8


def test_cli_refuses_an_override_of_a_swept_field_in_one_line(tmp_path):
    workdir = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={workdir}", "--config.loss=cauchy"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("E")]
    assert len(errors) == 1 and "config.loss='cauchy' is ignored" in errors[0], errors
    assert "--config.sweep.loss=\"('cauchy',)\"" in errors[0]
    assert not workdir.exists()


def test_knob_defaults_are_the_losses_own():
    # Bug 5: the defaults were written out again in config_schema (and could drift).
    import losses
    from experiments.config_schema import base_config

    knobs = base_config().loss_knobs
    every = {k: v for name in losses.names() for k, v in losses.knobs(name).items()}
    assert knobs.to_dict() == every
    for name in losses.names():
        for knob, default in losses.knobs(name).items():
            assert knobs[knob] == default, (name, knob)
