"""Mid-run checkpoints of a chunk's vectorized training state (orbax-checkpoint).

With `config.checkpoint_every = N > 0`, a chunk runs as init, then segments of N steps, then
finish (experiments.training.RunProgram); after each segment the stacked Carry of the chunk and
the curves logged so far are saved to `<workdir>/checkpoints/g<G>-c<C>/step_<k>` (k: the blocks
of log_every steps done, the evaluation of step 0 counting as one). A rerun of the same command
restores the latest complete step and continues; the results equal an uninterrupted run's
because every piece is a pure function of (hyper, data, carry). The chunk's directory is
removed once its tables are written.
"""

from __future__ import annotations

import pathlib
import shutil

import jax
import orbax.checkpoint as ocp

CHECKPOINT_DIR = "checkpoints"


def chunk_dir(workdir: pathlib.Path, group_id: int, chunk_id: int) -> pathlib.Path:
    return pathlib.Path(workdir).resolve() / CHECKPOINT_DIR / f"g{group_id:03d}-c{chunk_id:05d}"


def latest_step(directory: pathlib.Path) -> int | None:
    """The largest k with a complete step_<k> (orbax writes to a temporary name, then renames)."""
    steps = [p.name.removeprefix("step_") for p in directory.glob("step_*") if p.is_dir()]
    return max((int(k) for k in steps if k.isdigit()), default=None)


def save(directory: pathlib.Path, step: int, tree) -> None:
    """Save `tree` as step_<step> and drop older steps (only the latest is needed to resume)."""
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(directory / f"step_{step}", tree)
    checkpointer.wait_until_finished()
    for old in directory.glob("step_*"):
        if old.name != f"step_{step}":
            shutil.rmtree(old, ignore_errors=True)


def restore(directory: pathlib.Path, step: int, like):
    """Restore step_<step> into the structure, shapes and dtypes of `like` (arrays or specs)."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return ocp.StandardCheckpointer().restore(directory / f"step_{step}", abstract)


def remove(directory: pathlib.Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
