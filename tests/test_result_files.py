"""experiments.result_files: file modes, verified chunks (manifests), assembled tables."""

from __future__ import annotations

import concurrent.futures
import os
import stat
import sys

import pandas as pd
import pytest

from experiments import result_files


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_result_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        result_files.write_csv(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))
        result_files.write_json(tmp_path / "t.json", {"a": 1})
    finally:
        os.umask(old)
    for name in ("t.csv", "t.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask


def test_files_written_from_threads_follow_the_umask_and_leave_it_unchanged(tmp_path):
    """Reading the umask sets it; two threads doing so at once must not leave it at 0."""
    old, interval = os.umask(0o027), sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: make a race likely
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: result_files.write_json(tmp_path / f"{i}.json", i),
                          range(2000)))
        assert os.umask(0o027) == 0o027
    finally:
        sys.setswitchinterval(interval)
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("*.json")}
    assert modes == {0o640}


def _sweep(path, **overrides):
    from experiments import sweep
    from tests.test_resume import _config
    return sweep.run_sweep(_config(**overrides), path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "w"
    _sweep(path)
    return path


def _copy(finished, tmp_path):
    import shutil
    target = tmp_path / "w"
    shutil.copytree(finished, target)
    return target


def _tables(path):
    return [(path / t).read_bytes() for t in (result_files.RUNS_TABLE, result_files.CURVES_TABLE)]


@pytest.mark.parametrize("damage", ["truncate", "empty", "edit", "no_manifest"])
def test_damaged_chunk_is_reported_recomputed_and_tables_identical(finished, tmp_path, damage):
    path = _copy(finished, tmp_path)
    target = path / result_files.CHUNK_DIR / "g000-c00001.runs.csv"
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "edit":
        lines = data.decode().splitlines(keepends=True)
        lines[1] = lines[1].replace("0", "1", 1)
        target.write_text("".join(lines))
    else:
        result_files.manifest_path(path, 0, 1).unlink()
    assert not result_files.chunk_done(path, 0, 1)
    assert result_files.chunk_done(path, 0, 0)
    with pytest.raises(result_files.ChunkError, match="g000-c00001"):
        result_files.assemble(path)  # never used: tables untouched
    assert _tables(path) == _tables(finished)
    _sweep(path)
    assert target.read_bytes() == data
    assert _tables(path) == _tables(finished)


def test_chunks_of_another_identity_are_not_reused(finished, tmp_path):
    import json
    path = _copy(finished, tmp_path)
    record = json.loads((path / "config.json").read_text())
    record["config"]["steps"] = 300  # edited by hand, then rerun with the matching override
    (path / "config.json").write_text(json.dumps(record))
    for key in [(0, c) for c in range(6)]:
        assert not result_files.chunk_done(path, *key)
    result = _sweep(path, steps=300)
    assert int(result.curves["step"].max()) == 300  # not the 600-step chunks
    fresh = tmp_path / "fresh"
    _sweep(fresh, steps=300)
    assert _tables(path) == _tables(fresh)


def test_cli_reports_a_chunk_that_belongs_to_no_chunk_of_the_grid_in_one_line(finished, tmp_path):
    import subprocess
    import sys

    from tests.test_resume import ROOT, _cli_flags
    path = _copy(finished, tmp_path)
    stray = path / result_files.CHUNK_DIR / "g000-c00099.runs.csv"
    stray.write_text("run_id\n99\n")  # e.g. left by another sweep's files copied in
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={path}", *_cli_flags()],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("E")]
    assert len(errors) == 1 and "g000-c00099" in errors[0], proc.stderr[-3000:]
    assert _tables(path) == _tables(finished)  # the tables are untouched
