"""Test-session setup shared by every test module."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile

import jax
import pytest
from hypothesis import settings

# A persistent compilation cache private to this session: tests that compile the same program
# twice get the cache's speed-up, and no test sees programs from an earlier session (the
# compile-count test counts backend compilations).
jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="losslab-test-jax-cache-"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

# `jax.enable_x64` (a context manager) is jax >= 0.8; older releases have it under
# jax.experimental. The shim lets the suite check pyproject's lower bound (jax 0.4.30).
if not hasattr(jax, "enable_x64"):
    from jax.experimental import enable_x64 as _enable_x64

    jax.enable_x64 = _enable_x64


# Hypothesis: under CI (CI=true) every run draws the same examples, so a red run is a real
# regression that reruns red, never a draw that blocks a landing once in two runs (issue 36,
# item 19); locally each run explores new ones, and an input it finds failing is kept as an
# `@example` in the test. HYPOTHESIS_PROFILE=ci reproduces CI's draws locally.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore")
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "explore")
)


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory) -> pathlib.Path:
    """`python -m experiments.claims --quick` run once per test session (its workdir): the
    report's end-to-end test and the per-claim checks of claims 1 and 4 all read this one run."""
    workdir = tmp_path_factory.mktemp("quick_report")
    result = subprocess.run(
        [sys.executable, "-m", "experiments.claims", f"--workdir={workdir}", "--quick"],
        cwd=pathlib.Path(__file__).resolve().parent.parent, capture_output=True, text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (workdir / "stderr.log").write_text(result.stderr)  # what a person saw in the terminal
    return workdir
