"""What a sweep is, resolved once: every check, then the grid expanded into groups and chunks.

`plan = SweepPlan.resolve(config, n_devices)` runs every check of the engine (a `ConfigError`
naming the field and the value, experiments.validation, before anything is compiled or written),
then expands the grid once (experiments.grid) into `groups` (grid.Group: id, frozen config, the
losses it fuses, its dataset key), `chunks` (every chunk in grid order, its hyperparameters
padded to `chunk_size` by repeating its last run), this process's `part` and the chunks it
`owned`, and the sweep `identity` (experiments.workdir). Chunks come from `chunk_size` alone
(config.chunk_size capped at the largest group), never from the device count: every part on any
hardware agrees on what chunk g<G>-c<C> holds and runs it at the same shape; `n_devices` is only
how many whole chunks run side by side (experiments.engine). The sweep, the claims' trained runs,
distribution, workdir and merge read the plan, never the raw config;
`SweepPlan.from_record(record)` rebuilds it from a workdir's config.json.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from absl import logging
from ml_collections import config_dict

from experiments import data as data_lib
from experiments import grid, result_files, validation
from experiments.config_schema import base_config
from experiments.parts import Part, blocks, part_of


@dataclasses.dataclass(frozen=True)
class Chunk:
    """The unit of work and of results: chunk `chunk_id` of group `group_id`."""

    group_id: int
    chunk_id: int
    runs: tuple[grid.Run, ...]
    hyper: dict[str, np.ndarray]  # (chunk_size,): the runs, padded with the last one

    @property
    def key(self) -> tuple[int, int]:
        return self.group_id, self.chunk_id


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    config: config_dict.FrozenConfigDict
    groups: tuple[grid.Group, ...]
    chunks: tuple[Chunk, ...]
    chunk_size: int
    n_devices: int  # local devices: chunks run side by side
    part: Part
    owned: tuple[Chunk, ...]
    identity: dict[str, Any]
    datasets: dict[tuple, data_lib.Dataset] = dataclasses.field(compare=False, repr=False)

    @classmethod
    def resolve(cls, config: config_dict.ConfigDict, n_devices: int = 1, *,
                part: Part | None = None, overridden: Collection[str] = ()) -> SweepPlan:
        """Check `config` (ConfigError on a bad value), then expand its grid once.

        `overridden`: the fields set on the command line (a swept one is refused: its value
        would be ignored). `part` defaults to this process's (experiments.parts).
        """
        validation.check_fields(config, overridden)
        groups = tuple(grid.expand(config))
        datasets = validation.check_groups(config, groups)
        part = part_of(config) if part is None else part
        chunk_size = max(1, min(int(config.chunk_size), max(len(p.runs) for p in groups)))
        chunks = tuple(_chunks(groups, chunk_size))
        owned = tuple(chunks[i] for i in blocks(len(chunks), part.count)[part.index])
        if part.count > 1:
            logging.info(
                "%s: %d of %d chunks (groups %s)",
                part.name, len(owned), len(chunks), sorted({c.group_id for c in owned}),
            )
        return cls(
            config=config_dict.FrozenConfigDict(config),
            groups=groups,
            chunks=chunks,
            chunk_size=chunk_size,
            n_devices=n_devices,
            part=part,
            owned=owned,
            identity=result_files.sweep_identity(config.to_dict(), chunk_size),
            datasets=datasets,
        )

    @classmethod
    def from_record(cls, record: dict[str, Any], n_devices: int = 1) -> SweepPlan:
        """The plan of a finished (or partly run) sweep, from its config.json (all parts)."""
        return cls.resolve(config_from_record(record), n_devices, part=Part(0, 1))

    def with_values(self, values: Mapping[str, np.ndarray]) -> SweepPlan:
        """The same plan with numeric fields set per run (`values[field]`: one value per run of
        the grid, in run_id order), re-chunked: runs at values no grid holds (a bisection's
        per-run learning rates) from the same compiled programs. Only finiteness is checked
        here (experiments.validation checks the config's values, not these)."""
        unknown = set(values) - set(self.groups[0].hyper)
        if unknown:
            raise ValueError(f"with_values: {sorted(unknown)} are not numeric run fields")
        for field, v in values.items():
            bad = np.flatnonzero(~np.isfinite(np.asarray(v, np.float64)))
            if bad.size:
                raise ValueError(f"with_values: {field}={np.asarray(v)[bad[0]]} (run "
                                 f"{bad[0]}) is not finite")
        groups = tuple(
            dataclasses.replace(group, hyper={
                **group.hyper,
                **{field: np.asarray(v)[[run.run_id for run in group.runs]].astype(
                    group.hyper[field].dtype) for field, v in values.items()},
            })
            for group in self.groups
        )
        chunks = tuple(_chunks(groups, self.chunk_size))
        owned = tuple(chunks[i] for i in blocks(len(chunks), self.part.count)[self.part.index])
        return dataclasses.replace(self, groups=groups, chunks=chunks, owned=owned)

    @functools.cached_property
    def digest(self) -> str:
        """result_files.identity_digest of `identity`: what chunk manifests and the workdir lock
        record."""
        return result_files.identity_digest(self.identity)

    def dataset(self, group: grid.Group) -> data_lib.Dataset:
        return self.datasets[group.dataset_key]

    @property
    def keys(self) -> list[tuple[int, int]]:
        """Every chunk of the grid (all parts), as (group_id, chunk_id) in grid order."""
        return [c.key for c in self.chunks]

    def job_keys(self) -> list[tuple[int, int]]:
        """The chunks of every part in this part's job (the processes of one shard)."""
        split = blocks(len(self.chunks), self.part.count)
        return [self.chunks[i].key for p in self.part.job_parts for i in split[p]]

    def summary(self) -> str:
        """The plan in words (the sweep's --dry_run): runs, groups, chunks, this part's share,
        the estimated cost, one line per group, and a last line `chunks: N` (for scripts)."""
        runs = sum(len(p.runs) for p in self.groups)
        owned_runs = sum(len(c.runs) for c in self.owned)
        lines = [
            f"{runs} runs in {len(self.groups)} group{'s' * (len(self.groups) != 1)} (one "
            f"compiled program each), {len(self.chunks)} chunks of up to {self.chunk_size} runs, "
            f"one chunk per device on {self.n_devices} device(s)",
            f"this part ({self.part.name}): {len(self.owned)} chunks, {owned_runs} runs; "
            f"{validation.estimate(self.config, owned_runs)} (compiling not counted)",
        ]
        for group in self.groups:
            chunks = sum(c.group_id == group.group_id for c in self.chunks)
            swept = ", ".join(f"{k}={v}" for k, v in group.structure
                              if k in dict(group.runs[0].swept) or k == "loss_task")
            lines.append(f"  group {group.group_id}: {len(group.runs)} runs, {chunks} "
                         f"chunks{'; ' + swept if swept else ''}")
        lines.append(f"chunks: {len(self.chunks)}")
        return "\n".join(lines)

    def grid_record(self) -> dict[str, Any]:
        """The grid as config.json records it."""
        return {
            "axes": [[p, list(v)] for p, v in grid.sweep_axes(self.config)],
            "runs": sum(len(p.runs) for p in self.groups),
            "groups": [
                {"group_id": p.group_id, "runs": len(p.runs),
                 "structure": {k: v for k, v in p.structure if k in dict(p.runs[0].swept)}}
                for p in self.groups
            ],
        }


def _chunks(groups, chunk_size: int):
    for group in groups:
        for chunk_id, start in enumerate(range(0, len(group.runs), chunk_size)):
            runs = group.runs[start : start + chunk_size]
            # Padding keeps every call the same shape, so one compiled program serves all chunks.
            idx = np.arange(start, start + chunk_size).clip(max=start + len(runs) - 1)
            hyper = {k: v[idx] for k, v in group.hyper.items()}
            yield Chunk(group.group_id, chunk_id, runs, hyper)


def _as_tuples(value: Any) -> Any:
    """JSON lists back to the tuples every config field holds (nested: sweep.model.widths)."""
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def _assign(node: config_dict.ConfigDict, values: dict[str, Any], prefix: str) -> None:
    for key, value in values.items():
        if key not in node:
            raise ValueError(f"config.json field {prefix}{key} is not in this version's config "
                             "schema (experiments/config_schema.py)")
        if isinstance(value, dict):
            _assign(node[key], value, f"{prefix}{key}.")
        else:
            node[key] = _as_tuples(value)


def config_from_record(record: dict[str, Any]) -> config_dict.ConfigDict:
    """The sweep's ConfigDict from config.json's "config": base_config() with every field set."""
    if "config" not in record:
        raise ValueError("config.json has no 'config' key (the resolved config)")
    # The modules that registered its losses first: their knobs are fields of the config.
    config = base_config(imports=_as_tuples(record["config"].get("imports", [])))
    _assign(config, record["config"], "")
    return config
