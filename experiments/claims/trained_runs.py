"""Train every group of a config with the sweep engine and keep what the claims need.

`experiments.sweep.run_sweep` writes tables; the claims also need each run's final parameters
(to compare with closed forms) and its noisy training targets. `train(config)` compiles each
group once (`experiments.sweep.compile_group`), feeds it the group's runs in chunks, and returns
per group
the stacked final params (leading run axis), the metrics (curves: (runs, logged steps);
per-run diagnostics: (runs,)) and a `frame()` with one row per run.

Selection on validation: `train(config, on_validation=True)` (the config's
`dataset.validation_fraction` > 0) compiles each program on `data.validation_view`, so the
engine's held-out metrics and curves are the validation split's (renamed `val_*`) and the test
split never enters a compiled program; `TrainedGroup.test_metrics()` then evaluates the final
parameters on test, on the host, for reporting.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from absl import logging
from ml_collections import config_dict

from experiments import data as data_lib
from experiments import grid, models, sweep, training, validation

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


def train(config: config_dict.ConfigDict, on_validation: bool = False) -> list[TrainedGroup]:
    """Every group of `config`'s grid, trained by the engine's compiled program.

    on_validation: evaluate on the validation split instead of test (see the module docstring;
    needs config.dataset.validation_fraction > 0). The config is validated first
    (experiments.validation: a ValueError naming the bad field).
    Compiled programs go to JAX's persistent cache as in run_sweep (config.compilation_cache_dir),
    so a rerun skips compilation.
    """
    datasets = validation.validate_config(config)  # the datasets it loaded, reused below
    sweep.use_compilation_cache(config)
    out = []
    for group in grid.expand(config):
        key = grid.dataset_key(group.config)
        if key not in datasets:
            datasets[key] = data_lib.load(group.config.dataset)
        dataset = datasets[key]
        chunk_size = min(max(1, int(config.chunk_size)), len(group.runs))
        t0 = time.perf_counter()
        program, data = sweep.compile_group(
            group.config, data_lib.validation_view(dataset) if on_validation else dataset,
            chunk_size,
        )
        t1 = time.perf_counter()
        params_parts, metric_parts = [], []
        for _, runs, hyper in group.chunks(chunk_size):
            state, metrics = program(hyper, data)
            n = len(runs)
            params_parts.append(jax.tree.map(lambda leaf, n=n: np.asarray(leaf)[:n], state.params))
            metric_parts.append({k: np.asarray(v)[:n] for k, v in metrics.items()})
        params = jax.tree.map(lambda *leaves: np.concatenate(leaves), *params_parts)
        metrics = {k: np.concatenate([m[k] for m in metric_parts]) for k in metric_parts[0]}
        logging.info(
            "trained %d runs (%s): compile %.1fs, run %.1fs",
            len(group.runs),
            ", ".join(f"{p}={v}" for p, v in group.structure if p in dict(group.runs[0].swept))
            or "one group",
            t1 - t0,
            time.perf_counter() - t1,
        )
        trained = TrainedGroup(
            config=group.config,
            dataset=dataset,
            data=data,
            runs=group.runs,
            hyper=group.hyper,
            params=params,
            metrics=_held_out_names(metrics) if on_validation else metrics,
            on_validation=on_validation,
        )
        out.extend(split_by_loss(trained))
    return out


def _held_out_names(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """test_* -> val_*: a program compiled on the validation view measured validation."""
    return {("val_" + k[5:] if k.startswith("test_") else k): v for k, v in metrics.items()}


def split_by_loss(group: TrainedGroup) -> list[TrainedGroup]:
    """A fused group (several losses in one program: config.fuse_losses) as one group per loss.

    Each part's config names its own loss (`config.loss`); runs keep their order.
    """
    names = training.group_losses(group.config)
    if len(names) == 1:
        return [group]
    index = np.asarray(group.hyper[grid.LOSS_INDEX])
    parts = []
    for i, name in enumerate(names):
        keep = np.flatnonzero(index == i)
        config = copy.deepcopy(group.config)
        config.loss = name
        parts.append(
            TrainedGroup(
                config=config,
                dataset=group.dataset,
                data=group.data,
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
