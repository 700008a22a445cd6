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
# Which half of the question a claim answers: the L2 *loss* (squared error) or the L2 *penalty*.
PARTS = ("loss", "penalty")
# Which side a decision-guide row takes on its part's question: "l2" (the L2 choice: squared error
# for a loss claim, an L2 penalty for a penalty claim), "other" (use something else), or ""
# (no side: a convention, "either", or not settled by the run). The bottom line groups rows by it.
FAVOURS = ("l2", "other", "")


@dataclasses.dataclass(frozen=True)
class GuideRow:
    """One row of the report's decision guide: in this situation, use this, because of this
    evidence (a generated sentence naming the claim and carrying its number with interval);
    `favours` (one of FAVOURS) says whether the choice is the L2 one, computed like the choice."""

    situation: str
    choice: str
    evidence: str
    favours: str = ""

    def __post_init__(self):
        if self.favours not in FAVOURS:
            raise ValueError(f"favours {self.favours!r} is not one of {FAVOURS}")


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
    tables: name -> DataFrame; each is written as <workdir>/<key>/<name>.csv (a table compute
        saved under that name is never replaced) and shown in the report, collapsed there when
        longer than report.COLLAPSE_ROWS rows.
    plots: name -> path of a PNG (written under <workdir>/<key>/).
    summary: optional; one markdown sentence with the key numbers, generated like `findings`,
        shown next to the verdict in the report's verdict table.
    key_numbers: optional; name -> Interval, the numbers the "So why L2?" answer quotes.
    limits: optional; one generated sentence: where the claim stops holding.
    kind: one of KINDS: "theorem" where the verdict checks a mathematical fact numerically,
        "empirical" where data and training decide it.
    part: one of PARTS: the L2 loss or the L2 penalty.
    headline: the name (in key_numbers) of the one number verdicts.csv carries as numeric
        columns (estimate, low, high); units: key number name -> its unit in words ("ratio to
        OLS", "accuracy points", "learning rate").
    takeaway: one plain sentence for a practitioner, generated from the verdict and the
        headline number with its interval (it must change when the verdict does).
    guide: decision-guide rows this claim supports (situation -> choice -> evidence).
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
    part: str = "loss"
    headline: str = ""
    units: dict[str, str] = dataclasses.field(default_factory=dict)
    takeaway: str = ""
    guide: list[GuideRow] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        if self.part not in PARTS:
            raise ValueError(f"part {self.part!r} is not one of {PARTS}")
        if self.headline and self.headline not in self.key_numbers:
            raise ValueError(f"headline {self.headline!r} is not among key_numbers "
                             f"{sorted(self.key_numbers)}")


def plot_dir(workdir: str | pathlib.Path, key: str) -> pathlib.Path:
    """<workdir>/<key>, created: the folder a section's plots are written to."""
    path = pathlib.Path(workdir) / key
    path.mkdir(parents=True, exist_ok=True)
    return path
