"""A sweep split over devices, shards and processes writes the tables one process writes.

Reference: `get_config()` below (configs/tiny.py with a structural axis: 8 runs in 2 groups,
4 chunks of <= 3 runs) on one device in this process. Shards and processes run the same compiled
program on the same chunk shape, so their tables must be bitwise equal to it; so do four
devices, each running whole chunks with the one-device program.

All slow: each compile of the tiny program costs about 7 s of CPU (the reference 2, the shards 3,
the four-device process 3, the two processes 1 each); the logic of the split itself is tested
fast in test_parts.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import pandas as pd
import pytest

from configs import tiny
from experiments import engine, parts, result_files

# experiments.sweep is imported inside the tests: this file is also the subprocesses' config file,
# loaded while experiments.sweep runs as __main__ (a second import would define its flags twice).

ROOT = pathlib.Path(__file__).resolve().parent.parent


def get_config():
    """The sweep of every test here; this file is also its config file for the subprocesses."""
    config = tiny.get_config()
    config.sweep.loss = None
    config.sweep.model.widths = ((16,), (8,))  # structural: two groups of 4 runs (λ × seed)
    config.steps = 20
    config.log_every = 10
    config.chunk_size = 3  # chunks of 3 and 1 runs per group: 4 chunks in all
    config.tensorboard = config.plots = config.progress = False
    return config


def _config(**overrides):
    config = get_config()
    for key, value in overrides.items():
        config[key] = value
    return config


def _tables(workdir) -> tuple[pd.DataFrame, pd.DataFrame]:
    workdir = pathlib.Path(workdir)
    runs, curves = result_files.RUNS_TABLE, result_files.CURVES_TABLE
    return pd.read_csv(workdir / runs), pd.read_csv(workdir / curves)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):

    workdir = tmp_path_factory.mktemp("single")
    engine.run_sweep(_config(), workdir)
    return workdir


def _assert_same_files(workdir, reference):
    for table in (result_files.RUNS_TABLE, result_files.CURVES_TABLE):
        assert (workdir / table).read_bytes() == (reference / table).read_bytes(), table


@pytest.mark.slow
def test_shards_then_merge_equal_one_run(reference, tmp_path):
    """Three shards (a group split across two of them); only the last one to finish assembles."""
    from experiments.plan import SweepPlan

    shards = [engine.run_sweep(_config(shard=s, num_shards=3), tmp_path) for s in (2, 0)]
    assert [len(p.runs) for p in shards] == [4, 3]  # chunks (g1c0, g1c1) and (g0c0)
    assert not (tmp_path / result_files.RUNS_TABLE).exists()
    plan = SweepPlan.from_record(parts.record_of(tmp_path))
    with pytest.raises(ValueError, match=r"1 of 4 chunks missing.*g000-c00001"):
        engine.assemble(plan, tmp_path)

    last = engine.run_sweep(_config(shard=1, num_shards=3), tmp_path)  # g0c1: sees all, assembles
    assert last.compiled_programs == 1 and len(last.runs) == 8
    _assert_same_files(tmp_path, reference)

    record = json.loads((tmp_path / "config.json").read_text())
    single = json.loads((reference / "config.json").read_text())
    assert record["grid"] == single["grid"] and record["chunk_size"] == 3
    assert [p["part"]["index"] for p in record["parts"]] == [0, 1, 2]
    # precision and determinism settings are part of the recorded config
    assert record["config"]["matmul_precision"] == "highest"
    assert record["config"]["xla_gpu_deterministic_ops"] is True

    (tmp_path / result_files.RUNS_TABLE).unlink()
    merged = engine.assemble(plan, tmp_path)  # what `python -m experiments.merge` runs
    assert len(merged.runs) == 8
    _assert_same_files(tmp_path, reference)


_FOUR_DEVICES = """
import json, sys
import jax
sys.path.insert(0, "tests")
from test_sharding import get_config
from experiments import engine
from experiments.plan import SweepPlan
config = get_config()
engine.run_sweep(config, sys.argv[1])
plan = SweepPlan.resolve(config, jax.local_device_count())
program = engine.compile_group(plan, plan.groups[0])
chunks = [c for c in plan.chunks if c.group_id == 0]
program([c.hyper for c in chunks])
print(json.dumps({"devices": jax.device_count(), "compiled_on": sorted(program._on)}))
"""


def _cpu_only() -> None:
    """Skip on an accelerator: the test compares subprocesses on (fake) CPU devices or CPU
    collectives with the in-process reference, which must then run on the CPU too. (Not a
    skipif mark: evaluating it would initialize JAX's backend when the subprocesses load this
    file as their config, before jax.distributed.initialize.)"""
    import jax

    if jax.default_backend() != "cpu":
        pytest.skip("compares CPU subprocesses with an in-process run")


@pytest.mark.slow
def test_four_devices_match_one_device(reference, tmp_path):
    _cpu_only()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    proc = subprocess.run(
        [sys.executable, "-c", _FOUR_DEVICES, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["devices"] == 4
    assert report["compiled_on"] == [0, 1]  # group 0's two chunks ran on two devices at once
    _assert_same_files(tmp_path, reference)  # whole chunks per device: bitwise equal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one_process(reference, tmp_path):
    _cpu_only()
    """jax.distributed on localhost: each process runs half the chunks, process 0 assembles."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "experiments.sweep",
                f"--config={__file__}",
                f"--workdir={tmp_path}",
                "--config.distributed=True",
                f"--config.coordinator_address={address}",
                "--config.num_processes=2",
                f"--config.process_id={i}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert "process 1 of 2" in outputs[1][1]
    assert "summary" in outputs[0][1] and "summary" not in outputs[1][1]  # 0 assembles
    _assert_same_files(tmp_path, reference)
    record = json.loads((tmp_path / "config.json").read_text())
    assert [p["part"]["index"] for p in record["parts"]] == [0, 1]
