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


def test_shipped_configs_in_a_checkout_are_the_configs_package():
    """In a clone the claims read the repository's configs/ as the `configs` package, so a test
    that imports `configs.claims.X` and the claim share one module."""
    from configs.claims import claim4_classification
    from experiments import shipped_configs
    from experiments.claims import claim4_classification as claim4

    assert shipped_configs.DIRECTORY == ROOT / "configs"
    assert claim4.claim_config is claim4_classification
    assert shipped_configs.path("default.py").read_text().startswith('r"""')


def _user_project(root: pathlib.Path) -> pathlib.Path:
    """A researcher's own project: top-level `configs` and `experiments` packages of its own
    (the commonest names), each importable and each failing loudly if losslab ever runs it."""
    for package in ("configs", "experiments"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"OWNER = 'user'  # the user's {package}\n")
    (root / "configs" / "default.py").write_text("raise RuntimeError('the user\\'s config')\n")
    (root / "experiments" / "sweep.py").write_text("raise RuntimeError('the user\\'s sweep')\n")
    return root


@pytest.mark.slow
def test_built_wheel_installs_no_configs_package_and_runs_beside_a_users_own(tmp_path):
    """The wheel ships the configs as data of `experiments` (no top-level `configs` package), so
    a user's own `configs/` and `experiments/` neither break the installed CLI nor are shadowed
    by it; the shipped default and claim configs still load, from any directory."""
    # Built from a copy of the tracked sources: an in-tree build reuses build/lib, where a
    # stale file (a package that no longer ships) would still reach the wheel.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "pyproject.toml", "README.md", "losses",
                              "experiments", "configs"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("losslab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(name.startswith("configs/") for name in names), sorted(names)
    assert {"experiments/_configs/default.py", "experiments/_configs/tiny.py",
            "experiments/_configs/claims/claim1_smoothness.py", "losses/__init__.py",
            "experiments/sweep.py"} <= names
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(target), str(wheel)], check=True)
    user = _user_project(tmp_path / "project")
    # The installed copy and then the user's project on the path; the dev install's editable
    # finder comes last, so the repository itself is never imported.
    env = {"PYTHONPATH": f"{target}:{user}", "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": "cpu"}
    where = subprocess.run(
        [sys.executable, "-c", "import configs, experiments.claims.claim1_smoothness as c, "
         "experiments.shipped_configs as s; print(configs.OWNER, c.__file__, s.DIRECTORY)"],
        cwd=user / "configs", env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr[-3000:]
    owner, claim, directory = where.stdout.split()
    assert owner == "user" and str(ROOT) not in claim + directory, where.stdout
    assert directory == str(target / "experiments" / "_configs")
    # From the user's project root, where `python -m` would put its own `experiments` first,
    # the console script (it does not put the working directory on the path); `python -m` from
    # a directory holding only its own `configs/` (the case that failed: 'Failed loading config
    # file config_config').
    configs_only = tmp_path / "configs_only"
    shutil.copytree(user / "configs", configs_only / "configs")
    for command, cwd in (([str(target / "bin" / "losslab-sweep"), "--dry_run"], user),
                         ([sys.executable, "-m", "experiments.sweep", "--dry_run"], configs_only)):
        proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, (command, proc.stderr[-3000:])
        assert "240 runs" in proc.stdout, proc.stdout  # the shipped default config's plan
