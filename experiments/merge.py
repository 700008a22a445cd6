r"""Assemble the tables of a sweep run in shards (a Slurm job array, say) once every shard is done.

  python -m experiments.merge --workdir=runs/default

Reads the config the shards recorded (parts/*.json, or config.json), checks that every chunk of
the grid is written (it refuses, listing the missing chunks, when one isn't), then writes what a
single `python -m experiments.sweep` writes at its end: runs.csv, curves.csv, config.json,
TensorBoard events and plots (`experiments.engine.assemble`). Safe to run more than once.
"""

from __future__ import annotations

import sys

from absl import app, flags, logging

from experiments import console, engine, parts, result_files
from experiments import workdir as workdir_lib
from experiments.plan import SweepPlan


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    console.quiet_jax()
    workdir = flags.FLAGS.workdir
    if workdir is None:
        raise app.UsageError("--workdir is required (the workdir the shards wrote into)")
    try:
        plan = SweepPlan.from_record(parts.record_of(workdir))
        with parts.assembly_lock(workdir) as mine:
            if not mine:
                raise ValueError(
                    f"another process is assembling {workdir} (remove"
                    f" {workdir}/{parts.PART_DIR}/{parts.ASSEMBLY_LOCK} if none is)"
                )
            engine.assemble(plan, workdir)
    except (ValueError, workdir_lib.WorkdirError, result_files.ResultsWriteError) as e:
        logging.error("%s", e)  # one line: what is missing, or the path that can't be written
        sys.exit(1 if isinstance(e, result_files.ResultsWriteError) else 2)


if __name__ == "__main__":
    flags.DEFINE_string("workdir", None, "The workdir the shards wrote into.")
    app.run(main)
