"""TensorBoard events read back by the record format (no tensorboard package needed): every run's
scalars and hparams, written per chunk while the sweep runs, never duplicated by a resume."""

from __future__ import annotations

import pathlib
import struct

import pandas as pd
import pytest
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
from tensorboardX.record_writer import masked_crc32c

from configs import tiny
from experiments import engine, result_files, tensorboard_events
from experiments.plan import SweepPlan


def _config(**fields):
    config = tiny.get_config()
    config.update_from_flattened_dict(
        {"steps": 20, "log_every": 10, "chunk_size": 2, "plots": False, "progress": False, **fields}
    )
    return config


def read_events(path: pathlib.Path) -> list[Event]:
    """TFRecord framing: u64 length, masked crc32c of it, payload, masked crc32c of payload."""
    data, pos, events = path.read_bytes(), 0, []
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[pos + 8 : pos + 12])[0] == masked_crc32c(header)
        payload = data[pos + 12 : pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])[0] == (
            masked_crc32c(payload)
        )
        events.append(Event.FromString(payload))
        pos += 16 + length
    return events


def read_run(run_dir: pathlib.Path) -> dict:
    """{'scalars': {tag: [(step, value)]}, 'hparams': {name: value}, 'experiment', 'status'}."""
    files = sorted(run_dir.glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    out = {"scalars": {}, "hparams": None, "experiment": None, "status": None}
    for event in read_events(files[0]):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
                kind = data.WhichOneof("data")
                if kind == "experiment":
                    out["experiment"] = data.experiment
                elif kind == "session_start_info":
                    out["hparams"] = {
                        k: getattr(v, v.WhichOneof("kind"))
                        for k, v in data.session_start_info.hparams.items()
                    }
                else:
                    out["status"] = data.session_end_info.status
            else:
                out["scalars"].setdefault(value.tag, []).append((event.step, value.simple_value))
    return out


def _check_every_run(workdir: pathlib.Path, runs: pd.DataFrame, curves: pd.DataFrame):
    tb = workdir / tensorboard_events.TB_DIR
    assert len(list(tb.rglob("events.out.tfevents.*"))) == len(runs)
    for row in runs.to_dict("records"):
        run = read_run(tb / row["run_name"])
        assert run["hparams"] == {
            "loss": row["loss"],
            "penalty_strength": pytest.approx(row["penalty_strength"]),
            "seed": float(row["seed"]),
        }
        info = {h.name: h for h in run["experiment"].hparam_infos}
        assert list(info["loss"].domain_discrete.values[i].string_value for i in range(2)) == [
            "squared_error", "huber"
        ]
        assert [v.number_value for v in info["penalty_strength"].domain_discrete.values] == [
            0.0, 1e-2
        ]
        metrics = {m.name.tag for m in run["experiment"].metric_infos}
        assert {"results/final_test_mse", "results/diverged", "results/best_test_loss"} <= metrics
        assert metrics <= set(run["scalars"])  # every metric the dashboard lists has a value
        ((step, mse),) = run["scalars"]["results/final_test_mse"]
        assert step == 20 and mse == pytest.approx(row["final_test_mse"], rel=1e-6)
        mine = curves[curves["run_id"] == row["run_id"]]
        assert run["scalars"]["test/mse"] == [
            (s, pytest.approx(v, rel=1e-6))
            for s, v in zip(mine["step"], mine["test_mse"], strict=True)
        ]
        assert [s for s, _ in run["scalars"]["train/objective"]] == [0, 10, 20]
        # One event per logged step carries every curve (and one the results): 8 events, not one
        # per scalar (file version, experiment, session start, 3 steps, results, session end).
        (events,) = [read_events(f) for f in (tb / row["run_name"]).glob("events.out.tfevents.*")]
        assert [e.step for e in events[3:6]] == [0, 10, 20] and len(events) == 8
        assert {v.tag for v in events[3].summary.value} >= {"train/objective", "test/mse"}


def test_every_run_has_hparams_and_scalars_and_chunk_one_shows_before_the_end(
    tmp_path, monkeypatch
):
    seen = []
    write_chunk = result_files.write_chunk

    def after_events(workdir, identity, group_id, chunk_id, runs, curves, *extra):
        if not seen:  # the first chunk: its events are complete while the sweep still runs
            tb = pathlib.Path(workdir) / tensorboard_events.TB_DIR
            seen.append({n: read_run(tb / n)["hparams"] for n in runs["run_name"]})
            assert not (pathlib.Path(workdir) / result_files.RUNS_TABLE).exists()
        write_chunk(workdir, identity, group_id, chunk_id, runs, curves, *extra)

    monkeypatch.setattr(engine.result_files, "write_chunk", after_events)
    result = engine.run_sweep(_config(), tmp_path / "w")
    assert len(seen) == 1 and len(seen[0]) == 2  # chunk_size 2
    assert all(h is not None and "loss" in h for h in seen[0].values())
    _check_every_run(tmp_path / "w", result.runs, result.curves)


def test_resume_never_duplicates_events_and_rewrites_an_interrupted_chunk(tmp_path, monkeypatch):
    workdir = tmp_path / "w"
    calls = []
    write_chunk = result_files.write_chunk

    def killed_after_two(*args):
        write_chunk(*args)
        calls.append(args[1:3])
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if killed between chunks

    monkeypatch.setattr(engine.result_files, "write_chunk", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        engine.run_sweep(_config(), workdir)
    monkeypatch.setattr(engine.result_files, "write_chunk", write_chunk)
    tb = workdir / tensorboard_events.TB_DIR
    assert len(list(tb.rglob("events.out.tfevents.*"))) == 4
    # An interrupted TensorBoard write of chunk 0: marker gone, a truncated file left behind.
    events = tensorboard_events.Writer(workdir, SweepPlan.resolve(_config()))
    events.marker((0, 0)).unlink()
    runs0, _ = result_files.read_chunks(workdir, [(0, 0)])
    first = next((tb / runs0["run_name"][0]).glob("events.out.tfevents.*"))
    first.write_bytes(first.read_bytes()[:-7])
    kept = next((tb / result_files.read_chunks(workdir, [(0, 1)])[0]["run_name"][0]).glob("ev*"))
    kept_bytes = kept.read_bytes()

    result = engine.run_sweep(_config(), workdir)
    _check_every_run(workdir, result.runs, result.curves)  # exactly one file per run, complete
    assert kept.read_bytes() == kept_bytes  # a chunk already written is skipped
    assert all(events.written(key) for key in events.plan.keys)
    before = {p: p.read_bytes() for p in tb.rglob("events.out.tfevents.*")}
    engine.run_sweep(_config(), workdir)  # a finished sweep rerun: nothing trained or rewritten
    assert {p: p.read_bytes() for p in tb.rglob("events.out.tfevents.*")} == before


def test_full_disk_while_writing_events_is_one_error_naming_the_path(tmp_path, monkeypatch):
    import errno
    import os

    from tensorboardX import record_writer

    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        flush = close = lambda self: None

    monkeypatch.setattr(record_writer, "open_file", lambda path: FullDisk())
    workdir = tmp_path / "w"
    with pytest.raises(result_files.ResultsWriteError,
                       match=r"can't write .*w/tb/.*: No space left on device") as info:
        engine.run_sweep(_config(), workdir)
    assert "\n" not in str(info.value)
    assert not list((workdir / result_files.CHUNK_DIR).glob("*.runs.csv"))  # events come first


def test_a_read_only_tb_directory_is_one_error_naming_it(tmp_path, monkeypatch):
    """Issue 36 item 9: every OSError under tb/ (here: the marker of a chunk being rewritten
    can't be removed) is the one-line ResultsWriteError, not a traceback."""
    import errno
    import os

    from experiments.plan import SweepPlan
    writer = tensorboard_events.Writer(tmp_path / "w", SweepPlan.resolve(_config()))
    runs = pd.DataFrame({"run_id": [0], "group_id": [0], "run_name": ["loss=huber"],
                         "final_test_mse": [0.5]})
    curves = pd.DataFrame({"run_id": [0, 0], "step": [0, 10], "test_mse": [1.0, 0.5]})
    writer.write_chunk((0, 0), runs, curves)
    real_unlink = pathlib.Path.unlink

    def read_only(self, missing_ok=False):
        if tensorboard_events.TB_DIR in self.parts:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_unlink(self, missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", read_only)
    with pytest.raises(result_files.ResultsWriteError,
                       match=r"can't write .*w/tb\S*: Permission denied") as info:
        writer.write_chunk((0, 0), runs, curves)
    assert "\n" not in str(info.value)


def test_validation_and_sharpness_curves_are_in_tensorboard(tmp_path):
    # Issue 33 item 7: the tables had them, TensorBoard did not. tiny holds out a validation split.
    result = engine.run_sweep(_config(sharpness_every=20, sharpness_iters=5), tmp_path / "w")
    row = result.runs.iloc[0]
    run = read_run(tmp_path / "w" / tensorboard_events.TB_DIR / row["run_name"])
    mine = result.curves[result.curves["run_id"] == row["run_id"]]
    assert run["scalars"]["val/mse"] == [
        (s, pytest.approx(v, rel=1e-6)) for s, v in zip(mine["step"], mine["val_mse"], strict=True)
    ]
    # sharpness is measured at steps 0 and 20 only: NaN in between is left out, not plotted
    measured = mine[mine["sharpness"].notna()]
    assert list(measured["step"]) == [0, 20]
    assert run["scalars"]["optim/sharpness"] == [
        (s, pytest.approx(v, rel=1e-6))
        for s, v in zip(measured["step"], measured["sharpness"], strict=True)
    ]
    assert "optim/minibatch_grad_norm" in run["scalars"]
