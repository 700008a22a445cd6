"""Closed-form optima of linear models, and each run's distance to them (param_error_to_oracle).

For a linear model, ‖θ − θ*‖/‖θ*‖ against
  ridge      squared error (+ L2, or no penalty): least squares / ridge from the normal equations,
             in-program (`ridge_error`, the squared-error members of a fused group);
  quantile   quantile or absolute error with λ = 0: the linear program (HiGHS, scipy), on the
             host after a chunk finishes (`quantile_errors`).
NaN for every other run.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import config_dict

_TINY = 1e-30


def oracle_kind(config: config_dict.ConfigDict, loss: str | None = None) -> str | None:
    """'ridge' (in-program closed form), 'quantile' (host LP) or None, for `loss` (config.loss)."""
    loss = loss or config.loss
    if config.model.name != "linear":
        return None
    if loss == "squared_error" and config.penalty in ("l2", "none"):
        return "ridge"
    if loss in ("quantile", "absolute_error"):
        return "quantile"
    return None


def ridge_oracle(x: jax.Array, y: jax.Array, lam: jax.Array, penalize_bias: bool) -> jax.Array:
    """argmin over θ = (w, b) of mean((x·w + b − y)²) + λ·½‖w‖² (+ λ·½b² if penalize_bias).

    Normal equations: (2/n·ZᵀZ + λ·D) θ = 2/n·Zᵀy with Z = [x, 1], D = diag(1,…,1, b?1:0).
    λ = 0 gives ordinary least squares. Returned as the flat vector (w_1..w_d, b).
    """
    n = x.shape[0]
    z = jnp.concatenate([x.reshape(n, -1), jnp.ones((n, 1), x.dtype)], axis=1)
    diag = jnp.ones(z.shape[1]).at[-1].set(1.0 if penalize_bias else 0.0)
    a = 2.0 / n * z.T @ z + lam * jnp.diag(diag)
    return jnp.linalg.solve(a, 2.0 / n * z.T @ y)


def quantile_oracle(x: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    """argmin over θ = (w, b) of Σ max(τu, (τ−1)u), u = y − x·w − b, as a linear program (HiGHS).

    Variables (w, b, u⁺, u⁻) with x·w + b + u⁺ − u⁻ = y, u± ≥ 0, minimizing τΣu⁺ + (1−τ)Σu⁻.
    absolute_error is τ = ½ (up to the factor 2).
    """
    from scipy.optimize import linprog

    x = np.asarray(x, np.float64).reshape(len(y), -1)
    n, d = x.shape
    z = np.hstack([x, np.ones((n, 1))])
    cost = np.concatenate([np.zeros(d + 1), np.full(n, tau), np.full(n, 1.0 - tau)])
    a_eq = np.hstack([z, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * (2 * n)
    solution = linprog(
        cost, A_eq=a_eq, b_eq=np.asarray(y, np.float64), bounds=bounds, method="highs"
    )
    if not solution.success:
        raise RuntimeError(f"quantile oracle LP failed: {solution.message}")
    return solution.x[: d + 1]


def linear_params_vector(params) -> jax.Array:
    """(w_1..w_d, b) of experiments.models.Linear's params (single output)."""
    dense = params["params"]["Dense_0"]
    return jnp.concatenate([dense["kernel"][:, 0], dense["bias"]])


def relative_error(theta: jax.Array, oracle: jax.Array) -> jax.Array:
    return jnp.linalg.norm(theta - oracle) / jnp.maximum(jnp.linalg.norm(oracle), _TINY)


def ridge_error(config, losses: tuple[str, ...], hyper, x_train, y_train, params):
    """In-program: the run's distance to the ridge optimum (NaN unless its loss is squared error).

    None when no loss of the program has a ridge oracle (the column is then left out).
    """
    if oracle_kind(config, "squared_error") is None or "squared_error" not in losses:
        return None
    lam = hyper["penalty_strength"] if config.penalty == "l2" else 0.0
    exact = ridge_oracle(x_train, y_train, lam, penalize_bias=config.penalty_mask == "all")
    error = relative_error(linear_params_vector(params), exact)
    return jnp.where(hyper["loss_index"] == losses.index("squared_error"), error, jnp.nan)


def quantile_errors(config, losses: tuple[str, ...], hyper, x_train, train_targets, params):
    """On the host: the distance of each of a chunk's runs to its quantile LP optimum.

    `hyper` and `params` have a leading run axis; `train_targets(i)` is run i's y_train. {} when
    no loss of the program has a quantile oracle.
    """
    if not any(oracle_kind(config, loss) == "quantile" for loss in losses):
        return {}
    n = len(hyper["loss_index"])
    errors = np.full(n, np.nan)
    for i in range(n):
        loss = losses[int(hyper["loss_index"][i])]
        if oracle_kind(config, loss) != "quantile":
            continue
        if config.penalty != "none" and hyper["penalty_strength"][i] != 0:
            continue  # the LP oracle is for the unpenalized problem
        tau = float(hyper["loss_knobs.tau"][i]) if loss == "quantile" else 0.5
        exact = quantile_oracle(np.asarray(x_train), np.asarray(train_targets(i)), tau)
        theta = np.asarray(linear_params_vector(jax.tree.map(lambda leaf: leaf[i], params)))
        errors[i] = np.linalg.norm(theta.astype(np.float64) - exact) / max(
            np.linalg.norm(exact), _TINY
        )
    return {"param_error_to_oracle": errors}
