"""Flax models used functionally: `model.init(key, x)` -> params pytree, `model.apply(params, x)`.

Kept to plain `flax.linen` modules with no mutable state (no batch norm, no dropout), so a whole
training run is a pure function of (params, data) and can be `vmap`-ed across a sweep.

Why Linen, not NNX (Flax's recommended API): the engine needs exactly a pure `apply(params, x)`
over a parameter pytree, since a run is a `lax.scan` and a sweep `vmap`s over stacked
parameters; a Linen module is that and nothing more. An NNX module is a stateful object; its way
into the same sweep is `nnx.split` -> (graphdef, state), stack the states, and call
`nnx.merge(graphdef, state)(x)` inside the vmapped step. scripts/bench_nnx.py measured both on
the anchor sweep's model (BENCHMARKS.md, 2026-12-07): the optimized XLA programs are identical
instruction for instruction (same final objectives bit for bit), and trace + lower, XLA compile
and step times agree within the load noise (NNX / Linen 0.87-1.17 across runs on a loaded
2-core machine). No speed reason either way, so NNX would only add split/merge plumbing (and
graphdef bookkeeping in checkpoints) to every function that touches a model: Linen stays.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jnp.ndarray], jnp.ndarray]] = {
    "relu": nn.relu,
    "tanh": nn.tanh,
    "gelu": nn.gelu,
    "silu": nn.silu,
    "identity": lambda x: x,
}
MODELS = ("linear", "mlp", "cnn")


def _activation(name: str) -> Callable[[jnp.ndarray], jnp.ndarray]:
    if name not in ACTIVATIONS:
        close = difflib.get_close_matches(name, ACTIVATIONS, n=3)
        raise ValueError(f"unknown activation {name!r}; closest: {close or sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class Linear(nn.Module):
    """Affine map of the flattened input: f(x) = W·vec(x) + b."""

    num_outputs: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return nn.Dense(self.num_outputs)(x.reshape(x.shape[0], -1))


class MLP(nn.Module):
    """Fully connected: Dense(w_1) -> act -> ... -> Dense(w_k) -> act -> Dense(num_outputs)."""

    widths: Sequence[int]
    activation: str
    num_outputs: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        act = _activation(self.activation)
        h = x.reshape(x.shape[0], -1)
        for width in self.widths:
            h = act(nn.Dense(width)(h))
        return nn.Dense(self.num_outputs)(h)


class CNN(nn.Module):
    """Small convolutional network for 1-D signals (length, 1) or images (height, width, 1).

    Each stage: Conv(kernel 3 per spatial dim, 'SAME') -> act -> average pool by 2; then
    flatten -> Dense(dense_width) -> act -> Dense(num_outputs).
    """

    channels: Sequence[int]
    dense_width: int
    activation: str
    num_outputs: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        act = _activation(self.activation)
        spatial = x.ndim - 2  # (batch, *spatial, channels)
        if spatial < 1:
            raise ValueError(
                f"cnn needs inputs shaped (batch, *spatial, channels); got shape {x.shape}"
            )
        h = x
        for c in self.channels:
            h = act(nn.Conv(c, kernel_size=(3,) * spatial, padding="SAME")(h))
            if min(h.shape[1:-1]) >= 2:
                h = nn.avg_pool(h, window_shape=(2,) * spatial, strides=(2,) * spatial)
        h = h.reshape(h.shape[0], -1)
        h = act(nn.Dense(self.dense_width)(h))
        return nn.Dense(self.num_outputs)(h)


def build(model_config, num_outputs: int) -> nn.Module:
    """The model named by `model_config.name` with `num_outputs` outputs (1 for regression)."""
    name = model_config.name
    if name == "linear":
        return Linear(num_outputs=num_outputs)
    if name == "mlp":
        return MLP(
            widths=tuple(model_config.widths),
            activation=model_config.activation,
            num_outputs=num_outputs,
        )
    if name == "cnn":
        return CNN(
            channels=tuple(model_config.channels),
            dense_width=model_config.dense_width,
            activation=model_config.activation,
            num_outputs=num_outputs,
        )
    close = difflib.get_close_matches(str(name), MODELS, n=3)
    raise ValueError(f"unknown model {name!r} (config.model.name); closest: {close or MODELS}")
