"""devices.compile_portable's kept bytes belong to one program: its HLO text *and* its argument
and result trees. Two programs whose HLO is the same text but whose arguments differ by unused
leaves (jit prunes them from the HLO) once shared a file; the second then failed to load it
("Too few leaves for PyTreeDef; expected 38, got 36") and compiled for every device."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from experiments import devices


def _in(directory, portable_path):
    """devices._portable_path with JAX's compilation cache directory set to `directory`."""

    def path(*args):
        before = jax.config.jax_compilation_cache_dir
        jax.config.update("jax_compilation_cache_dir", str(directory))
        try:
            return portable_path(*args)
        finally:
            jax.config.update("jax_compilation_cache_dir", before)

    return path


def test_programs_that_differ_only_in_unused_arguments_keep_separate_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "_portable_path", _in(tmp_path, devices._portable_path))
    device = jax.devices()[0]
    x = jnp.arange(3.0)
    narrow = jax.jit(lambda a: a["a"] * 2.0).lower({"a": x})
    wide = jax.jit(lambda a: a["a"] * 2.0).lower({"a": x, "unused": (x, x)})
    assert narrow.as_text() != "" and len(jax.tree_util.tree_leaves(wide.args_info)) == 3
    failures = []
    monkeypatch.setattr(logging, "info", lambda message, *args: failures.append(message % args)
                        if "could not be loaded" in message else None)
    for lowered, args in ((narrow, ({"a": x},)), (wide, ({"a": x, "unused": (x, x)},))):
        for _ in range(2):  # the second call loads the bytes the first one kept
            compiled, payload = devices.compile_portable(lowered, device)
            assert payload is not None
            np.testing.assert_array_equal(compiled(*args), 2.0 * np.arange(3.0))
    assert failures == []
    assert len(list(tmp_path.glob(f"{devices.PORTABLE_PREFIX}*"))) == 2
