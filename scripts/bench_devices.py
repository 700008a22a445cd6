r"""Whole chunks per device (the engine) vs one chunk split over the devices (before issue #18).

  python scripts/bench_devices.py                 # 4 forced host devices, the anchor sweep
  python scripts/bench_devices.py --devices=2 --repeats=7
  python scripts/bench_devices.py --quick         # 200 steps, 3 repetitions

On CPU the devices are forced with `--xla_force_host_platform_device_count` (set here, before JAX
starts); on a GPU machine the real local devices are used. The anchor sweep (configs/anchor.py,
96 runs, one fused program) is executed four ways, interleaved in one process, `--repeats` times
(medians reported):

* engine, n devices: `engine.compile_group` with the plan's devices: chunk i of a wave on device
  i, each device running the one-device program (byte-identical to one device, issue #18),
  compiled once for device 0 and loaded onto the others (`devices.load_portable`);
* engine, 1 device: the same chunks one after another on device 0;
* split chunks (the engine before #18): each chunk's runs sharded over the n devices with
  `NamedSharding(Mesh(devices, ("runs",)), P("runs"))`, data replicated, one call per chunk: at
  the same chunk_size (when n divides it), and at n × chunk_size, which gives every device the
  engine's per-device shape (chunk_size runs), the like-for-like comparison;
* split sweep: one chunk of all 96 runs split over the devices.

Compile time is measured once per arm and excluded from the execute medians; "total" is compile
plus the execute median, a cold sweep's time. The last line is machine-readable: `bench_devices:
... split_same_chunk_total_vs_engine=<(compile + execute) of the split chunks / the engine's>`
(> 1: the engine is faster; the engine before #18 at the same chunk_size),
split_same_per_device_shape_vs_engine (execute alone, like-for-like shapes).
"""

from __future__ import annotations

import os
import pathlib
import statistics
import sys
import time

from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

_DEVICES = flags.DEFINE_integer("devices", 4, "Forced host devices (CPU only).")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Interleaved repetitions (medians reported).")
_QUICK = flags.DEFINE_bool("quick", False, "200 steps and 3 repetitions.")
_CHUNK = flags.DEFINE_integer("chunk_size", 24, "Runs per chunk (96 runs: 4 chunks of 24).")


def main(argv):
    del argv
    flag = f"--xla_force_host_platform_device_count={_DEVICES.value}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()
    import jax
    import numpy as np

    from experiments import engine as engine_lib
    from experiments import shipped_configs, training
    from experiments.plan import SweepPlan

    config = shipped_configs.load("anchor").get_config()
    config.chunk_size = _CHUNK.value
    repeats = 3 if _QUICK.value else _REPEATS.value
    if _QUICK.value:
        config.steps = 200
    n = jax.local_device_count()
    plan_n = SweepPlan.resolve(config, n)
    plan_1 = SweepPlan.resolve(config, 1)
    [program] = plan_n.groups
    mesh = jax.sharding.Mesh(np.asarray(jax.local_devices()), ("runs",))
    runs_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def engine(plan):
        t = time.perf_counter()
        compiled = engine_lib.compile_group(plan, program)
        compiled._ready(plan.n_devices)
        compile_s = time.perf_counter() - t

        def execute():
            finals = []
            for first in range(0, len(plan.chunks), plan.n_devices):
                wave = plan.chunks[first: first + plan.n_devices]
                for (_, metrics), chunk in zip(compiled([c.hyper for c in wave]), wave,
                                               strict=True):
                    finals.append(np.asarray(metrics["objective"])[: len(chunk.runs), -1])
            return np.concatenate(finals)

        return compile_s, execute

    def split(chunks):
        pieces = training.make_program(
            program.config, plan_n.dataset(program), program.losses, program.noises
        )
        data = jax.device_put(training.data_arrays(plan_n.dataset(program)), replicated)
        size = len(chunks[0].hyper[next(iter(chunks[0].hyper))])
        spec = {
            path: jax.ShapeDtypeStruct((size,), values.dtype, sharding=runs_sharding)
            for path, values in program.hyper.items()
        }
        t = time.perf_counter()
        run = jax.jit(jax.vmap(pieces.run, in_axes=(0, None))).lower(spec, data).compile()
        compile_s = time.perf_counter() - t

        def execute():
            finals = []
            for chunk in chunks:
                _, metrics = run(jax.device_put(chunk.hyper, runs_sharding), data)
                finals.append(np.asarray(metrics["objective"])[: len(chunk.runs), -1])
            return np.concatenate(finals)

        return compile_s, execute

    def chunks_of(size: int):
        resized = config.copy_and_resolve_references()
        resized.chunk_size = size
        return SweepPlan.resolve(resized, 1).chunks

    c = plan_n.chunk_size
    arms = {
        f"engine, {n} devices (whole chunks of {c})": engine(plan_n),
        f"engine, 1 device (chunks of {c})": engine(plan_1),
    }
    if c % n == 0:
        arms[f"split chunks of {c} over {n} devices (before #18)"] = split(plan_n.chunks)
    arms[f"split chunks of {n * c} over {n} devices ({c} runs per device)"] = split(
        chunks_of(n * c)
    )
    runs = len(program.runs) + (-len(program.runs)) % n
    arms[f"split sweep, 1 chunk of {runs} over {n} devices"] = split(chunks_of(runs))
    times = {name: [] for name in arms}
    finals = {}
    for name, (_, execute) in arms.items():  # warm-up: first dispatch, allocations
        finals[name] = execute()
    for _ in range(repeats):
        for name, (_, execute) in arms.items():
            t = time.perf_counter()
            execute()
            times[name].append(time.perf_counter() - t)
    reference = next(iter(finals.values()))
    print(f"{len(reference)} runs, {config.steps} steps, {n} devices ({jax.devices()[0].platform}),"
          f" {repeats} repetitions, load average {os.getloadavg()[0]:.1f}")
    print(f"{'arm':<52} {'compile s':>9} {'execute s':>9} {'/ engine':>8} {'total s':>8} "
          f"{'/ engine':>8} {'identical':>9}")
    first = next(iter(arms))
    base = statistics.median(times[first])
    total = {name: compile_s + statistics.median(times[name])
             for name, (compile_s, _) in arms.items()}
    for name, (compile_s, _) in arms.items():
        median = statistics.median(times[name])
        same = bool(np.array_equal(finals[name], reference))
        print(f"{name:<52} {compile_s:>9.2f} {median:>9.2f} {median / base:>8.2f} "
              f"{total[name]:>8.2f} {total[name] / total[first]:>8.2f} {same!s:>9}")
    split_same_shape = statistics.median(times[next(k for k in arms if "runs per device" in k)])
    before = next((k for k in arms if "before #18" in k), None)
    same_chunk = f"{total[before] / total[first]:.2f}" if before else "n/a"
    print(
        f"bench_devices: runs={len(reference)} devices={n} chunk_size={c} "
        f"engine_compile_s={arms[first][0]:.2f} engine_execute_s={base:.3f} "
        f"one_device_vs_engine={statistics.median(times[list(arms)[1]]) / base:.2f} "
        f"split_same_chunk_total_vs_engine={same_chunk} "
        f"split_same_per_device_shape_vs_engine={split_same_shape / base:.2f}"
    )


if __name__ == "__main__":
    app.run(main)
