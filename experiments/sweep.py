r"""Run a sweep: flags -> config -> `engine.run_sweep(config, workdir)`.

  python -m experiments.sweep --config=configs/default.py --workdir=runs/default \
      [--config.<field>=<value> ...]

The command line only: the engine (compiling, running and writing chunks) is experiments.engine,
which defines no flags.
"""

from __future__ import annotations

import sys

import jax
import matplotlib
from absl import app, flags, logging
from ml_collections import config_flags

from experiments import config_schema, console, devices, result_files, validation
from experiments import workdir as workdir_lib
from experiments.engine import run_sweep
from experiments.plan import SweepPlan

USAGE = """Run a sweep of training runs and write its tables, plots and TensorBoard curves.

  python -m experiments.sweep --config=configs/default.py --workdir=runs/default \\
      [--config.<field>=<value> ...] [--config.sweep.<field>='(a,b)' ...] [--dry_run]

Rerunning the same command resumes: finished chunks are kept."""

# No default here: validation.parse_flags supplies the shipped configs/default.py (found through
# the installed `configs` package, so it works from any directory) inside its error handling.
_CONFIG = config_flags.DEFINE_config_file(
    "config", None,
    "Path to an ml_collections config file (default: the shipped configs/default.py).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for tables, plots and TensorBoard.")
_CONFIG_FIELDS = flags.DEFINE_bool(
    "config_fields", False, "Print every config field with its default and meaning, and exit."
)
_DRY_RUN = flags.DEFINE_bool(
    "dry_run", False, "Check the config and print the plan (groups, chunks, runs, estimated "
    "time; a last line `chunks: N`) without training or writing anything; --workdir not needed."
)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "If --workdir holds a different sweep, move it aside to "
    "<workdir>.old-<timestamp> and start fresh (without it, such a workdir is refused)."
)


def format_fields() -> str:
    """Every config field, its default and one line of meaning (config_schema.describe_fields)."""
    rows = config_schema.describe_fields()
    width = max(len(path) for path, _, _ in rows)
    lines = [f"{path:<{width}}  {default!r:<22} {meaning}" for path, default, meaning in rows]
    return "\n".join([*lines, "", "sweep.<field>: a tuple of values makes <field> a sweep axis "
                       "(None: not swept)"])


# Errors the command line reports in one line: exit status 2 (a bad config, workdir or chunk:
# the message says what to change, or that rerunning recomputes it), 1 for a disk that can't be
# written (results kept; fix the disk and rerun).
ONE_LINE_ERRORS = (
    validation.ConfigError,
    workdir_lib.WorkdirError,
    result_files.ChunkError,
    result_files.ResultsWriteError,
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    matplotlib.use("Agg")  # a command line draws to files; importing the modules never does this
    if _CONFIG_FIELDS.value:
        print(format_fields())
        return
    if _WORKDIR.value is None and not _DRY_RUN.value:
        raise app.UsageError("--workdir is required (e.g. --workdir=runs/default)")
    config = _CONFIG.value
    console.quiet_jax()
    try:
        # Both before anything initializes JAX's backend: XLA reads XLA_FLAGS once, at that moment.
        devices.apply_xla_flags(config)
        devices.initialize(config)
        overridden = config_flags.get_override_values(flags.FLAGS["config"])
        if _DRY_RUN.value:
            plan = SweepPlan.resolve(config, jax.local_device_count(), overridden=overridden)
            print(plan.summary())
            return
        run_sweep(config, _WORKDIR.value, overwrite=_OVERWRITE.value, overridden=overridden)
    except ONE_LINE_ERRORS as e:
        logging.error("%s", e)  # one line, no traceback: the message says what to fix
        sys.exit(1 if isinstance(e, result_files.ResultsWriteError) else 2)


def cli() -> None:
    """The `losslab-sweep` command (pyproject.toml): `python -m experiments.sweep` installed."""
    app.run(main, flags_parser=validation.parse_flags)


if __name__ == "__main__":
    cli()
