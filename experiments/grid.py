"""Expand a config's sweep axes into runs, and group the runs by program structure.

A *numeric* axis (config_schema.NUMERIC_FIELDS: λ, learning rate, seed, loss knobs, noise level)
becomes a column of a stacked array that one compiled program consumes; any other axis (loss
family, model, optimizer, noise family, ...) changes the program, so each of its values forms a
separate group. The number of compiled training programs is therefore the number of groups, which
does not depend on how many values a numeric axis has.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from typing import Any

import numpy as np
from ml_collections import config_dict

import losses
from experiments.config_schema import EXECUTION_FIELDS, NUMERIC_FIELDS

LOSS_INDEX = "loss_index"  # a run's loss within its group's `losses`
INTEGER_FIELDS = ("seed", LOSS_INDEX)


@dataclasses.dataclass(frozen=True)
class Run:
    """One member of the sweep: its id (position in the grid) and its swept values."""

    run_id: int
    swept: tuple[tuple[str, Any], ...]

    @property
    def name(self) -> str:
        """TensorBoard-friendly name, e.g. 'loss=huber/penalty_strength=0.001/seed=0'."""
        if not self.swept:
            return "run"
        return "/".join(f"{path}={_fmt(value)}" for path, value in self.swept)


@dataclasses.dataclass(frozen=True)
class Group:
    """One compiled program: the runs sharing a structure (experiments.plan chunks them)."""

    group_id: int
    structure: tuple[tuple[str, Any], ...]
    config: config_dict.FrozenConfigDict  # resolved for the group's first run
    losses: tuple[str, ...]  # the losses the program serves; a run's `loss_index` points here
    runs: tuple[Run, ...]
    hyper: dict[str, np.ndarray]  # numeric field (and loss_index) -> (len(runs),) values

    @property
    def dataset_key(self) -> tuple:
        return dataset_key(self.config)

    @property
    def label(self) -> str:
        """The group's swept structural values, e.g. 'model.widths=(8,)' ('all' for none); a
        group that fuses several losses is labelled by all of them ('losses=huber/cauchy, ...')."""
        fused = [f"losses={'/'.join(self.losses)}"] if len(self.losses) > 1 else []
        return ", ".join(fused + [
            f"{p}={v}" for p, v in self.runs[0].swept
            if p not in NUMERIC_FIELDS and not (fused and p == "loss")
        ]) or "all"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "x".join(_fmt(v) for v in value)
    return str(value)


def flatten(c: config_dict.ConfigDict, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value for every leaf field of a config."""
    out: dict[str, Any] = {}
    for key, value in c.items():
        path = f"{prefix}{key}"
        if isinstance(value, config_dict.ConfigDict):
            out.update(flatten(value, path + "."))
        else:
            out[path] = tuple(value) if isinstance(value, list) else value
    return out


def _plain(value: Any) -> Any:
    """A swept value as `flatten` reports a field holding it (lists as tuples)."""
    return tuple(value) if isinstance(value, list) else value


def sweep_axes(config: config_dict.ConfigDict) -> list[tuple[str, tuple]]:
    """The declared axes as (dotted path, values), in ConfigDict order (sorted by path)."""
    fields = flatten(config)
    axes = []
    for path, values in flatten(config.sweep).items():
        if values is None:
            continue
        if path not in fields:
            close = difflib.get_close_matches(path, list(fields), n=3)
            raise ValueError(f"sweep axis 'sweep.{path}' names no config field; closest: {close}")
        if not isinstance(values, tuple | list):
            raise ValueError(
                f"sweep.{path} must be a tuple of values, got {type(values).__name__} {values!r}"
            )
        if len(values) == 0:
            raise ValueError(f"sweep.{path} is empty: give at least one value or set it to None")
        axes.append((path, tuple(values)))
    return axes


def resolve(config: config_dict.ConfigDict, swept: tuple[tuple[str, Any], ...]):
    """A copy of `config` with the swept values set (sweep and execution fields unchanged)."""
    c = config_dict.ConfigDict(config.to_dict())
    c.update_from_flattened_dict(dict(swept))
    return c


def structure_of(config: config_dict.ConfigDict) -> tuple[tuple[str, Any], ...]:
    """The fields that shape the compiled program (everything not numeric and not execution).

    With `config.fuse_losses`, the loss enters as its task ('regression' / 'classification'):
    every loss of a task shares one program, which picks the run's loss by its traced
    `loss_index` (see experiments.training.loss_fn).
    """
    return _structure(flatten(config))


def _structure(fields: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """`structure_of` from a config's flattened fields."""
    fuse = bool(fields.get("fuse_losses", False))
    out = []
    for path, value in fields.items():
        if path in NUMERIC_FIELDS or path.split(".")[0] in EXECUTION_FIELDS:
            continue
        if fuse and path == "loss":
            out.append(("loss_task", losses.task(value)))
            continue
        out.append((path, value))
    return tuple(out)


def dataset_key(config: config_dict.ConfigDict) -> tuple:
    """The dataset fields that decide which arrays are loaded (noise is drawn in-program)."""
    return tuple(
        sorted(
            (path, value)
            for path, value in flatten(config.dataset).items()
            if f"dataset.{path}" not in NUMERIC_FIELDS
        )
    )


def hyper_of(config: config_dict.ConfigDict, losses: tuple[str, ...] = ()) -> dict[str, float]:
    """The numeric fields of one resolved run config, and its loss's index in `losses`."""
    return _hyper(flatten(config), tuple(losses) or (config.loss,))


def _hyper(fields: dict[str, Any], family: tuple[str, ...]) -> dict[str, float]:
    """`hyper_of` from a run's flattened fields and its group's losses."""
    hyper = {path: fields[path] for path in NUMERIC_FIELDS}
    hyper[LOSS_INDEX] = family.index(fields["loss"])
    return hyper


def expand(config: config_dict.ConfigDict) -> list[Group]:
    """Every run of the grid (Cartesian product of the axes), grouped by structure.

    Runs are numbered in grid order (axes sorted by path, the first one slowest); groups in
    order of first appearance. A fused group serves its runs' losses in order of first
    appearance (`Group.losses`), and each run's `loss_index` points into that tuple. Call it
    through experiments.plan, which checks the config first and expands it once.
    """
    axes = sweep_axes(config)
    paths = [p for p, _ in axes]
    base = flatten(config)
    first: dict[tuple, tuple] = {}  # structure -> the swept values of its first run
    members: dict[tuple, list[tuple[Run, dict[str, Any]]]] = {}
    for run_id, values in enumerate(itertools.product(*(v for _, v in axes))):
        swept = tuple(zip(paths, values, strict=True))
        # Flat fields per run (a ConfigDict per run costs ~1 ms: seconds for a large grid);
        # one resolved ConfigDict per group.
        fields = {**base, **{path: _plain(value) for path, value in swept}}
        key = _structure(fields)
        first.setdefault(key, swept)
        members.setdefault(key, []).append((Run(run_id, swept), fields))
    groups = []
    for group_id, (key, runs) in enumerate(members.items()):
        family = tuple(dict.fromkeys(fields["loss"] for _, fields in runs))
        hypers = [_hyper(fields, family) for _, fields in runs]
        hyper = {
            path: np.asarray(
                [h[path] for h in hypers],
                dtype=np.int32 if path in INTEGER_FIELDS else np.float32,
            )
            for path in (*NUMERIC_FIELDS, LOSS_INDEX)
        }
        groups.append(
            Group(
                group_id,
                key,
                config_dict.FrozenConfigDict(resolve(config, first[key])),
                family,
                tuple(run for run, _ in runs),
                hyper,
            )
        )
    return groups
