"""Fault injection (issue #13): 20 seeded trials of kills, damaged files and concurrent sweeps.

Each trial mixes, at random (a seeded RNG: every failure reproduces): damage to the workdir's
chunks (a file truncated, a byte flipped, a manifest deleted), a sweep interrupted at a random
file write (in-process: killed there, or the disk turning read-only, which must be the one-line
error) or SIGKILLed at a random moment (a real subprocess, 3 of the trials), and a second sweep
started while the first runs (the same or a different config, into the workdir or a symlink to
it) or a claims report taking the workdir's lock (refused, writing nothing); then more
damage, and a final rerun. After it the tables must be byte-identical to an uninterrupted run's,
with every run exactly once. Most trials run in-process (a subprocess costs seconds of JAX
start-up) and reuse one compiled program (what is under test is the files, not compiling); the
subprocesses use the session's persistent compilation cache, so they compile nothing either.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import tiny
from experiments import devices, engine, result_files, workdir_lock

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRIALS = 20
SUBPROCESS_TRIALS = 3
FLAGS = {"steps": 20, "log_every": 10, "chunk_size": 1, "tensorboard": False, "plots": False,
         "progress": False}
RUNS = 8  # configs/tiny.py: 2 losses x 2 λ x 2 seeds, one run per chunk
CHUNK_FILES = {f"g000-c{c:05d}.{kind}" for c in range(RUNS)
               for kind in ("runs.csv", "curves.csv", "manifest.json")}


class Killed(BaseException):
    """What a SIGKILL does in-process: stop at once (not an Exception: nothing catches it)."""


def _config(**overrides):
    config = tiny.get_config()
    config.update_from_flattened_dict({**FLAGS, **overrides})
    return config


def _tables(path: pathlib.Path) -> tuple[bytes, ...]:
    names = (result_files.RUNS_TABLE, result_files.CURVES_TABLE, result_files.GROUPS_TABLE)
    return tuple((path / name).read_bytes() for name in names)


def _damage(path: pathlib.Path, rng: np.random.Generator) -> None:
    """A random mix of: truncate a chunk file, flip a byte of one, delete a manifest."""
    files = sorted(p for p in (path / result_files.CHUNK_DIR).glob("g*") if p.stat().st_size)
    if not files:
        return
    for action in rng.permutation(["truncate", "corrupt", "unmanifest"])[: rng.integers(1, 4)]:
        target = files[rng.integers(len(files))]
        if not target.exists():
            continue
        data = bytearray(target.read_bytes())
        if action == "truncate" and data:
            target.write_bytes(data[: rng.integers(len(data))])
        elif action == "corrupt" and data:
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
            target.write_bytes(data)
        elif action == "unmanifest":
            manifests = [p for p in files if p.name.endswith(".manifest.json") and p.exists()]
            if manifests:
                manifests[rng.integers(len(manifests))].unlink()


def _interrupted_in_process(path, rng, monkeypatch, seen: set[str]) -> None:
    """A sweep stopped at a random file write (killed, or the disk turning read-only there);
    maybe a second sweep (into the workdir or a symlink to it) or a claims report (its lock)
    tried while it runs. `seen` collects the cases that happened."""
    real_replace = os.replace
    kill_at = int(rng.integers(0, 3 * RUNS + 4))
    read_only = rng.random() < 0.25
    concurrent_at = int(rng.integers(0, kill_at + 1)) if rng.random() < 0.5 else -1
    other = _config(learning_rate=3e-2) if rng.random() < 0.5 else _config()
    intruder = str(rng.choice(["sweep", "symlink", "report"]))
    calls = []

    def replace(src, dst):
        if len(calls) == concurrent_at:
            before = sorted(p.name for p in path.rglob("*"))
            with pytest.raises(workdir_lock.WorkdirLockedError, match="in use by another sweep"):
                _intrude(intruder, path, other)
            seen.add(intruder)
            assert sorted(p.name for p in path.rglob("*")) == before  # it wrote nothing
        if len(calls) == kill_at:
            if read_only:
                raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(dst))
            raise Killed
        calls.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(result_files.os, "replace", replace)
    try:
        engine.run_sweep(_config(), path)
    except Killed:
        pass
    except result_files.ResultsWriteError as e:  # the one line the command line prints
        assert read_only and "\n" not in str(e) and "Read-only file system" in str(e), str(e)
        seen.add("read-only")
    finally:
        monkeypatch.setattr(result_files.os, "replace", real_replace)


def _intrude(intruder: str, path: pathlib.Path, config) -> None:
    """A second sweep into `path` or into a symlink to it, or a claims report's lock on it."""
    if intruder == "report":  # what `python -m experiments.claims --workdir=path` takes
        with workdir_lock.held(path):
            pass
    elif intruder == "symlink":
        link = path.with_name(f"{path.name}-link")
        link.unlink(missing_ok=True)
        link.symlink_to(path)
        engine.run_sweep(config, link)
    else:
        engine.run_sweep(config, path)


def _cli(path: pathlib.Path, cache: str, log) -> subprocess.Popen:
    flags = [f"--config.{k}={v}" for k, v in FLAGS.items()]
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={path}", f"--config.compilation_cache_dir={cache}", *flags],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def _sigkilled_subprocess(path, rng, cache: str, logs: pathlib.Path) -> None:
    """A real sweep SIGKILLed at a random moment; maybe a second one started alongside."""
    first = _cli(path, cache, (logs / "first.log").open("ab"))
    second = None
    if rng.random() < 0.7:
        time.sleep(float(rng.uniform(0.0, 2.0)))
        second_log = logs / "second.log"
        second_log.unlink(missing_ok=True)
        second = _cli(path, cache, second_log.open("ab"))
    try:
        first.wait(timeout=float(rng.uniform(1.0, 6.0)))
    except subprocess.TimeoutExpired:
        first.send_signal(signal.SIGKILL)
        first.wait()
    if second is not None:
        rc = second.wait(timeout=300)
        text = second_log.read_text()
        assert "Traceback" not in text, text[-3000:]
        # Refused at once while the first ran, or it ran after the kill (and resumed).
        assert rc == 0 or (rc == 2 and "in use by another sweep" in text), text[-3000:]


@pytest.fixture
def compiled_once(monkeypatch):
    """In this process, each program is compiled once for all the trials' sweeps."""
    compiled, compile_program = {}, engine.compile_group

    def memoized(plan, program, shared=None):
        key = (json.dumps(program.config.to_dict(), sort_keys=True, default=str),
               program.losses, plan.chunk_size, plan.n_devices)
        if key not in compiled:
            compiled[key] = compile_program(plan, program)
        return compiled[key]

    monkeypatch.setattr(engine, "compile_group", memoized)


@pytest.mark.slow
def test_twenty_random_faults_end_in_the_uninterrupted_tables(tmp_path, monkeypatch,
                                                              compiled_once):
    reference = tmp_path / "reference"
    # The XLA_FLAGS the subprocesses run with (experiments.sweep.main adds this one): the
    # persistent cache keys on them, so the reference's program serves the subprocesses too (on
    # a CPU the flag changes nothing compiled).
    monkeypatch.setenv("XLA_FLAGS", devices.DETERMINISTIC_OPS_FLAG)
    engine.run_sweep(_config(), reference)
    expected = _tables(reference)
    rng = np.random.default_rng(13)
    by_subprocess = set(rng.choice(TRIALS, SUBPROCESS_TRIALS, replace=False).tolist())
    cache = jax.config.jax_compilation_cache_dir or str(tmp_path / "jax-cache")
    path = tmp_path / "w"
    seen: set[str] = set()
    for trial in range(TRIALS):
        if not path.exists() or rng.random() < 0.3:
            shutil.rmtree(path, ignore_errors=True)  # a fresh workdir: everything to compute
        _damage(path, rng)
        if trial in by_subprocess:
            _sigkilled_subprocess(path, rng, cache, tmp_path)
        else:
            _interrupted_in_process(path, rng, monkeypatch, seen)
        _damage(path, rng)
        result = engine.run_sweep(_config(), path)  # the final rerun
        assert _tables(path) == expected, f"trial {trial}"
        assert sorted(result.runs["run_id"]) == list(range(RUNS)), f"trial {trial}"
        assert len(result.curves) == RUNS * (FLAGS["steps"] // FLAGS["log_every"] + 1)
        chunks = {p.name for p in (path / result_files.CHUNK_DIR).iterdir()
                  if not p.name.startswith(".")}  # a SIGKILLed writer's temporaries may stay
        assert chunks == CHUNK_FILES, f"trial {trial}: {sorted(chunks ^ CHUNK_FILES)}"
    assert seen == {"sweep", "symlink", "report", "read-only"}, seen  # every case was tried
