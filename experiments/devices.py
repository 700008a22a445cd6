"""The devices a sweep runs on: XLA and JAX settings, and jax.distributed's start-up.

`config.matmul_precision` is applied while a group's program is traced (`matmul_precision`),
`config.xla_gpu_deterministic_ops` and `config.xla_optimization_level` through XLA_FLAGS, which
XLA reads once, when JAX initializes its backend (`apply_xla_flags`, called first by
`experiments.sweep.main` and the claims report). `initialize` starts
jax.distributed from the config (before the backend, too); `on_device` places the specs of a
program compiled for one local device (experiments.sweep runs whole chunks, one per device).
"""

from __future__ import annotations

import os

import jax
from absl import logging
from ml_collections import config_dict

from experiments.validation import ConfigError

DETERMINISTIC_OPS_FLAG = "--xla_gpu_deterministic_ops=true"
XLA_DEFAULT_OPTIMIZATION_LEVEL = 3  # --xla_backend_optimization_level when XLA_FLAGS has none
# How long any process waits at the exit barrier of jax.distributed (its default, 5 minutes,
# kills every process of the job when the parts finish further apart than that, which a sweep
# with uneven groups easily does), and how long process 0 waits for its job's other processes.
# A crashed process is noticed sooner, by the coordinator's heartbeat (100 s).
WAIT_TIMEOUT_S = 12 * 3600


def initialize(config: config_dict.ConfigDict) -> None:
    """jax.distributed.initialize from the config (no-op unless config.distributed; idempotent).

    Must run before JAX initializes its backend. An empty coordinator_address, num_processes=0 or
    process_id=-1 leaves that value to JAX's cluster detection (Slurm, Open MPI, Cloud TPU, ...).
    """
    if not config.distributed or jax.distributed.is_initialized():
        return
    num_processes, process_id = int(config.num_processes), int(config.process_id)
    if num_processes < 0:
        raise ConfigError(f"config.num_processes={num_processes} must be >= 0 (0: detected)")
    if process_id < -1 or (num_processes and process_id >= num_processes):
        raise ConfigError(
            f"config.process_id={process_id} must be in [0, config.num_processes={num_processes})"
            " or -1 (detected)"
        )
    jax.distributed.initialize(
        coordinator_address=config.coordinator_address or None,
        num_processes=num_processes or None,
        process_id=None if process_id < 0 else process_id,
        shutdown_timeout_seconds=WAIT_TIMEOUT_S,
    )
    logging.info(
        "jax.distributed: process %d of %d, %d local device(s) of %d",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def matmul_precision(config: config_dict.ConfigDict):
    """Context in which the group's program is traced: config.matmul_precision for every matmul.

    'default' leaves JAX's default (on GPU and TPU float32 matmuls may then run in TF32 / bf16
    passes; 'highest' forces full float32).
    """
    value = str(config.matmul_precision)  # one of validation.NAMED_FIELDS["matmul_precision"]
    return jax.default_matmul_precision(None if value == "default" else value)


def xla_flags(config: config_dict.ConfigDict) -> dict[str, str]:
    """The XLA flags `config` asks for: flag name -> the flag as XLA_FLAGS carries it."""
    flags = {}
    if config.xla_gpu_deterministic_ops:
        flags["xla_gpu_deterministic_ops"] = DETERMINISTIC_OPS_FLAG
    level = int(config.xla_optimization_level)
    if level != XLA_DEFAULT_OPTIMIZATION_LEVEL:
        flags["xla_backend_optimization_level"] = f"--xla_backend_optimization_level={level}"
    return flags


def apply_xla_flags(config: config_dict.ConfigDict) -> None:
    """Add the flags of `xla_flags(config)` to XLA_FLAGS (a flag already there is kept as set).

    XLA reads XLA_FLAGS once, when JAX initializes its backend (the first jax.devices() or
    computation), so this only takes effect if called before that: `experiments.sweep.main` and
    the claims report call it first. From a notebook, export XLA_FLAGS before importing anything
    that uses JAX.
    """
    current = os.environ.get("XLA_FLAGS", "")
    missing = [flag for name, flag in xla_flags(config).items() if name not in current]
    if missing:
        os.environ["XLA_FLAGS"] = " ".join([current, *missing]).strip()


def check_xla_flags(config: config_dict.ConfigDict) -> None:
    """Warn when the config asks for an XLA flag that XLA_FLAGS does not carry (set too late)."""
    current = os.environ.get("XLA_FLAGS", "")
    for name, flag in xla_flags(config).items():
        if name == "xla_gpu_deterministic_ops" and jax.default_backend() != "gpu":
            continue
        if name not in current:
            logging.warning(
                "the config asks for %s but XLA_FLAGS lacks it: it only takes effect when set"
                " before JAX initializes (python -m experiments.sweep does this)", flag,
            )


def on_device(tree, device):
    """ShapeDtypeStructs of `tree`'s leaves, placed on `device` (to compile a program for it)."""
    sharding = jax.sharding.SingleDeviceSharding(device)
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
