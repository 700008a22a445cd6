"""Train every group of a config with the sweep engine and keep what the claims need.

`experiments.sweep.run_sweep` writes tables; the claims also need each run's final parameters
(to compare with closed forms) and its noisy training targets. `train(config)` runs the same
engine loop (`experiments.sweep.execute` over the plan's chunks) and returns per group the
stacked final params (leading run axis), the metrics (curves: (runs, logged steps);
per-run diagnostics: (runs,)) and a `frame()` with one row per run.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from absl import logging
from ml_collections import config_dict

from experiments import data as data_lib
from experiments import grid, sweep, training
from experiments.distribution import Part
from experiments.plan import SweepPlan

_TARGETS_CACHE: dict[tuple, np.ndarray] = {}


@dataclasses.dataclass
class TrainedGroup:
    """One group of runs after training (padding members removed)."""

    config: config_dict.ConfigDict  # resolved for the group's first run
    dataset: data_lib.Dataset
    data: dict[str, jax.Array]
    runs: list[grid.Run]
    hyper: dict[str, np.ndarray]  # numeric field -> (runs,)
    params: Any  # pytree of numpy arrays, leading axis = runs
    metrics: dict[str, np.ndarray]  # curve -> (runs, logged steps); diagnostic -> (runs,)
    losses: tuple[str, ...] = ()  # its program's losses (hyper["loss_index"]); () = config.loss

    def frame(self) -> pd.DataFrame:
        """One row per run: its swept values, then the final value of every metric."""
        rows = pd.DataFrame([dict(run.swept) for run in self.runs], index=range(len(self.runs)))
        rows.insert(0, "run_id", [run.run_id for run in self.runs])
        for name, values in self.metrics.items():
            values = np.asarray(values)
            if values.ndim == 1:
                rows[name] = values
            elif values.ndim == 2:
                rows[f"final_{name}"] = values[:, -1]
        return rows

    def targets(self) -> np.ndarray:
        """The noisy training targets each run was trained on, float64 (runs, n_train).

        Cached by what they depend on (dataset, noise family, noise levels, seeds), so groups
        that differ only in loss or optimizer share one draw and one compilation.
        """
        config, data = self.config, self.data
        noise_fields = [p for p in sorted(self.hyper) if p == "seed" or p.startswith("dataset.")]
        key = (
            tuple(sorted(grid.flatten(config.dataset).items())),
            tuple((p, self.hyper[p].tobytes()) for p in noise_fields),
        )
        if key not in _TARGETS_CACHE:
            draw = jax.jit(jax.vmap(lambda h: training.targets(config, h, data)[0]))
            hyper = {k: jnp.asarray(v) for k, v in self.hyper.items()}
            _TARGETS_CACHE[key] = np.asarray(draw(hyper), np.float64)
        return _TARGETS_CACHE[key].copy()

    def linear_coefficients(self) -> np.ndarray:
        """Linear model only: (runs, dim + 1) = [kernel, bias] per run (single output), float64."""
        dense = self.params["params"]["Dense_0"]
        kernel = np.asarray(dense["kernel"], np.float64)[..., 0]
        bias = np.asarray(dense["bias"], np.float64)
        return np.concatenate([kernel, bias], axis=1)


def train(config: config_dict.ConfigDict) -> list[TrainedGroup]:
    """Every group of `config`'s grid, trained by the engine (experiments.sweep.execute).

    The config is resolved first (experiments.plan: a ConfigError, a ValueError, naming the bad
    field). Compiled programs go to JAX's persistent cache as in run_sweep
    (config.compilation_cache_dir), so a rerun skips compilation; mid-run checkpoints
    (config.checkpoint_every) go to a temporary directory.
    """
    plan = SweepPlan.resolve(config, jax.local_device_count(), part=Part(0, 1))
    sweep.use_compilation_cache(config)
    by_group: dict[int, list[sweep.ChunkResult]] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="losslab-trained-runs-") as checkpoint_root:
        for result in sweep.execute(plan, plan.chunks, pathlib.Path(checkpoint_root)):
            by_group.setdefault(result.chunk.group_id, []).append(result)
    out = []
    for program in plan.programs:
        parts = by_group[program.group_id]
        trained = TrainedGroup(
            config=program.config,
            losses=program.losses,
            dataset=plan.dataset(program),
            data=parts[0].data,
            runs=list(program.runs),
            hyper=program.hyper,
            params=jax.tree.map(lambda *leaves: np.concatenate(leaves), *(p.params for p in parts)),
            metrics={k: np.concatenate([p.metrics[k] for p in parts]) for k in parts[0].metrics},
        )
        out.extend(split_by_loss(trained))
    logging.info(
        "trained %d runs in %d groups in %.1fs",
        sum(len(p.runs) for p in plan.programs), len(plan.programs), time.perf_counter() - t0,
    )
    return out


def split_by_loss(group: TrainedGroup) -> list[TrainedGroup]:
    """A fused group (several losses in one program: config.fuse_losses) as one group per loss.

    Each part's config names its own loss (`config.loss`); runs keep their order.
    """
    if len(group.losses) <= 1:
        return [group]
    index = np.asarray(group.hyper[grid.LOSS_INDEX])
    parts = []
    for i, name in enumerate(group.losses):
        keep = np.flatnonzero(index == i)
        parts.append(
            dataclasses.replace(
                group,
                config=config_dict.FrozenConfigDict({**group.config.to_dict(), "loss": name}),
                losses=(name,),
                runs=[group.runs[j] for j in keep],
                hyper={k: v[keep] for k, v in group.hyper.items()},
                params=jax.tree.map(lambda leaf, keep=keep: leaf[keep], group.params),
                metrics={k: v[keep] for k, v in group.metrics.items()},
            )
        )
    return parts


def frame(groups: list[TrainedGroup]) -> pd.DataFrame:
    """All groups' frames stacked, in run_id order."""
    return pd.concat([g.frame() for g in groups], ignore_index=True).sort_values("run_id")
