r"""The anchor sweep (configs/anchor.py, 96 runs) three ways, side by side in one process.

  python scripts/bench_sweep.py                  # losslab vs naive JAX loop vs PyTorch loop
  python scripts/bench_sweep.py --quick          # 200 steps, one repetition (a fast check)
  python scripts/bench_sweep.py --scaling        # + 24, 96, 384, 1,536 runs (--runs=...)
  python scripts/bench_sweep.py --flops          # + achieved FLOP/s against a measured matmul peak
  python scripts/bench_sweep.py --chunking       # + losslab's cost by chunk_size and log_every
  python scripts/bench_sweep.py --noanchor --profile [--config=configs/default.py]
                                                 # compile / execute / host per group
  python scripts/bench_sweep.py --warm_cache     # the same with a filled compilation cache
  python scripts/bench_sweep.py --diagnostics    # + the anchor's Hessian spectrum and density vs
                                                 #   power iteration; default sweep diagnostics
                                                 #   on/off
  python scripts/bench_sweep.py --device         # + 1,032 runs vs the sequential loop on a GPU
  python scripts/bench_sweep.py --noanchor --opt_levels   # compile / execute by XLA opt level
  python scripts/bench_sweep.py --noanchor --devices=4     # whole chunks per device vs split
  python scripts/bench_sweep.py --noanchor --device --warm_cache   # that section alone, warm

The three train the same thing: an MLP 16 -> 64 -> 1 on the synthetic teacher, Adam (lr 1e-3,
b1 .9, b2 .999, eps 1e-8), minibatches of 256 drawn exactly as `training.make_run` draws them,
objective mean loss + λ·½‖kernels‖² (biases unpenalized, coupled: the L2 term is differentiated),
metrics on the full training and test splits every `log_every` steps. Each run's noisy targets
(`training.targets`), initial parameters (`model.init` with the run's key) and minibatch indices
are taken from losslab and given to the naive and PyTorch loops, so the final train objectives
agree up to float32 reassociation (checked: max_rel_diff).

* losslab: `experiments.engine.run_sweep` (TensorBoard, plots, progress off) into a temporary
  workdir: compile one program for the three (fused) losses, run the chunks, write the tables.
  Its compile time is
  the trace + lowering + XLA compile time reported by `jax.monitoring` during the call, summed
  over threads (the draws program compiles while the training program is traced: both count in
  full). The "engine" row calls `engine.compile_group` and the plan's chunks directly (no
  tables); its compile column is wall time until the programs are ready on every device.
* naive JAX: a Python loop over runs and over steps around a jitted single-run train step (and a
  jitted evaluation every log_every steps), one compilation per loss.
* PyTorch (CPU, optional): `nn.Sequential`, `torch.optim.Adam`, the idiomatic step loop.

The naive and PyTorch loops time a subset of the runs (`--subset`, every loss) and are
extrapolated linearly to 96 runs (plus the naive loop's compile time, which does not scale); the
agreement check compares that subset. Preparing the subset's targets, initial parameters and
index arrays is not timed. The alternatives run interleaved, `--repeats` times; medians are
reported. Every section ends with one machine-readable line (`bench_sweep: ...`,
`bench_sweep_scaling: ...`, `bench_sweep_flops: ...`, `bench_sweep_chunking: ...`,
`bench_sweep_profile: ...`, `bench_sweep_spectrum: ...`, `bench_sweep_diagnostics: ...`,
`bench_sweep_device: ...`, `bench_sweep_opt_level: ...`).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import threading
import time
import typing
from collections.abc import Callable, Iterator

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags, logging
from ml_collections import config_flags

import losses
from experiments import data as data_lib
from experiments import (
    devices,
    engine,
    grid,
    models,
    plots,
    result_files,
    shipped_configs,
    stability,
    sweep,  # its --config flag
    table_rows,
    tensorboard_events,
    training,
)
from experiments.plan import Part, SweepPlan

anchor = shipped_configs.load("anchor")  # a wheel or an editable install has no `configs`

_QUICK = flags.DEFINE_bool("quick", False, "200 steps and one repetition: a fast check.")
_STEPS = flags.DEFINE_integer("steps", 0, "Override the steps per run (0: the anchor's 1,000).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Interleaved repetitions (medians are reported).")
_SUBSET = flags.DEFINE_integer(
    "subset", 12, "Runs the naive and PyTorch loops time (a multiple of the 3 losses)."
)
_SCALING = flags.DEFINE_bool("scaling", False, "Also time losslab at each of --runs.")
_RUNS = flags.DEFINE_list(
    "runs", ["24", "96", "384", "1536"], "Sweep sizes for --scaling (multiples of 24: more seeds)."
)
_FLOPS = flags.DEFINE_bool("flops", False, "Also report achieved FLOP/s against a matmul peak.")
_PROFILE = flags.DEFINE_bool(
    "profile", False,
    "Also print where run_sweep's wall time goes, per group: compile / execute / host (tables, "
    "TensorBoard, plots, summary), for --config (experiments.sweep's flag, --config.<field> "
    "overrides too; default here: configs/anchor.py) with TensorBoard and plots on; with "
    "config.compile_ahead, ahead-of-time compiling and the sequential engine interleaved.",
)
_CHUNKING = flags.DEFINE_bool("chunking", False, "Also time losslab by chunk_size and log_every.")
_WARM_CACHE = flags.DEFINE_bool(
    "warm_cache", False,
    "Use a persistent compilation cache, filled by one untimed repetition first (a rerun of a "
    "sweep with the same structure); the default times cold compiles.",
)
_DIAGNOSTICS = flags.DEFINE_bool(
    "diagnostics", False,
    "Also time the anchor sweep with the Hessian spectrum every 100 steps against the power "
    "iteration, and the default sweep (configs/default.py) with every diagnostic on (sharpness "
    "every 100 steps, 20 power iterations) against diagnostics off.",
)
_DEVICE = flags.DEFINE_bool(
    "device", False,
    "Also run ~1,024 anchor runs on the default device (a GPU when present) against the "
    "sequential loop on that device.",
)
_DEVICES = flags.DEFINE_integer(
    "devices", 0,
    "Also compare, on this many forced CPU devices, whole chunks per device (the engine: one "
    "compile, loaded onto every device) with one chunk split over the devices (the engine before "
    "issue #18): compile and execute, in a process of its own (scripts/bench_devices.py). 0: off.",
)
_OPT_LEVELS = flags.DEFINE_bool(
    "opt_levels", False,
    "Also compile and run the anchor's program and claim 4's at XLA optimization levels 3, 2, 1 "
    "(config.xla_optimization_level).",
)
_ANCHOR = flags.DEFINE_bool(
    "anchor", True, "Run the anchor comparison (--noanchor: only the sections asked for)."
)
_TORCH_THREADS = flags.DEFINE_integer(
    "torch_threads", 1, "torch.set_num_threads for the PyTorch loop (0: PyTorch's default)."
)

_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
NOT_TIMED = float("nan")


# ---------------------------------------------------------------------------------------------
# Measurement plumbing


@contextlib.contextmanager
def compile_seconds() -> Iterator[dict[str, float]]:
    """Sum of JAX's trace, lowering and XLA compile durations inside the block, by event."""
    totals: dict[str, float] = collections.defaultdict(float)

    def listener(event: str, duration: float, **_) -> None:
        if event in _COMPILE_EVENTS:
            totals[event] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield totals
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@contextlib.contextmanager
def peak_rss_mib() -> Iterator[dict[str, float]]:
    """Peak resident set size (MiB) while the block runs, sampled every 10 ms, and the baseline."""
    try:
        import psutil

        read = lambda: psutil.Process().memory_info().rss / 2**20
    except ImportError:  # ru_maxrss is the process's peak so far (KiB on Linux)
        read = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"baseline": read(), "peak": read()}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            out["peak"] = max(out["peak"], read())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        done.set()
        thread.join()
        out["peak"] = max(out["peak"], read())


def quiet(config):
    config.tensorboard = False
    config.plots = False
    config.progress = False
    config.compilation_cache_dir = ""  # cold compiles unless --warm_cache set a cache first
    return config


def anchor_config(steps: int):
    config = quiet(anchor.get_config())
    if steps:
        config.steps = steps
    return config


def median(values) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def max_rel_diff(final: dict[int, float], reference: dict[int, float]) -> float:
    """Largest |final − reference| / |reference| over the runs of `final` (run_id -> value)."""
    return max(abs(final[r] - reference[r]) / abs(reference[r]) for r in final)


# ---------------------------------------------------------------------------------------------
# losslab


@dataclasses.dataclass
class Timing:
    wall: float  # seconds, compile included
    compile: float  # seconds of trace + lowering + XLA compile (NaN: nothing compiled)
    runs: int
    final_objective: dict[int, float]  # run_id -> final train objective


def losslab_sweep(config) -> tuple[Timing, engine.SweepResult]:
    """run_sweep end to end into a fresh temporary workdir."""
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as workdir, compile_seconds() as c:
        t0 = time.perf_counter()
        result = engine.run_sweep(config, workdir)
        wall = time.perf_counter() - t0
    final = dict(zip(result.runs["run_id"], result.runs["final_loss"], strict=True))
    return Timing(wall, sum(c.values()), len(result.runs), final), result


def losslab_engine(config) -> tuple[Timing, float]:
    """compile_group + every chunk of the plan, whole chunks side by side on the local devices
    as `engine.execute` runs them, no tables; also returns execution seconds (loading device 0's
    program onto the other devices, at their first wave, counts as compile)."""
    t0 = time.perf_counter()
    compile_s = execute_s = 0.0
    final: dict[int, float] = {}
    plan = SweepPlan.resolve(config, jax.local_device_count())
    for group in plan.groups:
        t = time.perf_counter()
        program = engine.compile_group(plan, group)
        program._ready(plan.n_devices)
        compile_s += time.perf_counter() - t
        chunks = [c for c in plan.chunks if c.group_id == group.group_id]
        for first in range(0, len(chunks), plan.n_devices):
            wave = chunks[first : first + plan.n_devices]
            t = time.perf_counter()
            outputs = program([c.hyper for c in wave])
            execute_s += time.perf_counter() - t
            for chunk, (_, metrics) in zip(wave, outputs, strict=True):
                objective = np.asarray(metrics["objective"])[:, -1]
                final.update(
                    {run.run_id: float(v) for run, v in zip(chunk.runs, objective, strict=False)}
                )
    wall = time.perf_counter() - t0
    return Timing(wall, compile_s, len(final), final), execute_s


# ---------------------------------------------------------------------------------------------
# The runs the naive and PyTorch loops train, prepared from losslab's own functions


@dataclasses.dataclass
class PreparedRun:
    run_id: int
    loss: str
    penalty_strength: float
    seed: int
    params: dict  # flax params from model.init with the run's key
    y_train: np.ndarray  # the run's noisy targets
    y_test: np.ndarray
    f_test: np.ndarray  # noise-free test targets
    batch_indices: np.ndarray  # (steps, batch_size) int32, as make_run draws them


def subset_members(config, size: int) -> list[tuple[grid.Group, int]]:
    """`size` runs spread over every loss, λ and seed: (group, index in the group)."""
    groups = grid.expand(config)
    per_group = max(1, size // len(groups))
    picked = []
    for group in groups:
        n = len(group.runs)
        picked += [(group, int(i)) for i in np.linspace(0, n - 1, per_group).round()]
    return picked


def prepare(config, members, dataset: data_lib.Dataset) -> list[PreparedRun]:
    data = training.data_arrays(dataset)
    n_train, batch_size, steps = dataset.x_train.shape[0], int(config.batch_size), int(config.steps)
    model = models.build(config.model, 1)
    draw = jax.jit(jax.vmap(lambda k: jax.random.randint(k, (batch_size,), 0, n_train)))
    prepared = []
    for group, i in members:
        hyper = {k: jnp.asarray(v[i]) for k, v in group.hyper.items()}
        k_init, k_batches = training.run_keys(hyper)[:2]
        y_train, y_test, f_test = training.targets(group.config, hyper, data, group.noises)
        swept = dict(group.runs[i].swept)
        prepared.append(PreparedRun(
            run_id=group.runs[i].run_id,
            loss=group.losses[int(hyper[grid.LOSS_INDEX])],  # a fused group holds several
            penalty_strength=float(hyper["penalty_strength"]),
            seed=int(swept["seed"]),
            params=jax.device_get(model.init(k_init, data["x_train"][:1])),
            y_train=np.asarray(y_train),
            y_test=np.asarray(y_test),
            f_test=np.asarray(f_test),
            batch_indices=np.asarray(draw(jax.random.split(k_batches, steps)), np.int32),
        ))
    return prepared


def bound_loss(config, name: str) -> Callable:
    return losses.get(name, **{k: config.loss_knobs[k] for k in losses.knobs(name)})


# ---------------------------------------------------------------------------------------------
# naive JAX: Python loops around a jitted single-run step


def naive_jax(config, runs: list[PreparedRun], dataset: data_lib.Dataset) -> Timing:
    model = models.build(config.model, 1)
    tx = optax.adam(config.learning_rate, b1=config.b1, b2=config.b2, eps=config.eps)
    steps, log_every = int(config.steps), int(config.log_every)
    x_train, x_test = jnp.asarray(dataset.x_train), jnp.asarray(dataset.x_test)
    step_fns: dict[str, tuple[Callable, Callable]] = {}

    def jitted(loss_name: str):
        loss = bound_loss(config, loss_name)
        predict = lambda params, x: model.apply(params, x)[:, 0]

        def objective(params, x, y, lam):
            penalty = losses.l2_penalty(params, losses.decay_mask(params))
            return losses.reduce(loss(predict(params, x), y)) + lam * penalty

        @jax.jit
        def train_step(params, opt_state, x_train, y_train, idx, lam):
            value, grads = jax.value_and_grad(objective)(params, x_train[idx], y_train[idx], lam)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, value

        @jax.jit
        def evaluate(params, x_train, y_train, x_test, y_test, f_test, lam):
            test_pred = predict(params, x_test)
            return {
                "objective": objective(params, x_train, y_train, lam),
                "test_loss": losses.reduce(loss(test_pred, y_test)),
                "test_mse": jnp.mean(jnp.square(test_pred - f_test)),
            }

        return train_step, evaluate

    final = {}
    # The precision the engine traces with (config.matmul_precision), for a like-for-like loop.
    with compile_seconds() as c, devices.matmul_precision(config):
        t0 = time.perf_counter()
        for run in runs:
            if run.loss not in step_fns:
                step_fns[run.loss] = jitted(run.loss)
            train_step, evaluate = step_fns[run.loss]
            y_train, lam = jnp.asarray(run.y_train), jnp.float32(run.penalty_strength)
            eval_args = (x_train, y_train, x_test, jnp.asarray(run.y_test),
                         jnp.asarray(run.f_test), lam)
            params = run.params
            opt_state = tx.init(params)
            curve = [evaluate(params, *eval_args)]
            for t in range(steps):
                params, opt_state, _ = train_step(
                    params, opt_state, x_train, y_train, run.batch_indices[t], lam
                )
                if (t + 1) % log_every == 0:
                    curve.append(evaluate(params, *eval_args))
            curve = jax.device_get(curve)
            final[run.run_id] = float(curve[-1]["objective"])
        wall = time.perf_counter() - t0
    return Timing(wall, sum(c.values()), len(runs), final)


# ---------------------------------------------------------------------------------------------
# PyTorch: the idiomatic loop


def torch_loop(config, runs: list[PreparedRun], dataset: data_lib.Dataset) -> Timing:
    import torch
    import torch.nn.functional as F

    if _TORCH_THREADS.value:
        # One thread is PyTorch's fastest setting for a 16-64-1 MLP: intra-op threads only add
        # synchronization (on a loaded 2-core machine, 2 threads were ~20x slower per step).
        torch.set_num_threads(_TORCH_THREADS.value)
    loss_fns = {
        "squared_error": F.mse_loss,  # mean r², no ½: losses.squared_error
        "absolute_error": F.l1_loss,
        "huber": lambda p, y: F.huber_loss(p, y, delta=float(config.loss_knobs.delta)),
    }
    steps, log_every = int(config.steps), int(config.log_every)
    x_train = torch.from_numpy(np.array(dataset.x_train))  # a writable copy
    x_test = torch.from_numpy(np.array(dataset.x_test))
    width = int(config.model.widths[0])

    final = {}
    t0 = time.perf_counter()
    for run in runs:
        loss_fn = loss_fns[run.loss]
        model = torch.nn.Sequential(
            torch.nn.Linear(x_train.shape[1], width), torch.nn.ReLU(), torch.nn.Linear(width, 1)
        )
        with torch.no_grad():  # flax kernels are (in, out); torch weights are (out, in)
            for layer, name in ((model[0], "Dense_0"), (model[2], "Dense_1")):
                layer.weight.copy_(torch.from_numpy(np.asarray(run.params["params"][name]["kernel"]).T))
                layer.bias.copy_(torch.from_numpy(np.asarray(run.params["params"][name]["bias"])))
        kernels = [model[0].weight, model[2].weight]
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.learning_rate, betas=(config.b1, config.b2),
            eps=config.eps,
        )
        y_train = torch.from_numpy(run.y_train)
        y_test, f_test = torch.from_numpy(run.y_test), torch.from_numpy(run.f_test)
        batches = torch.from_numpy(run.batch_indices.astype(np.int64))
        lam = run.penalty_strength

        def objective(x, y):
            penalty = 0.5 * sum(w.square().sum() for w in kernels)
            return loss_fn(model(x).squeeze(-1), y) + lam * penalty

        def evaluate():
            with torch.no_grad():
                test_pred = model(x_test).squeeze(-1)
                return {
                    "objective": objective(x_train, y_train),
                    "test_loss": loss_fn(test_pred, y_test),
                    "test_mse": (test_pred - f_test).square().mean(),
                }

        curve = [evaluate()]
        for t in range(steps):
            idx = batches[t]
            optimizer.zero_grad(set_to_none=True)
            objective(x_train[idx], y_train[idx]).backward()
            optimizer.step()
            if (t + 1) % log_every == 0:
                curve.append(evaluate())
        final[run.run_id] = float(curve[-1]["objective"])
    return Timing(time.perf_counter() - t0, NOT_TIMED, len(runs), final)


def torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


# ---------------------------------------------------------------------------------------------
# FLOPs


def mlp_flops_per_run(config, dataset: data_lib.Dataset) -> float:
    """Matmul FLOPs of one run (2 per multiply-add; elementwise work not counted).

    A train step on a minibatch of B: forward 2B(d·h + h), backward 2B·d·h (∂W₁; no ∂x) and
    2B·h twice (∂W₂ and ∂h). An evaluation (at step 0 and every log_every): forward on the
    training and test splits.
    """
    d, h = int(np.prod(dataset.x_train.shape[1:])), int(config.model.widths[0])
    batch, steps = int(config.batch_size), int(config.steps)
    train_step = 2 * batch * (d * h + h) + 2 * batch * d * h + 2 * 2 * batch * h
    evaluations = steps // int(config.log_every) + 1
    n_eval = dataset.x_train.shape[0] + dataset.x_test.shape[0]
    return float(steps * train_step + evaluations * 2 * n_eval * (d * h + h))


def matmul_peak_flops(n: int = 2048, repeats: int = 10) -> float:
    """Achieved FLOP/s of a jitted n×n float32 matmul (best of `repeats`): the practical peak."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(matmul(a, a))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(matmul(a, a))
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times)


# ---------------------------------------------------------------------------------------------
# Sections


def fmt_s(seconds: float) -> str:
    return "—" if np.isnan(seconds) else f"{seconds:.2f}"


def anchor_section(config) -> dict:
    """losslab vs naive JAX vs PyTorch on the 96 anchor runs; prints the table and bench_sweep."""
    repeats = 1 if _QUICK.value else _REPEATS.value
    dataset = data_lib.load(config.dataset)
    total = sum(len(g.runs) for g in grid.expand(config))
    members = subset_members(config, _SUBSET.value)
    prepared = prepare(config, members, dataset)
    scale = total / len(prepared)
    have_torch = torch_version() is not None
    print(f"anchor sweep: {total} runs, {config.steps} steps, chunk_size={config.chunk_size}, "
          f"log_every={config.log_every}; naive/torch loops time {len(prepared)} runs "
          f"(run_ids {[r.run_id for r in prepared]}) and extrapolate ×{scale:g} to {total}")
    if not have_torch:
        print("PyTorch is not installed here: the PyTorch loop is NOT run and vs_torch is not "
              "measured (install the benchmark extra: pip install -e '.[bench]'; on this project's "
              "machines `pip install torch==2.13.0` takes a local CPU wheel).")

    rows = collections.defaultdict(list)
    finals: dict[str, dict[int, float]] = {}
    if _WARM_CACHE.value:
        print("warm cache: one untimed repetition fills the persistent compilation cache")
        losslab_sweep(config), losslab_engine(config), naive_jax(config, prepared, dataset)
    for rep in range(repeats):
        timing, result = losslab_sweep(config)
        rows["losslab"].append((timing.wall, timing.compile))
        finals["losslab"] = timing.final_objective
        compiled_programs = result.compiled_programs
        timing, execute = losslab_engine(config)
        rows["engine"].append((timing.wall, timing.compile))
        rows["engine_execute"].append((execute, 0.0))
        timing = naive_jax(config, prepared, dataset)
        # Compile is paid once per loss whatever the number of runs; training scales with runs.
        rows["naive_jax"].append((timing.compile + (timing.wall - timing.compile) * scale,
                                  timing.compile))
        finals["naive_jax"] = timing.final_objective
        if have_torch:
            timing = torch_loop(config, prepared, dataset)
            rows["torch"].append((timing.wall * scale, NOT_TIMED))
            finals["torch"] = timing.final_objective
        logging.info("repetition %d/%d: %s", rep + 1, repeats,
                     {k: round(v[-1][0], 2) for k, v in rows.items()})

    wall = {k: median([w for w, _ in v]) for k, v in rows.items()}
    comp = {k: median([c for _, c in v]) for k, v in rows.items()}
    labels = {
        "losslab": "losslab run_sweep (tables written)",
        "engine": "losslab compile_group + chunks",
        "engine_execute": "  of which executing the chunks",
        "naive_jax": f"naive JAX loop (×{scale:g} extrapolated)",
        "torch": f"PyTorch {torch_version()}, {_TORCH_THREADS.value or 'default'} thread(s) "
        f"(×{scale:g} extrap.)",
    }
    print(f"\n{'':44s} {'wall s':>8s} {'compile s':>10s} {'runs/s':>8s} {'wall / losslab':>15s}")
    for key, label in labels.items():
        if key not in wall:
            continue
        print(f"{label:44s} {wall[key]:8.2f} {fmt_s(comp[key]):>10s} {total / wall[key]:8.2f} "
              f"{wall[key] / wall['losslab']:15.2f}")

    diffs = {name: max_rel_diff(finals[name], finals["losslab"])
             for name in ("naive_jax", "torch") if name in finals}
    worst = max(diffs.values())
    print(f"\nfinal train objective, max relative difference to losslab over the {len(prepared)} "
          f"runs: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
          + ("  (agree within 1e-2)" if worst <= 1e-2 else "  (DISAGREE: > 1e-2)"))
    vs_naive = wall["naive_jax"] / wall["losslab"]
    vs_torch = f"{wall['torch'] / wall['losslab']:.3g}" if "torch" in wall else "not_run"
    print(f"speed-up of losslab (wall, compile included): {vs_naive:.2f}× the naive JAX loop "
          f"(target ≥ 2.5×), {vs_torch}× the PyTorch loop (target ≥ 20×); "
          f"{compiled_programs} compiled programs on {jax.local_device_count()} device(s)")
    label = "bench_sweep_warm_cache" if _WARM_CACHE.value else "bench_sweep"
    print(f"{label}: runs={total} losslab_runs_per_s={total / wall['losslab']:.3g} "
          f"vs_naive_jax={vs_naive:.3g} vs_torch={vs_torch} max_rel_diff={worst:.2g}")
    return {"wall": wall, "compile": comp, "total": total, "dataset": dataset}


def scaling_section(base_config) -> None:
    """losslab alone at several sweep sizes: time per run, compiled programs, peak RSS."""
    sizes = [int(n) for n in _RUNS.value]
    per_seed = len(anchor.LOSSES) * len(anchor.PENALTY_STRENGTHS)
    for n in sizes:
        if n <= 0 or n % per_seed:
            raise ValueError(f"--runs={n}: each size must be a positive multiple of {per_seed}")
    print(f"\nscaling: {sizes} runs = {per_seed} (loss × λ) × seeds, one fused group; chunk_size "
          f"= min({base_config.chunk_size}, runs); {base_config.steps} steps")
    print(f"{'runs':>6s} {'chunk':>6s} {'wall s':>8s} {'compile s':>10s} {'train ms/run':>13s} "
          f"{'wall ms/run':>12s} {'programs':>9s} {'peak RSS MiB':>13s} {'RSS growth':>11s}")
    out = []
    for n in sizes:
        config = quiet(anchor_config(int(base_config.steps)))
        config.sweep.seed = tuple(range(n // per_seed))
        config.chunk_size = int(base_config.chunk_size)  # run_sweep caps it at the group size
        with peak_rss_mib() as rss:
            timing, result = losslab_sweep(config)
        train_ms = (timing.wall - timing.compile) / n * 1e3
        out.append((n, timing, result.compiled_programs, train_ms, rss))
        chunk = min(int(config.chunk_size), n)
        print(f"{n:6d} {chunk:6d} {timing.wall:8.2f} {timing.compile:10.2f} "
              f"{train_ms:13.1f} {timing.wall / n * 1e3:12.1f} {result.compiled_programs:9d} "
              f"{rss['peak']:13.0f} {rss['peak'] - rss['baseline']:11.0f}")
    ref = next((o for o in out if o[0] == 96), out[0])
    ratios = [o[3] / ref[3] for o in out]
    growth = [(o[4]["peak"] - o[4]["baseline"]) / o[0] * 1000 for o in out]
    programs = {o[2] for o in out}
    print(f"train time per run relative to {ref[0]} runs: "
          + ", ".join(f"{o[0]}: {r:.2f}×" for o, r in zip(out, ratios, strict=True))
          + f" (target ≤ 1.15×); compiled programs {'constant' if len(programs) == 1 else 'VARY'}")
    print("bench_sweep_scaling: runs=" + ",".join(str(o[0]) for o in out)
          + " train_s_per_run_vs_96=" + ",".join(f"{r:.3g}" for r in ratios)
          + f" max_ratio={max(ratios):.3g}"
          + " wall_s_per_run=" + ",".join(f"{o[1].wall / o[0]:.3g}" for o in out)
          + " compiled_programs=" + ",".join(str(o[2]) for o in out)
          + " peak_rss_mib=" + ",".join(f"{o[4]['peak']:.0f}" for o in out)
          + " rss_growth_mib_per_1000_runs=" + ",".join(f"{g:.0f}" for g in growth))


def flops_section(config, anchor_numbers: dict) -> None:
    dataset, total = anchor_numbers["dataset"], anchor_numbers["total"]
    wall, comp = anchor_numbers["wall"], anchor_numbers["compile"]
    flops = mlp_flops_per_run(config, dataset) * total
    peak = matmul_peak_flops()
    achieved = {
        "losslab executing (compile excluded)": flops / wall["engine_execute"],
        "losslab run_sweep (wall)": flops / wall["losslab"],
        "naive JAX loop (wall)": flops / wall["naive_jax"],
    }
    if "torch" in wall:
        achieved["PyTorch loop (wall)"] = flops / wall["torch"]
    print(f"\nFLOPs: {flops / 1e9:.1f} GFLOP of matmuls for {total} runs (analytic); measured "
          f"peak (jitted 2048×2048 float32 matmul): {peak / 1e9:.1f} GFLOP/s")
    for label, value in achieved.items():
        print(f"  {label:40s} {value / 1e9:8.2f} GFLOP/s = {value / peak:6.1%} of peak")
    print(f"bench_sweep_flops: model_gflop={flops / 1e9:.4g} peak_gflop_per_s={peak / 1e9:.4g} "
          f"losslab_exec_gflop_per_s={achieved['losslab executing (compile excluded)'] / 1e9:.3g} "
          f"losslab_wall_gflop_per_s={achieved['losslab run_sweep (wall)'] / 1e9:.3g} "
          f"exec_fraction_of_peak={achieved['losslab executing (compile excluded)'] / peak:.3g} "
          f"wall_fraction_of_peak={achieved['losslab run_sweep (wall)'] / peak:.3g} "
          f"engine_compile_fraction_of_wall={comp['engine'] / wall['engine']:.3g}")


def chunking_section(base_config) -> None:
    """One group (squared_error, 32 runs) through compile_group at other chunk_size, log_every."""
    print("\nprofile: the squared_error group (32 runs), compile_group + its chunks")
    print(f"{'chunk_size':>10s} {'log_every':>9s} {'compile s':>10s} {'execute s':>10s} "
          f"{'exec ms/run':>12s}")
    variants = [(32, 20), (8, 20), (16, 20), (96, 20), (32, 100), (32, int(base_config.steps))]
    line = []
    for chunk_size, log_every in variants:
        config = anchor_config(int(base_config.steps))
        config.sweep.loss = ("squared_error",)
        config.chunk_size, config.log_every = chunk_size, log_every
        timing, execute = losslab_engine(config)
        per_run = execute / timing.runs * 1e3
        line.append(f"c{chunk_size}_l{log_every}={timing.compile:.3g}/{per_run:.3g}")
        print(f"{chunk_size:10d} {log_every:9d} {timing.compile:10.2f} {execute:10.2f} "
              f"{per_run:12.1f}")
    print("bench_sweep_chunking: compile_s/exec_ms_per_run " + " ".join(line))



# ---------------------------------------------------------------------------------------------
# --profile: where run_sweep's wall time goes


class PhaseRecorder:
    """Wall-clock intervals of run_sweep's phases, recorded by wrapping the functions it calls.

    Works on any version of the engine that calls these names (so it can time an older checkout
    too): compile_group (in whatever thread compiles), the chunk program's calls (the main
    thread waiting on the device), the engine's results, and the host work: per chunk (tables,
    TensorBoard events, chunk files) and after training (`finish`: assembling the tables, the
    groups table, TensorBoard, plots, summary). Only the outermost wrapped call of a thread is
    recorded, so nothing is counted twice.
    """

    HOST: typing.ClassVar = {
        "tables": [(table_rows, "chunk_tables"), (engine.ChunkResult, "oracle_columns")],
        "tensorboard": [(tensorboard_events.Writer, "write_chunk"),
                        (tensorboard_events.Writer, "write_missing")],
        "chunk_files": [(result_files, "write_chunk")],
        "assemble": [(result_files, "assemble")],
        "groups": [(stability, "group_table")],
        "plots": [(plots, "sweep_plots")],
        "summary": [(plots, "end_of_run_summary")],
    }
    RUN = ("launch", "collect", "__call__")

    def __init__(self):
        self.t0 = time.perf_counter()
        self.events: list[tuple[str, int, float, float]] = []  # (what, group, start, end)
        self.group_of: dict[int, int] = {}  # id(compiled program) -> group_id
        self.programs: dict[int, list] = {}  # group_id -> CompiledGroup.timings (device 0)
        self.local = threading.local()

    def _timed(self, what: str, fn, group=lambda args: -1):
        recorder = self

        def wrapper(*args, **kwargs):
            if getattr(recorder.local, "depth", 0):
                return fn(*args, **kwargs)
            recorder.local.depth = 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                recorder.local.depth = 0
                recorder.events.append((what, group(args), start - recorder.t0,
                                        time.perf_counter() - recorder.t0))

        return wrapper

    @contextlib.contextmanager
    def installed(self) -> Iterator[PhaseRecorder]:
        saved = []

        def patch(owner, name, value):
            saved.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, value)

        compile_group = engine.compile_group

        def compiled(plan, program):
            start = time.perf_counter()
            out = compile_group(plan, program)
            self.group_of[id(out)] = program.group_id
            self.programs[program.group_id] = out.timings
            self.events.append(("compile", program.group_id, start - self.t0,
                                time.perf_counter() - self.t0))
            return out

        patch(engine, "compile_group", compiled)
        for owner in (engine.CompiledGroup, engine.CompiledSegments):
            for name in self.RUN:
                if name in owner.__dict__:
                    patch(owner, name, self._timed("execute", owner.__dict__[name],
                                                   lambda args: self.group_of.get(id(args[0]), -1)))
        for what, targets in self.HOST.items():
            for owner, name in targets:
                patch(owner, name, self._timed(what, owner.__dict__[name]))
        execute, finish = engine.execute, engine.assemble

        def executed(*args, **kwargs):
            for result in execute(*args, **kwargs):
                now = time.perf_counter() - self.t0
                self.events.append(("result", result.chunk.group_id, now, now))
                yield result

        def finished(*args, **kwargs):
            start = time.perf_counter()
            try:
                return finish(*args, **kwargs)
            finally:
                self.events.append(("finish", -1, start - self.t0, time.perf_counter() - self.t0))

        patch(engine, "execute", executed)
        patch(engine, "assemble", finished)
        try:
            self.t0 = time.perf_counter()
            yield self
        finally:
            for owner, name, value in reversed(saved):
                setattr(owner, name, value)

    def breakdown(self, wall: float) -> dict[str, float]:
        """Seconds by phase (flat keys: 'g0.compile', 'host.tables', ...) and 'wall'."""
        out: dict[str, float] = {"wall": wall}
        finish = [(s, e) for w, _, s, e in self.events if w == "finish"]
        after_from = finish[0][0] if finish else wall
        for what, group, start, end in self.events:
            if what == "compile":
                out[f"g{group}.compile"] = end - start
                out[f"g{group}.compile_end_at"] = end
            elif what == "execute":
                out[f"g{group}.execute"] = out.get(f"g{group}.execute", 0.0) + end - start
            elif what == "result":
                out[f"g{group}.last_result_at"] = end
            elif what != "finish":
                phase = "after" if start >= after_from else "during"
                key = f"host_{phase}.{what}"
                out[key] = out.get(key, 0.0) + end - start
        for group, timings in self.programs.items():
            for name, traced, compiled in timings:
                out[f"p{group}.{name}.traced"], out[f"p{group}.{name}.compiled"] = traced, compiled
        out["host_after"] = finish[0][1] - finish[0][0] if finish else 0.0
        out["host_during"] = sum(v for k, v in out.items() if k.startswith("host_during."))
        out["execute"] = sum(v for k, v in out.items() if k.endswith(".execute"))
        out["compile"] = sum(v for k, v in out.items() if k.endswith(".compile"))
        # The main thread's time not spent waiting on the device or on host work: setup
        # (validation, data, config.json) and compiling or waiting for a compile.
        out["main_other"] = wall - out["execute"] - out["host_during"] - out["host_after"]
        return out


def profile_config(steps: int):
    """A fresh copy of --config (experiments.sweep's flag) if given, else the anchor config."""
    if flags.FLAGS["config"].present:
        config = copy.deepcopy(sweep._CONFIG.value)
    else:
        config = anchor.get_config()
    if steps:
        config.steps = steps
    config.progress = False
    config.compilation_cache_dir = ""  # cold unless --warm_cache set a cache dir
    return config


def profile_section(steps: int) -> None:
    """run_sweep on --config with TensorBoard and plots on: where the wall time goes."""
    given = flags.FLAGS["config"].present
    path = config_flags.get_config_filename(flags.FLAGS["config"]) if given else "configs/anchor.py"
    base = profile_config(steps)
    variants = {"": None}
    if "compile_ahead" in base:
        variants = {"sequential": False, "ahead": True}
    repeats = 1 if _QUICK.value else _REPEATS.value
    cold = not _WARM_CACHE.value
    print(f"\nprofile: run_sweep({path}) {'cold' if cold else 'warm cache'}, TensorBoard and plots "
          f"on; {repeats} interleaved repetition(s) of {', '.join(variants) or 'this engine'}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    samples: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    for rep in range(repeats + (0 if cold else 1)):
        for name, ahead in variants.items():
            config = profile_config(steps)
            if ahead is not None:
                config.compile_ahead = ahead
            with tempfile.TemporaryDirectory(prefix="bench_profile_") as workdir, \
                    PhaseRecorder().installed() as recorder:
                t0 = time.perf_counter()
                result = engine.run_sweep(config, workdir)
                wall = time.perf_counter() - t0
            if cold or rep:  # with --warm_cache the first repetition fills the cache
                samples[name].append(recorder.breakdown(wall))
        logging.info("profile repetition %d done", rep + 1)
    runs = len(result.runs)
    for name, rows in samples.items():
        med = {k: median([r.get(k, np.nan) for r in rows]) for k in rows[0]}
        groups = sorted({int(k[1:].split(".")[0]) for k in med if k.startswith("g")})
        programs = {k: v for k, v in med.items() if k.startswith("p")}
        print(f"\n{name or 'engine'}: {runs} runs, {len(groups)} group(s); medians of {len(rows)}: "
              f"wall {med['wall']:.2f} s (" + ", ".join(f"{r['wall']:.2f}" for r in rows) + ")")
        print(f"  {'group':>5s} {'compile s':>10s} {'compiled at s':>14s} "
              f"{'execute wait s':>15s} {'last chunk at s':>16s}")
        for g in groups:
            print(f"  {g:5d} {med.get(f'g{g}.compile', np.nan):10.2f} "
                  f"{med.get(f'g{g}.compile_end_at', np.nan):14.2f} "
                  f"{med.get(f'g{g}.execute', np.nan):15.2f} "
                  f"{med.get(f'g{g}.last_result_at', np.nan):16.2f}")
            names = dict.fromkeys(k.split(".")[1] for k in programs if k.startswith(f"p{g}."))
            print("        programs (the draws compile in a worker while the next is traced): "
                  + "; ".join(f"{n} traced {programs[f'p{g}.{n}.traced']:.2f} s, compiled "
                              f"{programs[f'p{g}.{n}.compiled']:.2f} s" for n in names))
        during = {k.split(".", 1)[1]: v for k, v in med.items() if k.startswith("host_during.")}
        after = {k.split(".", 1)[1]: v for k, v in med.items() if k.startswith("host_after.")}
        print(f"  host per chunk (main thread): {med['host_during']:.2f} s = "
              + ", ".join(f"{k} {v:.2f}" for k, v in during.items()))
        print(f"  host after training (finish): {med['host_after']:.2f} s = "
              + ", ".join(f"{k} {v:.2f}" for k, v in after.items()))
        exposed = med["main_other"] + med["host_after"]
        print(f"  main thread otherwise (setup, compiling or waiting for a compile): "
              f"{med['main_other']:.2f} s; that + host after training = {exposed / med['wall']:.1%}"
              f" of the wall ({(exposed + med['host_during']) / med['wall']:.1%} with the host "
              f"work per chunk, which overlaps the next chunk's training when compiling ahead); "
              f"host after training {med['host_after'] / med['wall']:.1%}")
        print(f"bench_sweep_profile: variant={name or 'engine'} runs={runs} groups={len(groups)} "
              f"wall_s={med['wall']:.3g} compile_s={med['compile']:.3g} "
              f"execute_wait_s={med['execute']:.3g} host_during_s={med['host_during']:.3g} "
              f"host_after_s={med['host_after']:.3g} main_other_s={med['main_other']:.3g} "
              f"host_after_fraction={med['host_after'] / med['wall']:.3g}")
    if len(samples) == 2:
        seq, ahead = (median([r["wall"] for r in samples[k]]) for k in ("sequential", "ahead"))
        print(f"bench_sweep_profile_overlap: sequential_s={seq:.3g} ahead_s={ahead:.3g} "
              f"saved_s={seq - ahead:.3g} ratio={seq / ahead:.3g}")


def device_section(base_config) -> None:
    """A ~1,024-run anchor sweep on jax.devices()[0] against the sequential loop there.

    1,032 runs = 24 (loss × λ) × 43 seeds, the nearest multiple of 24 to 1,024. The sequential
    (naive) loop times --subset runs on the same device and is extrapolated; target on a GPU
    ≥ 50×. Meant for an accelerator; on a CPU it runs too and says so.
    """
    device = jax.devices()[0]
    per_seed = len(anchor.LOSSES) * len(anchor.PENALTY_STRENGTHS)
    config = quiet(anchor_config(int(base_config.steps)))
    config.sweep.seed = tuple(range(43))
    config.chunk_size = 1032 if device.platform != "cpu" else int(base_config.chunk_size)
    total = per_seed * 43
    if _WARM_CACHE.value:
        print(f"\nwarm cache: one untimed {total}-run sweep fills the persistent compilation cache")
        losslab_sweep(config)
    timing, result = losslab_sweep(config)
    engine_timing, execute = losslab_engine(config)
    dataset = data_lib.load(config.dataset)
    prepared = prepare(config, subset_members(config, _SUBSET.value), dataset)
    naive = naive_jax(config, prepared, dataset)
    scale = total / len(prepared)
    sequential = naive.compile + (naive.wall - naive.compile) * scale
    diff = max_rel_diff(naive.final_objective, timing.final_objective)
    ratio = sequential / timing.wall
    print(f"\ndevice {device.device_kind} ({device.platform}): losslab {total} runs in "
          f"{timing.wall:.1f} s ({timing.compile:.1f} s compiling, chunk {config.chunk_size}, "
          f"{result.compiled_programs} program(s); the engine alone: {engine_timing.wall:.1f} s, "
          f"of which {execute:.2f} s executing); sequential loop {sequential:.1f} s "
          f"(×{scale:g} from {len(prepared)} runs) -> {ratio:.1f}× (target on a GPU ≥ 50×); "
          f"max relative difference of final objectives {diff:.2g}")
    print(f"bench_sweep_device: device={device.device_kind.replace(' ', '_')} "
          f"platform={device.platform} runs={total} losslab_s={timing.wall:.3g} "
          f"compile_s={timing.compile:.3g} execute_s={execute:.3g} sequential_s={sequential:.3g} "
          f"vs_sequential={ratio:.3g} max_rel_diff={diff:.2g} warm_cache={_WARM_CACHE.value}")


SPECTRUM_VARIANTS = {
    # name -> (sharpness_every, spectrum_every, spectrum_density): today's power iteration (20
    # iterations), the spectrum (top-5 by 20 Lanczos steps, 64 Hutchinson probes, Adam's
    # preconditioned sharpness) instead of it, both, and the spectrum with the SLQ density (2
    # probes × 20 Lanczos steps, 101 grid points); every 100 steps, as configs/default.py's
    # sharpness.
    "power": (100, 0, False),
    "spectrum": (0, 100, False),
    "both": (100, 100, False),
    "density": (0, 100, True),
}


def spectrum_section(steps: int) -> None:
    """The anchor sweep with the power iteration vs the Hessian spectrum (experiments.spectrum)
    at the default knobs, without and with the spectral density, interleaved in this process;
    the target is ≤ 2× the power iteration."""

    def variant(name: str):
        config = anchor_config(steps)
        config.sharpness_every, config.spectrum_every, config.spectrum_density = (
            SPECTRUM_VARIANTS[name]
        )
        return config

    walls = {name: [] for name in SPECTRUM_VARIANTS}
    execs = {name: [] for name in SPECTRUM_VARIANTS}
    for _ in range(1 if _QUICK.value else _REPEATS.value):
        for name in SPECTRUM_VARIANTS:
            timing, _ = losslab_sweep(variant(name))
            walls[name].append(timing.wall)
            execs[name].append(timing.wall - timing.compile)
    wall = {name: median(v) for name, v in walls.items()}
    execute = {name: median(v) for name, v in execs.items()}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nanchor sweep (96 runs, {variant('power').steps} steps), curvature every 100 steps "
          f"(load average {load}):")
    for name in SPECTRUM_VARIANTS:
        print(f"  {name:8s} {wall[name]:6.1f} s wall ({wall[name] / wall['power']:.2f}× power), "
              f"{execute[name]:6.1f} s besides compiling "
              f"({execute[name] / execute['power']:.2f}×)  (target ≤ 2×)")
    print(f"bench_sweep_spectrum: runs=96 power_s={wall['power']:.3g} "
          f"spectrum_s={wall['spectrum']:.3g} both_s={wall['both']:.3g} "
          f"spectrum_ratio={wall['spectrum'] / wall['power']:.3g} "
          f"both_ratio={wall['both'] / wall['power']:.3g} "
          f"spectrum_exec_ratio={execute['spectrum'] / execute['power']:.3g} "
          f"density_s={wall['density']:.3g} density_ratio={wall['density'] / wall['power']:.3g} "
          f"density_exec_ratio={execute['density'] / execute['power']:.3g}")


def diagnostics_section() -> None:
    """configs/default.py with diagnostics off vs all on (sharpness every 100 steps, 20 iters)."""
    default = shipped_configs.load("default")

    def variant(on: bool):
        config = quiet(default.get_config())
        config.diagnostics = on
        if on:
            config.sharpness_every, config.sharpness_iters = 100, 20
        return config

    walls, execs = {False: [], True: []}, {False: [], True: []}
    for _ in range(1 if _QUICK.value else 2):
        for on in (False, True):
            timing, _ = losslab_sweep(variant(on))
            walls[on].append(timing.wall)
            execs[on].append(timing.wall - timing.compile)
    off, on = median(walls[False]), median(walls[True])
    off_x, on_x = median(execs[False]), median(execs[True])
    print(f"\ndefault sweep (240 runs), diagnostics off: {off:.1f} s wall ({off_x:.1f} s besides "
          f"compiling); all on: {on:.1f} s ({on_x:.1f} s) -> {on / off:.2f}× wall, "
          f"{on_x / off_x:.2f}× besides compiling (target ≤ 1.5×)")
    print(f"bench_sweep_diagnostics: runs=240 wall_ratio={on / off:.3g} "
          f"exec_ratio={on_x / off_x:.3g} off_s={off:.3g} on_s={on:.3g}")


def opt_levels_section(steps: int) -> None:
    """One program compiled at XLA's backend optimization levels 3 (XLA's default), 2 and 1, in
    this process (jax's per-compile `compiler_options`, which is what XLA_FLAGS'
    --xla_backend_optimization_level sets for a whole process): XLA compile (the program is
    traced and lowered once, outside the timing) and execute medians, and the largest relative
    difference of the final metrics from level 3."""
    claim4_classification = shipped_configs.load("claims.claim4_classification")

    claim4 = claim4_classification.get_config("quick")
    claim4.sweep.dataset.name = ("digits",)
    claim4.steps = steps or 1200
    claim4_cnn = copy.deepcopy(claim4)
    claim4_cnn.sweep.model.name = ("cnn",)
    programs = {"anchor": quiet(anchor_config(steps)), "claim4-mlp": quiet(claim4),
                "claim4-cnn": quiet(claim4_cnn)}
    levels = (3, 2, 1)
    repeats = 1 if _QUICK.value else _REPEATS.value
    print(f"\nXLA optimization levels {levels}, {repeats} interleaved repetition(s); load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, config in programs.items():
        config.compilation_cache_dir = ""
        plan = SweepPlan.resolve(config, 1, part=Part(0, 1))
        program = plan.groups[0]
        pieces = training.make_program(
            program.config, plan.dataset(program), program.losses, program.noises
        )
        data = training.data_arrays(plan.dataset(program))
        chunk = next(c for c in plan.chunks if c.group_id == program.group_id)
        hyper = {k: jnp.asarray(v) for k, v in chunk.hyper.items()}
        with devices.matmul_precision(config):  # traced and lowered once: the level is XLA's
            lowered = jax.jit(jax.vmap(pieces.run, in_axes=(0, None))).lower(hyper, data)
        times = {level: ([], []) for level in levels}
        finals = {}
        for _ in range(repeats):
            for level in levels:
                t0 = time.perf_counter()
                executable = lowered.compile(
                    compiler_options={"xla_backend_optimization_level": level})
                t1 = time.perf_counter()
                _, metrics = jax.block_until_ready(executable(hyper, data))
                t2 = time.perf_counter()
                times[level][0].append(t1 - t0)
                times[level][1].append(t2 - t1)
                finals[level] = np.concatenate([
                    np.asarray(v, np.float64)[..., -1].ravel() for _, v in sorted(metrics.items())
                ])
        base_c, base_x = median(times[3][0]), median(times[3][1])
        for level in levels:
            c, x = median(times[level][0]), median(times[level][1])
            scale = np.maximum(np.abs(finals[3]), 1e-30)
            ok = np.isfinite(finals[3]) & np.isfinite(finals[level])
            diff = float(np.max(np.abs(finals[level] - finals[3])[ok] / scale[ok]))
            print(f"  {name:11s} level {level}: compile {c:5.2f} s ({c / base_c:.2f}×), execute "
                  f"{x:5.2f} s ({x / base_x:.2f}×), max rel diff vs level 3 {diff:.2g}")
            print(f"bench_sweep_opt_level: program={name} level={level} compile_s={c:.3g} "
                  f"execute_s={x:.3g} compile_ratio={c / base_c:.3g} "
                  f"execute_ratio={x / base_x:.3g} max_rel_diff={diff:.2g}")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    steps = _STEPS.value or (200 if _QUICK.value else 0)
    config = anchor_config(steps)
    devices.apply_xla_flags(config)  # before JAX starts its backend, as experiments.sweep
    if _SUBSET.value < len(anchor.LOSSES):
        raise ValueError(f"--subset={_SUBSET.value} must be at least {len(anchor.LOSSES)}")
    print(f"machine: {os.cpu_count()} CPUs, jax {jax.__version__} on {jax.devices()[0].platform}")
    if _WARM_CACHE.value:
        jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="bench_cache_"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    if _FLOPS.value and not _ANCHOR.value:
        raise app.UsageError("--flops needs the anchor section (drop --noanchor)")
    numbers = anchor_section(config) if _ANCHOR.value else None
    if _FLOPS.value:
        flops_section(config, numbers)
    if _CHUNKING.value:
        chunking_section(config)
    if _PROFILE.value:
        profile_section(steps)
    if _SCALING.value:
        scaling_section(config)
    if _DIAGNOSTICS.value:
        spectrum_section(steps)
        diagnostics_section()
    if _DEVICE.value:
        device_section(config)
    if _OPT_LEVELS.value:
        opt_levels_section(steps)
    if _DEVICES.value:
        devices_section(_DEVICES.value)


def devices_section(n: int) -> None:
    """scripts/bench_devices.py in its own process: the device count is fixed when JAX starts."""
    script = pathlib.Path(__file__).with_name("bench_devices.py")
    args = [f"--devices={n}", *(["--quick"] if _QUICK.value else [f"--repeats={_REPEATS.value}"])]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    subprocess.run([sys.executable, str(script), *args], check=True, env=env)


if __name__ == "__main__":
    app.run(main)
