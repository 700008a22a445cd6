"""The terminal of a sweep: JAX's backend-probe lines off, log lines that never break the bar.

`quiet_jax()` (the entry points call it first) drops the INFO lines JAX's backend discovery logs
('Unable to initialize backend 'tpu': ...' on every machine without one); warnings still show.

`ProgressBar` is a tqdm bar that, while open, routes absl's log lines and anything else written
to sys.stderr through `tqdm.write`: the bar is cleared, the line printed whole, the bar redrawn.
Without it a log line starts wherever the bar's last carriage-return update ended
('sweep: 0%|...|I1202 ... compiled in 8.1s').

(Where the outputs are is the last part of the end-of-run summary, `plots.end_of_run_summary`.)
"""

from __future__ import annotations

import logging as std_logging
import sys

from absl import logging
from tqdm import tqdm
from tqdm.contrib import DummyTqdmFile

# Loggers whose INFO lines are probes, not news (jax._src.xla_bridge: the backend discovery).
_PROBE_LOGGERS = ("jax._src.xla_bridge",)


def quiet_jax() -> None:
    for name in _PROBE_LOGGERS:
        std_logging.getLogger(name).setLevel(std_logging.WARNING)


class ProgressBar(tqdm):
    """tqdm on the real stderr; while open, stderr writes and absl's lines go through tqdm.write."""

    def __init__(self, *args, **kwargs):
        self._redirect = None
        kwargs.setdefault("file", sys.stderr)
        super().__init__(*args, **kwargs)
        if self.disable:
            return
        stderr = sys.stderr
        proxy = DummyTqdmFile(stderr)
        # absl writes to its handler's stream (the stderr it saw at start) when not logging to a
        # file; redirect that too, or every line would appear twice.
        handler = logging.get_absl_handler().python_handler
        handler_stream = handler.stream
        if handler_stream is stderr:
            handler.stream = proxy
        sys.stderr = proxy
        self._redirect = (stderr, handler, handler_stream, proxy)

    def close(self):
        redirect, self._redirect = getattr(self, "_redirect", None), None
        if redirect is not None:
            stderr, handler, handler_stream, proxy = redirect
            if sys.stderr is proxy:  # not replaced since by someone else
                sys.stderr = stderr
            if handler.stream is proxy:
                handler.stream = handler_stream
        super().close()
