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
import time

import jax
import numpy as np
import pandas as pd
from absl import app, flags, logging
from ml_collections import config_dict, config_flags
from tqdm import tqdm

from experiments import data as data_lib
from experiments import grid, plots, provenance, results, tables, training

_CONFIG = config_flags.DEFINE_config_file(
    "config", "configs/default.py", "Path to an ml_collections config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for tables, plots and TensorBoard.")


@dataclasses.dataclass
class SweepResult:
    runs: pd.DataFrame
    curves: pd.DataFrame
    workdir: pathlib.Path
    compiled_programs: int  # training programs compiled by this call (one per group at most)
    paths: dict[str, pathlib.Path]


def dataset_fields(config: config_dict.ConfigDict) -> tuple:
    """The dataset fields that decide which arrays are loaded (noise is drawn in-program)."""
    return tuple(sorted(grid.flatten(config.dataset).items()))


def _mesh_sharding():
    """(hyper sharding, data sharding, device count): split runs over devices, replicate data."""
    devices = jax.devices()
    if len(devices) == 1:
        return None, None, 1
    mesh = jax.sharding.Mesh(np.asarray(devices), ("runs",))
    P = jax.sharding.PartitionSpec
    return (
        jax.sharding.NamedSharding(mesh, P("runs")),
        jax.sharding.NamedSharding(mesh, P()),
        len(devices),
    )


def compile_group(config, dataset, chunk_size: int):
    """AOT-compile jit(vmap(run)) for one group at a fixed chunk shape."""
    run = training.make_run(config, dataset)
    hyper_sharding, data_sharding, _ = _mesh_sharding()
    vmapped = jax.vmap(run, in_axes=(0, None))
    if hyper_sharding is None:
        program = jax.jit(vmapped)
    else:
        program = jax.jit(vmapped, in_shardings=(hyper_sharding, data_sharding))
    data = training.data_arrays(dataset)
    hyper_spec = {
        path: jax.ShapeDtypeStruct((chunk_size,), np.int32 if path == "seed" else np.float32)
        for path in grid.hyper_of(config)
    }
    return program.lower(hyper_spec, data).compile(), data


def run_sweep(config: config_dict.ConfigDict, workdir: str | pathlib.Path) -> SweepResult:
    """Run every member of the config's grid; write tables, TensorBoard, plots; return tables."""
    workdir = pathlib.Path(workdir)
    groups = grid.expand(config)
    total = sum(len(g.runs) for g in groups)
    _, _, n_devices = _mesh_sharding()
    chunk_size = max(1, int(config.chunk_size))
    chunk_size = -(-chunk_size // n_devices) * n_devices  # a multiple of the device count
    logging.info("sweep: %d runs in %d groups, chunks of %d, %d device(s)",
                 total, len(groups), chunk_size, n_devices)

    datasets: dict[tuple, data_lib.Dataset] = {}
    for group in groups:
        key = dataset_fields(group.config)
        if key not in datasets:
            datasets[key] = data_lib.load(group.config.dataset)

    workdir.mkdir(parents=True, exist_ok=True)
    record = provenance.record()
    record.update(
        config=config.to_dict(),
        grid={
            "axes": [[p, list(v)] for p, v in grid.sweep_axes(config)],
            "runs": total,
            "groups": [
                {"group_id": g.group_id, "runs": len(g.runs),
                 "structure": {p: v for p, v in g.structure if p in dict(g.runs[0].swept)}}
                for g in groups
            ],
        },
    )
    results.write_json(workdir / "config.json", record)

    compiled = 0
    steps = training.logged_steps(config)
    progress = tqdm(total=total, desc="sweep", unit="run", disable=not config.progress)
    t_start = time.perf_counter()
    for group in groups:
        todo = [
            (cid, runs, hyper) for cid, runs, hyper in group.chunks(chunk_size)
            if not results.chunk_done(workdir, group.group_id, cid)
        ]
        progress.update(len(group.runs) - sum(len(r) for _, r, _ in todo))  # already written
        if not todo:
            continue
        t0 = time.perf_counter()
        program, data = compile_group(group.config, datasets[dataset_fields(group.config)], chunk_size)
        compiled += 1
        logging.info("group %d (%s): compiled in %.1fs", group.group_id,
                     ", ".join(f"{p}={v}" for p, v in group.runs[0].swept
                               if p not in grid.NUMERIC_FIELDS) or "all", time.perf_counter() - t0)
        for chunk_id, runs, hyper in todo:
            state, metrics = program(hyper, data)
            metrics = jax.device_get(metrics)
            extra = {
                "diverged": np.asarray(state.diverged),
                "diverge_step": np.asarray(state.diverge_step),
            }
            runs_df, curves_df = tables.chunk_tables(group, runs, metrics, steps, extra)
            results.write_chunk(workdir, group.group_id, chunk_id, runs_df, curves_df)
            progress.update(len(runs))
    progress.close()
    logging.info("sweep: trained %d runs in %.1fs", total, time.perf_counter() - t_start)

    runs_df, curves_df = results.assemble(workdir)
    paths = {
        "config": workdir / "config.json",
        "runs": workdir / results.RUNS_TABLE,
        "curves": workdir / results.CURVES_TABLE,
    }
    if config.tensorboard:
        paths["tensorboard"] = results.write_tensorboard(workdir, runs_df, curves_df)
    if config.plots:
        for name, path in plots.sweep_plots(runs_df, curves_df, workdir / "plots").items():
            paths[f"plot:{name}"] = path
    summary = plots.summary_table(runs_df)
    logging.info("summary (median over seeds):\n%s", summary.to_string())
    for name, path in paths.items():
        logging.info("wrote %s: %s", name, path)
    return SweepResult(runs_df, curves_df, workdir, compiled, paths)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if _WORKDIR.value is None:
        raise app.UsageError("--workdir is required (e.g. --workdir=runs/default)")
    config = _CONFIG.value
    logging.info("config:\n%s", json.dumps(config.to_dict(), indent=1, default=str))
    run_sweep(config, _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
