"""How a sweep is spread over devices, processes and shards, and the device settings it runs with.

Units of work are the grid's chunks, (group_id, chunk_id) in grid order. Chunk boundaries are set
by `config.chunk_size` alone, never by the device count (a chunk is padded up to a multiple of the
local device count only when it is compiled), so every part of a sweep, on whatever hardware,
agrees on which runs chunk g<G>-c<C> holds, and two parts never write the same chunk file.

A *part* is one process of one shard: with P processes per job (`config.distributed`, P =
jax.process_count(); otherwise 1) and `config.num_shards` jobs (a Slurm array, say),

    part = shard · P + process_index        of        num_shards · P parts.

The units are split into contiguous, near-equal blocks, one per part, so a part compiles only the
groups its block touches. Each part writes its own chunk files and a record of where it ran
(`parts/part-<i>-of-<n>.json`) into the shared workdir; the tables are assembled once every
chunk is there, by process 0 of a multi-process job (after waiting for its job's other processes),
by the last shard to finish, or by `python -m experiments.merge --workdir=...`.

Device settings: `config.matmul_precision` is applied while a group's program is traced
(`matmul_precision`), `config.xla_gpu_deterministic_ops` through XLA_FLAGS, which XLA reads once,
when JAX initializes its backend (`apply_xla_flags`, called by `experiments.sweep.main` first).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import pathlib
import time
from collections.abc import Iterator

import jax
from absl import logging
from ml_collections import config_dict

from experiments import grid, results
from experiments.grid import Group
from experiments.validation import ConfigError
from experiments.workdir import WorkdirError

PART_DIR = "parts"
ASSEMBLY_LOCK = "assembling.lock"
DETERMINISTIC_OPS_FLAG = "--xla_gpu_deterministic_ops=true"

# How long process 0 waits for its job's other processes, and how long any process waits at the
# exit barrier of jax.distributed (its default, 5 minutes, kills every process of the job when
# the parts finish further apart than that, which a sweep with uneven groups easily does).
# A crashed process is noticed sooner, by the coordinator's heartbeat (100 s).
WAIT_TIMEOUT_S = 12 * 3600
POLL_INTERVAL_S = 1.0

# Fields that may differ between the parts of one sweep; every other field must agree.
PER_PART_FIELDS = (
    "shard",
    "process_id",
    "num_processes",
    "coordinator_address",
    "distributed",
    "progress",
)


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


def _check_shard(config: config_dict.ConfigDict) -> None:
    shard, num_shards = int(config.shard), int(config.num_shards)
    if num_shards < 1:
        raise ConfigError(f"config.num_shards={num_shards} must be >= 1")
    if not 0 <= shard < num_shards:
        raise ConfigError(f"config.shard={shard} must be in [0, config.num_shards={num_shards})")


def initialize(config: config_dict.ConfigDict) -> None:
    """jax.distributed.initialize from the config (no-op unless config.distributed; idempotent).

    Must run before JAX initializes its backend. An empty coordinator_address, num_processes=0 or
    process_id=-1 leaves that value to JAX's cluster detection (Slurm, Open MPI, Cloud TPU, ...).
    """
    if not config.distributed or jax.distributed.is_initialized():
        return
    num_processes, process_id = int(config.num_processes), int(config.process_id)
    if num_processes < 0:
        raise ConfigError(f"config.num_processes={num_processes} must be >= 0 (0: detected)")
    if process_id < -1 or (num_processes and process_id >= num_processes):
        raise ConfigError(
            f"config.process_id={process_id} must be in [0, config.num_processes={num_processes})"
            " or -1 (detected)"
        )
    jax.distributed.initialize(
        coordinator_address=config.coordinator_address or None,
        num_processes=num_processes or None,
        process_id=None if process_id < 0 else process_id,
        shutdown_timeout_seconds=WAIT_TIMEOUT_S,
    )
    logging.info(
        "jax.distributed: process %d of %d, %d local device(s) of %d",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )


def part_of(config: config_dict.ConfigDict) -> Part:
    """This process's part; validates shard / num_shards and the distributed runtime."""
    _check_shard(config)
    processes, process_index = 1, 0
    if config.distributed:
        if not jax.distributed.is_initialized():
            initialize(config)
        processes, process_index = jax.process_count(), jax.process_index()
    return Part(
        index=int(config.shard) * processes + process_index,
        count=int(config.num_shards) * processes,
        processes=processes,
    )


def chunk_keys(groups: list[Group], chunk_size: int) -> list[tuple[int, int]]:
    """Every (group_id, chunk_id) of the grid, in grid order."""
    return [(g.group_id, c) for g in groups for c in range(-(-len(g.runs) // chunk_size))]


def blocks(num_units: int, count: int) -> list[range]:
    """`count` contiguous blocks covering range(num_units), sizes differing by at most one."""
    edges = [num_units * i // count for i in range(count + 1)]
    return [range(a, b) for a, b in itertools.pairwise(edges)]


@dataclasses.dataclass
class PartialGroup(Group):
    """Chunks first_chunk, first_chunk+1, ... of a group (runs = just those chunks' runs)."""

    first_chunk: int = 0
    chunk_size: int = 0

    def chunks(self, chunk_size: int):
        if chunk_size != self.chunk_size:
            raise ValueError(
                f"group {self.group_id} was split into chunks of {self.chunk_size} runs, not"
                f" {chunk_size}"
            )
        for chunk_id, runs, hyper in super().chunks(chunk_size):
            yield self.first_chunk + chunk_id, runs, hyper


def _restrict(group: Group, chunk_ids: list[int], chunk_size: int) -> Group:
    """The group cut down to the contiguous chunk_ids (chunk-aligned, so boundaries match)."""
    start, stop = chunk_ids[0] * chunk_size, (chunk_ids[-1] + 1) * chunk_size
    return PartialGroup(
        group_id=group.group_id,
        structure=group.structure,
        config=group.config,
        runs=group.runs[start:stop],
        hyper={k: v[start:stop] for k, v in group.hyper.items()},
        first_chunk=chunk_ids[0],
        chunk_size=chunk_size,
    )


def select(groups: list[Group], config: config_dict.ConfigDict) -> list[Group]:
    """The groups, cut to the chunks this process's part runs (all of them for a single part)."""
    part = part_of(config)
    if part.count == 1:
        return groups
    chunk_size = max(1, int(config.chunk_size))
    keys = chunk_keys(groups, chunk_size)
    mine = [keys[i] for i in blocks(len(keys), part.count)[part.index]]
    by_group = {g.group_id: g for g in groups}
    selected: dict[int, list[int]] = {}
    for group_id, chunk_id in mine:
        selected.setdefault(group_id, []).append(chunk_id)
    logging.info(
        "%s: %d of %d chunks (groups %s)", part.name, len(mine), len(keys), sorted(selected)
    )
    return [_restrict(by_group[g], ids, chunk_size) for g, ids in selected.items()]


def expected_chunks(config: config_dict.ConfigDict) -> list[tuple[int, int]]:
    """Every chunk key the whole sweep (all parts) writes."""
    return chunk_keys(grid.expand(config), max(1, int(config.chunk_size)))


def _chunk_name(key: tuple[int, int]) -> str:
    return results.chunk_paths(pathlib.Path("."), *key)[0].name.removesuffix(".runs.csv")


def missing_chunks(workdir, keys: list[tuple[int, int]]) -> list[str]:
    """Names (g<G>-c<C>) of the chunks among `keys` not yet written."""
    return [_chunk_name(k) for k in keys if not results.chunk_done(workdir, *k)]


def unexpected_chunks(workdir, keys: list[tuple[int, int]]) -> list[str]:
    """Chunk files in the workdir that are not among `keys` (left by another sweep)."""
    expected = {_chunk_name(k) for k in keys}
    chunk_dir = pathlib.Path(workdir) / results.CHUNK_DIR
    present = {p.name.split(".")[0] for p in chunk_dir.glob("g*-c*.*.csv")}
    return sorted(present - expected)


def check_complete(config: config_dict.ConfigDict, workdir) -> None:
    """Raise ValueError listing missing (or foreign) chunk files; the tables need exactly these."""
    keys = expected_chunks(config)
    missing = missing_chunks(workdir, keys)
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(keys)} chunks missing in {workdir}/{results.CHUNK_DIR}:"
            f" {_abbreviate(missing)}; run the shards that write them (same config, same workdir)"
        )
    foreign = unexpected_chunks(workdir, keys)
    if foreign:
        raise ValueError(
            f"{len(foreign)} chunk files in {workdir}/{results.CHUNK_DIR} belong to no chunk of"
            f" this grid: {_abbreviate(foreign)}; they come from another sweep: use a fresh workdir"
        )


def _abbreviate(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def wait_for_chunks(workdir, keys: list[tuple[int, int]], timeout_s: float = WAIT_TIMEOUT_S):
    """Poll until every chunk in `keys` is written (by other processes); ValueError on timeout."""
    deadline = time.monotonic() + timeout_s
    last_log = 0.0
    while missing := missing_chunks(workdir, keys):
        now = time.monotonic()
        if now > deadline:
            raise ValueError(
                f"gave up after {timeout_s:.0f}s waiting for {len(missing)} chunks:"
                f" {_abbreviate(missing)}"
            )
        if now - last_log > 60:
            logging.info("waiting for %d chunks of other processes", len(missing))
            last_log = now
        time.sleep(POLL_INTERVAL_S)


def job_chunks(config: config_dict.ConfigDict, part: Part) -> list[tuple[int, int]]:
    """The chunk keys of every part in this part's job."""
    keys = expected_chunks(config)
    split = blocks(len(keys), part.count)
    return [keys[i] for p in part.job_parts for i in split[p]]


# ---- part records: where each part ran; merged into config.json by whoever assembles ----


def part_record_path(workdir, part: Part) -> pathlib.Path:
    return pathlib.Path(workdir) / PART_DIR / f"{part.name}.json"


def _to_json(value):
    return value.item() if hasattr(value, "item") else list(value)


def _shared_fields(config: dict) -> dict:
    """The fields every part must agree on, normalized as config.json stores them."""
    config = json.loads(json.dumps(config, default=_to_json))
    flat = grid.flatten(config_dict.ConfigDict(config))
    return {k: v for k, v in flat.items() if k.split(".")[0] not in PER_PART_FIELDS}


def read_part_records(workdir) -> list[dict]:
    """Every part's record, in part order."""
    paths = sorted((pathlib.Path(workdir) / PART_DIR).glob("part-*-of-*.json"))
    return [json.loads(p.read_text()) for p in paths]


def check_consistent(records: list[dict], config: dict | None = None) -> None:
    """Raise WorkdirError when parts (or `config`) disagree on anything but PER_PART_FIELDS."""
    if not records:
        return
    reference = _shared_fields(config if config is not None else records[0]["config"])
    for record in records:
        shared = _shared_fields(record["config"])
        differ = sorted(
            k for k in reference.keys() | shared.keys() if reference.get(k) != shared.get(k)
        )
        if differ:
            raise WorkdirError(
                f"part {record['part']['index']} of this workdir ran a different config: fields"
                f" {differ} differ ({', '.join(f'{k}={shared.get(k)!r}' for k in differ[:5])});"
                " every shard of a sweep needs the same config: use a fresh workdir"
            )


def write_part_record(workdir, part: Part, record: dict) -> None:
    """Record this part (after checking it agrees with parts already in the workdir)."""
    others = [
        r
        for r in read_part_records(workdir)
        if r["part"]["index"] != part.index or r["part"]["count"] != part.count
    ]
    check_consistent(others, record["config"])
    record = {**record, "part": dataclasses.asdict(part)}
    results.write_json(part_record_path(workdir, part), record)


def merged_record(workdir) -> dict:
    """config.json of a sweep run in parts: part 0's record plus where every part ran."""
    records = read_part_records(workdir)
    if not records:
        raise ValueError(f"no part records in {pathlib.Path(workdir) / PART_DIR}")
    check_consistent(records)
    first = records[0]
    parts = [
        {k: r[k] for k in ("part", "machine", "created", "argv", "git") if k in r} for r in records
    ]
    return {**{k: v for k, v in first.items() if k != "part"}, "parts": parts}


def config_of(workdir) -> config_dict.ConfigDict:
    """The sweep's config as recorded by its parts (or config.json for a single-part sweep)."""
    records = read_part_records(pathlib.Path(workdir))
    if records:
        check_consistent(records)
        return config_dict.ConfigDict(records[0]["config"])
    path = pathlib.Path(workdir) / "config.json"
    if not path.exists():
        raise ValueError(f"{workdir} holds no config.json and no {PART_DIR}/: not a sweep workdir")
    return config_dict.ConfigDict(json.loads(path.read_text())["config"])


@contextlib.contextmanager
def assembly_lock(workdir) -> Iterator[bool]:
    """Yields True for the one process that may assemble now (others get False)."""
    path = pathlib.Path(workdir) / PART_DIR / ASSEMBLY_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        yield False
        return
    os.close(fd)
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)


# ---- device settings ----


def matmul_precision(config: config_dict.ConfigDict):
    """Context in which the group's program is traced: config.matmul_precision for every matmul.

    'default' leaves JAX's default (on GPU and TPU float32 matmuls may then run in TF32 / bf16
    passes; 'highest' forces full float32).
    """
    value = str(config.matmul_precision)
    try:
        return jax.default_matmul_precision(None if value == "default" else value)
    except ValueError as error:
        raise ConfigError(
            f"config.matmul_precision={value!r} is not a JAX precision: {error}"
        ) from None


def apply_xla_flags(config: config_dict.ConfigDict) -> None:
    """Add --xla_gpu_deterministic_ops=true to XLA_FLAGS when config.xla_gpu_deterministic_ops.

    XLA reads XLA_FLAGS once, when JAX initializes its backend (the first jax.devices() or
    computation), so this only takes effect if called before that: `experiments.sweep.main` calls
    it first. From a notebook, export XLA_FLAGS before importing anything that uses JAX.
    """
    if not config.xla_gpu_deterministic_ops:
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_OPS_FLAG}".strip()


def check_xla_flags(config: config_dict.ConfigDict) -> None:
    """Warn, on a GPU, when the config asks for deterministic ops that XLA_FLAGS does not carry."""
    if (
        config.xla_gpu_deterministic_ops
        and jax.default_backend() == "gpu"
        and "xla_gpu_deterministic_ops" not in os.environ.get("XLA_FLAGS", "")
    ):
        logging.warning(
            "config.xla_gpu_deterministic_ops=True but XLA_FLAGS lacks %s: it only takes effect"
            " when set before JAX initializes (python -m experiments.sweep does this)",
            DETERMINISTIC_OPS_FLAG,
        )


def ready_to_assemble(config: config_dict.ConfigDict, workdir, part: Part) -> bool:
    """Whether this part assembles the tables, once its own chunks are written.

    Only process 0 of a job assembles; it first waits for its job's other processes. It then
    assembles if every chunk of the grid is there (this job was the last shard to finish).
    """
    if part.process_index != 0:
        return False
    if part.processes > 1:
        wait_for_chunks(workdir, job_chunks(config, part))
    missing = missing_chunks(workdir, expected_chunks(config))
    if missing:
        logging.info(
            "%s done; %d chunks of other shards still missing, so the last shard to finish"
            " assembles the tables (or run: python -m experiments.merge --workdir=%s)",
            part.name,
            len(missing),
            workdir,
        )
    return not missing
