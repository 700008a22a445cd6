"""Writing a sweep's results: per-chunk tables written atomically, assembled tables.

Layout of a workdir:
  config.json                 resolved config, grid, versions, git commit, platform (see provenance)
  chunks/g<G>-c<C>.runs.csv   one row per run of that chunk (written when the chunk finishes)
  chunks/g<G>-c<C>.curves.csv one row per run per logged step
  parts/part-<i>-of-<n>.json  a sweep run in parts (shards, processes): where each part ran; merged
                              into config.json by whoever assembles (see experiments.distribution)
  runs.csv, curves.csv        all chunks, sorted by run_id (then step): `pandas.read_csv(path)`
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
import json
import os
import pathlib
import tempfile
from collections.abc import Callable

import numpy as np
import pandas as pd

RUNS_TABLE = "runs.csv"
CURVES_TABLE = "curves.csv"
GROUPS_TABLE = "groups.csv"
CHUNK_DIR = "chunks"

class ResultsWriteError(OSError):
    """A result file could not be written (read-only or full disk, permissions); names the path."""


def _fsync(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
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
        raise ResultsWriteError(
            e.errno, f"can't write {path}: {e.strerror or e} (results written before are kept; "
            "fix the disk and rerun the same command to resume)"
        ) from e
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


def chunk_paths(workdir: pathlib.Path, group_id: int, chunk_id: int) -> tuple[pathlib.Path, ...]:
    stem = workdir / CHUNK_DIR / f"g{group_id:03d}-c{chunk_id:05d}"
    return stem.with_suffix(".runs.csv"), stem.with_suffix(".curves.csv")


def write_chunk(workdir, group_id, chunk_id, runs: pd.DataFrame, curves: pd.DataFrame) -> None:
    """Curves first, runs last: a chunk counts as done once its runs file exists."""
    runs_path, curves_path = chunk_paths(pathlib.Path(workdir), group_id, chunk_id)
    write_csv(curves_path, curves)
    write_csv(runs_path, runs)


def chunk_done(workdir, group_id: int, chunk_id: int) -> bool:
    runs_path, curves_path = chunk_paths(pathlib.Path(workdir), group_id, chunk_id)
    return runs_path.exists() and curves_path.exists()


def assemble(workdir) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Concatenate the chunk tables into runs.csv and curves.csv, sorted by run_id (and step)."""
    workdir = pathlib.Path(workdir)
    chunk_dir = workdir / CHUNK_DIR
    runs = pd.concat(
        [pd.read_csv(p) for p in sorted(chunk_dir.glob("*.runs.csv"))], ignore_index=True
    )
    curves = pd.concat(
        [pd.read_csv(p) for p in sorted(chunk_dir.glob("*.curves.csv"))], ignore_index=True
    )
    runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    curves = curves.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)
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
