"""Claim 10: "Under label noise, bounded losses are more robust than cross-entropy".

Ghosh et al. (2017) prove that a loss whose sum over the K labels is constant (MAE on the
softmax probabilities) keeps the clean risk minimizer under symmetric label noise below
(K−1)/K; Zhang & Sabuncu (2018) trade that robustness against cross-entropy's ease of training
with L_q (generalized CE); Wang et al. (2019) add a reverse-CE term (symmetric CE). The test:
flip a fraction of the training labels (symmetric: to a uniform other class; asymmetric:
y -> y + 1 mod K) on digits and real MNIST, train an MLP with each loss at each lr of a grid,
select each loss's lr on validation (once on clean validation labels, an oracle, once on the
noisy ones a practitioner has), and read accuracy on the clean test split. Units: unit k redraws
the split, the flips and the initialization; gaps to CE are paired over units and test examples
(statistics.paired_accuracy_gap, McNemar's variance as a floor).

compute(workdir, quick) trains and returns the runs (per-example test correctness included);
judge(tables, workdir, quick) applies RULE and writes the section.
"""

from __future__ import annotations

import dataclasses
import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from absl import logging

from experiments import plots, shipped_configs, statistics
from experiments.claims import classifier_runs
from experiments.claims.section import GuideRow, Section, plot_dir

# configs/claims/claim10_label_noise.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim10_label_noise")

KEY = "claim10"
TITLE = "Label noise: bounded losses vs cross-entropy"
CLAIM = "Under label noise, bounded losses are more robust than cross-entropy."
CE, MAE, SQUARE, GCE, SCE = claim_config.LOSSES
OTHERS = (MAE, SQUARE, GCE, SCE)  # each compared with CE
# The candidates for "the best bounded loss": bounded in the true class's probability p_y (MAE:
# 2(1 − p_y); GCE: (1 − p_y^q)/q). SCE (CE plus a bounded reverse-CE term: unbounded) and the
# square loss on raw outputs (unbounded) are reported beside, not candidates.
BOUNDED = (MAE, GCE)
PRIMARY = GCE  # named before the numbers: Zhang & Sabuncu's L_q, reported alone beside the best
SHORT = {CE: "CE", MAE: "MAE", SQUARE: "square", GCE: "GCE", SCE: "SCE"}
CELL = ["dataset", "kind", "rate"]
SELECTIONS = ("noisy", "clean")  # which validation labels select the lr
TESTED_RATE = 0.4  # the rule counts cells at this rate and above ...
ASYMMETRIC_LIMIT = 0.5  # ... where a pair flip leaves the true class the majority label
MARGIN = 0.01  # TOST margin (accuracy): "refuted" needs the pooled gap shown inside it


# ------------------------------------------------------------------------------------------
# compute
# ------------------------------------------------------------------------------------------


def unit_config(config, unit: int, kind: str, rates: tuple[float, ...]):
    """Unit k's config for one flip kind: claim 4's unit (split, validation carve and seed k;
    the flips are drawn from the split seed) with the kind and its rates."""
    c = classifier_runs.unit_config(config, unit)
    c.dataset.label_noise_kind = kind
    c.sweep.dataset.label_noise = tuple(rates)
    return c


def _accuracy(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (outputs.argmax(-1) == np.asarray(labels)).mean(-1)


def runs_table(groups) -> pd.DataFrame:
    """One row per run: cell, loss, lr, unit; final validation accuracy on the noisy and the
    clean validation labels, test accuracy (clean) with per-example correctness, and how much
    of the flipped training labels the model fitted (`memorized`: the share of flipped training
    examples predicted as their wrong label)."""
    frames = []
    for g in groups:
        ds = g.dataset
        rate = float(g.config.dataset.label_noise)
        clean_train = ds.y_train if ds.y_train_clean is None else ds.y_train_clean
        clean_val = ds.y_val if ds.y_val_clean is None else ds.y_val_clean
        # One host evaluation per group (each call of g.outputs compiles its own apply).
        sizes = np.cumsum([len(ds.x_val), len(ds.x_train)])
        val_out, train_out, test_out = np.split(
            g.outputs(np.concatenate([ds.x_val, ds.x_train, ds.x_test])), sizes, axis=1)
        flipped = np.asarray(ds.y_train) != np.asarray(clean_train)
        memorized = ((train_out[:, flipped].argmax(-1) == np.asarray(ds.y_train)[flipped])
                     .mean(-1) if flipped.any() else np.full(len(g.runs), np.nan))
        correct = test_out.argmax(-1) == np.asarray(ds.y_test)
        frames.append(pd.DataFrame({
            "dataset": g.config.dataset.name,
            "kind": g.config.dataset.label_noise_kind if rate else "none",
            "rate": rate,
            "steps": int(g.config.steps),
            "loss": g.config.loss,
            "learning_rate": g.hyper["learning_rate"].astype(float),
            "unit": g.hyper["seed"].astype(int),
            "val_acc_noisy": _accuracy(val_out, ds.y_val),
            "val_acc_clean": _accuracy(val_out, clean_val),
            "train_acc_noisy": _accuracy(train_out, ds.y_train),
            "memorized": memorized,
            "test_accuracy": correct.mean(-1),
            "diverged": np.asarray(g.metrics["diverged"], bool),
            "n_test": ds.y_test.size,
            "test_correct": [classifier_runs.encode_correct(c) for c in correct],
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*CELL, "loss", "learning_rate", "unit"], ignore_index=True)


def compute(workdir: pathlib.Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Every unit × flip kind: one engine call over datasets × rates × losses × lrs (the clean
    rate 0 once, with the symmetric call; its rows carry kind "none")."""
    from experiments.claims import trained_runs  # the engine: compute only, never judge

    size = "quick" if quick else "default"
    config = claim_config.get_config(size)
    rates = claim_config.NOISE_RATES[size]
    frames, shared = [], {}  # executables shared by the units (the same programs)
    for unit in config.sweep.seed:
        for kind in claim_config.KINDS:
            kind_rates = rates if kind == claim_config.KINDS[0] else tuple(r for r in rates if r)
            groups = trained_runs.train(unit_config(config, int(unit), kind, kind_rates),
                                        on_validation=True, shared=shared)
            frames.append(runs_table(groups))
    runs = pd.concat(frames, ignore_index=True)
    return {"runs_per_unit": runs.sort_values([*CELL, "loss", "learning_rate", "unit"],
                                              ignore_index=True)}


# ------------------------------------------------------------------------------------------
# judge
# ------------------------------------------------------------------------------------------

RULE = (
    "Each loss is read at its own learning rate, selected by mean validation accuracy over "
    "units; the verdict uses the selection on the **noisy** validation labels (what a "
    "practitioner has; the selection on clean labels, an oracle, is reported beside it). A "
    "*unit* redraws the data split, the label flips and the initialization. In each dataset × "
    "flip kind × rate cell, the *best bounded loss* is the one of MAE and GCE (bounded in the "
    "true class's probability; SCE, which keeps a CE term, and the square loss are unbounded "
    "and reported beside) with the highest mean validation accuracy at its lr (chosen on "
    "validation, never on test: the bounded arm's search is twice CE's, so GCE alone, named "
    "before the numbers, is reported beside it); its "
    "test-accuracy gap to cross-entropy gets a 95% interval over units, paired (same test "
    "examples per unit), with McNemar's per-example variance as the floor of its standard "
    "error, and a p-value Holm-corrected over the counted cells. Counted cells: rate ≥ "
    f"{TESTED_RATE:g}, and for asymmetric flips (y -> y + 1) rate < {ASYMMETRIC_LIMIT:g} (at "
    "or above it the wrong label is the majority for its class and no loss without a noise "
    "model can recover the class: reported, not counted). \"More robust\" is read as higher "
    "clean test accuracy when trained on the flipped labels, against CE trained to the end of "
    "the same budget (no early stopping); the difference in accuracy lost from clean labels "
    "is printed beside it. **supported** if the best bounded loss beats CE beyond noise "
    "(Holm-adjusted p < 0.05, gap > 0) in every counted cell, with neither arm's selected lr "
    "at an edge of the grid (an edge means the grid, not the loss, may set the gap); "
    f"**refuted** if it beats CE in no cell and the pooled gap over the counted cells (every "
    f"unit's test examples of all counted cells together, same interval) is shown below 0 or "
    f"shown within ±{100 * MARGIN:g} point (TOST p < 0.05); **qualified** otherwise (some cells, "
    f"only the pooled gap, or too little data to tell). The square loss (the L2 arm: one-hot "
    f"targets on raw outputs) gets its own guide row, from GCE alone (the same search size) "
    f"− square pooled over the counted cells: a bounded loss over the square loss where that "
    f"interval lies above 0, the square loss where it lies below 0 and square − CE above 0, "
    f"no call otherwise."
)


def _tested(kind: str, rate: float) -> bool:
    return rate >= TESTED_RATE and (kind == "symmetric" or rate < ASYMMETRIC_LIMIT)


def selected_lrs(runs: pd.DataFrame, selection: str) -> pd.DataFrame:
    """Per cell × loss: the lr with the highest mean validation accuracy (noisy or clean labels)
    over units, that accuracy, and whether it sits at an edge of the grid."""
    column = f"val_acc_{selection}"
    by_lr = runs.groupby([*CELL, "loss", "learning_rate"], sort=True)[column].mean().reset_index()
    rows = []
    for key, frame in by_lr.groupby([*CELL, "loss"], sort=True):
        best = frame.loc[frame[column].idxmax()]
        lrs = frame["learning_rate"]
        rows.append(dict(zip([*CELL, "loss"], key, strict=True), selection=selection,
                         lr=float(best["learning_rate"]), val_acc=float(best[column]),
                         lr_at_grid_edge=bool(best["learning_rate"] in (lrs.min(), lrs.max()))))
    return pd.DataFrame(rows)


def _at(runs: pd.DataFrame, cell: tuple, loss: str, lr: float) -> pd.DataFrame:
    dataset, kind, rate = cell
    mine = runs[(runs["dataset"] == dataset) & (runs["kind"] == kind) & (runs["rate"] == rate)
                & (runs["loss"] == loss) & (runs["learning_rate"] == lr)]
    return mine.set_index("unit").sort_index()


def best_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss × selection at the selected lr: test accuracy (all units' test examples
    pooled, a Wilson interval at the design-effect size: inside [0, 1], carrying the test sets'
    binomial noise), the share of flipped training labels fitted (percentile interval over
    units), training accuracy on the noisy labels."""
    rows = []
    for selection in SELECTIONS:
        for row in selected_lrs(runs, selection).to_dict("records"):
            at = _at(runs, (row["dataset"], row["kind"], row["rate"]), row["loss"], row["lr"])
            correct = classifier_runs.correct_matrix(at)
            accuracy = statistics.clustered_proportion(correct.sum(-1), np.full(len(at),
                                                                                correct.shape[-1]))
            rows.append({**row, "units": len(at), **accuracy.as_columns("test_acc"),
                         **_memorized(at["memorized"].to_numpy()).as_columns("memorized"),
                         "train_acc_noisy": float(at["train_acc_noisy"].mean()),
                         "diverged": float(at["diverged"].mean())})
    return pd.DataFrame(rows)


def _memorized(shares: np.ndarray) -> statistics.Interval:
    """Mean share of flipped labels fitted over units, percentile interval (inside [0, 1]);
    all NaN (clean labels: nothing flipped) gives NaN."""
    if np.isnan(shares).all():
        return statistics.Interval(np.nan, np.nan, np.nan)
    return statistics.percentile_interval(lambda x: x.mean(-1), shares)


def _gap(runs, cell, loss, lr, ce_lr) -> statistics.PairedAccuracyGap:
    mine, ce = _at(runs, cell, loss, lr), _at(runs, cell, CE, ce_lr)
    units = mine.index.intersection(ce.index)
    return statistics.paired_accuracy_gap(classifier_runs.correct_matrix(mine.loc[units]),
                                          classifier_runs.correct_matrix(ce.loc[units]), MARGIN)


def comparison_table(runs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per cell × selection: each bounded loss's gap to CE (fraction, paired interval) and the
    best bounded loss (by validation) with its gap, p-value, Holm-adjusted p and outcome."""
    rows = []
    for (selection, *cell), frame in best.groupby(["selection", *CELL], sort=True):
        at = frame.set_index("loss")
        row = dict(zip(CELL, cell, strict=True), selection=selection,
                   counted=_tested(cell[1], cell[2]), acc_ce=at.loc[CE, "test_acc"])
        for loss in OTHERS:
            gap = _gap(runs, tuple(cell), loss, at.loc[loss, "lr"], at.loc[CE, "lr"])
            row.update(gap.interval.as_columns(f"gap_{SHORT[loss]}"))
        winner = at.loc[list(BOUNDED), "val_acc"].idxmax()
        gap = _gap(runs, tuple(cell), winner, at.loc[winner, "lr"], at.loc[CE, "lr"])
        row.update({"best_bounded": SHORT[winner], "acc_best": at.loc[winner, "test_acc"],
                    **gap.interval.as_columns("gap_best"), "p_best": gap.interval.p_value,
                    "lr_at_grid_edge": bool(at.loc[[winner, CE], "lr_at_grid_edge"].any())})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["p_best_holm"] = np.nan
    for selection in SELECTIONS:
        mask = (table["selection"] == selection) & table["counted"]
        if mask.any():
            table.loc[mask, "p_best_holm"] = statistics.holm(
                table.loc[mask, "p_best"].to_numpy())[0]
    table["outcome"] = [_outcome(r) for r in table.to_dict("records")]
    return table


def _outcome(row: dict) -> str:
    if not row["counted"]:
        return "not counted"
    if row["p_best_holm"] < 1 - statistics.LEVEL:
        if row["gap_best"] < 0:
            return "CE better"
        return "bounded better, lr at a grid edge" if row["lr_at_grid_edge"] else "bounded better"
    return "no difference shown"


@dataclasses.dataclass(frozen=True)
class Pooled:
    """A gap over the counted cells in accuracy points, and its TOST p within ±MARGIN."""

    interval: statistics.Interval
    equivalence_p: float


def verdict(comparison: pd.DataFrame, pooled: Pooled) -> str:
    """Over the counted cells, noisy-validation selection, and their pooled gap (RULE)."""
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    wins = int((counted["outcome"] == "bounded better").sum())
    if len(counted) and wins == len(counted):
        return "supported"
    any_wins = int(counted["outcome"].str.startswith("bounded better").sum())  # edges too
    shown_not_better = (pooled.interval.high < 0
                        or pooled.equivalence_p < 1 - statistics.LEVEL)
    return "refuted" if any_wins == 0 and shown_not_better else "qualified"


def pooled_gap(runs: pd.DataFrame, comparison: pd.DataFrame, best: pd.DataFrame,
               selection: str, arm: str | None = None, against: str = CE) -> Pooled:
    """`arm` (default: each cell's best bounded loss) − `against` over all counted cells, in
    accuracy points: each unit's test examples of every counted cell pooled
    (paired_accuracy_gap on the concatenated correctness)."""
    counted = comparison[(comparison["selection"] == selection) & comparison["counted"]]
    if counted.empty:
        return Pooled(statistics.Interval(np.nan, np.nan, np.nan), np.nan)
    lrs = best[best["selection"] == selection].set_index([*CELL, "loss"])["lr"]
    loss_of = {v: k for k, v in SHORT.items()}
    mine, theirs = [], []
    for row in counted.to_dict("records"):
        cell = (row["dataset"], row["kind"], row["rate"])
        ours = arm or loss_of[row["best_bounded"]]
        a = _at(runs, cell, ours, lrs[(*cell, ours)])
        b = _at(runs, cell, against, lrs[(*cell, against)])
        units = a.index.intersection(b.index)
        mine.append(classifier_runs.correct_matrix(a.loc[units]))
        theirs.append(classifier_runs.correct_matrix(b.loc[units]))
    gap = statistics.paired_accuracy_gap(np.concatenate(mine, 1), np.concatenate(theirs, 1),
                                         MARGIN)
    points = dataclasses.replace(gap.interval, estimate=100 * gap.interval.estimate,
                                 low=100 * gap.interval.low, high=100 * gap.interval.high)
    return Pooled(points, gap.equivalence_p)  # accuracy points, as claim 4's headline


def drop_table(runs: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per loss × dataset × kind × rate > 0 (noisy selection): test accuracy at the rate minus
    at rate 0, each at its selected lr (the shape the papers report), and that drop minus CE's
    (`drop_vs_ce`, > 0: the loss lost less: the robustness the claim names). Within a unit every
    cell shares the test split, so both are paired per example (statistics.
    paired_accuracy_contrast: the units' spread, floored by the per-example variance)."""
    lrs = best[best["selection"] == "noisy"].set_index([*CELL, "loss"])["lr"]
    rows = []
    for dataset, kind, rate, loss in lrs.index:
        if rate == 0:
            continue
        frames = [_at(runs, cell, name, lrs[(*cell, name)]) for name in (loss, CE)
                  for cell in ((dataset, kind, rate), (dataset, "none", 0.0))]
        units = frames[0].index
        for frame in frames[1:]:
            units = units.intersection(frame.index)
        n, c, cn, cc = (classifier_runs.correct_matrix(f.loc[units]) for f in frames)
        drop = statistics.paired_accuracy_gap(n, c, MARGIN).interval
        versus = (statistics.paired_accuracy_contrast([n, cc], [c, cn], MARGIN).interval
                  if loss != CE else statistics.Interval(0.0, 0.0, 0.0))
        rows.append({"dataset": dataset, "kind": kind, "rate": rate, "loss": loss,
                     **drop.as_columns("drop"), **versus.as_columns("drop_vs_ce")})
    return pd.DataFrame(rows)


def accuracy_plot(best: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Test accuracy against the flip rate per loss (noisy-validation selection), one panel per
    dataset × flip kind; the clean point (rate 0) is shared by both kinds."""
    noisy = best[best["selection"] == "noisy"]
    panels = [(d, k) for d in noisy["dataset"].unique() for k in claim_config.KINDS]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False,
                             layout="constrained")
    for ax, (dataset, kind) in zip(axes[0], panels, strict=True):
        mine = noisy[(noisy["dataset"] == dataset) & noisy["kind"].isin([kind, "none"])]
        for i, loss in enumerate(claim_config.LOSSES):
            line = mine[mine["loss"] == loss].sort_values("rate")
            ax.errorbar(line["rate"], 100 * line["test_acc"],
                        yerr=100 * np.abs(line[["test_acc_low", "test_acc_high"]].to_numpy().T
                                          - line["test_acc"].to_numpy()),
                        marker="o", color=f"C{i}", label=SHORT[loss], capsize=3)
        ax.set_xlabel(f"{kind} flip rate")
        ax.set_title(dataset, fontsize=9)
    axes[0][0].set_ylabel("clean test accuracy (%)")
    axes[0][-1].legend(fontsize=7)
    return plots.save_png(fig, path)


def setup_text(size: str) -> str:
    config = claim_config.get_config(size)
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)
    rates = ", ".join(f"{r:g}" for r in claim_config.NOISE_RATES[size] if r)
    return (
        f"Datasets {', '.join(config.sweep.dataset.name)} (10 classes), MLP "
        f"{tuple(config.model.widths)} hidden units; losses softmax cross-entropy (CE), MAE on "
        f"the softmax probabilities, the square loss to the one-hot vector (raw outputs, k = M "
        f"= 1), generalized CE (q = {config.loss_knobs.q:g}) and symmetric CE (α = "
        f"{config.loss_knobs.alpha:g}, β = {config.loss_knobs.beta:g}, A = "
        f"{config.loss_knobs.log_zero:g}). Training labels flipped at rates {rates} (exactly that "
        f"share of each class), symmetric (to a uniform other class) or asymmetric (y -> y + 1 "
        f"mod 10); the validation carve ({config.dataset.validation_fraction:.0%} of the "
        f"training split) is flipped too, its clean labels kept for the oracle selection; the "
        f"test split is clean. Adam, cosine decay to 0, minibatch {config.batch_size}, "
        f"{config.steps} steps, no early stopping, lr ∈ {{{lrs}}} × {len(config.sweep.seed)} "
        f"units (a unit redraws the split, the flips and the initialization). Intervals: 95%, "
        f"paired over units, McNemar's per-example variance as a floor."
    )


def _iv(row, prefix: str) -> str:
    """A fraction and its interval from prefix, prefix_low, prefix_high, in points."""
    return statistics.Interval.from_columns(row, prefix).format("+.1f", 100)


def _cell_name(row: dict) -> str:
    return f"{row['kind']} {row['rate']:g}" if row["rate"] else "clean labels"


def _clear_of_zero(row: dict) -> bool:
    """The cell's own 95% interval excludes 0 (before Holm's correction over the cells)."""
    return row["gap_best_low"] > 0 or row["gap_best_high"] < 0


def _cell_lines(comparison: pd.DataFrame) -> list[str]:
    """One line per cell (noisy selection). The intervals are each cell's own 95% ones; a
    counted cell is beyond noise only after Holm over the counted cells, which the line says
    where the two disagree."""
    rows = comparison[comparison["selection"] == "noisy"].to_dict("records")
    counted = int(sum(r["counted"] for r in rows))
    return [f"- {r['dataset']}, {_cell_name(r)}: CE {100 * r['acc_ce']:.1f}%; best bounded "
            f"({r['best_bounded']}, chosen on noisy validation) − CE "
            f"{_iv(r, 'gap_best')} pt, {r['outcome']}"
            + (f" (Holm p = {r['p_best_holm']:.2g}"
               + (f": its own 95% interval excludes 0, Holm's correction over the {counted} "
                  f"counted cells does not" if r["outcome"] == "no difference shown"
                  and _clear_of_zero(r) else "") + ")" if r["counted"] else "")
            + "; each loss − CE: " + ", ".join(f"{SHORT[loss]} {_iv(r, f'gap_{SHORT[loss]}')}"
                                                for loss in OTHERS)
            for r in rows]


def _shape_words(drops: pd.DataFrame, best: pd.DataFrame, comparison: pd.DataFrame) -> str:
    """CE's drop with the symmetric rate and MAE's clean-data gap, against the papers."""
    top = drops[drops["kind"] == "symmetric"]["rate"].max()
    at_top = drops[(drops["kind"] == "symmetric") & (drops["rate"] == top)].set_index(
        ["dataset", "loss"])
    datasets = at_top.index.get_level_values(0).unique()
    drop_words = "; ".join(
        f"{dataset}: CE {_iv(at_top.loc[(dataset, CE)], 'drop')} pt, GCE "
        f"{_iv(at_top.loc[(dataset, GCE)], 'drop')} (GCE's drop − CE's "
        f"{_iv(at_top.loc[(dataset, GCE)], 'drop_vs_ce')}), MAE "
        f"{_iv(at_top.loc[(dataset, MAE)], 'drop')}" for dataset in datasets)
    same_shape = all(at_top.loc[(d, GCE), "drop_vs_ce_low"] > 0 for d in datasets)
    clean = comparison[(comparison["selection"] == "noisy") & (comparison["rate"] == 0)]
    mae_words = ", ".join(f"{r['dataset']} {_iv(r, 'gap_MAE')} pt"
                          for r in clean.to_dict("records"))
    return (f"Shape against the papers: test accuracy lost from clean labels to symmetric "
            f"flips at {top:g} (each loss at its own lr; 95% intervals paired per example) — "
            f"{drop_words}. "
            f"Zhang & Sabuncu (2018, Table 1) report on CIFAR-10 that CE falls steadily with the "
            f"symmetric rate and L_q far less; here GCE lost "
            + ("less than CE beyond noise on every dataset (the same shape)" if same_shape
               else "less than CE beyond noise not on every dataset (their shape not shown)")
            + ". MAE − CE on clean labels: "
            f"{mae_words}: with 10 classes and Adam, MAE's underfitting (its gradient p_y(1 − "
            f"p_y)-weighted, vanishing on hard examples) is "
            + (f"visible on {', '.join(clean[clean['gap_MAE_high'] < 0]['dataset'])} (95% "
               f"intervals, unadjusted)" if (clean["gap_MAE_high"] < 0).any()
               else "not shown beyond noise here")
            + "; they report it as severe on CIFAR-100 (100 classes) and mild on CIFAR-10, "
            "so this 10-class test cannot reproduce the many-class failure.")


def ce_at_lowest_lr(runs, comparison, best) -> tuple[int, int]:
    """(counted cells whose CE lr, selected on noisy validation, is the grid's lowest; counted
    cells)."""
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    cells = set(zip(counted["dataset"], counted["kind"], counted["rate"], strict=True))
    noisy_ce = best[(best["loss"] == CE) & (best["selection"] == "noisy")]
    in_counted = [c in cells for c in zip(noisy_ce["dataset"], noisy_ce["kind"],
                                          noisy_ce["rate"], strict=True)]
    lowest = runs["learning_rate"].min()
    return int((noisy_ce[in_counted]["lr"] == lowest).sum()), len(counted)


def pooled_gaps(runs, comparison, best) -> dict[str, Pooled]:
    """Every pooled gap the section prints, computed once: the best bounded loss − CE with the
    lr chosen on noisy and on clean validation labels, GCE alone − CE, square − CE and
    GCE − square (noisy selection)."""
    return {"noisy": pooled_gap(runs, comparison, best, "noisy"),
            "clean": pooled_gap(runs, comparison, best, "clean"),
            "gce": pooled_gap(runs, comparison, best, "noisy", arm=PRIMARY),
            "square": pooled_gap(runs, comparison, best, "noisy", arm=SQUARE),
            "gce_square": pooled_gap(runs, comparison, best, "noisy", arm=PRIMARY,
                                     against=SQUARE)}


def _selection_words(runs, comparison, best, pooled: dict[str, Pooled]) -> str:
    primary = pooled["gce"]
    edges = best[best["lr_at_grid_edge"]]
    ce_low, counted = ce_at_lowest_lr(runs, comparison, best)
    lowest, highest = runs["learning_rate"].min(), runs["learning_rate"].max()
    at_top = edges[edges["lr"] == highest]
    ce_clean_top = at_top[(at_top["loss"] == CE) & (at_top["rate"] == 0)
                          & (at_top["selection"] == "noisy")]
    units = int(runs["unit"].nunique())
    return (f"Selection: over the counted cells the best bounded loss − CE is "
            f"{pooled['noisy'].interval.format('+.2f')} pt with the lr chosen on noisy "
            f"validation labels and {pooled['clean'].interval.format('+.2f')} pt with the "
            f"clean-label oracle; "
            f"GCE alone (named before the numbers, its search the same size as CE's) − CE "
            f"{primary.interval.format('+.2f')} pt. The pooled gap's equivalence test within "
            f"±{100 * MARGIN:g} point: TOST p = {pooled['noisy'].equivalence_p:.2g} "
            f"({units} units). {len(edges)} of {len(best)} selected lrs sit at an edge of the "
            f"grid ({len(edges) - len(at_top)} at its lowest, {len(at_top)} at its highest, "
            f"{highest:g}; flagged in best_lr: lr_at_grid_edge)"
            + (f"; CE on clean labels, the base of the drops in the shape paragraph, is at the "
               f"highest on {', '.join(ce_clean_top['dataset'])} (a grid reaching higher would "
               f"move it only where CE validates better, most likely widening CE's drop)"
               if len(ce_clean_top) else "")
            + f"; CE's selected lr is the grid's lowest "
            f"({lowest:g}) in {ce_low} of the {counted} counted cells"
            + (": a smaller lr fits fewer flipped labels within the budget (an implicit early "
               "stop), so a grid extended further down could narrow CE's loss." if ce_low else
               " (a smaller lr fits fewer flipped labels within the budget, an implicit early "
               "stop: the grid reaches below CE's choice everywhere).")
            + (" With every selection at an edge (a 2-point grid), the selection decides "
               "nothing here." if len(edges) == len(best) else ""))


def _memorized_words(row: dict) -> str:
    return (f"{100 * row['memorized']:.0f}% [{100 * row['memorized_low']:.0f}, "
            f"{100 * row['memorized_high']:.0f}]")


def memorization_words(best: pd.DataFrame, comparison: pd.DataFrame, steps: int) -> str:
    """CE's memorization against the cell's best bounded loss in every counted cell (noisy
    selection), and where it is more or fewer (percentile intervals apart): computed, so the
    paragraph never gives CE's loss a mechanism its numbers do not show."""
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    shares = best[best["selection"] == "noisy"].set_index([*CELL, "loss"])
    loss_of = {v: k for k, v in SHORT.items()}
    cells, more, fewer = [], [], []
    for row in counted.to_dict("records"):
        cell = (row["dataset"], row["kind"], row["rate"])
        ce, winner = shares.loc[(*cell, CE)], shares.loc[(*cell, loss_of[row["best_bounded"]])]
        name = f"{row['dataset']} {_cell_name(row)}"
        cells.append(f"{name}: CE {_memorized_words(ce)}, {row['best_bounded']} "
                     f"{_memorized_words(winner)}")
        if ce["memorized_low"] > winner["memorized_high"]:
            more.append(name)
        elif ce["memorized_high"] < winner["memorized_low"]:
            fewer.append(f"{name}, where best bounded − CE is {_iv(row, 'gap_best')} pt")
    n = len(counted)
    return ("Memorization: the share of flipped training labels each selected model fits (it "
            "predicts the wrong, given label; percentile interval over units), CE against the "
            "cell's best bounded loss — " + "; ".join(cells) + ". "
            f"With the intervals apart, CE fitted more flipped labels than the best bounded "
            f"loss in {len(more)} of {n} counted cells" + (f" ({', '.join(more)})" if more else "")
            + f" and fewer in {len(fewer)}" + (f": {'; '.join(fewer)}" if fewer else "")
            + ". A lower lr fits fewer flips within the budget (an implicit early stop), so "
            "CE's memorization depends on the lr it selects"
            + (": where it fitted fewer, memorization does not explain its gap" if fewer
               else "") + f". Budget: {steps} steps with cosine decay and no early stopping "
            f"(memorization comes late in training, Arpit et al. 2017); stopping early on the "
            f"noisy validation split could shrink CE's loss and is not tested here, nor is a "
            f"half budget (the gap may depend on the steps).")


def findings(runs, best, comparison, drops, outcome: str, pooled: dict[str, Pooled]) -> str:
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    wins = int((counted["outcome"] == "bounded better").sum())
    edge_wins = int((counted["outcome"] == "bounded better, lr at a grid edge").sum())
    return "\n".join([
        f"**{outcome}**: the best bounded loss (chosen on noisy validation) beats CE beyond "
        f"noise in {wins} of {len(counted)} counted cells (rate ≥ {TESTED_RATE:g}; asymmetric "
        f"below {ASYMMETRIC_LIMIT:g})"
        + (f", and in {edge_wins} more with an lr at a grid edge" if edge_wins else "")
        + ". Gaps in accuracy points, paired 95% intervals:",
        *_cell_lines(comparison),
        "",
        _shape_words(drops, best, comparison),
        "",
        _selection_words(runs, comparison, best, pooled),
        "",
        memorization_words(best, comparison, int(runs["steps"].max())),
        "",
        _square_words(pooled, {kind: pooled_gap(runs, comparison[comparison["kind"] == kind],
                                                best, "noisy", arm=SQUARE).interval
                               for kind in sorted(set(comparison["kind"]) - {"none"})}),
    ])


def _usual_winner(comparison: pd.DataFrame) -> str:
    """The bounded loss chosen on validation in most counted cells, with its count; the counts
    of each when none has a majority."""
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    names = {"GCE": "generalized cross-entropy", "MAE": "MAE on the probabilities"}
    if not len(counted):
        return names["GCE"]
    counts = counted["best_bounded"].value_counts()
    if counts.iloc[0] * 2 > len(counted):
        return (f"{names[counts.index[0]]}, best on validation in {counts.iloc[0]} of "
                f"{len(counted)} cells")
    return (f"{names['MAE']} or {names['GCE']}, best on validation in "
            + " and ".join(f"{counts.get(w, 0)}" for w in ("MAE", "GCE"))
            + f" of {len(counted)} cells")


def _side(iv: statistics.Interval, ahead: str, behind: str) -> str:
    return ahead if iv.low > 0 else behind if iv.high < 0 else "not shown different"


def _square_words(pooled: dict[str, Pooled], by_kind: dict[str, statistics.Interval]) -> str:
    """Where the square loss (one-hot, raw outputs: the L2 arm) sits against CE and GCE, pooled
    over the counted cells, and against CE by flip kind (`by_kind`: kind -> square − CE over
    that kind's counted cells; its sign can differ between uniform and pairwise flips)."""
    square, gce = pooled["square"].interval, pooled["gce_square"].interval
    kinds = "; ".join(f"{kind} flips {iv.format('+.2f')} pt ({_side(iv, 'ahead', 'behind')})"
                      for kind, iv in by_kind.items() if not np.isnan(iv.estimate))
    return (f"The square loss (the L2 arm, one-hot targets on raw outputs) over the counted "
            f"cells: square − CE {square.format('+.2f')} pt "
            f"({_side(square, 'ahead of CE', 'behind CE')})"
            + (f"; by the kind of flip (descriptive, not in the rule), square − CE: {kinds}"
               if kinds else "")
            + f". GCE − square {gce.format('+.2f')} pt ({_side(gce, 'GCE ahead', 'GCE behind')})."
            f" (Ghosh et al.'s "
            f"robustness of the square loss is for it on the softmax probabilities, which is "
            f"bounded; on raw outputs, as here, it is not.)")


def edge_note(ce_low: int, counted: int) -> str:
    """The headline's caveat when CE's selected lr is the grid's lowest in counted cells."""
    if not ce_low:
        return ""
    return (f"; cross-entropy chose the grid's lowest learning rate in {ce_low} of {counted} "
            f"settings, so this may overstate the gap to a cross-entropy tuned further down")


def takeaway(outcome: str, pooled: statistics.Interval, winner: str, wins: int,
             counted: int, edge_wins: int = 0, ce_low: int = 0, clear: int = 0) -> str:
    """One sentence; `clear`: counted cells whose own 95% interval is above 0 (said where no
    cell is beyond noise after Holm, so "in none alone" is not read as "no cell gained")."""
    gap = (f"{pooled.format('+.1f')} accuracy points (best bounded loss − cross-entropy trained "
           f"to the end, no early stopping; 95% interval, at ≥ {TESTED_RATE:.0%} flipped labels"
           f"{edge_note(ce_low, counted)})")
    if outcome == "supported":
        return (f"If you suspect many wrong labels, use a bounded loss such as {winner} (a loss "
                f"that stays finite however wrong the prediction), picking it and its learning "
                f"rate on a noisy validation split: {gap}.")
    if outcome == "refuted":
        return (f"Bounded losses did not beat cross-entropy under label noise here: {gap}; keep "
                f"cross-entropy (and tune its learning rate on a noisy validation split).")
    if wins:
        where = f"beyond noise in {wins} of {counted} settings" + (
            f" (and in {edge_wins} more with a learning rate at its grid's edge)"
            if edge_wins else "")
    elif edge_wins:
        where = (f"beyond noise in {edge_wins} of {counted} settings, each with a learning rate "
                 f"at its grid's edge (so the grid may set the gap), in none with interior ones")
    else:
        where = ("beyond noise only pooled over the settings, in none alone after Holm's "
                 f"correction over {counted} (each setting's own 95% interval above 0 in {clear})"
                 if pooled.low > 0 else "not beyond noise")
    return (f"A bounded loss (one that stays finite however wrong the prediction, e.g. "
            f"{winner}) beat cross-entropy under many flipped labels {where}: {gap}.")


SITUATION = (f"labels you suspect are noisy (≥ {TESTED_RATE:.0%} flipped uniformly, or pairwise "
             f"y → y + 1 below {ASYMMETRIC_LIMIT:.0%}; 10 classes)")


def guide(outcome: str, pooled: statistics.Interval, winner: str,
          square: statistics.Interval, gce_minus_square: statistics.Interval,
          ce_low: int = 0, counted: int = 0) -> list[GuideRow]:
    """The claim's row (bounded vs CE) and the L2 arm's (the square loss, by RULE's last
    sentence)."""
    choice = {"supported": f"a bounded loss ({winner}), selected on a noisy validation split",
              "refuted": "cross-entropy (bounded losses not better here)"}.get(
        outcome, f"try a bounded loss ({winner}) beside cross-entropy, both selected on a "
                 f"noisy validation split")
    rows = [GuideRow(SITUATION, choice,
                     f"claim 10: best bounded − CE (trained to the end) "
                     f"{pooled.format('+.1f')} accuracy points over the counted noisy cells "
                     f"({outcome}{edge_note(ce_low, counted)})",
                     favours="other" if outcome == "supported" else "")]
    if gce_minus_square.low > 0:
        square_choice, side = "a bounded loss (GCE) rather than the square loss", "other"
    elif gce_minus_square.high < 0 and square.low > 0:
        square_choice, side = "the square loss (ahead of CE and of GCE)", "l2"
    else:
        square_choice, side = "no call on the square loss (not shown ahead or behind)", ""
    rows.append(GuideRow("noisy labels, and the square loss (one-hot) is an option", square_choice,
                         f"claim 10: GCE − square {gce_minus_square.format('+.1f')}, square − CE "
                         f"{square.format('+.1f')} accuracy points", favours=side))
    return rows


def reversal(comparison: pd.DataFrame) -> str:
    """Where bounded losses fell behind CE beyond noise (noisy selection), e.g. pairwise flips
    at or above ASYMMETRIC_LIMIT (uncounted: the flip is the majority label)."""
    rows = comparison[(comparison["selection"] == "noisy") & (comparison["gap_best_high"] < 0)]
    return "; ".join(f"{r['dataset']} {_cell_name(r)}: best bounded ({r['best_bounded']}) − CE "
                     f"{_iv(r, 'gap_best')} pt" for r in rows.to_dict("records"))


KEY_NUMBERS = {"best_bounded_minus_ce": "noisy", "oracle_best_bounded_minus_ce": "clean",
               "gce_minus_ce": "gce", "square_minus_ce": "square",
               "gce_minus_square": "gce_square"}  # key number -> pooled_gaps' key
UNIT_WORDS = {"best_bounded_minus_ce": "best bounded loss − cross-entropy",
              "oracle_best_bounded_minus_ce": "best bounded loss − cross-entropy, lr chosen on "
                                              "clean validation labels",
              "gce_minus_ce": "GCE − cross-entropy",
              "square_minus_ce": "square loss − cross-entropy",
              "gce_minus_square": "GCE − square loss"}


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool) -> Section:
    size = "quick" if quick else "default"
    outdir = plot_dir(workdir, KEY)
    runs = tables["runs_per_unit"]
    best = best_table(runs)
    comparison = comparison_table(runs, best)
    drops = drop_table(runs, best)
    gaps = pooled_gaps(runs, comparison, best)
    pooled = gaps["noisy"].interval
    outcome = verdict(comparison, gaps["noisy"])
    counted = comparison[(comparison["selection"] == "noisy") & comparison["counted"]]
    wins = int((counted["outcome"] == "bounded better").sum())
    edge_wins = int((counted["outcome"] == "bounded better, lr at a grid edge").sum())
    ce_low, _ = ce_at_lowest_lr(runs, comparison, best)
    clear = int((counted["gap_best_low"] > 0).sum())
    behind = reversal(comparison)
    logging.info("%s: %s", KEY, outcome)
    key_numbers = {name: gaps[key].interval for name, key in KEY_NUMBERS.items()}
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(size), rule=RULE, verdict=outcome,
        findings=findings(runs, best, comparison, drops, outcome, gaps),
        summary=(f"Best bounded loss − CE over the counted noisy cells: "
                 f"{pooled.format('+.2f')} accuracy points (noisy-validation selection)."),
        tables={"comparison": comparison, "best_lr": best, "drop_from_clean": drops},
        plots={"accuracy_vs_noise": accuracy_plot(best, outdir / "accuracy_vs_noise.png")},
        key_numbers=key_numbers,
        limits=((f"bounded losses fell behind CE beyond noise in {behind}; " if behind else "")
                + "one model (an MLP), two 10-class image sets, one budget without early "
                "stopping and no half-budget check; the bounded arm picks between two losses "
                "(GCE alone reported beside); MAE's many-class underfitting is not tested"),
        kind="empirical", part="loss", headline="best_bounded_minus_ce",
        units={name: f"accuracy points ({words})" for name, words in UNIT_WORDS.items()},
        takeaway=takeaway(outcome, pooled, _usual_winner(comparison), wins, len(counted),
                          edge_wins, ce_low, clear),
        guide=guide(outcome, pooled, _usual_winner(comparison), key_numbers["square_minus_ce"],
                    key_numbers["gce_minus_square"], ce_low, len(counted)),
    )
