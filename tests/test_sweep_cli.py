"""The sweep's command line as a new user meets it: --help, fields, --dry_run, axis syntax."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

from experiments import config_schema, grid, validation

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _sweep(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "experiments.sweep", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_help_exits_0_and_points_to_the_fields():
    proc = _sweep("--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--config_fields" in proc.stdout and "--config.<field>=<value>" in proc.stdout
    assert "--dry_run" in proc.stdout and "jit(vmap" not in proc.stdout


def test_every_field_has_a_meaning_and_config_fields_prints_them():
    described = {path: (default, meaning) for path, default, meaning in
                 config_schema.describe_fields()}
    fields = {p: v for p, v in grid.flatten(config_schema.base_config()).items()
              if not p.startswith("sweep.")}
    assert set(described) == set(fields)
    assert all(described[p][0] == v for p, v in fields.items())
    assert all(meaning for _, meaning in described.values()), [
        p for p, (_, m) in described.items() if not m]
    assert described["dataset.df"][1] == "student_t degrees of freedom ν"
    assert "δ" not in described["penalty_strength"][1] and "λ" in described["penalty_strength"][1]
    assert "huber" in described["loss_knobs.delta"][1]

    proc = _sweep("--config_fields")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    (line,) = [ln for ln in lines if ln.split()[:1] == ["learning_rate"]]
    assert "0.001" in line
    assert len([ln for ln in lines if ln and not ln.startswith(" ")]) >= len(fields)


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    workdir = tmp_path / "w"
    proc = _sweep("--config=configs/tiny.py", f"--workdir={workdir}", "--dry_run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # tiny: 2 losses × 2 λ × 2 seeds, losses fused into one program; chunks of 4
    assert "8 runs in 1 group" in proc.stdout, proc.stdout
    assert "chunks: 2" in proc.stdout.splitlines()
    assert "estimated" in proc.stdout
    assert not workdir.exists()


def test_axis_of_names_accepts_unquoted_tuples_and_comma_lists(tmp_path):
    for value in ("(huber,cauchy)", "huber,cauchy", "('huber', 'cauchy')"):
        proc = _sweep("--config=configs/tiny.py", "--dry_run", f"--config.sweep.loss={value}")
        assert proc.returncode == 0, (value, proc.stderr[-2000:])
        assert "8 runs in 1 group" in proc.stdout
    proc = _sweep("--config=configs/tiny.py", "--dry_run", "--config.sweep.loss=(hubr,cauchy)")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "config.sweep.loss: unknown loss 'hubr'" in line, line
    assert "--config.sweep.loss='(a,b)', a,b" in line, line


def test_axis_literal_forms():
    forms = {"(huber,cauchy)": ("huber", "cauchy"), "huber,cauchy": ("huber", "cauchy"),
             "[huber, cauchy]": ("huber", "cauchy"), "huber": ("huber",),
             "('huber','cauchy')": ("huber", "cauchy"), "(0.1,1e-2)": (0.1, 1e-2),
             "0.1,1": (0.1, 1), "((16,),(8,8))": ((16,), (8, 8)), "None": None,
             "(relu,'gelu')": ("relu", "gelu")}
    for text, value in forms.items():
        assert ast.literal_eval(validation._axis_literal(text)) == value, text


def test_reproduce_help_exits_0_with_its_command_line():
    proc = subprocess.run([sys.executable, "-m", "experiments.reproduce", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "python -m experiments.reproduce --workdir=" in proc.stdout and "--rtol" in proc.stdout
    assert "--config_fields" not in proc.stdout  # the sweep's, not reproduce's
