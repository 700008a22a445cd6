"""The workdir lock (experiments.workdir_lock): one sweep per workdir, parts share, stale taken."""

from __future__ import annotations

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

from experiments import workdir_lock

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


def test_the_lock_wrapper_tells_two_distributed_sweeps_apart(tmp_path):
    from configs import tiny

    def part(lr):
        config = tiny.get_config()
        config.num_shards, config.learning_rate = 2, lr
        return config

    seen = []
    inner = workdir_lock.locked(lambda config, workdir: seen.append(config.learning_rate))
    with workdir_lock.held(tmp_path / "w", shared=True,
                           identity=workdir_lock.identity_of(part(1e-2))):
        inner(part(1e-2), tmp_path / "w")  # the same sweep's other shard
        with pytest.raises(workdir_lock.WorkdirLockedError, match="different distributed sweep"):
            inner(part(3e-2), tmp_path / "w")
    assert seen == [1e-2]
