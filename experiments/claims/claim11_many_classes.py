"""Claim 11: "With many classes the square loss falls behind cross-entropy unless rescaled".

Demirkaya et al. (2020) report that the square loss's accuracy falls relative to cross-entropy
as the number of classes K grows; Hui & Belkin (2021) close the gap by rescaling it (the true
class's term weighted by k, its target M instead of 1); squentropy (Hui, Belkin & Wright 2023)
adds the mean square of the wrong-class logits to cross-entropy. The experiment sets K on a
generated task (`teacher_classes`, configs/claims/claim11_many_classes.py) and trains every
loss at every K with the same budget, learning-rate grid and units, each read at its own rate
selected on validation. The gap acc(loss) − acc(CE) per K is paired over units and test
examples (statistics.paired_accuracy_gap, McNemar's variance as a floor); "widens" is the
slope of the plain square loss's gap against log₂ K, per unit, with its interval over units;
"closes" is an equivalence test (TOST, ±EQUIVALENCE_MARGIN) of the rescaled gap at the largest
K. The budget is checked as in claim 4 (B/2 -> B on validation). Calibration (ECE and NLL after
temperature scaling fitted on validation) is reported per loss and K.

compute(workdir, quick) trains and returns the tables; judge(tables, workdir, quick) applies
the rule and writes the section (no JAX).
"""

from __future__ import annotations

import pathlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.stats
from absl import logging

from experiments import plots, shipped_configs, statistics
from experiments.claims.classifier_runs import (
    at_lr,
    best_table,
    budget_lines,
    budget_table,
    correct_matrix,
    runs_table,
    shown_converged,
    unit_config,
)
from experiments.claims.section import GuideRow, Section, plot_dir

# configs/claims/claim11_many_classes.py, by file path (a wheel ships no `configs` package)
claim_config = shipped_configs.load("claims.claim11_many_classes")

KEY = "claim11"
TITLE = "The square loss with many classes: rescaling and squentropy"
CLAIM = ("With many classes the square loss falls behind cross-entropy unless rescaled "
         "(Demirkaya et al. 2020; Hui & Belkin 2021): its accuracy gap to cross-entropy widens "
         "with the number of classes K at k = M = 1 and closes with the rescaling (k, M).")
CE, SQUARE, RESCALED, SQUENTROPY = (claim_config.CE, claim_config.SQUARE, claim_config.RESCALED,
                                    claim_config.SQUENTROPY)
ARMS = (SQUARE, RESCALED, SQUENTROPY)  # each compared with CE
ARM_WORDS = {SQUARE: "square (k = M = 1)", RESCALED: "rescaled square",
             SQUENTROPY: "squentropy", CE: "cross-entropy"}
ARM_KEYS = {SQUARE: "square", RESCALED: "rescaled", SQUENTROPY: "squentropy"}  # key numbers
EQUIVALENCE_MARGIN = 0.01  # "closes": the gap is shown to lie within ±1 accuracy point


def cell_name(num_classes: int) -> str:
    """The `dataset` value of K's cell (classifier_runs.CELL is dataset × model)."""
    return f"teacher_classes_K{num_classes}"


def _groups_table(groups, loss_name: str | None = None) -> pd.DataFrame:
    """runs_table per group, with its K and its cell name; loss_name relabels the arm."""
    frames = []
    for group in groups:
        frame = runs_table([group])
        k = int(group.dataset.num_classes)
        frame = frame.assign(num_classes=k, dataset=cell_name(k))
        frames.append(frame if loss_name is None else frame.assign(loss=loss_name))
    return pd.concat(frames, ignore_index=True)


def train_unit(config, unit: int, steps: int, shared: dict | None = None) -> pd.DataFrame:
    """Unit u's runs at a budget: CE, square and squentropy at every K (one program per K),
    then the rescaled square loss at each K whose (k, M) is not (1, 1). `shared`: executables
    reused across units (trained_runs.train)."""
    from experiments.claims import trained_runs  # the engine: compute only, never judge

    c = unit_config(config, unit)
    c.steps = steps
    tables = [_groups_table(trained_runs.train(c, on_validation=True, shared=shared))]
    rescaled = [k for k in c.sweep.dataset.num_classes if claim_config.rescaling(k) != (1, 1)]
    for k in rescaled:
        r = c.copy_and_resolve_references()
        r.sweep.loss = (SQUARE,)
        r.sweep.dataset.num_classes = (k,)
        r.loss_knobs.k, r.loss_knobs.m = claim_config.rescaling(k)
        tables.append(_groups_table(trained_runs.train(r, on_validation=True, shared=shared),
                                    RESCALED))
    return pd.concat(tables, ignore_index=True)


def compute(workdir: pathlib.Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Every unit at the budget B and at B/2 (the budget check's comparison)."""
    size = "quick" if quick else "default"
    config, steps = claim_config.get_config(size), claim_config.BUDGETS[size]
    order = ["num_classes", "loss", "learning_rate", "unit"]
    shared: dict = {}  # the units' programs are the same: executables reused (train_unit)
    runs, shorter = (pd.concat([train_unit(config, int(u), b, shared) for u in config.sweep.seed],
                               ignore_index=True).sort_values(order, ignore_index=True)
                     for b in (steps, steps // 2))
    return {"runs_per_unit": runs, "shorter_budget_runs": shorter}


RULE = (
    "Each loss is read at its own learning rate, selected by mean validation accuracy over "
    "units. A *unit* draws the teacher, the data and the validation carve, and seeds the "
    "initialization. At every K the gap acc(loss) − acc(cross-entropy) gets a 95% interval "
    "over units, paired (both losses on the same test examples of each unit), with McNemar's "
    "per-example variance as the floor of its standard error. **Widens**: the plain square "
    "loss's (k = M = 1) gap, fitted per unit as a line in log₂ K over every K, has a slope "
    "whose 95% interval (over units) lies below 0. **Closes**: at the "
    "largest K the rescaled square loss's gap is shown within "
    f"±{100 * EQUIVALENCE_MARGIN:g} accuracy point by two one-sided tests (TOST, 5% each), or "
    "its interval lies above 0. **Refuted** if the plain square loss's gap at the largest K "
    "is itself shown within the margin or above 0 (nothing to close: the square loss needs no "
    "rescaling here; checked first, whatever the slope); **supported** if it widens and "
    "closes; **qualified** otherwise "
    "(say which half held), and qualified as *not tested* where the smallest or the largest "
    "K's budget did not converge (a loss still gaining on validation from B/2 to B: the upper "
    f"end of its gain's 95% interval ≥ {100 * EQUIVALENCE_MARGIN:g} point, as in claim 4). "
    "Where K ≤ 10 Hui & Belkin's rescaling is k = M = 1, so there the rescaled arm is the "
    "plain one (the same runs)."
)


def _arm_loss(arm: str, num_classes: int) -> str:
    """The runs an arm reads at K: the rescaled arm is the plain square loss where (k, M) =
    (1, 1)."""
    plain = arm == RESCALED and claim_config.rescaling(num_classes) == (1, 1)
    return SQUARE if plain else arm


def _best_units(runs: pd.DataFrame, best: pd.DataFrame, num_classes: int,
                loss: str) -> pd.DataFrame:
    row = best[(best["dataset"] == cell_name(num_classes)) & (best["loss"] == loss)].iloc[0]
    return at_lr(runs, cell_name(num_classes), row["model"], loss, row["best_lr"])


def gap_table(runs: pd.DataFrame, best: pd.DataFrame, budget: pd.DataFrame) -> pd.DataFrame:
    """Per K × arm: the arm's and CE's test accuracy at their selected lrs, the paired gap
    (fraction) with its 95% interval, p-value and TOST p-value, calibration of the arm, and
    whether K's budget converged for every loss."""
    rows = []
    converged = budget.groupby("dataset")["converged"].all()
    for k in sorted(runs["num_classes"].unique()):
        ce = _best_units(runs, best, k, CE)
        for arm in ARMS:
            loss = _arm_loss(arm, k)
            mine = _best_units(runs, best, k, loss)
            units = mine.index.intersection(ce.index)
            gap = statistics.paired_accuracy_gap(correct_matrix(mine.loc[units]),
                                                 correct_matrix(ce.loc[units]),
                                                 EQUIVALENCE_MARGIN)
            chosen = best[(best["dataset"] == cell_name(k)) & (best["loss"] == loss)].iloc[0]
            rows.append({
                "num_classes": int(k), "arm": arm, "loss": loss,
                "best_lr": chosen["best_lr"], "lr_at_grid_edge": chosen["lr_at_grid_edge"],
                **statistics.mean(mine.loc[units, "test_accuracy"].to_numpy()).as_columns("acc"),
                **statistics.mean(ce.loc[units, "test_accuracy"].to_numpy()).as_columns("acc_ce"),
                **gap.interval.as_columns("gap"), "p": gap.interval.p_value,
                "equiv_p": gap.equivalence_p, "gap_se": gap.se, "units": len(units),
                **{c: chosen[c] for c in chosen.index if c.startswith(("test_ece_ts",
                                                                       "test_nll_ts"))},
                "budget_converged": bool(converged[cell_name(k)]),
            })
    return pd.DataFrame(rows)


def gap_slope(runs: pd.DataFrame, best: pd.DataFrame, ks: list[int],
              arm: str = SQUARE) -> statistics.Interval:
    """The arm's gap to CE (accuracy points) against log₂ K: the least-squares slope per unit
    over the K's given, then its mean over units with a 95% interval (points per doubling)."""
    if len(ks) < 2:
        return statistics.Interval(np.nan, np.nan, np.nan)
    gaps = pd.concat([(_best_units(runs, best, k, _arm_loss(arm, k))["test_accuracy"]
                       - _best_units(runs, best, k, CE)["test_accuracy"]).rename(k)
                      for k in ks], axis=1).dropna()
    x = np.log2(np.asarray(ks, np.float64))
    slopes = np.polyfit(x, 100 * gaps.to_numpy().T, 1)[0]
    return statistics.mean(slopes)


def _gap_at(gaps: pd.DataFrame, k: int, arm: str) -> dict:
    return gaps[(gaps["num_classes"] == k) & (gaps["arm"] == arm)].iloc[0].to_dict()


def _shown_close(row: dict) -> bool:
    """Within ±margin by TOST, or better than CE beyond noise."""
    return bool(row["equiv_p"] < 1 - statistics.LEVEL or row["gap_low"] > 0)


def verdict(gaps: pd.DataFrame, slope: statistics.Interval) -> tuple[str, dict[str, bool]]:
    """(verdict, the halves): widens, closes, plain_fine, tested (see RULE)."""
    k_min, k_max = gaps["num_classes"].min(), gaps["num_classes"].max()
    tested = bool(_gap_at(gaps, k_min, SQUARE)["budget_converged"]
                  and _gap_at(gaps, k_max, SQUARE)["budget_converged"])
    halves = {"tested": tested, "widens": bool(slope.high < 0),
              "closes": _shown_close(_gap_at(gaps, k_max, RESCALED)),
              "plain_fine": _shown_close(_gap_at(gaps, k_max, SQUARE))}
    if not tested:
        return "qualified", halves
    # Checked first: a plain loss level with CE at the largest K fell behind nowhere that
    # matters, whatever its slope (e.g. ahead at K = 2, level at the largest K).
    if halves["plain_fine"]:
        return "refuted", halves
    if halves["widens"] and halves["closes"]:
        return "supported", halves
    return "qualified", halves


def _outcome_words(row: dict) -> str:
    if row["gap_low"] > 0:
        return "better than CE"
    if row["equiv_p"] < 1 - statistics.LEVEL:
        return f"within ±{100 * EQUIVALENCE_MARGIN:g} pt (TOST p = {row['equiv_p']:.2g})"
    if row["gap_high"] < -EQUIVALENCE_MARGIN:
        return f"behind CE, shown outside ±{100 * EQUIVALENCE_MARGIN:g} pt"
    if row["gap_high"] < 0:
        return "behind CE"
    return "undecided"


def _reach_line(gaps: pd.DataFrame, k: int) -> str:
    """How small a gap the TOST could call equivalent at this size: |gap| < margin −
    t_{LEVEL, units − 1}·SE (its one-sided tests at 1 − LEVEL); "not shown within" says little
    where this is near 0."""
    words = []
    for arm in ARMS:
        row = _gap_at(gaps, k, arm)
        df = max(int(row["units"]) - 1, 1)
        reach = EQUIVALENCE_MARGIN - scipy.stats.t.ppf(statistics.LEVEL, df) * row["gap_se"]
        words.append(f"{ARM_WORDS[arm]} " + (f"equivalent only for |gap| < {100 * reach:.2f} pt"
                                             if reach > 0 else "never, at this size"))
    return (f"- Reach of the ±{100 * EQUIVALENCE_MARGIN:g} pt equivalence test at K = {k} "
            f"(its standard error over {int(_gap_at(gaps, k, SQUARE)['units'])} units, "
            f"McNemar's floor): " + "; ".join(words) + ".")


def _gap_words(row: dict) -> str:
    gap = statistics.Interval.from_columns(row, "gap")
    return f"{gap.format('+.2f', 100)} pt, {_outcome_words(row)}"


def _k_lines(gaps: pd.DataFrame) -> list[str]:
    lines = []
    for k, part in gaps.groupby("num_classes", sort=True):
        rows = {r["arm"]: r for r in part.to_dict("records")}
        def acc(row, prefix="acc"):
            return statistics.Interval.from_columns(row, prefix).format(".2f", 100, "%")

        ce = acc(next(iter(rows.values())), "acc_ce")
        arms = "; ".join(f"{ARM_WORDS[a]} {acc(rows[a])} ({_gap_words(rows[a])})" for a in ARMS)
        note = "" if rows[SQUARE]["budget_converged"] else " **Budget not shown converged.**"
        lines.append(f"- **K = {k}:** test accuracy (95% interval over units) cross-entropy "
                     f"{ce}; {arms} (gap to CE in points, paired 95% interval).{note}")
    return lines


def _calibration_lines(gaps: pd.DataFrame, best: pd.DataFrame) -> list[str]:
    lines = []
    for k in sorted(gaps["num_classes"].unique()):
        part = best[best["dataset"] == cell_name(k)]
        words = "; ".join(
            f"{ARM_WORDS.get(r['loss'], r['loss'])} ECE "
            f"{statistics.Interval.from_columns(r, 'test_ece_ts').format('.3f')}, NLL "
            f"{statistics.Interval.from_columns(r, 'test_nll_ts').format('.3f')}"
            for r in part.to_dict("records"))
        lines.append(f"- Calibration at K = {k} after temperature "
                     f"scaling on validation (test): {words}.")
    # Every loss's edge, cross-entropy's too: each gap is read against CE's selected rate.
    ks = {cell_name(int(k)): int(k) for k in gaps["num_classes"].unique()}
    edge = best[best["lr_at_grid_edge"] & best["dataset"].isin(ks)].assign(
        num_classes=lambda f: f["dataset"].map(ks)).sort_values(["num_classes", "loss"])
    if len(edge):
        lines.append("- Selected at an edge of the lr grid (a rate outside it might do "
                     "better): " + ", ".join(f"K = {r['num_classes']} "
                                             f"{ARM_WORDS.get(r['loss'], r['loss'])} at "
                                             f"{r['best_lr']:g}"
                                             for r in edge.to_dict("records")) + ".")
    return lines


def findings(gaps: pd.DataFrame, best: pd.DataFrame, budget: pd.DataFrame,
             slopes: tuple[statistics.Interval, statistics.Interval], result: str,
             halves: dict) -> str:
    slope, squentropy_slope = slopes
    k_max = int(gaps["num_classes"].max())
    rescale = claim_config.rescaling(k_max)
    rescaled_edge = (", its lr at the grid's edge"
                     if _gap_at(gaps, k_max, RESCALED)["lr_at_grid_edge"] else "")
    lines = [
        *_k_lines(gaps),
        f"- Plain square loss's gap against log₂ K: {slope.format('+.2f')} pt per doubling "
        f"of K (mean over units of each unit's fitted slope) → "
        + ("**widens**" if halves["widens"] else "not shown to widen")
        + f"; squentropy's: {squentropy_slope.format('+.2f')} pt per doubling.",
        f"- At K = {k_max} the rescaled square loss (k = {rescale[0]:g}, M = {rescale[1]:g}, "
        f"not tuned here{rescaled_edge}) is {_gap_words(_gap_at(gaps, k_max, RESCALED))} → "
        + ("**closes**" if halves["closes"] else "not shown to close") + "; the plain one is "
        f"{_gap_words(_gap_at(gaps, k_max, SQUARE))}. Verdict: **{result}**"
        + ("" if halves["tested"] else " (not tested: a budget was not shown converged)") + ".",
        _reach_line(gaps, k_max),
        _literature_line(result, halves),
        *_squentropy_line(gaps, halves),
    ]
    unconverged = (": the verdict is *not tested* where this is the smallest or the largest "
                   "K; elsewhere it still enters the slope.")
    return "\n".join(lines + budget_lines(budget, EQUIVALENCE_MARGIN, unconverged)
                     + _calibration_lines(gaps, best))


def _literature_line(result: str, halves: dict) -> str:
    if not halves["tested"]:
        return ("- Against the literature (Demirkaya et al. 2020; Hui & Belkin 2021): not "
                "tested, the budget was not shown converged at the smallest or the largest K.")
    if result == "refuted":
        return ("- This **overturns** Demirkaya et al. (2020) and Hui & Belkin's (2021) "
                "premise on this task: the plain square loss did not fall behind "
                "cross-entropy at the largest K, so the rescaling had nothing to close.")
    if result == "supported":
        return ("- This reproduces Demirkaya et al. (2020) (the plain square loss falls behind "
                "as K grows) and Hui & Belkin (2021) (rescaling closes the gap).")
    return ("- Against the literature: the widening (Demirkaya et al. 2020) "
            + ("is" if halves["widens"] else "is **not**") + " reproduced, and Hui & Belkin's "
            "rescaling " + ("does" if halves["closes"] else "does **not**")
            + " close the gap at the largest K here.")


def _squentropy_line(gaps: pd.DataFrame, halves: dict) -> list[str]:
    """Said plainly where squentropy trails CE at the largest K: its authors report it level
    with or ahead of cross-entropy in accuracy."""
    k_max = int(gaps["num_classes"].max())
    row = _gap_at(gaps, k_max, SQUENTROPY)
    if row["gap_high"] >= 0:
        return []
    return [f"- Squentropy trails cross-entropy at K = {k_max} ({_gap_words(row)})"
            + ("" if halves["tested"] else ", at a budget not shown converged")
            + ", unlike Hui, Belkin & Wright (2023), who report it matching or beating "
            "cross-entropy's accuracy on their benchmarks."]


def gap_plot(gaps: pd.DataFrame, path: pathlib.Path) -> pathlib.Path:
    """Gap to CE (points) against K per arm, with paired 95% intervals."""
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for i, arm in enumerate(ARMS):
        part = gaps[gaps["arm"] == arm].sort_values("num_classes")
        x = part["num_classes"] * (1 + 0.04 * (i - 1))  # side by side on the log axis
        ax.errorbar(x, 100 * part["gap"], [100 * (part["gap"] - part["gap_low"]),
                                           100 * (part["gap_high"] - part["gap"])],
                    marker="o", capsize=3, label=ARM_WORDS[arm], color=f"C{i + 1}")
    ax.axhline(0, color="k", lw=0.8)
    ax.axhspan(-100 * EQUIVALENCE_MARGIN, 100 * EQUIVALENCE_MARGIN, color="0.9")
    ax.set_xscale("log")
    ax.set_xlabel("number of classes K")
    ax.set_ylabel("test accuracy − cross-entropy's (pt)")
    ax.legend(fontsize=7)
    return plots.save_png(fig, path)


def setup_text(config, steps: int) -> str:
    ks = config.sweep.dataset.num_classes
    lrs = ", ".join(f"{lr:g}" for lr in config.sweep.learning_rate)

    def per_class(k):
        return round(config.dataset.n_train * (1 - config.dataset.validation_fraction) / k)

    rescaled = ", ".join(f"K = {k}: k = {claim_config.rescaling(k)[0]:g}, M = "
                         f"{claim_config.rescaling(k)[1]:g}" for k in ks)
    return (
        f"`teacher_classes`: the arg-max of a fixed random tanh network (16 -> 32 -> K, class "
        f"biases fitted so every class takes ≈ 1/K of the inputs) on N(0, I_"
        f"{config.dataset.dim}) inputs, classes balanced exactly, noise-free, K ∈ "
        f"{{{', '.join(str(k) for k in ks)}}}; {config.dataset.n_train} training examples "
        f"({config.dataset.validation_fraction:.0%} carved for validation: "
        f"{per_class(min(ks))} per class left to train on at K = {min(ks)}, "
        f"{per_class(max(ks))} at K = {max(ks)}, so K sets the examples per class as well as "
        f"the number of classes) and {config.dataset.n_test} test examples at every K. "
        f"MLP {config.dataset.dim} -> {config.model.widths[0]} -> K "
        f"(ReLU); Adam ({config.schedule} schedule), minibatch {config.batch_size}, "
        f"{steps} steps (and {steps // 2} for the budget check), no penalty; lr ∈ {{{lrs}}} × "
        f"{len(config.sweep.seed)} units. Losses: softmax cross-entropy, the square loss on "
        f"raw outputs (one_hot_squared_error, k = M = 1), the rescaled square loss (Hui & "
        f"Belkin's (k, M): {rescaled}; they use k = M = 1 up to 10 classes and k = 15, M = 30 "
        f"for their 1,000-class tasks; every K above 10 takes that 1,000-class value here, "
        f"not tuned) and squentropy (cross-entropy + (1/(K−1)) Σ_{{j≠y}} f_j², "
        f"Hui, Belkin & Wright 2023). A unit draws the teacher, the data and the validation "
        f"carve, and seeds initialization and minibatch order. Intervals: 95%, paired over "
        f"units, McNemar's per-example variance as a floor (statistics.paired_accuracy_gap)."
    )


def summary(gaps: pd.DataFrame, slope: statistics.Interval) -> str:
    k_max = int(gaps["num_classes"].max())
    return (f"Gap to cross-entropy at K = {k_max}: plain square "
            f"{_gap_words(_gap_at(gaps, k_max, SQUARE))}, rescaled "
            f"{_gap_words(_gap_at(gaps, k_max, RESCALED))}, squentropy "
            f"{_gap_words(_gap_at(gaps, k_max, SQUENTROPY))}; the plain gap moves "
            f"{slope.format('+.2f')} pt per doubling of K.")


def _budget_words(gaps: pd.DataFrame, budget: pd.DataFrame) -> str:
    """Why the verdict is not tested: the loss at the smallest or the largest K whose B/2 -> B
    validation gain has the largest lower end, with its interval (shown still rising, or only
    not shown flat)."""
    ks = {cell_name(int(k)): int(k) for k in (gaps["num_classes"].min(),
                                               gaps["num_classes"].max())}
    part = budget[budget["dataset"].isin(ks) & ~budget["converged"]]
    row = part.loc[part["val_gain_low"].idxmax()]
    gain = statistics.Interval.from_columns(row, "val_gain")
    who = (f"{ARM_WORDS.get(row['loss'], row['loss'])} at K = {ks[row['dataset']]}"
           f" {'still gained' if gain.low > 0 else 'gained'} {gain.format('+.2f', 100)} "
           f"points of validation accuracy from {int(row['shorter_steps'])} to "
           f"{int(row['steps'])} steps")
    return who if gain.low > 0 else f"no loss was shown flat: {who}"


def _limits(gaps: pd.DataFrame, budget: pd.DataFrame, result: str, halves: dict) -> str:
    """Where the claim stops holding, for the verdict table."""
    k_max = int(gaps["num_classes"].max())
    k, m = claim_config.rescaling(k_max)
    if not halves["tested"]:
        return f"not tested: the budget was not shown converged ({_budget_words(gaps, budget)})"
    if result == "refuted":
        return (f"the plain square loss did not fall behind cross-entropy at K = {k_max} "
                f"(within ±{100 * EQUIVALENCE_MARGIN:g} pt or ahead)")
    if halves["closes"]:
        return "the rescaled square loss at the largest K is within the margin or better"
    return (f"the rescaled square loss (k = {k:g}, M = {m:g}, not tuned here) was not shown "
            f"within ±{100 * EQUIVALENCE_MARGIN:g} pt of cross-entropy at K = {k_max}")


def takeaway(gaps: pd.DataFrame, slope: statistics.Interval, result: str,
             halves: dict, budget: pd.DataFrame) -> str:
    """One sentence for a practitioner, from the verdict and the slope with its interval."""
    k_max = int(gaps["num_classes"].max())
    per = (f"{slope.format('+.2f')} accuracy points per doubling of the number of classes "
           f"(95% interval)")
    rescaled = statistics.Interval.from_columns(_gap_at(gaps, k_max, RESCALED), "gap")
    if not halves["tested"]:
        return (f"Whether the square loss needs rescaling with many classes was not tested: "
                f"the training budget was not shown converged ({_budget_words(gaps, budget)}"
                f"); at this budget the plain square loss's gap to cross-entropy moved {per}.")
    if result == "supported":
        return (f"With many classes, rescale the square loss or use squentropy: plain "
                f"squared error to the one-hot label falls further behind cross-entropy as "
                f"the classes grow (its gap changes by {per}), and "
                f"Hui & Belkin's rescaling (true class weighted k, target M) brings it within "
                f"±{100 * EQUIVALENCE_MARGIN:g} point at K = {k_max} "
                f"({rescaled.format('+.2f', 100)} pt).")
    if result == "refuted":
        return (f"The plain square loss (squared error to the one-hot label) kept up with "
                f"cross-entropy up to K = {k_max} classes here (its gap moved {per}): no "
                f"rescaling was needed on this task.")
    return (f"The square loss's gap to cross-entropy moved {per}; "
            + ("it widens, but " if halves["widens"] else "it was not shown to widen, and ")
            + f"the rescaled square loss at K = {k_max} is {rescaled.format('+.2f', 100)} "
            f"points from cross-entropy, "
            + ("within" if halves["closes"] else "not shown within")
            + f" ±{100 * EQUIVALENCE_MARGIN:g} point.")


def guide(gaps: pd.DataFrame, result: str, halves: dict) -> list[GuideRow]:
    k_max = int(gaps["num_classes"].max())
    k, m = claim_config.rescaling(k_max)
    rows = {a: _gap_at(gaps, k_max, a) for a in ARMS}
    fine = [a for a in (RESCALED, SQUENTROPY) if _shown_close(rows[a])]
    # Computed from the numbers in every branch (a refuted verdict is always tested).
    choice = ("the plain square loss is fine (no rescaling needed)" if result == "refuted" else
              " or ".join({RESCALED: f"rescale the square loss (k = {k:g}, M = {m:g})",
                           SQUENTROPY: "use squentropy"}[a] for a in fine)
              if fine else f"cross-entropy (no square-loss variant was shown within "
                           f"±{100 * EQUIVALENCE_MARGIN:g} pt of it)")
    if not halves["tested"]:
        choice += ", at a budget not shown converged (not tested)"
    evidence = (f"claim 11: gap to cross-entropy at K = {k_max}: "
                + "; ".join(f"{ARM_WORDS[a]} {_gap_words(rows[a])}" for a in ARMS))
    # The plain square loss is the L2 loss: fine at the largest K -> "l2"; beaten -> "other".
    favours = ("" if not halves["tested"] else "l2" if result == "refuted" else "other")
    return [GuideRow(f"many classes (K = {k_max}) and you want the square loss", choice,
                     evidence, favours)]


def judge(tables: dict[str, pd.DataFrame], workdir: pathlib.Path, quick: bool) -> Section:
    size = "quick" if quick else "default"
    config = claim_config.get_config(size)
    outdir = plot_dir(workdir, KEY)
    runs, shorter = tables["runs_per_unit"], tables["shorter_budget_runs"]
    best = best_table(runs)
    budget = shown_converged(budget_table(runs, shorter), EQUIVALENCE_MARGIN)
    gaps = gap_table(runs, best, budget)
    ks = sorted(int(k) for k in gaps["num_classes"].unique())
    slope = gap_slope(runs, best, ks)
    squentropy_slope = gap_slope(runs, best, ks, SQUENTROPY)
    outcome, halves = verdict(gaps, slope)
    logging.info("%s: %s %s", KEY, outcome, halves)
    k_max = int(gaps["num_classes"].max())
    key_numbers = {"square_gap_per_doubling": slope,
                   "squentropy_gap_per_doubling": squentropy_slope,
                   **{f"{ARM_KEYS[arm]}_gap_at_max_k": statistics.Interval.from_columns(
                       {c: 100 * v for c, v in _gap_at(gaps, k_max, arm).items()
                        if c.startswith("gap")}, "gap") for arm in ARMS}}
    units = {f"{ARM_KEYS[arm]}_gap_per_doubling":
             f"accuracy points per doubling of K ({ARM_WORDS[arm]} − cross-entropy)"
             for arm in (SQUARE, SQUENTROPY)}
    units.update({f"{ARM_KEYS[arm]}_gap_at_max_k":
                  f"accuracy points at K = {k_max} ({ARM_WORDS[arm]} − cross-entropy)"
                  for arm in ARMS})
    return Section(
        key=KEY, title=TITLE, claim=CLAIM, setup=setup_text(config, claim_config.BUDGETS[size]),
        rule=RULE, verdict=outcome,
        findings=findings(gaps, best, budget, (slope, squentropy_slope), outcome, halves),
        summary=summary(gaps, slope),
        tables={"gaps": gaps, "best_lr": best, "budget_check": budget},
        plots={"gap_vs_classes": gap_plot(gaps, outdir / "gap_vs_classes.png")},
        key_numbers=key_numbers, kind="empirical", part="loss",
        headline="square_gap_per_doubling", units=units,
        limits=_limits(gaps, budget, outcome, halves),
        takeaway=takeaway(gaps, slope, outcome, halves, budget),
        guide=guide(gaps, outcome, halves),
    )
