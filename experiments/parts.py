"""How a sweep is spread over processes and shards: parts, their chunks, records and assembly.

Units of work are the plan's chunks (experiments.plan), (group_id, chunk_id) in grid order, the
same for every part on whatever hardware, so two parts never write the same chunk file.

A *part* is one process of one shard: with P processes per job (`config.distributed`, P =
jax.process_count(); otherwise 1) and `config.num_shards` jobs (a Slurm array, say),

    part = shard · P + process_index        of        num_shards · P parts.

The units are split into contiguous, near-equal blocks, one per part (`blocks`, read by the plan),
so a part compiles only the groups its block touches. Each part writes its own chunk files and a
record of where it ran (`parts/part-<i>-of-<n>.json`) into the shared workdir; the tables are
assembled once every chunk is there, by process 0 of a multi-process job (after waiting for its
job's other processes), by the last shard to finish, or by `python -m experiments.merge`.

Device settings and jax.distributed's start-up are in experiments.devices.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import json
import os
import pathlib
import time
from collections.abc import Iterator

import jax
from absl import logging
from ml_collections import config_dict

from experiments import devices, result_files
from experiments.devices import WAIT_TIMEOUT_S
from experiments.result_files import CONFIG_FILE, recorded_identity
from experiments.workdir import WorkdirError, differences, read_record

PART_DIR = "parts"
ASSEMBLY_LOCK = "assembling.lock"
POLL_INTERVAL_S = 1.0
# What the log says of a damaged chunk found here (nothing here recomputes it).
RERUN_TO_RECOMPUTE = "rerun the sweep (same config, same workdir) to recompute it"


@dataclasses.dataclass(frozen=True)
class Part:
    """This process's part of the grid: `index` of `count`, `processes` parts per job."""

    index: int
    count: int
    processes: int = 1

    @property
    def process_index(self) -> int:
        return self.index % self.processes

    @property
    def job_parts(self) -> range:
        """The parts run by this process's job (the processes of one shard)."""
        first = self.index - self.process_index
        return range(first, first + self.processes)

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}-of-{self.count:05d}"


def part_of(config: config_dict.ConfigDict) -> Part:
    """This process's part (shard and num_shards are checked by experiments.validation)."""
    processes, process_index = 1, 0
    if config.distributed:
        if not jax.distributed.is_initialized():
            devices.initialize(config)
        processes, process_index = jax.process_count(), jax.process_index()
    return Part(int(config.shard) * processes + process_index, int(config.num_shards) * processes,
                processes)


def blocks(num_units: int, count: int) -> list[range]:
    """`count` contiguous blocks covering range(num_units), sizes differing by at most one."""
    edges = [num_units * i // count for i in range(count + 1)]
    return [range(a, b) for a, b in itertools.pairwise(edges)]


def missing_chunks(workdir, identity: str, keys: list[tuple[int, int]]) -> list[str]:
    """Names (g<G>-c<C>) of the chunks among `keys` not yet written by the sweep `identity`
    (its digest)."""
    return [result_files.chunk_name(*k) for k in keys
            if not result_files.chunk_done(workdir, identity, *k, then=RERUN_TO_RECOMPUTE)]


def unexpected_chunks(workdir, keys: list[tuple[int, int]]) -> list[str]:
    """Chunk files in the workdir that are not among `keys` (left by another sweep)."""
    expected = {result_files.chunk_name(*k) for k in keys}
    chunk_dir = pathlib.Path(workdir) / result_files.CHUNK_DIR
    present = {p.name.split(".")[0] for p in chunk_dir.glob("g*-c*.*.csv")}
    return sorted(present - expected)


def check_complete(plan, workdir) -> None:
    """Raise ChunkError (a ValueError) listing missing (or foreign) chunk files: the tables need
    exactly these."""
    keys = plan.keys
    missing = missing_chunks(workdir, plan.digest, keys)
    if missing:
        raise result_files.ChunkError(
            f"{len(missing)} of {len(keys)} chunks missing in {workdir}/{result_files.CHUNK_DIR}:"
            f" {_abbreviate(missing)}; run the shards that write them (same config, same workdir)"
        )
    foreign = unexpected_chunks(workdir, keys)
    if foreign:
        raise result_files.ChunkError(
            f"{len(foreign)} chunk files in {workdir}/{result_files.CHUNK_DIR} belong to no"
            f" chunk of this grid: {_abbreviate(foreign)}; they come from another sweep: use a"
            " fresh workdir"
        )


def _abbreviate(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def wait_for_chunks(workdir, identity: str, keys: list[tuple[int, int]],
                    timeout_s: float = WAIT_TIMEOUT_S):
    """Poll until every chunk in `keys` is written (by other processes); ChunkError on timeout."""
    deadline = time.monotonic() + timeout_s
    last_log = 0.0
    while missing := missing_chunks(workdir, identity, keys):
        now = time.monotonic()
        if now > deadline:
            raise result_files.ChunkError(
                f"gave up after {timeout_s:.0f}s waiting for {len(missing)} chunks:"
                f" {_abbreviate(missing)}"
            )
        if now - last_log > 60:
            logging.info("waiting for %d chunks of other processes", len(missing))
            last_log = now
        time.sleep(POLL_INTERVAL_S)


# ---- part records: where each part ran; merged into config.json by whoever assembles ----


def read_part_records(workdir) -> list[dict]:
    """Every part's record, in part order."""
    records = []
    for path in sorted((pathlib.Path(workdir) / PART_DIR).glob("part-*-of-*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            raise WorkdirError(f"can't read {path} ({' '.join(str(e).split())})") from None
    return records


def check_consistent(records: list[dict], record: dict | None = None) -> None:
    """Raise WorkdirError when parts (or `record`) are not one sweep (sweep_identity)."""
    reference = recorded_identity(record if record is not None else records[0])
    for other in records:
        differ = differences(recorded_identity(other), reference)
        if differ:
            raise WorkdirError(
                f"part {other['part']['index']} of this workdir ran a different sweep"
                f" ({'; '.join(differ[:5])}); every shard of a sweep needs the same config:"
                " use a fresh workdir"
            )


def write_part_record(workdir, part: Part, record: dict) -> None:
    """Record this part (after checking it agrees with parts already in the workdir)."""
    others = [r for r in read_part_records(workdir)
              if (r["part"]["index"], r["part"]["count"]) != (part.index, part.count)]
    check_consistent(others, record)
    record = {**record, "part": dataclasses.asdict(part)}
    result_files.write_json(pathlib.Path(workdir) / PART_DIR / f"{part.name}.json", record)


def merged_record(workdir) -> dict:
    """config.json of a sweep run in parts: part 0's record plus where every part ran."""
    records = read_part_records(workdir)
    if not records:
        raise ValueError(f"no part records in {pathlib.Path(workdir) / PART_DIR}")
    check_consistent(records)
    parts = [
        {k: r[k] for k in ("part", "machine", "created", "argv", "git") if k in r} for r in records
    ]
    return {**{k: v for k, v in records[0].items() if k != "part"}, "parts": parts}


def record_of(workdir) -> dict:
    """The sweep's record: its parts' (checked to agree), or config.json for a single part."""
    records = read_part_records(pathlib.Path(workdir))
    if records:
        check_consistent(records)
        return records[0]
    if not (pathlib.Path(workdir) / CONFIG_FILE).exists():
        raise ValueError(f"{workdir} holds no config.json and no {PART_DIR}/: not a sweep workdir")
    return read_record(workdir)


@contextlib.contextmanager
def assembly_lock(workdir) -> Iterator[bool]:
    """Yields True for the one process that may assemble now (others get False)."""
    path = pathlib.Path(workdir) / PART_DIR / ASSEMBLY_LOCK
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if not path.parent.is_dir():  # parts/ is a file: nothing can be assembled here
            raise result_files.write_error(path, NotADirectoryError(
                errno.ENOTDIR, f"{path.parent} is not a directory")) from None
        yield False
        return
    except OSError as e:  # a read-only or full disk
        raise result_files.write_error(path, e) from e
    os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)


def ready_to_assemble(plan, workdir) -> bool:
    """Whether this part assembles the tables, once its own chunks are written.

    Only process 0 of a job assembles; it first waits for its job's other processes. It then
    assembles if every chunk of the grid is there (this job was the last shard to finish).
    """
    part = plan.part
    if part.process_index != 0:
        return False
    if part.processes > 1:
        wait_for_chunks(workdir, plan.digest, plan.job_keys())
    missing = missing_chunks(workdir, plan.digest, plan.keys)
    if missing:
        logging.info(
            "%s done; %d chunks of other shards still missing, so the last shard to finish"
            " assembles the tables (or run: python -m experiments.merge --workdir=%s)",
            part.name, len(missing), workdir,
        )
    return not missing
