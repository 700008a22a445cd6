"""The evidence report end to end: `python -m experiments.claims --quick` once per session
(the `quick_report` fixture), then checks of the whole report and of claims 1 and 4, each
verdict re-derived from the tables the report wrote, independently of the claims' own code.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from configs.claims import claim1_smoothness as claim1_config
from configs.claims import claim4_classification as claim4_config
from experiments.claims import claim4_classification as claim4
from experiments.claims.section import VERDICTS


@pytest.mark.slow
def test_quick_report_end_to_end(quick_report):
    """`python -m experiments.claims --quick`: every section has a computed verdict, its tables
    as CSV and its plots embedded in the HTML."""
    tmp_path = quick_report
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    verdicts = pd.read_csv(tmp_path / "verdicts.csv")
    ran = verdicts[verdicts["verdict"].isin(VERDICTS)]
    assert {"Claim 1", "Claim 2", "Claim 3a", "Claim 3b", "Claim 4", "Claim 5", "Claim 7"} <= set(
        ran["claim"])
    for key in ("claim" + claim.split()[-1] for claim in ran["claim"]):
        verdict = re.search(rf'<a id="{key}"></a>.*?\*\*Verdict: (\w+)\*\*', md, re.S)
        assert verdict and verdict.group(1) in VERDICTS, key
        csvs = sorted((tmp_path / key).glob("*.csv"))
        pngs = sorted((tmp_path / key).glob("*.png"))
        assert csvs and pngs, key
        manifest = tmp_path / key / "computed.json"  # compute's own tables: not shown inline
        computed = set(json.loads(manifest.read_text())["tables"]) if manifest.exists() else set()
        for csv in csvs:
            assert csv.stem in computed or f"{key}/{csv.name}" in md
            assert len(pd.read_csv(csv)) > 0
    assert page.count("data:image/png;base64,") == len(list(tmp_path.glob("claim*/*.png")))
    assert "So why L2?" in page
    terminal = (tmp_path / "stderr.log").read_text().splitlines()
    assert not [line for line in terminal if re.search(r"\btpu\b", line, re.IGNORECASE)]
    # --quick compiles at --xla_optimization_level=1 (auto's level for it) and records it.
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert "--xla_backend_optimization_level=1" in provenance["machine"]["xla_flags"]


def _finite(frame: pd.DataFrame, columns) -> None:
    values = frame[list(columns)].to_numpy(dtype=float)
    assert np.isfinite(values).all(), frame[list(columns)]


@dataclasses.dataclass
class ReportSection:
    """A section of the --quick report as its files give it back (verdicts.csv, CSVs, PNGs)."""

    verdict: str
    tables: dict[str, pd.DataFrame]


def _section_of(report: pathlib.Path, key: str, claim: str) -> ReportSection:
    verdicts = pd.read_csv(report / "verdicts.csv").set_index("claim")
    assert verdicts.loc[claim, "verdict"] in VERDICTS
    tables = {p.stem: pd.read_csv(p) for p in sorted((report / key).glob("*.csv"))}
    assert tables and all(len(t) > 0 for t in tables.values()), key
    for png in (report / key).glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    return ReportSection(verdicts.loc[claim, "verdict"], tables)


@pytest.mark.slow
def test_claim4_quick_end_to_end(quick_report):
    section = _section_of(quick_report, "claim4", "Claim 4")
    runs = section.tables["runs_per_unit"]
    config = claim4_config.get_config("quick")
    assert len(runs) == (len(config.sweep.dataset.name) * len(config.sweep.model.name)
                         * len(claim4_config.LOSSES) * len(config.sweep.learning_rate)
                         * len(config.sweep.seed))
    _finite(runs, ["test_accuracy", "test_loss", "val_accuracy", "test_ece_ts", "test_nll_ts"])
    assert ((runs["test_accuracy"] >= 0) & (runs["test_accuracy"] <= 1)).all()
    # Units redraw the split: the same lr and loss reaches different test sets' accuracies.
    assert runs.groupby(["dataset", "loss", "learning_rate"])["test_correct"].nunique().min() > 1

    # Re-derived from the runs table alone: selection on validation, the gap per cell from the
    # per-example correctness, and the rule from the comparison table's columns.
    comparison = section.tables["comparison"].set_index(["dataset", "model"])
    for (dataset, model), cell in runs.groupby(["dataset", "model"]):
        accuracy = {}
        for loss, frame in cell.groupby("loss"):
            mean = frame.groupby("learning_rate")["val_accuracy"].mean()  # selected on val
            best = frame[frame["learning_rate"] == mean.idxmax()].sort_values("unit")
            accuracy[loss] = np.array([claim4.decode_correct(t, n).mean() for t, n in
                                       zip(best["test_correct"], best["n_test"], strict=True)])
            np.testing.assert_allclose(accuracy[loss], best["test_accuracy"], atol=1e-12)
        row = comparison.loc[(dataset, model)]
        np.testing.assert_allclose(row["gap_sq"],
                                   (accuracy[claim4.SQUARE] - accuracy[claim4.CE]).mean(),
                                   atol=1e-12)
        assert row["gap_sq_low"] <= row["gap_sq"] <= row["gap_sq_high"]
        assert row["outcome"] == claim4.cell_outcome(row.to_dict() | {"dataset": dataset})
    outcomes = comparison["outcome"]
    expected = ("supported" if 2 * (outcomes == "CE better").sum() > len(outcomes)
                else "refuted" if 2 * (outcomes == "square better").sum() > len(outcomes)
                else "qualified")
    assert section.verdict == expected
    # Every loss stays far above chance (10%) at its best lr on both tasks.
    assert (section.tables["best_lr"]["acc_mean"] > 0.2).all()


@pytest.mark.slow
def test_claim1_quick_end_to_end(quick_report):
    section = _section_of(quick_report, "claim1", "Claim 1")
    runs = section.tables["runs"]
    config = claim1_config.get_config("quick")
    assert len(runs) == (len(claim1_config.LOSSES) * len(config.sweep.dataset.noise_scale)
                         * len(config.sweep.learning_rate) * len(config.sweep.seed))
    stable = runs[runs["stable"]]
    _finite(stable, ["rebound", "relative_excess", "test_mse", "val_mse", "initial_grad_norm"])
    assert (stable["final_objective"] < stable["initial_objective"]).all()
    assert (stable["rebound"] >= 0).all() and (stable["relative_excess"] >= -1e-9).all()
    # The rule, re-applied from the tables: tuned lr = stable on all seeds, lowest mean val MSE.
    tuned = section.tables["tuned_lr"].set_index(["noise_scale", "loss"])["tuned_lr"]
    for (noise, loss), frame in runs.groupby(["noise_scale", "loss"]):
        per_lr = frame.groupby("learning_rate").agg(ok=("stable", "all"), v=("val_mse", "mean"))
        assert tuned[(noise, loss)] == per_lr[per_lr["ok"]]["v"].idxmin()
