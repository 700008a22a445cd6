"""Classifier runs for the claims: one row per trained run, and selection on validation.

What claims 4 and 11 share: `runs_table` (final validation and test accuracy, per-example test
correctness packed into one CSV cell, calibration after temperature scaling fitted on
validation: Guo et al. 2017), `unit_config` / `train_units` (unit k redraws the data and seeds
the initialization), the learning rate selected per cell × loss on validation
(`selected_lrs`), the budget check (B/2 -> B validation gain, `budget_table`,
`shown_converged`) and the table at each loss's selected rate (`best_table`). A cell is the
`CELL` columns (dataset, model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.optimize

from experiments import statistics

CELL = ["dataset", "model"]
BUDGET_TOLERANCE = 0.005  # a budget is converged where B/2 -> B gains < 0.5 point (validation)
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


def encode_correct(correct: np.ndarray) -> str:
    """Per-example correctness as "x" + the hex of its packed bits: one CSV cell per run (the
    "x" keeps pandas from reading an all-digit string as a number)."""
    return "x" + np.packbits(np.asarray(correct, bool)).tobytes().hex()


def decode_correct(text: str, n: int) -> np.ndarray:
    """The inverse of encode_correct: (n,) bool."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(text[1:]), np.uint8))[:n].astype(bool)


def runs_table(groups) -> pd.DataFrame:
    """One row per run: cell, loss, lr, unit, final validation accuracy, test accuracy and
    per-example test correctness, and calibration after temperature scaling fitted on
    validation (test ECE and NLL)."""
    frames = []
    for g in groups:
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
        correct = test["test_logits"].argmax(-1) == y_test
        frames.append(pd.DataFrame({
            "dataset": g.config.dataset.name,
            "model": g.config.model.name,
            "steps": int(g.config.steps),
            "loss": g.config.loss,
            "learning_rate": g.hyper["learning_rate"].astype(float),
            "unit": g.hyper["seed"].astype(int),
            "val_accuracy": np.asarray(g.metrics["val_accuracy"], np.float64)[:, -1],
            "test_accuracy": test["test_accuracy"],
            "test_loss": test["test_nll"],
            "temperature": temp,
            "test_nll_ts": test_nll_ts,
            "test_ece_ts": ece,
            "diverged": np.asarray(g.metrics["diverged"], bool),
            "n_test": y_test.size,
            "test_correct": [encode_correct(c) for c in correct],
        }))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*CELL, "loss", "learning_rate", "unit"], ignore_index=True)


def unit_config(config, unit: int):
    """Unit k's config: data split k (digits' train/test split, MNIST-1D's and
    teacher_classes' generated dataset, the validation carve) and initialization / minibatch
    seed k."""
    c = config.copy_and_resolve_references()
    c.dataset.split_seed = unit
    c.dataset.data_seed = unit
    c.dataset.validation_seed = unit
    c.sweep.seed = (unit,)
    return c


def train_units(config) -> pd.DataFrame:
    """Every unit of config.sweep.seed on its own split (one program per cell; the units'
    programs are identical, so all but the first reuse its executables: `shared`)."""
    from experiments.claims import trained_runs  # the engine: compute only, never judge

    shared: dict = {}
    return pd.concat([runs_table(trained_runs.train(unit_config(config, int(u)),
                                                    on_validation=True, shared=shared))
                      for u in config.sweep.seed], ignore_index=True)


def loss_rows(frame: pd.DataFrame, dataset: str, model: str, loss: str) -> pd.Series:
    return (frame["dataset"] == dataset) & (frame["model"] == model) & (frame["loss"] == loss)


def at_lr(frame: pd.DataFrame, dataset: str, model: str, loss: str, lr: float) -> pd.DataFrame:
    mine = frame[loss_rows(frame, dataset, model, loss) & (frame["learning_rate"] == lr)]
    return mine.set_index("unit").sort_index()


def lr_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss × learning rate: accuracy mean / std over units and divergence rate."""
    table = runs.groupby([*CELL, "loss", "learning_rate"], sort=True).agg(
        units=("unit", "size"),
        val_acc_mean=("val_accuracy", "mean"),
        acc_mean=("test_accuracy", "mean"),
        acc_std=("test_accuracy", "std"),
        divergence_rate=("diverged", "mean"),
    ).reset_index()
    # lr sensitivity: test accuracy at every lr of the grid, with its interval over units.
    ivs = [statistics.mean(part.sort_values("unit")["test_accuracy"].to_numpy())
           for _, part in runs.groupby([*CELL, "loss", "learning_rate"], sort=True)]
    table["acc_low"] = [iv.low for iv in ivs]
    table["acc_high"] = [iv.high for iv in ivs]
    return table


def selected_lrs(runs: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(dataset, model, loss) -> the lr with the highest mean VALIDATION accuracy over units."""
    by_lr = lr_table(runs)
    return {key: float(frame.loc[frame["val_acc_mean"].idxmax(), "learning_rate"])
            for key, frame in by_lr.groupby([*CELL, "loss"], sort=True)}


def budget_table(runs: pd.DataFrame, shorter: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss at its selected lr: validation accuracy at the budget and at the shorter
    one (each fully annealed), and the gain between them, paired over units. converged: the
    gain is below BUDGET_TOLERANCE (a schedule cannot pass this by itself: both budgets end at
    lr 0)."""
    rows = []
    for (dataset, model, loss), lr in selected_lrs(runs).items():
        long = at_lr(runs, dataset, model, loss, lr)
        short = at_lr(shorter, dataset, model, loss, lr)
        units = long.index.intersection(short.index)
        gain = statistics.paired_difference(long.loc[units, "val_accuracy"].to_numpy(),
                                            short.loc[units, "val_accuracy"].to_numpy())
        rows.append({"dataset": dataset, "model": model, "loss": loss, "learning_rate": lr,
                     "steps": int(long["steps"].max()),
                     "shorter_steps": int(short["steps"].max()),
                     **gain.as_columns("val_gain"),
                     "converged": bool(gain.estimate < BUDGET_TOLERANCE)})
    return pd.DataFrame(rows)


def shown_converged(budget: pd.DataFrame, margin: float) -> pd.DataFrame:
    """The judge's convergence gate: a cell × loss converged where the 95% interval's upper end
    of its B/2 -> B validation gain is below `margin` (a gain smaller than the margin
    cannot flip an "equivalent" call). budget_table's point-estimate gate (`converged_point`)
    only steers compute's retraining ladder."""
    return budget.assign(converged_point=budget["converged"],
                         converged=budget["val_gain_high"] < margin)


def best_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per cell × loss at its selected learning rate (selected_lrs): test accuracy over units,
    calibration columns; divergence_rate and max_stable_lr are over the whole grid."""
    by_lr = lr_table(runs)
    rows = []
    for (dataset, model, loss), best_lr in selected_lrs(runs).items():
        frame = by_lr[loss_rows(by_lr, dataset, model, loss)]
        mine = runs[loss_rows(runs, dataset, model, loss)]
        at_best = at_lr(runs, dataset, model, loss, best_lr)
        stable = frame.loc[frame["divergence_rate"] == 0, "learning_rate"]
        row = {
            "dataset": dataset, "model": model, "loss": loss, "best_lr": best_lr,
            "units": len(at_best), "steps": int(at_best["steps"].max()),
            "acc_mean": at_best["test_accuracy"].mean(),
            "acc_std": at_best["test_accuracy"].std(ddof=1),
            "divergence_rate": mine["diverged"].mean(),
            "max_stable_lr": float(stable.max()) if len(stable) else np.nan,
            "acc_worst_lr": float(frame["acc_mean"].min()),
            "lr_at_grid_edge": best_lr in (frame["learning_rate"].min(),
                                           frame["learning_rate"].max()),
        }
        row.update(statistics.mean(at_best["test_nll_ts"].to_numpy()).as_columns("test_nll_ts"))
        # ECE and T are ≥ 0 and skewed near 0: percentile intervals stay in their range.
        for column in ("test_ece_ts", "temperature"):
            row.update(statistics.percentile_interval(
                lambda x: x.mean(-1), at_best[column].to_numpy()).as_columns(column))
        rows.append(row)
    return pd.DataFrame(rows)


def correct_matrix(frame: pd.DataFrame) -> np.ndarray:
    return np.stack([decode_correct(text, int(n))
                     for text, n in zip(frame["test_correct"], frame["n_test"], strict=True)])


def budget_lines(budget: pd.DataFrame, margin: float,
                 unconverged: str = ": this cell is not counted.") -> list[str]:
    """Per cell: each loss's B/2 -> B validation gain with its interval, and whether the cell
    is shown converged (every gain's upper end below `margin`: shown_converged); an
    unconverged cell's line ends with what that means for the claim."""
    lines = []
    for (dataset, model), part in budget.groupby(CELL, sort=True):
        gains = "; ".join(
            f"{r['loss']} {statistics.Interval.from_columns(r, 'val_gain').format('+.2f', 100)}"
            for r in part.to_dict("records"))
        ok = bool(part["converged"].all())
        lines.append(
            f"- **Budget, {dataset} / {model}, {int(part['steps'].max())} steps:** validation "
            f"accuracy gained from {int(part['shorter_steps'].max())} steps (pt, paired over "
            f"units) {gains} → "
            + ("converged (every gain's upper end < " if ok
               else "**not shown converged** (a gain's upper end ≥ ")
            + f"{100 * margin:g} pt)" + ("." if ok else unconverged))
    return lines
