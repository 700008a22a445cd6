"""The evidence report end to end: `python -m experiments.claims --quick` once per session
(the `quick_report` fixture), then checks of the whole report and of claims 1 and 4, each
verdict re-derived from the tables the report wrote, independently of the claims' own code.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from configs.claims import claim1_smoothness as claim1_config
from configs.claims import claim4_classification as claim4_config
from experiments.claims import __main__ as entry
from experiments.claims import answer, classifier_runs
from experiments.claims import claim4_classification as claim4
from experiments.claims.section import VERDICTS

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_report_end_to_end(quick_report):
    """`python -m experiments.claims --quick`: every section has a computed verdict, its tables
    as CSV and its plots embedded in the HTML."""
    tmp_path = quick_report
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    verdicts = pd.read_csv(tmp_path / "verdicts.csv")
    ran = verdicts[verdicts["verdict"].isin(VERDICTS)]
    assert {"Claim 1", "Claim 2", "Claim 3a", "Claim 3b", "Claim 4", "Claim 5", "Claim 7",
            "Claim 9"} <= set(
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
    # The terminal: a line of progress and one of verdict per claim, where the report is; no
    # pandas tables (every line is a log line).
    assert len(terminal) <= 40 and all(re.match(r"[IW]\d{4} ", line) for line in terminal), \
        terminal
    # The answer says each thing once; verdicts.csv carries the headline numbers as numbers.
    assert not answer.repeated_sentences(
        md[md.index("## So why L2?"):md.index("CSV: [verdicts.csv]")].splitlines())
    assert {"estimate", "low", "high", "unit", "kind", "part"} <= set(verdicts.columns)
    numbers = ran.dropna(subset=["estimate"])
    assert len(numbers) and (numbers["low"] <= numbers["estimate"]).all() and (
        numbers["estimate"] <= numbers["high"]).all()
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
            accuracy[loss] = np.array([classifier_runs.decode_correct(t, n).mean() for t, n in
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
    bisection = section.tables["bisection"]
    config = claim1_config.get_config("quick")
    assert len(bisection) == (len(claim1_config.MODELS) * len(claim1_config.LOSSES)
                              * len(config.sweep.dataset.noise_scale) * len(config.sweep.seed))
    low, high = claim1_config.LR_BRACKET
    np.testing.assert_allclose(bisection["max_stable_lr_high"] / bisection["max_stable_lr_low"],
                               (high / low) ** 2.0 ** -claim1_config.ROUNDS["quick"], rtol=1e-5)
    # The linear model's L2 limit is 2/λ_max: measured / predicted within [0.8, 1.25].
    threshold = section.tables["threshold"]
    linear_l2 = threshold[(threshold["model"] == "linear") & (threshold["loss"] == "squared_error")]
    assert linear_l2["measured_over_predicted"].between(0.8, 1.25).all()
    runs = section.tables["floor_runs"]
    _finite(runs, ["relative_excess", "band_objective", "optimum"])
    assert (runs["relative_excess"] > -1e-5).all()  # nothing below its optimum but rounding
    # The rule, re-applied from the tables.
    halves = section.tables["exact_convergence"]
    limits = section.tables["limit_comparison"]
    expected = ("supported" if halves["holds"].all() and (limits["more_stable"] == "l2").all()
                else "refuted" if not halves["holds"].any()
                and not (limits["more_stable"] == "l2").any() else "qualified")
    assert section.verdict == expected


@pytest.mark.slow
def test_quick_report_rerenders_byte_identical(quick_report, tmp_path):
    """`--rerender` on a copy of the --quick report: report.md byte for byte, in a few seconds;
    while a claim is still legacy (only `run`), the rerender names it and writes nothing."""
    workdir = tmp_path / "report"
    shutil.copytree(quick_report, workdir)
    before = (workdir / "report.md").read_bytes()
    legacy = [key for key, name in entry.CLAIMS.items()
              if not hasattr(importlib.import_module(name), "judge")]
    # JAX_LOG_COMPILES: JAX logs a warning (which the terminal shows) for every compile.
    out = subprocess.run([sys.executable, "-m", "experiments.claims", f"--workdir={workdir}",
                          "--rerender"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "JAX_LOG_COMPILES": "1"})
    if legacy:
        assert out.returncode == 2 and f"{legacy[0]}: legacy module" in out.stderr, out.stderr
    else:
        assert out.returncode == 0, out.stderr[-3000:]
        assert "Compiling" not in out.stderr, out.stderr
    assert (workdir / "report.md").read_bytes() == before
