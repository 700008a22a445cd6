"""experiments.plots: honest aggregation, Figures on one colour scale, the end-of-run summary."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from configs import tiny
from experiments import engine, plots


@pytest.fixture(scope="module")
def lr_sweep(tmp_path_factory):
    """configs/tiny.py with --config.sweep.learning_rate='(1e-3,1e-1)': 2 seeds per cell."""
    config = tiny.get_config()
    config.steps, config.log_every = 30, 10
    config.sweep.learning_rate = (1e-3, 1e-1)
    config.plots = config.tensorboard = config.progress = False
    return engine.run_sweep(config, tmp_path_factory.mktemp("plots") / "lr")


def test_every_cell_holds_exactly_the_seeds(lr_sweep):
    runs = lr_sweep.runs
    table = plots.summary_table(runs)
    assert list(table.index.names) == ["loss", "penalty_strength", "learning_rate"]
    assert len(table) == 8 and (table["seeds"] == 2).all()
    groups = pd.read_csv(lr_sweep.workdir / "groups.csv")
    assert len(groups) == 8 and (groups["runs"] == 2).all()
    expected = runs.groupby(["loss", "penalty_strength", "learning_rate"])["final_test_mse"].mean()
    got = groups.set_index(["loss", "penalty_strength", "learning_rate"])["test_mean"]
    np.testing.assert_allclose(got.sort_index(), expected.sort_index())
    assert plots.seeds_phrase(runs) == "over 2 seeds"


def test_heatmap_panels_share_one_scale_and_titles_say_what_is_pooled(lr_sweep):
    runs = lr_sweep.runs
    fig = plots.heatmap(runs)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["learning_rate=0.001", "learning_rate=0.1"]
    assert fig.get_suptitle() == "final_test_mse: median over 2 seeds"
    medians = runs.groupby(["loss", "penalty_strength", "learning_rate"])["final_test_mse"].median()
    for ax in panels:
        (image,) = ax.images
        assert image.norm.vmin == pytest.approx(medians.min())
        assert image.norm.vmax == pytest.approx(medians.max())
    assert len({id(ax.images[0].norm) for ax in panels}) == 1
    # Constrained layout: no panel's labels run into the (single) colour bar or the other panel.
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(colorbars) == 1
    boxes = [ax.get_tightbbox(renderer) for ax in panels]
    assert not boxes[0].overlaps(boxes[1])
    assert not any(b.overlaps(colorbars[0].get_window_extent(renderer)) for b in boxes)


def test_divergence_heatmap_only_when_a_run_diverged(lr_sweep):
    """All zeros says nothing: no heatmap, and the summary says why; one diverged seed draws
    it on the rate's 0…1 scale."""
    runs = lr_sweep.runs.assign(diverged=False)
    assert "divergence_heatmap" not in plots.sweep_figures(runs, lr_sweep.curves, lr_sweep.groups)
    lines = plots.end_of_run_summary(runs, lr_sweep.workdir, {})
    assert "divergences: 0 of 16 runs (no divergence heatmap: nothing diverged)" in lines
    runs.loc[runs.index[0], "diverged"] = True
    figures = plots.sweep_figures(runs, lr_sweep.curves, lr_sweep.groups)
    _, fig = figures["divergence_heatmap"]
    (colorbar,) = [ax for ax in fig.axes if not ax.images]
    assert colorbar.get_ylim() == (0.0, 1.0)
    assert fig.get_suptitle() == "fraction diverged: mean over 2 seeds"
    assert plots.colour_limits(np.zeros(4)) == (0.0, 1.0)
    assert plots.colour_limits(np.full(3, 2.5)) == (2.5, 3.5)


def _groups(max_stable: dict, noise: tuple = (None,)) -> pd.DataFrame:
    """groups.csv's shape (keys, runs, then max_stable_lr) over the lr grid 1e-3, 1e-2, 1e-1."""
    rows = [dict(loss=loss, penalty_strength=0.0, noise=n, learning_rate=lr, runs=2,
                 max_stable_lr=max_stable[loss] if n is None else max_stable[loss, n])
            for loss in sorted({k if isinstance(k, str) else k[0] for k in max_stable})
            for n in noise for lr in (1e-3, 1e-2, 1e-1)]
    return pd.DataFrame(rows)


def _bars(fig):
    (ax,) = fig.axes
    return ax, [(round(bar.get_height(), 9), bar.get_hatch()) for bar in ax.patches]


def test_max_stable_lr_bars_mark_the_edges_of_the_swept_range():
    """A loss stable at the largest lr swept is censored above (its limit is at least that):
    hatched, with a legend entry; one that diverged at every lr is censored below (drawn to the
    smallest lr, hatched the other way); an interior limit is a plain bar."""
    fig = plots.max_stable_lr_bars(_groups({"a": 1e-1, "b": 1e-2, "c": np.nan}))
    ax, bars = _bars(fig)
    assert bars == [(1e-1, "//"), (1e-2, None), (1e-3, "xx")]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["at the edge of the swept range (limit ≥ the bar)",
                      "every lr diverged (limit < the smallest lr swept)"]
    # No censored bar: no legend entry for it.
    ax, bars = _bars(plots.max_stable_lr_bars(_groups({"a": 1e-2, "b": 1e-3})))
    assert [hatch for _, hatch in bars] == [None, None] and ax.get_legend() is None


def test_max_stable_lr_bars_mark_censoring_per_panel_bar():
    fig = plots.max_stable_lr_bars(_groups(
        {("a", "gaussian"): 1e-1, ("a", "student_t"): 1e-2,
         ("b", "gaussian"): 1e-2, ("b", "student_t"): np.nan}, noise=("gaussian", "student_t")))
    ax, bars = _bars(fig)
    # Bars go by column (noise), then by loss.
    assert bars == [(1e-1, "//"), (1e-2, None), (1e-2, None), (1e-3, "xx")]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["gaussian", "student_t"] and len(labels) == 4
    assert ax.get_legend().get_title().get_text() == "noise"


def test_curves_per_loss_have_distinct_styles(lr_sweep):
    fig = plots.curves_figure(lr_sweep.runs, lr_sweep.curves, "test_mse", log=True)
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert [ax.get_title() for ax in panels] == ["learning_rate=0.001", "learning_rate=0.1"]
    assert "over 2 seeds" in fig.get_suptitle()
    for ax in panels:
        styles = [(line.get_linestyle(), line.get_marker()) for line in ax.get_lines()]
        assert len(styles) == 2 and len(set(styles)) == 2
        assert len({s[0] for s in styles}) == 2  # distinguishable even without markers


def test_end_of_run_summary_selects_on_validation(lr_sweep):
    runs = pd.read_csv(lr_sweep.workdir / "runs.csv")
    lines = plots.end_of_run_summary(runs, lr_sweep.workdir, lr_sweep.paths)
    assert len(lines) <= 25
    assert "val_mse" in lines[0]
    cells = runs.groupby(["loss", "penalty_strength", "learning_rate"]).agg(
        val=("final_val_mse", "median"), test=("final_test_mse", "median"),
        diverged=("diverged", "any"))
    cells = cells[~cells["diverged"]].reset_index()
    for loss, part in cells.groupby("loss"):
        best = part.loc[part["val"].idxmin()]
        (line,) = [x for x in lines if x.strip().startswith(f"loss={loss}:")]
        lam, lr = re.search(r"λ=(\S+)\s+lr=(\S+)", line).groups()
        assert float(lam) == best["penalty_strength"] and float(lr) == best["learning_rate"]
        assert f"test_mse {best['test']:.4g} [" in line
        # and not the test split's argmin unless it coincides
    assert any(line.startswith("divergences: 0 of 16") for line in lines)
    for path in lr_sweep.paths.values():  # every output, by its path
        assert any(str(path) in line or str(path.parent) in line for line in lines)
    assert f"  runs: {lr_sweep.workdir / 'runs.csv'}" in lines


def test_summary_stays_within_25_lines_and_never_selects_on_test():
    rng = np.random.default_rng(0)
    rows = [dict(run_id=i, loss=f"loss{i // 8}", penalty_strength=[0.0, 0.1][i % 2],
                 learning_rate=0.1, seed=(i // 2) % 4, diverged=False,
                 final_test_mse=rng.random(), final_val_mse=rng.random()) for i in range(40 * 8)]
    runs = pd.DataFrame(rows)
    lines = plots.end_of_run_summary(runs, "/tmp/w", {"runs": "/tmp/w/runs.csv"})
    assert len(lines) <= 25 and "more: groups.csv" in "\n".join(lines)
    first = runs["loss"] == "loss0"
    runs.loc[first, "diverged"] = runs.loc[first, "seed"] == 0
    lines = plots.end_of_run_summary(runs, "/w", {})
    assert "loss=loss0: a seed diverged in every cell" in lines[1]
    no_val = plots.end_of_run_summary(runs.drop(columns="final_val_mse"), "/tmp/w", {})
    assert "not selected" in no_val[0] and len(no_val) <= 25


def test_importing_experiments_never_selects_a_backend():
    code = (
        "import importlib, pkgutil, matplotlib, experiments, experiments.claims\n"
        "names = [m.name for m in pkgutil.walk_packages(experiments.__path__, 'experiments.')]\n"
        "assert any(n.startswith('experiments.claims.claim') for n in names), names\n"
        "for n in names: importlib.import_module(n)\n"
        "print(len(names), matplotlib.get_backend())\n"
    )
    env = dict(os.environ, MPLBACKEND="svg", PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert int(out[0]) > 20 and out[1] == "svg"  # what the user chose, not Agg


def test_readme_analysis_example_runs(tmp_path, monkeypatch):
    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Analysis from Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert isinstance(namespace["fig"], Figure) and len(namespace["table"]) == 4
    assert (namespace["table"]["seeds"] == 2).all()
    assert (tmp_path / "runs/tiny/runs.csv").exists()
