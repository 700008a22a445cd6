"""Train every group of a config with the sweep engine and keep what the claims need.

`experiments.engine.run_sweep` writes tables; the claims also need each run's final parameters
(to compare with closed forms) and its noisy training targets. `train(config)` runs the same
engine loop (`experiments.engine.execute` over the plan's chunks) and returns per group the
stacked final params (leading run axis), the metrics (curves: (runs, logged steps);
per-run diagnostics: (runs,)) and a `frame()` with one row per run.

Selection on validation: `train(config, on_validation=True)` (the config's
`dataset.validation_fraction` > 0) compiles each program on `data.validation_view`, so the
engine's held-out metrics and curves are the validation split's (renamed `val_*`) and the test
split never enters a compiled program; `TrainedGroup.test_metrics()` then evaluates the final
parameters on test, on the host, for reporting.
"""

from __future__ import annotations

import dataclasses
import itertools
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
from experiments import engine, grid, models, training
from experiments.parts import Part
from experiments.plan import SweepPlan

_TARGETS_CACHE: dict[tuple, np.ndarray] = {}


@dataclasses.dataclass
class TrainedGroup:
    """One group of runs after training (padding members removed)."""

    # The group's structure (grid.structure_config; no per-run field), naming its loss and noise
    # family once split_fused has split a fused group
    config: config_dict.ConfigDict
    dataset: data_lib.Dataset
    data: dict[str, jax.Array]
    runs: list[grid.Run]
    hyper: dict[str, np.ndarray]  # numeric field -> (runs,)
    params: Any  # pytree of numpy arrays, leading axis = runs
    metrics: dict[str, np.ndarray]  # curve -> (runs, logged steps); diagnostic -> (runs,)
    losses: tuple[str, ...] = ()  # its program's losses (hyper["loss_index"]); () = config.loss
    noises: tuple[str, ...] = ()  # its noise families (hyper["noise_index"]); () = config's
    on_validation: bool = False  # held-out metrics are the validation split's (val_*)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """Every run's final model outputs on inputs x: (runs, n, outputs), float64, on host."""
        task = self.dataset.task
        model = models.build(self.config.model,
                             self.dataset.num_classes if task == "classification" else 1)
        apply = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
        return np.asarray(apply(self.params, jnp.asarray(x)), np.float64)

    def test_metrics(self) -> dict[str, np.ndarray]:
        """Final parameters on the test split, per run: regression test_mse (against the
        noise-free teacher where there is one); classification test_accuracy and test_nll
        (softmax cross-entropy of the raw outputs) plus test_logits (runs, n, classes)."""
        out = self.outputs(self.dataset.x_test)
        if self.dataset.task == "regression":
            target = self.dataset.f_test if self.dataset.f_test is not None else self.dataset.y_test
            return {"test_mse": ((out[..., 0] - np.asarray(target, np.float64)) ** 2).mean(-1)}
        labels = np.asarray(self.dataset.y_test)
        shifted = out - out.max(-1, keepdims=True)
        log_prob = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
        return {
            "test_accuracy": (out.argmax(-1) == labels).mean(-1),
            "test_nll": -np.take_along_axis(log_prob, labels[None, :, None], -1)[..., 0].mean(-1),
            "test_logits": out,
        }

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
        noise_fields = [p for p in sorted(self.hyper)
                        if p in ("seed", grid.NOISE_INDEX) or p.startswith("dataset.")]
        key = (
            tuple(sorted(grid.flatten(config.dataset).items())),
            self.noises,
            tuple((p, self.hyper[p].tobytes()) for p in noise_fields),
        )
        if key not in _TARGETS_CACHE:
            draw = jax.jit(
                jax.vmap(lambda h: training.targets(config, h, data, self.noises)[0])
            )
            hyper = {k: jnp.asarray(v) for k, v in self.hyper.items()}
            _TARGETS_CACHE[key] = np.asarray(draw(hyper), np.float64)
        return _TARGETS_CACHE[key].copy()

    def linear_coefficients(self) -> np.ndarray:
        """Linear model only: (runs, dim + 1) = [kernel, bias] per run (single output), float64."""
        dense = self.params["params"]["Dense_0"]
        kernel = np.asarray(dense["kernel"], np.float64)[..., 0]
        bias = np.asarray(dense["bias"], np.float64)
        return np.concatenate([kernel, bias], axis=1)


def train(config: config_dict.ConfigDict, on_validation: bool = False,
          values: dict[str, np.ndarray] | None = None,
          shared: dict | None = None) -> list[TrainedGroup]:
    """Every group of `config`'s grid, trained by the engine (experiments.engine.execute).

    on_validation: evaluate on the validation split instead of test (see the module docstring;
    needs config.dataset.validation_fraction > 0). values: numeric fields set per run (one
    value per run of the grid, run_id order; SweepPlan.with_values), e.g. a bisection's
    learning rates, which reuse the compiled program. The config is resolved first
    (experiments.plan: a ConfigError, a ValueError, naming the bad field). Compiled programs go
    to JAX's persistent cache as in run_sweep (config.compilation_cache_dir), so a rerun skips
    compilation; mid-run checkpoints (config.checkpoint_every) go to a temporary directory.
    shared: a dict kept across calls whose programs repeat (a claim's units: the same shapes on
    another data split): their executables are reused without tracing (engine.compile_group).
    """
    plan = SweepPlan.resolve(config, jax.local_device_count(), part=Part(0, 1))
    if values:
        plan = plan.with_values(values)
    tested = plan  # its datasets keep the test split, for TrainedGroup.test_metrics
    if on_validation:  # every compiled program sees the validation split in the held-out slot
        plan = dataclasses.replace(plan, datasets={
            key: data_lib.validation_view(ds) for key, ds in plan.datasets.items()})
    engine.use_compilation_cache(config)
    by_group: dict[int, list[engine.ChunkResult]] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="losslab-trained-runs-") as checkpoint_root:
        for result in engine.execute(plan, plan.chunks, pathlib.Path(checkpoint_root), shared):
            by_group.setdefault(result.chunk.group_id, []).append(result)
    out = []
    for program in plan.groups:
        parts = by_group[program.group_id]
        metrics = {k: np.concatenate([p.metrics[k] for p in parts]) for k in parts[0].metrics}
        trained = TrainedGroup(
            config=program.config,
            losses=program.losses,
            noises=program.noises,
            dataset=tested.dataset(program),
            data=parts[0].data,
            runs=list(program.runs),
            hyper=program.hyper,
            params=jax.tree.map(lambda *leaves: np.concatenate(leaves), *(p.params for p in parts)),
            metrics=_held_out_names(metrics) if on_validation else metrics,
            on_validation=on_validation,
        )
        out.extend(split_fused(trained))
    logging.info(
        "trained %d runs in %d groups in %.1fs",
        sum(len(p.runs) for p in plan.groups), len(plan.groups), time.perf_counter() - t0,
    )
    return out


def _held_out_names(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """test_* -> val_*: a program compiled on the validation view measured validation."""
    return {("val_" + k[5:] if k.startswith("test_") else k): v for k, v in metrics.items()}


def split_fused(group: TrainedGroup) -> list[TrainedGroup]:
    """A group as one group per (loss, noise family) its program serves (several when fused:
    config.fuse_losses, config.fuse_noise), in that order.

    Each part's config is the group's structure (grid.structure_config) naming its own loss and
    noise family; runs keep their order.
    """
    loss_index = np.asarray(group.hyper[grid.LOSS_INDEX])
    noise_index = np.asarray(group.hyper.get(grid.NOISE_INDEX, np.zeros_like(loss_index)))
    parts = []
    losses = group.losses or (group.config.loss,)
    noises = group.noises or (group.config.dataset.noise,)
    for (i, name), (j, noise) in itertools.product(enumerate(losses), enumerate(noises)):
        keep = np.flatnonzero((loss_index == i) & (noise_index == j))
        if not keep.size:
            continue
        config = group.config.to_dict()
        config.update(loss=name, dataset={**config["dataset"], "noise": noise})
        named = dataclasses.replace(group, config=config_dict.FrozenConfigDict(config),
                                    losses=(name,), noises=(noise,))
        if keep.size == len(group.runs):  # one loss and noise family: nothing to split
            parts.append(named)
            continue
        parts.append(
            dataclasses.replace(
                named,
                runs=[group.runs[j] for j in keep],
                hyper={k: v[keep] for k, v in group.hyper.items()},
                params=jax.tree.map(lambda leaf, keep=keep: leaf[keep], group.params),
                metrics={k: v[keep] for k, v in group.metrics.items()},
                on_validation=group.on_validation,
            )
        )
    return parts


def frame(groups: list[TrainedGroup]) -> pd.DataFrame:
    """All groups' frames stacked, in run_id order."""
    return pd.concat([g.frame() for g in groups], ignore_index=True).sort_values("run_id")
