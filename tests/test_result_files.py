"""experiments.result_files: file modes, verified chunks (manifests), assembled tables."""

from __future__ import annotations

import concurrent.futures
import os
import stat
import sys

import pandas as pd
import pytest

from experiments import engine, result_files


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
    from tests.test_resume import _config
    return engine.run_sweep(_config(**overrides), path)


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


def _identity(path):
    """The digest of the sweep identity recorded in the workdir's config.json."""
    import json
    record = json.loads((path / "config.json").read_text())
    return result_files.identity_digest(result_files.recorded_identity(record))


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
    assert not result_files.chunk_done(path, _identity(path), 0, 1)
    assert result_files.chunk_done(path, _identity(path), 0, 0)
    with pytest.raises(result_files.ChunkError, match="g000-c00001"):
        result_files.assemble(path, _identity(path))  # never used: tables untouched
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
        assert not result_files.chunk_done(path, _identity(path), *key)
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


def _edit_chunk(path, name: str) -> None:
    """Change one value of a chunk's runs table (its manifest no longer matches)."""
    target = path / result_files.CHUNK_DIR / name
    frame = pd.read_csv(target)
    frame.loc[0, "final_test_mse"] = 0.001
    frame.to_csv(target, index=False)


def test_analysis_of_a_partial_workdir_reads_only_verified_chunks(finished, tmp_path,
                                                                  monkeypatch):
    """Issue 36 item 12: an edited or truncated chunk is left out, with a warning naming it."""
    from absl import logging

    from experiments import analysis
    path = _copy(finished, tmp_path)
    for table in (result_files.RUNS_TABLE, result_files.CURVES_TABLE, result_files.GROUPS_TABLE):
        (path / table).unlink()  # a sweep still running: only its chunks
    _edit_chunk(path, "g000-c00001.runs.csv")
    curves = path / result_files.CHUNK_DIR / "g000-c00002.curves.csv"
    curves.write_bytes(curves.read_bytes()[: len(curves.read_bytes()) // 3])
    warnings: list[str] = []
    monkeypatch.setattr(logging, "warning", lambda msg, *a: warnings.append(msg % a))
    loaded = analysis.load(path)
    full = pd.read_csv(finished / result_files.RUNS_TABLE)
    damaged = set(pd.read_csv(finished / result_files.CHUNK_DIR / "g000-c00001.runs.csv").run_id)
    damaged |= set(pd.read_csv(finished / result_files.CHUNK_DIR / "g000-c00002.runs.csv").run_id)
    expected = full[~full.run_id.isin(damaged)].reset_index(drop=True)
    assert loaded.runs[expected.columns].equals(expected)
    assert set(loaded.curves.run_id) == set(expected.run_id)
    assert any("g000-c00001" in w and "checksum" in w for w in warnings), warnings
    assert any("g000-c00002" in w and "checksum" in w for w in warnings), warnings


def test_merge_on_a_damaged_chunk_does_not_claim_to_recompute_it(finished, tmp_path,
                                                                 monkeypatch):
    """Issue 36, minor: merge recomputes nothing, so its log says to rerun the sweep."""
    from absl import logging

    from experiments import parts
    from experiments.plan import SweepPlan
    path = _copy(finished, tmp_path)
    _edit_chunk(path, "g000-c00001.runs.csv")
    warnings: list[str] = []
    monkeypatch.setattr(logging, "warning", lambda msg, *a: warnings.append(msg % a))
    plan = SweepPlan.from_record(parts.record_of(path))
    with pytest.raises(result_files.ChunkError, match="g000-c00001"):
        parts.check_complete(plan, path)
    (line,) = [w for w in warnings if "g000-c00001" in w]
    assert "recomputing it" not in line and "rerun the sweep" in line


def test_merge_on_a_workdir_it_cannot_write_is_one_line_naming_the_path(finished, tmp_path):
    """Issue 36 item 10: the assembly lock can't be created (here parts/ is a file)."""
    import subprocess

    from tests.test_resume import ROOT
    path = _copy(finished, tmp_path)
    (path / "parts").write_text("")
    proc = subprocess.run([sys.executable, "-m", "experiments.merge", f"--workdir={path}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("E")]
    assert len(errors) == 1 and f"{path}/parts/assembling.lock" in errors[0], proc.stderr[-3000:]
    assert _tables(path) == _tables(finished)


def test_reproduce_refuses_an_unfinished_workdir_and_a_used_into_before_training(finished,
                                                                                 tmp_path):
    """Issue 36 item 13: nothing is trained, nothing created, old results never 'reproduced'."""
    import shutil

    from experiments import reproduce
    from experiments.workdir import WorkdirError
    path = _copy(finished, tmp_path)
    (path / result_files.RUNS_TABLE).unlink()
    into = tmp_path / "w-reproduce"
    with pytest.raises(ValueError, match=rf"{path} is not a finished sweep: no runs\.csv"):
        reproduce.reproduce(path, into)
    assert not into.exists()
    shutil.copytree(finished, into)  # `into` already holds a run: it would only be compared
    with pytest.raises(WorkdirError, match=rf"--into={into} already holds .*--overwrite"):
        reproduce.reproduce(finished, into)
    assert _tables(into) == _tables(finished)


@pytest.mark.parametrize("damage", ["not-json", "foreign"])
def test_a_damaged_or_foreign_config_json_is_named(finished, tmp_path, damage):
    """Issue 36 item 14: merge, reproduce and analysis.load name the file that can't be read."""
    import json

    from experiments import analysis, parts, reproduce
    from experiments.workdir import WorkdirError
    path = _copy(finished, tmp_path)
    config_json = path / "config.json"
    if damage == "not-json":
        config_json.write_text(config_json.read_text()[:-40])
    else:
        config_json.write_text(json.dumps({"something": "else"}))
    match = rf"{config_json}.*(not a losslab sweep|JSON|Expecting|Unterminated)"
    with pytest.raises(WorkdirError, match=match):
        parts.record_of(path)  # what merge reads
    with pytest.raises(WorkdirError, match=match):
        reproduce.reproduce(path, tmp_path / "into")
    with pytest.raises(WorkdirError, match=match):
        analysis.load(path)


def test_stale_temporaries_are_removed_in_every_folder_of_a_workdir(tmp_path):
    """Issue 36, minor: a kill leaves `.<name>.<random>.tmp` in plots/ (a figure being saved)
    or in a claims report's folders; an old one is removed wherever it is, a fresh one kept."""
    import time

    from experiments import workdir
    old = time.time() - 2 * workdir.STALE_TMP_SECONDS
    stale = [tmp_path / "plots" / ".heatmap.png.ab12.tmp", tmp_path / "claim2" / ".t.csv.cd.tmp",
             tmp_path / "claim4" / "plots" / ".f.png.ef.tmp", tmp_path / ".report.md.01.tmp"]
    fresh = tmp_path / "plots" / ".curves.png.gh34.tmp"
    kept = tmp_path / "plots" / "heatmap.png"
    for path in [*stale, fresh, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    for path in [*stale, kept]:
        os.utime(path, (old, old))
    workdir.remove_stale_temporaries(tmp_path)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and kept.exists()


def test_a_rerun_that_trains_nothing_says_so(finished, tmp_path, monkeypatch):
    """Issue 36, minor: not "trained 6 runs in 0.0s" when every chunk was already there."""
    from absl import logging
    path = _copy(finished, tmp_path)
    infos: list[str] = []
    monkeypatch.setattr(logging, "info", lambda msg, *a: infos.append(msg % a))
    _sweep(path)
    assert not [line for line in infos if "trained" in line], infos
    assert any(f"were already in {path}: nothing to train" in line for line in infos), infos


def test_extra_chunk_tables_are_verified_and_assembled(tmp_path):
    """write_chunk's extra tables (the spectral density's) are in the manifest: assembled into
    <name>.csv in run_id order; truncated, or a manifest naming a file outside the chunk's
    tables, the chunk does not verify."""
    import json

    for chunk_id, run_ids in ((1, [2, 3]), (0, [0, 1])):
        runs = pd.DataFrame({"run_id": run_ids})
        curves = pd.DataFrame({"run_id": run_ids, "step": [0, 0]})
        density = pd.DataFrame({"run_id": run_ids, "density": [0.5, 1.5]})
        result_files.write_chunk(tmp_path, "", 0, chunk_id, runs, curves, {"dens": density})
    result_files.assemble(tmp_path, "")
    table = pd.read_csv(tmp_path / "dens.csv")
    assert table.to_dict("list") == {"run_id": [0, 1, 2, 3], "density": [0.5, 1.5, 0.5, 1.5]}
    path = tmp_path / "chunks" / "g000-c00000.dens.csv"
    path.write_text(path.read_text()[:-4])
    assert not result_files.chunk_done(tmp_path, "", 0, 0)
    manifest = result_files.manifest_path(tmp_path, 0, 1)
    record = json.loads(manifest.read_text())
    # The same file by a path through the parent: its checksum matches, its name is no table's.
    record["files"]["../chunks/g000-c00001.dens.csv"] = record["files"]["g000-c00001.dens.csv"]
    manifest.write_text(json.dumps(record))
    assert not result_files.chunk_done(tmp_path, "", 0, 1)


def test_a_manifest_whose_files_is_not_a_mapping_does_not_verify(tmp_path):
    """A hand-edited manifest that keeps the sweep's identity but whose "files" is a list, a
    string or null: the chunk does not verify (it is recomputed), no AttributeError."""
    import json

    runs = pd.DataFrame({"run_id": [0, 1]})
    curves = pd.DataFrame({"run_id": [0, 1], "step": [0, 0]})
    result_files.write_chunk(tmp_path, "", 0, 0, runs, curves)
    assert result_files.chunk_done(tmp_path, "", 0, 0)
    manifest = result_files.manifest_path(tmp_path, 0, 0)
    record = json.loads(manifest.read_text())
    for files in (list(record["files"]), "g000-c00000.runs.csv", None):
        manifest.write_text(json.dumps({**record, "files": files}))
        assert not result_files.chunk_done(tmp_path, "", 0, 0), files


def test_result_files_sits_below_workdir():
    # No import cycle (issue 34): the sweep identity and config.json's name live in result_files,
    # which workdir, parts, plan and the lock read; result_files imports none of them.
    import subprocess
    import sys

    code = ("import sys, experiments.result_files as r; "
            "assert not {'experiments.workdir', 'experiments.parts', 'experiments.plan'} "
            "& set(sys.modules), sorted(m for m in sys.modules if m.startswith('experiments'));"
            "import experiments.workdir as w; assert w.recorded_identity is r.recorded_identity")
    subprocess.run([sys.executable, "-c", code], check=True)
