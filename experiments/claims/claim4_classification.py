"""Claim 4: "Cross-entropy, not L2, is the common loss for classification".

That cross-entropy is the *common* choice is a fact about practice, not something an experiment
can test; the testable part is whether it is *needed*: does the square loss (Hui & Belkin 2021:
mean squared error of the raw outputs to the one-hot vector) train classifiers that are worse by
more than seed noise? Each loss is read at its own best learning rate from a grid, selected on a
validation split carved from the training data (the test split is read only for reporting), on
digits and MNIST-1D with an MLP and a small CNN (configs/claims/claim4_classification.py). The
budget is checked (every loss's validation accuracy must change by < 0.1 point over the last 10%
of steps); a cell that fails is retrained at the next, longer budget (train_to_budget), and one
that fails at the last is reported as not converged and not counted; calibration (ECE and
NLL after temperature scaling fitted on validation) and lr sensitivity are reported columns.
"""

from __future__ import annotations

import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.optimize
from absl import logging

from configs.claims import claim4_classification as claim_config
from experiments import data as data_lib
from experiments import plots, statistics
from experiments.claims import trained_runs
from experiments.claims.section import Section

KEY = "claim4"
TITLE = "Cross-entropy vs the square loss for classification"
CLAIM = "Cross-entropy, not L2 (squared error), is the common loss for classification."
CE, SQUARE, HINGE = claim_config.LOSSES
CELL = ["dataset", "model"]
HUI_BELKIN_GAP = 0.005  # square loss no worse than CE by more than "about half a point"
STABILITY_COLUMNS = ("val_tail_change",)
BUDGET_TOLERANCE = 0.001  # validation accuracy may change by < 0.1 point over the last 10%
TAIL = 0.1
ECE_BINS = 15


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean softmax cross-entropy of logits / temperature (nats)."""
    log_p = _log_softmax(logits / temperature)
    return float(-np.take_along_axis(log_p, labels[:, None], -1).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimizing the validation NLL of softmax(logits / T) (Guo et al. 2017)."""
    result = scipy.optimize.minimize_scalar(lambda t: nll(logits, labels, np.exp(t)),
                                            bounds=(-6.0, 6.0), method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS):
    """ECE: Σ_b (|b|/n)·|accuracy_b − confidence_b| over equal-width confidence bins."""
    prob = np.exp(_log_softmax(logits))
    confidence, predicted = prob.max(-1), prob.argmax(-1)
    correct = predicted == labels
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def runs_table(groups: list[trained_runs.TrainedGroup]) -> pd.DataFrame:
    """One row per run: cell, loss, lr, seed, validation accuracy (final and its change over the
    last 10% of logged steps), test accuracy, and calibration after temperature scaling fitted
    on validation (test ECE and NLL)."""
    frames = []
    for g in groups:
        val_curve = np.asarray(g.metrics["val_accuracy"], np.float64)
        back = max(1, int(np.ceil(TAIL * (val_curve.shape[1] - 1))))
        test = g.test_metrics()
        val_logits = g.outputs(g.dataset.x_val)
        y_val, y_test = np.asarray(g.dataset.y_val), np.asarray(g.dataset.y_test)
        calib = []
        for v, t in zip(val_logits, test["test_logits"], strict=True):
            temp = fit_temperature(v, y_val) if np.isfinite(v).all() else np.nan
            ok = np.isfinite(temp) and np.isfinite(t).all()
            calib.append((temp, nll(t, y_test, temp) if ok else np.nan,
                          expected_calibration_error(t / temp, y_test) if ok else np.nan))
        temp, test_nll_ts, ece = (np.array(c) for c in zip(*calib, strict=True))
        frames.append(pd.DataFrame({
            "dataset": g.config.dataset.name,
            "model": g.config.model.name,
            "steps": int(g.config.steps),
            "loss": g.config.loss,
            "learning_rate": g.hyper["learning_rate"].astype(float),
            "seed": g.hyper["seed"].astype(int),
            "val_accuracy": val_curve[:, -1],
            "val_tail_change": val_curve[:, -1] - val_curve[:, -1 - back],
            "test_accuracy": test["test_accuracy"],
            "test_loss": test["test_nll"],
            "temperature": temp,
            "test_nll_ts": test_nll_ts,
            "test_ece_ts": ece,
            "diverged": np.asarray(g.metrics["diverged"], bool),
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*CELL, "loss", "learning_rate", "seed"], ignore_index=True)


def _train_runs(config) -> pd.DataFrame:
    return runs_table(trained_runs.train(config, on_validation=True))


def settled_cells(runs: pd.DataFrame) -> pd.Series:
    """Per cell: whether every loss's validation accuracy (seed mean, at its best lr, selected on
    validation) changed by < BUDGET_TOLERANCE over the last TAIL of steps."""
    best = best_table(runs)
    return best.groupby(CELL)["val_tail_change"].agg(lambda s: bool(s.abs().max()
                                                                    < BUDGET_TOLERANCE))


def train_to_budget(config, ladder: tuple[int, ...], train=_train_runs) -> pd.DataFrame:
    """The runs table, each cell at the first budget of `ladder` (steps) where it settles.

    Every cell trains at ladder[0] steps; a cell whose validation accuracy still moves
    (settled_cells) is retrained alone at the next budget, with a cosine schedule over the new
    length and its lr re-selected there, until it settles or the ladder ends (the last budget's
    runs are then reported as not converged). The budget, like the lr, is chosen on the
    validation split only. `train(config)` returns a runs table (runs_table)."""
    first = config.copy_and_resolve_references()
    first.steps = ladder[0]
    runs = train(first)
    for steps in ladder[1:]:
        settled = settled_cells(runs)
        pending = [cell for cell, ok in settled.items() if not ok]
        if not pending:
            break
        retrained = []
        for dataset, model in pending:
            cell = config.copy_and_resolve_references()
            cell.steps = steps
            cell.sweep.dataset.name = (dataset,)
            cell.sweep.model.name = (model,)
            retrained.append(train(cell))
        keep = ~runs.set_index(CELL).index.isin(pending)
        runs = pd.concat([runs[keep], *retrained], ignore_index=True)
    return runs.sort_values([*CELL, "loss", "learning_rate", "seed"], ignore_index=True)


def _where(frame: pd.DataFrame, dataset: str, model: str, loss: str) -> pd.Series:
    return (frame["dataset"] == dataset) & (frame["model"] == model) & (frame["loss"] == loss)


def lr_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss × learning rate: accuracy mean / std over seeds and divergence rate."""
    table = runs.groupby([*CELL, "loss", "learning_rate"], sort=True).agg(
        seeds=("seed", "size"),
        val_acc_mean=("val_accuracy", "mean"),
        acc_mean=("test_accuracy", "mean"),
        acc_std=("test_accuracy", "std"),
        divergence_rate=("diverged", "mean"),
    ).reset_index()
    # lr sensitivity: test accuracy at every lr of the grid, with its interval over seeds.
    ivs = [statistics.mean(part.sort_values("seed")["test_accuracy"].to_numpy())
           for _, part in runs.groupby([*CELL, "loss", "learning_rate"], sort=True)]
    table["acc_low"] = [iv.low for iv in ivs]
    table["acc_high"] = [iv.high for iv in ivs]
    return table


def best_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss at its best learning rate (highest mean VALIDATION accuracy over seeds).

    Seed spread (std, min, max) and the stability diagnostics are of the runs at that rate;
    divergence_rate and max_stable_lr are over the whole grid.
    """
    by_lr = lr_table(runs)
    rows = []
    for (dataset, model, loss), frame in by_lr.groupby([*CELL, "loss"], sort=True):
        best_lr = float(frame.loc[frame["val_acc_mean"].idxmax(), "learning_rate"])
        mine = runs[_where(runs, dataset, model, loss)]
        at_best = mine[mine["learning_rate"] == best_lr]
        stable = frame.loc[frame["divergence_rate"] == 0, "learning_rate"]
        row = {
            "dataset": dataset,
            "model": model,
            "loss": loss,
            "best_lr": best_lr,
            "seeds": len(at_best),
            "acc_mean": at_best["test_accuracy"].mean(),
            "acc_std": at_best["test_accuracy"].std(ddof=1),
            "acc_min": at_best["test_accuracy"].min(),
            "acc_max": at_best["test_accuracy"].max(),
            "divergence_rate": mine["diverged"].mean(),
            "max_stable_lr": float(stable.max()) if len(stable) else np.nan,
            "acc_worst_lr": float(frame["acc_mean"].min()),
        }
        if "steps" in at_best:
            row["steps"] = int(at_best["steps"].max())
        for column in ("test_nll_ts", "test_ece_ts", "temperature"):
            if column in at_best:
                iv = statistics.mean(at_best.sort_values("seed")[column].to_numpy())
                row.update(iv.as_columns(column))
        for column in STABILITY_COLUMNS:
            if column in at_best:
                row[column] = at_best[column].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_table(
    best: pd.DataFrame, runs: pd.DataFrame, n_test: dict[str, int]
) -> pd.DataFrame:
    """Per cell: square loss and hinge against cross-entropy, each at its own best lr.

    gap = acc(loss) − acc(CE) in accuracy (fraction), paired over the seeds the two share
    (seed = initialization and minibatch order), with the test set's binomial noise
    (experiments.statistics.with_test_noise; n_test examples per dataset); noise = the 95%
    interval's half-width, gap_*_low / gap_*_high its ends.
    """
    rows = []
    for (dataset, model), frame in best.groupby(CELL, sort=True):
        at = frame.set_index("loss")
        ce = at.loc[CE]

        def at_best(loss, dataset=dataset, model=model, at=at):
            mine = runs[_where(runs, dataset, model, loss)]
            mine = mine[mine["learning_rate"] == at.loc[loss, "best_lr"]]
            return mine.set_index("seed")["test_accuracy"]

        ce_seeds = at_best(CE)
        row = {"dataset": dataset, "model": model,
               "acc_ce": ce["acc_mean"], "std_ce": ce["acc_std"]}
        if "steps" in frame:
            row["steps"] = int(frame["steps"].max())
        for loss, name in ((SQUARE, "sq"), (HINGE, "hinge")):
            other = at.loc[loss]
            shared = at_best(loss).index.intersection(ce_seeds.index)
            iv = statistics.with_test_noise(at_best(loss)[shared].to_numpy(),
                                            ce_seeds[shared].to_numpy(), n_test[dataset])
            row.update({
                f"acc_{name}": other["acc_mean"],
                f"std_{name}": other["acc_std"],
                f"gap_{name}": iv.estimate,
                f"gap_{name}_low": iv.low,
                f"gap_{name}_high": iv.high,
                f"noise_{name}": iv.half_width,
                f"p_{name}": iv.p_value,
            })
        # The budget: every loss's validation accuracy settled (seed mean) at its best lr.
        row["max_val_tail_change"] = float(frame["val_tail_change"].abs().max())
        row["budget_converged"] = bool(row["max_val_tail_change"] < BUDGET_TOLERANCE)
        # "Better" only where the paired interval excludes zero, at a converged budget.
        row["ce_beats_sq"] = bool(row["gap_sq_high"] < 0 and row["budget_converged"])
        row["sq_beats_ce"] = bool(row["gap_sq_low"] > 0 and row["budget_converged"])
        row["sq_within_half_point"] = row["gap_sq"] >= -HUI_BELKIN_GAP
        row["std_sq_le_ce"] = row["std_sq"] <= row["std_ce"]
        row["agrees_hui_belkin"] = row["sq_within_half_point"] and row["std_sq_le_ce"]
        rows.append(row)
    table = pd.DataFrame(rows)
    # The verdict counts wins over several cells: a win must survive Holm's correction too.
    table["p_sq_holm"], reject = statistics.holm(table["p_sq"].to_numpy())
    table["ce_beats_sq"] &= reject
    table["sq_beats_ce"] &= reject
    return table


def verdict(comparison: pd.DataFrame) -> str:
    """supported: CE beats the square loss by more than noise in a majority of cells;
    refuted: the square loss beats CE by more than noise in a majority; qualified otherwise."""
    cells = len(comparison)
    if int(comparison["ce_beats_sq"].sum()) * 2 > cells:
        return "supported"
    if int(comparison["sq_beats_ce"].sum()) * 2 > cells:
        return "refuted"
    return "qualified"


RULE = (
    "Each loss is taken at its own best learning rate. In each dataset × model cell the gap "
    "acc(square) − acc(CE) gets a 95% interval, paired over the shared seeds and including the "
    "test set's binomial sampling noise; a loss beats the other where that interval excludes 0 "
    "(and after Holm's correction over the cells) and the budget has converged (every loss's "
    "validation accuracy at its best lr changed by "
    f"< {100 * BUDGET_TOLERANCE:g} point over the last {TAIL:.0%} of steps, seed mean; a cell "
    "that fails is retrained at the next, longer budget, and one that fails at the last budget "
    "is reported as not converged and counts for neither). lr and budget are selected on the "
    "validation split. "
    "**supported** (cross-entropy is needed) if CE beats the square loss "
    f"in a majority of cells; **refuted** if the square loss beats CE in a majority; "
    f"**qualified** otherwise (the square loss is within noise, or the "
    f"cells disagree: cross-entropy is common by convention, not necessity). Hui & Belkin's "
    f"finding (the square loss comparable to or better than CE) counts as reproduced in a cell "
    f"when the square loss is at most {100 * HUI_BELKIN_GAP:g} points below CE (gap ≥ "
    f"−{100 * HUI_BELKIN_GAP:g} pt) and its seed std is no larger than CE's."
)


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def findings(best: pd.DataFrame, comparison: pd.DataFrame, result: str) -> str:
    cells = len(comparison)
    lines = []
    for row in comparison.itertuples(index=False):
        if row.ce_beats_sq:
            word = "CE better than square by more than noise"
        elif row.sq_beats_ce:
            word = "square better than CE by more than noise"
        else:
            word = "within noise"
        lines.append(
            f"- {row.dataset} / {row.model}: CE {100 * row.acc_ce:.2f} ± {100 * row.std_ce:.2f}, "
            f"square {100 * row.acc_sq:.2f} ± {100 * row.std_sq:.2f}, "
            f"hinge {100 * row.acc_hinge:.2f} ± {100 * row.std_hinge:.2f} % "
            f"(square − CE {_points(row.gap_sq)} pt, paired 95% interval with test noise "
            f"[{_points(row.gap_sq_low)}, {_points(row.gap_sq_high)}] pt: {word})."
        )
    ce_wins, sq_wins = int(comparison["ce_beats_sq"].sum()), int(comparison["sq_beats_ce"].sum())
    agree = int(comparison["agrees_hui_belkin"].sum())
    within = int(comparison["sq_within_half_point"].sum())
    lower_std = int(comparison["std_sq_le_ce"].sum())
    hinge_behind = int((comparison["gap_hinge"] < -comparison["noise_hinge"]).sum())
    lines.append(
        f"- Over {cells} cells: CE beats the square loss beyond noise in {ce_wins}, the square "
        f"loss beats CE beyond noise in {sq_wins}; mean gap (square − CE) "
        f"{_points(comparison['gap_sq'].mean())} pt. Verdict: **{result}**."
    )
    lines.append(
        f"- Hui & Belkin (square at most ~0.5 pt below CE or better, with equal or smaller seed "
        f"variance): "
        f"the accuracy part holds in {within}/{cells} cells, the variance part in "
        f"{lower_std}/{cells}, both in {agree}/{cells}: losslab's numbers "
        + ("agree." if agree * 2 > cells else "agree only partly." if agree else "do not agree.")
    )
    lines.append(
        f"- The multiclass hinge trails CE beyond noise in {hinge_behind}/{cells} cells "
        f"(mean gap {_points(comparison['gap_hinge'].mean())} pt)."
    )
    top = best["best_lr"] == best["best_lr"].max()
    if top.any():
        lines.append(
            f"- {int(top.sum())}/{len(best)} (cell, loss) pairs have their best lr at the top of "
            f"the grid ({best['best_lr'].max():g}): a larger lr might do better for those."
        )
    diverged = best.groupby("loss")["divergence_rate"].mean()
    lines.append(
        "- Divergence over the whole lr grid: "
        + ", ".join(f"{loss} {100 * rate:.0f}%" for loss, rate in diverged.items()) + "."
    )
    for row in comparison.to_dict("records"):
        lines.append(
            f"- **Budget, {row['dataset']} / {row['model']}"
            + (f", {row['steps']} steps" if "steps" in row else "")
            + ":** largest |change of validation "
            f"accuracy| over the last {TAIL:.0%} of steps at the best lr "
            f"{100 * row['max_val_tail_change']:.2f} pt → "
            + ("converged." if row["budget_converged"]
               else f"**not converged** (≥ {100 * BUDGET_TOLERANCE:g} pt): this cell's gap is "
                    "a budget effect as much as a loss effect and is not counted.")
        )
    for row in best.to_dict("records"):
        if "test_ece_ts_low" not in row:
            continue
        ece, nll_ts = (statistics.Interval(row[c], row[f"{c}_low"], row[f"{c}_high"])
                       for c in ("test_ece_ts", "test_nll_ts"))
        lines.append(
            f"- {row['dataset']} / {row['model']} / {row['loss']}: lr sensitivity — test "
            f"accuracy {100 * row['acc_mean']:.2f}% at the selected lr {row['best_lr']:g}, "
            f"{100 * row['acc_worst_lr']:.2f}% at the worst lr of the grid; after temperature "
            f"scaling on validation (T = {row['temperature']:.2g}): test ECE "
            f"{ece.format('.3f')}, NLL {nll_ts.format('.3f')}."
        )
    return "\n".join(lines)


def accuracy_plot(runs: pd.DataFrame, best: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Test accuracy per cell and loss at its best lr: mean ± std bars and every seed as a dot."""
    cells = best[CELL].drop_duplicates().values.tolist()
    losses = [CE, SQUARE, HINGE]
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.2), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], cells, strict=True):
        for i, loss in enumerate(losses):
            row = best[_where(best, dataset, model, loss)].iloc[0]
            seeds = runs[_where(runs, dataset, model, loss)
                         & (runs["learning_rate"] == row["best_lr"])]
            ax.bar(i, 100 * row["acc_mean"], yerr=100 * row["acc_std"], color=f"C{i}", alpha=0.6,
                   capsize=4)
            ax.plot(np.full(len(seeds), i), 100 * seeds["test_accuracy"], "k.", ms=4)
        values = 100 * best[(best["dataset"] == dataset) & (best["model"] == model)]["acc_mean"]
        ax.set_ylim(max(0.0, values.min() - 8), min(100.0, values.max() + 3))
        ax.set_xticks(range(len(losses)), ["CE", "square", "hinge"])
        ax.set_title(f"{dataset} / {model}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy (%) at each loss's best lr")
    return plots.save_png(fig, path)


def lr_plot(by_lr: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Mean test accuracy against learning rate per loss, one panel per cell."""
    cells = by_lr[CELL].drop_duplicates().values.tolist()
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.0), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], cells, strict=True):
        cell = by_lr[(by_lr["dataset"] == dataset) & (by_lr["model"] == model)]
        for loss, frame in cell.groupby("loss", sort=False):
            ax.errorbar(frame["learning_rate"], 100 * frame["acc_mean"], 100 * frame["acc_std"],
                        marker="o", color=f"C{[CE, SQUARE, HINGE].index(loss)}", label=loss,
                        capsize=3)
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (Adam)")
        ax.set_title(f"{dataset} / {model}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    return plots.save_png(fig, path)


def setup_text(config, budgets: tuple[int, ...]) -> str:
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    return (
        f"Datasets {', '.join(config.sweep.dataset.name)} (10 classes; fixed train/test splits) × "
        f"models {', '.join(config.sweep.model.name)} (MLP {tuple(config.model.widths)}, CNN "
        f"channels {tuple(config.model.channels)} + dense {config.model.dense_width}) × losses "
        f"softmax_cross_entropy, one_hot_squared_error (raw outputs, k = M = 1) and "
        f"multi_margin (margin {config.loss_knobs.margin:g}); Adam ({config.schedule} lr "
        f"schedule), minibatch "
        f"{config.batch_size}, {_budget_words(budgets)}, no penalty, lr ∈ {{{lrs}}} × "
        f"{len(config.sweep.seed)} seeds (initialization and minibatch order). Each loss is read "
        f"at its own best lr, selected by mean accuracy over seeds on a validation split "
        f"({config.dataset.validation_fraction:.0%} of the training data, stratified, seed "
        f"{config.dataset.validation_seed}); test accuracy is the final step's. Hui & Belkin "
        f"report that the square loss may need more epochs than cross-entropy: the budget check "
        f"below says which budget each cell settled at. Intervals: 95%, paired over seeds, with "
        f"the test set's binomial noise (experiments.statistics)."
    )


def _budget_words(budgets: tuple[int, ...]) -> str:
    if len(budgets) == 1:
        return f"{budgets[0]} steps"
    later = ", then ".join(f"{b}" for b in budgets[1:])
    return (f"{budgets[0]} steps (then {later} for a cell whose validation accuracy has not "
            f"settled: that cell alone is retrained and its lr re-selected)")


def summary(comparison: pd.DataFrame) -> str:
    """Square loss minus cross-entropy per cell, for the report's verdict table."""
    cells = [
        f"{row['dataset']}/{row['model']} {100 * row['gap_sq']:+.2f} pt "
        f"[{_points(row['gap_sq_low'])}, {_points(row['gap_sq_high'])}]"
        for row in comparison.to_dict("records")
    ]
    ce_wins = int(comparison["ce_beats_sq"].sum())
    sq_wins = int(comparison["sq_beats_ce"].sum())
    return (
        f"square-loss accuracy minus cross-entropy's at each loss's best lr: {', '.join(cells)}; "
        f"cross-entropy better beyond noise in {ce_wins} of {len(comparison)} cells, square loss "
        f"in {sq_wins}."
    )


def run(workdir: pathlib.Path, quick: bool) -> Section:
    outdir = pathlib.Path(workdir) / KEY
    size = "quick" if quick else "default"
    config = claim_config.get_config(size)
    budgets = claim_config.BUDGETS[size]
    outdir.mkdir(parents=True, exist_ok=True)
    runs = train_to_budget(config, budgets)
    by_lr = lr_table(runs)
    best = best_table(runs)
    n_test = {name: data_lib.load({**config.dataset.to_dict(), "name": name}).x_test.shape[0]
              for name in runs["dataset"].unique()}
    comparison = comparison_table(best, runs, n_test)
    outcome = verdict(comparison)
    logging.info("%s: %s\n%s", KEY, outcome, comparison.to_string())
    figures = {
        "accuracy": accuracy_plot(runs, best, outdir / "accuracy.png"),
        "accuracy_vs_lr": lr_plot(by_lr, outdir / "accuracy_vs_lr.png"),
    }
    return Section(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        setup=setup_text(config, budgets),
        rule=RULE,
        verdict=outcome,
        findings=findings(best, comparison, outcome),
        summary=summary(comparison),
        tables={"comparison": comparison, "best_lr": best, "by_lr": by_lr, "runs": runs},
        plots=figures,
    )
