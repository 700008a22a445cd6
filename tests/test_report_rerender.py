"""`python -m experiments.claims --rerender`: the report rebuilt from the tables a run saved,
byte-identical, without JAX; a fake claim registered in the runner's registry stands in for
training. Also the runner's terminal (one line per claim, no tables)."""

from __future__ import annotations

import logging as std_logging
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from experiments.claims import __main__ as entry
from experiments.claims import claim_tables, runner

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A claim as the contract has it: compute -> tables, judge -> Section. Floats at full precision
# reach the prose, so a CSV round trip that lost a bit would change report.md.
FAKE_CLAIM = '''
import numpy as np
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments.claims.section import GuideRow, Section
from experiments.statistics import Interval

CALLS = {"compute": 0}


def compute(workdir, quick):
    CALLS["compute"] += 1
    x = np.random.default_rng(0).standard_normal(30) / 3.0
    runs = pd.DataFrame({"seed": range(30), "x": x, "positive": x > 0, "arm": ["l2", "l1"] * 15})
    return {"runs": runs,
            "summary": pd.DataFrame({"mean": [x.mean()], "mean_low": [x.mean() - 0.1],
                                     "mean_high": [x.mean() + 0.1]})}


def judge(tables, workdir, quick):
    mean = Interval.from_columns(tables["summary"].iloc[0], "mean")
    verdict = "supported" if mean.high < 0.5 else "refuted"
    runs = tables["runs"]
    fig, ax = plt.subplots()
    ax.plot(runs["seed"], runs["x"])
    path = workdir / "claim9" / "x.png"
    fig.savefig(path)
    plt.close(fig)
    return Section(
        key="claim9", title="A fake claim", claim="The mean is small.", setup="30 draws.",
        rule="supported if the interval's top is below 0.5.", verdict=verdict,
        findings=f"- mean {mean.estimate!r}; sum of x {runs['x'].sum()!r}",
        tables={"runs": runs, "by_arm": runs.groupby("arm", as_index=False)["x"].mean()},
        plots={"x": path}, key_numbers={"mean": mean}, headline="mean", units={"mean": "units"},
        kind="empirical", part="penalty",
        takeaway=f"The mean is {mean} units, so the claim {verdict}.",
        guide=[GuideRow("small means", "L2 penalty", f"claim 9: mean {mean}")])
'''
LEGACY_CLAIM = '''
def run(workdir, quick):
    raise AssertionError("a re-render must never call run")
'''


@pytest.fixture
def fake_claims(tmp_path, monkeypatch):
    """claim9 (compute/judge) and claim10 (legacy run only) registered in the runner."""
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "fake_claim9.py").write_text(FAKE_CLAIM)
    (modules / "fake_claim10.py").write_text(LEGACY_CLAIM)
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.setitem(entry.CLAIMS, "claim9", "fake_claim9")
    monkeypatch.setitem(entry.CLAIMS, "claim10", "fake_claim10")
    return modules


def test_rerender_is_byte_identical_after_the_csv_round_trip(tmp_path, fake_claims):
    workdir = tmp_path / "report"
    _, paths, not_run = entry.run_claims(workdir, quick=True, only=["claim9"])
    assert not not_run
    md = paths["markdown"].read_bytes()
    assert b"Wall time per claim: claim9" in md and b"The mean is" in md
    runs_csv = (workdir / "claim9" / "runs.csv").read_bytes()
    sections, again, not_run = entry.rerender_claims(workdir)
    assert again["markdown"].read_bytes() == md
    assert [s.key for s in sections] == ["claim9"] and not not_run
    assert (workdir / "claim9" / "runs.csv").read_bytes() == runs_csv
    assert sys.modules["fake_claim9"].CALLS["compute"] == 1  # judge only: nothing recomputed
    assert len(claim_tables.load(workdir / "claim9")) == 2


def test_rerender_imports_no_jax(tmp_path, fake_claims):
    """A fresh process re-renders with the fake claim registered; JAX is never imported."""
    workdir = tmp_path / "report"
    entry.run_claims(workdir, quick=True, only=["claim9"])
    before = (workdir / "report.md").read_bytes()
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(fake_claims)!r})
        from experiments.claims import __main__ as entry
        entry.CLAIMS["claim9"] = "fake_claim9"
        entry.rerender_claims({str(workdir)!r})
        print("jax imported:", "jax" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "jax imported: False" in out.stdout
    assert (workdir / "report.md").read_bytes() == before


def test_rerender_refuses_a_legacy_claim_before_writing(tmp_path, fake_claims, monkeypatch):
    workdir = tmp_path / "report"
    entry.run_claims(workdir, quick=True, only=["claim9"])
    before = (workdir / "report.md").read_bytes()
    with pytest.raises(ValueError, match=r"claim10: legacy module \(only run\(\)\)"):
        entry.rerender_claims(workdir, only=["claim9", "claim10"])
    assert (workdir / "report.md").read_bytes() == before


def test_rerender_with_only_keeps_the_run_record_and_logs_it(tmp_path, fake_claims):
    workdir = tmp_path / "report"
    entry.run_claims(workdir, quick=True, only=["claim9"])
    entry.rerender_claims(workdir, only=["claim9"])
    record = entry.read_record(workdir)
    assert record["claims"] == ["claim9"] and record["quick"] is True
    assert [r["claims"] for r in record["rerenders"]] == [["claim9"]]


def test_a_judge_table_never_replaces_a_computed_one(tmp_path, fake_claims, monkeypatch):
    module = __import__("fake_claim9")
    judge = module.judge

    def tampering_judge(tables, workdir, quick):
        section = judge(tables, workdir, quick)
        section.tables["runs"] = section.tables["runs"].head(3)
        return section

    monkeypatch.setattr(module, "judge", tampering_judge)
    with pytest.raises(ValueError, match="'runs' differs from the computed table"):
        entry.run_claims(tmp_path, quick=True, only=["claim9"])


def _cli(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "experiments.claims", *flags], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_bad_rerender_input_is_one_line_and_status_2(tmp_path):
    out = _cli(f"--workdir={tmp_path}", "--rerender")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "provenance.json" in out.stderr and str(tmp_path) in out.stderr
    assert not list(tmp_path.iterdir())


def test_terminal_filter_keeps_the_runner_and_warnings():
    terminal = runner.ClaimsTerminal()

    def record(path, level):
        return std_logging.LogRecord("absl", level, path, 1, "x\n   a  b\n0  1  2", None, None)

    assert terminal.filter(record(entry.__file__, std_logging.INFO))
    assert not terminal.filter(record("/x/experiments/claims/claim1_smoothness.py",
                                      std_logging.INFO))
    assert terminal.filter(record("/x/experiments/claims/claim1_smoothness.py",
                                  std_logging.WARNING))


def test_terminal_of_a_quick_claim_is_a_few_lines(tmp_path):
    """`--quick --only=claim8`: progress, the verdict with its time, where the report is."""
    out = _cli(f"--workdir={tmp_path}", "--quick", "--only=claim8")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stderr.strip().splitlines()
    assert 3 <= len(lines) <= 5, lines
    assert all(re.match(r"[IWE]\d{4} ", line) for line in lines), lines  # log lines, no tables
    assert re.search(r"claim8: (supported|qualified|refuted) in \d+\.\d s", out.stderr)
    assert "report.md" in lines[-1]


@pytest.mark.parametrize("flag", ["--workers=-1", "--xla_optimization_level=7", "--quick=maybe"])
def test_cli_bad_flag_value_is_one_line_and_status_2(tmp_path, flag):
    out = _cli(f"--workdir={tmp_path / 'report'}", flag)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert flag.split("=")[0] in out.stderr and not (tmp_path / "report").exists()


def test_cli_help_lists_the_flags_and_exits_0():
    out = _cli("--help")
    assert out.returncode == 0, out.stderr
    for flag in ("workdir", "quick", "only", "rerender", "workers"):
        assert f"--{flag}:" in out.stdout or f"--[no]{flag}:" in out.stdout, flag
