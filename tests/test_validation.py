"""A bad config fails before any compute: one message naming field and value, nothing written."""

from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from configs import tiny
from experiments import data as data_lib
from experiments import sweep, validation
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
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_fails_before_writing_anything(case, tmp_path):
    config, message = CASES[case]
    workdir = tmp_path / "w"
    with pytest.raises(validation.ConfigError, match=message) as info:
        sweep.run_sweep(config, workdir)
    assert "\n" not in str(info.value)
    assert not workdir.exists()


def test_sweep_axis_on_a_missing_field_names_it(tmp_path):
    config = _config()
    config.sweep.stepz = (1, 2)  # an unlocked config accepts a new key; the CLI's lock does not
    with pytest.raises(validation.ConfigError, match=r"sweep\.stepz.*names no config field.*steps"):
        sweep.run_sweep(config, tmp_path / "w")
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
        sweep.run_sweep(_config(), tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_valid_configs_pass():
    for config in (_config(), _digits(), _digits(model__name="cnn"), _config(batch_size=0)):
        SweepPlan.resolve(config)


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
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert any(re.search(message, line) for line in proc.stderr.splitlines())
    assert not workdir.exists()


def test_cli_reports_an_invalid_value_in_one_line_and_exits_2(tmp_path):
    proc, workdir = _cli(tmp_path, "--config.sweep.loss_knobs.delta=(1.0,-1.0)")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("E")]
    assert len(errors) == 1
    assert "config.sweep.loss_knobs.delta=-1.0 is invalid for loss 'huber'" in errors[0]
    assert not workdir.exists()
