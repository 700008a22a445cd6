"""Preparing a sweep's workdir: start fresh, resume the same sweep, or refuse a different one.

`prepare(workdir, plan, record, overwrite=...)` is called once the config is resolved
(experiments.plan) and before any compute:

* a missing or empty workdir is created and `config.json` written;
* a workdir whose `config.json` holds the *same sweep* is resumed: finished chunks are kept and
  skipped, `config.json` keeps the record of when the sweep started (a warning is logged when the
  library versions, git commit or platform differ from the recorded ones, since the tables would
  then mix both);
* anything else (a different sweep, or a directory that is not a sweep's) is refused with a
  `WorkdirError` naming the differing fields, unless `overwrite=True`: then the old directory is
  renamed to `<workdir>.old-<UTC timestamp>` (never deleted) and a fresh one started. A workdir
  holding the same sweep resumes with or without `overwrite` (for a clean rerun, use a new one).

"Same sweep" compares the resolved config minus the fields that can't change a number in the
tables (config_schema.RESULT_NEUTRAL_FIELDS: TensorBoard, plots, progress bar,
compilation cache, which shard/process this is; not checkpoint_every, whose segments may round
a diagnostic differently), plus the effective chunk size (config.chunk_size capped at the largest
group). The chunk size is part of the identity on purpose: finished chunks are files keyed by
chunk index (`chunks/g<G>-c<C>.*.csv`), and chunk C covers different runs under a different
chunk size, so resuming with another chunk size is refused rather than silently mixing
chunkings. (The device count only pads a chunk's compiled shape, so it may differ.)

Temporary files (`.<name>.<random>.tmp`) left by a killed writer are ignored by the tables
(`result_files.assemble` only reads `*.runs.csv` / `*.curves.csv`); those older than
STALE_TMP_SECONDS, in any folder of the workdir (chunks/, plots/, tb/), are removed here
(younger ones may belong to another process writing into the same workdir).

OS errors (read-only or full disk, permissions) become `result_files.ResultsWriteError`, naming
the path.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import pathlib
import time
from typing import Any

from absl import logging

from experiments import result_files
from experiments.result_files import CONFIG_FILE, recorded_identity

STALE_TMP_SECONDS = 3600.0
# Provenance keys compared on resume and by experiments.reproduce.
PROVENANCE_KEYS = ("versions", "git", "machine")


class WorkdirError(RuntimeError):
    """The workdir holds something other than this sweep; the message says what to do."""


def differences(recorded: Any, current: Any, prefix: str = "") -> list[str]:
    """'path: recorded -> current' for every leaf that differs between two JSON-like dicts."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(recorded) | set(current), key=str):
            path = f"{prefix}{key}"
            if key not in recorded:
                out.append(f"{path}: (absent) -> {current[key]!r}")
            elif key not in current:
                out.append(f"{path}: {recorded[key]!r} -> (absent)")
            else:
                out.extend(differences(recorded[key], current[key], path + "."))
        return out
    return [] if recorded == current else [f"{prefix.rstrip('.')}: {recorded!r} -> {current!r}"]


def _is_temporary(path: pathlib.Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".tmp")


def remove_stale_temporaries(root: pathlib.Path) -> None:
    """Remove the temporaries older than STALE_TMP_SECONDS anywhere under `root` (a sweep's
    chunks/, plots/, tb/; a claims report's folders): left by a killed writer."""
    now = time.time()
    for folder, _, names in os.walk(root):
        for path in (pathlib.Path(folder) / name for name in names):
            with contextlib.suppress(FileNotFoundError):  # another process's rename
                if _is_temporary(path) and now - path.stat().st_mtime > STALE_TMP_SECONDS:
                    logging.info("removing a temporary file left by a killed writer: %s", path)
                    path.unlink(missing_ok=True)


def move_aside(workdir: pathlib.Path) -> pathlib.Path:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    target = workdir.with_name(f"{workdir.name}.old-{stamp}")
    n = 1
    while target.exists():
        target = workdir.with_name(f"{workdir.name}.old-{stamp}-{n}")
        n += 1
    with result_files.on_os_error(f"can't move {workdir} aside to {target}"):
        workdir.rename(target)
    logging.warning("--overwrite: moved the previous workdir %s to %s", workdir, target)
    return target


def _refuse_moving_the_cwd(workdir: pathlib.Path) -> None:
    """--overwrite can't move aside the directory it runs in (or one holding it)."""
    resolved, cwd = workdir.resolve(), pathlib.Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise WorkdirError(
            f"--workdir={workdir} --overwrite would move {resolved} aside, but it is the current "
            "directory or one of its parents; give a subdirectory (e.g. --workdir=runs/x) or run "
            "from elsewhere"
        )


def read_record(workdir: str | pathlib.Path) -> dict[str, Any]:
    """The workdir's config.json; WorkdirError naming the file when it can't be read or is not a
    losslab sweep's (no "config": the resolved config)."""
    path = pathlib.Path(workdir) / CONFIG_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WorkdirError(f"can't read {path} ({' '.join(str(e).split())})") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise WorkdirError(f"{path} is not a losslab sweep's config.json (it has no 'config', "
                           "the resolved config)")
    return record


def prepare(workdir: pathlib.Path, plan, record: dict[str, Any], *,
            overwrite: bool = False) -> bool:
    """Make `workdir` ready for the sweep `plan`; return True when resuming (chunks kept).

    `record` is the provenance dict to write as config.json for a fresh start; it must hold
    "config" (config.to_dict()); the plan's chunk size is added as "chunk_size".
    """
    workdir = pathlib.Path(workdir)
    record = dict(record, chunk_size=plan.chunk_size)
    config_path = workdir / CONFIG_FILE
    contents = [p for p in workdir.iterdir() if not _is_temporary(p)] if workdir.is_dir() else []
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"workdir {workdir} exists and is not a directory")

    if contents:
        if config_path.exists():
            try:
                recorded = read_record(workdir)
                problems = differences(recorded_identity(recorded), plan.identity)
            except WorkdirError as e:  # --overwrite moves it aside like any other
                problems = [str(e)]
        else:
            problems = [f"it has no {CONFIG_FILE}, so it is not a losslab sweep's workdir"]
        if not problems:  # the same sweep (so `recorded` was read)
            remove_stale_temporaries(workdir)
            for key in PROVENANCE_KEYS:
                changed = differences(recorded.get(key, {}), record.get(key, {}), f"{key}.")
                if changed:
                    logging.warning("resuming %s under a different %s than it started with (%s): "
                                    "its tables will mix both", workdir, key, "; ".join(changed))
            logging.info("resuming the sweep in %s: finished chunks are kept", workdir)
            return True
        if not overwrite:
            shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} in all)"
                                               if len(problems) > 5 else "")
            raise WorkdirError(
                f"workdir {workdir} holds a different sweep ({shown}). Use another --workdir, "
                "or pass --overwrite to move it aside and start fresh"
            )
        _refuse_moving_the_cwd(workdir)
        move_aside(workdir)

    with result_files.on_os_error(f"can't create workdir {workdir}"):
        workdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(workdir)
    result_files.write_json(config_path, record)
    return False
