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
from experiments.claims import runner

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


FAKE_CLAIM = """import os, pathlib
from experiments.claims.section import Section


def compute(workdir, quick):
    if {dies}:
        os._exit(3)
    pathlib.Path(workdir, "{key}.pid").write_text(str(os.getpid()))
    return {{}}


def judge(tables, workdir, quick):
    return Section(key="{key}", title="", claim="", setup="", rule="", verdict="supported",
                   findings="")
"""


def test_workers_are_kept_between_claims_and_replaced_when_one_dies(tmp_path, monkeypatch):
    """Five claims on two workers: a worker runs the next claim when it finishes one (no new
    process, no new JAX import per claim); the claim whose worker dies fails alone and a new
    worker takes the claims after it."""
    keys = [f"claim{n}" for n in range(1, 6)]
    for key in keys:
        (tmp_path / f"fake_{key}.py").write_text(FAKE_CLAIM.format(key=key,
                                                                   dies=key == "claim2"))
    monkeypatch.syspath_prepend(str(tmp_path))  # a spawned worker gets this sys.path
    jobs = {key: (f"fake_{key}", tmp_path, True, "") for key in keys}
    outcomes = runner.run_side_by_side(jobs, workers=2)
    assert set(outcomes) == set(keys)
    assert outcomes["claim2"] == "failed: its worker process died (exit code 3)"
    assert all(outcomes[k][0][0].key == k for k in keys if k != "claim2")
    pids = {int((tmp_path / f"{k}.pid").read_text()) for k in keys if k != "claim2"}
    assert os.getpid() not in pids and len(pids) <= 3  # 2 workers + the one that replaced


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
