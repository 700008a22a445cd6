"""The sweep engine: compile each group's program once, run the plan's chunks, write the results.

The library behind `python -m experiments.sweep` (which only parses flags and calls
`run_sweep`); it defines no flags, so the claims, `experiments.merge` and `experiments.reproduce`
import it freely. `execute`, the loop shared with the claims' trained runs, compiles each group's
program once (`jit(vmap(draw))` then `jit(vmap(train))`, ahead of time; with
config.compile_ahead every group's up front, in worker threads, while the first group trains)
and feeds it the plan's chunks of stacked hyperparameters, whole chunks side by side when
several devices are visible, one chunk per device (so each run's numbers are the same on any
number of devices). `run_sweep` writes each finished chunk to the workdir at once (rerunning it
skips chunks already written) and `assemble` assembles the tables, TensorBoard events and plots.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import json
import os
import pathlib
import time
from collections.abc import Collection, Iterator
from typing import Any

import jax
import numpy as np
import pandas as pd
from absl import logging
from ml_collections import config_dict

from experiments import (
    checkpoints,
    console,
    density_table,
    devices,
    grid,
    oracles,
    parts,
    plots,
    provenance,
    result_files,
    stability,
    table_rows,
    tensorboard_events,
    training,
    workdir_lock,
)
from experiments import workdir as workdir_lib
from experiments.grid import Group
from experiments.plan import Chunk, SweepPlan


@dataclasses.dataclass
class SweepResult:
    runs: pd.DataFrame
    curves: pd.DataFrame
    workdir: pathlib.Path
    compiled_programs: int  # training programs compiled by this call (one per group at most)
    paths: dict[str, pathlib.Path]
    groups: pd.DataFrame | None = None  # stability.group_table of the runs (groups.csv)


DRAWS_COMPILE_OPTIONS = {"xla_backend_optimization_level": 1}
"""How the draws program (training.Draws) is compiled. Threefry's hash and the noise samplers are
slow to compile (half of the default sweep's compile); at XLA's backend optimization level 1
they compile in about half the time, and the draws come out bitwise the same as at the default
level (tests/test_sweep.py checks configs tiny, anchor, default, claims 1 and 4: normal,
truncated normal and Student-t draws, MLP and CNN initializers). The training program keeps the
default, and so do the draws on a GPU or TPU (not checked there)."""


class CompiledGroup:
    """A group's program: whole chunks, one per local device, `jit(vmap(run))` on each.

    It is two compiled programs run back to back: the draws (`jit(vmap(draw))`: each run's
    targets, initial parameters and minibatch keys) and the training (`jit(vmap(train))`), so
    the random-number code compiles apart, in a worker thread while the training program is
    traced, and at a lower optimization level (DRAWS_COMPILE_OPTIONS).

    `program(hypers, directories) -> [(params, metrics)]`, one entry per chunk (its
    hyperparameters, (chunk_size,) arrays), at most `n_devices` chunks per call: chunk i runs on
    local device i, all dispatched before any is waited for, so the devices train side by side.
    Each device runs the program compiled for one device at the chunk's shape, the same program
    whatever the device count, so every run's numbers are bitwise those of a single device (a
    program partitioned over devices would be optimized differently by XLA). The program is
    compiled once, for device 0, ahead of time; the first call that needs another device loads
    that executable there (devices.load_portable: the same machine code, no compile), or compiles
    for it where that is not possible. `directories` (the chunks' checkpoint directories) are only
    read by CompiledSegments.
    """

    PIECES = ("draws", "train")  # the programs `lower` yields

    def __init__(self, plan: SweepPlan, program: Group, shared: dict | None = None):
        self.config = program.config
        self.devices = jax.local_devices()[: plan.n_devices]
        self.data = training.data_arrays(plan.dataset(program))
        self.hyper_spec = {
            path: jax.ShapeDtypeStruct((plan.chunk_size,), values.dtype)
            for path, values in program.hyper.items()
        }
        self.pieces = training.make_program(
            program.config, plan.dataset(program), program.losses, program.noises
        )
        self._on: dict[int, tuple[tuple, dict[str, jax.Array]]] = {}  # (programs, data)
        # (program, seconds tracing it, seconds compiling it) of the last compile, in `lower`'s
        # order: the draws compile in a worker while the next program is traced.
        self.timings: list[tuple[str, float, float]] = []
        self._portable: list[tuple[bytes, Any]] = []  # (executable bytes, lowered) per program
        # executables by program_key, kept by the caller across plans (see compile_group)
        self._shared = shared
        self.key = (None if shared is None
                    else program_key(program, self.data, self.hyper_spec, self.devices))
        self._ready(1)

    def _compile_on(self, index: int) -> None:
        device = self.devices[index]
        data = jax.device_put(self.data, device)
        if index == 0 and self._shared is not None and self.key in self._shared:
            executables, self._portable = self._shared[self.key]
            self._on[0] = executables, data
            logging.info("reused the executables of an earlier plan's group (same program)")
            return
        if index > 0 and self._portable:  # device 0's program: the same machine code
            loaded = [devices.load_portable(payload, lowered, device)
                      for payload, lowered in self._portable]
            if all(c is not None for c in loaded):
                self._on[index] = tuple(loaded), data
                return
        portable = index == 0 and len(self.devices) > 1

        def build(lowered, options):
            t0 = time.perf_counter()
            if portable:
                compiled, payload = devices.compile_portable(lowered, device, options)
            else:
                compiled, payload = lowered.compile(options), None
            return compiled, payload, time.perf_counter() - t0

        # Each piece compiles in the worker while the next one is traced here (XLA's compile
        # releases the GIL); one worker, so two compiles never compete for the cores.
        pieces, traced = [], []
        with devices.matmul_precision(self.config), concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="losslab-compile-piece"
        ) as pool:
            lowering = self.lower(devices.on_device(self.hyper_spec, device), data)
            t0 = time.perf_counter()
            for lowered, options in lowering:
                traced.append(time.perf_counter() - t0)
                pieces.append((lowered, pool.submit(build, lowered, options)))
                t0 = time.perf_counter()
            built = [(lowered, *future.result()) for lowered, future in pieces]
        self.timings = [(name, t, c) for name, t, (*_, c) in zip(self.PIECES, traced, built,
                                                                 strict=True)]
        logging.info("compiled for %s: %s", device, ", ".join(
            f"{name} traced in {t:.2f}s, compiled in {c:.2f}s" for name, t, c in self.timings))
        if portable and all(payload is not None for _, _, payload, _ in built):
            self._portable = [(payload, lowered) for lowered, _, payload, _ in built]
        self._on[index] = tuple(compiled for _, compiled, _, _ in built), data
        if index == 0 and self._shared is not None:
            self._shared[self.key] = self._on[0][0], self._portable

    def _ready(self, n: int) -> None:
        """Compile for device 0, then load that program onto devices 1..n-1 where not yet done."""
        t0 = time.perf_counter()
        missing = [i for i in range(n) if i not in self._on]
        for index in missing:
            self._compile_on(index)
        if missing and missing[-1] > 0:
            logging.info("program ready on %d more device(s) in %.1fs", len(missing),
                         time.perf_counter() - t0)

    def lower(self, hyper, data) -> Iterator[tuple[jax.stages.Lowered, dict | None]]:
        """The programs lowered for the device of `hyper` (specs) and `data` (arrays), with their
        compile options, one at a time: the draws first, then what runs on them."""
        lowered, options, draws = self._lower_draws(hyper, data)
        yield lowered, options
        train = jax.jit(jax.vmap(self.pieces.train, in_axes=(0, None, 0)))
        yield train.lower(hyper, data, draws), None

    def _lower_draws(self, hyper, data) -> tuple[jax.stages.Lowered, dict | None, Any]:
        """The draws program lowered, its compile options (DRAWS_COMPILE_OPTIONS on the CPU,
        where they were checked; the default elsewhere), the specs of the draws (on the device
        of `data`)."""
        device = data["x_train"].device
        draw = jax.jit(jax.vmap(self.pieces.draw, in_axes=(0, None)))
        draws = devices.on_device(jax.eval_shape(draw, hyper, data), device)
        options = DRAWS_COMPILE_OPTIONS if device.platform == "cpu" else None
        return draw.lower(hyper, data), options, draws

    def resume_block(self, directory: pathlib.Path) -> int | None:
        """The period a chunk resumes from (None: from the start)."""
        return None

    def _placed(self, hypers: list) -> list:
        """(compiled, data, hyperparameters) on device i for the i-th chunk."""
        self._ready(len(hypers))
        return [
            (*self._on[i], jax.device_put(hyper, self.devices[i]))
            for i, hyper in enumerate(hypers)
        ]

    def launch(self, hypers: list, directories: list[pathlib.Path] = ()) -> list:
        """Dispatch the chunks (asynchronously: nothing is waited for); `collect` reads them."""
        return [
            train(hyper, data, draw(hyper, data))
            for (draw, train), data, hyper in self._placed(hypers)
        ]

    def collect(self, outputs: list) -> list:
        """The launched chunks' (params, metrics) on the host (waits for them)."""
        return [jax.device_get((state.params, metrics)) for state, metrics in outputs]

    def __call__(self, hypers: list, directories: list[pathlib.Path] = ()) -> list:
        return self.collect(self.launch(hypers, directories))


class CompiledSegments(CompiledGroup):
    """A chunk run as start -> segments of checkpoint_every steps -> finish, saving between them.

    `start` is init, block 0 (the evaluation of step 0) and the first segment; each segment
    advances checkpoint_every // log_every blocks; `finish` computes the diagnostics: the
    one-piece program's pieces (training.RunProgram), so the same results; four compiled
    programs per group (the draws, start, advance, finish) instead of two. (Block 0 runs inside
    a loop of several blocks, as in the one-piece program: alone, XLA would compile it apart
    from the loop and round the step-0 evaluation differently.) Each chunk is saved to, and
    resumed from, its own directory (so a sweep may resume on another device count) under the
    number of blocks done; the chunks of one call resume from the same block (`execute` groups
    them so). See experiments.checkpoints.
    """

    PIECES = ("draws", "start", "advance", "finish")

    def lower(self, hyper, data) -> Iterator[tuple[jax.stages.Lowered, dict | None]]:
        pieces = self.pieces
        self.segment = int(self.config.checkpoint_every) // int(self.config.log_every)
        self.n_blocks = pieces.n_blocks
        lowered, options, draws = self._lower_draws(hyper, data)
        yield lowered, options
        start = jax.jit(jax.vmap(
            lambda h, d, r: pieces.advance(pieces.init(h, d, r), h, d, r, 0, 1 + self.segment),
            in_axes=(0, None, 0),
        ))
        advance = jax.jit(
            jax.vmap(
                lambda c, h, d, r, b: pieces.advance(c, h, d, r, b, self.segment),
                in_axes=(0, 0, None, 0, None),
            )
        )
        first = jax.ShapeDtypeStruct((), np.int32)
        carry, self.block_metrics = jax.eval_shape(start, hyper, data, draws)  # 1 + segment
        self.carry_spec = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), carry)
        blocks = devices.on_device(self._blocks_like(self.n_blocks), data["x_train"].device)
        finish = jax.jit(jax.vmap(pieces.finish, in_axes=(0, 0, None, 0, 0)))
        yield start.lower(hyper, data, draws), None
        yield advance.lower(carry, hyper, data, draws, first), None
        yield finish.lower(carry, hyper, data, draws, blocks), None

    def _blocks_like(self, n: int):
        """Shapes of the block metrics of n blocks (run axis first, then blocks)."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((x.shape[0], n, *x.shape[2:]), x.dtype),
            self.block_metrics,
        )

    def resume_block(self, directory: pathlib.Path) -> int | None:
        start = checkpoints.latest_step(directory)
        if start is not None and (self.n_blocks - start) % self.segment:
            logging.warning("ignoring %s: saved with another checkpoint_every", directory)
            checkpoints.remove(directory)
            start = None
        return start

    def collect(self, outputs: list) -> list:
        return outputs  # `launch` ran the chunks to the end (saving between segments)

    def launch(self, hypers: list, directories: list[pathlib.Path] = ()) -> list:
        placed = self._placed(hypers)
        starts = {self.resume_block(d) for d in directories} or {None}
        assert len(starts) == 1, f"chunks of one call resume from different blocks: {starts}"
        done = starts.pop()
        draws = [draw(hyper, data) for (draw, *_), data, hyper in placed]  # cheap: drawn again
        if done is None:
            out = [
                start(hyper, data, r)
                for ((_, start, _, _), data, hyper), r in zip(placed, draws, strict=True)
            ]
            carry = [c for c, _ in out]
            collected = [jax.device_get(blocks) for _, blocks in out]
            done = 1 + self.segment
            if done < self.n_blocks:
                for directory, c, blocks in zip(directories, carry, collected, strict=True):
                    checkpoints.save(directory, done, {"carry": c, "blocks": blocks})
        else:
            like = {"carry": self.carry_spec, "blocks": self._blocks_like(done)}
            restored = [checkpoints.restore(d, done, like) for d in directories]
            carry = [
                jax.device_put(r["carry"], device)
                for r, device in zip(restored, self.devices, strict=False)
            ]
            collected = [jax.device_get(r["blocks"]) for r in restored]
            logging.info("resumed %s at block %d of %d",
                         ", ".join(d.name for d in directories), done, self.n_blocks)
        for first in range(done, self.n_blocks, self.segment):
            out = [
                advance(c, hyper, data, r, np.int32(first))
                for c, ((_, _, advance, _), data, hyper), r in zip(
                    carry, placed, draws, strict=True
                )
            ]
            carry = [c for c, _ in out]
            collected = [
                jax.tree.map(lambda a, b: np.concatenate([a, b], axis=1), old, jax.device_get(new))
                for old, (_, new) in zip(collected, out, strict=True)
            ]
            done = first + self.segment
            if done < self.n_blocks:
                for directory, c, blocks in zip(directories, carry, collected, strict=True):
                    checkpoints.save(directory, done, {"carry": c, "blocks": blocks})
        metrics = [
            finish(c, hyper, data, r, blocks)
            for c, blocks, ((*_, finish), data, hyper), r in zip(
                carry, collected, placed, draws, strict=True
            )
        ]
        return [jax.device_get((c.state.params, m)) for c, m in zip(carry, metrics, strict=True)]


# Dataset fields that only the host's data loading reads (experiments.data): groups differing in
# them alone (a claim's units: another split of the same shapes) compile to one program.
HOST_DATA_FIELDS = ("dataset.split_seed", "dataset.data_seed", "dataset.validation_seed")


def program_key(program: Group, data: dict, hyper_spec: dict, devices_: list) -> str:
    """What a group's executables are compiled from, known before tracing: its structure config
    less HOST_DATA_FIELDS and the sweep's axes (their values are in the fields), its losses and
    noise families, the shapes and dtypes of its data and of a chunk's hyperparameters, and the
    devices. Two groups with one key lower to the same program text
    (tests/test_shared_executables.py checks the claims' units)."""
    fields = {k: v for k, v in grid.flatten(program.config).items()  # the group's own values
              if k not in HOST_DATA_FIELDS and not k.startswith("sweep.")}
    shapes = {k: (tuple(v.shape), str(v.dtype)) for k, v in {**data, **hyper_spec}.items()}
    return json.dumps([sorted(fields.items()), program.losses, program.noises,
                       sorted(shapes.items()), [str(d) for d in devices_]], default=repr)


def compile_group(plan: SweepPlan, program: Group, shared: dict | None = None) -> CompiledGroup:
    """The group's program, compiled ahead of time at the chunk's shape (for the first device).

    `shared` (a dict the caller keeps, e.g. across a claim's units): executables by program_key;
    a group whose key is there reuses them without tracing or compiling (the numbers are the
    same: the same program), and a new one is added. Not for checkpointed segments."""
    if int(program.config.checkpoint_every) > 0:
        return CompiledSegments(plan, program)
    return CompiledGroup(plan, program, shared)


@dataclasses.dataclass
class ChunkResult:
    """What the engine returns for one chunk (padding members removed)."""

    program: Group
    chunk: Chunk
    data: dict[str, jax.Array]
    params: Any  # pytree of numpy arrays, leading axis = the chunk's runs
    metrics: dict[str, np.ndarray]  # curve -> (runs, logged steps); diagnostic -> (runs,)

    def oracle_columns(self) -> dict[str, np.ndarray]:
        """param_error_to_oracle of linear quantile / absolute-error runs (a host LP per run)."""
        config, n = self.program.config, len(self.chunk.runs)
        hyper = {k: v[:n] for k, v in self.chunk.hyper.items()}
        return oracles.quantile_errors(
            config,
            self.program.losses,
            hyper,
            self.data["x_train"],
            lambda i: training.targets(
                config, {k: v[i] for k, v in hyper.items()}, self.data, self.program.noises
            )[0],
            self.params,
        )


def _waves(chunks, size: int, start_of) -> Iterator[list[Chunk]]:
    """Consecutive chunks, up to `size` at a time, the chunks of a wave resuming from one period."""
    for _, same_start in itertools.groupby(chunks, start_of):
        same_start = list(same_start)
        for i in range(0, len(same_start), size):
            yield same_start[i : i + size]


def _compiled(plan: SweepPlan, program: Group, shared: dict | None = None) -> CompiledGroup:
    t0 = time.perf_counter()
    compiled = compile_group(plan, program, shared)
    logging.info(
        "group %d (%s): compiled in %.1fs",
        program.group_id, program.label, time.perf_counter() - t0,
    )
    return compiled


def execute(
    plan: SweepPlan, chunks, checkpoint_root: pathlib.Path, shared: dict | None = None
) -> Iterator[ChunkResult]:
    """The engine loop: compile each program that `chunks` need once, run its chunks in order,
    one whole chunk per local device at a time.

    With config.compile_ahead (the default), every needed program is compiled up front, in the
    order the groups run, by worker threads (tracing holds the GIL, XLA's compile does not)
    while the earlier groups' chunks train; and each wave of chunks is dispatched before the
    previous wave's results are read back and handed to the caller, so the caller's host work
    on a chunk (tables, TensorBoard events) overlaps the next one's training. Each chunk runs the
    same compiled program on the same inputs either way: the numbers are the same. A compile
    error surfaces here, once; programs not yet being compiled are then cancelled.

    Mid-run checkpoints (config.checkpoint_every) go to checkpoint_root/checkpoints/g<G>-c<C>.
    `shared`: executables kept across calls (compile_group).
    """
    todo = {p.group_id: [c for c in chunks if c.group_id == p.group_id] for p in plan.groups}
    needed = [p for p in plan.groups if todo[p.group_id]]
    ahead = bool(plan.config.compile_ahead)
    pool = None
    if ahead and len(needed) > 1:  # one program: nothing to overlap its compile with
        workers = max(1, min(len(needed), (os.cpu_count() or 1) // 2))  # the other cores train
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="losslab-compile")
        futures = {p.group_id: pool.submit(_compiled, plan, p, shared) for p in needed}
    pending = None  # the wave dispatched last: (program, compiled, wave, outputs)

    def results(program, compiled, wave, outputs) -> Iterator[ChunkResult]:
        for chunk, (params, metrics) in zip(wave, compiled.collect(outputs), strict=True):
            n = len(chunk.runs)
            yield ChunkResult(
                program,
                chunk,
                compiled.data,
                jax.tree.map(lambda leaf, n=n: leaf[:n], params),
                {k: v[:n] for k, v in metrics.items()},
            )

    try:
        for program in needed:
            if pool is None:
                compiled = _compiled(plan, program, shared)
            else:
                future = futures[program.group_id]
                ok = future.done() and future.exception() is None
                if pending is not None and not ok:  # hand on what is ready first
                    yield from results(*pending)
                    pending = None
                compiled = future.result()
            group = todo[program.group_id]
            directory = {c.key: checkpoints.chunk_dir(checkpoint_root, *c.key) for c in group}
            starts = {c.key: compiled.resume_block(directory[c.key]) for c in group}
            for wave in _waves(group, plan.n_devices, lambda c: starts[c.key]):
                outputs = compiled.launch([c.hyper for c in wave], [directory[c.key] for c in wave])
                if pending is not None:
                    yield from results(*pending)
                pending = (program, compiled, wave, outputs)
                if not ahead:
                    yield from results(*pending)
                    pending = None
        if pending is not None:
            yield from results(*pending)
    finally:
        if pool is not None:  # on an error (or the caller stopping): don't wait for compiles
            pool.shutdown(wait=False, cancel_futures=True)


def use_compilation_cache(config: config_dict.ConfigDict) -> None:
    """Point JAX's persistent compilation cache at config.compilation_cache_dir ("" = off).

    Entries are keyed by the program, the XLA flags and the library versions, so a hit can only
    return the program that compiling would produce. Only the first directory set in a process
    takes effect (JAX initializes the cache once).
    """
    directory = str(config.compilation_cache_dir)
    if not directory or jax.config.jax_compilation_cache_dir:
        return
    path = pathlib.Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logging.warning("compilation cache off: cannot create %s (%s)", path, error)
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def run_sweep(
    config: config_dict.ConfigDict,
    workdir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    overridden: Collection[str] = (),
) -> SweepResult:
    """Run every member of the config's grid; write tables, TensorBoard, plots; return tables.

    `overridden`: the fields set on the command line (a swept one is refused, see
    experiments.validation.check_fields). The config is checked before the workdir is locked,
    so a refused one writes nothing (no directory, no lock file).
    """
    workdir = pathlib.Path(workdir)
    # Every check, then the grid, once: before any compute or any write.
    plan = SweepPlan.resolve(config, jax.local_device_count(), overridden=overridden)
    devices.check_xla_flags(config)
    with workdir_lock.sweep_lock(plan, workdir):
        return _run_plan(config, plan, workdir, overwrite)


def _run_plan(config: config_dict.ConfigDict, plan: SweepPlan, workdir: pathlib.Path,
              overwrite: bool) -> SweepResult:
    """run_sweep once the plan is resolved and the workdir locked."""
    use_compilation_cache(config)
    part = plan.part
    total = sum(len(c.runs) for c in plan.owned)
    logging.info(
        "sweep%s: %d runs in %d groups, chunks of %d, one chunk per device on %d device(s)",
        f" {part.name}" if part.count > 1 else "",
        total,
        len({c.group_id for c in plan.owned}),
        plan.chunk_size,
        plan.n_devices,
    )

    record = provenance.record()
    record.update(config=config.to_dict(), grid=plan.grid_record())
    workdir_lib.prepare(workdir, plan, record, overwrite=overwrite)
    logging.info("resolved config: %s", workdir / result_files.CONFIG_FILE)
    if part.count > 1:
        parts.write_part_record(workdir, part, dict(record, chunk_size=plan.chunk_size))

    steps = training.logged_steps(config)
    todo = [c for c in plan.owned if not result_files.chunk_done(workdir, plan.digest, *c.key)]
    events = tensorboard_events.Writer(workdir, plan)  # per chunk, so a running sweep shows
    progress = console.ProgressBar(
        total=total, desc="sweep", unit="run", disable=not config.progress
    )
    trained = sum(len(c.runs) for c in todo)
    progress.update(total - trained)  # already written
    t_start = time.perf_counter()
    compiled: set[int] = set()
    for result in execute(plan, todo, workdir):
        chunk = result.chunk
        compiled.add(chunk.group_id)
        runs_df, curves_df = table_rows.chunk_tables(
            config, result.program, chunk.runs, result.metrics, steps, result.oracle_columns()
        )
        events.write_chunk(chunk.key, runs_df, curves_df)  # before the tables: see its module
        density = density_table.chunk_tables(chunk.runs, result.metrics, steps)
        result_files.write_chunk(workdir, plan.digest, *chunk.key, runs_df, curves_df, density)
        checkpoints.remove(checkpoints.chunk_dir(workdir, *chunk.key))
        progress.update(len(chunk.runs))
    progress.close()
    if trained:
        logging.info("sweep: trained %d runs in %.1fs", trained, time.perf_counter() - t_start)
    else:
        logging.info("sweep: all %d runs were already in %s: nothing to train", total, workdir)

    if part.count == 1:
        return dataclasses.replace(assemble(plan, workdir), compiled_programs=len(compiled))
    # In parts: process 0 of a job waits for its job's processes; whoever then sees every chunk
    # of the grid assembles (one at a time); the others return their own part's rows.
    if parts.ready_to_assemble(plan, workdir):
        with parts.assembly_lock(workdir) as mine:
            if mine:
                return dataclasses.replace(assemble(plan, workdir), compiled_programs=len(compiled))
            logging.info("another part is assembling the tables in %s", workdir)
    own = [c.key for c in plan.owned]
    return SweepResult(*result_files.read_chunks(workdir, own), workdir, len(compiled), {})


def assemble(plan: SweepPlan, workdir: str | pathlib.Path) -> SweepResult:
    """Assemble every chunk in `workdir` into the tables, TensorBoard events, plots and summary.

    The end of `run_sweep`, and all of `python -m experiments.merge`. Raises ValueError listing
    the missing chunks when the sweep isn't complete. For a sweep run in parts, config.json
    becomes part 0's record plus where every part ran.
    """
    workdir = pathlib.Path(workdir)
    config = plan.config
    parts.check_complete(plan, workdir)
    if parts.read_part_records(workdir):
        result_files.write_json(workdir / "config.json", parts.merged_record(workdir))
    runs_df, curves_df = result_files.assemble(workdir, plan.digest)
    groups_df = stability.group_table(runs_df)
    result_files.write_csv(workdir / result_files.GROUPS_TABLE, groups_df)
    paths = {
        "config": workdir / "config.json",
        "runs": workdir / result_files.RUNS_TABLE,
        "curves": workdir / result_files.CURVES_TABLE,
        "groups": workdir / result_files.GROUPS_TABLE,
    }
    if config.tensorboard:
        paths["tensorboard"] = tensorboard_events.Writer(workdir, plan).write_missing()
    if config.plots:
        plotted = plots.sweep_plots(runs_df, curves_df, workdir / "plots", groups_df)
        paths.update({f"plot:{name}": path for name, path in plotted.items()})
    paths.update(density_table.outputs(workdir, runs_df, plot=config.plots))
    summary = plots.end_of_run_summary(runs_df, workdir, paths)
    logging.info("summary:\n%s", "\n".join(summary))
    return SweepResult(runs_df, curves_df, workdir, 0, paths, groups_df)
