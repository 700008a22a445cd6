"""The same sweep gives byte-identical runs.csv and curves.csv on 1, 2 or 4 (forced CPU) devices.

Each device count runs in its own process (XLA_FLAGS=--xla_force_host_platform_device_count=N,
read once when JAX starts), through the command line a researcher uses. configs/tiny.py at a
real length: 8 runs (2 fused losses × 2 λ × 2 seeds) in chunks of 2, minibatches of 32, Adam,
500 steps. Every device executes whole chunks with the one-device program (compiled once, for
device 0, and loaded onto the others), so each run's arithmetic is the same whatever the device
count.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from experiments import result_files

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _sweep_tables(devices: int, workdir: pathlib.Path, steps: int, **flags) -> dict[str, bytes]:
    """runs.csv and curves.csv of configs/tiny.py on `devices` forced host devices."""
    overrides = {"steps": steps, "log_every": 50, "chunk_size": 2, "tensorboard": False,
                 "plots": False, "progress": False, **flags}
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={workdir}", *(f"--config.{k}={v}" for k, v in overrides.items())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{devices} device(s)" in proc.stderr  # the process saw the forced devices
    if devices > 1:  # device 0's program loaded onto the others, not compiled once per device
        assert f"program ready on {devices - 1} more device(s)" in proc.stderr
        assert "could not be loaded" not in proc.stderr
    names = (result_files.RUNS_TABLE, result_files.CURVES_TABLE)
    return {name: (workdir / name).read_bytes() for name in names}


def _assert_identical(tables: dict[int, dict[str, bytes]]) -> None:
    (one, reference), *others = tables.items()
    assert reference[result_files.RUNS_TABLE].count(b"\n") == 9  # header + 8 runs
    for devices, ours in others:
        for name, content in reference.items():
            assert ours[name] == content, f"{name}: {devices} devices differ from {one}"


def test_two_devices_write_the_one_device_tables(tmp_path):
    tables = {n: _sweep_tables(n, tmp_path / f"d{n}", steps=200) for n in (1, 2)}
    _assert_identical(tables)


@pytest.mark.slow
def test_one_two_and_four_devices_write_identical_tables_at_500_steps(tmp_path):
    tables = {n: _sweep_tables(n, tmp_path / f"d{n}", steps=500) for n in (1, 2, 4)}
    _assert_identical(tables)


@pytest.mark.slow
def test_a_rerun_loads_the_portable_program_and_a_cache_hit_still_runs(tmp_path):
    """With the persistent compilation cache: the first 2-device run keeps device 0's programs
    (the draws and the training) as bytes (devices.compile_portable), a rerun loads them on both
    devices instead of compiling; with those bytes gone, device 0 comes from JAX's own cache
    (such an executable cannot be serialized again: seen failing at run time as 'Function ...
    not found'), and device 1 then compiles for itself. All three write the same tables."""
    cache = tmp_path / "cache"
    flags = {"compilation_cache_dir": cache, "steps": 100}
    first = _sweep_tables(2, tmp_path / "first", **flags)
    portable = sorted(cache.glob("losslab-portable-*"))
    assert len(portable) == 2  # the draws and the training program
    again = _sweep_tables(2, tmp_path / "again", **flags)
    for path in portable:
        path.unlink()
    from_cache = _sweep_tables(2, tmp_path / "from_cache", **flags)
    assert first == again == from_cache
