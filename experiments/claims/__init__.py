"""The evidence report: each claim about L2 tested by an experiment, with a computed verdict.

One module per claim (claim1_smoothness, ..., claim8_blue_not_best), each two functions:
`compute(workdir, quick)` -> tables (saved as CSV by claim_tables) and `judge(tables, workdir,
quick)` -> a Section (or a list: claim 3 returns 3a and 3b). Intervals come from
experiments.statistics. `python -m experiments.claims --workdir=runs/claims [--quick]` runs them
all and writes report.md and report.html (experiments.claims.report; the "So why L2?" answer is
experiments.claims.answer); `--rerender` rebuilds them from the saved tables. The registry and
how to add a claim: experiments/claims/__main__.py.
"""
