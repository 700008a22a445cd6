"""Crash safety: a killed, interrupted or disk-starved sweep resumes to the uninterrupted tables.

The reference everywhere is an uninterrupted run of the same config in this process; the
resumed tables must equal it byte for byte (so every run appears exactly once, with the same bits).
"""

from __future__ import annotations

import errno
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from configs import tiny
from experiments import engine, result_files, workdir

ROOT = pathlib.Path(__file__).resolve().parent.parent

# One program (huber), 6 runs (λ × seed), one run per chunk: 6 chunks to kill between.
FLAGS = {
    "sweep.loss": ("huber",),
    "sweep.seed": (0, 1, 2),
    "steps": 600,
    "log_every": 60,
    "chunk_size": 1,
    "tensorboard": False,
    "plots": False,
    "progress": False,
}


def _config(**overrides):
    config = tiny.get_config()
    config.update_from_flattened_dict({**FLAGS, **overrides})
    return config


def _cli_flags():
    return [f"--config.{path}={value!r}".replace("'", '"') if isinstance(value, tuple)
            else f"--config.{path}={value}" for path, value in FLAGS.items()]


def _chunk_files(path: pathlib.Path, kind: str = "runs") -> list[pathlib.Path]:
    return sorted((path / result_files.CHUNK_DIR).glob(f"*.{kind}.csv"))


def _tables(path: pathlib.Path) -> tuple[bytes, bytes]:
    runs, curves = result_files.RUNS_TABLE, result_files.CURVES_TABLE
    return (path / runs).read_bytes(), (path / curves).read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pathlib.Path:
    """An uninterrupted run of FLAGS in this process."""
    path = tmp_path_factory.mktemp("reference")
    result = engine.run_sweep(_config(), path)
    assert sorted(result.runs["run_id"]) == list(range(6))
    return path


def test_assemble_never_reads_temporary_files(tmp_path):
    runs = pd.DataFrame({"run_id": [1, 0], "final_loss": [0.5, 0.25]})
    curves = pd.DataFrame({"run_id": [1, 1, 0, 0], "step": [0, 10, 0, 10], "objective": [1.0] * 4})
    result_files.write_chunk(tmp_path, "", 0, 0, runs, curves)
    chunk_dir = tmp_path / result_files.CHUNK_DIR
    # What a writer killed mid-write leaves: mkstemp's names, half a table inside.
    (chunk_dir / ".g000-c00001.runs.csv.k3j_x1.tmp").write_text("run_id,final_loss\n7,0.")
    (chunk_dir / ".g000-c00001.curves.csv.abcdef.tmp").write_text("run_id,step,objective\n7,0,1")
    assert [p.name for p in _chunk_files(tmp_path)] == ["g000-c00000.runs.csv"]
    table_runs, table_curves = result_files.assemble(tmp_path, "")
    assert table_runs["run_id"].tolist() == [0, 1]
    assert table_curves["run_id"].tolist() == [0, 0, 1, 1]
    assert not list(tmp_path.glob(".*.tmp"))  # the assembled tables' own temporaries are gone


def _start(workdir_path: pathlib.Path, log: pathlib.Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={workdir_path}", *_cli_flags()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the sweep ended before the kill point"
        assert time.monotonic() < deadline, "kill point not reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigkilled_sweep_resumes_to_identical_tables(reference, tmp_path):
    path, log = tmp_path / "w", tmp_path / "log.txt"

    # 1. during compilation: config.json is written, no chunk has finished yet.
    proc = _start(path, log)
    _kill_when(proc, lambda: (path / "config.json").exists())
    assert not _chunk_files(path)

    # 2. mid-run: right after the second chunk's rename, while the third is being computed.
    proc = _start(path, log)
    _kill_when(proc, lambda: len(_chunk_files(path)) >= 2)
    finished = _chunk_files(path)
    assert 2 <= len(finished) < 6, log.read_text()[-3000:]

    # 3. while writing: a chunk whose curves were renamed but not its runs (killed between the
    # two renames), a half-written old temporary (cleaned) and a fresh one (only ignored).
    finished[-1].unlink()
    chunk_dir = path / result_files.CHUNK_DIR
    stale = chunk_dir / ".g000-c00005.runs.csv.dead01.tmp"
    stale.write_bytes(finished[0].read_bytes()[:40])
    old = time.time() - 2 * workdir.STALE_TMP_SECONDS
    os.utime(stale, (old, old))
    fresh = chunk_dir / ".g000-c00004.curves.csv.beef02.tmp"
    fresh.write_text("run_id,step\n99,0\n")

    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={path}", *_cli_flags()],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming the sweep" in proc.stderr
    assert _tables(path) == _tables(reference)
    runs = pd.read_csv(path / result_files.RUNS_TABLE)
    curves = pd.read_csv(path / result_files.CURVES_TABLE)
    assert sorted(runs["run_id"]) == list(range(6))
    assert not curves.duplicated(["run_id", "step"]).any() and len(curves) == 6 * 11
    assert not stale.exists() and fresh.exists()


@pytest.mark.slow
def test_workdir_of_another_sweep_is_refused_until_overwrite(tmp_path):
    path = tmp_path / "w"

    def small(**overrides):
        return _config(**{"sweep.seed": (0,), "steps": 60, **overrides})

    first = engine.run_sweep(small(), path)
    before = _tables(path)

    with pytest.raises(workdir.WorkdirError, match=r"holds a different sweep \(steps: 60 -> 120\)"):
        engine.run_sweep(small(steps=120), path)
    with pytest.raises(workdir.WorkdirError, match=r"chunk_size: 1 -> 2"):
        engine.run_sweep(small(chunk_size=2), path)
    with pytest.raises(workdir.WorkdirError, match=r"sweep\.seed: \[0\] -> \[0, 1\]"):
        engine.run_sweep(small(**{"sweep.seed": (0, 1)}), path)
    assert _tables(path) == before

    # The same sweep (execution fields aside) resumes: nothing left to compile.
    again = engine.run_sweep(small(progress=True), path)
    assert again.compiled_programs == 0 and first.compiled_programs == 1
    assert _tables(path) == before

    fresh = engine.run_sweep(small(steps=120), path, overwrite=True)
    assert fresh.compiled_programs == 1
    (moved,) = tmp_path.glob("w.old-*")
    assert _tables(moved) == before
    assert fresh.curves["step"].max() == 120
    assert pd.read_csv(moved / "curves.csv")["step"].max() == 60


def test_directory_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(workdir.WorkdirError, match=r"has no config\.json"):
        engine.run_sweep(_config(), tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_read_only_workdir_is_named_before_any_compute(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(result_files.tempfile, "mkstemp", read_only)
    message = r"can't write .*w/config\.json: Read-only"
    with pytest.raises(result_files.ResultsWriteError, match=message):
        engine.run_sweep(_config(), tmp_path / "w")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores chmod (the monkeypatched test runs)")
def test_read_only_directory_with_chmod(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(result_files.ResultsWriteError, match=r"locked/w.*Permission denied"):
            engine.run_sweep(_config(), locked / "w")
    finally:
        locked.chmod(0o700)


@pytest.mark.slow
def test_full_disk_keeps_finished_chunks_and_rerun_finishes(reference, tmp_path, monkeypatch):
    path = tmp_path / "w"
    real_replace = os.replace

    def replace_until_full(src, dst):  # the disk fills up when chunk 2's first table is written
        if "g000-c00002." in str(dst):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(result_files.os, "replace", replace_until_full)
    with pytest.raises(result_files.ResultsWriteError,
                       match=r"can't write .*g000-c00002\.curves\.csv: No space left on device"):
        engine.run_sweep(_config(), path)
    monkeypatch.setattr(result_files.os, "replace", real_replace)

    kept = _chunk_files(path)
    assert [p.name for p in kept] == ["g000-c00000.runs.csv", "g000-c00001.runs.csv"]
    for p in kept + _chunk_files(path, "curves"):
        assert p.read_bytes() == (reference / result_files.CHUNK_DIR / p.name).read_bytes()
    assert not list((path / result_files.CHUNK_DIR).glob(".*.tmp"))

    engine.run_sweep(_config(), path)
    assert _tables(path) == _tables(reference)


@pytest.mark.slow
def test_diverging_members_are_flagged_and_the_rest_is_written(tmp_path):
    config = _config(**{"sweep.loss": ("squared_error",), "sweep.learning_rate": (1e-2, 100.0),
                        "sweep.seed": (0, 1), "optimizer": "sgd", "steps": 60, "chunk_size": 8})
    result = engine.run_sweep(config, tmp_path)
    runs, curves = result.runs, result.curves
    assert sorted(runs["run_id"]) == list(range(8))
    stable = runs["learning_rate"] == 1e-2
    assert runs.loc[~stable, "diverged"].all() and (runs.loc[~stable, "diverge_step"] >= 0).all()
    assert not runs.loc[stable, "diverged"].any()
    results_columns = ["final_loss", "best_loss", "final_data_loss", "final_test_loss",
                       "best_test_loss", "final_test_mse", "param_norm_final", "grad_norm_final"]
    assert np.isfinite(runs.loc[stable, results_columns].to_numpy(np.float64)).all()
    metrics = ["objective", "data_loss", "test_loss", "test_mse", "param_norm", "grad_norm"]
    stable_curves = curves[curves["run_id"].isin(runs.loc[stable, "run_id"])]
    assert np.isfinite(stable_curves[metrics].to_numpy(np.float64)).all()


@pytest.mark.parametrize("where, target", [("w", "."), ("w/sub", ".."), ("w/sub/deeper", "../..")])
def test_overwrite_of_the_current_directory_or_an_ancestor_is_refused(tmp_path, monkeypatch,
                                                                       where, target):
    (tmp_path / where).mkdir(parents=True)
    (tmp_path / "w" / "notes.txt").write_text("mine")  # not a sweep: --overwrite would move it
    monkeypatch.chdir(tmp_path / where)
    with pytest.raises(workdir.WorkdirError) as info:
        engine.run_sweep(_config(), target, overwrite=True)
    message = str(info.value)
    assert "\n" not in message
    assert f"--workdir={target}" in message and str(tmp_path / "w") in message
    assert "current directory" in message
    assert not list(tmp_path.glob("w.old-*"))  # nothing moved aside
    assert (tmp_path / "w" / "notes.txt").read_text() == "mine"
