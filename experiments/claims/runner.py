"""Running one claim of the evidence report: compute -> tables -> judge, timed, in this process
or in worker processes side by side (`python -m experiments.claims --workers`).

A module of its own, not part of experiments/claims/__main__.py: a spawned worker imports the
functions it runs by module name, and a package's __main__ is not importable that way.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import logging as std_logging
import multiprocessing
import os
import pathlib
import re
import threading
import time
import traceback

import matplotlib
from absl import flags, logging

from experiments import console
from experiments.claims import claim_tables
from experiments.claims.section import Section

# Seconds per claim at the default sizes (the 2026-12-07 run, README): claims start longest first,
# so that workers running side by side (--workers) finish close together.
EXPECTED_SECONDS = {"claim1": 50, "claim2": 31, "claim3": 42, "claim4": 428, "claim5": 55,
                    "claim6": 41, "claim7": 9, "claim8": 20, "claim9": 202, "claim10": 480,
                    "claim11": 182}


def sections_of(key: str, result) -> list[Section]:
    """A claim's Section, or its parts (keys claim<N>a, claim<N>b, ...), checked."""
    parts = result if isinstance(result, list) else [result]
    for section in parts:
        if not re.fullmatch(re.escape(key) + ("[a-z]" if len(parts) > 1 else ""), section.key):
            raise ValueError(f"claim {key} returned a section with key {section.key!r}")
    return parts


def run_claim(module, key: str, workdir: pathlib.Path, quick: bool):
    """One claim: compute -> tables saved as CSV -> tables read back -> judge (a Section or a
    list). A module that still has only `run(workdir, quick)` is called as before."""
    if not hasattr(module, "compute"):
        return module.run(workdir, quick)
    outdir = workdir / key
    tables = module.compute(workdir, quick)
    return module.judge(claim_tables.round_trip(tables, outdir), workdir, quick)


def timed(key: str, step, progress: str) -> tuple[list[Section], float] | str:
    """Run one claim's `step()`; (its sections, seconds), or the reason it is not in the report."""
    logging.info("%s%s", key, progress)
    start = time.perf_counter()
    try:
        parts = sections_of(key, step())
    except Exception:
        logging.error("%s failed:\n%s", key, traceback.format_exc())
        return "failed: see the log"
    seconds = time.perf_counter() - start
    for section in parts:
        logging.info("%s: %s in %.1f s", section.key, section.verdict, seconds)
    return parts, seconds


def run_one(key: str, module_name: str, workdir: pathlib.Path, quick: bool, progress: str):
    """One claim, compute and judge: `timed`'s outcome (in this process or a worker's)."""
    module = importlib.import_module(module_name)
    return timed(key, lambda: run_claim(module, key, workdir, quick), progress)


def _exit_with(parent: int) -> None:
    """Exit when the parent process is gone: a report stopped by a signal (even SIGKILL) leaves
    no claim computing, and writing into its workdir, behind it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _worker(connection, parent: int, verbosity: int, key: str, job: tuple) -> None:
    """A worker process (spawned: JAX is not fork-safe) runs one claim and sends back `run_one`'s
    outcome. It logs and draws as the parent does, inherits XLA_FLAGS from its environment (set
    before any worker starts) and exits with its parent (_exit_with)."""
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    flags.FLAGS.mark_as_parsed()  # a worker parses no flags (the parent did)
    logging.set_verbosity(verbosity)
    std_logging.root.handlers = [logging.get_absl_handler()]  # only absl's, as under app.run
    use_terminal()
    connection.send(run_one(key, *job))
    connection.close()


def _in_a_process(key: str, job: tuple, verbosity: int):
    """`run_one(key, *job)` in a spawned process of its own; a process that dies fails only its
    claim (with its exit code)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(sender, os.getpid(), verbosity, key, job),
                              name=f"losslab-{key}", daemon=True)
    process.start()
    sender.close()  # the child's end: recv() then sees EOF if the child dies without sending
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = None
    process.join()
    if outcome is None:
        logging.error("%s failed: its worker process died (exit code %s)", key, process.exitcode)
        return f"failed: its worker process died (exit code {process.exitcode})"
    return outcome


def run_side_by_side(jobs: dict[str, tuple], workers: int) -> dict:
    """key -> `run_one`'s outcome, `workers` claims at a time, each in a spawned process of its
    own, the longest (EXPECTED_SECONDS) first."""
    order = sorted(jobs, key=lambda k: -EXPECTED_SECONDS.get(k, 0))
    verbosity = logging.get_verbosity()
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="losslab-claim") as pool:
        futures = {k: pool.submit(_in_a_process, k, jobs[k], verbosity) for k in order}
        return {k: future.result() for k, future in futures.items()}


def use_terminal() -> None:
    """The report's terminal (ClaimsTerminal on absl's handler, JAX's own warnings quiet) and its
    plots drawn to files (matplotlib's Agg; importing a claim module never selects a backend):
    in the command's process and in each worker alike."""
    logging.get_absl_handler().addFilter(ClaimsTerminal())
    console.quiet_jax()
    matplotlib.use("Agg")


# The runner's own files: this one and the command's (experiments/claims/__main__.py).
RUNNER_FILES = (__file__, str(pathlib.Path(__file__).with_name("__main__.py")))


class ClaimsTerminal(std_logging.Filter):
    """The terminal of a report: the runner's own lines (progress, one verdict line per claim,
    where the report is) and every warning or error; the INFO lines of the claims and the engine
    (compile times, pandas tables) only with --verbosity=1 (absl's debug)."""

    def filter(self, record: std_logging.LogRecord) -> bool:
        return (record.levelno >= std_logging.WARNING or record.pathname in RUNNER_FILES
                or logging.level_debug())
