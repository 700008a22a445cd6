"""reduce, the parameter penalties, decay_mask and decoupled weight decay."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import losses

V = np.array([1.0, 2.0, 3.0, 4.0], np.float32)


def test_reduce_modes():
    assert losses.reduce(V) == 2.5
    assert losses.reduce(V, "sum") == 10.0
    np.testing.assert_array_equal(losses.reduce(V, "none"), V)
    w = np.array([1.0, 0.0, 3.0, 0.0], np.float32)
    np.testing.assert_allclose(losses.reduce(V, weights=w), (1 + 9) / 4)
    np.testing.assert_allclose(losses.reduce(V, "sum", weights=w), 10.0)
    where = np.array([True, False, True, True])
    np.testing.assert_allclose(losses.reduce(V, where=where), 8 / 3)
    np.testing.assert_allclose(losses.reduce(V, "none", where=where), [1, 0, 3, 4])
    with pytest.raises(ValueError, match="reduction"):
        losses.reduce(V, "avg")


def test_reduce_all_masked_mean_is_zero_with_finite_grad():
    v = jnp.array([np.nan, np.inf, 1.0])
    where = jnp.zeros(3, bool)
    assert losses.reduce(v, where=where) == 0
    g = jax.grad(lambda v: losses.reduce(v, where=where))(v)
    assert np.all(np.isfinite(g))
    g = jax.grad(lambda v: losses.reduce(v, where=jnp.array([False, False, True])))(v)
    np.testing.assert_array_equal(g, [0, 0, 1])


def test_reduce_per_example_weights_and_dtype():
    v = jnp.ones((3, 2), jnp.bfloat16)
    out = losses.reduce(v, weights=jnp.array([[1.0], [2.0], [0.0]]))
    assert out.dtype == jnp.bfloat16 and out == 1


PARAMS = {
    "dense": {"kernel": jnp.array([[1.0, -2.0], [3.0, 0.5]]), "bias": jnp.array([1.0, -1.0])},
    "norm": {"scale": jnp.array([2.0, 2.0])},
}


def test_decay_mask_and_penalty_values():
    mask = losses.decay_mask(PARAMS)
    assert mask == {"dense": {"kernel": True, "bias": False}, "norm": {"scale": False}}
    np.testing.assert_allclose(losses.l2_penalty(PARAMS, mask), 0.5 * (1 + 4 + 9 + 0.25))
    np.testing.assert_allclose(losses.l2_penalty(PARAMS, losses.decay_mask), 7.125)
    np.testing.assert_allclose(losses.l2_penalty(PARAMS), 7.125 + 1 + 4)
    np.testing.assert_allclose(losses.l1_penalty(PARAMS, mask), 6.5)
    np.testing.assert_allclose(losses.l1_penalty(PARAMS), 6.5 + 2 + 4)
    np.testing.assert_allclose(losses.elastic_net(PARAMS, 0.25, mask), 0.25 * 6.5 + 0.75 * 7.125)
    # l2_penalty is ½ optax.l2_loss summed ×2 … i.e. Σ optax.losses.l2_loss(θ) over leaves
    np.testing.assert_allclose(
        losses.l2_penalty(PARAMS),
        sum(optax.losses.l2_loss(x).sum() for x in jax.tree.leaves(PARAMS)),
    )


def test_l2_gradient_is_theta_on_masked_leaves():
    mask = losses.decay_mask(PARAMS)
    g = jax.grad(losses.l2_penalty)(PARAMS, mask)
    np.testing.assert_array_equal(g["dense"]["kernel"], PARAMS["dense"]["kernel"])
    np.testing.assert_array_equal(g["dense"]["bias"], 0)
    np.testing.assert_array_equal(g["norm"]["scale"], 0)


@pytest.mark.parametrize("ratio", [-0.1, 1.1])
def test_invalid_penalty_knobs(ratio):
    with pytest.raises(ValueError, match="l1_ratio"):
        losses.elastic_net(PARAMS, ratio)
    with pytest.raises(ValueError, match="strength"):
        losses.decoupled_weight_decay(-1e-3)


def _train(tx, coupled_strength, steps=5):
    x = jnp.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    y = jnp.array([1.0, -1.0, 3.0])

    def objective(params):
        pred = x @ params["dense"]["kernel"][:, 0] + params["dense"]["bias"][0]
        data = losses.reduce(losses.squared_error(pred, y))
        return data + coupled_strength * losses.l2_penalty(params, losses.decay_mask)

    params, state = PARAMS, tx.init(PARAMS)
    for _ in range(steps):
        updates, state = tx.update(jax.grad(objective)(params), state, params)
        params = optax.apply_updates(params, updates)
    return params


def test_sgd_weight_decay_equals_l2_penalty_but_adam_does_not():
    lam, lr = 0.1, 0.05
    coupled = _train(optax.sgd(lr), lam)
    decoupled = _train(
        optax.chain(losses.decoupled_weight_decay(lam, losses.decay_mask), optax.sgd(lr)), 0.0
    )
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), coupled, decoupled)
    coupled = _train(optax.adam(lr), lam)
    decoupled = _train(
        optax.chain(
            optax.scale_by_adam(),
            losses.decoupled_weight_decay(lam, losses.decay_mask),
            optax.scale(-lr),
        ),
        0.0,
    )
    diff = np.abs(coupled["dense"]["kernel"] - decoupled["dense"]["kernel"]).max()
    assert diff > 1e-3
