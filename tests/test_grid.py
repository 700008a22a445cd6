"""Sweep-axis expansion and grouping by program structure."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import grid
from experiments.config_schema import base_config
from experiments.plan import SweepPlan


def _config(**axes):
    c = base_config()
    c.update_from_flattened_dict({f"sweep.{p.replace('__', '.')}": v for p, v in axes.items()})
    return c


def test_no_axes_is_one_run():
    groups = grid.expand(base_config())
    assert len(groups) == 1 and len(groups[0].runs) == 1
    assert groups[0].runs[0].name == "run"


def test_grid_is_the_product_and_groups_by_structure():
    c = _config(
        loss=("squared_error", "huber", "cauchy"),
        penalty_strength=(0.0, 1e-3),
        seed=(0, 1, 2, 3),
        dataset__noise=("gaussian", "laplace"),
    )
    c.fuse_losses = c.fuse_noise = False
    groups = grid.expand(c)
    assert sum(len(g.runs) for g in groups) == 3 * 2 * 4 * 2
    assert len(groups) == 3 * 2  # loss × noise family; λ and seed are traced
    ids = sorted(r.run_id for g in groups for r in g.runs)
    assert ids == list(range(48))
    first = groups[0]
    assert first.config.loss == "squared_error" and first.config.dataset.noise == "gaussian"
    np.testing.assert_array_equal(first.hyper["seed"], [0, 1, 2, 3, 0, 1, 2, 3])
    np.testing.assert_allclose(
        first.hyper["penalty_strength"], [0, 0, 0, 0, 1e-3, 1e-3, 1e-3, 1e-3]
    )
    assert first.hyper["seed"].dtype == np.int32
    assert first.runs[5].name == (
        "dataset.noise=gaussian/loss=squared_error/penalty_strength=0.001/seed=1"
    )


def test_chunks_pad_with_the_last_run():
    c = _config(seed=tuple(range(5)))
    c.chunk_size = 2
    chunks = SweepPlan.resolve(c, n_devices=3).chunks  # the device count changes no chunk
    assert [len(chunk.runs) for chunk in chunks] == [2, 2, 1]
    np.testing.assert_array_equal(chunks[0].hyper["seed"], [0, 1])
    np.testing.assert_array_equal(chunks[-1].hyper["seed"], [4, 4])
    for one, three in zip(SweepPlan.resolve(c, n_devices=1).chunks, chunks, strict=True):
        for key, values in one.hyper.items():
            np.testing.assert_array_equal(values, three.hyper[key])


def test_empty_axis_is_an_error():
    with pytest.raises(ValueError, match=r"sweep.penalty_strength is empty"):
        grid.expand(_config(penalty_strength=()))


def test_numeric_values_do_not_change_structure():
    a = grid.resolve(base_config(), (("penalty_strength", 0.1), ("seed", 3)))
    b = grid.resolve(base_config(), (("penalty_strength", 0.0), ("seed", 0)))
    assert grid.structure_of(a) == grid.structure_of(b)
    assert grid.hyper_of(a)["penalty_strength"] == 0.1
    huber = grid.resolve(base_config(), (("loss", "huber"),))
    assert grid.structure_of(huber) == grid.structure_of(b)  # fused: same task, same program
    xent = grid.resolve(base_config(), (("loss", "softmax_cross_entropy"),))
    assert grid.structure_of(xent) != grid.structure_of(b)
    unfused = base_config()
    unfused.fuse_losses = False
    assert grid.structure_of(grid.resolve(unfused, (("loss", "huber"),))) != grid.structure_of(
        grid.resolve(unfused, ())
    )


def test_fused_losses_share_a_program_per_task():
    c = _config(loss=("squared_error", "huber", "cauchy"), seed=(0, 1),
                dataset__noise=("gaussian", "laplace"))
    c.fuse_noise = False
    groups = grid.expand(c)
    assert len(groups) == 2  # one per noise family; the three losses share a program
    for group in groups:
        assert group.losses == ("squared_error", "huber", "cauchy")
        assert "fused_losses" not in group.config  # no config carries derived structure
        losses_of_runs = [dict(r.swept)["loss"] for r in group.runs]
        np.testing.assert_array_equal(
            [group.losses[i] for i in group.hyper["loss_index"]], losses_of_runs
        )
        assert group.hyper["loss_index"].dtype == np.int32
    assert [g.label for g in groups] == [
        "losses=squared_error/huber/cauchy, dataset.noise=gaussian",
        "losses=squared_error/huber/cauchy, dataset.noise=laplace",
    ]  # the fused group is labelled by all its losses, not its first run's
    classification = _config(loss=("squared_error", "softmax_cross_entropy"))
    assert len(grid.expand(classification)) == 2  # different tasks never share a program


def test_fused_noise_families_share_a_program():
    c = _config(loss=("squared_error", "huber"), seed=(0, 1),
                dataset__noise=("gaussian", "laplace", "student_t"))
    [group] = grid.expand(c)  # losses and noise families all traced (fuse_losses, fuse_noise)
    assert group.losses == ("squared_error", "huber")
    assert group.noises == ("gaussian", "laplace", "student_t")
    noise_of_runs = [dict(r.swept)["dataset.noise"] for r in group.runs]
    assert [group.noises[i] for i in group.hyper["noise_index"]] == noise_of_runs
    assert group.hyper["noise_index"].dtype == np.int32
    assert group.label == "losses=squared_error/huber, noises=gaussian/laplace/student_t"
    assert "noise" not in dict(group.dataset_key)  # one dataset: the noise is drawn in-program


@pytest.mark.parametrize("fuse", [True, False])
def test_expand_equals_resolving_every_run(fuse):
    # expand works on flattened fields; each run must get what resolving its own ConfigDict
    # (the slow, obvious route) gives: the same group key and the same numeric values.
    c = _config(
        loss=("squared_error", "huber", "softmax_cross_entropy"),
        penalty_strength=(0, 1e-3),  # an int among floats
        learning_rate=(0.1, 0.01),
        seed=(3, 4),
        model__widths=((8,), [16, 16]),  # a list, as a command line could give
    )
    c.fuse_losses = fuse
    groups = grid.expand(c)
    assert sum(len(g.runs) for g in groups) == 3 * 2 * 2 * 2 * 2
    for g in groups:
        for i, run in enumerate(g.runs):
            resolved = grid.resolve(c, run.swept)
            assert grid.structure_of(resolved) == g.structure
            for path, value in grid.hyper_of(resolved, g.losses, g.noises).items():
                assert g.hyper[path][i] == np.asarray(value, g.hyper[path].dtype), path


def test_a_grid_of_100000_runs_expands_in_seconds():
    import time

    from configs import tiny

    config = tiny.get_config()
    config.sweep.loss = ("huber", "squared_error")
    config.sweep.seed = tuple(range(500))
    config.sweep.learning_rate = tuple(float(x) for x in np.geomspace(1e-4, 1.0, 100))
    config.sweep.penalty_strength = None
    t0 = time.perf_counter()
    groups = grid.expand(config)
    elapsed = time.perf_counter() - t0
    assert len(groups) == 1 and len(groups[0].runs) == 100_000  # fused losses: one program
    # Run ids in product order, axes sorted by path (learning_rate, loss, seed), the first slowest.
    r = 12_345
    lr, loss, seed = r // 1000, (r // 500) % 2, r % 500
    run = groups[0].runs[r]
    assert run.run_id == r
    assert run.swept == (("learning_rate", config.sweep.learning_rate[lr]),
                         ("loss", config.sweep.loss[loss]), ("seed", seed))
    assert groups[0].hyper["seed"][r] == seed
    assert groups[0].hyper["loss_index"][r] == loss
    assert groups[0].hyper["learning_rate"][r] == np.float32(config.sweep.learning_rate[lr])
    assert elapsed < 5.0, f"expanding 1e5 runs took {elapsed:.1f}s"
