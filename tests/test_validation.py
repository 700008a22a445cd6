"""A bad config fails before any compute: one message naming field and value, nothing written."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from configs import tiny
from experiments import data as data_lib
from experiments import engine, validation
from experiments.plan import SweepPlan

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _config(**fields):
    """configs/tiny.py (a sweep over loss, λ and seed) with dotted fields set."""
    config = tiny.get_config()
    config.tensorboard = config.plots = config.progress = False
    config.update_from_flattened_dict({p.replace("__", "."): v for p, v in fields.items()})
    return config


def _digits(**fields):
    fields = {"dataset__name": "digits", "sweep__loss": None, "loss": "softmax_cross_entropy",
              **fields}
    return _config(**fields)


# (config, regex the message must match). Each message names the field and the bad value.
CASES = {
    "unknown loss on an axis": (
        _config(sweep__loss=("huber", "hubr")),
        r"config\.sweep\.loss: unknown loss 'hubr'; did you mean 'huber'",
    ),
    "unknown loss": (
        _config(sweep__loss=None, loss="squared_eror"),
        r"config\.loss: unknown loss 'squared_eror'; did you mean 'squared_error'",
    ),
    "unknown optimizer": (
        _config(optimizer="adma"),
        r"config\.optimizer: unknown optimizer 'adma'; did you mean 'adam'",
    ),
    "unknown model": (_config(model__name="mlpp"), r"config\.model\.name: unknown model 'mlpp'; "
                      r"did you mean 'mlp'"),
    "unknown dataset": (_config(dataset__name="digit"), r"config\.dataset\.name: unknown dataset "
                        r"'digit'; did you mean 'digits'"),
    "unknown noise family": (
        _config(dataset__noise="student-t"),
        r"config\.dataset\.noise: unknown noise family 'student-t'; did you mean 'student_t'",
    ),
    "unknown noise family on an axis": (
        _config(sweep__dataset__noise=("gaussian", "lapalce")),
        r"config\.sweep\.dataset\.noise: unknown noise family 'lapalce'; did you mean 'laplace'",
    ),
    "unknown schedule": (_config(schedule="cosin"), r"config\.schedule: unknown schedule 'cosin'; "
                         r"did you mean 'cosine'"),
    "unknown penalty": (_config(penalty="l3"), r"config\.penalty: unknown penalty 'l3'"),
    "unknown l2_mode": (_config(l2_mode="decoupeld"), r"config\.l2_mode: unknown l2_mode "
                        r"'decoupeld'; did you mean 'decoupled'"),
    # A knob's range is its loss's own check, for every loss of the sweep that takes it.
    "delta zero": (
        _config(loss_knobs__delta=0.0),
        r"config\.loss_knobs\.delta=0\.0 is invalid for loss 'huber'",
    ),
    "delta negative on an axis": (
        _config(sweep__loss_knobs__delta=(1.0, -1.0)),
        r"config\.sweep\.loss_knobs\.delta=-1\.0 is invalid for loss 'huber'",
    ),
    "beta negative": (
        _config(sweep__loss=("huber", "smooth_l1"), loss_knobs__beta=-1.0),
        r"config\.loss_knobs\.beta=-1\.0 is invalid for loss 'smooth_l1'",
    ),
    "scale zero": (
        _config(sweep__loss=("cauchy",), loss_knobs__scale=0.0),
        r"config\.loss_knobs\.scale=0\.0 is invalid for loss 'cauchy'",
    ),
    "tau one": (
        _config(sweep__loss=None, loss="quantile", loss_knobs__tau=1.0),
        r"config\.loss_knobs\.tau=1\.0 is invalid for loss 'quantile'",
    ),
    "tau zero on an axis": (
        _config(sweep__loss=None, loss="quantile", sweep__loss_knobs__tau=(0.5, 0.0)),
        r"config\.sweep\.loss_knobs\.tau=0\.0 is invalid for loss 'quantile'",
    ),
    "negative lambda on an axis": (
        _config(sweep__penalty_strength=(0.0, -1e-3)),
        r"config\.sweep\.penalty_strength=-0\.001 must be >= 0",
    ),
    "negative lr": (_config(learning_rate=-0.1), r"config\.learning_rate=-0\.1 must be >= 0"),
    "nan lr": (_config(learning_rate=float("nan")), r"config\.learning_rate=nan must be a finite"),
    "negative steps": (_config(steps=-10), r"config\.steps=-10 must be > 0"),
    "negative batch size": (_config(batch_size=-1), r"config\.batch_size=-1 must be >= 0"),
    "log_every not dividing steps": (
        _config(log_every=30),
        r"config\.log_every=30 must divide config\.steps=100",
    ),
    "batch larger than synthetic training set": (
        _config(batch_size=257, dataset__validation_fraction=0.0),
        r"config\.batch_size=257 exceeds the 256 training examples of dataset 'synthetic'",
    ),
    "batch larger than what validation leaves for training": (  # 256 - round(0.2 * 256)
        _config(batch_size=206, dataset__validation_fraction=0.2),
        r"config\.batch_size=206 exceeds the 205 training examples of dataset 'synthetic'",
    ),
    "batch larger than digits training set": (  # 1347 - round(0.2 * 1347)
        _digits(batch_size=2000),
        r"config\.batch_size=2000 exceeds the 1078 training examples of dataset 'digits'",
    ),
    "empty sweep axis": (_config(sweep__seed=()), r"config\.sweep\.seed is empty"),
    "wrong type on an axis": (
        _config(sweep__learning_rate=(1e-3, "fast")),
        r"config\.sweep\.learning_rate='fast' has type str, expected a number",
    ),
    "float on an int axis": (
        _config(sweep__steps=(100, 50.5)),
        r"config\.sweep\.steps=50\.5 has type float, expected int",
    ),
    "sweep over an execution field": (
        _config(sweep__chunk_size=(1, 2)),
        r"config\.sweep\.chunk_size: 'chunk_size' says how the sweep is executed",
    ),
    "robust_nll alpha below 0 (the library's own rule)": (
        _config(sweep__loss=None, loss="robust_nll", sweep__loss_knobs__alpha=(1.0, -1.0)),
        r"config\.sweep\.loss_knobs\.alpha=-1\.0 is invalid for loss 'robust_nll'",
    ),
    "cross-entropy on a regression dataset": (
        _config(sweep__loss=("squared_error", "softmax_cross_entropy")),
        r"config\.loss='softmax_cross_entropy' is a classification loss but dataset 'synthetic' "
        r"is a regression dataset \(with loss='softmax_cross_entropy'\)",
    ),
    "regression loss on a classification dataset": (
        _digits(loss="squared_error"),
        r"config\.loss='squared_error' is a regression loss but dataset 'digits' is a "
        r"classification",
    ),
    "binary cross-entropy on 10-class logits": (
        _digits(loss="sigmoid_binary_cross_entropy"),
        r"config\.loss='sigmoid_binary_cross_entropy' does not fit the model's output shape "
        r"\(2, 10\)",
    ),
    "cnn on flat inputs": (
        _config(model__name="cnn"),
        r"config\.model\.name='cnn' does not fit dataset 'synthetic' inputs of shape \(8,\)",
    ),
    "elastic net with decoupled decay": (
        _config(penalty="elastic_net", l2_mode="decoupled"),
        r"config\.penalty='elastic_net' has no decoupled form",
    ),
    "student-t df zero": (_config(dataset__df=0.0), r"config\.dataset\.df=0\.0 must be > 0"),
    # Hostile values (issue #13): each refused in one line before anything is expanded.
    "seed beyond the PRNG's int32": (
        _config(sweep__seed=(0, 2**32)),
        r"config\.sweep\.seed=4294967296 must be in \[0, 2147483647\]",
    ),
    "duplicate seeds": (
        _config(sweep__seed=(0, 0)), r"config\.sweep\.seed=\(0, 0\) repeats the value 0",
    ),
    "duplicate losses": (
        _config(sweep__loss=("huber", "squared_error", "huber")),
        r"config\.sweep\.loss=\('huber', 'squared_error', 'huber'\) repeats the value 'huber'",
    ),
    "duplicate widths": (
        _config(sweep__model__widths=((8,), (8,))),
        r"config\.sweep\.model\.widths=.* repeats the value \(8,\)",
    ),
    "a value float32 can't hold": (
        _config(dataset__noise_scale=1e39),
        r"config\.dataset\.noise_scale=1e\+39 is beyond float32's range",
    ),
    "outliers overflowing float32": (
        _config(dataset__noise="contaminated", dataset__outlier_scale=1e38),
        r"config\.dataset\.outlier_scale=1e\+38 .*synthetic targets reach ~.*float32",
    ),
    "outliers overflowing float32 on an axis": (
        _config(dataset__noise="contaminated", sweep__dataset__outlier_scale=(10.0, 1e30)),
        r"config\.sweep\.dataset\.outlier_scale=1e\+30 .*float32",
    ),
    "one-sided outliers overflowing float32": (
        _config(dataset__noise="one_sided", dataset__outlier_scale=1e30),
        r"config\.dataset\.outlier_scale=1e\+30 \(noise 'one_sided'.*float32",
    ),
    "skewed noise overflowing float32's squares": (
        _config(dataset__noise="lognormal", dataset__noise_scale=1e17),
        r"config\.dataset\.noise_scale=1e\+17 \(noise 'lognormal'\).*synthetic targets reach",
    ),
    "noise overflowing float32's squares": (
        _config(dataset__noise_scale=1e20),
        r"config\.dataset\.noise_scale=1e\+20 .*synthetic targets reach ~",
    ),
    "teacher_classes with 101 classes": (
        _digits(dataset__name="teacher_classes", dataset__num_classes=101),
        r"config\.dataset\.num_classes=101 must be in \[2, 100\]",
    ),
    "teacher_classes with fewer test examples than classes": (
        _digits(dataset__name="teacher_classes", dataset__num_classes=50, dataset__n_test=20),
        r"config\.dataset\.name='teacher_classes'.*n_test must be >= num_classes=50.*"
        r"n_test=20",
    ),
    "grid above max_runs": (
        _config(max_runs=7),
        r"the grid has 8 runs \(loss 2 x penalty_strength 2 x seed 2\), more than "
        r"config\.max_runs=7: an estimated \d.* [MG]B of tables and \d.* (s|min|h) of training",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_fails_before_writing_anything(case, tmp_path):
    config, message = CASES[case]
    workdir = tmp_path / "w"
    with pytest.raises(validation.ConfigError, match=message) as info:
        engine.run_sweep(config, workdir)
    assert "\n" not in str(info.value)
    assert not workdir.exists()


def test_sweep_axis_on_a_missing_field_names_it(tmp_path):
    config = _config()
    config.sweep.stepz = (1, 2)  # an unlocked config accepts a new key; the CLI's lock does not
    with pytest.raises(validation.ConfigError, match=r"sweep\.stepz.*names no config field.*steps"):
        engine.run_sweep(config, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_non_finite_dataset_is_named(tmp_path, monkeypatch):
    def with_nan(**kwargs):
        clean = data_lib.synthetic_regression(**kwargs)
        x = np.array(clean.x_train)
        x[3, 1] = np.nan
        return dataclasses.replace(clean, x_train=x)

    monkeypatch.setitem(data_lib._LOADERS, "synthetic", with_nan)
    message = r"dataset 'synthetic': x_train has 1 non-finite"
    with pytest.raises(validation.ConfigError, match=message):
        engine.run_sweep(_config(), tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_valid_configs_pass():
    for config in (_config(), _digits(), _digits(model__name="cnn"), _config(batch_size=0),
                   _config(dataset__noise="contaminated", dataset__outlier_scale=1e6),
                   _config(sweep__seed=(0, 2**31 - 1)), _config(max_runs=8),
                   _config(sweep__dataset__noise=("exponential", "lognormal", "one_sided"))):
        SweepPlan.resolve(config)


def test_the_grid_budget_counts_a_huge_grid_without_expanding_it():
    config = _config(sweep__seed=tuple(range(1000)), sweep__learning_rate=tuple(
        float(x) for x in np.geomspace(1e-4, 1, 1000)))  # 2 x 2 x 1000 x 1000 = 4e6 runs
    t0 = time.perf_counter()
    with pytest.raises(validation.ConfigError, match=r"the grid has 4,000,000 runs .* more than "
                       r"config\.max_runs=100,000: an estimated 20\.6 GB of tables and 40 min of"):
        SweepPlan.resolve(config)
    assert time.perf_counter() - t0 < 2.0  # counted, not expanded


def _cli(tmp_path, *flags):
    workdir = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", "--config=configs/tiny.py",
         f"--workdir={workdir}", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    return proc, workdir


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--config.steps=abc", r"--config\.steps=abc: invalid literal for int"),
        ("--config.sweep.stepz=(1,2)", r"'stepz'.*Did you mean \"steps\""),
    ],
)
def test_cli_rejects_bad_flags_in_one_line(tmp_path, flag, message):
    proc, workdir = _cli(tmp_path, flag)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        line for line in proc.stderr.splitlines() if re.search(message, line)
    ], proc.stderr  # exactly one line, the one naming the flag and the value
    assert not workdir.exists()


def test_cli_reports_an_invalid_value_in_one_line_and_exits_2(tmp_path):
    proc, workdir = _cli(tmp_path, "--config.sweep.loss_knobs.delta=(1.0,-1.0)")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("E")]
    assert len(errors) == 1
    assert "config.sweep.loss_knobs.delta=-1.0 is invalid for loss 'huber'" in errors[0]
    assert not workdir.exists()


def _one_line_refusal(proc, workdir, message: str) -> None:
    """Exit status 2, no traceback, exactly one stderr line and it matches `message`; nothing
    written: neither the workdir nor its missing parent directories nor a lock file."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert len(lines) == 1 and re.search(message, lines[0]), proc.stderr[-3000:]
    assert not workdir.parent.exists(), list(workdir.parent.parent.iterdir())


def _sweep_cli(tmp_path, *flags):
    workdir = tmp_path / "missing" / "parent" / "w"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", f"--workdir={workdir}", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    return proc, workdir


@pytest.mark.parametrize(
    "contents, message",
    [
        ("def get_config(:\n", r"--config=\S*cfg\.py.*SyntaxError"),
        (None, r"--config=\S*cfg\.py.*No such file"),
        ("def get_config():\n    return {'steps': 1}\n",
         r"--config=\S*cfg\.py: get_config\(\) returned a dict, expected an ml_collections "
         r"ConfigDict"),
    ],
    ids=["syntax-error", "missing-file", "returns-a-dict"],
)
def test_a_config_file_that_does_not_load_is_one_line(tmp_path, contents, message):
    """Issue 36 item 1: a syntax error, a missing file, a get_config returning a dict."""
    config_file = tmp_path / "cfg.py"
    if contents is not None:
        config_file.write_text(contents)
    proc, workdir = _sweep_cli(tmp_path, f"--config={config_file}")
    _one_line_refusal(proc, workdir, message)


@pytest.mark.parametrize(
    "flags, message",
    [
        # Issue 36 item 2: a typo in a field of the shipped default config (no --config).
        (("--config.learnig_rate=0.01",), r"learnig_rate.*Did you mean \"learning_rate\""),
        # Item 3: distributed without a coordinator, or with an address that isn't host:port.
        (("--config=configs/tiny.py", "--config.distributed=True"),
         r"config\.distributed=True.*coordinator_address"),
        (("--config=configs/tiny.py", "--config.distributed=True",
          "--config.coordinator_address=notaport"),
         r"config\.coordinator_address='notaport' must be host:port"),
        # Item 4: integers the traced int32 step counters can't hold.
        (("--config=configs/tiny.py", "--config.steps=10000000000",
          "--config.log_every=1000000000"), r"config\.steps=10000000000 is beyond int32"),
        (("--config=configs/tiny.py", "--config.steps=2147483648", "--config.log_every=1"),
         r"config\.steps=2147483648 is beyond int32"),
        # Item 5: a refused config creates no parent directories and no lock file.
        (("--config=configs/tiny.py", "--config.steps=-1"), r"config\.steps=-1 must be > 0"),
    ],
    ids=["default-config-typo", "distributed-no-address", "address-not-host-port",
         "steps-1e10", "steps-2^31", "negative-steps"],
)
def test_hostile_command_lines_are_one_line_and_write_nothing(tmp_path, flags, message):
    proc, workdir = _sweep_cli(tmp_path, *flags)
    _one_line_refusal(proc, workdir, message)
