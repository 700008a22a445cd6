"""Mid-run checkpoints: a run interrupted between segments resumes to the same numbers."""

from __future__ import annotations

import jax
import pandas as pd
import pytest

from configs import tiny
from experiments import checkpoints, engine


def _config():
    config = tiny.get_config()
    config.tensorboard = config.plots = config.progress = False
    config.steps = 60
    config.sharpness_every = 20
    config.sharpness_iters = 5
    config.sweep.loss = ("huber",)
    return config


def _segmented_equals_whole(tmp_path, checkpoint_every: int) -> None:
    """The sweep of _config() in segments of `checkpoint_every` steps gives the one-piece tables."""
    config = _config()
    whole = engine.run_sweep(config, tmp_path / "whole")
    config.checkpoint_every = checkpoint_every
    segmented = engine.run_sweep(config, tmp_path / "segmented")
    # Bit-identical on CPU; on a GPU the segment programs may sum in another order (seen on an
    # H200: 1 ulp in a few values), so there within float32 rounding.
    exact = jax.default_backend() == "cpu"
    tolerance = {"check_exact": True} if exact else {"rtol": 1e-6, "atol": 1e-7}
    pd.testing.assert_frame_equal(whole.curves, segmented.curves, **tolerance)
    pd.testing.assert_frame_equal(whole.runs, segmented.runs, **tolerance)


def test_segmented_run_equals_one_piece(tmp_path):
    _segmented_equals_whole(tmp_path, checkpoint_every=20)
    assert not (tmp_path / "segmented" / checkpoints.CHECKPOINT_DIR).exists() or not any(
        (tmp_path / "segmented" / checkpoints.CHECKPOINT_DIR).iterdir()
    )


def test_resume_from_a_mid_run_checkpoint(tmp_path, monkeypatch):
    config = _config()
    config.checkpoint_every = 20
    reference = engine.run_sweep(config, tmp_path / "reference")

    # Interrupt the first chunk right after its second checkpoint (40 of 60 steps).
    real_save = checkpoints.save
    saved = []

    def save_then_crash(directory, step, tree):
        real_save(directory, step, tree)
        saved.append(step)
        if len(saved) == 2:
            raise KeyboardInterrupt("simulated kill after a checkpoint")

    monkeypatch.setattr(checkpoints, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        engine.run_sweep(config, tmp_path / "resumed")
    left = tmp_path / "resumed" / checkpoints.CHECKPOINT_DIR
    # Blocks of log_every steps done: step 0's evaluation and 4 blocks (40 steps).
    assert [checkpoints.latest_step(d) for d in left.iterdir()] == [5]
    monkeypatch.setattr(checkpoints, "save", real_save)
    resumed = engine.run_sweep(config, tmp_path / "resumed")
    pd.testing.assert_frame_equal(reference.curves, resumed.curves, check_exact=True)
    pd.testing.assert_frame_equal(reference.runs, resumed.runs, check_exact=True)


def test_checkpoint_every_must_fit_log_every(tmp_path):
    config = _config()
    config.checkpoint_every = 25  # not a multiple of log_every=10
    with pytest.raises(ValueError, match="checkpoint_every=25"):
        engine.run_sweep(config, tmp_path)


def test_segments_need_not_align_with_sharpness(tmp_path):
    """Segments of 30 steps with sharpness every 20: the measurement sits inside the blocks."""
    _segmented_equals_whole(tmp_path, checkpoint_every=30)



def test_a_workdir_is_not_resumed_under_another_checkpoint_every(tmp_path):
    """Issue 36 item 11: segments are separate XLA programs, which may round a reduction
    differently (tv_ratio moved by 3.6e-7 at checkpoint_every=200 on the default config), so
    checkpoint_every is part of the sweep identity: a resume that adds it is refused."""
    from experiments import workdir as workdir_lib
    from experiments.plan import SweepPlan

    config = _config()
    workdir_lib.prepare(tmp_path / "w", SweepPlan.resolve(config), {"config": config.to_dict()})
    config.checkpoint_every = 20
    with pytest.raises(workdir_lib.WorkdirError, match=r"checkpoint_every: 0 -> 20"):
        workdir_lib.prepare(tmp_path / "w", SweepPlan.resolve(config),
                            {"config": config.to_dict()})
