"""A training run as one pure function of (hyperparameters, data): `lax.scan` over steps.

`make_run(config, dataset, losses) -> run(hyper, data) -> (final_state, metrics)` where `hyper`
maps each numeric field (config_schema.NUMERIC_FIELDS) to a scalar array, plus `loss_index`, the
run's loss among the `losses` its program serves (grid.Group.losses: all losses of a task when
config.fuse_losses), and `metrics` maps each curve name
to an array over logged steps (step 0, log_every, 2·log_every, ..., steps) and each per-run
diagnostic (experiments.stability: frac_increase, grad_norm_ratio, sharpness_max, ...) to a
scalar. Nothing is logged from inside the loop; `jax.vmap(run, in_axes=(0, None))` runs a whole
chunk of a sweep at once. `run` is `train(hyper, data, draw(hyper, data))` (make_program): every
random number of a run (noisy targets, initial parameters, minibatch indices) is drawn first, from
its seed, so the sweep engine compiles the drawing apart from the training (experiments.engine).

Curves: objective (data loss + λ·penalty on the full training split, both L2 modes), data_loss,
test_loss (the run's own loss on the held-out split), test_mse (regression, against the
noise-free teacher for synthetic data) or test_accuracy, grad_norm (‖∇ objective‖ on the fixed
evaluation batch: the first `sharpness_batch` training examples), minibatch_grad_norm,
update_norm, param_norm, and sharpness (NaN between measurements) when enabled.

Divergence: a step is rejected when the minibatch objective is not finite or exceeds
`diverge_threshold` × the initial full-batch objective, or the update would make a parameter
non-finite. The first rejection sets `diverged` and `diverge_step`, and every later step keeps
the parameters as they were (the member is frozen), so no NaN reaches the metrics of a run or,
through the vmapped batch, any other member.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from ml_collections import config_dict

import losses
from experiments import curve_table, grid, models, oracles, spectrum, stability
from experiments import data as data_lib
from experiments.curve_table import tree_norm

Hyper = dict[str, jax.Array]
Metrics = dict[str, jax.Array]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "inverse_sqrt")
PENALTIES = ("l2", "l1", "elastic_net", "none")
L2_MODES = ("coupled", "decoupled")


class TrainState(NamedTuple):
    """What training carries from step to step (what a run returns)."""

    params: Any
    opt_state: Any
    diverged: jax.Array  # bool
    diverge_step: jax.Array  # int32, -1 while not diverged


class DiagnosticsState(NamedTuple):
    """What only the diagnostics carry; none of it changes the trajectory."""

    minibatch_grad_norm: jax.Array  # of the last minibatch gradient that was applied
    update_norm: jax.Array  # of the last applied parameter update
    prev_grad: Any  # the last applied minibatch gradient (for grad_cos_mean)
    cos_sum: jax.Array  # Σ cos(g_t, g_{t-1}) over applied steps
    cos_count: jax.Array
    power_vector: Any  # warm start of the sharpness power iteration


def _where_ok(ok: jax.Array, new, old):
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)


def accept_step(
    state: TrainState, value, params, opt_state, step_index, limit
) -> tuple[TrainState, jax.Array]:
    """The divergence freeze: (next state, whether the step was accepted).

    A step is rejected when the minibatch objective `value` is not finite or exceeds `limit`, or
    a new parameter is not finite; the first rejection sets diverged and diverge_step, and from
    then on the member keeps its parameters and optimizer state.
    """
    ok = jnp.isfinite(value) & (value <= limit) & _all_finite(params) & ~state.diverged
    newly_diverged = ~ok & ~state.diverged
    return TrainState(
        params=_where_ok(ok, params, state.params),
        opt_state=_where_ok(ok, opt_state, state.opt_state),
        diverged=state.diverged | newly_diverged,
        diverge_step=jnp.where(newly_diverged, step_index, state.diverge_step),
    ), ok


def update_diagnostics(
    diag: DiagnosticsState, ok: jax.Array, grads, updates, cosines: bool
) -> DiagnosticsState:
    """Norms of the applied step and, with `cosines`, cos(g_t, g_{t-1}) of applied steps."""
    grad_norm = tree_norm(grads)
    if cosines:
        prev_norm = tree_norm(diag.prev_grad)
        dot = stability.tree_vdot(grads, diag.prev_grad)
        cos = dot / jnp.maximum(grad_norm * prev_norm, 1e-30)
        counted = ok & (prev_norm > 0)
        prev_grad = _where_ok(ok, grads, diag.prev_grad)
    else:
        cos, counted, prev_grad = jnp.zeros(()), jnp.zeros((), bool), diag.prev_grad
    return diag._replace(
        minibatch_grad_norm=jnp.where(ok, grad_norm, diag.minibatch_grad_norm),
        update_norm=jnp.where(ok, tree_norm(updates), jnp.zeros_like(diag.update_norm)),
        prev_grad=prev_grad,
        cos_sum=diag.cos_sum + jnp.where(counted, cos, 0.0),
        cos_count=diag.cos_count + counted.astype(jnp.int32),
    )


def lr_multiplier(schedule: str, steps: int, warmup_steps: int) -> Callable[[jax.Array], jax.Array]:
    """Learning-rate multiplier m(t), so lr(t) = learning_rate · m(t).

    Linear warmup over `warmup_steps` (if > 0), then: constant 1; cosine ½(1+cos(π·s/S)) over
    the remaining S steps; inverse_sqrt √(w/(w+s)) with w = max(warmup_steps, 1).
    """
    decay_steps = max(steps - warmup_steps, 1)
    w = max(warmup_steps, 1)

    def multiplier(count: jax.Array) -> jax.Array:
        t = jnp.asarray(count, jnp.float32)
        s = jnp.maximum(t - warmup_steps, 0.0)
        if schedule == "constant":
            m = jnp.ones_like(t)
        elif schedule == "cosine":
            m = 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(s, decay_steps) / decay_steps))
        else:
            m = jnp.sqrt(w / (w + s))
        if warmup_steps > 0:
            m = m * jnp.minimum((t + 1.0) / warmup_steps, 1.0)
        return m

    return multiplier


def is_decoupled(config: config_dict.ConfigDict) -> bool:
    """adamw always decays decoupled; otherwise config.l2_mode decides."""
    return config.optimizer == "adamw" or config.l2_mode == "decoupled"


def make_optimizer(config: config_dict.ConfigDict, hyper: Hyper) -> optax.GradientTransformation:
    """chain(preconditioner, [decoupled decay λθ], −lr(t)) with traced lr, momentum and λ.

    Written as one chain so that SGD + decoupled decay is exactly SGD on loss + λ·½‖θ‖² (the
    decay term is added before the learning-rate scaling), while for Adam the decay bypasses the
    adaptive preconditioner (AdamW; Loshchilov & Hutter 2019).
    """
    name = config.optimizer
    if name == "sgd":
        base = optax.identity()
    elif name == "momentum":
        base = optax.trace(decay=hyper["momentum"])
    else:  # adam, adamw (names are checked by experiments.validation)
        base = optax.scale_by_adam(b1=config.b1, b2=config.b2, eps=config.eps)
    multiplier = lr_multiplier(config.schedule, config.steps, config.warmup_steps)
    parts = [base]
    if is_decoupled(config):  # on the leaves the penalty covers (penalty_fn)
        mask = losses.decay_mask if config.penalty_mask == "kernels" else None
        parts.append(optax.add_decayed_weights(hyper["penalty_strength"], mask))
    parts.append(
        optax.scale_by_learning_rate(lambda count: hyper["learning_rate"] * multiplier(count))
    )
    return optax.chain(*parts)


def penalty_fn(config: config_dict.ConfigDict, hyper: Hyper) -> Callable[[Any], jax.Array]:
    """params -> penalty value (without λ) over the masked leaves."""

    def penalty(params):
        mask = losses.decay_mask(params) if config.penalty_mask == "kernels" else None
        if config.penalty == "l2":
            return losses.l2_penalty(params, mask)
        if config.penalty == "l1":
            return losses.l1_penalty(params, mask)
        if config.penalty == "elastic_net":
            return losses.elastic_net(params, hyper["l1_ratio"], mask)
        return jnp.zeros((), jnp.float32)

    return penalty


def loss_fn(config: config_dict.ConfigDict, hyper: Hyper, loss_names: tuple[str, ...] = ()
            ) -> Callable:
    """The run's loss with its knobs bound; numeric knobs come from `hyper` (traced).

    `loss_names` are the losses one program serves (default: config.loss alone). With several,
    the run's loss is `loss_names[hyper['loss_index']]`, chosen with lax.switch; under vmap that
    evaluates every loss of the group and selects (cheap next to the model), and a non-selected
    loss contributes exactly zero to the gradient.
    """

    def bound(name: str) -> Callable:
        knobs = {}
        for knob in losses.knobs(name):
            path = f"loss_knobs.{knob}"
            knobs[knob] = hyper[path] if path in hyper else config.loss_knobs[knob]  # per run
        return losses.get(name, **knobs)

    bound_losses = [bound(name) for name in loss_names or (config.loss,)]
    if len(bound_losses) == 1:
        return bound_losses[0]
    return lambda predictions, targets: jax.lax.switch(
        hyper["loss_index"], bound_losses, predictions, targets
    )


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def data_arrays(dataset: data_lib.Dataset) -> dict[str, jax.Array]:
    """The dataset as a dict of arrays, the `data` argument of a run (replicated, not vmapped)."""
    names = ("x_train", "y_train", "x_test", "y_test")
    names += ("f_train", "f_test") if dataset.f_train is not None else ()
    out = {name: jnp.asarray(getattr(dataset, name)) for name in names}
    if dataset.x_val is not None:  # the selection split (config.dataset.validation_fraction)
        out["x_val"] = jnp.asarray(dataset.x_val)
        # Regression is scored against the noise-free teacher where there is one, like test_mse.
        out["y_val"] = jnp.asarray(dataset.f_val if dataset.f_val is not None else dataset.y_val)
    return out


def run_keys(hyper: Hyper) -> tuple[jax.Array, ...]:
    """(init, minibatch, train noise, test noise) keys, all derived from hyper['seed']."""
    return tuple(jax.random.split(jax.random.key(hyper["seed"]), 4))


def targets(
    config: config_dict.ConfigDict,
    hyper: Hyper,
    data: dict[str, jax.Array],
    noises: tuple[str, ...] = (),
):
    """(y_train, y_test, clean y_test) of one run.

    Synthetic data carries noise-free teacher outputs f; the noise is drawn here, from the run's
    seed and its (traced) noise level, so seeds and noise levels vmap. `noises`: the noise
    families the program serves (grid.Group.noises; default config.dataset.noise); with several,
    the run's is `noises[hyper['noise_index']]`, chosen with lax.switch (under vmap every
    family's draw is computed and one selected, once per run). Real data is returned as is.
    """
    if "f_train" not in data:
        return data["y_train"], data["y_test"], data["y_test"]
    _, _, k_train, k_test = run_keys(hyper)
    knobs = dict(
        scale=hyper["dataset.noise_scale"],
        df=hyper["dataset.df"],
        contamination=hyper["dataset.contamination"],
        outlier_scale=hyper["dataset.outlier_scale"],
    )
    noises = tuple(noises) or (config.dataset.noise,)
    samplers = [functools.partial(data_lib.add_noise, family=family, **knobs) for family in noises]

    def noisy(key, f, x):
        if len(samplers) == 1:
            return samplers[0](key, f, x)
        return jax.lax.switch(hyper[grid.NOISE_INDEX], samplers, key, f, x)

    y_train = noisy(k_train, data["f_train"], data["x_train"])
    y_test = noisy(k_test, data["f_test"], data["x_test"])
    return y_train, y_test, data["f_test"]


MINIBATCH_DRAW_BYTES = 2**21
"""Per run: up to this size, every step's minibatch indices are drawn before training (in the
draws program); past it (long runs with large batches), the training program draws them block
by block from each step's key. Either way they are the same numbers."""


class Draws(NamedTuple):
    """A run's random inputs, all drawn from its seed before training (RunProgram.draw).

    Drawing them in a program of their own keeps the random-number code, which is slow to
    compile (threefry's hash loops, the Student-t noise's gamma rejection sampler), out of the
    training program and compiled once: experiments.engine compiles it while the training
    program is traced. The numbers are those of drawing inside the training program.
    """

    y_train: jax.Array  # the noisy training targets (real data: as given)
    y_test: jax.Array
    params: Any  # initial parameters
    power_vector: Any  # the sharpness power iteration's warm start (zeros when it is off)
    # Each step's minibatch: (steps, batch_size) int32 indices, or past MINIBATCH_DRAW_BYTES
    # (steps, 2) uint32, the key data each step's indices are drawn from during training.
    minibatches: jax.Array


class Carry(NamedTuple):
    """What a run carries between blocks (and what a mid-run checkpoint holds)."""

    state: TrainState
    diagnostics: DiagnosticsState
    init_objective: jax.Array  # the divergence threshold's reference (set by block 0)


@dataclasses.dataclass(frozen=True)
class RunProgram:
    """A run split into pure pieces, so a long run can be checkpointed between segments.

    draw(hyper, data) -> Draws: the run's random inputs (targets, initial parameters, keys)
    init(hyper, data, draws) -> Carry: the initial parameters, optimizer and diagnostics state
    advance(carry, hyper, data, draws, first_block, n_blocks) -> (Carry, block metrics)
        runs blocks [first_block, first_block + n_blocks) (n_blocks static, first_block an
        unbatched integer). Block 0 evaluates step 0 and sets the divergence reference
        (carry.init_objective); block b ≥ 1 trains log_every steps, then evaluates step
        b·log_every. Sharpness is measured in the blocks at multiples of sharpness_every (NaN in
        the others). Each metric comes back with a leading (n_blocks,) axis.
    finish(carry, hyper, data, draws, block metrics of all n_blocks) -> metrics (curves +
        diagnostics)
    n_blocks = steps // log_every + 1, one per logged step.

    The evaluation and the sharpness measurement exist once in the compiled program, inside the
    loop over blocks: the training steps of block 0, and the measurement in the blocks between
    measurements, are skipped by `lax.cond` on the block index, which is the same for every run
    of a vmapped chunk (an unbatched predicate stays a branch under vmap, nothing is computed
    and discarded). One copy of that code instead of two is about a third less to compile.
    """

    draw: Callable
    init: Callable
    advance: Callable
    finish: Callable
    n_blocks: int

    def run(self, hyper: Hyper, data: dict[str, jax.Array]) -> tuple[TrainState, Metrics]:
        return self.train(hyper, data, self.draw(hyper, data))

    def train(self, hyper: Hyper, data, draws: Draws) -> tuple[TrainState, Metrics]:
        """The run from its draws: init, every block, finish."""
        carry = self.init(hyper, data, draws)
        carry, blocks = self.advance(carry, hyper, data, draws, 0, self.n_blocks)
        return carry.state, self.finish(carry, hyper, data, draws, blocks)


def make_run(config: config_dict.ConfigDict, dataset: data_lib.Dataset, loss_names=(), noises=()):
    """The pure function `run(hyper, data) -> (TrainState, metrics)` for one program structure."""
    return make_program(config, dataset, loss_names, noises).run


def make_program(
    config: config_dict.ConfigDict,
    dataset: data_lib.Dataset,
    loss_names: tuple[str, ...] = (),
    noises: tuple[str, ...] = (),
) -> RunProgram:
    """The run of one program structure as init / advance / finish (see RunProgram).

    `loss_names`: the losses the program serves (grid.Group.losses; default config.loss); `noises`:
    its noise families (grid.Group.noises; default config.dataset.noise). The config is assumed
    checked (experiments.validation, through experiments.plan).
    """
    loss_names = tuple(loss_names) or (config.loss,)
    task = losses.task(loss_names[0])
    num_outputs = dataset.num_classes if task == "classification" else 1
    model = models.build(config.model, num_outputs)
    steps, log_every = int(config.steps), int(config.log_every)
    n_train = dataset.x_train.shape[0]
    batch_size = int(config.batch_size)
    decoupled = is_decoupled(config)
    threshold = float(config.diverge_threshold)
    sharpness_every = int(config.sharpness_every)
    blocks_per_sharpness = sharpness_every // log_every
    blocks_per_spectrum = int(config.spectrum_every) // log_every  # 0: off
    diagnostics = bool(config.diagnostics)
    n_blocks = steps // log_every + 1
    eval_size = min(int(config.sharpness_batch), n_train)

    def predict(params, x):
        out = model.apply(params, x)
        return out[..., 0] if task == "regression" else out

    class Context(NamedTuple):
        """Everything a run derives from (hyper, data); rebuilt (cheaply) in each piece."""

        y_train: jax.Array
        y_test: jax.Array
        clean_test: jax.Array
        loss: Callable
        penalty: Callable
        tx: optax.GradientTransformation

    def context(hyper: Hyper, data, draws: Draws) -> Context:
        clean_test = data["f_test"] if "f_test" in data else draws.y_test
        return Context(
            draws.y_train,
            draws.y_test,
            clean_test,
            loss_fn(config, hyper, loss_names),
            penalty_fn(config, hyper),
            make_optimizer(config, hyper),
        )

    def data_loss(ctx: Context, params, x, y):
        return losses.reduce(ctx.loss(predict(params, x), y))

    def objective(ctx: Context, hyper, params, x, y):
        """data loss + λ·penalty; with decoupled decay the penalty is not differentiated."""
        p = ctx.penalty(params)
        if decoupled:
            p = jax.lax.stop_gradient(p)
        return data_loss(ctx, params, x, y) + hyper["penalty_strength"] * p

    def penalized(ctx: Context, hyper, params, x, y):
        """data loss + λ·penalty, the penalty differentiated in both L2 modes."""
        return data_loss(ctx, params, x, y) + hyper["penalty_strength"] * ctx.penalty(params)

    def full_objective(ctx: Context, hyper, data, params):
        """The objective whose curvature `sharpness` measures: L2 term included."""
        x, y = data["x_train"][:eval_size], ctx.y_train[:eval_size]
        return penalized(ctx, hyper, params, x, y)

    def evaluate(ctx: Context, hyper, data, params, diag: DiagnosticsState) -> Metrics:
        """The curves at a logged step (curve_table.CURVES; the last applied step's norms from
        `diag`)."""
        return curve_table.evaluate(curve_table.Evaluation(
            task=task,
            hyper=hyper,
            params=params,
            data_loss=data_loss(ctx, params, data["x_train"], ctx.y_train),
            penalty=ctx.penalty(params),
            loss=ctx.loss,
            test_predictions=predict(params, data["x_test"]),
            test_targets=ctx.y_test,
            clean_test_targets=ctx.clean_test,
            val_predictions=predict(params, data["x_val"]) if "x_val" in data else None,
            # Regression is scored against the noise-free teacher where there is one (data_arrays)
            val_targets=data.get("y_val"),
            objective_gradient=lambda: jax.grad(
                lambda p: full_objective(ctx, hyper, data, p))(params),
            measure_gradient=diagnostics,
            minibatch_grad_norm=diag.minibatch_grad_norm,
            update_norm=diag.update_norm,
        ))

    def sharpness(ctx, hyper, data, state: TrainState, diag: DiagnosticsState):
        value, vector = stability.top_hessian_eigenvalue(
            lambda p: full_objective(ctx, hyper, data, p),
            state.params,
            diag.power_vector,
            int(config.sharpness_iters),
        )
        return diag._replace(power_vector=vector), value

    def minibatch_indices(keys: jax.Array) -> jax.Array:
        """(len(keys), batch_size) minibatch indices, one draw of batch_size per step key.

        All at once (the same numbers as step by step): the threefry hash is a loop, and one
        loop over many steps' indices costs far less than one per step.
        """
        if not batch_size:
            return jnp.zeros((len(keys), 0), jnp.int32)
        return jax.vmap(lambda k: jax.random.randint(k, (batch_size,), 0, n_train))(keys)

    def draw(hyper: Hyper, data) -> Draws:
        k_init, k_batch = run_keys(hyper)[:2]
        y_train, y_test, _ = targets(config, hyper, data, noises)
        params = model.init(k_init, data["x_train"][:1])
        if sharpness_every or blocks_per_spectrum:  # also the Lanczos start vector
            leaves, treedef = jax.tree.flatten(params)
            keys = jax.random.split(jax.random.fold_in(k_init, 1), len(leaves))
            power_vector = treedef.unflatten(
                [jax.random.normal(k, p.shape, p.dtype) for p, k in zip(leaves, keys, strict=True)]
            )
        else:
            power_vector = jax.tree.map(jnp.zeros_like, params)
        batch_keys = jax.random.split(k_batch, steps)
        if steps * batch_size * 4 <= MINIBATCH_DRAW_BYTES:
            minibatches = minibatch_indices(batch_keys)
        else:
            minibatches = jax.random.key_data(batch_keys)
        return Draws(y_train, y_test, params, power_vector, minibatches)

    def init(hyper: Hyper, data, draws: Draws) -> Carry:
        ctx = context(hyper, data, draws)
        params = draws.params
        state = TrainState(
            params=params,
            opt_state=ctx.tx.init(params),
            diverged=jnp.zeros((), bool),
            diverge_step=jnp.full((), -1, jnp.int32),
        )
        diag = DiagnosticsState(
            minibatch_grad_norm=jnp.zeros((), jnp.float32),
            update_norm=jnp.zeros((), jnp.float32),
            prev_grad=jax.tree.map(jnp.zeros_like, params),
            cos_sum=jnp.zeros((), jnp.float32),
            cos_count=jnp.zeros((), jnp.int32),
            power_vector=draws.power_vector,
        )
        return Carry(state, diag, jnp.zeros((), jnp.float32))

    def advance(carry: Carry, hyper: Hyper, data, draws: Draws, first_block, n: int):
        ctx = context(hyper, data, draws)
        grad_fn = jax.value_and_grad(lambda p, x, y: objective(ctx, hyper, p, x, y))

        def train(states, block_index, limit):
            """The log_every steps that end at step block_index·log_every."""

            def step(states, inputs):
                state, diag = states
                step_index, idx = inputs
                if batch_size:
                    x, y = data["x_train"][idx], ctx.y_train[idx]
                else:
                    x, y = data["x_train"], ctx.y_train
                value, grads = grad_fn(state.params, x, y)
                updates, opt_state = ctx.tx.update(grads, state.opt_state, state.params)
                params = optax.apply_updates(state.params, updates)
                state, ok = accept_step(state, value, params, opt_state, step_index, limit)
                return (state, update_diagnostics(diag, ok, grads, updates, diagnostics)), None

            start = jnp.maximum(block_index - 1, 0) * log_every
            indices = jax.lax.dynamic_slice_in_dim(draws.minibatches, start, log_every)
            if indices.dtype == jnp.uint32:  # key data: draw the block's indices here
                indices = minibatch_indices(jax.random.wrap_key_data(indices))
            inputs = (start + jnp.arange(log_every, dtype=jnp.int32), indices)
            return jax.lax.scan(step, states, inputs)[0]

        def block(carry: Carry, block_index):
            limit = threshold * carry.init_objective
            state, diag = jax.lax.cond(
                block_index > 0,
                lambda states: train(states, block_index, limit),
                lambda states: states,
                (carry.state, carry.diagnostics),
            )
            metrics = evaluate(ctx, hyper, data, state.params, diag)
            init_objective = jnp.where(block_index == 0, metrics["objective"], carry.init_objective)
            if sharpness_every:
                diag, metrics["sharpness"] = jax.lax.cond(
                    block_index % blocks_per_sharpness == 0,
                    lambda d: sharpness(ctx, hyper, data, state, d),
                    lambda d: (d, jnp.float32(jnp.nan)),
                    diag,
                )
            if blocks_per_spectrum:
                metrics.update(jax.lax.cond(
                    block_index % blocks_per_spectrum == 0,
                    lambda s: spectrum.measure(
                        lambda p: full_objective(ctx, hyper, data, p),
                        lambda p, x, y: penalized(ctx, hyper, p, x[None], y[None]),
                        (data["x_train"][:eval_size], ctx.y_train[:eval_size]),
                        s.params, s.opt_state, draws.power_vector,
                        jax.random.fold_in(run_keys(hyper)[0], 2), config,
                    ),
                    lambda s: spectrum.not_measured(config),
                    state,
                ))
            return Carry(state, diag, init_objective), metrics

        return jax.lax.scan(block, carry, first_block + jnp.arange(n, dtype=jnp.int32))

    def finish(carry: Carry, hyper: Hyper, data, draws: Draws, metrics: Metrics) -> Metrics:
        state, diag = carry.state, carry.diagnostics
        summary = stability.run_summary(metrics, logged_steps(config), config, hyper)
        if blocks_per_spectrum:
            summary.update(spectrum.run_summary(metrics, config, hyper))
        summary.update(
            diverged=state.diverged,
            diverge_step=state.diverge_step,
            grad_cos_mean=diag.cos_sum / jnp.maximum(diag.cos_count, 1),
            minibatch_grad_norm_final=diag.minibatch_grad_norm,
        )
        error = oracles.ridge_error(
            config, loss_names, hyper, data["x_train"], draws.y_train, state.params
        )
        if error is not None:
            summary["param_error_to_oracle"] = error
        overlap = set(summary) & set(metrics)
        assert not overlap, f"summary names clash with curve names: {overlap}"
        return {**metrics, **summary}

    return RunProgram(draw, init, advance, finish, n_blocks)


def logged_steps(config: config_dict.ConfigDict) -> list[int]:
    """The step index of each entry of a metrics array: 0, log_every, ..., steps."""
    return list(range(0, int(config.steps) + 1, int(config.log_every)))
