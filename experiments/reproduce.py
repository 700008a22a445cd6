r"""Rerun a finished sweep from its config.json and compare the new tables with the recorded ones.

  python -m experiments.reproduce --workdir=runs/x [--into=runs/x-reproduce] [--overwrite]
      [--rtol=1e-4] [--atol=1e-6]

The config is rebuilt from `config.json` ("config": the full resolved config), the sweep rerun
into a fresh `--into` (default `<workdir>-reproduce`; TensorBoard and plots off; an `--into` that
already holds files is refused, as is an unfinished workdir, before anything is trained;
`--overwrite` moves such an `--into` aside to `<into>.old-<timestamp>`), and every column of
runs.csv and curves.csv compared row by row (rows matched by run_id, and step):

  exact     every value bit-identical (NaN matches NaN)
  close     not identical, but |a - b| <= atol + rtol·|b| everywhere (the max abs/rel diff is shown)
  MISMATCH  some value outside that tolerance, a differing label, or a missing/extra column or row

It warns when the library versions, git commit (or a dirty tree) or platform differ from the ones
recorded in config.json, since any of them can change the numbers. Exit code 0 when every column
is exact or close, 1 otherwise (2 for a workdir that can't be read).

On CPU, with the recorded versions, commit and platform, every column is expected to be exact.
Before JAX starts, the recorded config's XLA flags are set, with the recorded number of CPU
devices for a sweep run on the CPU (`use_recorded_devices`), as the sweep's command line did.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
from typing import Any

import numpy as np
import pandas as pd
from absl import app, flags, logging

from experiments import console, devices, engine, provenance, result_files, validation
from experiments import plan as plan_lib
from experiments import workdir as workdir_lib

# --help shows the docstring's summary and command line (validation.print_help_and_exit).
USAGE = "\n\n".join(__doc__.split("\n\n")[:2])

FLAGS = flags.FLAGS
# Columns that identify a row of each table.
TABLE_KEYS = {result_files.RUNS_TABLE: ("run_id",), result_files.CURVES_TABLE: ("run_id", "step")}


@dataclasses.dataclass
class ColumnReport:
    table: str
    column: str
    status: str  # exact | close | MISMATCH
    max_abs: float = 0.0
    max_rel: float = 0.0
    mismatched: int = 0  # rows outside the tolerance
    note: str = ""


@dataclasses.dataclass
class Report:
    workdir: pathlib.Path
    into: pathlib.Path
    columns: list[ColumnReport]
    warnings: list[str]
    rtol: float
    atol: float

    @property
    def ok(self) -> bool:
        return all(c.status in ("exact", "close") for c in self.columns)


def provenance_warnings(record: dict[str, Any]) -> list[str]:
    """One line per way this machine differs from the one that ran the sweep."""
    now = {"versions": provenance.library_versions(), "git": provenance.git_commit(),
           "machine": provenance.machine()}
    words = {"versions": "library versions differ", "git": "the git commit differs",
             "machine": "the platform differs"}
    out = []
    for key in workdir_lib.PROVENANCE_KEYS:
        changed = workdir_lib.differences(record.get(key, {}), now[key], f"{key}.")
        if changed:
            out.append(f"{words[key]} from the recorded: {'; '.join(changed)}")
    if record.get("git", {}).get("dirty"):
        out.append("the sweep was run from a tree with uncommitted changes: the same commit may "
                   "not be the same code")
    return out


def _compare_column(table: str, column: str, a: pd.Series, b: pd.Series, rtol: float,
                    atol: float) -> ColumnReport:
    """`a` recorded, `b` rerun, aligned row by row."""
    numeric = all(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
                  for s in (a, b))
    if not numeric:
        both_missing = (a.isna() & b.isna()).to_numpy()
        same = (a.astype(str).to_numpy() == b.astype(str).to_numpy()) | both_missing
        bad = int((~same).sum())
        return ColumnReport(table, column, "exact" if not bad else "MISMATCH", mismatched=bad,
                            note=f"{bad} differing values" if bad else "")
    x = a.to_numpy(np.float64)
    y = b.to_numpy(np.float64)
    identical = (x == y) | (np.isnan(x) & np.isnan(y))
    if identical.all():
        return ColumnReport(table, column, "exact")
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(identical, 0.0, np.abs(x - y))
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN against a number, or inf against inf-
        rel = np.where(identical, 0.0, diff / np.maximum(np.abs(y), np.finfo(np.float64).tiny))
        rel = np.where(np.isnan(rel), np.inf, rel)
    close = identical | (diff <= atol + rtol * np.abs(y))
    bad = int((~close).sum())
    return ColumnReport(table, column, "close" if not bad else "MISMATCH",
                        float(diff.max()), float(rel.max()), bad)


def compare_tables(table: str, recorded: pd.DataFrame, rerun: pd.DataFrame, rtol: float,
                   atol: float) -> list[ColumnReport]:
    """Per-column comparison of two versions of one table, rows matched on TABLE_KEYS[table]."""
    keys = list(TABLE_KEYS[table])
    recorded = recorded.sort_values(keys, kind="stable").reset_index(drop=True)
    rerun = rerun.sort_values(keys, kind="stable").reset_index(drop=True)
    reports = []
    rows_a = list(map(tuple, recorded[keys].to_numpy().tolist()))
    rows_b = list(map(tuple, rerun[keys].to_numpy().tolist()))
    if rows_a != rows_b:
        missing, extra = len(set(rows_a) - set(rows_b)), len(set(rows_b) - set(rows_a))
        return [ColumnReport(table, "(rows)", "MISMATCH", mismatched=missing + extra,
                             note=f"{len(rows_a)} recorded rows vs {len(rows_b)} rerun: {missing} "
                             f"missing, {extra} extra, or duplicated keys")]
    for column in dict.fromkeys([*recorded.columns, *rerun.columns]):
        if column not in rerun:
            reports.append(ColumnReport(table, column, "MISMATCH", note="missing from the rerun"))
        elif column not in recorded:
            reports.append(ColumnReport(table, column, "MISMATCH", note="not recorded"))
        else:
            reports.append(_compare_column(table, column, recorded[column], rerun[column],
                                           rtol, atol))
    return reports


def use_recorded_devices(record: dict[str, Any]) -> None:
    """Ask XLA for the recorded run's settings: its config's XLA flags (optimization level, GPU
    determinism) and, for a sweep run on the CPU, its device count (CPU devices are XLA's
    partition of the cores, available on any machine). Call it before JAX initializes its
    backend; a flag XLA_FLAGS already carries is kept (devices.apply_xla_flags)."""
    config = plan_lib.config_from_record(record)
    machine = record.get("machine", {})
    if machine.get("jax_backend") == "cpu" and int(machine.get("device_count", 0)) > 0:
        config.cpu_devices = int(machine["device_count"])
    devices.apply_xla_flags(config)


def reproduce(workdir: str | pathlib.Path, into: str | pathlib.Path | None = None, *,
              rtol: float = 1e-4, atol: float = 1e-6, overwrite: bool = False) -> Report:
    """Rerun the sweep recorded in `workdir` into a fresh `into` and compare every table column.

    Refused before anything is trained or written: a workdir without its tables (not finished)
    and an `into` that already holds something (its old tables would only be compared; with
    `overwrite`, it is moved aside to `<into>.old-<timestamp>` and the sweep rerun).
    """
    workdir = pathlib.Path(workdir)
    into = pathlib.Path(into) if into else workdir.with_name(f"{workdir.name}-reproduce")
    if into.resolve() == workdir.resolve():
        raise ValueError(f"--into={into} must differ from --workdir={workdir}")
    record = workdir_lib.read_record(workdir)
    for table in TABLE_KEYS:
        if not (workdir / table).is_file():
            raise ValueError(f"{workdir} is not a finished sweep: no {table} (finish it with its "
                             "own command, or experiments.merge for a sweep run in parts)")
    config = plan_lib.config_from_record(record)
    # One process, every chunk (a sweep recorded in parts holds part 0's shard fields).
    config.update_from_flattened_dict(
        {"tensorboard": False, "plots": False, "shard": 0, "num_shards": 1, "distributed": False}
    )
    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        if not overwrite:
            raise workdir_lib.WorkdirError(
                f"--into={into} already holds files (a previous reproduce?): rerunning into it "
                "would resume its chunks, not recompute them; pass --overwrite to move it aside "
                "and rerun, or give another --into")
        workdir_lib.move_aside(into)
    engine.run_sweep(config, into)
    return compare(workdir, into, rtol=rtol, atol=atol)


def compare(workdir: str | pathlib.Path, into: str | pathlib.Path, *, rtol: float = 1e-4,
            atol: float = 1e-6) -> Report:
    """Compare the tables of `into` (a rerun) with the recorded ones of `workdir`."""
    workdir, into = pathlib.Path(workdir), pathlib.Path(into)
    warnings = provenance_warnings(workdir_lib.read_record(workdir))
    for line in warnings:
        logging.warning("%s", line)
    columns = []
    for table in TABLE_KEYS:
        columns += compare_tables(table, pd.read_csv(workdir / table), pd.read_csv(into / table),
                                  rtol, atol)
    return Report(workdir, into, columns, warnings, rtol, atol)


def format_report(report: Report) -> str:
    lines = [f"reproduce {report.workdir} -> {report.into} "
             f"(close: |a - b| <= {report.atol:g} + {report.rtol:g}·|b|)",
             f"{'table':<11} {'column':<28} {'status':<9} {'max abs diff':>13} {'max rel diff':>13}"
             "  rows off"]
    for c in report.columns:
        lines.append(f"{c.table:<11} {c.column:<28} {c.status:<9} {c.max_abs:>13.3g} "
                     f"{c.max_rel:>13.3g}  {c.mismatched:>8}" + (f"  {c.note}" if c.note else ""))
    lines += [f"WARNING: {line}" for line in report.warnings]
    counts = {s: sum(c.status == s for c in report.columns) for s in ("exact", "close", "MISMATCH")}
    verdict = "REPRODUCED" if report.ok else "NOT REPRODUCED"
    lines.append(f"{verdict}: {counts['exact']} columns exact, {counts['close']} close, "
                 f"{counts['MISMATCH']} mismatched")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.workdir is None:
        raise app.UsageError("--workdir is required (a finished sweep's directory)")
    console.quiet_jax()
    try:
        use_recorded_devices(workdir_lib.read_record(FLAGS.workdir))
        report = reproduce(FLAGS.workdir, FLAGS.into, rtol=FLAGS.rtol, atol=FLAGS.atol,
                           overwrite=FLAGS.overwrite)
    except (OSError, ValueError, workdir_lib.WorkdirError) as e:
        logging.error("%s", e)
        sys.exit(1 if isinstance(e, result_files.ResultsWriteError) else 2)
    print(format_report(report))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    # Defined only when run as a program, so importing this module (the tests, the sweep's
    # command line in the same process) defines none (as experiments.merge).
    flags.DEFINE_string("workdir", None, "The finished sweep's directory.")
    flags.DEFINE_string("into", None, "Where to rerun it (default: <workdir>-reproduce).")
    flags.DEFINE_bool(
        "overwrite", False, "If --into holds a different sweep, move it aside to "
        "<into>.old-<timestamp> and rerun (without it, such a directory is refused).")
    flags.DEFINE_float("rtol", 1e-4, "Relative tolerance for a value to count as close.")
    flags.DEFINE_float("atol", 1e-6, "Absolute tolerance for a value to count as close.")
    app.run(main, flags_parser=validation.parse_flags)
