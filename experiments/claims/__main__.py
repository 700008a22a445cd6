r"""Run the claims' experiments and write the evidence report, or re-render it from its tables.

  python -m experiments.claims --workdir=runs/claims [--quick] [--only=claim2,claim3]
  python -m experiments.claims --workdir=runs/claims --rerender [--only=...]   # seconds, no JAX
  ./scripts/reproduce_claims.sh [--quick]          # the same, after bootstrapping .venv

Adding a claim is two functions and one registry line: write experiments/claims/claim<N>_*.py with

    compute(workdir, quick) -> dict[str, pd.DataFrame]          # training, closed forms, oracles
    judge(tables, workdir, quick) -> Section | list[Section]    # rule, verdict, prose, plots

(see claim_tables.py: compute's tables are saved as <workdir>/<key>/<name>.csv and read back
before judge, in a run and in a re-render alike) and add `"claim<N>": "<module>"` to CLAIMS below.
A claim tested in parts returns Sections keyed claim<N>a, claim<N>b, ...

Modules are imported only when their claim runs; a claim whose module does not exist yet is skipped
with a warning (and listed as not run). A claim that raises is logged with its traceback and listed
as failed; the report is still written for the others, and the command exits with status 1.
`--rerender` calls only `judge` on the saved tables and rebuilds report.md, report.html and
verdicts.csv; report.md is byte-identical to the run's (its footer comes from provenance.json). A
module with only the legacy `run(workdir, quick)` cannot be re-rendered and is listed as not run.
Claims are computed side by side, `--workers` at a time (default one per CPU core), in as many
spawned worker processes (experiments.claims.runner; a claim keeps about one core busy, and each
worker gets cores // workers CPU devices), each taking the next claim, the longest first; the
tables are the same as one after another (`--workers=1`, in this process), and a worker that dies
fails only its claim. The terminal shows one line per claim and its verdict; the claims' own INFO
lines (compile times, tables) appear only with --verbosity=1. --quick (the end-to-end test runs
it): 128 s for claims 1-11 with a cold compilation cache on an idle 2-core machine, two claims at
a time; the default sizes 869 and 878 s in two runs (2026-12-07; README's report section has the
per-claim times).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import importlib
import json
import multiprocessing
import os
import pathlib
import sys
import time

from absl import app, flags, logging

from experiments import result_files
from experiments.claims import claim_tables, report, runner
from experiments.claims.section import Section

# The registry: claim key -> module (imported when the claim runs). Tests register fake claims by
# patching this dict (monkeypatch.setitem) with the name of a module they put in sys.modules.
CLAIMS = {
    "claim1": "experiments.claims.claim1_smoothness",
    "claim2": "experiments.claims.claim2_gauss_markov",
    "claim3": "experiments.claims.claim3_gaussian_prior",
    "claim4": "experiments.claims.claim4_classification",
    "claim5": "experiments.claims.claim5_penalty_any_loss",
    "claim6": "experiments.claims.claim6_adaptive_alpha",
    "claim7": "experiments.claims.claim7_l1_vs_l2_penalty",
    "claim8": "experiments.claims.claim8_blue_not_best",
    "claim9": "experiments.claims.claim9_mean_median_quantile",
    "claim10": "experiments.claims.claim10_label_noise",
    "claim11": "experiments.claims.claim11_many_classes",
}
LEGACY = "legacy module (only run()): cannot be re-rendered; rerun it"

FLAGS = flags.FLAGS
# The report's default --xla_optimization_level (`auto`), by size: --quick is mostly MLPs whose
# compile dominates (level 1 compiles them 0.68× level 3's time at the same speed); the default
# report's time is mostly claim 4's CNNs, which level 1 runs 1.25× slower and level 2 runs as fast
# as level 3 while compiling them in 0.59× (BENCHMARKS.md, "XLA optimization level").
XLA_OPTIMIZATION_LEVEL = {"quick": 1, "default": 2}


def define_flags() -> None:
    """--workdir, --quick, --only, --rerender, --workers, --xla_optimization_level; defined only
    when run as a program, so tests can import this (the claims use experiments.engine, which
    defines no flags)."""
    flags.DEFINE_string("workdir", None, "Directory for the report, its tables and plots.")
    flags.DEFINE_bool("quick", False,
                      "Small sizes: a smoke test of every claim (~2.2 min on 2 cores).")
    flags.DEFINE_list(
        "only", [], f"Run only these claims (comma-separated keys from {', '.join(CLAIMS)})."
    )
    flags.DEFINE_bool(
        "rerender", False,
        "Rebuild report.md, report.html and verdicts.csv from the tables a run saved in "
        "--workdir (each claim's judge only: no training, no JAX program); --only re-renders "
        "just those claims. Sizes (--quick) come from the run's provenance.json.",
    )
    flags.DEFINE_integer(
        "workers", 0,
        "Claims computed side by side in as many worker processes (a claim keeps about one "
        "core busy: its programs are small). 0: one per CPU core, at most one per claim; 1: one "
        "after another in this process. The numbers are the same either way.", lower_bound=0)
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


def run_claims(
    workdir: str | pathlib.Path, quick: bool = False, only: list[str] | tuple[str, ...] = (),
    workers: int = 1,
) -> tuple[list[Section], dict[str, pathlib.Path], dict[str, str]]:
    """Run the selected claims, write the report; return (sections, paths, not_run).

    workers > 1: that many claims at a time, in as many spawned worker processes (their
    tables, plots and sections are the same as one after another: each claim's programs and
    data are its own); the report keeps the claims' order."""
    workdir = pathlib.Path(workdir)
    keys = select(only)
    jobs, not_run = {}, {}
    for number, key in enumerate(keys, 1):
        if load_claim(key) is None:
            not_run[key] = "module missing"
            continue
        jobs[key] = (CLAIMS[key], workdir, quick,
                     f" ({number}/{len(keys)}): running ({'quick' if quick else 'default'} sizes)")
    workers = min(workers, len(jobs))
    if workers > 1:
        outcomes = runner.run_side_by_side(jobs, workers)
    else:
        outcomes = {key: runner.run_one(key, *job) for key, job in jobs.items()}
    sections: list[Section] = []
    wall_times: dict[str, float] = {}
    for key in keys:
        outcome = outcomes.get(key)
        if outcome is None:
            continue
        if isinstance(outcome, str):
            not_run[key] = outcome
            continue
        sections += outcome[0]
        wall_times[key] = outcome[1]
    paths = report.write(sections, workdir, quick=quick, wall_times=wall_times,
                         not_run={k: not_run[k] for k in keys if k in not_run}, claims=keys,
                         workers=max(workers, 1))
    return sections, paths, not_run


def read_record(workdir: pathlib.Path) -> dict:
    """The run's provenance.json; FileNotFoundError / ValueError naming the file."""
    path = workdir / report.PROVENANCE_JSON
    if not path.is_file():
        raise FileNotFoundError(f"--workdir={workdir}: no {report.PROVENANCE_JSON} (no report was "
                                "written there; run it without --rerender first)")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is damaged ({error})") from error
    if not isinstance(record, dict):
        raise ValueError(f"{path} is damaged (not a JSON object)")
    return record


def _saved_inputs(keys: list[str], workdir: pathlib.Path, record: dict) -> dict:
    """key -> (module, its saved tables), or -> the reason it was not in the run's report.
    ValueError, before anything is written, for a claim the run reported that cannot be
    re-rendered (a legacy module, or no saved tables): re-rendering would drop its section."""
    run_not_run = record.get("not_run") or {}
    inputs = {}
    for key in keys:
        if key in run_not_run:
            inputs[key] = run_not_run[key]
            continue
        module = load_claim(key)
        if module is None:
            raise ValueError(f"--rerender: {key}: module {CLAIMS[key]} does not exist")
        if not hasattr(module, "judge"):
            raise ValueError(f"--rerender: {key}: {LEGACY} (or leave it out with --only)")
        try:
            inputs[key] = (module, claim_tables.load(workdir / key))
        except FileNotFoundError as error:
            raise ValueError(f"--rerender: {key}: {error}") from error
    return inputs


def _judge_saved(key: str, module_name: str, workdir: pathlib.Path, quick: bool):
    """One claim's judge on its saved tables (in a worker process): `runner.timed`'s outcome."""
    module = importlib.import_module(module_name)
    tables = claim_tables.load(workdir / key)
    return runner.timed(key, lambda: module.judge(tables, workdir, quick),
                        ": judging its saved tables")


def _judge_in_parallel(modules: dict[str, str], workdir: pathlib.Path, quick: bool) -> dict:
    """key -> `_timed` outcome, the judges run side by side in forked processes (one per core):
    each writes only its own plots, and most of a re-render is matplotlib drawing them."""
    if len(modules) < 2 or (os.cpu_count() or 1) < 2:
        return {k: _judge_saved(k, name, workdir, quick) for k, name in modules.items()}
    workers = min(len(modules), os.cpu_count() or 1)
    context = multiprocessing.get_context("fork")  # the claims registry and sys.path as here
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = {k: pool.submit(_judge_saved, k, name, workdir, quick)
                   for k, name in modules.items()}
        return {k: future.result() for k, future in futures.items()}


def rerender_claims(
    workdir: str | pathlib.Path, only: list[str] | tuple[str, ...] = ()
) -> tuple[list[Section], dict[str, pathlib.Path], dict[str, str]]:
    """Rebuild the report from the tables a run saved (judge only); return (sections, paths,
    not_run). Claims: --only's, else those the run selected; sizes and footer: the run's.
    ValueError naming the claim when one cannot be re-rendered (nothing is written then)."""
    workdir = pathlib.Path(workdir)
    record = read_record(workdir)
    keys = select(only) if only else select(
        [k for k in record.get("claims") or record.get("wall_times_s") or CLAIMS if k in CLAIMS])
    quick = bool(record.get("quick"))
    sections: list[Section] = []
    not_run: dict[str, str] = {}
    inputs = _saved_inputs(keys, workdir, record)
    judged = _judge_in_parallel({k: v[0].__name__ for k, v in inputs.items()
                                 if not isinstance(v, str)}, workdir, quick)
    for key, saved in inputs.items():
        outcome = saved if isinstance(saved, str) else judged[key]
        if isinstance(outcome, str):
            not_run[key] = outcome
        else:
            sections += outcome[0]
    paths = report.write(sections, workdir, not_run=not_run, record=record)
    record.setdefault("rerenders", []).append({
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "claims": keys, "argv": sys.argv})
    result_files.write_json(workdir / report.PROVENANCE_JSON, record)
    return sections, paths, not_run


def _bad_input(message: str):
    """Bad input: one line naming the flag and its value, exit status 2, nothing written."""
    print(f"experiments.claims: {message}", file=sys.stderr)
    raise SystemExit(2)


def configure_xla(level: int, workers: int) -> None:
    """Before anything initializes JAX's backend (XLA reads XLA_FLAGS once): the claims' configs
    derive from base_config, whose xla_gpu_deterministic_ops is on; XLA_FLAGS is recorded in
    provenance.json. Claims side by side share the cores: each worker gets cores // workers CPU
    devices (one each on 2 cores: --quick 130-133 s against 138-140 s with two each, the tables
    byte-identical; BENCHMARKS.md). (Imported here: a re-render never imports JAX's device
    setup.)"""
    from experiments import config_schema, devices

    settings = config_schema.base_config()
    settings.xla_optimization_level = level
    if workers > 1:
        settings.cpu_devices = max(1, (os.cpu_count() or 1) // workers)
    devices.apply_xla_flags(settings)


def _render_or_run(keys: list[str]):
    """--rerender: judge the saved tables; otherwise run the claims. Returns (paths, not_run)."""
    if FLAGS.rerender:
        if FLAGS["quick"].present:
            _bad_input(f"--quick={FLAGS.quick} with --rerender: sizes come from the run's "
                       "provenance.json; drop --quick")
        try:
            _, paths, not_run = rerender_claims(FLAGS.workdir, keys if FLAGS.only else ())
        except (FileNotFoundError, ValueError) as error:
            _bad_input(str(error))
    else:
        workers = min(FLAGS.workers or os.cpu_count() or 1, len(keys))
        configure_xla(optimization_level(FLAGS.xla_optimization_level, FLAGS.quick), workers)
        _, paths, not_run = run_claims(FLAGS.workdir, FLAGS.quick, keys, workers)
    return paths, not_run


def main(argv):
    if len(argv) > 1:
        _bad_input(f"unexpected arguments: {argv[1:]}")
    if FLAGS.workdir is None:
        _bad_input("--workdir is required (e.g. --workdir=runs/claims)")
    try:
        keys = select(FLAGS.only)
    except ValueError as error:
        _bad_input(str(error))
    runner.use_terminal()
    start = time.perf_counter()
    # Imported here: workdir's sweep identity needs config_schema, which imports JAX (through
    # losses), and a re-render (rerender_claims) must not.
    from experiments import workdir as workdir_lib
    from experiments import workdir_lock

    try:  # one report per workdir at a time, as one sweep (experiments.workdir_lock)
        with workdir_lock.held(FLAGS.workdir):
            workdir_lib.remove_stale_temporaries(pathlib.Path(FLAGS.workdir))  # a killed run's
            paths, not_run = _render_or_run(keys)
    except (workdir_lock.WorkdirLockedError, result_files.ResultsWriteError) as e:
        logging.error("%s", e)
        sys.exit(1 if isinstance(e, result_files.ResultsWriteError) else 2)
    logging.info("report: %s (and report.html, verdicts.csv) in %.1f s", paths["markdown"],
                 time.perf_counter() - start)
    failed = {k: v for k, v in not_run.items() if v.startswith("failed")}
    if failed:
        raise SystemExit(f"claims failed: {', '.join(failed)}")


def parse_flags(argv: list[str]) -> list[str]:
    """absl's parser; a bad flag value (--workers=-1, --quick=maybe) is bad input: one line naming
    the flag and the value, exit status 2 (absl's own exits 1 with its usage hint). --help prints
    every flag and exits 0, as `python -m experiments.sweep --help` does."""
    if any(arg in ("-h", "--help", "--helpshort", "--helpfull", "-?") for arg in argv[1:]):
        print(FLAGS.main_module_help() or FLAGS.get_help())
        raise SystemExit(0)
    try:
        return FLAGS(argv)
    except flags.Error as error:
        _bad_input(str(error))


def cli() -> None:
    """The `losslab-claims` command (pyproject.toml): `python -m experiments.claims` installed."""
    define_flags()
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    cli()
