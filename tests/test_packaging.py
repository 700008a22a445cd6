"""The package as a user installs it: hashed locks that agree with pyproject, configs shipped."""

from __future__ import annotations

import importlib.util
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
check_lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_lock)


def _copy_project(tmp_path):
    for name in ("pyproject.toml", *check_lock.LOCKS):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_locks_agree_with_pyproject():
    assert check_lock.problems() == []


def test_every_pin_is_hashed_and_dev_extends_runtime():
    runtime = check_lock.read_lock(ROOT / "requirements.lock")
    dev = check_lock.read_lock(ROOT / "requirements-dev.lock")
    assert {"jax", "flax", "optax", "orbax-checkpoint"} <= set(runtime)
    assert {"pytest", "hypothesis", "ruff"} <= set(dev) - set(runtime)
    assert all(hashed for _, hashed in dev.values())
    assert all(dev[name][0] == version for name, (version, _) in runtime.items())


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda s: s.replace('"optax>=0.2.4"', '"optax>=99"'),
         "does not satisfy pyproject's optax>=99"),
        (lambda s: s.replace('"tqdm>=4.66",', '"tqdm>=4.66", "einops>=0.8",'),
         "einops is declared"),
    ],
)
def test_a_disagreeing_pyproject_fails(tmp_path, edit, expected):
    root = _copy_project(tmp_path)
    (root / "pyproject.toml").write_text(edit((root / "pyproject.toml").read_text()))
    found = check_lock.problems(root)
    assert any(expected in line for line in found), found


def test_an_unhashed_or_diverging_pin_fails(tmp_path):
    root = _copy_project(tmp_path)
    dev = (root / "requirements-dev.lock").read_text()
    dev = dev.replace("tqdm==", "tqdm==0.0.0\nignored==")  # an unhashed pin, and a changed version
    (root / "requirements-dev.lock").write_text(dev)
    found = check_lock.problems(root)
    assert any("tqdm==0.0.0 has no --hash" in line for line in found), found
    assert any("requirements-dev.lock pins tqdm==0.0.0" in line for line in found), found


def test_every_imported_third_party_package_is_declared():
    """Each top-level import in losses/ and experiments/ is the stdlib, the project, or declared."""
    import ast
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {spec.split(">")[0].split("=")[0].strip().lower()
                for group in [project["dependencies"], *project["optional-dependencies"].values()]
                for spec in group}
    import_name = {"ml-collections": "ml_collections", "absl-py": "absl", "scikit-learn": "sklearn",
                   "orbax-checkpoint": "orbax", "tensorboardx": "tensorboardX"}
    provided = {import_name.get(name, name) for name in declared}
    own = {"losses", "experiments", "configs"}
    imported = set()
    for path in [*ROOT.glob("losses/**/*.py"), *ROOT.glob("experiments/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])
    missing = imported - own - provided - set(sys.stdlib_module_names) - {"__future__"}
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


@pytest.mark.slow
def test_built_wheel_ships_configs_and_runs_from_root(tmp_path):
    """A non-editable install runs the default config from `/` (no repo on the path)."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("losslab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"configs/default.py", "configs/tiny.py", "configs/claims/claim1_smoothness.py",
            "losses/__init__.py", "experiments/sweep.py"} <= names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(target), str(wheel)], check=True)
    # The installed copy comes first on the path; the editable finder of the dev install comes last.
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    where = subprocess.run(
        [sys.executable, "-c",
         "import experiments, configs; print(experiments.__file__, configs.__file__)"],
        cwd="/", env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and where.count(str(target)) == 2, where
    workdir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.sweep", f"--workdir={workdir}", "--config.steps=20",
         "--config.log_every=10", "--config.sharpness_every=0", "--config.sweep.seed=(0,)",
         "--config.tensorboard=False"],
        cwd="/", env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workdir / "runs.csv").exists()
