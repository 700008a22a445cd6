"""Claim 9: "L2 estimates the conditional mean, L1 the median, the pinball loss a quantile".

The population minimizer of E[ℓ(y − m) | x] is the conditional mean for squared error, the
conditional median for absolute error and the conditional τ-quantile for the pinball loss
(Koenker & Bassett 1978); Huber's lies between mean and median. Under symmetric noise they
coincide, so "which loss" only changes efficiency; under skewed noise they are different
functions and the loss picks the statistic. The engine fits each loss with a linear model and
an MLP on synthetic data whose noise has mean 0 (experiments.data.add_noise), so the true
conditional mean is the teacher f and the true τ-quantile is f + data.noise_quantile(family, τ)
(closed forms); every fit is scored by its RMSE to each target on a 1000-point test grid. Units
are seeds (a fresh noise draw and initialization); comparisons between losses are paired over
them (experiments.statistics).

Real data, with statsmodels as an independent oracle: losslab's pinball (τ = 0.5, 0.9) linear
fits of the Engel food-expenditure data against `QuantReg`, and its Huber fit of the stack-loss
data against `RLM(HuberT(1.345))` at RLM's final (MAD) scale. These agreements check exact facts
numerically (like a "theorem" claim); the section's verdict is empirical.

compute(workdir, quick) trains and runs the oracles; judge(tables, workdir, quick) applies the
rule (experiments/claims/claim_tables.py).
"""

from __future__ import annotations

import pathlib
import types

import numpy as np
import pandas as pd
from absl import logging

from experiments import shipped_configs, statistics
from experiments.claims.section import GuideRow, Section
from experiments.statistics import Interval

# configs/claims/claim9_mean_median_quantile.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim9_mean_median_quantile")

KEY = "claim9"
TITLE = "L2 fits the mean, L1 the median, the pinball loss a quantile"
CLAIM = (
    "Squared error estimates the conditional mean, absolute error the conditional median and the "
    "pinball (quantile) loss the conditional τ-quantile; under skewed noise they differ, so the "
    "loss should follow the statistic you want."
)
TARGETS = ("mean", "median", "q_high")  # scored targets: f, f + median offset, f + τ_high offset
# Which target each loss arm estimates in population (Huber: none exactly; between mean, median).
OWN_TARGET = {"squared_error": "mean", "absolute_error": "median", "quantile_0.5": "median",
              "quantile_high": "q_high"}
ARM_NAMES = {"squared_error": "L2 (squared error)", "absolute_error": "L1 (absolute error)",
             "huber": "Huber (δ = 1.345)", "quantile_0.5": "pinball τ = 0.5",
             "quantile_high": "pinball τ = 0.9"}
TARGET_NAMES = {"mean": "mean", "median": "median", "q_high": "0.9-quantile"}
MAD_NORMAL = 0.6744897501960817  # Φ⁻¹(3/4): MAD / this estimates a normal std (statsmodels' mad)


# --- synthetic part: trained by the engine, scored against closed-form targets ----------------


def target_offsets(families, config) -> pd.DataFrame:
    """Per noise family: the offsets of the conditional mean, median and τ_high-quantile from f."""
    from experiments import data as data_lib  # JAX: compute only, never the judge

    knobs = dict(scale=1.0, contamination=config.contamination,
                 outlier_scale=config.outlier_scale)
    return pd.DataFrame([{
        "family": family, "mean": 0.0,
        "median": data_lib.noise_quantile(family, 0.5, **knobs),
        "q_high": data_lib.noise_quantile(family, config.tau_high, **knobs),
    } for family in families])


def arm_name(loss: str, tau: float) -> str:
    """The loss arm's key: the loss, with quantile split by τ (0.5 and the high one); the other
    losses' runs at τ ≠ 0.5 (τ does not enter them: repeats) get a key outside ARM_NAMES."""
    if loss != "quantile":
        return loss if abs(tau - 0.5) < 1e-9 else f"{loss}_repeat"
    return "quantile_0.5" if abs(tau - 0.5) < 1e-9 else "quantile_high"


def score_group(group, model: str, offsets: pd.DataFrame, tau_high: float) -> pd.DataFrame:
    """One trained group (one loss, one noise family): a row per run with its validation loss,
    the RMSE (`rmse_<target>`) and mean signed error (`bias_<target>`: its mean over the test
    inputs of fit − target) of its fitted function to each target on the test inputs, and the
    RMSE of the *shifted* fit: the fit plus the empirical median / τ_high-quantile of its own
    training residuals (`rmse_shifted_median`, `rmse_shifted_q_high`), the alternative "fit L2,
    then move it by a residual quantile" (with noise independent of x, the targets differ by
    a constant)."""
    config = group.config
    family = config.dataset.noise
    row = offsets.set_index("family").loc[family]
    fitted = group.outputs(group.dataset.x_test)[..., 0]
    f_test = np.asarray(group.dataset.f_test, np.float64)
    out = pd.DataFrame({
        "model": model, "family": family,
        "loss": [arm_name(config.loss, float(t)) for t in group.hyper["loss_knobs.tau"]],
        "learning_rate": group.hyper["learning_rate"].astype(np.float64),
        "seed": group.hyper["seed"].astype(np.int64),
        "val_loss": np.asarray(group.metrics["val_loss"])[:, -1].astype(np.float64),
    })
    for target in TARGETS:
        residual = fitted - (f_test + float(row[target]))[None, :]
        out[f"rmse_{target}"] = np.sqrt((residual**2).mean(-1))
        out[f"bias_{target}"] = residual.mean(-1)
    train_residual = group.targets() - group.outputs(np.asarray(group.data["x_train"]))[..., 0]
    for target, tau in (("median", 0.5), ("q_high", tau_high)):
        shifted = fitted + np.quantile(train_residual, tau, axis=-1)[:, None]
        out[f"rmse_shifted_{target}"] = np.sqrt(
            ((shifted - (f_test + float(row[target]))[None, :])**2).mean(-1))
    return out


def fit_runs(c) -> pd.DataFrame:
    """Every (model, family, loss, learning rate, seed) run, trained on the validation view."""
    from experiments.claims import trained_runs

    offsets = target_offsets(c.families, c)
    frames = []
    for model in ("linear", "mlp"):
        for group in trained_runs.train(c.models[model], on_validation=True):
            frames.append(score_group(group, model, offsets, c.tau_high))
    runs = pd.concat(frames, ignore_index=True)
    return runs[runs["loss"].isin(ARM_NAMES)].reset_index(drop=True)


# --- real data, statsmodels as the oracle ------------------------------------------------------


def descent_fit(x: np.ndarray, y: np.ndarray, loss, steps: int) -> np.ndarray:
    """[intercept, slopes] minimizing mean loss(a + x·b, y) by full-batch (sub)gradient descent.

    Inputs are standardized (so one step size suits every data set); the step decays as
    0.5·(1 − t/steps)², which reaches the optimum of a non-smooth objective (the pinball loss)
    within float32 precision. `loss(predictions, targets)` is a losslab loss with its knobs set;
    y must already be in the loss's units (the caller rescales it). float32, as the engine.
    """
    import jax
    import jax.numpy as jnp

    mean, std = x.mean(0), x.std(0)
    xs = jnp.asarray((x - mean) / std, jnp.float32)
    ys = jnp.asarray(y, jnp.float32)
    grad = jax.grad(lambda th: jnp.mean(loss(th[0] + xs @ th[1:], ys)))

    def step(theta, t):
        return theta - 0.5 * (1.0 - t / steps) ** 2 * grad(theta), None

    theta0 = jnp.zeros(x.shape[1] + 1, jnp.float32).at[0].set(jnp.median(ys))
    theta, _ = jax.lax.scan(step, theta0, jnp.arange(steps, dtype=jnp.float32))
    theta = np.asarray(theta, np.float64)
    slopes = theta[1:] / std
    return np.concatenate([[theta[0] - slopes @ mean], slopes])


def pinball_objective(y, fitted, tau) -> float:
    """Mean pinball loss in float64 (the objective QuantReg minimizes, divided by n)."""
    u = np.asarray(y, np.float64) - fitted
    return float(np.mean(np.maximum(tau * u, (tau - 1) * u)))


def engel_table(taus, steps: int) -> pd.DataFrame:
    """Engel food expenditure on income: losslab's pinball fits vs statsmodels QuantReg, and
    its squared-error fit vs statsmodels OLS (the mean line), with predictions at the median and
    90th-percentile income."""
    import functools

    import statsmodels.api as sm

    import losses

    frame = sm.datasets.engel.load_pandas().data
    x, y = frame[["income"]].to_numpy(float), frame["foodexp"].to_numpy(float)
    design = sm.add_constant(x)
    centre, spread = np.median(y), y.std()  # pinball minimizers are affine-equivariant in y
    rows = []
    for tau in (None, *taus):
        if tau is None:
            result = sm.OLS(y, design).fit()
            loss, objective = losses.squared_error, lambda b: float(np.mean((y - design @ b)**2))
        else:
            result = sm.QuantReg(y, design).fit(q=tau)
            loss = functools.partial(losses.quantile, tau=tau)
            objective = functools.partial(
                lambda b, t: pinball_objective(y, design @ b, t), t=tau)
        oracle = result.params
        fit = descent_fit(x, (y - centre) / spread, loss, steps)
        fit = np.concatenate([[fit[0] * spread + centre], fit[1:] * spread])
        rows.append(_oracle_row("mean (OLS)" if tau is None else f"τ = {tau:g} (QuantReg)",
                                fit, oracle, objective(fit), objective(oracle),
                                [np.median(x), np.quantile(x, 0.9)]))
        # statsmodels' 95% interval for the slope (OLS: t; QuantReg: its sandwich kernel
        # estimate), so the lines' non-parallelism is read with its uncertainty.
        rows[-1]["slope_low"], rows[-1]["slope_high"] = np.asarray(result.conf_int())[1]
    return pd.DataFrame(rows)


def _oracle_row(name, fit, oracle, objective, oracle_objective, incomes) -> dict:
    at = lambda b, v: float(b[0] + b[1] * v)
    return {
        "estimator": name, "intercept": fit[0], "slope": fit[1],
        "oracle_intercept": oracle[0], "oracle_slope": oracle[1],
        "coefficient_rel_diff": float(np.max(np.abs(fit - oracle) / np.abs(oracle))),
        "objective": objective, "oracle_objective": oracle_objective,
        "objective_rel_diff": (objective - oracle_objective) / oracle_objective,
        "at_median_income": at(fit, incomes[0]), "at_p90_income": at(fit, incomes[1]),
        "median_income": incomes[0], "p90_income": incomes[1],
    }


def stackloss_table(delta: float, steps: int) -> pd.DataFrame:
    """Stack loss: losslab's Huber vs statsmodels RLM(HuberT(delta)), one row per coefficient.

    RLM minimizes Σ ρ_t(rᵢ/s) with the scale s re-estimated (MAD of the residuals about 0,
    / Φ⁻¹(¾)) every iteration; at its fixed point the coefficients minimize Σ huber_δ(rᵢ/s) for
    its final s, so losslab fits y/s with δ = t, and the MAD scale of losslab's residuals is
    reported beside s (the fixed point reproduced).
    """
    import functools

    import statsmodels.api as sm

    import losses

    data = sm.datasets.stackloss.load_pandas()
    x, y = data.exog.to_numpy(float), data.endog.to_numpy(float)
    rlm = sm.RLM(y, sm.add_constant(x), M=sm.robust.norms.HuberT(t=delta)).fit(
        tol=1e-12, maxiter=500)
    scale = float(rlm.scale)
    fit = descent_fit(x, y / scale, functools.partial(losses.huber, delta=delta), steps) * scale
    residual = y - sm.add_constant(x) @ fit
    own_scale = float(np.median(np.abs(residual)) / MAD_NORMAL)
    names = ["intercept", *data.exog.columns]
    return pd.DataFrame({
        "coefficient": names, "losslab": fit, "statsmodels_rlm": np.asarray(rlm.params),
        "rel_diff": np.abs(fit - rlm.params) / np.abs(rlm.params),
        "rlm_scale": scale, "losslab_residual_scale": own_scale,
    })


def compute(workdir: pathlib.Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Train every fit, score it against the closed-form targets, and run the oracles."""
    c = claim_config.get_config("quick" if quick else "default")
    runs = fit_runs(c)
    setup = pd.DataFrame([{
        "units": c.units, "families": ",".join(c.families), "tau_high": c.tau_high,
        "linear_learning_rates": ",".join(f"{v:g}" for v in c.models.linear.sweep.learning_rate),
        "mlp_learning_rates": ",".join(f"{v:g}" for v in c.models.mlp.sweep.learning_rate),
        "linear_steps": c.models.linear.steps, "mlp_steps": c.models.mlp.steps,
        "mlp_widths": ",".join(str(w) for w in c.models.mlp.model.widths),
        "n_train": c.models.linear.dataset.n_train, "n_test": c.models.linear.dataset.n_test,
        "validation_fraction": c.models.linear.dataset.validation_fraction,
        "dim": c.models.linear.dataset.dim, "contamination": c.contamination,
        "outlier_scale": c.outlier_scale, "equivalence_margin": c.equivalence_margin,
        "oracle_tolerance": c.oracle_tolerance, "oracle_steps": c.oracle_steps,
    }])
    return {
        "setup": setup, "targets": target_offsets(c.families, c), "runs": runs,
        "engel": engel_table((0.5, c.tau_high), c.oracle_steps),
        "stackloss": stackloss_table(c.models.linear.loss_knobs.delta, c.oracle_steps),
    }


# --- the judge: selection on validation, paired comparisons, the rule ------------------------

RATIO_UNIT = "ratio of RMSEs to the target (same seeds)"
HEADLINE_FAMILY = "exponential"
PLATEAU = 1e-4  # validation losses within this (relative) of the best: a tie, not an edge


def select_rates(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (model, family, loss): the learning rate with the lowest mean validation loss (each
    loss judged by itself, what a practitioner can see). `grid_edge` flags a choice at the
    grid's end that beats its inner neighbour by more than PLATEAU (relative): a wider grid
    might choose otherwise. Within PLATEAU it is a flat optimum (a convex fit reaching the same
    minimizer at every rate), not flagged. Returns (the selection table, the selected runs)."""
    keys = ["model", "family", "loss"]
    means = runs.groupby([*keys, "learning_rate"], sort=True)["val_loss"].mean().reset_index()
    rows = []
    for key, part in means.groupby(keys, sort=False):
        part = part.sort_values("learning_rate").reset_index(drop=True)
        best = int(part["val_loss"].idxmin())
        inner = {0: 1, len(part) - 1: len(part) - 2}.get(best) if len(part) > 1 else None
        edge = inner is not None and (part["val_loss"][inner] - part["val_loss"][best]
                                      > PLATEAU * abs(part["val_loss"][best]))
        rows.append({**dict(zip(keys, key, strict=True)),
                     "learning_rate": float(part["learning_rate"][best]),
                     "val_loss": float(part["val_loss"][best]), "grid_edge": bool(edge)})
    selection = pd.DataFrame(rows)
    chosen = runs.merge(selection[[*keys, "learning_rate"]], on=[*keys, "learning_rate"])
    return selection, chosen.sort_values([*keys, "seed"]).reset_index(drop=True)


def _arm(chosen: pd.DataFrame, model: str, family: str, loss: str, target: str) -> np.ndarray:
    part = chosen[(chosen["model"] == model) & (chosen["family"] == family)
                  & (chosen["loss"] == loss)].sort_values("seed")
    return part[f"rmse_{target}"].to_numpy(np.float64)


def _closest_rival(chosen, model, family, target, own) -> str:
    """The other arm with the smallest mean RMSE to `target` (the one `own` must beat)."""
    rivals = {loss: _arm(chosen, model, family, loss, target).mean()
              for loss in ARM_NAMES if loss != own}
    return min(rivals, key=rivals.get)


def checks_table(chosen: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Every check of the rule, per (model, family), with its paired interval over seeds.

    Skewed noise: L2 is closer to the mean than L1; L1 is closer to the median than L2; the
    τ = 0.9 pinball is closer to the 0.9-quantile than every other loss (its closest rival).
    Gaussian (mean = median): L1 and L2 agree on the mean within ±margin (the interval of the
    paired difference inside it), and the pinball check again. A difference > 0 favours the claim.
    """
    rows = []
    for (model, family), _ in chosen.groupby(["model", "family"], sort=False):
        arm = lambda loss, target, m=model, f=family: _arm(chosen, m, f, loss, target)
        rival = _closest_rival(chosen, model, family, "q_high", "quantile_high")
        pairs = [("pinball 0.9 closest to the 0.9-quantile", "q_high", rival, "quantile_high")]
        if family == "gaussian":
            pairs.insert(0, ("L1 and L2 agree on the mean (= median)", "mean",
                             "absolute_error", "squared_error"))
        else:
            pairs[:0] = [("L2 closer to the mean than L1", "mean", "absolute_error",
                          "squared_error"),
                         ("L1 closer to the median than L2", "median", "squared_error",
                          "absolute_error")]
        for check, target, worse, better in pairs:
            gap = statistics.paired_difference(arm(worse, target), arm(better, target))
            if check.startswith("L1 and L2 agree"):
                holds, reversed_ = -margin < gap.low and gap.high < margin, False
            else:
                holds, reversed_ = gap.low > 0, gap.high < 0
            rows.append({"model": model, "family": family, "check": check, "target": target,
                         "versus": worse, "arm": better, **gap.as_columns("difference"),
                         "holds": bool(holds), "reversed": bool(reversed_)})
    return pd.DataFrame(rows)


def oracle_failures(engel: pd.DataFrame, stackloss: pd.DataFrame, tolerance: float) -> list[str]:
    """The real-data checks outside the tolerance (relative), as phrases; [] when all agree."""
    out = [f"Engel {row.estimator}: coefficients differ by {row.coefficient_rel_diff:.2g}"
           for row in engel.itertuples() if not row.coefficient_rel_diff <= tolerance]
    out += [f"Engel {row.estimator}: objective differs by {row.objective_rel_diff:.2g}"
            for row in engel.itertuples() if not abs(row.objective_rel_diff) <= tolerance]
    out += [f"stack loss {row.coefficient}: Huber coefficient differs from RLM's by "
            f"{row.rel_diff:.2g}" for row in stackloss.itertuples()
            if not row.rel_diff <= tolerance]
    return out


def verdict_of(checks: pd.DataFrame, failures: list[str]) -> str:
    """supported: every check holds and the oracles agree; qualified: every linear-model check
    holds (some MLP check does not, or an oracle disagrees); refuted otherwise."""
    if checks["holds"].all():
        return "qualified" if failures else "supported"
    if checks[checks["model"] == "linear"]["holds"].all():
        return "qualified"
    return "refuted"


def key_numbers_of(chosen: pd.DataFrame, family: str) -> dict[str, Interval]:
    """The linear model's ratios under `family` (paired over seeds): L2's RMSE to the median over
    L1's, L1's RMSE to the mean over L2's, the closest rival's RMSE to the 0.9-quantile over the
    pinball's; and the Gaussian control's L1 − L2 RMSE to the mean."""
    arm = lambda loss, target, f=family: _arm(chosen, "linear", f, loss, target)
    rival = _closest_rival(chosen, "linear", family, "q_high", "quantile_high")
    out = {
        "l2_over_l1_to_median": statistics.ratio_of_means(arm("squared_error", "median"),
                                                          arm("absolute_error", "median")),
        "l1_over_l2_to_mean": statistics.ratio_of_means(arm("absolute_error", "mean"),
                                                        arm("squared_error", "mean")),
        "rival_over_pinball_to_q90": statistics.ratio_of_means(arm(rival, "q_high"),
                                                               arm("quantile_high", "q_high")),
    }
    if (chosen["family"] == "gaussian").any():
        out["gaussian_l1_minus_l2_to_mean"] = statistics.paired_difference(
            _arm(chosen, "linear", "gaussian", "absolute_error", "mean"),
            _arm(chosen, "linear", "gaussian", "squared_error", "mean"))
    return out


def rule_text(setup) -> str:
    return (
        "Stated before the numbers. Each loss's learning rate is picked on the validation split "
        "by its own loss; fits are scored by RMSE to each true target on the test grid, and each "
        "comparison is a paired difference over seeds (95% bootstrap interval). Under each skewed "
        "noise family and for each model: (a) L2's RMSE to the conditional mean is below L1's, "
        "(b) L1's RMSE to the conditional median is below L2's, (c) the τ = 0.9 pinball's RMSE "
        "to the 0.9-quantile is below every other loss's (its closest rival's); each holds when "
        "the interval of the difference excludes 0 in its favour. Gaussian control (mean = "
        "median): the interval of L1 − L2 in RMSE to the mean lies inside "
        f"±{setup.equivalence_margin:g} (equivalence) and (c) holds. **Supported** if every "
        "check holds and the real-data oracle checks agree within "
        f"{setup.oracle_tolerance:g} (relative); **qualified** if "
        "every linear-model check holds but not every MLP check (or only an oracle check fails); "
        "**refuted** otherwise."
    )


def setup_text(setup) -> str:
    return (
        f"Synthetic regression, dim {setup.dim}, {setup.n_train} training examples "
        f"({setup.validation_fraction:.0%} of them the validation split), scored on "
        f"{setup.n_test} test inputs; noise with mean 0 and scale 1: {setup.families} "
        f"(one_sided: {setup.contamination:.0%} of labels shifted up by {setup.outlier_scale:g}). "
        "The true targets are f(x) (mean) and f(x) + the family's closed-form quantile "
        "(experiments.data.noise_quantile). A linear model on a linear teacher "
        f"({setup.linear_steps} full-batch Adam steps, cosine decay, learning rates "
        f"{{{setup.linear_learning_rates}}}) and an MLP (hidden widths {setup.mlp_widths}, ReLU) "
        f"on the nonlinear teacher ({setup.mlp_steps} steps, learning rates "
        f"{{{setup.mlp_learning_rates}}}); the same grid for every loss. {setup.units} seeds "
        "per cell, each a fresh draw of the label noise and of the initialization (the design "
        "x and the teacher stay fixed). Real data: Engel (235 households, food expenditure vs "
        "income; Koenker & Bassett 1982) and stack loss (21 runs; Brownlee 1965), shipped with "
        f"statsmodels, fitted by {setup.oracle_steps} full-batch (sub)gradient steps on "
        "standardized inputs with a step decaying as 0.5(1 − t/T)², against statsmodels' QuantReg, "
        "OLS and RLM(HuberT(1.345)) (δ = 1.345 × RLM's final MAD scale)."
    )


def check_lines(checks: pd.DataFrame) -> list[str]:
    lines = []
    for row in checks.itertuples():
        gap = Interval.from_columns(checks.loc[row.Index], "difference")
        state = "holds" if row.holds else ("**reversed**" if row.reversed else "**not shown**")
        lines.append(f"- {row.model}, {row.family}: {row.check} — RMSE of "
                     f"{ARM_NAMES[row.versus]} minus {ARM_NAMES[row.arm]} to the "
                     f"{TARGET_NAMES[row.target]} {gap.format('.3f')}: {state}.")
    return lines


def selection_lines(selection: pd.DataFrame) -> list[str]:
    edges = selection[selection["grid_edge"]]
    if edges.empty:
        return ["- No learning rate was selected at a grid edge (a choice at an end of the grid "
                f"within {PLATEAU:g} of its neighbour's validation loss is a flat optimum)."]
    cells = "; ".join(f"{r.model}/{r.family}/{ARM_NAMES[r.loss]} at {r.learning_rate:g}"
                      for r in edges.itertuples())
    return [f"- {len(edges)} of {len(selection)} learning rates were selected at a grid edge "
            f"(flagged: a wider grid might choose otherwise; every loss had the same grid; ends "
            f"within {PLATEAU:g} of their neighbour count as flat): "
            f"{cells}."]


def real_data_lines(engel: pd.DataFrame, stackloss: pd.DataFrame, failures: list[str]) -> list[str]:
    """The oracle agreement (an exact fact checked numerically) and what Engel's lines say."""
    mean, median, high = (engel.iloc[i] for i in range(3))
    side = "below" if mean["at_p90_income"] < median["at_p90_income"] else "above"
    agree = ("agree" if not failures else "**disagree**: " + "; ".join(failures))
    return [
        f"- Oracles (a numerical check of exact facts, like a theorem claim): losslab's fits "
        f"{agree} — Engel coefficients within {engel['coefficient_rel_diff'].max():.1e} and "
        f"objectives within {engel['objective_rel_diff'].abs().max():.1e} (relative) of "
        f"statsmodels' OLS/QuantReg; stack-loss Huber coefficients within "
        f"{stackloss['rel_diff'].max():.1e} of RLM(HuberT) at its scale "
        f"{stackloss['rlm_scale'].iloc[0]:.4f} (losslab's residuals give MAD scale "
        f"{stackloss['losslab_residual_scale'].iloc[0]:.4f}: RLM's fixed point reproduced).",
        f"- Engel: at the median income "
        f"{mean['median_income']:.0f} the mean line predicts {mean['at_median_income']:.0f}, "
        f"the median line {median['at_median_income']:.0f} and the 0.9-quantile line "
        f"{high['at_median_income']:.0f}; at the 90th-percentile income "
        f"{mean['p90_income']:.0f}: {mean['at_p90_income']:.0f}, "
        f"{median['at_p90_income']:.0f}, {high['at_p90_income']:.0f}. Slopes: mean "
        f"{mean['slope']:.3f}, median {median['slope']:.3f}, 0.9-quantile {high['slope']:.3f}: "
        f"the 0.9-quantile line is {'steeper' if high['slope'] > median['slope'] else 'flatter'}"
        " than the median line (the spread of food expenditure changes with income), so the "
        "lines are not parallel and 'the' regression line depends on the statistic asked for; "
        f"at high income the mean line lies {side} the median line.",
    ]


def takeaway_text(verdict: str, headline: Interval, family: str) -> str:
    ratio = headline.format(".2f")
    if verdict == "refuted":
        return (f"Here the loss did not reliably pick its statistic: under {family} noise the "
                f"squared-error fit's error to the median (the typical value) was ×{ratio} the "
                "absolute-error fit's, so pick a loss by validation rather than by this rule.")
    hedge = "" if verdict == "supported" else " (it held for the linear model, not everywhere)"
    return (f"Choose the loss by the statistic you need{hedge}: under skewed ({family}) noise "
            f"the squared-error (L2) fit missed the conditional median — the typical value — "
            f"by ×{ratio} as much as the absolute-error (L1) fit did, while L2 fitted the "
            "conditional mean (the average, what totals and expected costs need) best and the "
            "pinball loss at τ = 0.9 the 90th percentile.")


def guide_rows(checks: pd.DataFrame, numbers: dict[str, Interval], family: str) -> list[GuideRow]:
    """A row per statistic whose checks all hold (the evidence carries its ratio)."""
    held = lambda prefix: bool(checks[checks["check"].str.startswith(prefix)]["holds"].all())
    rows = []
    if held("L1 closer"):
        rows.append(GuideRow(
            "skewed noise, and you want the typical value (the conditional median)",
            "L1 (absolute error) or pinball τ = 0.5",
            f"claim 9: L2's RMSE to the median ×{numbers['l2_over_l1_to_median'].format('.2f')} "
            f"L1's (linear model, {family} noise)", favours="other"))
    if held("L2 closer"):
        rows.append(GuideRow(
            "you want the mean (totals, expected cost), even under skewed noise",
            "L2 (squared error)",
            f"claim 9: L1's RMSE to the mean ×{numbers['l1_over_l2_to_mean'].format('.2f')} "
            f"L2's (linear model, {family} noise)", favours="l2"))
    if held("pinball"):
        rows.append(GuideRow(
            "you want a quantile (an upper level, a prediction bound)",
            "pinball (quantile) loss at that τ",
            "claim 9: the next-best loss's RMSE to the 0.9-quantile "
            f"×{numbers['rival_over_pinball_to_q90'].format('.2f')} the pinball's",
            favours="other"))
    return rows


def target_plot(chosen: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Per model and noise family: each loss's mean RMSE to the mean, median and 0.9-quantile
    (points; the 95% interval over seeds as bars). Each loss's lowest bar should be its own."""
    import matplotlib.pyplot as plt

    from experiments import plots

    cells = list(chosen.groupby(["model", "family"], sort=False).groups)
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.4), sharey=True,
                             squeeze=False)
    for ax, (model, family) in zip(axes[0], cells, strict=True):
        for k, target in enumerate(TARGETS):
            for j, loss in enumerate(ARM_NAMES):
                rmse = statistics.mean(_arm(chosen, model, family, loss, target))
                ax.errorbar(j + 0.25 * (k - 1), rmse.estimate,
                            yerr=[[rmse.estimate - rmse.low], [rmse.high - rmse.estimate]],
                            marker="os^"[k], color=f"C{k}", capsize=2, ls="none",
                            label=TARGET_NAMES[target] if j == 0 else None)
        ax.set_xticks(range(len(ARM_NAMES)), [ARM_NAMES[a].split(" (")[0] for a in ARM_NAMES],
                      rotation=45, fontsize=7)
        ax.set_title(f"{model}, {family}", fontsize=9)
    axes[0][0].set_ylabel("RMSE of the fit to the target")
    axes[0][0].legend(fontsize=7, title="target", title_fontsize=7)
    fig.suptitle("Each loss is closest to its own statistic (95% intervals over seeds)")
    fig.tight_layout()
    return plots.save_png(fig, path)


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool) -> Section:
    """The rule on compute's tables (see rule_text)."""
    setup = types.SimpleNamespace(**tables["setup"].to_dict("records")[0])
    selection, chosen = select_rates(tables["runs"])
    checks = checks_table(chosen, setup.equivalence_margin)
    failures = oracle_failures(tables["engel"], tables["stackloss"], setup.oracle_tolerance)
    verdict = verdict_of(checks, failures)
    numbers = key_numbers_of(chosen, HEADLINE_FAMILY)
    outdir = pathlib.Path(workdir) / KEY
    outdir.mkdir(parents=True, exist_ok=True)
    logging.info("claim9: verdict %s", verdict)
    held = int(checks["holds"].sum())
    summary = (f"{held}/{len(checks)} checks hold; linear model, {HEADLINE_FAMILY} noise: L2's "
               f"RMSE to the median ×{numbers['l2_over_l1_to_median'].format('.2f')} L1's, "
               f"L1's to the mean ×{numbers['l1_over_l2_to_mean'].format('.2f')} L2's.")
    missing = checks[~checks["holds"]]
    limits = ("Every check held; the MLP's estimation error (its RMSE to its own target) is "
              "larger than the linear model's, so its gaps are smaller relative to it."
              if missing.empty else "Not shown: " + "; ".join(
                  f"{r.model}/{r.family}: {r.check}" for r in missing.itertuples()) + ".")
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(setup), rule=rule_text(setup),
        verdict=verdict, summary=summary, limits=limits,
        findings="\n".join([*check_lines(checks), *selection_lines(selection),
                            *real_data_lines(tables["engel"], tables["stackloss"], failures)]),
        tables={"checks": checks, "selection": selection, "targets": tables["targets"],
                "engel": tables["engel"], "stackloss": tables["stackloss"]},
        plots={"rmse_to_targets": target_plot(chosen, outdir / "rmse_to_targets.png")},
        key_numbers=numbers, kind="empirical", part="loss", headline="l2_over_l1_to_median",
        units={**dict.fromkeys(numbers, RATIO_UNIT),
               "gaussian_l1_minus_l2_to_mean": "difference of RMSEs to the mean (noise stds)"},
        takeaway=takeaway_text(verdict, numbers["l2_over_l1_to_median"], HEADLINE_FAMILY),
        guide=guide_rows(checks, numbers, HEADLINE_FAMILY),
    )
