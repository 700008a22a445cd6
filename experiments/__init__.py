"""losslab experiments: data, Flax models, vectorized training sweeps, stability metrics, reports.

Data flow (see README "Layout"): configs/<x>.py -> experiments.grid (expand sweep axes, group
by structure) -> experiments.training (one pure run = lax.scan over steps, vmapped over a chunk
of runs) -> experiments.table_rows (rows of the runs/curves tables) -> experiments.result_files
(atomic per-chunk files, assembled tables) and experiments.tensorboard_events (per chunk)
-> experiments.plots.
"""
