"""Claim 5: "An L2 penalty can be used with any loss (MSE or cross-entropy)".

De-confounded (configs/claims/claim5_penalty_any_loss.py): each dataset is trained with several
losses — cross-entropy and the square loss on digits and MNIST-1D, squared error, L1 and Huber on
diabetes and a synthetic teacher — so a difference between losses is not a difference between
datasets. Each (dataset, loss) gets a coupled L2 λ sweep over seeds and ≥ 5 data splits; λ is
selected per split on its validation split; the test metric is the same for every loss of a
dataset (accuracy; MSE). Intervals are nested bootstraps over splits then seeds
(experiments.statistics). Collapse — accuracy at chance or constant predictions, what a large
coupled λ does (CE = log 10 on 10 classes) — is detected per run and reported as such, not
hidden behind "no run diverged".
"""

from __future__ import annotations

import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from absl import logging

from configs.claims import claim5_penalty_any_loss as claim_config
from experiments import plots, statistics
from experiments.claims import trained_runs
from experiments.claims.section import Section

KEY = "claim5"
TITLE = "An L2 penalty works with any loss"
CLAIM = "An L2 penalty can be used with any loss (mean squared error or cross-entropy)."
SPLIT_FIELD = {"digits": "split_seed", "diabetes": "split_seed", "mnist1d": "data_seed",
               "synthetic": "data_seed"}


def runs_frame(name: str, groups: list[trained_runs.TrainedGroup],
               chance_margin: float) -> pd.DataFrame:
    """One row per run: dataset, loss, split, λ, seed, validation and test metric, collapse."""
    frames = []
    for g in groups:
        classification = g.dataset.task == "classification"
        metric = "accuracy" if classification else "mse"
        outputs = g.outputs(g.dataset.x_test)
        test = g.test_metrics()
        if classification:
            predicted = outputs.argmax(-1)
            constant = (predicted == predicted[:, :1]).all(1)
            chance = test["test_accuracy"] <= 1.0 / g.dataset.num_classes + chance_margin
            collapsed = constant | chance
        else:
            spread = outputs[..., 0].std(1)
            collapsed = spread < 1e-3 * float(np.std(g.dataset.y_test))
        frames.append(pd.DataFrame({
            "dataset": name,
            "loss": g.config.loss,
            "split": int(g.config.dataset[SPLIT_FIELD[g.config.dataset.name]]),
            "penalty_strength": g.hyper["penalty_strength"].astype(np.float64),
            "seed": g.hyper["seed"].astype(int),
            "metric": metric,
            "val": np.asarray(g.metrics[f"val_{metric}"], np.float64)[:, -1],
            "test": test[f"test_{metric}"],
            "collapsed": collapsed,
            "diverged": np.asarray(g.metrics["diverged"], bool),
        }))
    return pd.concat(frames, ignore_index=True)


def select_lambda(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, loss, split): the λ with the best mean validation metric over seeds
    (accuracy: highest; MSE: lowest). The test column is not read."""
    rows = []
    for (dataset, loss, split), part in runs.groupby(["dataset", "loss", "split"]):
        means = part.groupby("penalty_strength")["val"].mean()
        best = means.idxmax() if part["metric"].iloc[0] == "accuracy" else means.idxmin()
        rows.append({"dataset": dataset, "loss": loss, "split": split,
                     "selected_lambda": float(best)})
    return pd.DataFrame(rows)


def improvement_table(runs: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, loss): test metric at the selected λ vs at λ = 0, paired by (split, seed),
    nested interval over splits then seeds; improvement > 0 means better (accuracy up, MSE
    down); collapse counts over the whole λ grid."""
    rows = []
    chosen = selected.set_index(["dataset", "loss", "split"])["selected_lambda"]
    for (dataset, loss), part in runs.groupby(["dataset", "loss"], sort=False):
        sign = 1.0 if part["metric"].iloc[0] == "accuracy" else -1.0
        at_sel, at_zero = [], []
        for split, sp in part.groupby("split"):
            lam = chosen[(dataset, loss, split)]
            at_sel.append(sp[sp["penalty_strength"] == lam].sort_values("seed")["test"].to_numpy())
            at_zero.append(sp[sp["penalty_strength"] == 0].sort_values("seed")["test"].to_numpy())
        at_sel, at_zero = np.array(at_sel), np.array(at_zero)  # (splits, seeds)
        gain = statistics.paired_difference(sign * at_sel, sign * at_zero, nested=True)
        collapsed = part.groupby("penalty_strength")["collapsed"].mean()
        rows.append({
            "dataset": dataset, "loss": loss, "metric": part["metric"].iloc[0],
            "splits": at_sel.shape[0], "seeds": at_sel.shape[1],
            "selected_lambdas": ", ".join(
                f"{v:g}" for v in sorted(set(selected[(selected["dataset"] == dataset)
                                                      & (selected["loss"] == loss)]
                                             ["selected_lambda"]))),
            **statistics.mean(at_zero, nested=True).as_columns("test_at_0"),
            **statistics.mean(at_sel, nested=True).as_columns("test_at_selected"),
            **gain.as_columns("improvement"),
            "p_value": gain.p_value,
            "helps": gain.low > 0,
            "hurts": gain.high < 0,
            "collapse_lambdas": ", ".join(f"{lam:g}" for lam, f in collapsed.items() if f > 0.5)
            or "none",
            "collapsed_runs": int(part["collapsed"].sum()),
            "diverged_runs": int(part["diverged"].sum()),
        })
    table = pd.DataFrame(rows)
    # "Helps for some pair" combines len(table) comparisons: Holm-adjust before counting.
    adjusted, reject = statistics.holm(table["p_value"].to_numpy())
    table["p_holm"] = adjusted
    table["helps_holm"] = reject & (table["improvement"] > 0)
    table["hurts_holm"] = reject & (table["improvement"] < 0)
    return table


def verdict(table: pd.DataFrame) -> str:
    """All must help (each at 95%: an intersection needs no correction); "some help" and "hurts
    somewhere" are read from the Holm-adjusted comparisons."""
    if table["helps"].all():
        return "supported"
    if table["helps_holm"].any() or not table["hurts_holm"].any():
        return "qualified"
    return "refuted"


RULE = (
    "For each (dataset, loss), λ is selected per data split on its validation split; the "
    "penalty *helps* if the test metric at the selected λ beats λ = 0 with the paired 95% "
    "interval (nested bootstrap over splits, then seeds) above 0, and *hurts* if it is below 0. "
    "**supported** if it helps for every loss on every dataset; **refuted** if it helps for none "
    "and hurts somewhere (these two read with Holm's correction over the pairs); **qualified** "
    "otherwise (it helps for some losses or datasets only, "
    "or never significantly but never hurts). Collapse (accuracy within the chance margin of "
    "1/classes, or one class for every test input; constant regression outputs) is reported per "
    "λ: a penalty that can collapse a model is usable only with λ tuned."
)


def _plot(runs: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    datasets = list(dict.fromkeys(runs["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.6 * len(datasets), 3.3))
    axes = np.atleast_1d(axes)
    positive = runs["penalty_strength"][runs["penalty_strength"] > 0]
    for ax, dataset in zip(axes, datasets, strict=True):
        part = runs[runs["dataset"] == dataset]
        for k, (loss, lp) in enumerate(part.groupby("loss")):
            mean = lp.groupby("penalty_strength")["test"].mean()
            ax.plot(mean.index, mean.values, "-o", ms=3, color=f"C{k}", label=loss)
        ax.set_xscale("symlog", linthresh=float(positive.min()))
        ax.set_xlabel("λ")
        ax.set_ylabel("test " + part["metric"].iloc[0])
        if part["metric"].iloc[0] == "mse":
            ax.set_yscale("log")
        ax.set_title(dataset, fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("Coupled L2 λ sweep, every loss on the same data (mean over splits × seeds)")
    fig.tight_layout()
    return plots.save_png(fig, path)


def run(workdir: pathlib.Path, quick: bool) -> Section:
    c = claim_config.get_config("quick" if quick else "default")
    outdir = pathlib.Path(workdir) / KEY
    outdir.mkdir(parents=True, exist_ok=True)
    runs = pd.concat(
        [runs_frame(name, trained_runs.train(c.tasks[name], on_validation=True),
                    float(c.chance_margin)) for name in c.tasks],
        ignore_index=True,
    )
    selected = select_lambda(runs)
    table = improvement_table(runs, selected)
    outcome = verdict(table)

    lines = []
    for row in table.to_dict("records"):
        scale, unit, spec = (100, " pt", ".2f") if row["metric"] == "accuracy" else (1, "", ".4g")
        gain = statistics.Interval(row["improvement"], row["improvement_low"],
                                   row["improvement_high"])
        lines.append(
            f"- **{row['dataset']} / {row['loss']}:** test {row['metric']} "
            f"{row['test_at_0'] * scale:{spec}} at λ = 0 → {row['test_at_selected'] * scale:{spec}}"
            f" at the selected λ ({row['selected_lambdas']}); improvement "
            f"{gain.format(spec, scale=scale, unit=unit)} — "
            + ("**helps**" if row["helps"] else "**hurts**" if row["hurts"]
               else "no difference beyond noise")
            + f". Collapse at λ ∈ {{{row['collapse_lambdas']}}} ({row['collapsed_runs']} runs); "
            f"{row['diverged_runs']} diverged."
        )
    helped = table[table["helps"]]
    lines.append(
        f"- The coupled L2 penalty helps beyond noise for {len(helped)} of {len(table)} "
        f"(dataset, loss) pairs: "
        + (", ".join(f"{r.dataset}/{r.loss}" for r in helped.itertuples()) or "none")
        + f"; {int(table['helps_holm'].sum())} after Holm's correction over the {len(table)} "
        f"comparisons."
    )
    lines.append(f"- Verdict: **{outcome}**.")
    first = c.tasks[next(iter(c.tasks))]
    setup = (
        f"Datasets {', '.join(c.tasks)}; classification losses softmax_cross_entropy and "
        f"one_hot_squared_error, regression losses squared_error, absolute_error, huber (δ = "
        f"{first.loss_knobs.delta:g}). MLP, {first.model.widths[0]} hidden units; Adam lr "
        f"{first.learning_rate:g}, cosine decay, minibatch {first.batch_size}, {first.steps} "
        f"steps; coupled λ·½‖W‖² on the kernels, λ ∈ {list(first.sweep.penalty_strength)} × "
        f"{len(first.sweep.seed)} seeds × {c.splits} data splits (digits, diabetes: split_seed; "
        f"mnist1d, synthetic: data_seed). λ selected on a validation split "
        f"({first.dataset.validation_fraction:.0%} of the training data) per split. Config: "
        f"`configs/claims/claim5_penalty_any_loss.py`."
    )
    summary = (
        f"L2 helps beyond noise for {len(helped)}/{len(table)} (dataset, loss) pairs; "
        + "; ".join(
            f"{r['dataset']}/{r['loss']} "
            + statistics.Interval(r["improvement"], r["improvement_low"],
                                  r["improvement_high"]).format(
                ".2f" if r["metric"] == "accuracy" else ".3g",
                scale=100 if r["metric"] == "accuracy" else 1,
                unit=" pt" if r["metric"] == "accuracy" else "")
            for r in table.to_dict("records")
        )
        + f"; collapse in {int(table['collapsed_runs'].sum())} runs (large λ)."
    )
    logging.info("claim5: verdict %s", outcome)
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup, rule=RULE, verdict=outcome,
        findings="\n".join(lines), summary=summary,
        tables={"improvement": table, "selected_lambda": selected, "runs": runs},
        plots={"lambda_sweep": _plot(runs, outdir / "lambda_sweep.png")},
    )
