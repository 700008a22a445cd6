"""What one claim's experiment hands to the report."""

from __future__ import annotations

import dataclasses
import pathlib

import pandas as pd

from experiments.statistics import Interval

VERDICTS = ("supported", "qualified", "refuted")
# "theorem": the verdict checks a mathematical fact numerically (a closed form, the Gauss-Markov
# theorem); it cannot come out otherwise with correct code, so the answer does not count it as
# empirical support. "empirical": the outcome depends on data and training.
KINDS = ("empirical", "theorem")


@dataclasses.dataclass
class Section:
    """One section of the report.

    key: short id used for anchors and file names, e.g. "claim2".
    claim: the claim, quoted.
    setup: what was run (model, data, optimizer, grid, sizes), in a few sentences of markdown.
    rule: the verdict rule, stated before the numbers (e.g. "supported if every dataset's
        trained solution is within 1e-4 of lstsq and ...; qualified if ...; refuted otherwise").
    verdict: one of VERDICTS, computed from the tables by the rule (never typed in).
    findings: markdown sentences generated from the numbers (what held, where it stopped).
    tables: name -> DataFrame; each is written as <workdir>/<key>/<name>.csv and shown in the
        report.
    plots: name -> path of a PNG (written under <workdir>/<key>/).
    summary: optional; one markdown sentence with the key numbers, generated like `findings`,
        shown next to the verdict in the report's verdict table.
    key_numbers: optional; name -> Interval, the numbers the "So why L2?" answer quotes.
    limits: optional; one generated sentence: where the claim stops holding.
    kind: one of KINDS: "theorem" where the verdict checks a mathematical fact numerically,
        "empirical" where data and training decide it.
    """

    key: str
    title: str
    claim: str
    setup: str
    rule: str
    verdict: str
    findings: str
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)
    plots: dict[str, pathlib.Path] = dataclasses.field(default_factory=dict)
    summary: str = ""
    key_numbers: dict[str, Interval] = dataclasses.field(default_factory=dict)
    limits: str = ""
    kind: str = "empirical"

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
