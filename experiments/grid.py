"""Expand a config's sweep axes into runs, and group the runs by program structure.

A *numeric* axis (config_schema.NUMERIC_FIELDS: λ, learning rate, seed, loss knobs, noise level)
becomes a column of a stacked array that one compiled program consumes; any other axis (model,
optimizer, ...) changes the program, so each of its values forms a separate group. The number of
compiled training programs is therefore the number of groups, which does not depend on how many
values a numeric axis has. Two structural axes are traced too: the losses of one task
(config.fuse_losses, a run's `loss_index`) and the noise families (config.fuse_noise, a run's
`noise_index`) share one program, which picks each run's branch by its index.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from typing import Any

import numpy as np
from ml_collections import config_dict

import losses
from experiments.config_schema import EXECUTION_FIELDS, NUMERIC_FIELDS

LOSS_INDEX = "loss_index"  # a run's loss within its group's `losses`
NOISE_INDEX = "noise_index"  # a run's noise family within its group's `noises`
INTEGER_FIELDS = ("seed", LOSS_INDEX, NOISE_INDEX)


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
    # The config of its structure (structure_config): no per-run field, so reading one raises
    config: config_dict.FrozenConfigDict
    losses: tuple[str, ...]  # the losses the program serves; a run's `loss_index` points here
    noises: tuple[str, ...]  # its noise families; a run's `noise_index` points here
    runs: tuple[Run, ...]
    hyper: dict[str, np.ndarray]  # numeric field, loss_index, noise_index -> (len(runs),) values

    @property
    def dataset_key(self) -> tuple:
        """The dataset fields that decide which arrays are loaded (noise is drawn in-program)."""
        return tuple(sorted((path, value) for path, value in flatten(self.config.dataset).items()
                            if f"dataset.{path}" not in NUMERIC_FIELDS and path != "noise"))

    @property
    def label(self) -> str:
        """The group's swept structural values, e.g. 'model.widths=(8,)' ('all' for none); a
        group that fuses several losses is labelled by all of them ('losses=huber/cauchy, ...')."""
        fused = {path: f"{name}={'/'.join(values)}"
                 for path, name, values in (("loss", "losses", self.losses),
                                            ("dataset.noise", "noises", self.noises))
                 if len(values) > 1}
        return ", ".join([*fused.values()] + [
            f"{p}={v}" for p, v in self.runs[0].swept if p not in NUMERIC_FIELDS and p not in fused
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
            out[path] = _plain(value)
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


def structure_config(config: config_dict.ConfigDict, swept: tuple[tuple[str, Any], ...]
                     ) -> config_dict.FrozenConfigDict:
    """`config` resolved for a run (`swept`) without what varies between a group's runs: every
    numeric field (its values are the group's `hyper`) and, fused, the loss and the noise family
    (the group's `losses` and `noises`). Reading one is an AttributeError, never run 0's value."""
    c = resolve(config, swept)
    per_run = [*NUMERIC_FIELDS]
    per_run += ["loss"] if c.fuse_losses else []
    per_run += ["dataset.noise"] if c.fuse_noise else []
    for path in per_run:
        node, _, leaf = path.rpartition(".")
        del (c[node] if node else c)[leaf]
    return config_dict.FrozenConfigDict(c)


def structure_of(config: config_dict.ConfigDict) -> tuple[tuple[str, Any], ...]:
    """The fields that shape the compiled program (everything not numeric and not execution).

    With `config.fuse_losses`, the loss enters as its task ('regression' / 'classification'):
    every loss of a task shares one program, which picks the run's loss by its traced
    `loss_index` (see experiments.training.loss_fn). With `config.fuse_noise` the noise family
    does not enter: every family shares one program (`noise_index`, experiments.training.targets).
    """
    return _structure(flatten(config))


def _structure(fields: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """`structure_of` from a config's flattened fields."""
    fuse = bool(fields.get("fuse_losses", False))
    return tuple(("loss_task", losses.task(value)) if fuse and path == "loss" else (path, value)
                 for path, value in fields.items() if _in_structure(path, fields))


def _in_structure(path: str, fields: dict[str, Any]) -> bool:
    """Whether field `path` shapes the compiled program: not numeric, not an execution field,
    and not the noise family when `fields` fuse it (every family in one program)."""
    return not (path in NUMERIC_FIELDS or path.split(".")[0] in EXECUTION_FIELDS
                or (path == "dataset.noise" and fields.get("fuse_noise", False)))


def hyper_of(
    config: config_dict.ConfigDict, losses: tuple[str, ...] = (), noises: tuple[str, ...] = ()
) -> dict[str, float]:
    """The numeric fields of one resolved run config, and the indices of its loss in `losses`
    and of its noise family in `noises` (default: the config's own)."""
    fields = flatten(config)
    hyper = {path: fields[path] for path in NUMERIC_FIELDS}
    hyper[LOSS_INDEX] = (tuple(losses) or (config.loss,)).index(fields["loss"])
    hyper[NOISE_INDEX] = (tuple(noises) or (config.dataset.noise,)).index(fields["dataset.noise"])
    return hyper


def expand(config: config_dict.ConfigDict) -> list[Group]:
    """Every run of the grid (Cartesian product of the axes), grouped by structure.

    Runs are numbered in grid order (axes sorted by path, the first one slowest); groups in
    order of first appearance. A fused group serves its runs' losses in order of first
    appearance (`Group.losses`), and each run's `loss_index` points into that tuple; likewise
    its noise families (`Group.noises`, `noise_index`). Call it
    through experiments.plan, which checks the config first and expands it once.

    Linear in the number of runs and cheap (a 10^5-run grid in well under a second on top of
    building its Run objects): each run is its axis indices (numpy), its group a code made of
    the indices of its structural values, its numeric values gathered from each axis's values.
    """
    axes = sweep_axes(config)
    base = flatten(config)
    fuse = bool(base.get("fuse_losses", False))
    n_runs = math.prod(len(values) for _, values in axes)
    index = np.unravel_index(np.arange(n_runs), [len(v) for _, v in axes]) if axes else ()
    # Group code of each run: the mixed-radix number of its structural values' classes (equal
    # values, or losses of one task when fused, share a class).
    code = np.zeros(n_runs, np.int64)
    for (path, values), idx in zip(axes, index, strict=True):
        if not _in_structure(path, base):
            continue
        keys = [("task", losses.task(v)) if fuse and path == "loss" else _key(v) for v in values]
        classes: dict[Any, int] = {}
        cls = np.asarray([classes.setdefault(k, len(classes)) for k in keys], np.int64)
        code = code * len(classes) + cls[idx]
    _, first_of_code, group_of = np.unique(code, return_index=True, return_inverse=True)
    rank = np.empty(len(first_of_code), np.int64)
    rank[np.argsort(first_of_code, kind="stable")] = np.arange(len(first_of_code))
    group_of = rank[group_of.reshape(-1)]
    members_of = np.split(np.argsort(group_of, kind="stable"),
                          np.cumsum(np.bincount(group_of))[:-1])
    pairs = [[(path, value) for value in values] for path, values in axes]
    runs = [Run(run_id, swept) for run_id, swept in enumerate(itertools.product(*pairs))]
    axis_of = {path: a for a, (path, _) in enumerate(axes)}
    groups = []
    for group_id, members in enumerate(members_of):
        first = runs[members[0]].swept
        key = _structure({**base, **{p: _plain(v) for p, v in first}})
        family, loss_index = _fused("loss", axes, index, axis_of, base, members)
        noises, noise_index = _fused("dataset.noise", axes, index, axis_of, base, members)
        hyper = {LOSS_INDEX: loss_index, NOISE_INDEX: noise_index}
        for path in NUMERIC_FIELDS:
            dtype = np.int32 if path in INTEGER_FIELDS else np.float32
            if path in axis_of:
                a = axis_of[path]
                values = np.asarray([_plain(v) for v in axes[a][1]], dtype=dtype)
                hyper[path] = values[index[a][members]]
            else:
                hyper[path] = np.full(len(members), base[path], dtype=dtype)
        groups.append(Group(
            group_id, key, structure_config(config, first), family, noises,
            tuple(runs[i] for i in members),
            {path: hyper[path] for path in (*NUMERIC_FIELDS, LOSS_INDEX, NOISE_INDEX)},
        ))
    return groups


def _key(value: Any) -> Any:
    """A hashable stand-in for a swept value: equal values, equal keys."""
    value = _plain(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _fused(path, axes, index, axis_of, base, members) -> tuple[tuple[str, ...], np.ndarray]:
    """The values of `path` a group's members take (loss, noise family), in order of first
    appearance, and each member's index into them."""
    if path not in axis_of:
        return (base[path],), np.zeros(len(members), np.int32)
    values = axes[axis_of[path]][1]
    names = [values[i] for i in index[axis_of[path]][members]]
    family = tuple(dict.fromkeys(names))
    position = {name: i for i, name in enumerate(family)}
    return family, np.asarray([position[name] for name in names], np.int32)
