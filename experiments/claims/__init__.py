"""The evidence report: each claim about L2 tested by an experiment, with a computed verdict.

One module per claim (claim1_smoothness, claim2_gauss_markov, claim3_gaussian_prior,
claim4_classification, claim5_penalty_any_loss); each exposes `run(workdir, quick) -> Section`.
`python -m experiments.claims --workdir=runs/claims [--quick]` runs them all and writes
report.md and report.html (experiments.claims.report).
"""
