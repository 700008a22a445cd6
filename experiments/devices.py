"""The devices a sweep runs on: XLA and JAX settings, and jax.distributed's start-up.

`config.matmul_precision` is applied while a group's program is traced (`matmul_precision`),
`config.xla_gpu_deterministic_ops`, `config.xla_optimization_level` and `config.cpu_devices`
through XLA_FLAGS, which
XLA reads once, when JAX initializes its backend (`apply_xla_flags`, called first by
`experiments.sweep.main` and the claims report). `initialize` starts
jax.distributed from the config (before the backend, too); `on_device` places the specs of a
program compiled for one local device (experiments.engine runs whole chunks, one per device);
`compile_portable` / `load_portable` compile such a program once and load it onto the others.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import os
import pathlib
import threading

import jax
import numpy as np
from absl import logging
from jax._src.lib import xla_client
from jax.experimental import serialize_executable
from ml_collections import config_dict

from experiments.validation import ConfigError

DETERMINISTIC_OPS_FLAG = "--xla_gpu_deterministic_ops=true"
XLA_DEFAULT_OPTIMIZATION_LEVEL = 3  # --xla_backend_optimization_level when XLA_FLAGS has none
CPU_DEVICES_FLAG = "xla_force_host_platform_device_count"  # config.cpu_devices
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
    address = str(config.coordinator_address)
    host, colon, port = address.rpartition(":")
    if address and not (colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(
            f"config.coordinator_address={address!r} must be host:port (e.g. 127.0.0.1:12345), "
            "or '' to let JAX detect the cluster"
        )
    try:
        jax.distributed.initialize(
            coordinator_address=address or None,
            num_processes=num_processes or None,
            process_id=None if process_id < 0 else process_id,
            shutdown_timeout_seconds=WAIT_TIMEOUT_S,
        )
    except ValueError as e:  # JAX detected no cluster to take the missing values from
        raise ConfigError(
            f"config.distributed=True: {' '.join(str(e).split())} (no Slurm, Open MPI or Cloud "
            "TPU cluster detected): give --config.coordinator_address=host:port "
            "--config.num_processes=N --config.process_id=i"
        ) from None
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
    cpu_devices = int(config.cpu_devices) or (os.cpu_count() or 1)  # 0: one per core
    if cpu_devices > 1:
        flags[CPU_DEVICES_FLAG] = f"--{CPU_DEVICES_FLAG}={cpu_devices}"
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
        if name == CPU_DEVICES_FLAG and (jax.default_backend() != "cpu" or not config.cpu_devices):
            continue  # the default (one per core) is a speed-up, not a request worth a warning
        if name not in current:
            logging.warning(
                "the config asks for %s but XLA_FLAGS lacks it: it only takes effect when set"
                " before JAX initializes (python -m experiments.sweep does this)", flag,
            )


def on_device(tree, device):
    """ShapeDtypeStructs of `tree`'s leaves, placed on `device` (to compile a program for it)."""
    sharding = jax.sharding.SingleDeviceSharding(device)
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)



# Persistent-cache hits, per thread: an executable JAX loaded from its persistent compilation
# cache cannot be serialized again (the bytes it gives lack kernels: seen with jax 0.10.2 on CPU),
# so only a fresh compile yields a portable program.
_CACHE_HITS = threading.local()


def _count_cache_hit(event: str, **_) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _CACHE_HITS.count = getattr(_CACHE_HITS, "count", 0) + 1


jax.monitoring.register_event_listener(_count_cache_hit)
PORTABLE_PREFIX = "losslab-portable-"  # files beside JAX's own in its compilation cache dir


def compile_portable(
    lowered: jax.stages.Lowered, device, options: dict | None = None
) -> tuple[jax.stages.Compiled, bytes | None]:
    """`lowered` (for `device`) compiled with XLA compile `options`, and the executable as bytes
    that `load_portable` puts on any device of the same kind (None when they cannot be had).

    With JAX's persistent compilation cache on, the bytes are also kept in its directory
    (PORTABLE_PREFIX + a hash of the program, its argument and result trees, its options, the
    versions and XLA_FLAGS), so a rerun loads them instead of compiling. Loaded programs are the
    same machine code on every device, hence the same numbers; the devices of one platform only
    differ in the device assignment.
    """
    path = _portable_path(lowered, device, options)
    if path is not None and path.exists():
        payload = path.read_bytes()
        compiled = load_portable(payload, lowered, device)
        if compiled is not None:
            return compiled, payload
    hits = getattr(_CACHE_HITS, "count", 0)
    compiled = lowered.compile(options)
    if getattr(_CACHE_HITS, "count", 0) != hits:
        return compiled, None
    try:
        payload = serialize_executable.serialize(compiled)[0]
    except Exception as error:
        logging.info("program not portable across devices (%s: %s)", type(error).__name__, error)
        return compiled, None
    if path is not None:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(payload)
            os.replace(temporary, path)
        except OSError as error:
            logging.info("not kept for a rerun: %s (%s)", path, error)
    return compiled, payload


def _portable_path(lowered: jax.stages.Lowered, device, options) -> pathlib.Path | None:
    directory = jax.config.jax_compilation_cache_dir
    if not directory:
        return None
    digest = hashlib.sha256()
    # The trees too: jit prunes unused arguments from the HLO, so two programs of one text can
    # take different argument trees, and the kept bytes carry theirs.
    for part in (lowered.as_text(), str(jax.tree_util.tree_structure(lowered.args_info)),
                 str(lowered.out_tree), jax.__version__, importlib.metadata.version("jaxlib"),
                 device.platform, device.client.platform_version, os.environ.get("XLA_FLAGS", ""),
                 repr(sorted((options or {}).items()))):
        digest.update(part.encode())
    return pathlib.Path(directory).expanduser() / f"{PORTABLE_PREFIX}{digest.hexdigest()}"


def load_portable(payload: bytes, lowered: jax.stages.Lowered,
                  device) -> jax.stages.Compiled | None:
    """The program of `payload` (compile_portable) loaded onto `device`, without compiling.

    Goes through JAX's executable serialization (as its persistent compilation cache does) and a
    private hook of it; None when that fails (another JAX version, or a backend that cannot load
    it), and the caller then compiles for the device.
    """

    class _Unpickler(serialize_executable._JaxPjrtUnpickler):
        def persistent_load(self, pid):
            if pid[0] == "exec":
                options = xla_client.CompileOptions()
                options.device_assignment = xla_client.DeviceAssignment.create(
                    np.array([[device.id]])
                )
                return self.backend.deserialize_executable(
                    pid[1],
                    executable_devices=xla_client.DeviceList((device,)),
                    compile_options=options,
                )
            if pid[0] == "device":
                return device
            return super().persistent_load(pid)

    try:
        unloaded, args_info, no_kwargs = _Unpickler(
            io.BytesIO(payload), device.client, [device]
        ).load()
        return jax.stages.Compiled(
            unloaded.load(), [], jax.tree_util.tree_flatten(lowered.args_info)[1].unflatten(
                args_info), lowered.out_tree,
            no_kwargs=no_kwargs,
        )
    except Exception as error:
        logging.info("compiling for %s: the program could not be loaded there (%s: %s)",
                     device, type(error).__name__, error)
        return None
