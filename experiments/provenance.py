"""What a run directory records about where its numbers came from."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import pathlib
import platform
import subprocess
import sys

import jax

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "ml_collections", "pandas", "losslab")


def library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(repo: pathlib.Path | None = None) -> dict[str, str | bool | None]:
    """HEAD's commit and whether the tree had uncommitted changes (None outside a git checkout)."""
    repo = repo or pathlib.Path(__file__).resolve().parent.parent
    git = lambda *args: subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def machine() -> dict[str, object]:
    devices = jax.devices()
    return {
        "platform": platform.platform(),
        "processor": platform.machine(),
        "jax_backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "process_count": jax.process_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def record() -> dict[str, object]:
    return {
        "versions": library_versions(),
        "git": git_commit(),
        "machine": machine(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }
