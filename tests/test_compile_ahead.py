"""Compiling ahead (config.compile_ahead): same tables as the sequential engine, no deadlocks.

With compile_ahead the engine compiles every group's program in worker threads while earlier
groups train, and dispatches each chunk before handing on the previous one (experiments.engine
.execute). The tables must be byte-identical to the sequential engine's; a compile error in a
worker must surface once, from the engine, and a caller that stops early must not wait for
compiles still running.
"""

from __future__ import annotations

import pathlib
import threading
import time

import numpy as np
import pytest

from configs import tiny
from experiments import engine, result_files
from experiments.plan import SweepPlan


def _two_group_config(steps: int = 20):
    """configs/tiny.py under both noise families, unfused: 2 groups (programs) of 8 runs, chunks
    of 4."""
    config = tiny.get_config()
    config.sweep.dataset.noise = ("gaussian", "student_t")
    config.fuse_noise = False
    config.steps = steps
    config.tensorboard = config.plots = config.progress = False
    config.compilation_cache_dir = ""
    return config


def test_compiling_ahead_writes_the_sequential_tables_byte_for_byte(tmp_path, monkeypatch):
    tables, compiles, last_result = {}, {False: [], True: []}, {False: {}, True: {}}
    execute, compile_program = engine.execute, engine.compile_group

    def watched(*args, **kwargs):  # when each group's last chunk was handed on
        for result in execute(*args, **kwargs):
            yield result
            last_result[ahead][result.chunk.group_id] = time.perf_counter()

    def recorded(plan, program, shared=None):  # (group, thread, start) of every compile
        compiles[ahead].append(
            (program.group_id, threading.current_thread().name, time.perf_counter())
        )
        return compile_program(plan, program, shared)

    monkeypatch.setattr(engine, "execute", watched)
    monkeypatch.setattr(engine, "compile_group", recorded)
    for ahead in (False, True):
        config = _two_group_config()
        config.compile_ahead = ahead
        workdir = tmp_path / f"ahead_{ahead}"
        result = engine.run_sweep(config, workdir)
        assert result.compiled_programs == 2
        tables[ahead] = {
            name: (workdir / name).read_bytes()
            for name in (result_files.RUNS_TABLE, result_files.CURVES_TABLE,
                         result_files.GROUPS_TABLE)
        }
    assert tables[True][result_files.RUNS_TABLE].count(b"\n") == 17  # header + 16 runs
    assert tables[True] == tables[False]
    # Sequential: group 1 compiles on the main thread after group 0's last chunk is handed on.
    # Ahead: in a worker thread, while group 0 still runs.
    (g0, t0, _), (g1, t1, start1) = compiles[False]
    assert (g0, g1) == (0, 1) and t0 == t1 == threading.current_thread().name
    assert start1 > last_result[False][0]
    (g0, t0, _), (g1, t1, start1) = compiles[True]
    assert (g0, g1) == (0, 1) and t0.startswith("losslab-compile") and t1.startswith("losslab-")
    assert start1 < last_result[True][0]


class _FakeProgram:
    """A stand-in for a compiled group: each chunk's 'metrics' is its hyperparameter seed."""

    data: dict = {}  # noqa: RUF012

    def resume_block(self, directory):
        return None

    def launch(self, hypers, directories=()):
        return [{"seed": np.asarray(h["seed"])} for h in hypers]

    def collect(self, outputs):
        return [({}, out) for out in outputs]


def _plan():
    return SweepPlan.resolve(_two_group_config())


def test_a_compile_error_in_a_worker_surfaces_once_after_the_ready_chunks(
    tmp_path, monkeypatch
):
    def compile_program(plan, program, shared=None):
        if program.group_id == 1:
            raise ValueError("cannot compile group 1")
        return _FakeProgram()

    monkeypatch.setattr(engine, "compile_group", compile_program)
    plan = _plan()
    seen = []
    with pytest.raises(ValueError, match="cannot compile group 1"):
        for result in engine.execute(plan, plan.chunks, tmp_path):
            seen.append(result.chunk.key)
    assert seen == [(0, 0), (0, 1)]  # group 0's chunks, the last one included, were handed on
    # Nothing left running: the pool's threads are gone.
    deadline = time.monotonic() + 10
    while any(t.name.startswith("losslab-compile") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a compile thread is still alive"
        time.sleep(0.01)


def test_an_error_compiling_the_first_group_is_raised_before_any_chunk(tmp_path, monkeypatch):
    def compile_program(plan, program, shared=None):
        raise RuntimeError(f"XLA failed on group {program.group_id}")

    monkeypatch.setattr(engine, "compile_group", compile_program)
    plan = _plan()
    chunk_results = engine.execute(plan, plan.chunks, tmp_path)
    with pytest.raises(RuntimeError, match="XLA failed on group 0"):
        next(chunk_results)


def test_a_caller_that_stops_does_not_wait_for_a_compile_still_running(tmp_path, monkeypatch):
    release = threading.Event()

    def compile_program(plan, program, shared=None):
        if program.group_id == 1:
            release.wait(60)  # a long compile
        return _FakeProgram()

    monkeypatch.setattr(engine, "compile_group", compile_program)
    plan = _plan()
    chunk_results = engine.execute(plan, plan.chunks, tmp_path)
    first = next(chunk_results)
    assert first.chunk.key == (0, 0)
    np.testing.assert_array_equal(first.metrics["seed"], plan.chunks[0].hyper["seed"][:4])
    t0 = time.perf_counter()
    chunk_results.close()  # what a failing caller's loop does (e.g. a full disk writing tables)
    assert time.perf_counter() - t0 < 5.0
    release.set()


def test_sequential_engine_compiles_nothing_ahead(tmp_path, monkeypatch):
    compiled = []

    def compile_program(plan, program, shared=None):
        compiled.append(program.group_id)
        return _FakeProgram()

    monkeypatch.setattr(engine, "compile_group", compile_program)
    config = _two_group_config()
    config.compile_ahead = False
    plan = SweepPlan.resolve(config)
    chunk_results = engine.execute(plan, plan.chunks, pathlib.Path(tmp_path))
    next(chunk_results)
    assert compiled == [0]  # group 1 waits for its turn
    assert [r.chunk.key for r in chunk_results] == [(0, 1), (1, 0), (1, 1)]
    assert compiled == [0, 1]
