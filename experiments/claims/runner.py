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
import queue
import re
import threading
import time
import traceback

import matplotlib
from absl import flags, logging

from experiments import console
from experiments.claims import claim_tables
from experiments.claims.section import Section

# Seconds per claim at the default sizes (the 2026-12-07 evening run, README): claims start longest
# first, so that workers running side by side (--workers) finish close together.
EXPECTED_SECONDS = {"claim1": 73, "claim2": 45, "claim3": 57, "claim4": 505, "claim5": 57,
                    "claim6": 57, "claim7": 11, "claim8": 19, "claim9": 199, "claim10": 572,
                    "claim11": 189}


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


def _worker(connection, parent: int, verbosity: int) -> None:
    """A worker process (spawned: JAX is not fork-safe) runs the claims it is sent, one after
    another, and sends back each one's `run_one` outcome, until it is sent None. It logs and
    draws as the parent does, inherits XLA_FLAGS from its environment (set before any worker
    starts) and exits with its parent (_exit_with)."""
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    flags.FLAGS.mark_as_parsed()  # a worker parses no flags (the parent did)
    logging.set_verbosity(verbosity)
    std_logging.root.handlers = [logging.get_absl_handler()]  # only absl's, as under app.run
    use_terminal()
    while (job := connection.recv()) is not None:
        connection.send(run_one(*job))
    connection.close()


class _Worker:
    """A spawned process that runs claims one after another: started once, it saves each later
    claim the ~3 s of starting Python and importing JAX (the 2026-12-07 default run lost 27 s of
    claim time to them)."""

    def __init__(self, verbosity: int):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, os.getpid(), verbosity),
                                       name="losslab-claims", daemon=True)
        self.process.start()
        child.close()  # the child's end: recv() then sees EOF if the child dies

    def run(self, key: str, job: tuple):
        """`run_one(key, *job)` in this process; None when the process died (then it is joined
        and `exitcode` says how)."""
        try:
            self.connection.send((key, *job))
            return self.connection.recv()
        except (EOFError, BrokenPipeError):
            self.process.join()
            return None

    def stop(self) -> None:
        self.connection.send(None)
        self.process.join()


def run_side_by_side(jobs: dict[str, tuple], workers: int) -> dict:
    """key -> `run_one`'s outcome, `workers` claims at a time in as many spawned processes, each
    taking the next claim, the longest (EXPECTED_SECONDS) first, when it finishes one. A process
    that dies fails only its claim (with its exit code); a new one takes the next claim."""
    waiting = queue.SimpleQueue()
    for key in sorted(jobs, key=lambda k: -EXPECTED_SECONDS.get(k, 0)):
        waiting.put(key)
    verbosity = logging.get_verbosity()
    outcomes = {}

    def serve() -> None:
        worker = None
        while True:
            try:
                key = waiting.get_nowait()
            except queue.Empty:
                break
            worker = worker or _Worker(verbosity)
            outcomes[key] = worker.run(key, jobs[key])
            if outcomes[key] is None:
                code = worker.process.exitcode
                logging.error("%s failed: its worker process died (exit code %s)", key, code)
                outcomes[key] = f"failed: its worker process died (exit code {code})"
                worker = None
        if worker:
            worker.stop()

    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="losslab") as pool:
        for future in [pool.submit(serve) for _ in range(workers)]:
            future.result()
    return {key: outcomes[key] for key in jobs}


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
