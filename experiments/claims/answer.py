"""The report's answer to "So why L2?", generated from the sections (no sentence is typed in).

Three parts, in this order (report.py renders them as markdown and HTML):

1. **Bottom line**: at most six sentences, the answer itself. The scope (how many empirical
   claims about the L2 loss and the L2 penalty held; which claims are *theorems*, mathematical
   facts checked numerically that explain the default but cannot count as evidence from data);
   then, per part, the situations where the evidence favours the L2 choice ("why L2") and those
   where it favours another, with what to use ("when it is the wrong choice"), from the
   decision-guide rows' `favours`; then the rows that take no side (not settled by the run). A
   claim with no guide row gets its own sentence (its `takeaway`) while there is room, and is
   otherwise named. The numbers live in the guide and the verdict table, not here.
2. **Decision guide**: one table per part (loss, penalty) of the sections' `GuideRow`s: situation
   -> what to use -> the evidence, with the claim, its verdict and whether it is a theorem.
3. **Verdict table**: one row per claim (`verdict_table`), loss claims first; verdicts.csv holds
   the same rows in claim order, with the headline number as numeric columns.

A section that has not set the new fields (legacy: no `takeaway`, no `headline`) still renders:
its sentence is built from its verdict, its first key number (or `summary`) and its limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from experiments.claims.section import PARTS, GuideRow, Section
from experiments.statistics import Interval

MAX_BOTTOM_LINE = 6
VERDICT_PHRASE = {"supported": "holds", "qualified": "holds only in part",
                  "refuted": "does not hold"}
# Plain words for the two halves of the question, defined where the answer first uses them.
PART_NAME = {"loss": "the L2 loss", "penalty": "the L2 penalty"}
PART_DEFINITION = {
    "loss": "the L2 loss (squared error: the mean squared residual, minimized in training)",
    "penalty": "the L2 penalty (the sum of squared weights added to the loss: ridge, or weight "
               "decay)",
}
PLURAL_PHRASE = {"supported": "hold", "qualified": "hold only in part",
                 "refuted": "do not hold"}
VERDICT_COLUMNS = ["claim", "part", "kind", "statement", "verdict", "takeaway", "headline",
                   "estimate", "low", "high", "unit", "in_numbers", "stops_holding", "section",
                   "key"]


def claim_number(key: str) -> str:
    """'claim3b' -> '3b'."""
    return key.removeprefix("claim") or key


def claim_link(key: str) -> str:
    return f"[Claim {claim_number(key)}](#{key})"


def sort_key(key: str):
    """Claims in numeric order: claim2 < claim3a < claim3b < claim10."""
    digits = re.sub(r"\D", "", key)
    return (int(digits) if digits else 10**6, key)


def headline_of(section: Section) -> tuple[str, object, str]:
    """(name, Interval, unit) of the number verdicts.csv carries: the section's `headline`, or
    (legacy) its first key number; ('', None, '') when it has none."""
    name = section.headline or next(iter(section.key_numbers), "")
    if not name:
        return "", None, ""
    return name, section.key_numbers[name], section.units.get(name, "")


def headline_text(section: Section) -> str:
    """'0.52 [0.48, 0.55] ratio to OLS' (its unit), 'ridge vs ols 0.52 [0.48, 0.55]' where it has
    no unit, 'n/a ...' for a NaN estimate, or the summary where there is no number."""
    name, interval, unit = headline_of(section)
    if interval is None:
        return section.summary.strip().rstrip(".")
    # A NaN estimate: the claim had nothing to compute it from (e.g. no converged cell).
    number = interval.format(".3g") if math.isfinite(interval.estimate) else "n/a"
    # The unit says what the number is in words; the column name only where there is none.
    return f"{number} {unit}" if unit else f"{name.replace('_', ' ')} {number}"


def _with_link(sentence: str, key: str) -> str:
    body = sentence.strip()
    end = body[-1] if body and body[-1] in ".!?" else "."
    return f"{body.rstrip('.!?')} ({claim_link(key)}){end}"


def who_won(difference: Interval, first: str, second: str, measure: str,
            lower_is_better: bool = True) -> str:
    """A paired difference `first − second` of `measure` in words, naming the winner: 'AdamW
    wins: its test MSE is lower by 0.0485 [0.01, 0.09]', or 'neither wins beyond noise (...)'
    when the interval contains 0. For a claim's takeaway or findings (claim 3b's difference)."""
    if not difference.excludes(0.0):
        return (f"neither {first} nor {second} wins beyond noise ({first} − {second} {measure} "
                f"{difference.format('.3g')})")
    first_lower = difference.high < 0
    winner, loser = (first, second) if first_lower == lower_is_better else (second, first)
    gap = Interval(abs(difference.estimate), min(abs(difference.low), abs(difference.high)),
                   max(abs(difference.low), abs(difference.high)))
    direction = "lower" if lower_is_better else "higher"
    return f"{winner} wins: its {measure} is {direction} than {loser}'s by {gap.format('.3g')}"


def claim_sentence(section: Section) -> str:
    """The section's one sentence for the bottom line: its `takeaway` with a link to it, or
    (legacy) its verdict with its headline number and where it stops holding."""
    if section.takeaway:
        return _with_link(section.takeaway, section.key)
    number = headline_text(section)
    limits = section.limits.strip().rstrip(".")
    return (f"{claim_link(section.key)} **{VERDICT_PHRASE[section.verdict]}**"
            + (f" ({number})" if number else "")
            + (f"; it stops holding where {limits}" if limits else "") + ".")


def _names(keys: Sequence[str]) -> str:
    numbers = [claim_number(k) for k in keys]
    if len(numbers) == 1:
        return f"claim {numbers[0]}"
    return "claims " + ", ".join(numbers[:-1]) + f" and {numbers[-1]}"


def scope_sentence(sections: Sequence[Section], not_run: Mapping[str, str]) -> str:
    """How many empirical claims per part were tested, and how many held (counts only); the
    first use of "the L2 loss" and "the L2 penalty", so they are defined here."""
    empirical = [s for s in sections if s.kind == "empirical"]
    per_part = [f"{sum(s.part == part for s in empirical)} about {PART_DEFINITION[part]}"
                for part in PARTS if any(s.part == part for s in empirical)]
    tally = ", ".join(f"{count} {PLURAL_PHRASE[v] if count != 1 else VERDICT_PHRASE[v]}"
                      for v in VERDICT_PHRASE
                      for count in [sum(s.verdict == v for s in empirical)])
    sentence = (f"This run tested {len(empirical)} empirical "
                f"{'claim' if len(empirical) == 1 else 'claims'} (decided by data and training)"
                + (f", {' and '.join(per_part)}" if per_part else "") + f": {tally}")
    if not_run:
        sentence += f"; {_names(sorted(not_run, key=sort_key))} did not run"
    return sentence + "."


def _theorem_clause(theorems: Sequence[Section]) -> str:
    """'; claims 2 and 3a are theorems (...) and both hold' for the scope sentence."""
    if not theorems:
        return ""
    verdicts = {VERDICT_PHRASE[s.verdict] for s in theorems}
    held = (f"it {VERDICT_PHRASE[theorems[0].verdict]}" if len(theorems) == 1 else
            ("both " if len(theorems) == 2 else "all ") + PLURAL_PHRASE[theorems[0].verdict]
            if len(verdicts) == 1 else "; ".join(
                f"claim {claim_number(s.key)} {VERDICT_PHRASE[s.verdict]}" for s in theorems))
    what = ("is a theorem (a mathematical fact checked here numerically: it explains the "
            "default but is not evidence from data)" if len(theorems) == 1 else
            "are theorems (mathematical facts checked here numerically: they explain the default "
            "but are not evidence from data)")
    return f"; {_names([s.key for s in theorems])} {what}, and {held}"


# The bottom line's advice sentences: (side, heading) per part, in this order; "" is no side.
ADVICE = {
    "l2": {"loss": "Why the L2 loss is the default: the evidence favours squared error for",
           "penalty": "Why the L2 penalty: the evidence favours an L2 penalty for"},
    "other": {"loss": "When the L2 loss is the wrong choice, use instead:",
              "penalty": "When the L2 penalty is the wrong choice, use instead:"},
}
UNSETTLED = "Not settled by these runs:"


def _guide_items(rows: Sequence[tuple[GuideRow, Section]], with_choice: bool) -> str:
    """'situation: choice ([Claim 1](#claim1); [Claim 6](#claim6)); ...': rows with one
    situation and choice merged, their claims listed (a theorem marked as one)."""
    merged: dict[tuple[str, str], list[str]] = {}
    for row, section in rows:
        link = claim_link(section.key) + (", a theorem" if section.kind == "theorem" else "")
        merged.setdefault((row.situation, row.choice), []).append(link)
    return "; ".join(situation + (f": {choice}" if with_choice else "")
                     + f" ({'; '.join(dict.fromkeys(links))})"
                     for (situation, choice), links in merged.items())


def advice_sentences(sections: Sequence[Section]) -> list[str]:
    """The answer itself, from the decision-guide rows: per part, the situations where the
    evidence favours the L2 choice and those where it favours another (with what to use), then
    the rows that take no side (a convention, "either", or not settled by the run)."""
    ordered = _in_report_order(sections)
    out = []
    for part in PARTS:
        for side, heading in ADVICE.items():
            rows = [(row, s) for s in ordered if s.part == part for row in s.guide
                    if row.favours == side]
            if rows:
                out.append(f"**{heading[part]}** {_guide_items(rows, side != 'l2')}.")
    rows = [(row, s) for s in ordered for row in s.guide if not row.favours]
    if rows:
        out.append(f"**{UNSETTLED}** {_guide_items(rows, True)}.")
    return out


def _in_report_order(sections: Sequence[Section]) -> list[Section]:
    return sorted(sections, key=lambda s: (PARTS.index(s.part), sort_key(s.key)))


def bottom_line(sections: Sequence[Section], not_run: Mapping[str, str] | None = None) -> list[str]:
    """At most MAX_BOTTOM_LINE sentences (see the module docstring)."""
    if not sections:
        return ["No claim produced a verdict in this run."]
    theorems = _in_report_order([s for s in sections if s.kind == "theorem"])
    sentences = [scope_sentence(sections, not_run or {})[:-1] + _theorem_clause(theorems) + "."]
    sentences += advice_sentences(sections)
    # A claim with no decision-guide row (legacy, or nothing to advise) speaks for itself.
    silent = [s for s in _in_report_order(sections) if not s.guide and s.kind == "empirical"]
    room = MAX_BOTTOM_LINE - len(sentences)
    if len(silent) <= room:
        return sentences + [claim_sentence(s) for s in silent]
    shown = silent[:room - 1] if room >= 2 else []
    sentences += [claim_sentence(s) for s in shown]
    named = [f"claim {claim_number(s.key)} ({VERDICT_PHRASE[s.verdict]})"
             for s in silent[len(shown):]]
    listing = named[0] if len(named) == 1 else ", ".join(named[:-1]) + f" and {named[-1]}"
    if room >= 1:
        return [*sentences, f"For {listing}, see the verdict table below."]
    sentences[0] = sentences[0][:-1] + f"; for {listing}, see the verdict table below."
    return sentences


def guide_table(sections: Sequence[Section], part: str) -> pd.DataFrame:
    """The decision-guide rows of one part's sections (markdown cells), in claim order."""
    rows = [
        {"situation": row.situation, "use": row.choice, "evidence": row.evidence,
         "claim": f"{claim_link(s.key)}: {VERDICT_PHRASE[s.verdict]}"
                  + (" (theorem)" if s.kind == "theorem" else "")}
        for s in sorted(sections, key=lambda s: sort_key(s.key)) if s.part == part
        for row in s.guide
    ]
    return pd.DataFrame(rows, columns=["situation", "use", "evidence", "claim"])


def verdict_table(
    sections: Sequence[Section], not_run: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per claim in claim order (verdicts.csv): the text columns, the headline number as
    numeric columns (estimate, low, high, unit) and part/kind; claims not run have no verdict."""
    rows = []
    for s in sections:
        name, interval, unit = headline_of(s)
        rows.append({
            "claim": f"Claim {claim_number(s.key)}", "part": s.part, "kind": s.kind,
            "statement": s.claim, "verdict": s.verdict, "takeaway": s.takeaway,
            "headline": name, "unit": unit, "in_numbers": headline_text(s),
            "stops_holding": s.limits, "section": f"#{s.key}", "key": s.key,
            **({"estimate": interval.estimate, "low": interval.low, "high": interval.high}
               if interval is not None else {}),
        })
    for key, reason in (not_run or {}).items():
        rows.append({"claim": f"Claim {claim_number(key)}", "verdict": f"not run ({reason})",
                     "key": key})
    table = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    text = [c for c in VERDICT_COLUMNS if c not in ("estimate", "low", "high")]
    table[text] = table[text].fillna("")
    return table.sort_values("key", key=lambda k: k.map(sort_key)).reset_index(drop=True)


def sentences(markdown_lines: Sequence[str]) -> list[str]:
    """The sentences of markdown lines: bullets, paragraphs and table cells split at sentence
    ends (short fragments such as table headers and verdict words left out). A table cell equal
    to the one above it in its column is the table's structure (two situations, one choice), not
    a sentence said again, and is left out."""
    out, above = [], []
    for line in markdown_lines:
        text = line.strip().removeprefix("- ")
        if not text or set(text) <= set("|-"):
            continue
        cells = [text]
        if text.startswith("|"):
            row = [c.strip() for c in text.strip("|").split(" | ")]
            cells = [c for i, c in enumerate(row) if i >= len(above) or c != above[i]]
            above = row
        else:
            above = []
        for cell in cells:
            out += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*\[])", cell) if len(s) > 25]
    return out


def repeated_sentences(markdown_lines: Sequence[str]) -> list[str]:
    """Sentences said more than once (the answer must say each thing once)."""
    said = sentences(markdown_lines)
    return sorted({s for s in said if said.count(s) > 1})


def shown_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdict table as the report shows it: loss claims, then penalty claims, then those
    not run; the claim linked to its section, the headline number with its interval."""
    order = verdicts["part"].map({p: i for i, p in enumerate(PARTS)}).fillna(len(PARTS))
    shown = verdicts.assign(_order=order).sort_values("_order", kind="stable")
    return pd.DataFrame({
        "claim": [f"[{c}]({s})" if s else c for c, s in zip(shown["claim"], shown["section"],
                                                              strict=True)],
        "part": shown["part"], "kind": shown["kind"], "statement": shown["statement"],
        "verdict": shown["verdict"], "key number [95% interval]": shown["in_numbers"],
        "where it stops holding": shown["stops_holding"],
    })
