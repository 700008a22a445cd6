"""Claim 7: "L1 vs L2 penalty: sparsity vs shrinkage".

An L1 penalty is a Laplace prior, an L2 penalty a Gaussian one. On a sparse truth (few nonzero
coefficients / relevant inputs) L1 should recover the support and beat L2 in test error; on a
dense truth L2 should win. Linear model and MLP (configs/claims/claim7_l1_vs_l2_penalty.py); the
objective is losslab's: mean(losses.squared_error) + λ·losses.l1_penalty (‖θ‖₁) or
+ λ·losses.l2_penalty (½‖θ‖²).

Rule, fixed before the numbers. Each arm's λ is chosen per dataset (linear) or seed (MLP) on the
validation split from a grid of the same size for both arms; on the test split, paired over the
shared datasets/seeds (the arms see the same teacher, noise and initialization), per model:
  (A) sparse teacher: the 95% interval of test-MSE(L1)/test-MSE(L2) lies below 1;
  (B) dense teacher: that interval lies above 1;
  (C) sparse teacher: L1's mean support recall has its interval's lower end ≥ recall_floor and
      the paired difference of support F1 (L1 − L2) has its interval above 0.
supported: A, B and C for both models and the linear fits agree with scikit-learn within
sklearn_tolerance; refuted: the check fails, or A fails for both models (L1 beats L2 on the
sparse truth nowhere); qualified otherwise.

How the fits are computed. Linear: the design is fixed (experiments.data.synthetic_regression,
half of it carved for validation), so with G = XᵀX/n and b = Xᵀy/n the data loss is
wᵀGw − 2bᵀw + const and its gradient 2(Gw − b). L1: FISTA with gradient restarts (exact zeros from
the soft-threshold prox), step 1/(2·eig_max(G)). L2: the closed form (G + λ/2·I)⁻¹b from G's
eigendecomposition. Every fit's optimality is checked with jax.grad of the library's objective
(L1: the lasso KKT conditions on the subgradient of losses.l1_penalty; L2: the gradient of
mean(squared_error) + λ·losses.l2_penalty). Both teachers, both arms, every λ and dataset in one
jit(vmap) program. Support: exact nonzeros. scikit-learn's conventions: Lasso minimizes
1/(2n)‖y − Xw‖² + α‖w‖₁, i.e. ½ × losslab's L1 objective at α = λ/2; Ridge minimizes
‖y − Xw‖² + α‖w‖², i.e. n × losslab's L2 objective at α = nλ/2 (both fit_intercept=False).
MLP: full-batch Adam, penalty on the kernels (losses.decay_mask), one jit(vmap) program over
(teacher, seed, arm, λ). Adam does not produce exact zeros with L1, so an input counts as selected
when its first-layer row norm is ≥ support_threshold × the largest (stated in the config).
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import pandas as pd
from absl import logging

import losses
from configs.claims import claim7_l1_vs_l2_penalty as claim_config
from experiments import data as data_lib
from experiments import models, plots, statistics
from experiments.claims.section import Section

KEY = "claim7"
TITLE = "L1 vs L2 penalty: sparsity vs shrinkage"
CLAIM = (
    "An L1 penalty is a Laplace prior: on a sparse teacher it recovers the support and beats an "
    "L2 penalty in test error; on a dense teacher L2 wins."
)
ARMS = ("l1", "l2")
TEACHERS = ("sparse", "dense")
MODELS = ("linear", "mlp")


# --- teachers -----------------------------------------------------------------------------------


def support_mask(rng: np.random.Generator, dim: int, k: int) -> np.ndarray:
    """A uniformly random support of k of `dim` coordinates, as 0/1 float32."""
    mask = np.zeros(dim, np.float32)
    mask[rng.choice(dim, size=k, replace=False)] = 1.0
    return mask


def linear_teacher(seed: int, dim: int, k: int) -> np.ndarray:
    """‖w‖ = 1 (so Var x·w = 1). Sparse (k < dim): k entries ±1/√k with random signs on a random
    support (every nonzero as large as it can be: the beta-min condition support recovery needs);
    dense (k = dim): N(0, I) normalized, the Gaussian prior under which ridge is the Bayes rule.
    Teachers are data, drawn on the host from `seed` (the noise is drawn in-program)."""
    rng = np.random.default_rng([int(seed), 0xC7])
    mask = support_mask(rng, dim, k)
    z = rng.standard_normal(dim)
    w = mask * (np.sign(z) if k < dim else z)
    return (w / np.linalg.norm(w)).astype(np.float32)


def support_scores(selected, truth) -> dict:
    """Precision, recall and F1 of selected sets against the true supports (0/1 arrays, sets
    along the last axis); numpy or jax arrays."""
    hits = (selected * truth).sum(-1)
    chosen, relevant = selected.sum(-1), truth.sum(-1)
    return {"precision": hits / (chosen + (chosen == 0)), "recall": hits / relevant,
            "f1": 2 * hits / (chosen + relevant), "selected": chosen}


def lambda_grid(bounds, size: int) -> np.ndarray:
    low, high = (float(v) for v in bounds)
    return np.geomspace(low, high, int(size)).astype(np.float32)


# --- linear model ------------------------------------------------------------------------------


def linear_design(c) -> data_lib.Dataset:
    lin = c.linear
    full = data_lib.synthetic_regression(teacher="linear", n_train=lin.n_train, n_test=lin.n_test,
                                         dim=lin.dim, data_seed=lin.data_seed)
    return data_lib.split_validation(full, lin.validation_fraction, 0)


def data_loss(x: jax.Array, y: jax.Array):
    """w -> mean(losses.squared_error(x·w, y)): losslab's data loss for a linear model."""
    return lambda w: losses.reduce(losses.squared_error(x @ w, y))


def lasso_fista(gram, b, lam, step: float, steps: int) -> jax.Array:
    """argmin wᵀGw − 2bᵀw + λ‖w‖₁ (= mean r² + λ‖w‖₁ up to a constant) by FISTA with gradient
    restarts (O'Donoghue & Candès, 2015); the prox is the soft threshold, so zeros are exact."""

    def prox(v):
        return jnp.sign(v) * jnp.maximum(jnp.abs(v) - step * lam, 0.0)

    def body(carry, _):
        w, z, t = carry
        w_new = prox(z - step * 2.0 * (gram @ z - b))
        restart = jnp.dot(z - w_new, w_new - w) > 0
        t_new = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)))
        momentum = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        return (w_new, w_new + momentum * (w_new - w), t_new), None

    w0 = jnp.zeros_like(b)
    (w, _, _), _ = jax.lax.scan(body, (w0, w0, jnp.ones((), b.dtype)), None, steps)
    return w


def lasso_kkt_violation(w, grad_data, lam) -> jax.Array:
    """Largest violation of the lasso optimality conditions: ∇data + λ·sign(w) = 0 where w ≠ 0
    (∇ of data + λ·losses.l1_penalty there), |∇data| ≤ λ where w = 0."""
    grad_total = grad_data + lam * jax.grad(losses.l1_penalty)(w)
    return jnp.max(jnp.where(w != 0, jnp.abs(grad_total),
                             jnp.maximum(jnp.abs(grad_data) - lam, 0.0)))


def noisy(seeds: np.ndarray, f: np.ndarray, scale: float) -> np.ndarray:
    """f + N(0, scale²) per seed (rows of f), drawn on the host like the teachers: datasets are
    data here, and random draws inside a vmapped lax.scan multiply XLA's CPU compile time."""
    noise = np.stack([np.random.default_rng([int(s), 0x5EED]).standard_normal(f.shape[1])
                      for s in seeds])
    return (f + scale * noise).astype(np.float32)


def make_linear_fit(c, design: data_lib.Dataset):
    """fit(y_all, w_true) -> per-dataset results of both arms at their validation-selected λ;
    y_all: the noisy train then validation targets (`noisy`)."""
    lin = c.linear
    x, x_val, x_test = (jnp.asarray(a) for a in (design.x_train, design.x_val, design.x_test))
    n = design.x_train.shape[0]
    gram_np = design.x_train.astype(np.float64).T @ design.x_train.astype(np.float64) / n
    eig, vec = np.linalg.eigh(gram_np)
    gram, eig, vec = (jnp.asarray(a, jnp.float32) for a in (gram_np, eig, vec))
    step = float(1.0 / (2.0 * eig[-1]))
    l1_grid, l2_grid = (jnp.asarray(lambda_grid(r, lin.lambdas))
                        for r in (lin.l1_range, lin.l2_range))

    def fit(y_all, w_true):
        y, y_val = y_all[:n], y_all[n:]
        b = x.T @ y / n
        l1_path = jax.vmap(lambda lam: lasso_fista(gram, b, lam, step, int(lin.fista_steps)))(
            l1_grid)
        l2_path = ((vec.T @ b)[None] / (eig[None] + l2_grid[:, None] / 2.0)) @ vec.T
        truth = (w_true != 0).astype(jnp.float32)
        loss = data_loss(x, y)
        out = {"y_train": y}
        for arm, path, grid in (("l1", l1_path, l1_grid), ("l2", l2_path, l2_grid)):
            val = jnp.mean((path @ x_val.T - y_val[None]) ** 2, axis=1)
            i = jnp.argmin(val)
            w, lam = path[i], grid[i]
            grad_data = jax.grad(loss)(w)
            if arm == "l1":
                check = lasso_kkt_violation(w, grad_data, lam)
            else:
                check = jnp.max(jnp.abs(jax.grad(
                    lambda v, lam=lam: loss(v) + lam * losses.l2_penalty(v))(w)))
            scores = support_scores((w != 0).astype(jnp.float32), truth)
            out.update({
                f"{arm}_w": w, f"{arm}_lambda": lam, f"{arm}_val_mse": val[i],
                f"{arm}_test_mse": jnp.mean((x_test @ (w - w_true)) ** 2),
                f"{arm}_optimality": check,
                f"{arm}_at_grid_edge": (i == 0) | (i == grid.shape[0] - 1),
                **{f"{arm}_{name}": v for name, v in scores.items()},
            })
        return out

    return fit


def linear_study(c) -> tuple[pd.DataFrame, dict[str, np.ndarray], data_lib.Dataset]:
    """One row per (teacher, dataset); also the arrays (coefficients, targets) for the checks."""
    lin = c.linear
    design = linear_design(c)
    k = int(lin.datasets)
    ks = np.repeat([int(lin.sparse_k), int(lin.dim)], k)
    seeds = np.concatenate([np.arange(k), 100_000 + np.arange(k)]).astype(np.int32)
    w_true = np.stack([linear_teacher(s, int(lin.dim), int(kk)) for s, kk in zip(seeds, ks,
                                                                                 strict=True)])
    x_all = np.concatenate([design.x_train, design.x_val])
    y_all = noisy(seeds, w_true @ x_all.T, float(lin.noise_scale))
    out = jax.jit(jax.vmap(make_linear_fit(c, design)))(jnp.asarray(y_all), jnp.asarray(w_true))
    out = {name: np.asarray(v) for name, v in out.items()}
    arrays = {name: out.pop(name) for name in ("y_train", "l1_w", "l2_w")} | {"w_true": w_true}
    frame = pd.DataFrame({name: v.astype(np.float64) if v.dtype != bool else v
                          for name, v in out.items()})
    frame.insert(0, "dataset", np.tile(np.arange(k), 2))
    frame.insert(0, "teacher", np.repeat(TEACHERS, k))
    return frame, arrays, design


def sklearn_fits(x: np.ndarray, y: np.ndarray, l1_lambda: float, l2_lambda: float,
                 tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's Lasso and Ridge at losslab's λ: α = λ/2 (Lasso), α = nλ/2 (Ridge)."""
    from sklearn.linear_model import Lasso, Ridge

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    lasso = Lasso(alpha=l1_lambda / 2.0, fit_intercept=False, tol=tol, max_iter=200_000)
    ridge = Ridge(alpha=len(y) * l2_lambda / 2.0, fit_intercept=False)
    return lasso.fit(x, y).coef_, ridge.fit(x, y).coef_


def sklearn_check(frame: pd.DataFrame, arrays, design, per_teacher: int) -> pd.DataFrame:
    """The first `per_teacher` datasets of each teacher refitted by scikit-learn at the selected
    λ of each arm: the largest coefficient difference per dataset and arm."""
    rows = []
    for teacher in TEACHERS:
        for i in np.flatnonzero(frame["teacher"].to_numpy() == teacher)[:per_teacher]:
            r = frame.iloc[i]
            lasso, ridge = sklearn_fits(design.x_train, arrays["y_train"][i],
                                        float(r["l1_lambda"]), float(r["l2_lambda"]))
            for arm, ref in (("l1", lasso), ("l2", ridge)):
                rows.append({"teacher": teacher, "dataset": int(r["dataset"]), "arm": arm,
                             "lambda": float(r[f"{arm}_lambda"]),
                             "max_abs_coef_diff": float(np.abs(arrays[f"{arm}_w"][i] - ref).max()),
                             "zeros_losslab": int((arrays[f"{arm}_w"][i] == 0).sum()),
                             "zeros_sklearn": int((ref == 0).sum())})
    return pd.DataFrame(rows)


# --- MLP ----------------------------------------------------------------------------------------


def mlp_data(c) -> data_lib.Dataset:
    m = c.mlp
    full = data_lib.synthetic_regression(teacher="linear", n_train=m.n_train, n_test=m.n_test,
                                         dim=m.dim, data_seed=m.data_seed)
    return data_lib.split_validation(full, m.validation_fraction, 0)


def mlp_teacher(seed: int, dim: int, k: int, width: int, x_train, *inputs):
    """A random tanh network of the k relevant inputs, f = (v·tanh(W(mask ⊙ x) + b) − m)/s with
    m, s the mean and std on x_train; returns (mask, f on x_train, f on each of `inputs`)."""
    rng = np.random.default_rng([int(seed), 0x7C])
    mask = support_mask(rng, dim, k)
    w = rng.standard_normal((dim, width)) * mask[:, None] / np.sqrt(k)
    b = 0.5 * rng.standard_normal(width)
    v = rng.standard_normal(width) / np.sqrt(width)
    raw = lambda a: np.tanh(np.asarray(a, np.float64) @ w + b) @ v
    f = raw(x_train)
    shift, spread = f.mean(), f.std()
    return mask, *(((raw(a) - shift) / spread).astype(np.float32) for a in (x_train, *inputs))


def make_mlp_fit(c, dataset: data_lib.Dataset):
    """(fit, model): fit(params, y_all, f_test, arm, lam) -> final validation/test MSE and
    first-layer row norms; y_all: noisy train then validation targets (`noisy`), f_test: the
    teacher's noise-free test outputs (`mlp_teacher`)."""
    m = c.mlp
    model = models.build(m.model, 1)
    x, x_val, x_test = (jnp.asarray(a) for a in (dataset.x_train, dataset.x_val, dataset.x_test))
    tx = optax.adam(optax.cosine_decay_schedule(float(m.learning_rate), int(m.steps)))
    n = x.shape[0]

    def fit(params, y_all, f_test, arm, lam):
        y, y_val = y_all[:n], y_all[n:]

        def objective(p):
            penalty = jnp.where(arm == 0, losses.l1_penalty(p, losses.decay_mask),
                                losses.l2_penalty(p, losses.decay_mask))
            return losses.reduce(losses.squared_error(model.apply(p, x)[:, 0], y)) + lam * penalty

        def step(carry, _):
            p, opt = carry
            updates, opt = tx.update(jax.grad(objective)(p), opt, p)
            return (optax.apply_updates(p, updates), opt), None

        (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, int(m.steps))
        kernel = p["params"]["Dense_0"]["kernel"]  # (dim, width)
        return {"val_mse": jnp.mean((model.apply(p, x_val)[:, 0] - y_val) ** 2),
                "test_mse": jnp.mean((model.apply(p, x_test)[:, 0] - f_test) ** 2),
                "row_norms": jnp.linalg.norm(kernel, axis=1)}

    return fit, model


def initial_params(model, x, seeds: np.ndarray):
    """Per seed, the model's parameters with flax's default scales (kernels N(0, 1/fan_in),
    LeCun normal untruncated; biases 0), drawn on the host: a vmapped flax init compiles for
    seconds on CPU. Stacked along a leading seed axis."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    rngs = [np.random.default_rng([int(s), 0x1417]) for s in seeds]

    def leaf(path, shape):
        if getattr(path[-1], "key", None) != "kernel":
            return jnp.zeros((len(seeds), *shape.shape), shape.dtype)
        fan_in = int(np.prod(shape.shape[:-1]))
        return jnp.asarray(np.stack([r.standard_normal(shape.shape) for r in rngs])
                           / np.sqrt(fan_in), shape.dtype)

    return jax.tree_util.tree_map_with_path(leaf, shapes)


def mlp_study(c) -> pd.DataFrame:
    """One row per (teacher, seed, arm) at the arm's validation-selected λ."""
    m = c.mlp
    dataset = mlp_data(c)
    grids = {"l1": lambda_grid(m.l1_range, m.lambdas), "l2": lambda_grid(m.l2_range, m.lambdas)}
    runs = [(t, s, a, j) for t in TEACHERS for s in range(int(m.seeds)) for a in ARMS
            for j in range(int(m.lambdas))]
    k_of = {"sparse": int(m.sparse_k), "dense": int(m.dim)}
    teachers = {(t, s): mlp_teacher(TEACHERS.index(t) * 100_000 + s, int(m.dim), k_of[t],
                                    int(m.teacher_width), dataset.x_train, dataset.x_val,
                                    dataset.x_test)
                for t in TEACHERS for s in range(int(m.seeds))}
    seeds = jnp.asarray([TEACHERS.index(t) * 100_000 + s for t, s, _, _ in runs], jnp.int32)
    arms = jnp.asarray([ARMS.index(a) for _, _, a, _ in runs], jnp.int32)
    lams = jnp.asarray([grids[a][j] for _, _, a, j in runs], jnp.float32)
    fit, model = make_mlp_fit(c, dataset)
    f_all = np.stack([np.concatenate(teachers[t, s][1:3]) for t, s, _, _ in runs])
    y_all = jnp.asarray(noisy(np.asarray(seeds), f_all, float(m.noise_scale)))
    params = initial_params(model, dataset.x_train[:1], np.asarray(seeds))
    f_test = jnp.asarray(np.stack([teachers[t, s][3] for t, s, _, _ in runs]))
    out = jax.jit(jax.vmap(fit))(params, y_all, f_test, arms, lams)
    out = {name: np.asarray(v, np.float64) for name, v in out.items()}
    out["mask"] = np.stack([teachers[t, s][0] for t, s, _, _ in runs])
    runs_frame = pd.DataFrame(runs, columns=["teacher", "seed", "arm", "lambda_index"])
    chosen = np.array([part.index[np.argmin(out["val_mse"][part.index])] for _, part in
                       runs_frame.groupby(["teacher", "seed", "arm"], sort=False)])
    norms = out["row_norms"][chosen]
    selected = (norms >= float(m.support_threshold) * norms.max(1, keepdims=True)).astype(float)
    frame = runs_frame.loc[chosen].reset_index(drop=True)
    frame["lambda"] = [float(grids[a][j]) for a, j in zip(frame["arm"], frame["lambda_index"],
                                                          strict=True)]
    frame["at_grid_edge"] = frame["lambda_index"].isin([0, int(m.lambdas) - 1])
    frame["val_mse"], frame["test_mse"] = out["val_mse"][chosen], out["test_mse"][chosen]
    for name, v in support_scores(selected, out["mask"][chosen]).items():
        frame[name] = v
    return frame.drop(columns="lambda_index")


def linear_long(frame: pd.DataFrame) -> pd.DataFrame:
    """The linear study's per-dataset rows as (teacher, unit, arm, ...) like the MLP's."""
    parts = []
    for arm in ARMS:
        cols = {f"{arm}_{n}": n for n in ("lambda", "test_mse", "precision", "recall", "f1",
                                          "at_grid_edge")}
        parts.append(frame[["teacher", "dataset", *cols]].rename(columns=cols)
                     .rename(columns={"dataset": "seed"}).assign(arm=arm))
    return pd.concat(parts, ignore_index=True)


# --- statistics and the rule ----------------------------------------------------------------------


def comparison_table(long: pd.DataFrame, model: str, resamples: int) -> pd.DataFrame:
    """Per teacher: each arm's test MSE and support scores, L1/L2 paired over the shared units."""
    rows = []
    for teacher in TEACHERS:
        part = long[long["teacher"] == teacher]
        a = part[part["arm"] == "l1"].sort_values("seed")
        b = part[part["arm"] == "l2"].sort_values("seed")
        if not np.array_equal(a["seed"].to_numpy(), b["seed"].to_numpy()):
            raise ValueError(f"claim7: the {model} arms do not share their units")
        mse_a, mse_b = a["test_mse"].to_numpy(), b["test_mse"].to_numpy()
        rows.append({
            "model": model, "teacher": teacher, "units": len(a),
            **statistics.mean(mse_a, resamples=resamples).as_columns("test_mse_l1"),
            **statistics.mean(mse_b, resamples=resamples).as_columns("test_mse_l2"),
            **statistics.ratio_of_means(mse_a, mse_b, resamples=resamples).as_columns(
                "test_mse_ratio"),
            **statistics.mean(a["precision"].to_numpy(), resamples=resamples).as_columns(
                "precision_l1"),
            **statistics.mean(a["recall"].to_numpy(), resamples=resamples).as_columns(
                "recall_l1"),
            **statistics.mean(a["f1"].to_numpy(), resamples=resamples).as_columns("f1_l1"),
            "precision_l2": float(b["precision"].mean()), "recall_l2": float(b["recall"].mean()),
            **statistics.mean(b["f1"].to_numpy(), resamples=resamples).as_columns("f1_l2"),
            **statistics.paired_difference(a["f1"].to_numpy(), b["f1"].to_numpy(),
                                           resamples=resamples).as_columns("f1_l1_minus_l2"),
            "lambda_l1_median": float(a["lambda"].median()),
            "lambda_l2_median": float(b["lambda"].median()),
            "at_grid_edge_l1": float(a["at_grid_edge"].mean()),
            "at_grid_edge_l2": float(b["at_grid_edge"].mean()),
        })
    return pd.DataFrame(rows)


def verdict_of(table: pd.DataFrame, recall_floor: float,
               checks_pass: bool = True) -> tuple[str, dict[str, dict[str, bool]]]:
    """The module docstring's rule on the comparison table. Returns (verdict, per-model parts)."""
    parts = {}
    for model, part in table.groupby("model", sort=False):
        rows = part.set_index("teacher")
        sparse, dense = rows.loc["sparse"], rows.loc["dense"]
        parts[model] = {
            "A": bool(sparse["test_mse_ratio_high"] < 1.0),
            "B": bool(dense["test_mse_ratio_low"] > 1.0),
            "C": bool(sparse["recall_l1_low"] >= recall_floor
                      and sparse["f1_l1_minus_l2_low"] > 0.0),
        }
    if not checks_pass or not any(p["A"] for p in parts.values()):
        return "refuted", parts
    if all(all(p.values()) for p in parts.values()):
        return "supported", parts
    return "qualified", parts


# --- plots ----------------------------------------------------------------------------------------


def _plot(table: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    labels = [f"{r.model}\n{r.teacher}" for r in table.itertuples()]
    y = table["test_mse_ratio"].to_numpy()
    err = np.vstack([y - table["test_mse_ratio_low"], table["test_mse_ratio_high"] - y])
    axes[0].errorbar(np.arange(len(y)), y, yerr=err, fmt="o", capsize=3)
    axes[0].axhline(1.0, color="k", lw=1, ls="--")
    axes[0].set_xticks(np.arange(len(y)), labels, fontsize=8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("test MSE L1 / L2 (paired 95% interval)")
    axes[0].set_title("Below 1: L1 wins")
    sparse = table[table["teacher"] == "sparse"]
    xs = np.arange(len(sparse))
    for offset, (name, column) in zip((-0.2, 0.0, 0.2), (("L1 precision", "precision_l1"),
                                                         ("L1 recall", "recall_l1"),
                                                         ("L2 F1", "f1_l2")), strict=True):
        axes[1].bar(xs + offset, sparse[column], width=0.2, label=name)
    axes[1].set_xticks(xs, list(sparse["model"]))
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("Support on the sparse teacher")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return plots.save_png(fig, path)


# --- the section --------------------------------------------------------------------------------


def run(workdir: pathlib.Path, quick: bool, config=None) -> Section:
    c = config or claim_config.get_config("quick" if quick else "default")
    for name, value in (("linear.sparse_k", c.linear.sparse_k), ("mlp.sparse_k", c.mlp.sparse_k)):
        dim = c.linear.dim if name.startswith("linear") else c.mlp.dim
        if not 1 <= int(value) < int(dim):
            raise ValueError(f"claim7: {name} must be in [1, dim), got {value}")
    outdir = pathlib.Path(workdir) / KEY
    outdir.mkdir(parents=True, exist_ok=True)
    resamples = int(c.resamples)
    linear, arrays, design = linear_study(c)
    check = sklearn_check(linear, arrays, design, int(c.sklearn_datasets))
    mlp = mlp_study(c)
    table = pd.concat([comparison_table(linear_long(linear), "linear", resamples),
                       comparison_table(mlp, "mlp", resamples)], ignore_index=True)
    sk_diff = float(check["max_abs_coef_diff"].max())
    checks_pass = sk_diff <= float(c.sklearn_tolerance)
    verdict, parts = verdict_of(table, float(c.recall_floor), checks_pass)

    def cell(model, teacher):
        return table[(table["model"] == model) & (table["teacher"] == teacher)].iloc[0]

    def iv(r, prefix):
        return statistics.Interval(r[prefix], r[f"{prefix}_low"], r[f"{prefix}_high"])

    lines = []
    for model, label in (("linear", "Linear model"), ("mlp", "MLP")):
        s, d = cell(model, "sparse"), cell(model, "dense")
        p = parts[model]
        lines.append(
            f"- **{label}, test MSE L1/L2** (paired over {int(s['units'])} "
            f"{'datasets' if model == 'linear' else 'seeds'} per teacher): sparse teacher "
            f"×{iv(s, 'test_mse_ratio').format('.3f')} "
            f"({'L1 wins' if p['A'] else 'L1 does NOT win'}), dense teacher "
            f"×{iv(d, 'test_mse_ratio').format('.3f')} "
            f"({'L2 wins' if p['B'] else 'L2 does NOT win'}). Test MSE on the sparse teacher: L1 "
            f"{iv(s, 'test_mse_l1').format('.4f')}, L2 {iv(s, 'test_mse_l2').format('.4f')}.")
        lines.append(
            f"- **{label}, support on the sparse teacher** (L1): precision "
            f"{iv(s, 'precision_l1').format('.2f')}, recall {iv(s, 'recall_l1').format('.2f')}, "
            f"F1 {iv(s, 'f1_l1').format('.2f')} vs L2's F1 {iv(s, 'f1_l2').format('.2f')} "
            f"(paired difference {iv(s, 'f1_l1_minus_l2').format('.2f')}); rule (C) "
            f"{'holds' if p['C'] else 'does NOT hold'}.")
    edge = table[["at_grid_edge_l1", "at_grid_edge_l2"]].to_numpy().max()
    kkt = float(linear[["l1_optimality", "l2_optimality"]].to_numpy().max())
    lines.append(
        f"- **Fit checks.** scikit-learn's Lasso and Ridge at the mapped λ on "
        f"{len(check) // 2} datasets: largest coefficient difference {sk_diff:.1e} (tolerance "
        f"{c.sklearn_tolerance:g}); largest optimality violation (lasso KKT / ridge gradient, by "
        f"jax.grad of the library's objective) {kkt:.1e}. Largest share of selected λ at a grid "
        f"edge: {edge:.0%}.")
    label = {"linear": "linear model", "mlp": "MLP"}
    ratio_text = {(m, t): iv(cell(m, t), "test_mse_ratio").format(".2f") for m in MODELS
                  for t in TEACHERS}
    misses = [f"L1 does not beat L2 beyond noise for the {label[m]} on the sparse teacher "
              f"(×{ratio_text[m, 'sparse']})" for m in MODELS if not parts[m]["A"]]
    misses += [f"L2 does not beat L1 beyond noise for the {label[m]} on the dense teacher "
               f"(×{ratio_text[m, 'dense']})" for m in MODELS if not parts[m]["B"]]
    misses += [f"the {label[m]}'s L1 support misses rule (C) (recall "
               f"{iv(cell(m, 'sparse'), 'recall_l1').format('.2f')})"
               for m in MODELS if not parts[m]["C"]]
    mlp_s = cell("mlp", "sparse")
    limits = (
        f"the teacher is dense: L1/L2 test MSE ×{ratio_text['linear', 'dense']} (linear), "
        f"×{ratio_text['mlp', 'dense']} (MLP); with Adam the MLP's L1 zeros are approximate "
        f"(support precision {iv(mlp_s, 'precision_l1').format('.2f')} at a "
        f"{c.mlp.support_threshold:g}× row-norm threshold)"
        + (f"; {'; '.join(misses)}" if misses else "")
    )
    lines.append(f"- **Where it stops holding:** {limits}.")
    setup = (
        f"Objective mean(`losses.squared_error`) + λ·`losses.l1_penalty` (‖θ‖₁) or "
        f"+ λ·`losses.l2_penalty` (½‖θ‖²). Teachers with unit signal variance: sparse (k = "
        f"{c.linear.sparse_k} of {c.linear.dim} coefficients / {c.mlp.sparse_k} of {c.mlp.dim} "
        f"inputs) and dense (all), support and values redrawn per dataset / seed. **Linear:** "
        f"fixed Gaussian design, n = {design.x_train.shape[0]} train, "
        f"{design.x_val.shape[0]} validation, {c.linear.n_test} test, Gaussian noise "
        f"{c.linear.noise_scale:g}, {c.linear.datasets} datasets per teacher, no intercept; L1 "
        f"by FISTA with restarts ({c.linear.fista_steps} iterations, exact zeros), L2 in closed "
        f"form; λ grids of {c.linear.lambdas} values each, L1 {tuple(c.linear.l1_range)}, L2 "
        f"{tuple(c.linear.l2_range)} (geometric). **MLP:** {c.mlp.dim} → "
        f"{c.mlp.model.widths[0]} → 1 ({c.mlp.model.activation}) on a random tanh-network "
        f"teacher of the relevant inputs, n = {c.mlp.n_train} "
        f"({c.mlp.validation_fraction:.0%} carved for validation), noise {c.mlp.noise_scale:g}, "
        f"{c.mlp.seeds} seeds per teacher, full-batch Adam (lr {c.mlp.learning_rate:g}, cosine, "
        f"{c.mlp.steps} steps), penalty on the kernels; λ grids of {c.mlp.lambdas} values each, "
        f"L1 {tuple(c.mlp.l1_range)}, L2 {tuple(c.mlp.l2_range)}. λ chosen per dataset / seed "
        f"and arm by the validation MSE; test MSE against the noise-free teacher; the arms share "
        f"teacher, noise and initialization (paired 95% bootstrap intervals, "
        f"experiments.statistics). scikit-learn: Lasso(α = λ/2) minimizes ½ × losslab's L1 "
        f"objective, Ridge(α = nλ/2) n × its L2 objective. Config: "
        f"`configs/claims/claim7_l1_vs_l2_penalty.py`."
    )
    rule = (
        "Per model (linear, MLP), at each arm's validation-selected λ, paired on the test split: "
        "(A) sparse teacher: the 95% interval of test-MSE(L1)/test-MSE(L2) lies below 1; (B) "
        "dense teacher: it lies above 1; (C) sparse teacher: L1's mean support recall has its "
        f"interval's lower end ≥ {c.recall_floor:g} and the paired support-F1 difference L1 − L2 "
        f"lies above 0 (MLP: an input is selected when its first-layer row norm is ≥ "
        f"{c.mlp.support_threshold:g} × the largest). **supported** if A, B and C hold for both "
        f"models and the linear fits agree with scikit-learn within {c.sklearn_tolerance:g}; "
        "**refuted** if that check fails or A fails for both models; **qualified** otherwise."
    )
    ls, ld = cell("linear", "sparse"), cell("linear", "dense")
    summary = (f"Test MSE L1/L2 (linear): sparse ×{iv(ls, 'test_mse_ratio').format('.2f')}, dense "
               f"×{iv(ld, 'test_mse_ratio').format('.2f')}; L1 support recall "
               f"{iv(ls, 'recall_l1').format('.2f')}.")
    key_numbers = {
        "test_MSE_L1/L2_sparse_linear": iv(ls, "test_mse_ratio"),
        "dense_linear": iv(ld, "test_mse_ratio"),
        "sparse_MLP": iv(mlp_s, "test_mse_ratio"),
        "L1_support_recall_sparse_linear": iv(ls, "recall_l1"),
    }
    logging.info("claim7: verdict %s (parts %s)", verdict, parts)
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup, rule=rule, verdict=verdict,
        findings="\n".join(lines), summary=summary,
        tables={"comparison": table, "sklearn_check": check, "linear_fits": linear,
                "mlp_runs": mlp},
        plots={"l1_vs_l2": _plot(table, outdir / "l1_vs_l2.png")},
        key_numbers=key_numbers, limits=limits,
    )
