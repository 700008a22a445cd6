"""The evidence report: each claim about L2 tested by an experiment, with a computed verdict.

One module per claim (claim1_smoothness, claim2_gauss_markov, claim3_gaussian_prior,
claim4_classification, claim5_penalty_any_loss); each exposes `run(workdir, quick)`, returning a
Section (or a list: claim 3 returns 3a and 3b). Intervals come from experiments.statistics.
`python -m experiments.claims --workdir=runs/claims [--quick]` runs them all and writes
report.md and report.html (experiments.claims.report).
"""
