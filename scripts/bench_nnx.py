r"""Flax Linen vs Flax NNX for the anchor sweep's model, side by side in one process.

  python scripts/bench_nnx.py              # 1,000 steps, 5 interleaved repetitions
  python scripts/bench_nnx.py --quick      # 200 steps, 2 repetitions (a fast check)

Why: losslab's models are `flax.linen` modules used as a pure `apply(params, x)`, so a sweep is
`jit(vmap(run))` over stacked parameter pytrees (experiments.models). NNX is Flax's recommended
API; its route into the same vectorized sweep is `nnx.split(model) -> (graphdef, state)`, stack
the states, and `nnx.merge(graphdef, state)(x)` inside the vmapped step. This times both on the
anchor sweep's shape (configs/anchor.py): an MLP 16 -> 64 -> 1 (ReLU), Adam lr 1e-3, minibatches
of 256 from 2,048 points, objective mean loss + λ·½‖kernels‖² (losses.l2_penalty with
losses.decay_mask), {squared_error, absolute_error, huber} (a traced per-run loss index, as the
fused program has) × 8 λ × 4 seeds = 96 runs, each a `lax.scan` over the steps, one program.

Both arms start from the same parameters (Linen's `model.init` per seed, copied into the NNX
state with `nnx.replace_by_pure_dict`) and draw the same minibatches, so their final objectives
must agree (max_rel_diff, float32 reassociation at most). Data are seeded Gaussian noise: the
timing does not depend on the values. Per repetition each arm gets a fresh jitted function:
trace + lower (`jit(...).lower(...)`: where NNX's merge runs, in Python) and XLA compile
(`.compile()`) are timed apart, then one execution warms up and one is timed (steady state: all
runs × all steps, per step below); --lower_repeats further trace + lower timings steady that
column's median. The arms alternate, each first in every other repetition; medians are
reported. The optimized XLA programs are compared instruction by instruction (names and source
locations removed): identical programs cost the same to run, whatever the timings say under
load. The last line is machine-readable: `bench_nnx: ...`.
"""

from __future__ import annotations

import re
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags
from flax import nnx

import losses
from experiments import models, shipped_configs

_QUICK = flags.DEFINE_bool("quick", False, "200 steps and 2 repetitions: a fast check.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Interleaved repetitions (medians are reported).")
_LOWER_REPEATS = flags.DEFINE_integer(
    "lower_repeats", 20, "Further interleaved trace + lower timings (cheap; NNX's cost is there).")

ANCHOR = shipped_configs.load("anchor")
LOSS_FUNCTIONS = {"squared_error": losses.squared_error, "absolute_error": losses.absolute_error,
                  "huber": losses.huber}


class NnxMLP(nnx.Module):
    """The anchor's MLP in flax.nnx; its layers are named like Linen's (Dense_0, Dense_1) so the
    pure dict of Linen's parameters fills its state."""

    def __init__(self, dim: int, width: int, rngs: nnx.Rngs):
        self.Dense_0 = nnx.Linear(dim, width, rngs=rngs)
        self.Dense_1 = nnx.Linear(width, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.Dense_1(nnx.relu(self.Dense_0(x)))


def make_sweep(forward, learning_rate: float):
    """jit(vmap(run)) over (params, loss index, λ): a run is a lax.scan of Adam steps on
    mean loss + λ·½‖kernels‖²; it returns the objective of its last step."""
    optimizer = optax.adam(learning_rate)
    branches = [lambda r, f=f: jnp.mean(f(r)) for f in LOSS_FUNCTIONS.values()]

    def objective(params, loss_index, strength, xb, yb):
        residual = forward(params, xb)[:, 0] - yb
        data_loss = jax.lax.switch(loss_index, branches, residual)
        return data_loss + strength * losses.l2_penalty(params, losses.decay_mask)

    def run(params, loss_index, strength, x, y, batches):
        def step(carry, indices):
            params, opt_state = carry
            value, grads = jax.value_and_grad(objective)(
                params, loss_index, strength, x[indices], y[indices])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        _, values = jax.lax.scan(step, (params, optimizer.init(params)), batches)
        return values[-1]

    return jax.jit(jax.vmap(run, in_axes=(0, 0, 0, None, None, None)))


def anchor_inputs(steps: int):
    """(Linen model, stacked Linen params, stacked NNX (graphdef, state), per-run inputs)."""
    config = ANCHOR.get_config()
    data, width = config.dataset, config.model.widths[0]
    grid = [(i, lam, seed) for i in range(len(ANCHOR.LOSSES))
            for lam in ANCHOR.PENALTY_STRENGTHS for seed in ANCHOR.SEEDS]
    loss_index, strength, seed = (np.asarray(column) for column in zip(*grid, strict=True))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(data.n_train, data.dim)).astype(np.float32)
    y = rng.normal(size=data.n_train).astype(np.float32)
    batches = rng.integers(0, data.n_train, size=(steps, config.batch_size))
    linen = models.build(config.model, 1)
    params = jax.vmap(lambda key: linen.init(key, x[:1]))(jax.vmap(jax.random.key)(seed))
    graphdef, state = nnx.split(NnxMLP(data.dim, width, nnx.Rngs(0)))
    nnx.replace_by_pure_dict(state, params["params"])  # the same initial parameters
    per_run = (jnp.asarray(loss_index, jnp.int32), jnp.asarray(strength, jnp.float32))
    shared = (jnp.asarray(x), jnp.asarray(y), jnp.asarray(batches))
    return linen, params, (graphdef, state), per_run + shared, config.learning_rate


def time_arm(sweep, args) -> tuple[float, float, float, np.ndarray, str]:
    """(trace + lower s, XLA compile s, steady-state execution s, final objectives, optimized
    HLO) of one fresh jitted sweep."""
    start = time.perf_counter()
    lowered = sweep.lower(*args)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    compiled_at = time.perf_counter()
    jax.block_until_ready(compiled(*args))  # warm-up execution
    start_run = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    return (lowered_at - start, compiled_at - lowered_at, time.perf_counter() - start_run,
            np.asarray(out), compiled.as_text())


def hlo_instructions(text: str) -> list[str]:
    """The optimized program's instructions with names and source metadata removed (sorted):
    two programs that differ only in what their values are called compare equal."""
    lines = [re.sub(r"metadata=\{[^}]*\}", "", line) for line in text.splitlines()
             if " = " in line and not line.startswith("HloModule")]
    return sorted(re.sub(r"%[\w.\-]+", "%", line) for line in lines)


def main(argv):
    del argv
    steps = 200 if _QUICK.value else ANCHOR.get_config().steps
    repeats = 2 if _QUICK.value else _REPEATS.value
    linen, params, (graphdef, state), inputs, lr = anchor_inputs(steps)
    arms = {
        "linen apply": (lambda: make_sweep(lambda p, xb: linen.apply(p, xb), lr), params),
        "nnx split/merge": (lambda: make_sweep(
            lambda s, xb: nnx.merge(graphdef, s)(xb), lr), state),
    }
    times = {name: ([], [], []) for name in arms}
    finals, programs = {}, {}
    for repetition in range(repeats):
        order = list(arms.items())[:: -1 if repetition % 2 else 1]  # neither arm always first
        for name, (make, stacked) in order:
            *seconds, finals[name], programs[name] = time_arm(make(), (stacked, *inputs))
            for column, value in zip(times[name], seconds, strict=True):
                column.append(value)
    for _ in range(_LOWER_REPEATS.value):
        for name, (make, stacked) in arms.items():
            start = time.perf_counter()
            make().lower(stacked, *inputs)
            times[name][0].append(time.perf_counter() - start)
    runs = len(inputs[0])
    median = {name: [statistics.median(v) for v in columns] for name, columns in times.items()}
    base = median["linen apply"]
    print(f"{runs} runs × {steps} steps, {repeats} interleaved repetitions (trace + lower: "
          f"{repeats + _LOWER_REPEATS.value}), medians; "
          f"{jax.devices()[0].platform}, jax {jax.__version__}")
    print(f"{'':18}{'trace+lower s':>14}{'/ linen':>8}{'compile s':>10}{'/ linen':>8}"
          f"{'ms/step':>9}{'/ linen':>8}")
    for name, (lower_s, compile_s, run_s) in median.items():
        print(f"{name:18}{lower_s:14.3f}{lower_s / base[0]:8.2f}{compile_s:10.3f}"
              f"{compile_s / base[1]:8.2f}{1e3 * run_s / steps:9.3f}{run_s / base[2]:8.2f}")
    reference = finals["linen apply"]
    rel = np.max(np.abs(finals["nnx split/merge"] - reference) / np.abs(reference))
    same = hlo_instructions(programs["linen apply"]) == hlo_instructions(
        programs["nnx split/merge"])
    print(f"optimized programs identical up to names: {same} "
          f"({len(hlo_instructions(programs['linen apply']))} instructions)")
    nnx_median = median["nnx split/merge"]
    print(f"bench_nnx: runs={runs} steps={steps} "
          f"trace_ratio={nnx_median[0] / base[0]:.2f} compile_ratio={nnx_median[1] / base[1]:.2f} "
          f"step_ratio={nnx_median[2] / base[2]:.2f} same_program={same} "
          f"linen_ms_per_step={1e3 * base[2] / steps:.3f} max_rel_diff={rel:.1e}")


if __name__ == "__main__":
    app.run(main)
