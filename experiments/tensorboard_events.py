"""TensorBoard events of a sweep: scalars and hparams per run, written as each chunk finishes.

  tensorboard --logdir <workdir>/tb

Layout:
  tb/<run name>/events.out.tfevents.*   one directory per run, named by its swept values
                                        ('loss=huber/penalty_strength=0.001/seed=0'); holds
                                        every curve of the curves table under its tag
                                        (curve_table: train/*, test/*, val/*, optim/*;
                                        curves/<name> for one it doesn't list; sparse ones at
                                        their measured steps only), the final
                                        metrics as `results/<runs-table column>` at the last
                                        step, and the hparams plugin's summaries
  tb/.written/g<G>-c<C>                 that chunk's runs are complete in tb/

HParams dashboard: every run's session holds its swept values (the hparams, with the sweep's
values as each one's discrete domain) and its final metrics (every numeric result column of the
runs table: final_test_mse, diverged, frac_increase, ...). Each run directory carries the same
experiment summary, so any one of them describes the whole sweep.

Appended, never rebuilt: the sweep writes a chunk's events just before its tables (so a chunk
whose tables exist is complete in tb/ too, and a running sweep can be watched), then marks it
written. Before writing a chunk, the event files its runs' directories already hold are deleted:
a write interrupted by a kill leaves no marker, and the rerun replaces those files instead of
adding a second copy. At the end (`write_missing`), chunks whose tables exist but that carry no
marker (tensorboard was off, or events from before this layout) are written from the tables;
marked chunks are skipped.
"""

from __future__ import annotations

import math
import pathlib
import time
from typing import Any

import numpy as np
import pandas as pd
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.api_pb2 import (
    DataType,
    Experiment,
    HParamInfo,
    MetricInfo,
    MetricName,
    Status,
)
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.proto.plugin_hparams_pb2 import (
    HParamsPluginData,
    SessionEndInfo,
    SessionStartInfo,
)
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

from experiments import curve_table, grid, result_files, table_rows

TB_DIR = "tb"
WRITTEN_DIR = ".written"  # inside tb/: a hidden directory TensorBoard's run scan ignores
EVENTS_GLOB = "events.out.tfevents.*"
RESULTS_PREFIX = "results/"

_NOT_METRICS = {"run_id", "group_id", "run_name", *table_rows.IDENTITY_FIELDS}
# An hparam's kind -> (its HParamInfo type, the SessionStartInfo field holding a run's value).
_KINDS = {
    "bool": (DataType.DATA_TYPE_BOOL, "bool_value"),
    "number": (DataType.DATA_TYPE_FLOAT64, "number_value"),
    "string": (DataType.DATA_TYPE_STRING, "string_value"),
}


def _cell(value: Any) -> Any:
    """A swept value as the runs table holds it (tuples joined by 'x', as table_rows does)."""
    return "x".join(map(str, value)) if isinstance(value, tuple | list) else value


class Writer:
    """The events of one sweep's workdir; a no-op when config.tensorboard is off."""

    def __init__(self, workdir: str | pathlib.Path, plan):
        self.workdir = pathlib.Path(workdir)
        self.tb_dir = self.workdir / TB_DIR
        self.enabled = bool(plan.config.tensorboard)
        self.plan = plan
        self.steps = int(plan.config.steps)
        # hparam name -> (kind, discrete domain): kind 'bool', 'number' or 'string'
        self.hparams: dict[str, tuple[str, list]] = {}
        for path, values in grid.sweep_axes(plan.config):
            cells = [_cell(v) for v in values if v is not None]
            if all(isinstance(v, bool | np.bool_) for v in cells):
                kind = "bool"
            elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in cells):
                kind = "number"
            else:
                kind = "string"
            self.hparams[path] = (kind, list(dict.fromkeys(_coerce(kind, v) for v in cells)))

    def marker(self, key: tuple[int, int]) -> pathlib.Path:
        return self.tb_dir / WRITTEN_DIR / result_files.chunk_name(*key)

    def written(self, key: tuple[int, int]) -> bool:
        return self.marker(key).exists()

    def write_chunk(self, key: tuple[int, int], runs: pd.DataFrame, curves: pd.DataFrame) -> None:
        """Replace the events of the chunk's runs with these, then mark the chunk written.

        Any OSError under tb/ (a read-only or full disk) is a ResultsWriteError naming the path.
        """
        if not self.enabled:
            return
        try:
            self.marker(key).unlink(missing_ok=True)
        except OSError as e:
            raise result_files.write_error(self.marker(key), e) from e
        metrics = [
            c for c in runs.columns
            if c not in _NOT_METRICS and c not in self.hparams
            and (pd.api.types.is_numeric_dtype(runs[c]) or pd.api.types.is_bool_dtype(runs[c]))
        ]
        experiment = self._experiment(metrics)
        session_end = _plugin_summary("_hparams_/session_end_info",
                                      session_end_info=SessionEndInfo(status=Status.STATUS_SUCCESS))
        by_run = dict(tuple(curves.groupby("run_id", sort=False)))
        for row in runs.to_dict("records"):
            run_dir = self.tb_dir / row["run_name"]
            frame = by_run.get(row["run_id"], curves.iloc[:0])
            last = int(frame["step"].max()) if len(frame) else self.steps
            summaries = [(experiment, None), (self._session_start(row), None)]
            # One event per logged step holding every curve's value (as a merged summary does):
            # a seventh of the events to frame and checksum, which was most of the host's time.
            columns = [c for c in frame.columns if c not in ("run_id", "step")]
            tags = [curve_table.tag(c) for c in columns]
            # A NaN in a curve measured at some steps only is no value: left out rather than
            # drawn as a gap between every two points.
            sparse = [curve_table.sparse(c) for c in columns]
            table = frame[columns].to_numpy(dtype=np.float64)
            for step, values in zip(frame["step"].tolist(), table.tolist(), strict=True):
                pairs = [(tag, v) for tag, v, skip_nan in zip(tags, values, sparse, strict=True)
                         if not (skip_nan and math.isnan(v))]
                summaries.append((_scalars(pairs), step))
            if metrics:
                results = [(RESULTS_PREFIX + c, float(row[c])) for c in metrics]
                summaries.append((_scalars(results), last))
            summaries.append((session_end, None))
            try:
                _write_events(run_dir, summaries)
            except OSError as e:
                raise result_files.write_error(run_dir, e) from e
        result_files.atomic_write(self.marker(key), lambda p: p.write_text(""))

    def write_missing(self) -> pathlib.Path:
        """Write every chunk whose tables exist but which has no marker; return tb/."""
        for key in self.plan.keys:
            if self.enabled and not self.written(key) and result_files.chunk_done(
                self.workdir, self.plan.digest, *key
            ):
                self.write_chunk(key, *result_files.read_chunks(self.workdir, [key]))
        return self.tb_dir

    def _experiment(self, metrics: list[str]):
        infos = []
        for name, (kind, domain) in self.hparams.items():
            info = HParamInfo(name=name, type=_KINDS[kind][0])
            info.domain_discrete.extend(domain)  # a ListValue, without importing protobuf itself
            infos.append(info)
        experiment = Experiment(
            hparam_infos=infos,
            metric_infos=[MetricInfo(name=MetricName(tag=RESULTS_PREFIX + m)) for m in metrics],
        )
        return _plugin_summary("_hparams_/experiment", experiment=experiment)

    def _session_start(self, row: dict[str, Any]):
        info = SessionStartInfo()
        for name, (kind, _) in self.hparams.items():
            value = row.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            setattr(info.hparams[name], _KINDS[kind][1], _coerce(kind, value))
        return _plugin_summary("_hparams_/session_start_info", session_start_info=info)


def _write_events(run_dir: pathlib.Path, summaries: list) -> None:
    """Replace the run's event files with one holding `summaries` ((Summary, step or None)).

    Written in this thread (tensorboardX's FileWriter writes from a thread of its own, where a
    full disk is a traceback nobody catches), so an OSError reaches the caller.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob(EVENTS_GLOB):  # files only: nested runs' dirs stay
        stale.unlink()
    writer = EventsWriter(str(run_dir / "events"))
    try:
        for summary, step in summaries:
            event = Event(summary=summary, wall_time=time.time())
            if step is not None:
                event.step = step
            writer.write_event(event)
    finally:
        writer.close()


def _coerce(kind: str, value: Any) -> Any:
    """Read back from a CSV, '16' may be the int 16 and True the string 'True': one type each."""
    if kind == "bool":
        return value in (True, "True", "true", 1)
    if kind == "number":
        return float(value)
    return str(value)


def _scalars(pairs) -> Summary:
    """One Summary of several scalars: the values tensorboardX.summary.scalar(tag, value) makes
    (tags here need no cleaning), merged as tf.summary.merge would."""
    return Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in pairs])


def _plugin_summary(tag: str, **content):
    """A Summary of the hparams plugin (the layout tensorboardX.summary.hparams writes)."""
    data = HParamsPluginData(version=0, **content).SerializeToString()
    metadata = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(plugin_name="hparams", content=data)
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])
