"""The registry, and properties every registered loss shares (jit/vmap/grad, dtypes, extremes)."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import losses

NAMES = losses.names()
# (predictions, targets) losses; the representation losses (embeddings) are in test_losses_v3.py
PAIRED = tuple(n for n in NAMES if losses.task(n) != "representation")
C = 4


BINARY = ("sigmoid_binary_cross_entropy", "sigmoid_focal")
SIGNED = ("hinge", "perceptron")


def _inputs(name, dtype, scale=1.0):
    if name == "cosine_distance":  # one value per vector (last axis)
        p = jnp.asarray(np.linspace(-1, 1, 6 * C).reshape(6, C) * scale, dtype)
        return p, jnp.ones((6, C), dtype)
    if losses.task(name) == "regression":
        p = jnp.asarray(np.linspace(-1, 1, 6) * scale, dtype)
        return p, jnp.zeros(6, dtype) if name != "poisson_nll" else jnp.arange(6, dtype=dtype)
    z = jnp.asarray(np.linspace(-1, 1, 6 * C).reshape(6, C) * scale, dtype)
    bits = (np.arange(6 * C).reshape(6, C) % 2).astype(np.int32)
    if name in BINARY:
        return z, bits
    if name in SIGNED:
        return z, 2 * bits - 1
    if name in ("kl_divergence", "generalized_kl_divergence"):  # log-probs against probs
        return jax.nn.log_softmax(z), np.full((6, C), 1 / C, np.float32)
    return z, np.arange(6) % C


def test_names_knobs_task():
    assert NAMES == tuple(sorted(NAMES)) and len(NAMES) == 41  # issue 31: squentropy + 3
    assert losses.knobs("huber") == {"delta": 1.0}
    assert losses.knobs("general_robust") == {"alpha": 1.0, "scale": 1.0}
    assert losses.knobs("robust_nll") == {"alpha": 1.0, "scale": 1.0}
    assert losses.knobs("squared_error") == {}
    assert losses.task("huber") == "regression"
    assert losses.task("focal") == "classification"


def test_unknown_name_and_knob():
    with pytest.raises(ValueError, match="huber"):
        losses.get("hubber")
    with pytest.raises(ValueError, match="did you mean log_cosh"):
        losses.knobs("log_cos")
    with pytest.raises(ValueError, match="did you mean squared_error"):
        losses.get("mse2")  # an alias's misspelling suggests the canonical name
    with pytest.raises(ValueError, match=r"delt.*valid: delta"):
        losses.get("huber", delt=2.0)


def test_get_binds_knobs():
    p, t = jnp.array([3.0]), jnp.array([0.0])
    np.testing.assert_allclose(losses.get("huber", delta=2.0)(p, t), losses.huber(p, t, delta=2.0))
    with pytest.raises(ValueError, match="delta"):
        losses.get("huber", delta=-2.0)(p, t)


@pytest.mark.parametrize("name", PAIRED)
def test_jit_vmap_grad(name):
    f = losses.get(name)
    x, y = _inputs(name, jnp.float32)
    batched = jax.jit(f)(x, y)
    per_example = jax.jit(jax.vmap(f))(x, y)
    np.testing.assert_allclose(per_example, batched, rtol=1e-5, atol=1e-6)
    g = jax.jit(jax.grad(lambda x: jnp.sum(f(x, y))))(x)
    assert g.shape == x.shape and np.all(np.isfinite(g))


@pytest.mark.parametrize("name", PAIRED)
def test_extremes_finite(name):
    f = losses.get(name)
    # a log-rate of 1e4 has rate e^1e4: poisson_nll's true value is not representable there
    x, y = _inputs(name, jnp.float32, scale=1e4 if name != "poisson_nll" else 80.0)
    v, g = jax.jit(jax.value_and_grad(lambda x: jnp.sum(f(x, y))))(x)
    assert np.isfinite(v) and np.all(np.isfinite(g))
    assert np.all(np.isfinite(jax.jit(f)(x, y)))


@pytest.mark.parametrize("name", PAIRED)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float64"])
def test_dtype_preserved(name, dtype):
    with jax.enable_x64(dtype == "float64"):
        x, y = _inputs(name, jnp.dtype(dtype))
        f = jax.jit(losses.get(name))  # knobs are Python floats: they must not upcast
        out = f(x, y)
        assert out.dtype == jnp.dtype(dtype)
        ref = f(x.astype(jnp.float32), y)
        np.testing.assert_allclose(out.astype(np.float32), ref, rtol=3e-2, atol=3e-2)


def test_swept_knob_in_one_program():
    p, t = jnp.linspace(-3, 3, 7), jnp.zeros(7)
    deltas = jnp.array([0.5, 1.0, 2.0])
    out = jax.jit(jax.vmap(lambda d: losses.get("huber", delta=d)(p, t)))(deltas)
    np.testing.assert_allclose(out[2], losses.huber(p, t, delta=2.0), rtol=1e-6)
    alphas = jnp.array([-jnp.inf, -2.0, 0.0, 1.0, 2.0])
    out = jax.jit(jax.vmap(lambda a: losses.get("general_robust", alpha=a)(p, t)))(alphas)
    np.testing.assert_allclose(out[2], losses.cauchy(p, t), rtol=1e-6)
    np.testing.assert_allclose(out[0], losses.welsch(p, t), rtol=1e-6)


def test_import_needs_jax_only():
    code = "import sys, losses; assert 'optax' not in sys.modules, 'optax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("alias,name", sorted((a, n) for a, n in losses.ALIASES.items()
                                              if n in PAIRED))
def test_aliases_resolve_to_canonical_names(alias, name):
    assert name in NAMES and alias not in NAMES
    assert losses.canonical(alias) == name and losses.canonical(name) == name
    assert losses.task(alias) == losses.task(name) and losses.knobs(alias) == losses.knobs(name)
    x, y = _inputs(name, jnp.float32)
    np.testing.assert_array_equal(losses.get(alias)(x, y), losses.get(name)(x, y))


def test_alias_conventions():
    r = jnp.array([3.0])
    assert losses.get("l2")(r) == 9.0  # r², not optax's ½r² l2_loss
    assert losses.get("mae")(r) == 3.0
    with pytest.raises(ValueError, match="unknown loss"):
        losses.canonical("no_such_loss")
