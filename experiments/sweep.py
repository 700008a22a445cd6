r"""Run a sweep: flags -> config -> `run_sweep(config, workdir)`.

  python -m experiments.sweep --config=configs/default.py --workdir=runs/default \
      [--config.<field>=<value> ...]

Each group of runs that shares a program structure is compiled once (`jit(vmap(run))`, ahead of
time) and fed its runs in chunks of `config.chunk_size` stacked hyperparameters, sharded along the
run axis when several devices are visible. Each finished chunk is written to the workdir at once;
rerunning the same command skips chunks already written.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from absl import app, flags, logging
from ml_collections import config_dict, config_flags
from tqdm import tqdm

import configs
from experiments import (
    checkpoints,
    distribution,
    grid,
    plots,
    provenance,
    results,
    stability,
    tables,
    training,
    validation,
)
from experiments import data as data_lib
from experiments import workdir as workdir_lib

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


def _mesh_sharding():
    """(hyper sharding, data sharding, device count): split runs over devices, replicate data.

    Local devices only: under jax.distributed each process runs its own chunks on its own devices
    (jax.devices() would list every process's).
    """
    devices = jax.local_devices()
    if len(devices) == 1:
        return None, None, 1
    mesh = jax.sharding.Mesh(np.asarray(devices), ("runs",))
    P = jax.sharding.PartitionSpec
    return (
        jax.sharding.NamedSharding(mesh, P("runs")),
        jax.sharding.NamedSharding(mesh, P()),
        len(devices),
    )


class SegmentedProgram:
    """A chunk run as init -> segments of checkpoint_every steps -> finish, saving between segments.

    Same results as the one-piece program (every piece is pure); three compiled programs per group
    instead of one. See experiments.checkpoints.
    """

    def __init__(self, config, dataset, chunk_size: int, data):
        program = training.make_program(config, dataset)
        every = int(config.checkpoint_every)
        if every % program.period_steps or int(config.steps) % every:
            raise ValueError(
                f"config.checkpoint_every={every} must be a multiple of {program.period_steps} "
                f"(log_every, or sharpness_every when on) that divides config.steps={config.steps}"
            )
        self.segment = every // program.period_steps
        self.n_periods = program.n_periods
        hyper_spec = _hyper_spec(config, chunk_size)
        with distribution.matmul_precision(config):
            self.init = jax.jit(jax.vmap(program.init, in_axes=(0, None)))
            carry = jax.eval_shape(self.init, hyper_spec, data)
            advance = jax.jit(
                jax.vmap(
                    lambda c, h, d, p: program.advance(c, h, d, p, self.segment),
                    in_axes=(0, 0, None, None),
                )
            )
            self.segment_periods = jax.eval_shape(
                advance, carry, hyper_spec, data, jax.ShapeDtypeStruct((), np.int32)
            )[1]
            self.advance = advance.lower(
                carry, hyper_spec, data, jax.ShapeDtypeStruct((), np.int32)
            ).compile()
            self.init = self.init.lower(hyper_spec, data).compile()
            _, periods = jax.eval_shape(
                lambda c, h, d: jax.vmap(
                    lambda c1, h1: program.advance(c1, h1, d, 0, self.n_periods)
                )(c, h),
                carry, hyper_spec, data,
            )
            self.finish = (
                jax.jit(jax.vmap(program.finish, in_axes=(0, 0, None, 0)))
                .lower(carry, hyper_spec, data, periods)
                .compile()
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
            periods_like = jax.tree.map(
                lambda x: jax.ShapeDtypeStruct((x.shape[0], start, *x.shape[2:]), x.dtype),
                self.segment_periods,
            )
            like = {"carry": carry, "periods": periods_like}
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


def _hyper_spec(config, chunk_size: int) -> dict[str, jax.ShapeDtypeStruct]:
    return {
        path: jax.ShapeDtypeStruct(
            (chunk_size,), np.int32 if path in grid.INTEGER_FIELDS else np.float32
        )
        for path in grid.hyper_of(config)
    }


def compile_group(config, dataset, chunk_size: int):
    """AOT-compile jit(vmap(run)) for one group at a fixed chunk shape."""
    run = training.make_run(config, dataset)
    hyper_sharding, data_sharding, _ = _mesh_sharding()
    vmapped = jax.vmap(run, in_axes=(0, None))
    data = training.data_arrays(dataset)
    if int(config.checkpoint_every) > 0:  # not sharded yet: runs on the default device
        return SegmentedProgram(config, dataset, chunk_size, data), data
    if hyper_sharding is None:
        program = jax.jit(vmapped)
    else:
        program = jax.jit(vmapped, in_shardings=(hyper_sharding, data_sharding))
        data = jax.device_put(data, data_sharding)  # replicated once, not per chunk
    with distribution.matmul_precision(config):  # a trace-time setting
        return program.lower(_hyper_spec(config, chunk_size), data).compile(), data


def run_chunk(program, hyper, data, workdir, group_id: int, chunk_id: int):
    """(final state, metrics) of one chunk; resumes from and writes mid-run checkpoints if on."""
    if isinstance(program, SegmentedProgram):
        directory = checkpoints.chunk_dir(workdir, group_id, chunk_id)
        return program(hyper, data, directory)  # the sweep removes directory once written
    return program(hyper, data)


def oracle_columns(group, runs, hyper, data, state) -> dict[str, np.ndarray]:
    """param_error_to_oracle for linear quantile / absolute-error runs (an LP per run, on host)."""
    config = group.config
    family = training.group_losses(config)
    if not any(training.oracle_kind(config, loss) == "quantile" for loss in family):
        return {}
    errors = np.full(len(runs), np.nan)
    for i in range(len(runs)):
        member = {k: v[i] for k, v in hyper.items()}
        loss = family[int(member[grid.LOSS_INDEX])]
        if training.oracle_kind(config, loss) != "quantile":
            continue
        if config.penalty != "none" and member["penalty_strength"] != 0:
            continue  # the LP oracle is for the unpenalized problem
        tau = float(member["loss_knobs.tau"]) if loss == "quantile" else 0.5
        y_train = np.asarray(training.targets(config, member, data)[0])
        exact = stability.quantile_oracle(np.asarray(data["x_train"]), y_train, tau)
        params = jax.tree.map(lambda leaf, i=i: leaf[i], state.params)
        theta = np.asarray(stability.linear_params_vector(params), np.float64)
        errors[i] = np.linalg.norm(theta - exact) / max(np.linalg.norm(exact), 1e-30)
    return {"param_error_to_oracle": errors}


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
    config: config_dict.ConfigDict, workdir: str | pathlib.Path, *, overwrite: bool = False
) -> SweepResult:
    """Run every member of the config's grid; write tables, TensorBoard, plots; return tables."""
    workdir = pathlib.Path(workdir)
    datasets = validation.validate_config(config)  # before any compute or any write
    distribution.check_xla_flags(config)
    use_compilation_cache(config)
    part = distribution.part_of(config)
    all_groups = grid.expand(config)
    groups = distribution.select(all_groups, config)  # this part's chunks (all, for one part)
    total = sum(len(g.runs) for g in groups)
    _, _, n_devices = _mesh_sharding()
    # Chunk boundaries come from config.chunk_size alone (so parts on different hardware agree on
    # what chunk C holds); only the compiled shape is padded to a multiple of the device count.
    # Never larger than the largest group: a padded member is wasted work.
    chunk_size = max(1, min(int(config.chunk_size), max(len(g.runs) for g in all_groups)))
    compiled_size = -(-chunk_size // n_devices) * n_devices
    logging.info(
        "sweep%s: %d runs in %d groups, chunks of %d (compiled as %d), %d device(s)",
        f" {part.name}" if part.count > 1 else "",
        total,
        len(groups),
        chunk_size,
        compiled_size,
        n_devices,
    )

    for group in groups:  # validation loaded them; a numeric dataset axis may still add some
        key = grid.dataset_key(group.config)
        if key not in datasets:
            datasets[key] = data_lib.load(group.config.dataset)

    record = provenance.record()
    record.update(
        config=config.to_dict(),
        grid={
            "axes": [[p, list(v)] for p, v in grid.sweep_axes(config)],
            "runs": sum(len(g.runs) for g in all_groups),
            "groups": [
                {
                    "group_id": g.group_id,
                    "runs": len(g.runs),
                    "structure": {p: v for p, v in g.structure if p in dict(g.runs[0].swept)},
                }
                for g in all_groups
            ],
        },
    )
    workdir_lib.prepare(workdir, config, record, chunk_size=chunk_size, overwrite=overwrite)
    if part.count > 1:
        distribution.write_part_record(workdir, part, dict(record, chunk_size=chunk_size))

    compiled = 0
    steps = training.logged_steps(config)
    progress = tqdm(total=total, desc="sweep", unit="run", disable=not config.progress)
    t_start = time.perf_counter()
    for group in groups:
        todo = [
            (cid, runs, hyper)
            for cid, runs, hyper in group.chunks(chunk_size)
            if not results.chunk_done(workdir, group.group_id, cid)
        ]
        progress.update(len(group.runs) - sum(len(r) for _, r, _ in todo))  # already written
        if not todo:
            continue
        t0 = time.perf_counter()
        program, data = compile_group(
            group.config, datasets[grid.dataset_key(group.config)], compiled_size
        )
        compiled += 1
        logging.info(
            "group %d (%s): compiled in %.1fs",
            group.group_id,
            ", ".join(f"{p}={v}" for p, v in group.runs[0].swept if p not in grid.NUMERIC_FIELDS)
            or "all",
            time.perf_counter() - t0,
        )
        for chunk_id, runs, hyper in todo:
            pad = np.arange(compiled_size).clip(max=chunk_size - 1)  # repeat the last member
            hyper = {k: v[pad] for k, v in hyper.items()}
            state, metrics = run_chunk(program, hyper, data, workdir, group.group_id, chunk_id)
            metrics = jax.device_get(metrics)
            extra = oracle_columns(group, runs, hyper, data, state)
            runs_df, curves_df = tables.chunk_tables(group, runs, metrics, steps, extra)
            results.write_chunk(workdir, group.group_id, chunk_id, runs_df, curves_df)
            checkpoints.remove(checkpoints.chunk_dir(workdir, group.group_id, chunk_id))
            progress.update(len(runs))
    progress.close()
    logging.info("sweep: trained %d runs in %.1fs", total, time.perf_counter() - t_start)

    if part.count == 1:
        return dataclasses.replace(finish(config, workdir), compiled_programs=compiled)
    # In parts: process 0 of a job waits for its job's processes; whoever then sees every chunk
    # of the grid assembles (one at a time); the others return their own part's rows.
    own = [(g.group_id, c) for g in groups for c, _, _ in g.chunks(chunk_size)]
    if distribution.ready_to_assemble(config, workdir, part):
        with distribution.assembly_lock(workdir) as mine:
            if mine:
                return dataclasses.replace(finish(config, workdir), compiled_programs=compiled)
            logging.info("another part is assembling the tables in %s", workdir)
    return SweepResult(*results.read_chunks(workdir, own), workdir, compiled, {})


def finish(config: config_dict.ConfigDict, workdir: str | pathlib.Path) -> SweepResult:
    """Assemble every chunk in `workdir` into the tables, TensorBoard events, plots and summary.

    The end of `run_sweep`, and all of `python -m experiments.merge`. Raises ValueError listing
    the missing chunks when the sweep isn't complete. For a sweep run in parts, config.json
    becomes part 0's record plus where every part ran.
    """
    workdir = pathlib.Path(workdir)
    distribution.check_complete(config, workdir)
    if distribution.read_part_records(workdir):
        results.write_json(workdir / "config.json", distribution.merged_record(workdir))
    runs_df, curves_df = results.assemble(workdir)
    groups_df = stability.group_table(runs_df)
    results.write_csv(workdir / results.GROUPS_TABLE, groups_df)
    paths = {
        "config": workdir / "config.json",
        "runs": workdir / results.RUNS_TABLE,
        "curves": workdir / results.CURVES_TABLE,
        "groups": workdir / results.GROUPS_TABLE,
    }
    if config.tensorboard:
        paths["tensorboard"] = results.write_tensorboard(workdir, runs_df, curves_df)
    if config.plots:
        plotted = plots.sweep_plots(runs_df, curves_df, workdir / "plots", groups_df)
        for name, path in plotted.items():
            paths[f"plot:{name}"] = path
    summary = plots.summary_table(runs_df)
    logging.info("summary (median over seeds):\n%s", summary.to_string())
    for name, path in paths.items():
        logging.info("wrote %s: %s", name, path)
    return SweepResult(runs_df, curves_df, workdir, 0, paths, groups_df)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _WORKDIR.value is None:
        raise app.UsageError("--workdir is required (e.g. --workdir=runs/default)")
    config = _CONFIG.value
    logging.info("config:\n%s", json.dumps(config.to_dict(), indent=1, default=str))
    try:
        # Both before anything initializes JAX's backend: XLA reads XLA_FLAGS once, at that moment.
        distribution.apply_xla_flags(config)
        distribution.initialize(config)
        run_sweep(config, _WORKDIR.value, overwrite=_OVERWRITE.value)
    except (validation.ConfigError, workdir_lib.WorkdirError, results.ResultsWriteError) as e:
        logging.error("%s", e)  # one line, no traceback: the message says what to fix
        sys.exit(2 if isinstance(e, validation.ConfigError | workdir_lib.WorkdirError) else 1)


if __name__ == "__main__":
    app.run(main, flags_parser=validation.parse_flags)
