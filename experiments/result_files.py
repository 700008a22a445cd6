"""Writing a sweep's results: per-chunk tables written atomically, assembled tables.

Layout of a workdir:
  config.json                 resolved config, grid, versions, git commit, platform (see provenance)
  chunks/g<G>-c<C>.runs.csv   one row per run of that chunk (written when the chunk finishes)
  chunks/g<G>-c<C>.curves.csv one row per run per logged step
  chunks/g<G>-c<C>.<name>.csv  a chunk's extra tables (spectrum_density: experiments.density_table)
  chunks/g<G>-c<C>.manifest.json  written last: sha256 of the sweep identity and of every file;
                              a chunk is used only when it verifies (else logged and recomputed)
  parts/part-<i>-of-<n>.json  a sweep run in parts (shards, processes): where each part ran; merged
                              into config.json by whoever assembles (see experiments.parts)
  runs.csv, curves.csv        all chunks, sorted by run_id (then step): `pandas.read_csv(path)`
  <name>.csv                  an extra table of all chunks, in run_id order (spectrum_density.csv)
  groups.csv                  per group of runs over seeds and lrs (experiments.stability)
  tb/<run name>/              TensorBoard events, one directory per sweep member
  plots/*.png

Every file is written to a temporary name in the same directory (`.<name>.<random>.tmp`, which no
glob below matches) and then renamed, so a killed process never leaves a half-written table.
Files get the mode a plain `open()` would (0o666 minus the umask: 0644 by default), so
colleagues can read shared results.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pathlib
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from absl import logging

from experiments.config_schema import RESULT_NEUTRAL_FIELDS

RUNS_TABLE = "runs.csv"
CURVES_TABLE = "curves.csv"
GROUPS_TABLE = "groups.csv"
CHUNK_DIR = "chunks"

class ResultsWriteError(OSError):
    """A result file could not be written (read-only or full disk, permissions); names the path."""


def write_error(path: pathlib.Path, e: OSError) -> ResultsWriteError:
    """The one-line error for an OSError while writing `path`."""
    return ResultsWriteError(
        e.errno, f"can't write {path}: {e.strerror or e} (results written before are kept; "
        "fix the disk and rerun the same command to resume)"
    )


@contextlib.contextmanager
def on_os_error(what: str) -> Iterator[None]:
    """An OSError in the block becomes ResultsWriteError '<what>: <strerror>' (e.g. "can't
    create workdir runs/x: Read-only file system")."""
    try:
        yield
    except OSError as e:
        raise ResultsWriteError(e.errno, f"{what}: {e.strerror}") from e


def _fsync(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask. Reading it means setting it, so one thread at a time: two threads
    reading it at once could otherwise leave it at 0."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def atomic_write(path: pathlib.Path, write: Callable[[pathlib.Path], None]) -> None:
    """Call write(tmp) for a temporary file next to `path`, then rename it to `path`.

    The temporary file is flushed to disk before the rename (and the directory after it), so
    even a power cut leaves either the old file or the complete new one. An OSError becomes a
    ResultsWriteError naming `path`; files written before it are untouched.
    """
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        tmp_path = pathlib.Path(tmp)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is for sharing
        write(tmp_path)
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync(path.parent)
    except ResultsWriteError:
        raise
    except OSError as e:
        raise write_error(path, e) from e
    finally:
        if tmp_path is not None:
            with contextlib.suppress(OSError):  # e.g. on a read-only disk: never mask the cause
                tmp_path.unlink(missing_ok=True)


def write_json(path: pathlib.Path, obj) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=_json_default)))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple | set):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_csv(path: pathlib.Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda p: frame.to_csv(p, index=False))


def chunk_name(group_id: int, chunk_id: int) -> str:
    """g<G>-c<C>: the stem of a chunk's files (and of its TensorBoard marker and checkpoints)."""
    return f"g{group_id:03d}-c{chunk_id:05d}"


def chunk_paths(workdir: pathlib.Path, group_id: int, chunk_id: int) -> tuple[pathlib.Path, ...]:
    stem = pathlib.Path(workdir) / CHUNK_DIR / chunk_name(group_id, chunk_id)
    return stem.with_suffix(".runs.csv"), stem.with_suffix(".curves.csv")


def manifest_path(workdir: pathlib.Path, group_id: int, chunk_id: int) -> pathlib.Path:
    return pathlib.Path(workdir) / CHUNK_DIR / f"{chunk_name(group_id, chunk_id)}.manifest.json"


class ChunkError(ValueError):
    """A chunk's files do not match its manifest (or it has none); names the chunk and why."""


CONFIG_FILE = "config.json"  # the sweep's resolved config, identity and provenance


def sweep_identity(config: dict, chunk_size: int) -> dict:
    """What must match to resume a workdir: the config as JSON types, minus the fields that
    change no number in the tables (config_schema.RESULT_NEUTRAL_FIELDS: TensorBoard, plots,
    progress bar, ...), plus the chunk size."""
    plain = json.loads(json.dumps(config, default=str))
    identity = {k: v for k, v in plain.items() if k not in RESULT_NEUTRAL_FIELDS}
    identity["chunk_size"] = int(chunk_size)
    return identity


def identity_digest(identity: dict) -> str:
    """sha256 of a sweep identity as sorted JSON: what chunk manifests and the workdir lock
    compare."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def recorded_identity(record: dict) -> dict:
    """The sweep identity of a config.json (or part) record."""
    return sweep_identity(record["config"], record.get("chunk_size", -1))


_reported: set[tuple[str, str]] = set()


def write_chunk(workdir, identity: str, group_id, chunk_id, runs: pd.DataFrame,
                curves: pd.DataFrame, extra: Mapping[str, pd.DataFrame] = MappingProxyType({})
                ) -> None:
    """Curves, runs, the `extra` tables (name -> table, as chunks/g<G>-c<C>.<name>.csv), then
    the manifest (`identity`, the sweep's identity_digest, + sha256 of each): done once it
    verifies."""
    workdir = pathlib.Path(workdir)
    manifest = manifest_path(workdir, group_id, chunk_id)
    manifest.unlink(missing_ok=True)  # never "done" while its files are being replaced
    runs_path, curves_path = chunk_paths(workdir, group_id, chunk_id)
    stem = workdir / CHUNK_DIR / chunk_name(group_id, chunk_id)
    extra_paths = {stem.with_suffix(f".{name}.csv"): table for name, table in extra.items()}
    write_csv(curves_path, curves)
    write_csv(runs_path, runs)
    for path, table in extra_paths.items():
        write_csv(path, table)
    write_json(manifest, {
        "identity": identity,
        "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in (runs_path, curves_path, *extra_paths)},
    })


def _verified(workdir, identity: str, group_id: int, chunk_id: int
              ) -> tuple[dict[str, bytes] | None, str]:
    """(the chunk's file contents, "") when its manifest verifies against the sweep `identity`
    (identity_digest), else (None, why not)."""
    workdir = pathlib.Path(workdir)
    paths = chunk_paths(workdir, group_id, chunk_id)
    try:
        manifest = json.loads(manifest_path(workdir, group_id, chunk_id).read_text())
    except FileNotFoundError:
        return None, "its manifest is missing"
    except (OSError, ValueError) as e:
        return None, f"its manifest is unreadable ({e})"
    if not isinstance(manifest, dict) or manifest.get("identity") != identity:
        return None, "it was written by a different sweep (identity differs from config.json)"
    contents = {}
    listed = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    extra = [name for name in listed if name not in {p.name for p in paths}]
    stem = chunk_name(group_id, chunk_id) + "."
    if any(not re.fullmatch(re.escape(stem) + r"\w+\.csv", name) for name in extra):
        return None, "its manifest lists a file that is not one of its tables"
    for path in (*paths, *(workdir / CHUNK_DIR / name for name in extra)):
        try:
            data = path.read_bytes()
        except OSError:
            return None, f"{path.name} is missing"
        if hashlib.sha256(data).hexdigest() != listed.get(path.name):
            return None, f"{path.name} does not match its checksum (truncated or edited)"
        contents[path.name] = data
    return contents, ""


def chunk_done(workdir, identity: str, group_id: int, chunk_id: int, *,
               then: str = "recomputing it") -> bool:
    """The chunk is written and verifies; one log line when files exist but don't verify,
    ending with `then` (what becomes of it)."""
    contents, why = _verified(workdir, identity, group_id, chunk_id)
    if contents is None:
        paths = chunk_paths(workdir, group_id, chunk_id)
        manifest = manifest_path(workdir, group_id, chunk_id)
        if any(p.exists() for p in (*paths, manifest)) and (str(manifest), why) not in _reported:
            _reported.add((str(manifest), why))
            logging.warning("chunk %s in %s is not used: %s; %s",
                            chunk_name(group_id, chunk_id), workdir, why, then)
    return contents is not None


def _chunk_keys(workdir: pathlib.Path) -> list[tuple[int, int]]:
    names = {p.name.split(".")[0] for p in (workdir / CHUNK_DIR).glob("g*-c*.*")
             if not p.name.startswith(".")}
    return sorted((int(n[1:4]), int(n[6:])) for n in names)


def verified_tables(workdir, identity: str, *, skip_unverified: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """(runs, curves, extra tables: name -> every chunk's rows) of every chunk in `workdir`,
    read from the very bytes verified against its manifest, sorted by run_id (and step). A
    chunk that doesn't verify raises ChunkError naming it, or with `skip_unverified` is left
    out with a warning naming it. Writes nothing."""
    workdir = pathlib.Path(workdir)
    parts, extra = [], {}
    for key in _chunk_keys(workdir):
        contents, why = _verified(workdir, identity, *key)
        if contents is None and skip_unverified:
            logging.warning("chunk %s in %s is left out: %s", chunk_name(*key), workdir, why)
            continue
        if contents is None:
            raise ChunkError(f"chunk {chunk_paths(workdir, *key)[0].name} in {workdir}: {why}; "
                             "rerun the same command to recompute it")
        parts.append([pd.read_csv(io.BytesIO(contents.pop(p.name)))
                      for p in chunk_paths(workdir, *key)])
        stem = chunk_name(*key) + "."
        for name, data in contents.items():  # the extra tables: <stem><name>.csv
            table = pd.read_csv(io.BytesIO(data))
            extra.setdefault(name[len(stem):-len(".csv")], []).append(table)
    if not parts:
        raise FileNotFoundError(f"no verified chunk tables in {workdir / CHUNK_DIR}")
    runs = pd.concat([r for r, _ in parts], ignore_index=True)
    curves = pd.concat([c for _, c in parts], ignore_index=True)
    runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    curves = curves.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
    extra = {name: pd.concat(frames, ignore_index=True).sort_values("run_id", kind="stable")
             .reset_index(drop=True) for name, frames in extra.items()}
    return runs, curves, extra


def assemble(workdir, identity: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate the chunk tables into runs.csv and curves.csv, sorted by run_id (and step).

    Every chunk is verified against its manifest first (ChunkError naming the first that
    doesn't), and read from the very bytes verified; the tables are replaced only after that.
    The chunks' extra tables (write_chunk's `extra`) become <name>.csv.
    """
    workdir = pathlib.Path(workdir)
    runs, curves, extra = verified_tables(workdir, identity)
    for name, table in extra.items():
        write_csv(workdir / f"{name}.csv", table)
    write_csv(workdir / CURVES_TABLE, curves)
    write_csv(workdir / RUNS_TABLE, runs)
    return runs, curves


def read_chunks(workdir, keys: list[tuple[int, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs and curves of the chunks `keys` ((group_id, chunk_id)), as written (no sorting)."""
    paths = [chunk_paths(pathlib.Path(workdir), *key) for key in keys]
    if not paths:
        return pd.DataFrame(), pd.DataFrame()
    runs = pd.concat([pd.read_csv(r) for r, _ in paths], ignore_index=True)
    curves = pd.concat([pd.read_csv(c) for _, c in paths], ignore_index=True)
    return runs, curves
