"""The sweep engine against the same runs done one by one, closed forms, and its outputs."""

from __future__ import annotations

import importlib
import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest
from jax import monitoring

from configs import tiny
from experiments import data as data_lib
from experiments import devices, engine, grid, training

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _quiet(config):
    config.tensorboard = False
    config.plots = False
    config.progress = False
    return config


def test_vectorized_sweep_equals_runs_one_by_one(tmp_path):
    config = _quiet(tiny.get_config())
    config.steps = 50
    config.chunk_size = 3  # 4 runs per group -> one full chunk and one padded chunk
    result = engine.run_sweep(config, tmp_path)
    assert len(result.runs) == 8
    assert result.compiled_programs == 1  # both losses in one program (fuse_losses)
    for group in grid.expand(config):
        dataset = data_lib.load(group.config.dataset)
        run = jax.jit(training.make_run(group.config, dataset, group.losses, group.noises))
        data = training.data_arrays(dataset)
        for i, member in enumerate(group.runs):
            hyper = {k: v[i] for k, v in group.hyper.items()}
            with devices.matmul_precision(group.config):  # as the sweep traces its program
                _, metrics = run(hyper, data)
            row = result.runs.set_index("run_id").loc[member.run_id]
            curve = result.curves[result.curves["run_id"] == member.run_id]
            # vmapped matmuls may reassociate sums: 1e-4 relative after 50 steps.
            np.testing.assert_allclose(curve["objective"], metrics["objective"], rtol=1e-4)
            np.testing.assert_allclose(row["final_test_loss"], metrics["test_loss"][-1], rtol=1e-4)


def _linear_config(penalty_strength: float):
    config = _quiet(tiny.get_config())
    config.dataset.noise = "gaussian"
    config.dataset.n_train = 128
    config.model.name = "linear"
    config.loss = "squared_error"
    config.optimizer = "sgd"
    config.learning_rate = 0.2
    config.batch_size = 0  # full batch: gradient descent converges to the exact minimizer
    config.steps = 1500
    config.log_every = 100
    config.penalty_strength = penalty_strength
    config.sweep.loss = None
    config.sweep.penalty_strength = None
    config.sweep.seed = None
    return config


@pytest.mark.parametrize("penalty_strength", [0.0, 0.1])
def test_linear_model_reaches_least_squares_and_ridge(penalty_strength):
    """mean (f - y)² + λ·½‖w‖² (bias unpenalized) has the closed form below."""
    config = _linear_config(penalty_strength)
    dataset = data_lib.load(config.dataset)
    data = training.data_arrays(dataset)
    hyper = {k: v[0] for k, v in grid.expand(config)[0].hyper.items()}
    state, _ = jax.jit(training.make_run(config, dataset))(hyper, data)
    y_train = np.asarray(training.targets(config, hyper, data)[0], np.float64)
    x = np.asarray(dataset.x_train, np.float64)
    n, d = x.shape
    z = np.hstack([x, np.ones((n, 1))])
    ridge = np.diag([penalty_strength] * d + [0.0])
    theta = np.linalg.solve(2.0 / n * z.T @ z + ridge, 2.0 / n * z.T @ y_train)
    if penalty_strength == 0.0:
        np.testing.assert_allclose(theta, np.linalg.lstsq(z, y_train, rcond=None)[0], atol=1e-9)
    params = state.params["params"]["Dense_0"]
    fitted = np.concatenate([np.asarray(params["kernel"])[:, 0], np.asarray(params["bias"])])
    np.testing.assert_allclose(fitted, theta, atol=1e-4)


def _count_compiles(fn):
    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        out = fn()
    finally:
        monitoring.unregister_event_duration_listener(listener)
    return out, len(events)


def test_compile_count_does_not_grow_with_numeric_axes(tmp_path):
    def sweep_with(lambdas, learning_rates, name):
        config = _quiet(tiny.get_config())
        config.steps = 20
        config.chunk_size = 8
        config.sweep.penalty_strength = lambdas
        config.sweep.learning_rate = learning_rates
        config.sweep.seed = (0,)
        return _count_compiles(lambda: engine.run_sweep(config, tmp_path / name))

    sweep_with((0.0,), (1e-2,), "warmup")  # host-side helpers compile once, here
    small, small_compiles = sweep_with((0.0, 1e-2), (1e-2,), "small")
    large, large_compiles = sweep_with(
        tuple(np.linspace(0.0, 0.1, 20)), (1e-3, 1e-2, 3e-2), "large"
    )
    assert len(small.runs) == 4 and len(large.runs) == 120
    assert small.compiled_programs == large.compiled_programs == 1  # both losses fused
    assert small_compiles == large_compiles


@pytest.mark.slow
def test_sweep_command_writes_every_output(tmp_path):
    workdir = tmp_path / "tiny"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.sweep",
            "--config=configs/tiny.py",
            f"--workdir={workdir}",
            "--config.steps=40",
            "--config.sweep.seed=(0,1,2)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((workdir / "config.json").read_text())
    assert record["config"]["steps"] == 40
    assert record["grid"]["runs"] == 12
    assert record["versions"]["jax"] == jax.__version__
    assert "commit" in record["git"] and record["machine"]["jax_backend"] == jax.default_backend()
    runs = pd.read_csv(workdir / "runs.csv")
    curves = pd.read_csv(workdir / "curves.csv")
    assert sorted(runs["run_id"]) == list(range(12))
    assert set(runs["loss"]) == {"squared_error", "huber"}
    assert len(curves) == 12 * 5  # steps 0, 10, ..., 40
    assert np.isfinite(runs["final_test_mse"]).all()
    events = sorted((workdir / "tb").rglob("events.out.tfevents.*"))
    assert len(events) == 12
    assert "loss=huber/penalty_strength=0.01/seed=2" in {
        str(p.parent.relative_to(workdir / "tb")) for p in events
    }
    pngs = {p.name for p in (workdir / "plots").glob("*.png")}
    assert not runs["diverged"].any()  # so no divergence heatmap (all zeros says nothing)
    assert pngs == {
        "test_metric_heatmap.png",
        "test_metric_curves.png",
        "grad_norm_curves.png",
        "frac_increase_heatmap.png",
    }
    groups = pd.read_csv(workdir / "groups.csv")
    assert len(groups) == 4  # loss × λ, over 3 seeds each
    assert (groups["runs"] == 3).all()
    assert "summary" in proc.stderr and str(workdir / "runs.csv") in proc.stderr


def test_fused_losses_give_the_results_of_separate_programs(tmp_path):
    config = _quiet(tiny.get_config())
    config.steps = 50
    fused = engine.run_sweep(config, tmp_path / "fused")
    config.fuse_losses = False
    separate = engine.run_sweep(config, tmp_path / "separate")
    assert fused.compiled_programs == 1 and separate.compiled_programs == 2
    for column in ("objective", "test_loss", "test_mse", "grad_norm"):
        np.testing.assert_allclose(fused.curves[column], separate.curves[column], rtol=1e-5)


def test_fused_noise_families_give_the_results_of_separate_programs(tmp_path):
    """config.fuse_noise: every noise family in one program, each run drawing its own family's
    noise (the runs' targets equal the unfused programs' to float32 rounding)."""
    config = _quiet(tiny.get_config())
    config.steps = 50
    config.sweep.dataset.noise = ("gaussian", "student_t", "contaminated")
    fused = engine.run_sweep(config, tmp_path / "fused")
    config.fuse_noise = False
    separate = engine.run_sweep(config, tmp_path / "separate")
    assert fused.compiled_programs == 1 and separate.compiled_programs == 3
    assert list(fused.runs["dataset.noise"]) == list(separate.runs["dataset.noise"])
    for column in ("objective", "test_loss", "test_mse", "grad_norm"):
        np.testing.assert_allclose(fused.curves[column], separate.curves[column], rtol=1e-5)
    # The families really differ: Student-t(3) noise is not the Gaussian draw.
    step0 = fused.curves[fused.curves["step"] == 0].merge(fused.runs[["run_id", "dataset.noise"]])
    by_family = step0.groupby("dataset.noise")["data_loss"].mean()
    assert by_family["gaussian"] != by_family["student_t"]


def test_barron_alpha_axis_runs_the_whole_robust_family_in_one_program(tmp_path):
    """α ∈ [−∞, 2] is a traced axis: Welsch, Geman-McClure, Cauchy, pseudo-Huber-like, L2."""
    config = _quiet(tiny.get_config())
    config.steps = 30
    config.sweep.loss = ("general_robust",)
    config.sweep.penalty_strength = None
    config.sweep.loss_knobs.alpha = (float("-inf"), -2.0, 0.0, 1.0, 2.0)
    result = engine.run_sweep(config, tmp_path)
    assert result.compiled_programs == 1
    assert len(result.runs) == 5 * 2  # α × seeds
    assert np.isfinite(result.curves["objective"]).all()
    assert not result.runs["diverged"].astype(bool).any()
    # At the first logged step (before training) the loss is ρ(r, α) of the same residuals:
    # bounded losses (α ≤ 0) sit below the L2 member (α = 2), ordered by α.
    first = result.curves[result.curves["step"] == 0].merge(result.runs, on="run_id")
    seed0 = first[first["seed"] == 0].sort_values("loss_knobs.alpha")
    assert np.all(np.diff(seed0["objective"].to_numpy()) > 0)


def _draws_both_levels(program: training.RunProgram, hyper, data):
    """The draws of `hyper`'s runs compiled at engine.DRAWS_COMPILE_OPTIONS and at XLA's default."""
    lowered = jax.jit(jax.vmap(program.draw, in_axes=(0, None))).lower(hyper, data)
    return [
        jax.tree.leaves(jax.device_get(lowered.compile(options)(hyper, data)))
        for options in (engine.DRAWS_COMPILE_OPTIONS, None)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "tiny", "anchor", "default", "claims.claim1_smoothness", "claims.claim4_classification",
])
def test_draws_compiled_at_the_lower_level_are_bitwise_those_of_the_default(name):
    """The engine compiles the draws (noise, initial parameters, minibatch indices) at XLA's
    optimization level 1 to save compile time; that is only allowed because every shipped config
    draws the very same bits there (floats included: normal, truncated normal, Student-t)."""
    config = importlib.import_module(f"configs.{name}").get_config()
    for group in grid.expand(config):
        dataset = data_lib.load(group.config.dataset)
        program = training.make_program(group.config, dataset, group.losses, group.noises)
        hyper = {k: v[:4] for k, v in group.hyper.items()}
        low, default = _draws_both_levels(program, hyper, training.data_arrays(dataset))
        assert len(low) == len(default) >= 5
        for a, b in zip(low, default, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_training_program_draws_no_random_numbers():
    """Everything random comes from the draws program (compiled apart, at level 1); the training
    program holds no threefry code, which is what made it slow to compile."""
    config = tiny.get_config()
    (group,) = grid.expand(config)
    dataset = data_lib.load(group.config.dataset)
    program = training.make_program(group.config, dataset, group.losses, group.noises)
    data = training.data_arrays(dataset)
    hyper = {k: v[:2] for k, v in group.hyper.items()}
    draws = jax.eval_shape(jax.vmap(program.draw, in_axes=(0, None)), hyper, data)
    assert draws.minibatches.dtype == np.int32  # indices, drawn before training
    train = jax.jit(jax.vmap(program.train, in_axes=(0, None, 0))).lower(hyper, data, draws)
    assert "threefry" in jax.jit(jax.vmap(program.draw, in_axes=(0, None))).lower(
        hyper, data).as_text()
    assert "threefry" not in train.as_text()


def test_minibatches_drawn_during_training_are_those_drawn_before(tmp_path, monkeypatch):
    """Past training.MINIBATCH_DRAW_BYTES per run the training program draws each block's
    minibatch indices from the step keys: the same indices, so the same tables."""
    config = _quiet(tiny.get_config())
    config.steps = 40
    before = engine.run_sweep(config, tmp_path / "before")
    monkeypatch.setattr(training, "MINIBATCH_DRAW_BYTES", 0)
    during = engine.run_sweep(config, tmp_path / "during")
    for name in ("runs.csv", "curves.csv"):
        assert (before.workdir / name).read_bytes() == (during.workdir / name).read_bytes()
