"""Claim 7: "L1 vs L2 penalty: sparsity vs shrinkage".

An L1 penalty is a Laplace prior, an L2 penalty a Gaussian one. On a sparse truth (few nonzero
coefficients / relevant inputs) L1 should keep the relevant inputs while dropping irrelevant
ones (what rule C tests; at a λ tuned for prediction it does not recover the support exactly:
it over-selects) and beat L2 in test error; on a dense truth L2 should win. Linear model and
MLP (configs/claims/claim7_l1_vs_l2_penalty.py); the objective is losslab's:
mean(losses.squared_error) + λ·losses.l1_penalty (‖θ‖₁) or + λ·losses.l2_penalty (½‖θ‖²).

Rule, fixed before the numbers (`rule_text`). Each arm's λ is chosen per dataset (linear) or
seed (MLP) on the validation split from a grid of the same size for every arm; on the test split,
paired over the shared datasets/seeds (the arms see the same teacher, noise and initialization),
per model:
  (A) sparse teacher: the 95% interval of test-MSE(L1)/test-MSE(L2) lies below 1;
  (B) dense teacher: that interval lies above 1;
  (C) sparse teacher, L1's support read from exact zeros (linear: the lasso; MLP: the proximal
      arm): recall's interval has its lower end ≥ recall_floor and F1's lies above 2k/(k + dim),
      the F1 of keeping every input. Ridge keeps every input by construction (F1 = 2k/(k + dim)
      with a zero-width interval), so the old "F1(L1) − F1(L2) > 0" compared L1 with a constant:
      it is stated as that baseline now. Proportions pool over the units with a Wilson interval
      at the design-effect size (statistics.clustered_proportion), inside [0, 1].
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
MLP: penalty on the kernels (losses.decay_mask), one jit(vmap) program over (teacher, seed, arm,
λ) for the Adam arms (L1, L2) and one for the proximal L1 arm (full-batch proximal gradient: a
gradient step on the data loss, then soft-thresholding by lr·λ, so its zeros are exact). Adam
gives no exact zeros, so its arms' inputs count as selected when the first-layer row norm is
≥ support_threshold × the largest: reported, not counted (a threshold makes L2 look sparse too).

compute(workdir, quick) trains and returns the tables; judge(tables, workdir, quick) applies the
rule and writes the plot (see experiments/claims/claim_tables.py).
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
from experiments import data as data_lib
from experiments import models, plots, shipped_configs, statistics
from experiments.claims.section import GuideRow, Section, plot_dir

# configs/claims/claim7_l1_vs_l2_penalty.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim7_l1_vs_l2_penalty")
KEY = "claim7"
TITLE = "L1 vs L2 penalty: sparsity vs shrinkage"
CLAIM = (
    "An L1 penalty is a Laplace prior: on a sparse teacher it keeps the relevant inputs while "
    "dropping irrelevant ones and beats an L2 penalty in test error; on a dense teacher L2 wins."
)
ARMS = ("l1", "l2", "l1_prox")  # the MLP's; the linear model has l1 (exact lasso) and l2
LINEAR_ARMS = ("l1", "l2")
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
            "f1": 2 * hits / (chosen + relevant), "selected": chosen, "hits": hits,
            "relevant": relevant}


def lambda_grid(bounds, size: int) -> np.ndarray:
    low, high = (float(v) for v in bounds)
    return np.geomspace(low, high, int(size)).astype(np.float32)


# --- linear model ------------------------------------------------------------------------------


def study_data(part) -> data_lib.Dataset:
    """The inputs of one study (c.linear or c.mlp), validation carved off (its teachers set y)."""
    full = data_lib.synthetic_regression(teacher="linear", n_train=part.n_train,
                                         n_test=part.n_test, dim=part.dim,
                                         data_seed=part.data_seed)
    return data_lib.split_validation(full, part.validation_fraction, 0)


def data_loss(x: jax.Array, y: jax.Array):
    """w -> mean(losses.squared_error(x·w, y)): losslab's data loss for a linear model."""
    return lambda w: losses.reduce(losses.squared_error(x @ w, y))


def soft_threshold(params, threshold, mask=None):
    """The proximal map of threshold·losses.l1_penalty(·, mask): sign(θ)·max(|θ| − threshold, 0)
    on the masked leaves (every leaf when mask is None), the rest unchanged. It sets to exactly 0
    every masked entry with |θ| ≤ threshold (Parikh & Boyd, "Proximal Algorithms", 2014, §6.5.2)."""
    leaves, treedef = jax.tree.flatten(params)
    masks = jax.tree.leaves(mask(params) if callable(mask) else mask) if mask is not None \
        else [True] * len(leaves)
    out = [jnp.sign(v) * jnp.maximum(jnp.abs(v) - threshold, 0.0) if keep else v
           for v, keep in zip(leaves, masks, strict=True)]
    return jax.tree.unflatten(treedef, out)


def proximal_gradient_step(params, grad, learning_rate, lam, mask=None):
    """One proximal gradient step on data_loss + lam·l1_penalty(·, mask): a gradient step on the
    data loss, then soft-thresholding by learning_rate·lam (ISTA; the L1 term never goes
    through a gradient, so its zeros are exact, unlike (sub)gradient descent or Adam)."""
    moved = jax.tree.map(lambda p, g: p - learning_rate * g, params, grad)
    return soft_threshold(moved, learning_rate * lam, mask)


def lasso_fista(gram, b, lam, step: float, steps: int) -> jax.Array:
    """argmin wᵀGw − 2bᵀw + λ‖w‖₁ (= mean r² + λ‖w‖₁ up to a constant) by FISTA with gradient
    restarts (O'Donoghue & Candès, 2015); the prox is the soft threshold, so zeros are exact."""

    def body(carry, _):
        w, z, t = carry
        w_new = soft_threshold(z - step * 2.0 * (gram @ z - b), step * lam)
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
    design = study_data(lin)
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


def _mlp_outcome(model, p, x_val, y_val, x_test, f_test) -> dict[str, jax.Array]:
    """Validation MSE (noisy targets), test MSE (noise-free teacher), first-layer row norms."""
    kernel = p["params"]["Dense_0"]["kernel"]  # (dim, width)
    return {"val_mse": jnp.mean((model.apply(p, x_val)[:, 0] - y_val) ** 2),
            "test_mse": jnp.mean((model.apply(p, x_test)[:, 0] - f_test) ** 2),
            "row_norms": jnp.linalg.norm(kernel, axis=1)}


def make_mlp_fit(c, dataset: data_lib.Dataset):
    """(fit, model): fit(params, y_all, f_test, arm, lam) -> final validation/test MSE and
    first-layer row norms, by Adam on the penalized objective (arm 0: L1, 1: L2); y_all: noisy
    train then validation targets (`noisy`), f_test: the teacher's noise-free test outputs."""
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
        return _mlp_outcome(model, p, x_val, y_val, x_test, f_test)

    return fit, model


def make_mlp_prox_fit(c, dataset: data_lib.Dataset):
    """fit(params, y_all, f_test, lam) like make_mlp_fit's, for the L1 penalty by proximal
    gradient descent (full batch, constant step `prox_learning_rate`, `prox_steps` steps):
    its zeros are exact, so a dropped input is a first-layer row of zeros."""
    m = c.mlp
    model = models.build(m.model, 1)
    x, x_val, x_test = (jnp.asarray(a) for a in (dataset.x_train, dataset.x_val, dataset.x_test))
    lr, n = float(m.prox_learning_rate), x.shape[0]

    def fit(params, y_all, f_test, lam):
        y, y_val = y_all[:n], y_all[n:]
        data = lambda p: losses.reduce(losses.squared_error(model.apply(p, x)[:, 0], y))

        def step(p, _):
            return proximal_gradient_step(p, jax.grad(data)(p), lr, lam, losses.decay_mask), None

        p, _ = jax.lax.scan(step, params, None, int(m.prox_steps))
        return _mlp_outcome(model, p, x_val, y_val, x_test, f_test)

    return fit


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


def _mlp_outputs(c, dataset, runs) -> dict[str, np.ndarray]:
    """Train every (teacher, seed, arm, λ index) run: the Adam arms in one jit(vmap) program,
    the proximal arm in another; outputs in `runs` order, plus each run's true support mask."""
    m = c.mlp
    grids = {a: lambda_grid(m.l2_range if a == "l2" else m.l1_range, m.lambdas) for a in ARMS}
    k_of = {"sparse": int(m.sparse_k), "dense": int(m.dim)}
    teachers = {(t, s): mlp_teacher(TEACHERS.index(t) * 100_000 + s, int(m.dim), k_of[t],
                                    int(m.teacher_width), dataset.x_train, dataset.x_val,
                                    dataset.x_test)
                for t in TEACHERS for s in range(int(m.seeds))}
    seeds = np.asarray([TEACHERS.index(t) * 100_000 + s for t, s, _, _ in runs], np.int32)
    lams = np.asarray([grids[a][j] for _, _, a, j in runs], np.float32)
    f_all = np.stack([np.concatenate(teachers[t, s][1:3]) for t, s, _, _ in runs])
    y_all = noisy(seeds, f_all, float(m.noise_scale))
    f_test = np.stack([teachers[t, s][3] for t, s, _, _ in runs])
    fit, model = make_mlp_fit(c, dataset)
    params = initial_params(model, dataset.x_train[:1], seeds)
    prox = np.array([a == "l1_prox" for _, _, a, _ in runs])
    pick = lambda tree, rows: jax.tree.map(lambda v: v[rows], tree)
    adam = jax.jit(jax.vmap(fit))(pick(params, ~prox), y_all[~prox], f_test[~prox],
                                  jnp.asarray([ARMS.index(a) for _, _, a, _ in runs
                                               if a != "l1_prox"], jnp.int32), lams[~prox])
    proximal = jax.jit(jax.vmap(make_mlp_prox_fit(c, dataset)))(
        pick(params, prox), y_all[prox], f_test[prox], lams[prox])
    out = {}
    for name in adam:
        values = np.empty((len(runs), *adam[name].shape[1:]), np.float64)
        values[~prox], values[prox] = np.asarray(adam[name]), np.asarray(proximal[name])
        out[name] = values
    out["mask"] = np.stack([teachers[t, s][0] for t, s, _, _ in runs])
    out["lambda"] = lams.astype(np.float64)
    return out


def mlp_study(c) -> pd.DataFrame:
    """One row per (teacher, seed, arm) at the arm's validation-selected λ. Selected inputs:
    Adam arms, first-layer row norm ≥ support_threshold × the largest; the proximal arm, a row
    with any nonzero weight (exact zeros)."""
    m = c.mlp
    dataset = study_data(m)
    runs = [(t, s, a, j) for t in TEACHERS for s in range(int(m.seeds)) for a in ARMS
            for j in range(int(m.lambdas))]
    out = _mlp_outputs(c, dataset, runs)
    runs_frame = pd.DataFrame(runs, columns=["teacher", "seed", "arm", "lambda_index"])
    chosen = np.array([part.index[np.argmin(out["val_mse"][part.index])] for _, part in
                       runs_frame.groupby(["teacher", "seed", "arm"], sort=False)])
    norms = out["row_norms"][chosen]
    frame = runs_frame.loc[chosen].reset_index(drop=True)
    exact = (frame["arm"] == "l1_prox").to_numpy()[:, None]
    selected = np.where(exact, norms > 0,
                        norms >= float(m.support_threshold) * norms.max(1, keepdims=True))
    frame["lambda"] = out["lambda"][chosen]
    frame["at_grid_edge"] = frame["lambda_index"].isin([0, int(m.lambdas) - 1])
    frame["val_mse"], frame["test_mse"] = out["val_mse"][chosen], out["test_mse"][chosen]
    frame["exact_zero_rows"] = (norms == 0).sum(1)
    for name, v in support_scores(selected.astype(float), out["mask"][chosen]).items():
        frame[name] = v
    return frame.drop(columns="lambda_index")


def linear_long(frame: pd.DataFrame) -> pd.DataFrame:
    """The linear study's per-dataset rows as (teacher, unit, arm, ...) like the MLP's."""
    parts = []
    for arm in LINEAR_ARMS:
        cols = {f"{arm}_{n}": n for n in ("lambda", "test_mse", "precision", "recall", "f1",
                                          "selected", "hits", "relevant", "at_grid_edge")}
        parts.append(frame[["teacher", "dataset", *cols]].rename(columns=cols)
                     .rename(columns={"dataset": "seed"}).assign(arm=arm))
    return pd.concat(parts, ignore_index=True)


# --- statistics and the rule ----------------------------------------------------------------------

# The arm whose support rule (C) reads: exact zeros in both models (the MLP's Adam arms have
# none; their thresholded supports are reported, not counted).
SUPPORT_ARM = {"linear": "l1", "mlp": "l1_prox"}


def selection_rule(model: str, arm: str, threshold: float) -> str:
    """How an arm's selected inputs are read, in words."""
    if arm == "l1_prox":
        return "exact zeros (proximal gradient)"
    if model == "linear":
        return "exact zeros" + (" (ridge has none: it keeps every input)" if arm == "l2" else "")
    return f"row norm ≥ {threshold:g} × the largest (Adam gives no exact zeros)"


def support_table(long: pd.DataFrame, model: str, dim: int, threshold: float) -> pd.DataFrame:
    """Per teacher and arm: support precision, recall and F1 pooled over the units (datasets /
    seeds), each with a clustered Wilson interval (inside [0, 1]); F1 pools as 2·hits /
    (selected + relevant). `f1_keep_all` = 2k/(k + dim): the F1 of keeping every input, which is
    what ridge does by construction, so it is the baseline, not a compared arm."""
    rows = []
    for (teacher, arm), part in long.groupby(["teacher", "arm"], sort=False):
        hits, chosen, relevant = (part[k].to_numpy() for k in ("hits", "selected", "relevant"))
        k = float(relevant.mean())
        rows.append({
            "model": model, "teacher": teacher, "arm": arm,
            "selection": selection_rule(model, arm, threshold), "units": len(part),
            "mean_selected": float(chosen.mean()),
            **statistics.clustered_proportion(hits, chosen).as_columns("precision"),
            **statistics.clustered_proportion(hits, relevant).as_columns("recall"),
            **statistics.clustered_proportion(2 * hits, chosen + relevant).as_columns("f1"),
            **statistics.clustered_proportion(
                (dim - relevant) - (chosen - hits), dim - relevant).as_columns(
                "irrelevant_dropped"),
            # The recall interval's lower end if every relevant input were kept: below the
            # floor, rule (C) cannot pass at this many units, whatever the fits do.
            "recall_low_best": statistics.clustered_proportion(relevant, relevant).low,
            "f1_keep_all": 2 * k / (k + dim),
            "lambda_median": float(part["lambda"].median()),
            "at_grid_edge": float(part["at_grid_edge"].mean()),
        })
    return pd.DataFrame(rows)


def _paired(long: pd.DataFrame, teacher: str, arm: str) -> tuple[np.ndarray, np.ndarray]:
    """(units, test MSE) of one arm on one teacher, in unit order."""
    part = long[(long["teacher"] == teacher) & (long["arm"] == arm)].sort_values("seed")
    return part["seed"].to_numpy(), part["test_mse"].to_numpy()


def comparison_table(long: pd.DataFrame, model: str, resamples: int,
                     support: pd.DataFrame) -> pd.DataFrame:
    """Per teacher: test MSE of L1 and L2 and their ratio paired over the shared units (the
    MLP's proximal arm against L2 too), and the support numbers of SUPPORT_ARM[model]."""
    rows = []
    for teacher in TEACHERS:
        units, mse_l2 = _paired(long, teacher, "l2")
        row = {"model": model, "teacher": teacher, "units": len(units),
               **statistics.mean(mse_l2, resamples=resamples).as_columns("test_mse_l2")}
        for arm in [a for a in ARMS if a != "l2" and a in set(long["arm"])]:
            arm_units, mse = _paired(long, teacher, arm)
            if not np.array_equal(arm_units, units):
                raise ValueError(f"claim7: the {model} arms do not share their units")
            name = "" if arm == "l1" else f"_{arm}"
            row |= statistics.mean(mse, resamples=resamples).as_columns(f"test_mse_{arm}")
            row |= statistics.ratio_of_means(mse, mse_l2, resamples=resamples).as_columns(
                f"test_mse_ratio{name}")
        s = support[(support["teacher"] == teacher)
                    & (support["arm"] == SUPPORT_ARM[model])].iloc[0]
        row["support_arm"] = SUPPORT_ARM[model]
        for prefix in ("precision", "recall", "f1", "irrelevant_dropped"):
            row |= statistics.Interval.from_columns(s, prefix).as_columns(prefix)
        row["recall_low_best"] = s["recall_low_best"]
        row["f1_keep_all"] = s["f1_keep_all"]
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_of(table: pd.DataFrame, recall_floor: float,
               checks_pass: bool = True) -> tuple[str, dict[str, dict[str, bool]]]:
    """The rule (RULE) on the comparison table. Returns (verdict, per-model parts)."""
    parts = {}
    for model, part in table.groupby("model", sort=False):
        rows = part.set_index("teacher")
        sparse, dense = rows.loc["sparse"], rows.loc["dense"]
        parts[model] = {
            "A": bool(sparse["test_mse_ratio_high"] < 1.0),
            "B": bool(dense["test_mse_ratio_low"] > 1.0),
            "C": bool(sparse["recall_low"] >= recall_floor
                      and sparse["f1_low"] > sparse["f1_keep_all"]),
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
    sparse = table[table["teacher"] == "sparse"].reset_index(drop=True)
    xs = np.arange(len(sparse))
    for offset, name in zip((-0.25, 0.0, 0.25), ("precision", "recall", "f1"), strict=True):
        value = sparse[name].to_numpy()
        axes[1].bar(xs + offset, value, width=0.25, label=name,
                    yerr=np.vstack([value - sparse[f"{name}_low"], sparse[f"{name}_high"] - value]))
    axes[1].scatter(xs + 0.25, sparse["f1_keep_all"], marker="_", s=300, color="k",
                    label="F1 of keeping every input (ridge)", zorder=3)
    axes[1].set_xticks(xs, [f"{r.model}\n({r.support_arm}, exact zeros)"
                            for r in sparse.itertuples()], fontsize=8)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("Support on the sparse teacher (clustered Wilson 95%)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return plots.save_png(fig, path)


# --- compute and judge ----------------------------------------------------------------------------


def check_config(c) -> None:
    """Bad sizes, before anything is computed: ValueError naming the field and its value."""
    for name, value, dim in (("linear.sparse_k", c.linear.sparse_k, c.linear.dim),
                             ("mlp.sparse_k", c.mlp.sparse_k, c.mlp.dim)):
        if not 1 <= int(value) < int(dim):
            raise ValueError(f"claim7: {name} must be in [1, dim), got {value}")


def compute(workdir: pathlib.Path, quick: bool, config=None) -> dict[str, pd.DataFrame]:
    """Both studies and the scikit-learn check: the per-dataset / per-seed tables judge reads."""
    del workdir  # nothing to write: the runner saves the tables
    c = config or claim_config.get_config("quick" if quick else "default")
    check_config(c)
    linear, arrays, design = linear_study(c)
    check = sklearn_check(linear, arrays, design, int(c.sklearn_datasets))
    setup = pd.DataFrame([{"linear_train": design.x_train.shape[0],
                           "linear_validation": design.x_val.shape[0]}])
    return {"linear_fits": linear, "sklearn_check": check, "mlp_runs": mlp_study(c),
            "setup": setup}


def _iv(row, prefix: str) -> statistics.Interval:
    return statistics.Interval.from_columns(row, prefix)


def findings(c, table, support, check, linear, parts) -> list[str]:
    """The findings bullets, from the numbers."""
    lines = []
    for model, label in (("linear", "Linear model"), ("mlp", "MLP")):
        s, d = (table[(table["model"] == model) & (table["teacher"] == t)].iloc[0]
                for t in TEACHERS)
        p = parts[model]
        unit = "datasets" if model == "linear" else "seeds"
        lines.append(
            f"- **{label}, test MSE L1/L2** (paired over {int(s['units'])} {unit} per teacher): "
            f"sparse teacher ×{_iv(s, 'test_mse_ratio').format('.3f')} "
            f"({'L1 wins' if p['A'] else 'L1 does NOT win'}), dense teacher "
            f"×{_iv(d, 'test_mse_ratio').format('.3f')} "
            f"({'L2 wins' if p['B'] else 'L2 does NOT win'}). Test MSE on the sparse teacher: L1 "
            f"{_iv(s, 'test_mse_l1').format('.4f')}, L2 {_iv(s, 'test_mse_l2').format('.4f')}"
            + (f"; the proximal L1 arm ×{_iv(s, 'test_mse_ratio_l1_prox').format('.3f')} L2's."
               if model == "mlp" else "."))
        lines.append(f"- **{label}, support on the sparse teacher** ({s['support_arm']}, "
                     f"exact zeros): {support_sentence(s, p, float(c.recall_floor))}")
    adam = support[(support["model"] == "mlp") & (support["teacher"] == "sparse")
                   & (support["arm"] != "l1_prox")].set_index("arm")
    if len(adam):
        lines.append(
            f"- **MLP with Adam (no exact zeros; reported, not counted):** at a "
            f"{c.mlp.support_threshold:g}× row-norm threshold L1's support precision is "
            f"{_iv(adam.loc['l1'], 'precision').format('.2f')} and L2's "
            f"{_iv(adam.loc['l2'], 'precision').format('.2f')}; such a support depends on the "
            f"threshold chosen, which is why the rule reads exact zeros.")
    edge = support["at_grid_edge"].max()
    kkt = float(linear[["l1_optimality", "l2_optimality"]].to_numpy().max())
    lines.append(
        f"- **Fit checks.** scikit-learn's Lasso and Ridge at the mapped λ on "
        f"{len(check) // 2} datasets: largest coefficient difference "
        f"{check['max_abs_coef_diff'].max():.1e} (tolerance {c.sklearn_tolerance:g}); largest "
        f"optimality violation (lasso KKT / ridge gradient, by jax.grad of the library's "
        f"objective) {kkt:.1e}. Largest share of selected λ at a grid edge: {edge:.1%}"
        + (" (flagged: the grid may cut the optimum off)." if edge > 0 else "."))
    return lines


LABEL = {"linear": "linear model", "mlp": "MLP"}


def support_sentence(s, parts, recall_floor: float) -> str:
    """What the sparse teacher's exact-zero support shows, from a comparison row: the relevant
    inputs kept, the irrelevant ones dropped, F1 against keeping all, and rule (C)'s outcome
    ("cannot pass at this size" where even perfect recall misses the floor)."""
    kept = ("every relevant input" if s["recall"] == 1.0 else
            f"{s['recall']:.0%} of the relevant inputs")
    if parts["C"]:
        outcome = "holds"
    elif s["recall_low_best"] < recall_floor:
        outcome = (f"cannot pass at this size (even perfect recall gives a lower end of "
                   f"{s['recall_low_best']:.2f} < {recall_floor:g})")
    else:
        outcome = "does NOT hold"
    return (
        f"keeps {kept} (recall {_iv(s, 'recall').format('.2f')}) while dropping "
        f"{_iv(s, 'irrelevant_dropped').format('.0f', 100, '%')} of the irrelevant ones; "
        f"precision {_iv(s, 'precision').format('.2f')} (the rest of what it keeps is "
        f"irrelevant: λ tuned for prediction over-selects, Meinshausen & Bühlmann 2006), F1 "
        f"{_iv(s, 'f1').format('.2f')} against {s['f1_keep_all']:.2f} for keeping every input "
        f"(ridge's F1 by construction, a baseline, not a comparison); rule (C) {outcome}.")


def limits_text(table, parts) -> str:
    """Where the claim stops holding, from the numbers."""
    def cell(model, teacher):
        return table[(table["model"] == model) & (table["teacher"] == teacher)].iloc[0]

    ratio = {(m, t): _iv(cell(m, t), "test_mse_ratio").format(".2f") for m in MODELS
             for t in TEACHERS}
    misses = [f"L1 does not beat L2 beyond noise for the {LABEL[m]} on the sparse teacher "
              f"(×{ratio[m, 'sparse']})" for m in MODELS if not parts[m]["A"]]
    misses += [f"L2 does not beat L1 beyond noise for the {LABEL[m]} on the dense teacher "
               f"(×{ratio[m, 'dense']})" for m in MODELS if not parts[m]["B"]]
    misses += [f"the {LABEL[m]}'s exact-zero L1 support misses rule (C) (recall "
               f"{_iv(cell(m, 'sparse'), 'recall').format('.2f')}, F1 "
               f"{_iv(cell(m, 'sparse'), 'f1').format('.2f')} vs "
               f"{cell(m, 'sparse')['f1_keep_all']:.2f} keeping every input)"
               for m in MODELS if not parts[m]["C"]]
    return (f"the teacher is dense: L1/L2 test MSE ×{ratio['linear', 'dense']} (linear), "
            f"×{ratio['mlp', 'dense']} (MLP)" + (f"; {'; '.join(misses)}" if misses else ""))


def setup_text(c, setup) -> str:
    return (
        f"Objective mean(`losses.squared_error`) + λ·`losses.l1_penalty` (‖θ‖₁) or "
        f"+ λ·`losses.l2_penalty` (½‖θ‖²). Teachers with unit signal variance: sparse (k = "
        f"{c.linear.sparse_k} of {c.linear.dim} coefficients / {c.mlp.sparse_k} of {c.mlp.dim} "
        f"inputs) and dense (all), support and values redrawn per dataset / seed. Each teacher "
        f"is its penalty's best case, so (A) and (B) test each penalty on its home ground: the "
        f"sparse linear teacher has equal ±1/√k coefficients (every nonzero as large as it can "
        f"be, the beta-min condition support recovery needs), the dense one N(0, I) "
        f"coefficients, the Gaussian prior under which ridge is the Bayes rule; no Laplace-"
        f"distributed teacher was drawn. **Linear:** fixed Gaussian design (x is the same for "
        f"every dataset), n = {int(setup['linear_train'])} train, "
        f"{int(setup['linear_validation'])} validation, {c.linear.n_test} test, Gaussian noise "
        f"{c.linear.noise_scale:g}, {c.linear.datasets} datasets per teacher, no intercept; L1 "
        f"by FISTA with restarts ({c.linear.fista_steps} iterations, exact zeros), L2 in closed "
        f"form; λ grids of {c.linear.lambdas} values each, L1 {tuple(c.linear.l1_range)}, L2 "
        f"{tuple(c.linear.l2_range)} (geometric). **MLP:** {c.mlp.dim} → "
        f"{c.mlp.model.widths[0]} → 1 ({c.mlp.model.activation}) on a random tanh-network "
        f"teacher of the relevant inputs, n = {c.mlp.n_train} "
        f"({c.mlp.validation_fraction:.0%} carved for validation), noise {c.mlp.noise_scale:g}, "
        f"{c.mlp.seeds} seeds per teacher; arms L1 and L2 by full-batch Adam (lr "
        f"{c.mlp.learning_rate:g}, cosine, {c.mlp.steps} steps) and L1 by proximal gradient "
        f"descent (a gradient step on the data loss, then soft-thresholding the kernels by "
        f"lr·λ: exact zeros; lr {c.mlp.prox_learning_rate:g}, {c.mlp.prox_steps} steps), "
        f"penalty on the kernels; λ grids of {c.mlp.lambdas} values per arm, L1 "
        f"{tuple(c.mlp.l1_range)}, L2 {tuple(c.mlp.l2_range)}. λ chosen per dataset / seed and "
        f"arm by the validation MSE; test MSE against the noise-free teacher; the arms share "
        f"teacher, noise and initialization (paired 95% bootstrap intervals of the ratio of "
        f"mean test MSEs). Support scores pooled over datasets / seeds with Wilson intervals at "
        f"the design-effect sample size (inside [0, 1]). scikit-learn: Lasso(α = λ/2) minimizes "
        f"½ × losslab's L1 objective, Ridge(α = nλ/2) n × its L2 objective. Config: "
        f"`configs/claims/claim7_l1_vs_l2_penalty.py`."
    )


def rule_text(c) -> str:
    return (
        "Per model (linear, MLP), at each arm's validation-selected λ, paired on the test split: "
        "(A) sparse teacher: the 95% interval of test-MSE(L1)/test-MSE(L2) lies below 1; (B) "
        "dense teacher: it lies above 1; (C) sparse teacher, L1's support read from exact zeros "
        "(the lasso; the MLP's proximal arm): the recall interval's lower end is ≥ "
        f"{c.recall_floor:g} and the F1 interval lies above 2k/(k + dim), the F1 of keeping "
        "every input (ridge's by construction: it has no exact zeros, so L2's F1 is a baseline, "
        f"not a compared arm). **supported** if A, B and C hold for both models and the linear "
        f"fits agree with scikit-learn within {c.sklearn_tolerance:g}; **refuted** if that check "
        "fails or A fails for both models; **qualified** otherwise."
    )


def takeaway_and_guide(verdict: str, sparse: statistics.Interval,
                       dense: statistics.Interval) -> tuple[str, list[GuideRow]]:
    """The practitioner's sentence and decision-guide rows, from the verdict and numbers."""
    penalties = ("an L1 penalty (λ·Σ|w|, which sets weights to exactly zero under a proximal "
                 "or lasso solver)")
    head = (f"on a linear problem with a sparse truth its test error was ×{sparse.format('.2f')} "
            f"that of the L2 penalty (λ·½Σw²), and ×{dense.format('.2f')} when every input "
            f"matters")
    takeaway = {
        "supported": f"When only a few inputs matter, use {penalties}: {head}; otherwise keep L2.",
        "qualified": f"When only a few inputs matter, consider {penalties}: {head}, though it "
                     f"did not hold in every setting tested (see where it stops holding).",
        "refuted": f"An L1 penalty did not reliably beat L2 here even with few relevant inputs: "
                   f"{head}.",
    }[verdict]
    guide = []
    if sparse.high < 1:
        guide.append(GuideRow("few inputs matter (a sparse truth)", "L1 penalty (lasso)",
                              f"claim 7: L1's test MSE is ×{sparse.format('.2f')} L2's "
                              f"(linear model, sparse teacher)", favours="other"))
    if dense.low > 1:
        guide.append(GuideRow("every input matters (a dense truth)", "L2 penalty (ridge)",
                              f"claim 7: L1's test MSE is ×{dense.format('.2f')} L2's "
                              f"(linear model, dense teacher)", favours="l2"))
    return takeaway, guide


def comparison_tables(c, linear: pd.DataFrame, mlp: pd.DataFrame):
    """(comparison, support): the rule's table and every arm's support, both models."""
    resamples = int(c.resamples)
    long = {"linear": linear_long(linear), "mlp": mlp}
    dims = {"linear": int(c.linear.dim), "mlp": int(c.mlp.dim)}
    support = {m: support_table(long[m], m, dims[m], float(c.mlp.support_threshold))
               for m in MODELS}
    table = pd.concat([comparison_table(long[m], m, resamples, support[m]) for m in MODELS],
                      ignore_index=True)
    return table, pd.concat(list(support.values()), ignore_index=True)


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool,
          config=None) -> Section:
    """The rule, verdict, findings and plot from compute's tables (read back from CSV)."""
    c = config or claim_config.get_config("quick" if quick else "default")
    linear, check = tables["linear_fits"], tables["sklearn_check"]
    table, support = comparison_tables(c, linear, tables["mlp_runs"])
    checks_pass = float(check["max_abs_coef_diff"].max()) <= float(c.sklearn_tolerance)
    verdict, parts = verdict_of(table, float(c.recall_floor), checks_pass)
    limits = limits_text(table, parts)
    lines = findings(c, table, support, check, linear, parts)
    lines.append(f"- **Where it stops holding:** {limits}.")
    cell = {(r["model"], r["teacher"]): r for _, r in table.iterrows()}
    ls, ld, ms = cell["linear", "sparse"], cell["linear", "dense"], cell["mlp", "sparse"]
    key_numbers = {
        "test_MSE_L1/L2_sparse_linear": _iv(ls, "test_mse_ratio"),
        "dense_linear": _iv(ld, "test_mse_ratio"),
        "sparse_MLP": _iv(ms, "test_mse_ratio"),
        "L1_support_recall_sparse_linear": _iv(ls, "recall"),
        "L1_support_F1_sparse_MLP_proximal": _iv(ms, "f1"),
    }
    takeaway, guide = takeaway_and_guide(verdict, key_numbers["test_MSE_L1/L2_sparse_linear"],
                                         key_numbers["dense_linear"])
    outdir = plot_dir(workdir, KEY)
    logging.info("claim7: verdict %s (parts %s)", verdict, parts)
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(c, tables["setup"].iloc[0]),
        rule=rule_text(c), verdict=verdict, findings="\n".join(lines),
        summary=(f"Test MSE L1/L2 (linear): sparse "
                 f"×{key_numbers['test_MSE_L1/L2_sparse_linear'].format('.2f')}, dense "
                 f"×{key_numbers['dense_linear'].format('.2f')}; L1 support recall "
                 f"{key_numbers['L1_support_recall_sparse_linear'].format('.2f')}."),
        tables={"comparison": table, "support": support, "sklearn_check": check,
                "linear_fits": linear, "mlp_runs": tables["mlp_runs"]},
        plots={"l1_vs_l2": _plot(table, outdir / "l1_vs_l2.png")},
        key_numbers=key_numbers, limits=limits, kind="empirical", part="penalty",
        headline="test_MSE_L1/L2_sparse_linear",
        units={"test_MSE_L1/L2_sparse_linear": "ratio of test MSEs (L1 / L2)",
               "dense_linear": "ratio of test MSEs (L1 / L2)",
               "sparse_MLP": "ratio of test MSEs (L1 / L2)",
               "L1_support_recall_sparse_linear": "share of the true inputs kept",
               "L1_support_F1_sparse_MLP_proximal": "F1 of the selected inputs"},
        takeaway=takeaway, guide=guide,
    )
