"""A sweep's terminal: short, no JAX probe lines, no config dump, no log line inside the bar."""

from __future__ import annotations

import io
import logging as std_logging
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BAR = re.compile(r"^sweep:\s+\d+%\|")
LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d")
WHOLE_BAR = re.compile(r"^sweep:.*\]\s*$")  # nothing after the bar's '[elapsed<left, rate]'


def terminal_lines(text: str) -> tuple[list[str], list[str]]:
    """(the lines a person reads, the bar's redraws): '\\r' updates of the bar are not lines."""
    lines, bars = [], []
    for line in text.split("\n"):
        kept = []
        for segment in line.split("\r"):
            if BAR.match(segment):
                bars.append(segment)
            elif segment.strip():
                kept.append(segment)
        if kept:
            lines.append("".join(kept))
    return lines, bars


def test_terminal_lines_counts_a_bar_broken_by_a_log_line():
    text = "a\n\rsweep:   0%|  | 0/8\rI1202 10:00:00.1 x] compiled\n\rsweep: 100%|##| 8/8\n"
    lines, bars = terminal_lines(text)
    assert lines == ["a", "I1202 10:00:00.1 x] compiled"] and len(bars) == 2
    glued = "\rsweep:   0%|  | 0/8 [00:00<?]I1202 10:00:00.1 x] compiled\n"
    assert [b for b in terminal_lines(glued)[1] if not WHOLE_BAR.match(b)]


@pytest.mark.slow
def test_sweep_terminal_is_short_and_the_bar_is_never_broken(tmp_path):
    workdir = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={workdir}", "--config.steps=20", "--config.chunk_size=2",
         "--config.progress=True"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines, bars = terminal_lines(proc.stdout + proc.stderr)
    assert bars, "the progress bar was shown"
    assert not [b for b in bars if not WHOLE_BAR.match(b)], "a log line ran into the bar"
    assert all(LOG_LINE.match(line) or not BAR.search(line) for line in lines)
    tpu_probe = [line for line in lines if re.search(r"\btpu\b", line, re.IGNORECASE)]
    assert not tpu_probe
    assert not [line for line in lines if line.strip() in ("{", "}") or '"steps":' in line]
    named = [line for line in lines if "resolved config:" in line]
    assert len(named) == 1 and named[0].endswith(str(workdir / "config.json"))
    assert len(lines) <= 40, "\n".join(lines)


def test_progress_bar_prints_log_lines_whole_and_restores_stderr(monkeypatch):
    from absl import logging

    from experiments import console

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    handler = logging.get_absl_handler().python_handler
    monkeypatch.setattr(handler, "stream", stderr)
    bar = console.ProgressBar(total=4, desc="sweep", mininterval=0, file=stderr)
    bar.update(1)
    record = std_logging.makeLogRecord(
        {"msg": "group 0: compiled in 1.0s", "levelno": 30, "levelname": "WARNING"}
    )
    logging.get_absl_handler().handle(record)  # as absl's root handler does in a run
    bar.update(3)
    bar.close()
    assert sys.stderr is stderr and handler.stream is stderr
    lines, bars = terminal_lines(stderr.getvalue())
    assert [line for line in lines if "compiled in" in line] and bars
    assert not [b for b in bars if not WHOLE_BAR.match(b)]
