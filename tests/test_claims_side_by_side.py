"""`python -m experiments.claims --workers=N`: claims computed side by side, each in a spawned
process of its own, give the report one after another gives; a worker that dies fails only its
claim."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from experiments.claims import __main__ as entry

FOOTER = "Computed by"
ROOT = pathlib.Path(__file__).resolve().parents[1]


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


def test_workers_do_not_outlive_a_killed_report(tmp_path):
    """SIGKILL the report: its workers exit too, instead of computing into its workdir."""
    (tmp_path / "slow_claim.py").write_text(
        "import os, pathlib, time\n\n\ndef compute(workdir, quick):\n"
        "    pathlib.Path(workdir, f'worker-{os.getpid()}').write_text('')\n"
        "    time.sleep(120)\n\n\ndef judge(tables, workdir, quick):\n    pass\n")
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from experiments.claims import __main__ as entry\n"
        "entry.CLAIMS.update(claim7='slow_claim', claim8='slow_claim')\n"
        "entry.run_claims(sys.argv[2], quick=True, only=['claim7', 'claim8'], workers=2)\n")
    workdir = tmp_path / "report"
    workdir.mkdir()
    report = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(workdir)],
                              cwd=ROOT)
    deadline = time.monotonic() + 120
    while len(list(workdir.glob("worker-*"))) < 2:
        assert time.monotonic() < deadline and report.poll() is None, "workers never started"
        time.sleep(0.5)
    pids = [int(p.name.split("-")[1]) for p in workdir.glob("worker-*")]
    report.send_signal(signal.SIGKILL)
    report.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"workers {pids} outlived the killed report"
        time.sleep(0.5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = pathlib.Path(f"/proc/{pid}/stat")
    return not (status.is_file() and status.read_text().split()[2] == "Z")  # a zombie is gone
