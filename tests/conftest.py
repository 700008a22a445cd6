"""Test-session setup shared by every test module."""

from __future__ import annotations

import tempfile

import jax

# A persistent compilation cache private to this session: tests that compile the same program
# twice get the cache's speed-up, and no test sees programs from an earlier session (the
# compile-count test counts backend compilations).
jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="losslab-test-jax-cache-"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
