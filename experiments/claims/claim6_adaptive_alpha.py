"""Claim 6: "L2 is the maximum-likelihood loss under Gaussian noise, and the data can say so".

Squared error is the Gaussian negative log-likelihood with a fixed variance, absolute error the
Laplace one, Cauchy's loss the Cauchy one. Barron's adaptive loss (losses.robust_nll) is the NLL
of a family of densities ∝ exp(−ρ(r, α, c))/c that contains the Gaussian (α = 2) and the Cauchy
(α = 0) and interpolates through pseudo-Huber (α = 1); learning α and c with the model by maximum
likelihood lets the data say which loss it wants (configs/claims/claim6_adaptive_alpha.py).

How the fit is computed. The objective is mean(ρ(r, α, c)) + log c + log Z(α), exactly
losses.robust_nll; log Z(α) is read from a cubic Hermite table of robust_nll's own values (slopes by
differences) on a fine grid (robust_nll integrates log Z by quadrature on 1201 nodes per α,
which for 1,400 datasets × 1,500 steps would dominate the run); the final objective of every
fit is recomputed with losses.robust_nll itself and the largest gap is reported. α and c come
from unconstrained parameters (α = alpha_max·sigmoid(u), c = exp(s)). Linear model: every
noise family and dataset in one jit(vmap) program (the family is a traced index into
experiments.data.add_noise's samplers), full-batch Adam in lax.scan, squared error by the OLS
closed form in the same program. MLP: one jit(vmap) program over (family, seed, arm), arms
squared error / adaptive / learned-variance Gaussian NLL, stopping step chosen on validation by
each arm's own loss.

compute(workdir, quick) trains and returns the per-fit tables; judge(tables, workdir, quick)
applies the rule (`rule_text`: an equivalence margin around α = 2, percentile intervals for
medians, a convergence criterion for the linear fits, test errors by median paired ratios) and
writes the plots (see experiments/claims/claim_tables.py).
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

# configs/claims/claim6_adaptive_alpha.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim6_adaptive_alpha")
KEY = "claim6"
TITLE = "L2 is the Gaussian maximum-likelihood loss, and the data can say so"
CLAIM = (
    "Squared error is the maximum-likelihood loss under Gaussian noise (absolute error under "
    "Laplace noise, Cauchy's loss under Cauchy noise); asked to choose, by fitting Barron's "
    "adaptive loss with its shape α learned, the data pick α = 2 (L2) under Gaussian noise and "
    "α < 2 under heavy tails."
)
SAMPLERS = ("gaussian", "laplace", "student_t", "contaminated", "heteroscedastic")
ARMS = ("squared_error", "adaptive", "gaussian_nll")  # the MLP's arms, by index


# --- the adaptive NLL -------------------------------------------------------------------------


def log_partition_table(alpha_max: float, points: int) -> dict[str, jax.Array]:
    """Nodes, values and α-slopes of log Z(α) = robust_nll(0, α, c = 1) on [0, alpha_max]."""
    grid = jnp.linspace(0.0, alpha_max, points, dtype=jnp.float32)
    log_z = lambda a: losses.robust_nll(jnp.zeros((), jnp.float32), alpha=a)
    values = jax.jit(jax.vmap(log_z))(grid)
    # Slopes by second-order differences of the values, not by grad: at α = 2 exactly ρ's
    # α-derivative is returned as 0 (a |α−2|·log|α−2| kink), which would bend the table there.
    slopes = jnp.gradient(values, grid[1] - grid[0])
    return {"grid": grid, "values": values, "slopes": slopes}


def log_partition(alpha: jax.Array, table: dict[str, jax.Array]) -> jax.Array:
    """Cubic Hermite interpolation of the table (C¹ in α; exact at the nodes)."""
    grid = table["grid"]
    h = grid[1] - grid[0]
    position = jnp.clip(alpha / h, 0.0, grid.shape[0] - 1.0)
    i = jnp.clip(jnp.floor(position).astype(jnp.int32), 0, grid.shape[0] - 2)
    t = position - i
    v, s = table["values"], table["slopes"]
    return ((2 * t**3 - 3 * t**2 + 1) * v[i] + (t**3 - 2 * t**2 + t) * h * s[i]
            + (-2 * t**3 + 3 * t**2) * v[i + 1] + (t**3 - t**2) * h * s[i + 1])


def adaptive_nll(residual: jax.Array, alpha: jax.Array, scale: jax.Array,
                 table: dict[str, jax.Array]) -> jax.Array:
    """losses.robust_nll(residual, alpha, scale) elementwise, log Z from `table`."""
    rho = losses.general_robust(residual, alpha=alpha, scale=scale)
    return rho + jnp.log(scale) + log_partition(alpha, table)


def shape_and_scale(u: jax.Array, s: jax.Array, alpha_max: float) -> tuple[jax.Array, jax.Array]:
    return alpha_max * jax.nn.sigmoid(u), jnp.exp(s)


def _robust_log_scale(r: jax.Array) -> jax.Array:
    """log of 1.4826·median|r − median r| (the normal-consistent MAD): c's starting value."""
    return jnp.log(1.4826 * jnp.median(jnp.abs(r - jnp.median(r))) + 1e-6)


def family_codes(families, contamination: float, outlier_scale: float):
    """(sampler index, ν) per family name, for the traced noise draw."""
    codes = [claim_config.NOISE[f] for f in families]
    return (np.array([SAMPLERS.index(s) for s, _ in codes], np.int32),
            np.array([df for _, df in codes], np.float32))


def draw_targets(key, f, x, sampler, df, scale, contamination, outlier_scale):
    """f + ε with ε from add_noise's `SAMPLERS[sampler]` (sampler and ν traced)."""
    def branch(name):
        return lambda k, f, x, df: data_lib.add_noise(
            k, f, x, family=name, scale=scale, df=df, contamination=contamination,
            outlier_scale=outlier_scale)
    return jax.lax.switch(sampler, [branch(s) for s in SAMPLERS], key, f, x, df)


# --- linear model, many datasets ---------------------------------------------------------------


def make_linear_fit(c, dataset: data_lib.Dataset, table):
    """fit(seed, sampler, df) -> dict of per-dataset results; vmap/jit it."""
    lin = c.linear
    x = jnp.asarray(dataset.x_train)
    z = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], 1)
    z_test = jnp.concatenate([jnp.asarray(dataset.x_test),
                              jnp.ones((dataset.x_test.shape[0], 1), x.dtype)], 1)
    f, f_test = jnp.asarray(dataset.f_train), jnp.asarray(dataset.f_test)
    alpha_max = float(c.alpha_max)
    u0 = float(np.log(c.alpha_init / (alpha_max - c.alpha_init)))
    tx = optax.adam(optax.cosine_decay_schedule(float(lin.learning_rate), int(lin.steps)))

    def fit(seed, sampler, df):
        y = draw_targets(jax.random.key(seed), f, x, sampler, df, float(lin.noise_scale),
                         float(c.contamination), float(c.outlier_scale))
        ols = jnp.linalg.solve(z.T @ z, z.T @ y)
        # Start at a constant fit (intercept = median y), not at OLS: under Cauchy noise OLS can
        # be arbitrarily far off, more than Adam's steps travel.
        start = jnp.zeros_like(ols).at[-1].set(jnp.median(y))
        params = (start, jnp.asarray(u0, jnp.float32), _robust_log_scale(y - jnp.median(y)))

        def objective(p):
            theta, u, s = p
            alpha, scale = shape_and_scale(u, s, alpha_max)
            return adaptive_nll(y - z @ theta, alpha, scale, table).mean()

        def step(carry, _):
            p, opt = carry
            value, grad = jax.value_and_grad(objective)(p)
            updates, opt = tx.update(grad, opt, p)
            return (optax.apply_updates(p, updates), opt), value

        (p, _), curve = jax.lax.scan(step, (params, tx.init(params)), None, int(lin.steps))
        theta, u, s = p
        alpha, scale = shape_and_scale(u, s, alpha_max)
        grad = jax.grad(objective)(p)
        return {
            "alpha": alpha, "scale": scale,
            "test_mse_adaptive": jnp.mean((z_test @ theta - f_test) ** 2),
            "test_mse_squared_error": jnp.mean((z_test @ ols - f_test) ** 2),
            "objective": curve[-1],
            "objective_robust_nll": losses.robust_nll(z @ theta, y, alpha=alpha,
                                                      scale=scale).mean(),
            "table_objective": objective(p),
            "grad_norm": jnp.sqrt(sum(jnp.sum(g**2) for g in grad)),
        }

    return fit


def linear_study(c, table) -> pd.DataFrame:
    """One row per (family, dataset): learned α, c, test MSE of both fits, fit checks."""
    lin = c.linear
    dataset = data_lib.synthetic_regression(teacher="linear", n_train=lin.n_train,
                                            n_test=lin.n_test, dim=lin.dim,
                                            data_seed=lin.data_seed)
    samplers, dfs = family_codes(c.families, c.contamination, c.outlier_scale)
    k = int(lin.datasets)
    seeds = (np.arange(len(c.families))[:, None] * 100_000 + np.arange(k)[None]).ravel()
    fit = jax.jit(jax.vmap(make_linear_fit(c, dataset, table)))
    out = fit(jnp.asarray(seeds, jnp.int32), jnp.asarray(np.repeat(samplers, k)),
              jnp.asarray(np.repeat(dfs, k)))
    frame = pd.DataFrame({name: np.asarray(v, np.float64) for name, v in out.items()})
    frame.insert(0, "dataset", np.tile(np.arange(k), len(c.families)))
    frame.insert(0, "noise", np.repeat(list(c.families), k))
    return frame


# --- MLP, over seeds ----------------------------------------------------------------------------


def make_mlp_fit(c, dataset: data_lib.Dataset, table):
    """fit(seed, sampler, df, arm) -> curves over logged steps (periods,); vmap/jit it."""
    m = c.mlp
    model = models.build(m.model, 2)  # output 0: the mean; output 1: log σ² (gaussian_nll arm)
    alpha_max = float(c.alpha_max)
    u0 = float(np.log(c.alpha_init / (alpha_max - c.alpha_init)))
    x, x_val, x_test = (jnp.asarray(a) for a in (dataset.x_train, dataset.x_val, dataset.x_test))
    f, f_val, f_test = (jnp.asarray(a) for a in (dataset.f_train, dataset.f_val, dataset.f_test))
    # α and c on their own (faster) step: at the model's lr they lag far behind its fit.
    tx = optax.multi_transform(
        {"model": optax.adam(float(m.learning_rate)), "shape": optax.adam(float(m.shape_lr))},
        {"model": "model", "u": "shape", "s": "shape"})
    periods, every = int(m.steps) // int(m.log_every), int(m.log_every)
    noise = dict(scale=float(m.noise_scale), contamination=float(c.contamination),
                 outlier_scale=float(c.outlier_scale))

    def fit(seed, sampler, df, arm):
        k_init, k_train, k_val, k_test = jax.random.split(jax.random.key(seed), 4)
        y = draw_targets(k_train, f, x, sampler, df, **noise)
        y_val = draw_targets(k_val, f_val, x_val, sampler, df, **noise)
        y_test = draw_targets(k_test, f_test, x_test, sampler, df, **noise)
        params = {"model": model.init(k_init, x[:1]),
                  "u": jnp.asarray(u0, jnp.float32), "s": _robust_log_scale(y)}

        def losses_of(p, inputs, targets):
            out = model.apply(p["model"], inputs)
            mean, log_var = out[:, 0], out[:, 1]
            alpha, scale = shape_and_scale(p["u"], p["s"], alpha_max)
            return mean, jnp.stack([
                jnp.mean((mean - targets) ** 2),
                jnp.mean(adaptive_nll(mean - targets, alpha, scale, table)),
                jnp.mean(losses.gaussian_nll(mean, targets, jnp.exp(log_var), full=True)),
            ])

        def objective(p):
            return losses_of(p, x, y)[1][arm]

        def step(carry, _):
            p, opt = carry
            grad = jax.grad(objective)(p)
            updates, opt = tx.update(grad, opt, p)
            return (optax.apply_updates(p, updates), opt), None

        def period(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, every)
            p = carry[0]
            val_mean, val_losses = losses_of(p, x_val, y_val)
            test_mean, test_losses = losses_of(p, x_test, y_test)
            # Squared error's NLL: Gaussian with the variance of its validation residuals.
            var = jnp.mean((val_mean - y_val) ** 2)
            test_nll_const = jnp.mean(losses.gaussian_nll(test_mean, y_test, var, full=True))
            alpha, scale = shape_and_scale(p["u"], p["s"], alpha_max)
            return carry, {
                "val_own_loss": val_losses[arm],
                "test_mse": jnp.mean((test_mean - f_test) ** 2),
                "test_nll": jnp.where(arm == 0, test_nll_const, test_losses[arm]),
                "alpha": alpha, "scale": scale,
            }

        _, curves = jax.lax.scan(period, (params, tx.init(params)), None, periods)
        return curves

    return fit


def mlp_runs(c) -> list[tuple[str, int, str]]:
    """(family, seed, arm) of every MLP run: squared error and adaptive under every family, the
    learned-variance Gaussian NLL under heteroscedastic noise."""
    runs = []
    for family in c.mlp.families:
        arms = ARMS if family == "heteroscedastic" else ARMS[:2]
        runs += [(family, seed, arm) for seed in range(int(c.mlp.seeds)) for arm in arms]
    return runs


def select_on_validation(curves: dict[str, np.ndarray]) -> np.ndarray:
    """Per run, the logged step with the lowest validation value of its own loss."""
    val = np.where(np.isfinite(curves["val_own_loss"]), curves["val_own_loss"], np.inf)
    return val.argmin(1)


def mlp_study(c, table) -> pd.DataFrame:
    """One row per MLP run, at its validation-selected step."""
    m = c.mlp
    full = data_lib.synthetic_regression(teacher="nonlinear", n_train=m.n_train,
                                         n_test=m.n_test, dim=m.dim, data_seed=m.data_seed)
    dataset = data_lib.split_validation(full, m.validation_fraction, 0)
    runs = mlp_runs(c)
    samplers, dfs = family_codes([r[0] for r in runs], c.contamination, c.outlier_scale)
    fit = jax.jit(jax.vmap(make_mlp_fit(c, dataset, table)))
    seeds = np.array([c.families.index(fam) * 1000 + s for fam, s, _ in runs], np.int32)
    curves = fit(jnp.asarray(seeds), jnp.asarray(samplers), jnp.asarray(dfs),
                 jnp.asarray([ARMS.index(a) for _, _, a in runs], jnp.int32))
    curves = {k: np.asarray(v, np.float64) for k, v in curves.items()}
    return selected_rows(curves, runs, int(m.log_every))


def selected_rows(curves: dict[str, np.ndarray], runs, log_every: int) -> pd.DataFrame:
    """One row per run at its validation-selected logged step. `selected_at_first_step` marks
    a selection at the edge of the step grid: the fit was read before it had settled (or it
    diverged right after), so that run's α says nothing about the noise."""
    chosen = select_on_validation(curves)
    rows = np.arange(len(runs))
    frame = pd.DataFrame(runs, columns=["noise", "seed", "arm"])
    frame["selected_step"] = (chosen + 1) * log_every
    frame["selected_at_first_step"] = chosen == 0
    for name in ("val_own_loss", "test_mse", "test_nll", "alpha", "scale"):
        frame[name] = curves[name][rows, chosen]
    return frame


# --- statistics and the rule --------------------------------------------------------------------


def alpha_summary(alphas: np.ndarray) -> dict[str, float]:
    """Median with its percentile bootstrap interval (inside the data's range, so never a
    negative α), and the IQR, over datasets or seeds."""
    iv = statistics.median_interval(np.asarray(alphas, np.float64))
    q1, q3 = np.quantile(alphas, [0.25, 0.75])
    return {**iv.as_columns("alpha_median"), "alpha_q1": float(q1), "alpha_q3": float(q3)}


def alpha_table(frame: pd.DataFrame, model: str, tolerance: float | None = None) -> pd.DataFrame:
    """Per noise family: α summary and the median paired test-MSE ratio adaptive / squared
    error, over the converged fits (final gradient norm ≤ tolerance, where the frame has one;
    the MLP's fits stop on validation, so they have none)."""
    rows = []
    for family, part in frame.groupby("noise", sort=False):
        converged = part
        if tolerance is not None and "grad_norm" in part:
            converged = part[part["grad_norm"] <= tolerance]
        a = converged["test_mse_adaptive"].to_numpy()
        b = converged["test_mse_squared_error"].to_numpy()
        edge = part.get("selected_at_first_step", pd.Series(False, index=part.index))
        steps = part.get("selected_step", pd.Series(np.nan, index=part.index))
        rows.append({
            "model": model, "noise": family, "fits": len(part), "converged": len(converged),
            "converged_share": len(converged) / len(part),
            "first_step_selections": int(edge.astype(bool).sum()),
            "selected_step_median": float(steps.median()),
            **alpha_summary(converged["alpha"].to_numpy()),
            # Medians: under Cauchy noise the OLS test MSE has no mean (one dataset reached 1e6).
            **statistics.median_interval(a).as_columns("test_mse_adaptive"),
            **statistics.median_interval(b).as_columns("test_mse_squared_error"),
            **statistics.median_paired_ratio(a, b).as_columns("test_mse_ratio"),
            # Every fit, converged or not: dropping the unconverged ones must not move the story.
            "alpha_median_all_fits": float(part["alpha"].median()),
            **statistics.median_paired_ratio(
                part["test_mse_adaptive"].to_numpy(),
                part["test_mse_squared_error"].to_numpy()).as_columns("test_mse_ratio_all_fits"),
        })
    return pd.DataFrame(rows)


def verdict_of(table: pd.DataFrame, heavy_tailed, margin: float,
               min_converged_share: float) -> tuple[str, dict[str, dict[str, bool]]]:
    """The rule, per model: (A) the Gaussian family's median-α interval lies inside
    [2 − margin, 2 + margin] (equivalence with L2); (B) every heavy-tailed family's lies below
    2 − margin (a loss practically heavier-tailed than L2). A family with fewer than
    min_converged_share of its fits converged, or with any run selected on validation at the
    first logged step (the step grid's edge), decides nothing: its part fails. Supported: A
    and B for every model; refuted: neither for any model; qualified otherwise."""
    parts = {}
    for model, part in table.groupby("model", sort=False):
        rows = part.set_index("noise")
        decided = rows["converged_share"] >= min_converged_share
        if "first_step_selections" in rows:
            decided &= rows["first_step_selections"] == 0
        gaussian = rows.loc["gaussian"]
        heavy = [f for f in heavy_tailed if f in rows.index]
        parts[model] = {
            "A": bool(decided["gaussian"] and gaussian["alpha_median_low"] >= 2.0 - margin
                      and gaussian["alpha_median_high"] <= 2.0 + margin),
            "B": bool(heavy) and all(decided[f] and rows.loc[f, "alpha_median_high"]
                                     < 2.0 - margin for f in heavy),
        }
    if all(p["A"] and p["B"] for p in parts.values()):
        return "supported", parts
    if not any(p["A"] or p["B"] for p in parts.values()):
        return "refuted", parts
    return "qualified", parts


def heteroscedastic_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Heteroscedastic noise: each arm's test MSE and test NLL, paired against squared error."""
    part = frame[frame["noise"] == "heteroscedastic"]
    base = part[part["arm"] == "squared_error"].sort_values("seed")
    rows = []
    for arm, sub in part.groupby("arm", sort=False):
        sub = sub.sort_values("seed")
        rows.append({
            "arm": arm, "seeds": len(sub),
            **statistics.mean(sub["test_mse"].to_numpy()).as_columns("test_mse"),
            **statistics.paired_difference(sub["test_mse"].to_numpy(),
                                           base["test_mse"].to_numpy()).as_columns(
                "test_mse_minus_squared_error"),
            **statistics.mean(sub["test_nll"].to_numpy()).as_columns("test_nll"),
            **statistics.paired_difference(sub["test_nll"].to_numpy(),
                                           base["test_nll"].to_numpy()).as_columns(
                "test_nll_minus_squared_error"),
        })
    return pd.DataFrame(rows)


# --- plots ----------------------------------------------------------------------------------------


def _alpha_plot(linear: pd.DataFrame, mlp: pd.DataFrame, families, tolerance: float,
                path: pathlib.Path) -> pathlib.Path:
    """Learned α per fit, the same family order in both panels (the config's); the linear
    model's unconverged fits are left out, as in the rule."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    linear = linear[linear["grad_norm"] <= tolerance]
    for ax, (name, frame) in zip(axes, (("linear model", linear), ("MLP", mlp)), strict=True):
        present = [f for f in families if f in set(frame["noise"])]
        ax.boxplot([frame.loc[frame["noise"] == f, "alpha"] for f in present], showfliers=False)
        for i, fam in enumerate(present, 1):
            values = frame.loc[frame["noise"] == fam, "alpha"].to_numpy()
            jitter = np.random.default_rng(i).uniform(-.15, .15, len(values))
            ax.plot(np.full(len(values), i) + jitter, values, ".", ms=2, alpha=0.4, color="C0")
        ax.axhline(2.0, color="k", lw=1, ls="--", label="α = 2 (L2)")
        ax.set_xticks(range(1, len(present) + 1), [f.replace("_", "\n") for f in present],
                      fontsize=8)
        ax.set_title(f"{name}: learned α per fit")
    axes[0].set_ylabel("α (Barron's shape)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return plots.save_png(fig, path)


def _ratio_plot(table: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [f"{r.model}\n{r.noise}" for r in table.itertuples()]
    y = table["test_mse_ratio"].to_numpy()
    err = np.vstack([y - table["test_mse_ratio_low"], table["test_mse_ratio_high"] - y])
    ax.errorbar(np.arange(len(y)), y, yerr=err, fmt="o", capsize=3)
    ax.axhline(1.0, color="k", lw=1, ls="--")
    ax.set_xticks(np.arange(len(y)), labels, fontsize=6, rotation=90)
    ax.set_yscale("log")
    ax.set_ylabel("test MSE adaptive / squared error")
    ax.set_title("Adaptive fit relative to squared error (median paired ratio, 95% percentile)")
    fig.tight_layout()
    return plots.save_png(fig, path)


# --- compute and judge ----------------------------------------------------------------------------


# A median-α interval entirely below this is the parameter's bound: α = alpha_max·sigmoid(u)
# reaches 0 only as u → −∞, so the value there measures how far the optimizer went, not the data.
ALPHA_AT_BOUND = 0.1


def alpha_text(r) -> str:
    """A row's median learned α with its interval, e.g. '1.99 [1.93, 2.04]', or '→ 0 (at the
    bound ...)' where the interval is pressed against α = 0."""
    if r["alpha_median_high"] < ALPHA_AT_BOUND:
        return f"→ 0 (at the bound; {r['alpha_median']:.2f} after the steps run)"
    return f"{r['alpha_median']:.2f} [{r['alpha_median_low']:.2f}, {r['alpha_median_high']:.2f}]"


def ratio_text(r) -> str:
    """A row's test-MSE ratio with its interval to 3 significant digits (Cauchy's is ~1e-3)."""
    return (f"×{r['test_mse_ratio']:.3g} [{r['test_mse_ratio_low']:.3g}, "
            f"{r['test_mse_ratio_high']:.3g}]")


def compute(workdir: pathlib.Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Every linear fit (one row per family and dataset) and MLP run (per family, seed, arm)."""
    del workdir  # nothing to write: the runner saves the tables
    c = claim_config.get_config("quick" if quick else "default")
    table = log_partition_table(float(c.alpha_max), int(c.table_points))
    return {"linear_fits": linear_study(c, table), "mlp_runs": mlp_study(c, table)}


def mlp_pairs(mlp: pd.DataFrame) -> pd.DataFrame:
    """The MLP's adaptive runs with their seed's squared-error test MSE beside them, in the
    runs' own (config) family order, so every table and plot lists the families alike."""
    adaptive = mlp[mlp["arm"] == "adaptive"]
    squared = mlp[mlp["arm"] == "squared_error"]
    keys = ["noise", "seed"]
    if not adaptive[keys].reset_index(drop=True).equals(squared[keys].reset_index(drop=True)):
        raise ValueError("claim6: the MLP's adaptive and squared-error runs are not paired")
    edge = adaptive.get("selected_at_first_step", pd.Series(False, index=adaptive.index))
    return adaptive[["noise", "seed", "alpha", "selected_step"]].assign(
        selected_at_first_step=edge.astype(bool).to_numpy(),
        test_mse_adaptive=adaptive["test_mse"].to_numpy(),
        test_mse_squared_error=squared["test_mse"].to_numpy())


def model_findings(c, alphas: pd.DataFrame, parts) -> list[str]:
    """Per model: the learned α per family against the rule, and the test-error ratios."""
    lines, margin = [], float(c.equivalence_margin)
    for model, label in (("linear", "Linear model"), ("mlp", "MLP")):
        part = alphas[alphas["model"] == model]
        fams = "; ".join(f"{r['noise']} {alpha_text(r)} (IQR {r['alpha_q1']:.2f}–"
                         f"{r['alpha_q3']:.2f}{family_notes(r, 'alpha')})"
                         for _, r in part.iterrows())
        undecided = [f"{r['noise']} ({why})" for _, r in part.iterrows()
                     if (why := undecided_reason(c, r))]
        missed = [r["noise"] for _, r in part.iterrows() if r["noise"] in c.heavy_tailed
                  and r["alpha_median_high"] >= 2.0 - margin]
        lines.append(
            f"- **{label}: learned α** (median over the converged fits of each family [95% "
            f"percentile interval of the median]): {fams}. Gaussian's interval "
            f"{'lies' if parts[model]['A'] else 'does NOT lie'} within 2 ± {margin:g}; the "
            f"heavy-tailed families' intervals "
            + ("all lie below " if parts[model]["B"] else
               "do NOT all lie below " if missed else "lie below ")
            + f"{2 - margin:g}" + (f" ({', '.join(missed)})" if missed else "")
            + (f"; undecided: {', '.join(undecided)}" if undecided else "") + ".")
        better = [r["noise"] for _, r in part.iterrows() if r["test_mse_ratio_high"] < 1]
        worse = [r["noise"] for _, r in part.iterrows() if r["test_mse_ratio_low"] > 1]
        lines.append(
            f"- **{label}: test error of the adaptive fit / squared error** (median of the "
            f"paired per-{'dataset' if model == 'linear' else 'seed'} ratios): "
            + "; ".join(f"{r['noise']} {ratio_text(r)}{family_notes(r, 'ratio')}"
                        for _, r in part.iterrows())
            + f". Better beyond noise under: {', '.join(better) or 'none'}; worse under: "
            f"{', '.join(worse) or 'none'}.")
    return lines


def undecided_reason(c, r) -> str:
    """Why a family decides nothing under the rule, in words ('' if it decides)."""
    reasons = []
    if r["converged_share"] < float(c.min_converged_share):
        reasons.append(f"{int(r['converged'])} of {int(r['fits'])} converged")
    if r.get("first_step_selections", 0) > 0:
        reasons.append(f"{int(r['first_step_selections'])} of {int(r['fits'])} runs selected at "
                       f"the first logged step, {int(c.mlp.log_every)}: read before the fit "
                       f"settled")
    return "; ".join(reasons)


def family_notes(r, what: str) -> str:
    """Beside a family's number: the MLP's validation-selected step, and where unconverged fits
    were left out, the same number over all fits (leaving them out must not move the story)."""
    notes = []
    if what == "alpha" and np.isfinite(r.get("selected_step_median", np.nan)):
        notes.append(f"selected at step {r['selected_step_median']:.0f} (median)")
    if r["converged"] < r["fits"]:
        ratio = statistics.Interval.from_columns(r, "test_mse_ratio_all_fits")
        all_fits = (f"median α {r['alpha_median_all_fits']:.3f}" if what == "alpha" else
                    f"×{ratio.format('.3g')}")
        notes.append(f"all {int(r['fits'])} fits: {all_fits}")
    return "".join(f"; {n}" for n in notes) if what == "alpha" else (
        f" ({'; '.join(notes)})" if notes else "")


def other_findings(c, alphas, linear, hetero) -> list[str]:
    """Heteroscedastic noise (the limit of a single shape α), the learned variance, fit checks."""
    lines = []
    iv = lambda row, prefix, spec: statistics.Interval.from_columns(row, prefix).format(spec)
    if "heteroscedastic" in set(alphas["noise"]):
        r = alphas[(alphas["model"] == "linear") & (alphas["noise"] == "heteroscedastic")].iloc[0]
        remedy = "modelling the variance was not tried here"
        if hetero is not None:
            g = hetero.set_index("arm").loc["gaussian_nll"]
            diff = iv(g, "test_nll_minus_squared_error", ".3f")
            remedy = (f"the remedy is modelling the variance: it lowered the MLP's test NLL by "
                      f"{diff} (paired, below)"
                      if g["test_nll_minus_squared_error_high"] < 0 else
                      f"modelling the variance did NOT improve the MLP's test NLL here (paired "
                      f"difference {diff}, below)")
        lines.append(
            f"- **Where 'the data can say so' stops.** Under heteroscedastic Gaussian noise "
            f"(Gaussian given x, a scale mixture marginally) the linear fit picks α = "
            f"{alpha_text(r)}: a single shape α describes the marginal residuals, so it reads "
            f"unequal variances as heavy tails; {remedy}.")
    if hetero is not None:
        h = hetero.set_index("arm")
        g, sq = h.loc["gaussian_nll"], h.loc["squared_error"]
        lines.append(
            f"- **Learned variance (heteroscedastic noise, MLP).** A second head predicting "
            f"log σ²(x), trained on the Gaussian NLL: test NLL {iv(g, 'test_nll', '.3f')} vs "
            f"squared error with a constant variance (from its validation residuals) "
            f"{iv(sq, 'test_nll', '.3f')}, paired difference "
            f"{iv(g, 'test_nll_minus_squared_error', '.3f')}; test MSE of the mean "
            f"{iv(g, 'test_mse', '.4f')} vs {iv(sq, 'test_mse', '.4f')}, paired difference "
            f"{iv(g, 'test_mse_minus_squared_error', '.4f')}.")
    table_gap = float(np.abs(linear["table_objective"] - linear["objective_robust_nll"]).max())
    tol = float(c.converged_grad_norm)
    per_family = linear.groupby("noise", sort=False)["grad_norm"]
    slow = {fam: (int((g > tol).sum()), len(g)) for fam, g in per_family if (g > tol).any()}
    lines.append(
        f"- **Fit checks.** The table of log Z(α) reproduces losses.robust_nll's objective within "
        f"{table_gap:.1e} on every linear fit. Convergence (final gradient norm ≤ {tol:g}, "
        f"stated in advance; unconverged fits are left out of every number above): "
        + (", ".join(f"{fam} {n} of {total} unconverged" for fam, (n, total) in slow.items())
           if slow else "every fit converged")
        + f" (largest gradient norm {linear['grad_norm'].max():.1e}, median "
        f"{linear['grad_norm'].median():.1e}). The MLP's runs stop at their best validation "
        f"step, so no gradient criterion applies to them.")
    return lines


def limits_text(c, alphas: pd.DataFrame, parts) -> str:
    """Where the claim stops holding, from the rule's parts and the numbers."""
    margin, misses = float(c.equivalence_margin), []
    for model, label in (("linear", "linear model"), ("mlp", "MLP")):
        part = alphas[alphas["model"] == model].set_index("noise")
        if not parts[model]["A"]:
            misses.append(f"the {label}'s α under Gaussian noise is not within 2 ± {margin:g} "
                          f"({alpha_text(part.loc['gaussian'])})")
        for fam, r in part.iterrows():
            if why := undecided_reason(c, r):
                misses.append(f"the {label}'s {fam} family decides nothing ({why})")
            elif fam in c.heavy_tailed and r["alpha_median_high"] >= 2.0 - margin:
                misses.append(f"the {label}'s α under {fam} noise is not below {2 - margin:g} "
                              f"({alpha_text(r)})")
    if "heteroscedastic" in set(alphas["noise"]):
        misses.append("the noise is heteroscedastic (a single shape reads unequal variances as "
                      "heavy tails)")
    return "; ".join(misses)


def setup_text(c) -> str:
    return (
        f"Barron's adaptive NLL `losses.robust_nll` with α = {c.alpha_max:g}·sigmoid(u) ∈ (0, "
        f"{c.alpha_max:g}) and c = exp(s) learned jointly with the model (α starts at "
        f"{c.alpha_init:g}). **Linear:** fixed design n = {c.linear.n_train}, {c.linear.dim} "
        f"inputs, unit-norm linear teacher, noise scale {c.linear.noise_scale:g}, "
        f"{c.linear.datasets} datasets per noise family, all families in one jit(vmap) program, "
        f"full-batch Adam (lr {c.linear.learning_rate:g}, cosine, {c.linear.steps} steps) from "
        f"a constant fit at median(y); squared error = OLS. **MLP:** {c.mlp.dim} → "
        f"{c.mlp.model.widths[0]} → 1 ({c.mlp.model.activation}) on the nonlinear teacher, "
        f"n = {c.mlp.n_train} ({c.mlp.validation_fraction:.0%} carved for validation), noise "
        f"scale {c.mlp.noise_scale:g}, {c.mlp.seeds} seeds per family, full-batch Adam (lr "
        f"{c.mlp.learning_rate:g}, {c.mlp.steps} steps), each arm stopped at its best "
        f"validation value of its own loss (logged every {c.mlp.log_every} steps). Noise: "
        f"Student-t(ν) with scale = noise scale, contaminated = {c.contamination:.0%} outliers "
        f"with {c.outlier_scale:g}× the std, Cauchy = Student-t(1). Test error: MSE against the "
        f"noise-free teacher. Intervals: 95% percentile bootstrap over datasets / seeds for "
        f"medians (experiments.statistics); test errors compared by the median of the paired "
        f"ratios (under Cauchy noise a mean test MSE does not exist). Config: "
        f"`configs/claims/claim6_adaptive_alpha.py`."
    )


def rule_text(c) -> str:
    margin = float(c.equivalence_margin)
    return (
        f"Stated before the numbers, per model (linear, MLP), on the 95% percentile interval of "
        f"the median learned α: (A) under Gaussian noise it lies inside [{2 - margin:g}, "
        f"{2 + margin:g}] (equivalent to L2 within a margin of {margin:g}; an interval that "
        f"merely contains 2 would reward too few fits); (B) under every heavy-tailed family ("
        + ", ".join(c.heavy_tailed) + f" — those the model ran) it lies below {2 - margin:g}. "
        f"A linear fit counts only if it converged (final gradient norm ≤ "
        f"{c.converged_grad_norm:g}); a family with fewer than {c.min_converged_share:.0%} of "
        "its fits converged decides nothing (its part fails), and so does an MLP family with any "
        "adaptive run selected on validation at the first logged step (the α of a fit read "
        "before it settled). **supported** if A and B hold for "
        "both models; **refuted** if neither A nor B holds for either model; **qualified** "
        "otherwise. Test errors and the heteroscedastic arms are reported, not counted."
    )


def takeaway_and_guide(verdict: str, gaussian: statistics.Interval, cauchy,
                       cauchy_ratio: statistics.Interval,
                       margin: float) -> tuple[str, list[GuideRow]]:
    """The practitioner's sentence and decision-guide rows, from the verdict and numbers
    (`cauchy`: the linear model's Cauchy row of the α table). α is Barron's shape: 2 is squared
    error, 1 a smoothed L1, 0 Cauchy's loss."""
    shape = ("the loss shape α fitted by maximum likelihood (α = 2 is squared error, 0 Cauchy's "
             "loss)")
    numbers = (f"{shape} came out at {gaussian.format('.2f')} under Gaussian noise and "
               f"{alpha_text(cauchy)} under Cauchy noise (linear model)")
    takeaway = {
        "supported": f"Squared error is the right loss when the noise is Gaussian and the data "
                     f"can tell: {numbers}, so fit the shape or use a robust loss when residuals "
                     f"have heavy tails.",
        "qualified": f"The data only partly pick squared error for Gaussian noise and a "
                     f"heavier-tailed loss otherwise: {numbers}; see where it stops holding.",
        "refuted": f"Fitting the loss's shape did not single out squared error for Gaussian "
                   f"noise: {numbers}.",
    }[verdict]
    guide = []
    if gaussian.low >= 2 - margin and gaussian.high <= 2 + margin:
        guide.append(GuideRow("Gaussian noise", "squared error (L2)",
                              f"claim 6: learned α {gaussian.format('.2f')} (α = 2 is L2)",
                              favours="l2"))
    if cauchy["alpha_median_high"] < 2 - margin:
        # No fixed robust loss was an arm here, and OLS has no finite moments under Cauchy
        # noise: the numbers show that a robust loss wins, not that the adaptive one does.
        guide.append(GuideRow("heavy-tailed noise of unknown shape",
                              "any robust loss (OLS fails by construction under Cauchy noise)",
                              f"claim 6: learned α {alpha_text(cauchy)} under Cauchy noise "
                              f"(linear model); the MLP's adaptive fit has "
                              f"×{cauchy_ratio.format('.3g')} squared error's test MSE (median "
                              f"paired ratio)", favours="other"))
    return takeaway, guide


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool) -> Section:
    """The rule, verdict, findings and plots from compute's tables (read back from CSV)."""
    c = claim_config.get_config("quick" if quick else "default")
    linear, mlp = tables["linear_fits"], tables["mlp_runs"]
    pairs = mlp_pairs(mlp)
    alphas = pd.concat([alpha_table(linear, "linear", float(c.converged_grad_norm)),
                        alpha_table(pairs, "mlp")], ignore_index=True)
    verdict, parts = verdict_of(alphas, c.heavy_tailed, float(c.equivalence_margin),
                                float(c.min_converged_share))
    hetero = heteroscedastic_table(mlp) if "heteroscedastic" in set(mlp["noise"]) else None
    lines = model_findings(c, alphas, parts) + other_findings(c, alphas, linear, hetero)
    cell = {(r["model"], r["noise"]): r for _, r in alphas.iterrows()}
    key_numbers = {
        "alpha_gaussian_linear": statistics.Interval.from_columns(cell["linear", "gaussian"],
                                                                  "alpha_median"),
        "alpha_gaussian_MLP": statistics.Interval.from_columns(cell["mlp", "gaussian"],
                                                               "alpha_median"),
        "test_MSE_adaptive/L2_cauchy_MLP": statistics.Interval.from_columns(
            cell["mlp", "cauchy"], "test_mse_ratio"),
    }
    if cell["linear", "cauchy"]["alpha_median_high"] >= ALPHA_AT_BOUND:  # else no interval
        key_numbers["alpha_cauchy_linear"] = statistics.Interval.from_columns(
            cell["linear", "cauchy"], "alpha_median")
    takeaway, guide = takeaway_and_guide(
        verdict, key_numbers["alpha_gaussian_linear"], cell["linear", "cauchy"],
        key_numbers["test_MSE_adaptive/L2_cauchy_MLP"], float(c.equivalence_margin))
    outdir = plot_dir(workdir, KEY)
    tol = float(c.converged_grad_norm)
    figures = {
        "learned_alpha": _alpha_plot(linear, pairs, c.families, tol, outdir / "learned_alpha.png"),
        "test_mse_ratio": _ratio_plot(alphas, outdir / "test_mse_ratio.png"),
    }
    out_tables = {"learned_alpha": alphas, "linear_fits": linear, "mlp_runs": mlp}
    if hetero is not None:
        out_tables["heteroscedastic"] = hetero
    g, ca = cell["linear", "gaussian"], cell["linear", "cauchy"]
    summary = (f"Learned α (linear, median [interval]): Gaussian {alpha_text(g)}, Cauchy "
               f"{alpha_text(ca)}; the adaptive fit's test MSE is {ratio_text(ca)} squared "
               f"error's under Cauchy noise and {ratio_text(g)} under Gaussian (median paired "
               f"ratios).")
    logging.info("claim6: verdict %s", verdict)
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(c), rule=rule_text(c),
        verdict=verdict, findings="\n".join(lines), tables=out_tables, plots=figures,
        summary=summary, key_numbers=key_numbers, kind="empirical", part="loss",
        headline="alpha_gaussian_linear",
        units={"alpha_gaussian_linear": "Barron's shape α (2 = squared error)",
               "alpha_gaussian_MLP": "Barron's shape α (2 = squared error)",
               "alpha_cauchy_linear": "Barron's shape α (0 = Cauchy's loss)",
               "test_MSE_adaptive/L2_cauchy_MLP": "median ratio of test MSEs"},
        limits=limits_text(c, alphas, parts),
        takeaway=takeaway, guide=guide,
    )
