"""One sweep per workdir at a time: an `fcntl.flock` held for the whole of `run_sweep`.

The lock file is a sibling of the workdir, `<parent>/.<workdir name>.lock`, not a file inside
it: `--overwrite` renames the workdir aside, and a lock inside would move with it (a second sweep
would then lock a fresh file and run alongside). The file holds the holder's pid, host and start
time, read back for the refusal message.

* A plain sweep takes the lock exclusively; a second sweep into the same workdir (any config)
  gets `WorkdirLockedError` (a `WorkdirError`, so the CLI exits 2 at once) naming the holder.
* The parts of one distributed sweep (num_shards > 1 or several jax.distributed processes; see
  experiments.parts) share a workdir by design: they take the lock *shared*, so they
  coordinate with each other (chunk files are per part; assembly has its own lock in
  parts.assembly_lock) while a plain sweep is refused while any part runs, and parts are
  refused while a plain sweep runs. The lock's record carries the sweep identity (a hash of
  `result_files.identity_digest`), so a part of a *different* distributed sweep is refused too.
* flock is released by the kernel when its holder dies, so a lock left by a killed sweep never
  blocks: the next sweep takes it over and logs the dead holder it replaces. A holder that ends
  (normally or by an exception) clears its record, so only a dead one is reported.
* The lock is keyed on the resolved path (a symlink to a busy workdir is the same workdir), and
  taken by `run_sweep` (`sweep_lock`) only once the config is checked; `python -m
  experiments.claims` takes it (`held`) on the report's workdir.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import socket
import time
from collections.abc import Iterator

from absl import logging

from experiments import result_files
from experiments.workdir import WorkdirError


class WorkdirLockedError(WorkdirError):
    """Another sweep holds the workdir's lock; the message names it (pid, host, start time)."""


def lock_path(workdir: str | os.PathLike) -> pathlib.Path:
    """The lock of the directory `workdir` names, symlinks resolved: a symlink to a busy workdir
    (or a path through one) gets the same lock as the workdir itself."""
    resolved = pathlib.Path(workdir).resolve()
    return resolved.with_name(f".{resolved.name}.lock")


def _read_holder(fd: int) -> dict:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode())
        if isinstance(holder, dict):
            return holder
    return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "another process (holder unknown)"
    return (f"pid {holder.get('pid')} on host {holder.get('host')}, started "
            f"{holder.get('start')}")


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return False  # can't tell; it no longer holds the flock in any case
    try:
        os.kill(int(holder["pid"]), 0)
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return True


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _refused(workdir, path: pathlib.Path, holder: dict, what: str = "another sweep"):
    return WorkdirLockedError(
        f"workdir {workdir} is in use by {what} ({_describe(holder)}; lock {path}); wait for it "
        "to finish or use another --workdir")


@contextlib.contextmanager
def held(
    workdir: str | os.PathLike, *, shared: bool = False, identity: str = ""
) -> Iterator[pathlib.Path]:
    """Hold the workdir's lock (shared for the parts of a distributed sweep) while in the block.

    Whoever finds the lock free takes it exclusively and writes its record (pid, host, start,
    `identity`), then, for a part, turns it shared; a part that finds it shared joins only when
    the record's identity is its own (the parts of one sweep), else it is refused.
    """
    path = lock_path(workdir)
    acquired = False
    with result_files.on_os_error(f"can't create the workdir lock {path}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if _try_lock(fd, fcntl.LOCK_EX):  # free: record this sweep
            previous = _read_holder(fd)
            if previous and previous.get("pid") != os.getpid() and not _alive(previous):
                logging.warning("taking over the stale lock %s of a sweep that is gone (%s)",
                                path, _describe(previous))
            me = {"pid": os.getpid(), "host": socket.gethostname(),
                  "start": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                  "shared": shared, "identity": identity}
            with result_files.on_os_error(f"can't write the workdir lock {path}"):  # disk full
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, json.dumps(me).encode())
            if shared and not _try_lock(fd, fcntl.LOCK_SH):
                raise _refused(workdir, path, _read_holder(fd))
        elif not shared:
            raise _refused(workdir, path, _read_holder(fd))
        else:
            # Another part may hold it exclusively for the microseconds of writing its record.
            if not any(_try_lock(fd, fcntl.LOCK_SH) or time.sleep(0.01) for _ in range(50)):
                raise _refused(workdir, path, _read_holder(fd))
            holder = _read_holder(fd)
            if holder.get("identity") != identity:
                raise _refused(workdir, path, holder, "a different distributed sweep")
        acquired = True
        yield path
    finally:
        # The last holder clears its record, so the next sweep finds no "stale" holder to report
        # (a record left behind is a holder that died).
        if acquired and _try_lock(fd, fcntl.LOCK_EX):
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)  # releases the flock


def sweep_lock(plan, workdir: str | os.PathLike):
    """The lock the sweep `plan` holds on `workdir`: shared for the parts of one distributed
    sweep (num_shards > 1 or jax.distributed), exclusive otherwise; its identity is the plan's
    digest (equal for its parts)."""
    shared = int(plan.config.num_shards) > 1 or bool(plan.config.distributed)
    return held(workdir, shared=shared, identity=plan.digest)

