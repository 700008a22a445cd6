"""scripts/slurm_array.sh sizes its array from the sweep's plan (issue 33 item 6)."""

from __future__ import annotations

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _submit(tmp_path, *args, **env):
    """Run the script as a user submits it, with an `sbatch` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "sbatch.args"
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n')
    (bin_dir / "sbatch").chmod(0o755)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    environ.update(PATH=f"{bin_dir}:{environ['PATH']}", **env)
    proc = subprocess.run(["bash", str(ROOT / "scripts/slurm_array.sh"), *args], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return log.read_text().splitlines()


def test_array_has_one_task_per_chunk_of_the_default_sweep(tmp_path):
    args = _submit(tmp_path)
    assert args[0] == "--array=0-3"  # configs/default.py: 240 runs in chunks of 96 -> 4 chunks
    assert args[2] == str(ROOT / "scripts/slurm_array.sh")


def test_array_follows_the_flags_and_max_tasks(tmp_path):
    args = _submit(tmp_path, "--config.chunk_size=2", CONFIG="configs/tiny.py", MAX_TASKS="3")
    assert args[0] == "--array=0-2"  # tiny: 8 runs in chunks of 2 -> 4 chunks, capped at 3
    assert "CONFIG=configs/tiny.py" in args[1] and args[3:] == ["--config.chunk_size=2"]
