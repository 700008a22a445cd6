r"""Run the claims' experiments and write the evidence report.

  python -m experiments.claims --workdir=runs/claims [--quick] [--only=claim2,claim3]
  ./scripts/reproduce_claims.sh [--quick]          # the same, after bootstrapping .venv

Each claim module (experiments/claims/claim<N>_*.py) exposes `run(workdir, quick) -> Section`
(or a list of Sections with keys claim<N>a, claim<N>b, ... for a claim tested in parts);
modules are imported only when their claim runs, and a claim whose module does not exist yet is
skipped with a warning (and listed as not run in the report). A claim that raises is logged with
its traceback and listed as failed; the report is still written for the others, and the command
exits with status 1. --quick (the end-to-end test runs it): 251 s for all claims with a cold
compilation cache on an idle 2-core machine (2026-12-03; README's report section has the per-claim
times).
"""

from __future__ import annotations

import importlib
import pathlib
import re
import sys
import time
import traceback

import matplotlib
from absl import app, flags, logging

from experiments import config_schema, console, devices, result_files, workdir_lock
from experiments import workdir as workdir_lib
from experiments.claims import claim_tables, report
from experiments.claims.section import Section

CLAIMS = {
    "claim1": "experiments.claims.claim1_smoothness",
    "claim2": "experiments.claims.claim2_gauss_markov",
    "claim3": "experiments.claims.claim3_gaussian_prior",
    "claim4": "experiments.claims.claim4_classification",
    "claim5": "experiments.claims.claim5_penalty_any_loss",
    "claim6": "experiments.claims.claim6_adaptive_alpha",
    "claim7": "experiments.claims.claim7_l1_vs_l2_penalty",
    "claim8": "experiments.claims.claim8_blue_not_best",
}

FLAGS = flags.FLAGS
# The report's default --xla_optimization_level (`auto`), by size: --quick is mostly MLPs whose
# compile dominates (level 1 compiles them 0.68× level 3's time at the same speed); the default
# report's time is mostly claim 4's CNNs, which level 1 runs 1.25× slower and level 2 runs as fast
# as level 3 while compiling them in 0.59× (BENCHMARKS.md, "XLA optimization level").
XLA_OPTIMIZATION_LEVEL = {"quick": 1, "default": 2}


def define_flags() -> None:
    """--workdir, --quick, --only, --xla_optimization_level; defined only when run as a program,
    so tests can import this.

    experiments.sweep (which the claims use) defines --workdir (and --config) when imported, so
    it is imported first and its --workdir serves here too; defining it twice would fail.
    """
    from experiments import sweep  # noqa: F401

    if "workdir" not in FLAGS:
        flags.DEFINE_string("workdir", None, "Directory for the report, its tables and plots.")
    flags.DEFINE_bool("quick", False,
                      "Small sizes: a smoke test of every claim (~1.5 min on 2 cores).")
    flags.DEFINE_list(
        "only", [], f"Run only these claims (comma-separated keys from {', '.join(CLAIMS)})."
    )
    flags.DEFINE_enum(
        "xla_optimization_level", "auto", ["auto", "0", "1", "2", "3"],
        "XLA's backend optimization level for every program of the report (config."
        "xla_optimization_level). auto: 1 with --quick (its MLPs compile about a third faster "
        "than at XLA's default 3 and run as fast), 2 otherwise (claim 4's CNNs run as fast as at "
        "3 and compile 0.6× as long; level 1 runs them ~1.25× slower).",
    )


def optimization_level(flag: str, quick: bool) -> int:
    """--xla_optimization_level's value: the number, or `auto`'s level for the report's size."""
    if flag == "auto":
        return XLA_OPTIMIZATION_LEVEL["quick" if quick else "default"]
    return int(flag)


def select(only: list[str] | tuple[str, ...]) -> list[str]:
    """The claim keys to run, in report order; ValueError naming an unknown key."""
    unknown = [k for k in only if k not in CLAIMS]
    if unknown:
        raise ValueError(f"--only: unknown claim(s) {unknown}; valid: {list(CLAIMS)}")
    return [k for k in CLAIMS if not only or k in only]


def load_claim(key: str):
    """The claim's module, or None when it does not exist (yet)."""
    name = CLAIMS[key]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise  # the module exists but something it imports is missing: a real error
        logging.warning("%s: module %s does not exist; skipping this claim", key, name)
        return None


def run_claim(module, key: str, workdir: pathlib.Path, quick: bool):
    """One claim: compute -> tables saved as CSV -> tables read back -> judge (a Section or a
    list). A module that still has only `run(workdir, quick)` is called as before."""
    if not hasattr(module, "compute"):
        return module.run(workdir, quick)
    outdir = workdir / key
    tables = module.compute(workdir, quick)
    return module.judge(claim_tables.round_trip(tables, outdir), workdir, quick)


def run_claims(
    workdir: str | pathlib.Path, quick: bool = False, only: list[str] | tuple[str, ...] = ()
) -> tuple[list[Section], dict[str, pathlib.Path], dict[str, str]]:
    """Run the selected claims, write the report; return (sections, paths, not_run)."""
    workdir = pathlib.Path(workdir)
    keys = select(only)
    sections: list[Section] = []
    wall_times: dict[str, float] = {}
    not_run: dict[str, str] = {}
    for key in keys:
        module = load_claim(key)
        if module is None:
            not_run[key] = "module missing"
            continue
        logging.info("%s: running (%s sizes)", key, "quick" if quick else "default")
        start = time.perf_counter()
        try:
            result = run_claim(module, key, workdir, quick)
        except Exception:
            logging.error("%s failed:\n%s", key, traceback.format_exc())
            not_run[key] = "failed: see the log"
            continue
        wall_times[key] = time.perf_counter() - start
        parts = result if isinstance(result, list) else [result]
        for section in parts:
            if not re.fullmatch(re.escape(key) + ("[a-z]" if len(parts) > 1 else ""), section.key):
                raise ValueError(f"{CLAIMS[key]}.run returned a section with key {section.key!r}")
            logging.info("%s: %s in %.0f s", section.key, section.verdict, wall_times[key])
        sections.extend(parts)
    paths = report.write(sections, workdir, quick=quick, wall_times=wall_times, not_run=not_run)
    return sections, paths, not_run


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.workdir is None:
        raise app.UsageError("--workdir is required (e.g. --workdir=runs/claims)")
    console.quiet_jax()
    matplotlib.use("Agg")  # the report's PNGs; importing a claim module never selects a backend
    # Before anything initializes JAX's backend (XLA reads XLA_FLAGS once): the claims' configs
    # derive from base_config, whose xla_gpu_deterministic_ops is on; XLA_FLAGS is recorded in
    # provenance.json.
    settings = config_schema.base_config()
    settings.xla_optimization_level = optimization_level(FLAGS.xla_optimization_level,
                                                         FLAGS.quick)
    devices.apply_xla_flags(settings)
    try:
        keys = select(FLAGS.only)
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    start = time.perf_counter()
    try:  # one report per workdir at a time, as one sweep (experiments.workdir_lock)
        with workdir_lock.held(FLAGS.workdir):
            workdir_lib.remove_stale_temporaries(pathlib.Path(FLAGS.workdir))  # a killed run's
            sections, paths, not_run = run_claims(FLAGS.workdir, FLAGS.quick, keys)
    except (workdir_lock.WorkdirLockedError, result_files.ResultsWriteError) as e:
        logging.error("%s", e)
        sys.exit(1 if isinstance(e, result_files.ResultsWriteError) else 2)
    for s in sections:
        logging.info("%s: %s", s.key, s.verdict)
    logging.info("report: %s and %s (%.0f s)", paths["markdown"], paths["html"],
                 time.perf_counter() - start)
    failed = {k: v for k, v in not_run.items() if v.startswith("failed")}
    if failed:
        raise SystemExit(f"claims failed: {', '.join(failed)}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
