"""`python -m experiments.claims --workers=N`: claims computed side by side, each in a spawned
process of its own, give the report one after another gives; a worker that dies fails only its
claim."""

from __future__ import annotations

import json
import pathlib

from experiments.claims import __main__ as entry

FOOTER = "Computed by"


def _files(workdir: pathlib.Path) -> dict[str, bytes]:
    return {p.relative_to(workdir).as_posix(): p.read_bytes()
            for p in sorted(workdir.rglob("*.csv"))}


def test_side_by_side_writes_the_tables_and_report_of_one_after_another(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    entry.run_claims(one, quick=True, only=["claim7", "claim8"], workers=1)
    _, _, not_run = entry.run_claims(two, quick=True, only=["claim7", "claim8"], workers=2)
    assert not_run == {}
    assert _files(one) == _files(two) and len(_files(one)) > 4
    body = [[line for line in (w / "report.md").read_text().splitlines()
             if not line.startswith(FOOTER)] for w in (one, two)]
    assert body[0] == body[1]
    record = json.loads((two / "provenance.json").read_text())
    assert record["workers"] == 2 and set(record["wall_times_s"]) == {"claim7", "claim8"}
    assert "(2 claims computed side by side)" in (two / "report.md").read_text()
    assert "side by side" not in (one / "report.md").read_text()


def test_a_worker_that_dies_fails_only_its_claim(tmp_path, monkeypatch):
    (tmp_path / "dying_claim.py").write_text(
        "import os\n\n\ndef compute(workdir, quick):\n    os._exit(3)\n\n\n"
        "def judge(tables, workdir, quick):\n    raise AssertionError('never judged')\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # a spawned worker gets this sys.path
    monkeypatch.setitem(entry.CLAIMS, "claim7", "dying_claim")
    sections, _, not_run = entry.run_claims(tmp_path / "report", quick=True,
                                            only=["claim7", "claim8"], workers=2)
    assert not_run == {"claim7": "failed: its worker process died (exit code 3)"}
    assert [s.key for s in sections] == ["claim8"]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "claim 7 did not run" in report.lower()
