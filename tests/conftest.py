"""Test-session setup shared by every test module."""

from __future__ import annotations

import tempfile

import jax

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
