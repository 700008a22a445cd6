"""A researcher's own loss: `losses.register`, `config.imports`, sweep → reproduce round trip."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

import losses
from experiments import config_schema, plan
from losses import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent

# A user's module: a cubic-tailed soft L1 with one knob, registered when imported.
USER_MODULE = '''
import jax.numpy as jnp
import losses


def soft_l1_cubic(predictions, targets, *, width=1.0):
    """sqrt(1 + (r/width)²) - 1 + |r/width|³ / 100."""
    r = (predictions - targets) / width
    return jnp.sqrt(1 + r * r) - 1 + jnp.abs(r) ** 3 / 100


losses.register("soft_l1_cubic", soft_l1_cubic, task="regression", knobs={"width": 1.0})
'''

USER_CONFIG = '''
from experiments.config_schema import base_config


def get_config():
    config = base_config(imports=("{module}",))
    config.dataset.teacher = "linear"
    config.dataset.n_train = 64
    config.dataset.n_test = 32
    config.dataset.dim = 4
    config.model.widths = (8,)
    config.steps = 20
    config.batch_size = 16
    config.log_every = 10
    config.chunk_size = 4
    config.tensorboard = config.plots = config.progress = False
    config.loss = "soft_l1_cubic"
    config.sweep.loss_knobs.width = (0.5, 2.0)
    config.sweep.seed = (0, 1)
    return config
'''


@pytest.fixture
def user_loss():
    def cube(predictions, targets, *, power_scale=1.0):
        return power_scale * jnp.abs(predictions - targets) ** 3

    losses.register("test_cube", cube, task="regression", knobs={"power_scale": 1.0})
    yield cube
    registry._REGISTRY.pop("test_cube", None)


def test_registered_loss_is_resolved_and_its_knob_becomes_a_numeric_field(user_loss):
    assert "test_cube" in losses.names() and losses.task("test_cube") == "regression"
    assert losses.knobs("test_cube") == {"power_scale": 1.0}
    value = losses.get("test_cube", power_scale=2.0)(jnp.array([2.0]), jnp.array([0.0]))
    np.testing.assert_allclose(value, [16.0])
    assert "loss_knobs.power_scale" in config_schema.NUMERIC_FIELDS
    assert config_schema.base_config().loss_knobs.power_scale == 1.0


def test_register_refuses_builtin_names_aliases_tasks_and_clashing_knobs(user_loss):
    with pytest.raises(ValueError, match="'huber' is a built-in loss"):
        losses.register("huber", user_loss, task="regression")
    with pytest.raises(ValueError, match="'mse' is an alias of 'squared_error'"):
        losses.register("mse", user_loss, task="regression")
    with pytest.raises(ValueError, match="task='ranking'"):
        losses.register("mine", user_loss, task="ranking")
    # knobs share config.loss_knobs: huber's delta keeps its default
    with pytest.raises(ValueError, match=r"knob 'delta'.* default 1\.0"):
        losses.register("mine", user_loss, task="regression", knobs={"delta": 2.0})
    losses.register("test_cube", user_loss, task="regression", knobs={"power_scale": 1.0})  # again


def test_missing_import_is_one_line_naming_the_module():
    with pytest.raises(ValueError, match=r"config.imports: cannot import 'no_such_pkg.losses'"):
        config_schema.base_config(imports=("no_such_pkg.losses",))
    record = {"config": {"imports": ["no_such_pkg.losses"]}}
    with pytest.raises(ValueError, match=r"cannot import 'no_such_pkg.losses'"):
        plan.config_from_record(record)


def _run(args, tmp_path):
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_config_importing_a_missing_module_exits_2_with_one_line(tmp_path):
    config_file = tmp_path / "user_config.py"
    config_file.write_text(USER_CONFIG.format(module="no_such_pkg.losses"))
    proc = _run(["experiments.sweep", f"--config={config_file}", f"--workdir={tmp_path}/w"],
                tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot import 'no_such_pkg.losses'" in lines[0], proc.stderr
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_custom_loss_with_a_swept_knob_sweeps_and_reproduces_exactly(tmp_path):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "user_losses.py").write_text(textwrap.dedent(USER_MODULE))
    config_file = tmp_path / "user_config.py"
    config_file.write_text(USER_CONFIG.format(module="mypkg.user_losses"))
    workdir = tmp_path / "custom"
    proc = _run(["experiments.sweep", f"--config={config_file}", f"--workdir={workdir}",
                 "--config.sweep.loss_knobs.width=(0.5,3.0)"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    runs = pd.read_csv(workdir / "runs.csv")
    assert len(runs) == 4 and set(runs["loss"]) == {"soft_l1_cubic"}
    assert sorted(set(runs["loss_knobs.width"])) == [0.5, 3.0]
    assert '"imports": [\n      "mypkg.user_losses"' in (workdir / "config.json").read_text()

    proc = _run(["experiments.reproduce", f"--workdir={workdir}"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "REPRODUCED: " in proc.stdout and " 0 close, 0 mismatched" in proc.stdout
    assert "device_count" not in proc.stdout  # rerun on the recorded CPU devices (item 5)
