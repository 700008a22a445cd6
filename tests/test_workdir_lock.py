"""The workdir lock (experiments.workdir_lock): one sweep per workdir, parts share, stale taken."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest
from absl import logging

from experiments import engine, workdir_lock
from experiments.plan import SweepPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent
_HOLD = ("import sys, time; from experiments import workdir_lock\n"
         "with workdir_lock.held(sys.argv[1]):\n"
         "    print('held', flush=True); time.sleep(600)\n")


def test_second_sweep_into_a_locked_workdir_exits_2_naming_the_holder(tmp_path):
    workdir = tmp_path / "w"
    with workdir_lock.held(workdir):
        proc = subprocess.run(
            [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
             f"--workdir={workdir}", "--config.tensorboard=False", "--config.plots=False"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "in use by another sweep" in line]
    assert len(errors) == 1, proc.stderr
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not workdir.exists()  # refused before anything was written


def test_lock_is_exclusive_and_released_after_the_block(tmp_path):
    workdir = tmp_path / "w"
    with workdir_lock.held(workdir), pytest.raises(workdir_lock.WorkdirLockedError,
                                                   match=f"pid {os.getpid()}"):
        with workdir_lock.held(workdir):
            pass
    with workdir_lock.held(workdir):  # released: taken again
        pass


def test_parts_of_a_distributed_sweep_share_the_lock_and_a_plain_sweep_is_refused(tmp_path):
    workdir = tmp_path / "w"
    with workdir_lock.held(workdir, shared=True), workdir_lock.held(workdir, shared=True):
        with pytest.raises(workdir_lock.WorkdirLockedError):
            with workdir_lock.held(workdir):
                pass
    with workdir_lock.held(workdir), pytest.raises(workdir_lock.WorkdirLockedError):
        with workdir_lock.held(workdir, shared=True):
            pass


def test_stale_lock_of_a_killed_sweep_is_taken_over_with_a_log_line(tmp_path, monkeypatch):
    workdir = tmp_path / "w"
    child = subprocess.Popen([sys.executable, "-c", _HOLD, str(workdir)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(workdir_lock.WorkdirLockedError, match=f"pid {child.pid} "):
        with workdir_lock.held(workdir):
            pass
    child.send_signal(signal.SIGKILL)
    child.wait()
    time.sleep(0.05)
    warnings: list[str] = []
    monkeypatch.setattr(logging, "warning", lambda msg, *a: warnings.append(msg % a))
    with workdir_lock.held(workdir) as path:
        holder = json.loads(path.read_text())
    assert holder["pid"] == os.getpid()
    assert len(warnings) == 1 and f"pid {child.pid} " in warnings[0] and "stale" in warnings[0]


def test_parts_of_a_different_distributed_sweep_are_refused_naming_the_holder(tmp_path):
    workdir = tmp_path / "w"
    with workdir_lock.held(workdir, shared=True, identity="sweep-a"):
        with workdir_lock.held(workdir, shared=True, identity="sweep-a"):  # its other part
            pass
        with pytest.raises(workdir_lock.WorkdirLockedError,
                           match=rf"different distributed sweep.*pid {os.getpid()} "):
            with workdir_lock.held(workdir, shared=True, identity="sweep-b"):
                pass
    with workdir_lock.held(workdir, shared=True, identity="sweep-b"):  # released: b may start
        pass


def test_the_sweep_lock_tells_two_distributed_sweeps_apart(tmp_path):
    from configs import tiny

    def part(lr):
        config = tiny.get_config()
        config.num_shards, config.learning_rate = 2, lr
        return SweepPlan.resolve(config)

    with workdir_lock.held(tmp_path / "w", shared=True, identity=part(1e-2).digest):
        with workdir_lock.sweep_lock(part(1e-2), tmp_path / "w"):  # the same sweep's other shard
            pass
        with pytest.raises(workdir_lock.WorkdirLockedError, match="different distributed sweep"):
            with workdir_lock.sweep_lock(part(3e-2), tmp_path / "w"):
                pass


def test_a_symlink_to_a_busy_workdir_is_refused(tmp_path):
    """Issue 36 item 6: the lock is keyed on the resolved directory, not the path as given."""
    workdir = tmp_path / "w"
    workdir.mkdir()
    (tmp_path / "link").symlink_to(workdir)
    with workdir_lock.held(workdir), pytest.raises(workdir_lock.WorkdirLockedError,
                                                   match=f"pid {os.getpid()} "):
        with workdir_lock.held(tmp_path / "link"):
            pass
    assert workdir_lock.lock_path(tmp_path / "link" / ".." / "w") == workdir_lock.lock_path(
        workdir)


def test_a_finished_holder_leaves_no_stale_record(tmp_path, monkeypatch):
    """Issue 36 item 5: a rerun after a sweep that ended normally warns of no stale lock."""
    workdir = tmp_path / "w"
    child = subprocess.run([sys.executable, "-c", _HOLD.replace("600", "0"), str(workdir)],
                           cwd=ROOT, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert child.returncode == 0, child.stderr
    warnings: list[str] = []
    monkeypatch.setattr(logging, "warning", lambda msg, *a: warnings.append(msg % a))
    with workdir_lock.held(workdir):
        pass
    assert warnings == []


def test_a_full_disk_while_recording_the_holder_is_one_error_naming_the_lock(tmp_path,
                                                                               monkeypatch):
    """Issue 36 item 8: ENOSPC from os.write becomes ResultsWriteError (exit 1, one line)."""
    from experiments import result_files

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(workdir_lock.os, "write", full)
    with pytest.raises(result_files.ResultsWriteError,
                       match=r"can't write the workdir lock .*\.w\.lock: No space left on device"):
        with workdir_lock.held(tmp_path / "w"):
            pass


def test_a_refused_config_creates_no_directory_and_no_lock(tmp_path):
    """Issue 36 item 5: the config is checked before the workdir is locked."""
    from configs import tiny
    from experiments import validation

    config = tiny.get_config()
    config.steps = -1
    workdir = tmp_path / "missing" / "w"
    with pytest.raises(validation.ConfigError, match=r"config\.steps=-1"):
        engine.run_sweep(config, workdir)
    assert list(tmp_path.iterdir()) == []


def test_two_claims_reports_into_one_workdir_are_refused(tmp_path):
    """Issue 36 item 7: the report's workdir is locked as a sweep's is."""
    workdir = tmp_path / "claims"
    with workdir_lock.held(workdir):
        proc = subprocess.run(
            [sys.executable, "-m", "experiments.claims", f"--workdir={workdir}", "--quick",
             "--only=claim2"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "in use by" in line]
    assert len(errors) == 1 and f"pid {os.getpid()} " in errors[0], proc.stderr[-3000:]
    assert not workdir.exists()
