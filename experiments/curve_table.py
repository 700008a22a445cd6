"""The curves a run logs, in one table: each one's computation at a logged step, its runs-table
columns, its TensorBoard tag, which way is better, its unit.

`training.evaluate` computes every curve of `CURVES` that applies to the run (its `compute` of an
`Evaluation`), `table_rows` derives the runs table's `final` / `best` columns from them and
`tensorboard_events` writes each under its `tag`: a curve added here reaches curves.csv,
runs.csv and TensorBoard. A curve measured elsewhere in the program (`compute` None: sharpness
in its own `lax.cond`; experiments.spectrum's curves, which are not listed) is tabled the same
way; one not listed is written to TensorBoard as `curves/<name>`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import losses


class Evaluation(NamedTuple):
    """What a curve is computed from at one logged step (built by training.evaluate)."""

    task: str  # "regression" or "classification"
    hyper: dict[str, jax.Array]
    params: Any
    data_loss: jax.Array  # mean loss over the whole training split
    penalty: jax.Array  # the penalty's value, without λ
    loss: Callable  # the run's loss, knobs bound: (predictions, targets) -> values
    test_predictions: jax.Array
    test_targets: jax.Array  # the noisy held-out targets the run's own loss is scored on
    clean_test_targets: jax.Array  # the noise-free teacher (real data: the held-out targets)
    val_predictions: jax.Array | None  # None without a validation split
    val_targets: jax.Array | None
    objective_gradient: Callable[[], Any]  # ∇(data loss + λ·penalty) on the evaluation batch
    measure_gradient: bool  # config.diagnostics
    minibatch_grad_norm: jax.Array  # of the last applied minibatch gradient
    update_norm: jax.Array  # of the last applied update


def tree_norm(tree) -> jax.Array:
    """‖tree‖₂ over all its leaves."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def _always(at: Evaluation) -> bool:
    return True


def for_task(task: str, split: str = "test") -> Callable[[Evaluation], bool]:
    """Applies to `task`'s runs (on the validation split: only where there is one)."""
    return lambda at: at.task == task and (split == "test" or at.val_predictions is not None)


def _mse(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.mean(jnp.square(predictions - targets))


def _accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, -1) == labels)


@dataclasses.dataclass(frozen=True)
class Curve:
    name: str  # the curves table's column
    tag: str  # TensorBoard's (train/*, test/*, val/*, optim/*: the tag filter shows one family)
    direction: str  # "lower" or "higher" is better; "" for a diagnostic
    unit: str
    compute: Callable[[Evaluation], jax.Array] | None  # None: measured elsewhere in the program
    applies: Callable[[Evaluation], bool] = _always
    final: str | None = None  # the runs table's column of its last value
    best: str | None = None  # ... of its best value over the logged steps (by `direction`)
    sparse: bool = False  # measured at some logged steps only (NaN at the others)


CURVES: tuple[Curve, ...] = (
    Curve("objective", "train/objective", "lower", "loss",
          lambda at: at.data_loss + at.hyper["penalty_strength"] * at.penalty,
          final="final_loss", best="best_loss"),
    Curve("data_loss", "train/data_loss", "lower", "loss", lambda at: at.data_loss,
          final="final_data_loss"),
    Curve("test_loss", "test/loss", "lower", "loss",
          lambda at: losses.reduce(at.loss(at.test_predictions, at.test_targets)),
          final="final_test_loss", best="best_test_loss"),
    Curve("test_mse", "test/mse", "lower", "squared target units",
          lambda at: _mse(at.test_predictions, at.clean_test_targets), for_task("regression"),
          final="final_test_mse"),
    Curve("test_accuracy", "test/accuracy", "higher", "fraction",
          lambda at: _accuracy(at.test_predictions, at.test_targets),
          for_task("classification"), final="final_test_accuracy"),
    # What selection reads (the summary selects λ on it); the test split is only reported.
    Curve("val_mse", "val/mse", "lower", "squared target units",
          lambda at: _mse(at.val_predictions, at.val_targets), for_task("regression", "val"),
          final="final_val_mse"),
    Curve("val_accuracy", "val/accuracy", "higher", "fraction",
          lambda at: _accuracy(at.val_predictions, at.val_targets),
          for_task("classification", "val"), final="final_val_accuracy"),
    Curve("grad_norm", "optim/grad_norm", "", "gradient norm",
          lambda at: (tree_norm(at.objective_gradient()) if at.measure_gradient
                      else jnp.float32(jnp.nan))),
    Curve("minibatch_grad_norm", "optim/minibatch_grad_norm", "", "gradient norm",
          lambda at: at.minibatch_grad_norm),
    Curve("update_norm", "optim/update_norm", "", "parameter norm",
          lambda at: at.update_norm, final="update_norm_final"),
    Curve("param_norm", "optim/param_norm", "", "parameter norm",
          lambda at: tree_norm(at.params), final="param_norm_final"),
    Curve("sharpness", "optim/sharpness", "", "Hessian eigenvalue", None, sparse=True),
)


def by_name() -> dict[str, Curve]:
    return {curve.name: curve for curve in CURVES}


def tag(name: str) -> str:
    """A curve's TensorBoard tag (`curves/<name>` for one the table doesn't list)."""
    curve = by_name().get(name)
    return curve.tag if curve else f"curves/{name}"


def sparse(name: str) -> bool:
    """Whether a NaN in the curve means "not measured at this step" (true of unlisted curves:
    experiments.spectrum's are measured every spectrum_every steps)."""
    curve = by_name().get(name)
    return curve.sparse if curve else True


def evaluate(at: Evaluation) -> dict[str, jax.Array]:
    """Every curve of the table that applies, at one logged step."""
    return {c.name: c.compute(at) for c in CURVES if c.compute is not None and c.applies(at)}
