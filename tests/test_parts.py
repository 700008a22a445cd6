"""Splitting a sweep into parts (shards, processes), completeness checks, device settings."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from configs import tiny
from experiments import devices, parts, result_files, workdir
from experiments.plan import Chunk, SweepPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _config(**overrides):
    config = tiny.get_config()
    config.sweep.loss = None
    config.sweep.model.widths = ((16,), (8,))  # structural: two groups of 4 runs (λ × seed)
    config.chunk_size = 3  # 4 runs per group -> chunks of 3 and 1: 4 chunks in all
    config.update_from_flattened_dict(overrides)
    return config


def _plan(**overrides) -> SweepPlan:
    return SweepPlan.resolve(_config(**overrides))


@pytest.mark.parametrize("num_units", [0, 1, 4, 7, 100])
@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_blocks_are_contiguous_and_balanced(num_units, count):
    split = parts.blocks(num_units, count)
    assert len(split) == count
    assert [i for block in split for i in block] == list(range(num_units))
    sizes = [len(block) for block in split]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("chunk_size", [3, 96])  # 96: capped at the largest group, 4
@pytest.mark.parametrize("num_shards", [1, 2, 3, 4, 6])
def test_shards_cover_every_chunk_exactly_once_with_the_same_runs(num_shards, chunk_size):
    full = _plan(chunk_size=chunk_size)
    assert full.chunk_size == min(chunk_size, 4)
    seen: dict[tuple[int, int], Chunk] = {}
    for shard in range(num_shards):
        for chunk in _plan(shard=shard, num_shards=num_shards, chunk_size=chunk_size).owned:
            assert chunk.key not in seen, f"chunk {chunk.key} in two shards"
            seen[chunk.key] = chunk
    assert list(seen) == full.keys
    for expected in full.chunks:
        assert seen[expected.key].runs == expected.runs
        for path, values in expected.hyper.items():
            np.testing.assert_array_equal(seen[expected.key].hyper[path], values)


def test_a_part_keeps_the_chunk_ids_of_the_grid():
    plan = _plan(shard=1, num_shards=3)  # blocks of the 4 chunks: [0], [1], [2, 3]
    assert [c.key for c in plan.owned] == [(0, 1)]
    assert [r.run_id for r in plan.owned[0].runs] == [3]  # group 0 holds runs 0 to 3


@pytest.mark.parametrize(("shard", "num_shards"), [(2, 2), (-1, 2), (0, 0)])
def test_shard_out_of_range_is_refused(shard, num_shards):
    with pytest.raises(ValueError, match=f"num_shards={num_shards}"):
        _plan(shard=shard, num_shards=num_shards)


def test_part_indices_combine_shards_and_processes():
    part = parts.Part(index=5, count=6, processes=2)  # shard 2, process 1
    assert part.process_index == 1 and list(part.job_parts) == [4, 5]
    assert part.name == "part-00005-of-00006"


def _write_fake_chunk(workdir, plan, group_id, chunk_id):
    frame = pd.DataFrame({"run_id": [group_id * 10 + chunk_id]})
    result_files.write_chunk(workdir, plan.digest, group_id, chunk_id, frame, frame.assign(step=0))


def test_completeness_lists_missing_and_foreign_chunks(tmp_path):
    plan = _plan()
    keys = plan.keys
    assert keys == [(0, 0), (0, 1), (1, 0), (1, 1)]
    _write_fake_chunk(tmp_path, plan, 0, 0)
    _write_fake_chunk(tmp_path, plan, 1, 1)
    assert parts.missing_chunks(tmp_path, plan.digest, keys) == ["g000-c00001", "g001-c00000"]
    with pytest.raises(ValueError, match=r"2 of 4 chunks missing.*g000-c00001, g001-c00000"):
        parts.check_complete(plan, tmp_path)
    _write_fake_chunk(tmp_path, plan, 0, 1)
    _write_fake_chunk(tmp_path, plan, 1, 0)
    parts.check_complete(plan, tmp_path)
    _write_fake_chunk(tmp_path, plan, 2, 0)  # from a bigger grid
    with pytest.raises(ValueError, match="g002-c00000"):
        parts.check_complete(plan, tmp_path)


def test_wait_for_chunks_times_out_naming_them(tmp_path):
    with pytest.raises(ValueError, match="g000-c00002"):
        parts.wait_for_chunks(tmp_path, "", [(0, 2)], timeout_s=0.0)


def test_parts_must_agree_on_everything_but_per_part_fields(tmp_path):
    def record(**overrides):
        return {"config": _config(**overrides).to_dict(), "created": "now"}

    parts.write_part_record(tmp_path, parts.Part(0, 2), record(shard=0, num_shards=2))
    parts.write_part_record(tmp_path, parts.Part(1, 2), record(shard=1, num_shards=2))
    merged = parts.merged_record(tmp_path)
    assert merged["config"]["shard"] == 0
    assert [p["part"]["index"] for p in merged["parts"]] == [0, 1]
    rebuilt = SweepPlan.from_record(parts.record_of(tmp_path))
    assert rebuilt.identity == _plan(shard=0, num_shards=2).identity
    assert rebuilt.keys == _plan().keys
    with pytest.raises(workdir.WorkdirError, match="learning_rate"):
        parts.write_part_record(
            tmp_path, parts.Part(1, 2), record(shard=1, num_shards=2, learning_rate=0.5)
        )


def test_only_one_holder_of_the_assembly_lock(tmp_path):
    with parts.assembly_lock(tmp_path) as first:
        with parts.assembly_lock(tmp_path) as second:
            assert first and not second
    with parts.assembly_lock(tmp_path) as again:
        assert again


@pytest.mark.parametrize(("precision", "hlo"), [("default", "DEFAULT"), ("highest", "HIGHEST")])
def test_matmul_precision_reaches_the_program(precision, hlo):
    x = jnp.ones((4, 4), jnp.float32)
    with devices.matmul_precision(_config(matmul_precision=precision)):
        text = jax.jit(lambda a: a @ a).lower(x).as_text()
    assert f"precision = [{hlo}, {hlo}]" in text


def test_unknown_matmul_precision_is_refused():
    with pytest.raises(ValueError, match=r"config\.matmul_precision: unknown matmul_precision"):
        _plan(matmul_precision="fast")


def test_deterministic_ops_flag_is_appended_once(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    devices.apply_xla_flags(_config(xla_gpu_deterministic_ops=False))
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    for _ in range(2):
        devices.apply_xla_flags(_config(xla_gpu_deterministic_ops=True))
    assert os.environ["XLA_FLAGS"] == (
        "--xla_force_host_platform_device_count=2 --xla_gpu_deterministic_ops=true"
    )


def test_xla_optimization_level_flag(monkeypatch):
    """config.xla_optimization_level reaches XLA_FLAGS only when it differs from XLA's default,
    once, and never over a level the user already exported."""
    monkeypatch.setenv("XLA_FLAGS", "")
    one = {"cpu_devices": 1, "xla_gpu_deterministic_ops": False}
    devices.apply_xla_flags(_config(**one))
    assert os.environ["XLA_FLAGS"] == ""  # 3: XLA's own default, nothing to add
    for _ in range(2):
        devices.apply_xla_flags(_config(**one, xla_optimization_level=1))
    assert os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=1"
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=2")
    devices.apply_xla_flags(_config(cpu_devices=1, xla_optimization_level=1))
    assert os.environ["XLA_FLAGS"] == (
        "--xla_backend_optimization_level=2 --xla_gpu_deterministic_ops=true"
    )


def test_cpu_devices_flag(monkeypatch):
    """config.cpu_devices: 0 asks XLA for one CPU device per core, N for N; 1 adds nothing; a
    device count already in XLA_FLAGS is kept."""
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    quiet = {"xla_gpu_deterministic_ops": False}
    for value, expected in [(0, "--xla_force_host_platform_device_count=6"),
                            (3, "--xla_force_host_platform_device_count=3"), (1, "")]:
        monkeypatch.setenv("XLA_FLAGS", "")
        devices.apply_xla_flags(_config(cpu_devices=value, **quiet))
        assert os.environ["XLA_FLAGS"] == expected
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    devices.apply_xla_flags(_config(cpu_devices=2, **quiet))
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=4"
    with pytest.raises(ValueError, match=r"config\.cpu_devices=-1.*>= 0"):
        _plan(cpu_devices=-1)


def test_xla_optimization_level_is_checked():
    with pytest.raises(ValueError, match=r"xla_optimization_level.*one of 0, 1, 2, 3"):
        _plan(xla_optimization_level=4)


def test_initialize_checks_process_id():
    devices.initialize(_config())  # not distributed: nothing happens
    assert not jax.distributed.is_initialized()
    with pytest.raises(ValueError, match="process_id=2"):
        devices.initialize(_config(distributed=True, num_processes=2, process_id=2))


def test_merge_refuses_an_incomplete_sweep(tmp_path):
    record = {"config": _config(shard=0, num_shards=2).to_dict()}
    parts.write_part_record(tmp_path, parts.Part(0, 2), record)
    _write_fake_chunk(tmp_path, _plan(shard=0, num_shards=2), 0, 0)
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.merge", f"--workdir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "3 of 4 chunks missing" in proc.stderr
    assert "g000-c00001, g001-c00000, g001-c00001" in proc.stderr
    assert not (tmp_path / result_files.RUNS_TABLE).exists()
