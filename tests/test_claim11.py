"""Claim 11 (the square loss with many classes): the rule on hand-made tables read back from
CSV (the verdict flips when the numbers flip), the literature's rescaling, and the --quick
compute end to end."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest

from configs.claims import claim11_many_classes as claim11_config
from experiments.claims import claim11_many_classes as claim11
from experiments.claims import claim_tables, classifier_runs

KS = (2, 10, 50, 100)


def _shifted(base: np.ndarray, rng, gained: int, churn: int) -> np.ndarray:
    """base with `churn` right->wrong and `churn + gained` wrong->right (gained < 0: that many
    more right->wrong)."""
    out = base.copy()
    right, wrong = rng.permutation(np.flatnonzero(base)), rng.permutation(np.flatnonzero(~base))
    out[right[:churn + max(0, -gained)]] = False
    out[wrong[:churn + max(0, gained)]] = True
    return out


def _runs(gained, units: int = 5, n: int = 4000, steps: int = 100) -> pd.DataFrame:
    """Per K and unit: CE right on a random 80% of n test examples; an arm right on
    gained(arm, K) + unit more (net), 5 discordant pairs; every arm 100 examples worse at the
    second lr (the first is selected: validation = test accuracy here)."""
    rng = np.random.default_rng(0)
    rows = []
    for k, unit in itertools.product(KS, range(units)):
        base = rng.random(n) < 0.8
        arms = [claim11.CE, claim11.SQUARE, claim11.SQUENTROPY]
        arms += [claim11.RESCALED] if claim11_config.rescaling(k) != (1, 1) else []
        for loss in arms:
            correct = (base if loss == claim11.CE
                       else _shifted(base, rng, gained(loss, k) + unit, 5))
            for lr in (0.003, 0.01):
                c = correct if lr == 0.003 else _shifted(correct, rng, -100, 0)
                rows.append({"dataset": claim11.cell_name(k), "model": "mlp", "steps": steps,
                             "loss": loss, "learning_rate": lr, "unit": unit,
                             "val_accuracy": c.mean(), "test_accuracy": c.mean(),
                             "test_loss": 0.5, "temperature": 1.0, "test_nll_ts": 0.5,
                             "test_ece_ts": 0.02, "diverged": False, "n_test": n,
                             "test_correct": classifier_runs.encode_correct(c),
                             "num_classes": k})
    return pd.DataFrame(rows)


def _judged(runs, tmp_path, shorter=None):
    shorter = runs.assign(steps=runs["steps"] // 2) if shorter is None else shorter
    tables = claim_tables.round_trip({"runs_per_unit": runs, "shorter_budget_runs": shorter},
                                     tmp_path / "claim11")
    return claim11.judge(tables, tmp_path, quick=True)


def _widening(loss, k):
    """The plain square loss loses 1.5 points (60 of 4,000) per doubling of K; the rescaled
    loss and squentropy match CE."""
    return -round(60 * math.log2(k / 2)) if loss == claim11.SQUARE else 0


def test_widens_and_closes_is_supported(tmp_path):
    section = _judged(_runs(_widening), tmp_path)
    assert section.verdict == "supported", section.findings
    slope = section.key_numbers["square_gap_per_doubling"]
    assert slope.estimate == pytest.approx(-1.5, abs=0.05) and slope.high < 0
    assert "**widens**" in section.findings and "**closes**" in section.findings
    assert "rescale the square loss (k = 15, M = 30) or use squentropy" in section.guide[0].choice
    assert section.takeaway.startswith("With many classes, rescale the square loss")
    assert section.headline == "square_gap_per_doubling" and section.part == "loss"
    gaps = pd.read_csv(tmp_path / "claim11" / "gaps.csv") if (
        tmp_path / "claim11" / "gaps.csv").exists() else section.tables["gaps"]
    # K <= 10: the rescaled arm is the plain square loss (k = M = 1), the same runs
    small = gaps[(gaps["num_classes"] == 10)].set_index("arm")
    assert small.loc[claim11.RESCALED, "gap"] == small.loc[claim11.SQUARE, "gap"]


def test_no_widening_at_all_is_refuted(tmp_path):
    section = _judged(_runs(lambda loss, k: 0), tmp_path)
    assert section.verdict == "refuted", section.findings
    assert "**overturns** Demirkaya" in section.findings
    assert section.guide[0].choice == "the plain square loss is fine (no rescaling needed)"


def test_widening_that_rescaling_does_not_close_is_qualified(tmp_path):
    def gained(loss, k):
        return _widening(loss, k) + (-200 if loss == claim11.RESCALED else 0)

    section = _judged(_runs(gained), tmp_path)
    assert section.verdict == "qualified", section.findings
    assert "not shown to close" in section.findings and "**widens**" in section.findings
    assert section.guide[0].choice == "use squentropy"


def test_an_unconverged_largest_k_is_not_tested(tmp_path):
    runs = _runs(_widening)
    shorter = runs.assign(steps=50)
    at_max = shorter["num_classes"] == 100
    shorter.loc[at_max, "val_accuracy"] -= 0.05  # still gaining 5 points from B/2 to B
    section = _judged(runs, tmp_path, shorter)
    assert section.verdict == "qualified"
    assert "not tested" in section.findings and "was not tested" in section.takeaway


def test_rescaling_follows_hui_belkin():
    assert claim11_config.rescaling(2) == claim11_config.rescaling(10) == (1.0, 1.0)
    assert claim11_config.rescaling(100) == (15.0, 30.0)


@pytest.mark.slow
def test_quick_compute_end_to_end(tmp_path):
    tables = claim11.compute(tmp_path, quick=True)
    runs = tables["runs_per_unit"]
    config = claim11_config.get_config("quick")
    per_k = 3 * len(config.sweep.learning_rate) * len(config.sweep.seed)
    rescaled = len(config.sweep.learning_rate) * len(config.sweep.seed)
    assert len(runs) == 2 * per_k + rescaled
    assert set(runs["num_classes"]) == {2, 50}
    assert (runs["loss"] == claim11.RESCALED).sum() == rescaled
    assert runs["test_accuracy"].between(0, 1).all()
    section = _judged(runs, tmp_path, tables["shorter_budget_runs"])
    assert section.verdict in ("supported", "refuted", "qualified")


def _behind(loss, k):
    """The plain square loss widens as in _widening; the rescaled loss and squentropy stay 5
    points (200 of 4,000) behind CE at every K."""
    return _widening(loss, k) + (0 if loss == claim11.SQUARE else -200)


def _still_gaining_at_max_k(runs):
    shorter = runs.assign(steps=50)
    at_max = (shorter["num_classes"] == 100) & (shorter["loss"] == claim11.SQUARE)
    shorter.loc[at_max, "val_accuracy"] -= 0.05  # the plain square loss still gains 5 points
    return shorter


def test_not_tested_guide_follows_its_own_numbers(tmp_path):
    runs = _runs(_behind)
    section = _judged(runs, tmp_path, _still_gaining_at_max_k(runs))
    assert section.verdict == "qualified" and "not tested" in section.findings
    row = section.guide[0]
    # every square-loss variant is behind CE: the row cannot recommend rescaling or squentropy
    assert row.choice.startswith("cross-entropy") and "rescale" not in row.choice, row.choice
    assert "squentropy" not in row.choice and row.favours == ""
    # the takeaway names the loss and K still gaining, with its interval
    assert "square (k = M = 1) at K = 100 still gained +5.00 [" in section.takeaway, (
        section.takeaway)
    assert "not shown converged" in section.limits


def test_plain_square_within_margin_at_max_k_is_refuted_even_if_its_gap_fell(tmp_path):
    """The plain square loss ahead of CE at K = 2 and level with it at K = 100: its gap falls
    (slope < 0) and the rescaled loss is within the margin, but nothing fell behind."""
    def gained(loss, k):
        ahead = round(60 * (math.log2(100 / 2) - math.log2(k / 2)))
        return ahead if loss == claim11.SQUARE else 0

    section = _judged(_runs(gained), tmp_path)
    assert section.key_numbers["square_gap_per_doubling"].high < 0
    assert section.verdict == "refuted", section.findings


def test_findings_flag_every_edge_interval_and_the_literature(tmp_path):
    section = _judged(_runs(_behind), tmp_path)
    # the first lr is selected everywhere: cross-entropy's edge is flagged like the arms'
    assert "K = 2 cross-entropy at 0.003" in section.findings, section.findings
    # accuracies with their intervals; a gap shown beyond the margin is said so
    assert re.search(r"cross-entropy \d+\.\d\d% \[\d+\.\d\d%, \d+\.\d\d%\]", section.findings)
    assert "shown outside ±1 pt" in section.findings
    assert "equivalent only for |gap| <" in section.findings
    assert "unlike Hui, Belkin & Wright (2023)" in section.findings
    assert "examples per class as well as the number of classes" in section.setup
