r"""Run a sweep: flags -> config -> `run_sweep(config, workdir)`.

  python -m experiments.sweep --config=configs/default.py --workdir=runs/default \
      [--config.<field>=<value> ...]

The config is resolved once (experiments.plan: every check, then the grid). `execute`, the
engine loop shared with the claims' trained runs, compiles each group's program once
(`jit(vmap(run))`, ahead of time) and feeds it the plan's chunks of stacked hyperparameters,
sharded along the run axis when several devices are visible. Each finished chunk is written to
the workdir at once; rerunning the same command skips chunks already written.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time
from collections.abc import Collection, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pandas as pd
from absl import app, flags, logging
from ml_collections import config_dict, config_flags

import configs
from experiments import (
    checkpoints,
    console,
    devices,
    distribution,
    oracles,
    plots,
    provenance,
    result_files,
    stability,
    table_rows,
    tensorboard_events,
    training,
    validation,
    workdir_lock,
)
from experiments import workdir as workdir_lib
from experiments.plan import Chunk, Program, SweepPlan

# The default config is found through the installed `configs` package: it works from any directory.
_CONFIG = config_flags.DEFINE_config_file(
    "config", str(pathlib.Path(configs.__file__).with_name("default.py")),
    "Path to an ml_collections config file (default: the shipped configs/default.py).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for tables, plots and TensorBoard.")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "If --workdir holds a different sweep, move it aside to "
    "<workdir>.old-<timestamp> and start fresh (without it, such a workdir is refused)."
)


@dataclasses.dataclass
class SweepResult:
    runs: pd.DataFrame
    curves: pd.DataFrame
    workdir: pathlib.Path
    compiled_programs: int  # training programs compiled by this call (one per group at most)
    paths: dict[str, pathlib.Path]
    groups: pd.DataFrame | None = None  # stability.group_table of the runs (groups.csv)


def _hyper_spec(plan: SweepPlan, program: Program) -> dict[str, jax.ShapeDtypeStruct]:
    return {
        path: jax.ShapeDtypeStruct((plan.compiled_size,), values.dtype)
        for path, values in program.hyper.items()
    }


class SegmentedProgram:
    """A chunk run as init -> segments of checkpoint_every steps -> finish, saving between segments.

    Same results as the one-piece program (every piece is pure); three compiled programs per group
    instead of one. See experiments.checkpoints.
    """

    def __init__(self, plan: SweepPlan, program: Program, data):
        config = program.config
        pieces = training.make_program(config, plan.dataset(program), program.losses)
        self.segment = int(config.checkpoint_every) // pieces.period_steps
        self.n_periods = pieces.n_periods
        hyper_spec = _hyper_spec(plan, program)
        first = jax.ShapeDtypeStruct((), np.int32)
        with devices.matmul_precision(config):
            init = jax.jit(jax.vmap(pieces.init, in_axes=(0, None)))
            carry = jax.eval_shape(init, hyper_spec, data)
            advance = jax.jit(
                jax.vmap(
                    lambda c, h, d, p: pieces.advance(c, h, d, p, self.segment),
                    in_axes=(0, 0, None, None),
                )
            )
            self.segment_periods = jax.eval_shape(advance, carry, hyper_spec, data, first)[1]
            self.advance = advance.lower(carry, hyper_spec, data, first).compile()
            self.init = init.lower(hyper_spec, data).compile()
            self.finish = (
                jax.jit(jax.vmap(pieces.finish, in_axes=(0, 0, None, 0)))
                .lower(carry, hyper_spec, data, self._periods_like(self.n_periods))
                .compile()
            )

    def _periods_like(self, n: int):
        """Shapes of the period metrics of n periods (run axis first, then periods)."""
        return jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((x.shape[0], n, *x.shape[2:]), x.dtype),
            self.segment_periods,
        )

    def __call__(self, hyper, data, directory: pathlib.Path):
        start = checkpoints.latest_step(directory)
        carry = self.init(hyper, data)
        periods_done, collected = 0, None
        if start is not None and (self.n_periods - start) % self.segment:
            logging.warning("ignoring %s: saved with another checkpoint_every", directory)
            checkpoints.remove(directory)
            start = None
        if start is not None:
            like = {"carry": carry, "periods": self._periods_like(start)}
            restored = checkpoints.restore(directory, start, like)
            carry, collected, periods_done = restored["carry"], restored["periods"], start
            logging.info("resumed %s at period %d of %d", directory.name, start, self.n_periods)
        for first in range(periods_done, self.n_periods, self.segment):
            carry, periods = self.advance(carry, hyper, data, np.int32(first))
            collected = periods if collected is None else jax.tree.map(
                lambda a, b: jnp.concatenate([a, b], axis=1), collected, periods
            )
            done = first + self.segment
            if done < self.n_periods:
                checkpoints.save(directory, done, {"carry": carry, "periods": collected})
        metrics = self.finish(carry, hyper, data, collected)
        return carry.state, metrics


def compile_program(plan: SweepPlan, program: Program):
    """(compiled program, its data on device): jit(vmap(run)) ahead of time, at the chunk shape."""
    config = program.config
    data = training.data_arrays(plan.dataset(program))
    if int(config.checkpoint_every) > 0:  # not sharded yet: runs on the default device
        return SegmentedProgram(plan, program, data), data
    run = training.make_run(config, plan.dataset(program), program.losses)
    vmapped = jax.vmap(run, in_axes=(0, None))
    hyper_sharding, data_sharding = devices.mesh_shardings(plan.n_devices)
    if hyper_sharding is None:
        compiled = jax.jit(vmapped)
    else:
        compiled = jax.jit(vmapped, in_shardings=(hyper_sharding, data_sharding))
        data = jax.device_put(data, data_sharding)  # replicated once, not per chunk
    with devices.matmul_precision(config):  # a trace-time setting
        return compiled.lower(_hyper_spec(plan, program), data).compile(), data


@dataclasses.dataclass
class ChunkResult:
    """What the engine returns for one chunk (padding members removed)."""

    program: Program
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
            lambda i: training.targets(config, {k: v[i] for k, v in hyper.items()}, self.data)[0],
            self.params,
        )


def execute(
    plan: SweepPlan, chunks, checkpoint_root: pathlib.Path
) -> Iterator[ChunkResult]:
    """The engine loop: compile each program that `chunks` need once, run its chunks in order.

    Mid-run checkpoints (config.checkpoint_every) go to checkpoint_root/checkpoints/g<G>-c<C>.
    """
    for program in plan.programs:
        todo = [c for c in chunks if c.group_id == program.group_id]
        if not todo:
            continue
        t0 = time.perf_counter()
        compiled, data = compile_program(plan, program)
        logging.info(
            "group %d (%s): compiled in %.1fs",
            program.group_id, program.label, time.perf_counter() - t0,
        )
        for chunk in todo:
            if isinstance(compiled, SegmentedProgram):
                directory = checkpoints.chunk_dir(checkpoint_root, *chunk.key)
                state, metrics = compiled(chunk.hyper, data, directory)
            else:
                state, metrics = compiled(chunk.hyper, data)
            n = len(chunk.runs)
            yield ChunkResult(
                program,
                chunk,
                data,
                jax.tree.map(lambda leaf, n=n: np.asarray(leaf)[:n], state.params),
                {k: np.asarray(v)[:n] for k, v in jax.device_get(metrics).items()},
            )


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


@workdir_lock.locked
def run_sweep(
    config: config_dict.ConfigDict,
    workdir: str | pathlib.Path,
    *,
    overwrite: bool = False,
    overridden: Collection[str] = (),
) -> SweepResult:
    """Run every member of the config's grid; write tables, TensorBoard, plots; return tables.

    `overridden`: the fields set on the command line (a swept one is refused, see
    experiments.validation.check_fields).
    """
    workdir = pathlib.Path(workdir)
    # Every check, then the grid, once: before any compute or any write.
    plan = SweepPlan.resolve(config, jax.local_device_count(), overridden=overridden)
    devices.check_xla_flags(config)
    use_compilation_cache(config)
    part = plan.part
    total = sum(len(c.runs) for c in plan.owned)
    logging.info(
        "sweep%s: %d runs in %d groups, chunks of %d (compiled as %d), %d device(s)",
        f" {part.name}" if part.count > 1 else "",
        total,
        len({c.group_id for c in plan.owned}),
        plan.chunk_size,
        plan.compiled_size,
        plan.n_devices,
    )

    record = provenance.record()
    record.update(config=config.to_dict(), grid=plan.grid_record())
    workdir_lib.prepare(workdir, plan, record, overwrite=overwrite)
    logging.info("resolved config: %s", workdir / workdir_lib.CONFIG_FILE)
    if part.count > 1:
        distribution.write_part_record(workdir, part, dict(record, chunk_size=plan.chunk_size))

    steps = training.logged_steps(config)
    todo = [c for c in plan.owned if not result_files.chunk_done(workdir, *c.key)]
    events = tensorboard_events.Writer(workdir, plan)  # per chunk, so a running sweep shows
    progress = console.ProgressBar(
        total=total, desc="sweep", unit="run", disable=not config.progress
    )
    progress.update(total - sum(len(c.runs) for c in todo))  # already written
    t_start = time.perf_counter()
    compiled: set[int] = set()
    for result in execute(plan, todo, workdir):
        chunk = result.chunk
        compiled.add(chunk.group_id)
        runs_df, curves_df = table_rows.chunk_tables(
            result.program, chunk.runs, result.metrics, steps, result.oracle_columns()
        )
        events.write_chunk(chunk.key, runs_df, curves_df)  # before the tables: see its module
        result_files.write_chunk(workdir, *chunk.key, runs_df, curves_df)
        checkpoints.remove(checkpoints.chunk_dir(workdir, *chunk.key))
        progress.update(len(chunk.runs))
    progress.close()
    logging.info("sweep: trained %d runs in %.1fs", total, time.perf_counter() - t_start)

    if part.count == 1:
        return dataclasses.replace(finish(plan, workdir), compiled_programs=len(compiled))
    # In parts: process 0 of a job waits for its job's processes; whoever then sees every chunk
    # of the grid assembles (one at a time); the others return their own part's rows.
    if distribution.ready_to_assemble(plan, workdir):
        with distribution.assembly_lock(workdir) as mine:
            if mine:
                return dataclasses.replace(finish(plan, workdir), compiled_programs=len(compiled))
            logging.info("another part is assembling the tables in %s", workdir)
    own = [c.key for c in plan.owned]
    return SweepResult(*result_files.read_chunks(workdir, own), workdir, len(compiled), {})


def finish(plan: SweepPlan, workdir: str | pathlib.Path) -> SweepResult:
    """Assemble every chunk in `workdir` into the tables, TensorBoard events, plots and summary.

    The end of `run_sweep`, and all of `python -m experiments.merge`. Raises ValueError listing
    the missing chunks when the sweep isn't complete. For a sweep run in parts, config.json
    becomes part 0's record plus where every part ran.
    """
    workdir = pathlib.Path(workdir)
    config = plan.config
    distribution.check_complete(plan, workdir)
    if distribution.read_part_records(workdir):
        result_files.write_json(workdir / "config.json", distribution.merged_record(workdir))
    runs_df, curves_df = result_files.assemble(workdir)
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
        for name, path in plotted.items():
            paths[f"plot:{name}"] = path
    summary = plots.end_of_run_summary(runs_df, workdir, paths)
    logging.info("summary:\n%s", "\n".join(summary))
    return SweepResult(runs_df, curves_df, workdir, 0, paths, groups_df)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    matplotlib.use("Agg")  # a command line draws to files; importing the modules never does this
    if _WORKDIR.value is None:
        raise app.UsageError("--workdir is required (e.g. --workdir=runs/default)")
    config = _CONFIG.value
    console.quiet_jax()
    try:
        # Both before anything initializes JAX's backend: XLA reads XLA_FLAGS once, at that moment.
        devices.apply_xla_flags(config)
        devices.initialize(config)
        overridden = config_flags.get_override_values(flags.FLAGS["config"])
        run_sweep(config, _WORKDIR.value, overwrite=_OVERWRITE.value, overridden=overridden)
    except (validation.ConfigError, workdir_lib.WorkdirError, result_files.ResultsWriteError) as e:
        logging.error("%s", e)  # one line, no traceback: the message says what to fix
        sys.exit(2 if isinstance(e, validation.ConfigError | workdir_lib.WorkdirError) else 1)


if __name__ == "__main__":
    app.run(main, flags_parser=validation.parse_flags)
